//! `cargo xtask bench`: the end-to-end echo benchmark of sockudo-ws against its peers.
//!
//! Builds the echo servers (examples of `sockudo-ws-benches`, one per WebSocket crate) and the
//! load generator (its `loadgen` binary), then runs every case against every server, one run at
//! a time and interleaved (A B C D A B C D ...) for a number of rounds, the server pinned to CPU
//! 0 and the generator to CPU 1. Each run is a fresh server process; the generator reads the
//! server's CPU time over its measured window from `/proc`, user and system apart. Then the
//! memory of idle connections, and a report in markdown, SVG, JSON and CSV ([`report`]).
//! `--instructions` instead counts instructions and syscalls per echoed message
//! ([`instructions`]).
//!
//! The parts: [`options`] (the command line), [`catalog`] (the servers and cases compared),
//! [`runner`] (building, starting servers, running the load generator), [`rounds`] (the order
//! of the runs), [`measure`] (what a run measured), [`report`] (statistics and the files).

mod catalog;
mod instructions;
mod measure;
mod options;
mod report;
mod rounds;
mod runner;

use std::env;
use std::fs;
use std::process::ExitCode;
use std::time::Instant;

pub(crate) use catalog::{Case, OURS, Server};
pub(crate) use measure::{MIN_SERVER_CPU, Measure, Memory, Outcome, RunResult};
use options::{Options, usage};
pub(crate) use runner::{Bench, cargo_build};

use crate::Error;
use crate::process::{self, fmt_duration};

pub(crate) fn run(args: &[String]) -> Result<ExitCode, Error> {
    let Some(opts) = Options::parse(args)? else {
        print!("{}", usage());
        return Ok(ExitCode::SUCCESS);
    };
    let start = Instant::now();
    let root = crate::workspace_root();
    let target =
        env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |t| root.join(t));
    let out = match &opts.out {
        Some(dir) => env::current_dir().map_err(|e| e.to_string())?.join(dir),
        None => target.join("bench-report"),
    };
    let logs = out.join("logs");
    fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut pin = opts.pin;
    if pin && (cpus < 2 || process::find_program("taskset").is_none()) {
        println!("note: not pinning (needs 2 CPUs and taskset; have {cpus} CPUs)");
        pin = false;
    }
    let bench = Bench {
        root,
        target,
        out,
        logs,
        pin,
    };
    if opts.instructions {
        return instructions::run(&bench, &opts.servers, opts.build);
    }
    if opts.build {
        cargo_build(
            &bench.root,
            &[
                "build",
                "--release",
                "-p",
                "sockudo-ws-benches",
                "--examples",
                "--bin",
                "loadgen",
            ],
            &[],
        )?;
    }
    for s in &opts.servers {
        let bin = Bench::server_bin(&bench.target, s);
        if !bin.is_file() {
            return Err(Error::Failed(format!("{} is not built", bin.display())));
        }
    }

    let results = rounds::throughput(&bench, &opts);
    let memory = rounds::memory(&bench, &opts);

    let machine = report::Machine::collect();
    let versions = report::versions(&bench.root);
    let settings = format!(
        "{} round(s), warm-up {}s, measured {}s per run, {}",
        opts.rounds,
        opts.warmup,
        opts.seconds,
        if bench.pin {
            "server on CPU 0, generator on CPU 1"
        } else {
            "not pinned"
        }
    );
    let report = report::Report {
        machine: &machine,
        versions: &versions,
        settings: &settings,
        quick: opts.quick,
        cases: &opts.cases,
        servers: &opts.servers,
        runs: &results,
        memory: &memory,
    };
    let table = report.write(&bench.out)?;
    println!("\n{table}");
    if opts.update_readme {
        let readme = bench.root.join("README.md");
        let path = bench.out.join("readme-table.md");
        let table = fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        report::readme::update(&readme, &table)?;
        println!("updated the performance table in {}", readme.display());
    }
    println!(
        "report: {} (chart.svg, results.json, results.csv, memory.csv beside it); {} in all",
        bench.out.join("report.md").display(),
        fmt_duration(start.elapsed())
    );
    let failed = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed(_)))
        .count()
        + memory.iter().filter(|(_, m)| m.is_err()).count();
    if failed > 0 {
        println!(
            "{failed} run(s) failed; see the logs in {}",
            bench.logs.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
