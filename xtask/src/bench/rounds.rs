//! The rounds of a throughput run and the memory pass: which run comes when, and the progress
//! lines printed as they end.

use std::time::Duration;

use super::catalog::{Case, Server};
use super::measure::{Memory, Outcome, RunResult};
use super::options::Options;
use super::report;
use super::runner::{Bench, memory_test, run_case};
use crate::process::fmt_duration;

/// Every selected case against every selected server, round after round: in each round the
/// cases in order and each case against the servers in order (A B C D A B C D ...), so that a
/// drift of the machine spreads over all servers alike. Cases a server's crate cannot run
/// (permessage-deflate) are recorded as skipped.
pub(super) fn throughput(bench: &Bench, opts: &Options) -> Vec<RunResult> {
    let mut plan: Vec<(usize, Case, Server)> = Vec::new();
    for round in 0..opts.rounds {
        for case in &opts.cases {
            plan.extend(opts.servers.iter().map(|s| (round, *case, *s)));
        }
    }
    let runnable = plan
        .iter()
        .filter(|(_, c, s)| !c.deflate || s.deflate)
        .count();
    let per_run = opts.warmup + opts.seconds + 1.5;
    println!(
        "=== {} runs ({} cases x {} servers x {} rounds; warm-up {}s, measured {}s), \
         about {} ===",
        runnable,
        opts.cases.len(),
        opts.servers.len(),
        opts.rounds,
        opts.warmup,
        opts.seconds,
        fmt_duration(Duration::from_secs_f64(runnable as f64 * per_run))
    );
    let mut results = Vec::with_capacity(plan.len());
    let mut done = 0;
    for (round, case, server) in plan {
        let outcome = if case.deflate && !server.deflate {
            Outcome::Skipped(format!("{} has no permessage-deflate", server.package))
        } else {
            done += 1;
            let outcome = run_case(bench, opts, round, &case, &server);
            println!(
                "[{done:>3}/{runnable}] round {}/{} {:<24} {:<17} {}",
                round + 1,
                opts.rounds,
                case.name,
                server.name,
                report::outcome_line(&outcome)
            );
            outcome
        };
        results.push(RunResult {
            case,
            server,
            round,
            outcome,
        });
    }
    results
}

/// The memory of idle connections, one server after another (none with
/// `--memory-connections 0`).
pub(super) fn memory(bench: &Bench, opts: &Options) -> Vec<(Server, Result<Memory, String>)> {
    let mut memory = Vec::new();
    if opts.memory_connections > 0 {
        println!(
            "\n=== memory: {} idle connections per server ===",
            opts.memory_connections
        );
        for s in &opts.servers {
            let m = memory_test(bench, s, opts.memory_connections);
            match &m {
                Ok(m) => println!(
                    "  {:<17} {:>8.0} B per connection (RSS {:.1} -> {:.1} MiB, connected in {:.1}s)",
                    s.name,
                    m.bytes_per_connection,
                    m.before_kib / 1024.0,
                    m.after_kib / 1024.0,
                    m.connect_s
                ),
                Err(e) => println!("  {:<17} FAILED: {e}", s.name),
            }
            memory.push((*s, m));
        }
    }
    memory
}
