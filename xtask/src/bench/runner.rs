//! Running the processes: building with cargo, starting a server on a free port (pinned to a
//! CPU, with a high fd limit), and running the load generator against it for one run of a case
//! or for the memory test.

use std::env;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::catalog::{Case, Server};
use super::measure::{Memory, Outcome};
use super::options::Options;
use crate::Error;
use crate::process::{self, ChildGuard, fmt_duration};

/// How long a started server may take to accept connections (valgrind is slow to start).
const SERVER_STARTUP: Duration = Duration::from_secs(60);
/// How many log lines to show when a process fails.
const TAIL_LINES: usize = 15;
/// The sh snippet that raises the fd limit and then becomes the program (`$0`).
const LAUNCH: &str =
    "ulimit -n 65536 2>/dev/null || ulimit -n \"$(ulimit -Hn)\"; exec \"$0\" \"$@\"";

/// Where things are and how to start them.
pub(crate) struct Bench {
    pub(crate) root: PathBuf,
    /// The cargo target directory (`CARGO_TARGET_DIR` or `target`).
    pub(crate) target: PathBuf,
    /// The report directory.
    pub(crate) out: PathBuf,
    /// Where process logs go.
    pub(crate) logs: PathBuf,
    /// Pin the server to CPU 0 and the generator to CPU 1.
    pub(crate) pin: bool,
}

impl Bench {
    /// The release build of the server `s` in the target directory `target`.
    pub(crate) fn server_bin(target: &Path, s: &Server) -> PathBuf {
        target.join("release").join("examples").join(s.example)
    }

    pub(crate) fn loadgen_bin(target: &Path) -> PathBuf {
        target.join("release").join("loadgen")
    }

    /// `program args` with the fd limit raised, on `cpu` when pinning.
    pub(crate) fn command(&self, cpu: u32, program: &Path, args: &[String]) -> Command {
        let mut cmd;
        if self.pin {
            cmd = Command::new("taskset");
            cmd.args(["-c", &cpu.to_string(), "sh", "-c", LAUNCH]);
        } else {
            cmd = Command::new("sh");
            cmd.args(["-c", LAUNCH]);
        }
        cmd.arg(program).args(args).current_dir(&self.root);
        cmd
    }

    /// Starts a server (`program args`, which must take `--port`) on a free port, waits until it
    /// accepts connections and returns it with its pid (read from its `listening on` line).
    pub(crate) fn start_server(
        &self,
        name: &str,
        mut cmd: Command,
        log: &Path,
    ) -> Result<(ChildGuard, u32, SocketAddr), String> {
        let port = process::free_port()?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        cmd.args(["--port", &port.to_string()]);
        let mut guard = ChildGuard::spawn(name, &mut cmd, log)?;
        guard
            .wait_for_port(addr, SERVER_STARTUP)
            .map_err(|e| format!("{e}\n{}", process::tail(log, TAIL_LINES)))?;
        let start = Instant::now();
        loop {
            let text = fs::read_to_string(log).unwrap_or_default();
            let pid = text
                .lines()
                .filter(|l| l.contains(" listening on "))
                .find_map(|l| l.rsplit_once(" pid ")?.1.trim().parse().ok());
            if let Some(pid) = pid {
                return Ok((guard, pid, addr));
            }
            if start.elapsed() > Duration::from_secs(5) {
                return Err(format!(
                    "{name} printed no 'listening on ... pid N' line\n{}",
                    process::tail(log, TAIL_LINES)
                ));
            }
            sleep(Duration::from_millis(20));
        }
    }

    /// Runs the load generator to its end (within `timeout`) and returns its `RESULT` object.
    pub(crate) fn loadgen<T: DeserializeOwned>(
        &self,
        args: &[String],
        log: &Path,
        timeout: Duration,
    ) -> Result<T, String> {
        let cmd = &mut self.command(1, &Self::loadgen_bin(&self.target), args);
        let mut guard = ChildGuard::spawn("loadgen", cmd, log)?;
        let status = guard.wait_timeout(timeout, timeout, |_| {})?;
        let text = fs::read_to_string(log).unwrap_or_default();
        let result = text.lines().find_map(|l| l.strip_prefix("RESULT "));
        match (status, result) {
            (Some(s), Some(result)) if s.success() => {
                serde_json::from_str(result).map_err(|e| format!("loadgen result: {e}"))
            }
            (Some(s), _) => {
                let error = text
                    .lines()
                    .rev()
                    .find_map(|l| l.strip_prefix("loadgen: "))
                    .map_or_else(
                        || format!("loadgen failed ({s})\n{}", process::tail(log, TAIL_LINES)),
                        str::to_owned,
                    );
                Err(error)
            }
            (None, _) => Err(format!(
                "loadgen did not finish within {}s",
                timeout.as_secs()
            )),
        }
    }
}

/// `cargo ARGS` in the workspace root with extra environment `envs`.
pub(crate) fn cargo_build(root: &Path, args: &[&str], envs: &[(&str, &str)]) -> Result<(), Error> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let shown: Vec<String> = envs.iter().map(|(k, v)| format!("{k}=\"{v}\" ")).collect();
    println!("=== {}cargo {} ===", shown.concat(), args.join(" "));
    let start = Instant::now();
    let status = Command::new(&cargo)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", Path::new(&cargo).display()))?;
    if !status.success() {
        return Err(Error::Failed(format!(
            "cargo {} failed ({status})",
            args.join(" ")
        )));
    }
    println!("built in {}", fmt_duration(start.elapsed()));
    Ok(())
}

pub(super) fn run_case(
    bench: &Bench,
    opts: &Options,
    round: usize,
    case: &Case,
    server: &Server,
) -> Outcome {
    let stem = format!("{}-{}-r{}", case.name, server.name, round + 1);
    let server_log = bench.logs.join(format!("{stem}.server.log"));
    let mut server_args = Vec::new();
    if case.deflate {
        server_args.push("--deflate".to_owned());
    }
    let cmd = bench.command(0, &Bench::server_bin(&bench.target, server), &server_args);
    let (mut guard, pid, addr) = match bench.start_server(server.name, cmd, &server_log) {
        Ok(started) => started,
        Err(e) => return Outcome::Failed(e),
    };
    let mut args: Vec<String> = [
        "--port",
        &addr.port().to_string(),
        "--mode",
        if case.depth > 1 {
            "pipeline"
        } else {
            "pingpong"
        },
        "--depth",
        &case.depth.to_string(),
        "--connections",
        &case.connections.to_string(),
        "--size",
        &case.size.to_string(),
        "--warmup",
        &opts.warmup.to_string(),
        "--seconds",
        &opts.seconds.to_string(),
        "--server-pid",
        &pid.to_string(),
    ]
    .map(str::to_owned)
    .to_vec();
    if case.text {
        args.push("--text".to_owned());
    }
    if case.deflate {
        args.push("--deflate".to_owned());
    }
    args.extend(server.transport.loadgen_args());
    let timeout = Duration::from_secs_f64(opts.warmup + opts.seconds + 60.0);
    let result = bench.loadgen(
        &args,
        &bench.logs.join(format!("{stem}.loadgen.log")),
        timeout,
    );
    if let Ok(Some(status)) = guard.try_status() {
        return Outcome::Failed(format!(
            "the server exited during the run ({status})\n{}",
            process::tail(&server_log, TAIL_LINES)
        ));
    }
    drop(guard);
    match result {
        Ok(measure) => Outcome::Done(measure),
        Err(e) if e.contains("did not negotiate permessage-deflate") => {
            Outcome::Skipped("permessage-deflate not negotiated".to_owned())
        }
        Err(e) => Outcome::Failed(e),
    }
}

pub(super) fn memory_test(
    bench: &Bench,
    server: &Server,
    connections: usize,
) -> Result<Memory, String> {
    let stem = format!("memory-{}", server.name);
    let server_log = bench.logs.join(format!("{stem}.server.log"));
    let cmd = bench.command(0, &Bench::server_bin(&bench.target, server), &[]);
    let (mut guard, pid, addr) = bench.start_server(server.name, cmd, &server_log)?;
    let mut args = [
        "--port",
        &addr.port().to_string(),
        "--mode",
        "idle",
        "--connections",
        &connections.to_string(),
        "--server-pid",
        &pid.to_string(),
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(server.transport.loadgen_args());
    let timeout = Duration::from_secs(60 + connections as u64 / 100);
    let memory: Memory = bench.loadgen(
        &args,
        &bench.logs.join(format!("{stem}.loadgen.log")),
        timeout,
    )?;
    if let Ok(Some(status)) = guard.try_status() {
        return Err(format!(
            "the server exited during the test ({status})\n{}",
            process::tail(&server_log, TAIL_LINES)
        ));
    }
    // The count asked for (which the generator echoes).
    Ok(Memory {
        connections,
        ..memory
    })
}
