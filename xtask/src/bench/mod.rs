//! `cargo xtask bench`: the end-to-end echo benchmark of sockudo-ws against its peers.
//!
//! Builds the echo servers (examples of `sockudo-ws-benches`, one per WebSocket crate) and the
//! load generator (its `loadgen` binary), then runs every case against every server, one run at
//! a time and interleaved (A B C D A B C D ...) for a number of rounds, the server pinned to CPU
//! 0 and the generator to CPU 1. Each run is a fresh server process; the generator reads the
//! server's CPU time over its measured window from `/proc`, user and system apart. Then the memory of idle connections,
//! and a report in markdown, SVG, JSON and CSV ([`report`]). `--instructions` instead counts
//! instructions and syscalls per echoed message ([`instructions`]).

mod instructions;
mod report;

use std::env;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use lexopt::Arg::{Long, Short};

use crate::process::{self, ChildGuard, fmt_duration};
use crate::{Error, cli};

const USAGE: &str = "\
cargo xtask bench: the end-to-end echo benchmark (sockudo-ws against its peers)

USAGE:
    cargo xtask bench [OPTIONS]

Builds the echo servers and the load generator (cargo build --release -p sockudo-ws-benches
--examples --bin loadgen), then runs each case against each server, interleaved (A B C D A B C
D ...) for R rounds, a fresh server per run pinned to CPU 0 and the generator to CPU 1. A run
connects, warms up, then measures messages per second each second, with the server's CPU time
in user space and in the kernel (flagged when under 95% of one core in all) and, in ping-pong
cases, latency percentiles. Then the resident memory per idle connection. Writes report.md, chart.svg, results.json, results.csv and
memory.csv to target/bench-report/ and prints the table.

    --quick                   Smoke test: 1 round, 1 s warm-up, 2 s measured (explicit options
                              below still win)
    --cases NAME,...          Cases to run (default: all; see below)
    --servers NAME,...        Servers to run (default: all but tokio-floor): sockudo,
                              tungstenite, fastwebsockets, tokio-websockets, and tokio-floor,
                              a reference run only when named (a bare Tokio echo that parses
                              frames by hand and validates nothing: the floor under any Tokio
                              server)
    --rounds R                Rounds (default: 3)
    --seconds S               Measured window of each run (default: 5)
    --warmup S                Warm-up of each run (default: 2)
    --memory-connections N    Idle connections of the memory test (default: 10000; 0 skips it)
    --no-build                Use the binaries already built
    --no-pin                  Do not pin the server and the generator to CPUs 0 and 1
    --out DIR                 Where the report goes (default: target/bench-report)
    --update-readme           Put this run's table (readme-table.md) between the performance
                              table markers of README.md (a full run only)
    --instructions            Instead: user-space instructions per echoed message (callgrind,
                              an x86-64-v3 build in target/callgrind) and syscalls per echoed
                              message (perf tracepoints, else strace), each as the difference of
                              two fixed message counts. Measures the servers of --servers
                              (default: sockudo only). Writes instructions.md and the callgrind
                              profiles to the report directory.

CASES (ping-pong unless named -pipeK: K messages in flight per connection):
";

/// How long a started server may take to accept connections (valgrind is slow to start).
const SERVER_STARTUP: Duration = Duration::from_secs(60);
/// How many log lines to show when a process fails.
const TAIL_LINES: usize = 15;
/// A run whose server used less than this share of one core is flagged.
pub(crate) const MIN_SERVER_CPU: f64 = 0.95;
/// The name of our server.
pub(crate) const OURS: &str = "sockudo";
/// The sh snippet that raises the fd limit and then becomes the program (`$0`).
const LAUNCH: &str =
    "ulimit -n 65536 2>/dev/null || ulimit -n \"$(ulimit -Hn)\"; exec \"$0\" \"$@\"";

/// A server under test: an example of the bench crate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Server {
    /// Name on the command line and in reports.
    pub(crate) name: &'static str,
    /// The example that implements it.
    pub(crate) example: &'static str,
    /// The crate it exercises (its version is read from Cargo.lock).
    pub(crate) package: &'static str,
    /// Whether the crate has permessage-deflate.
    pub(crate) deflate: bool,
    /// A reference measurement rather than a WebSocket crate (the Tokio floor): left out of
    /// the default set, run only when `--servers` names it.
    pub(crate) reference: bool,
}

pub(crate) const SERVERS: &[Server] = &[
    Server {
        name: OURS,
        example: "echo_sockudo",
        package: "sockudo-ws",
        deflate: true,
        reference: false,
    },
    Server {
        name: "tungstenite",
        example: "echo_tungstenite",
        package: "tokio-tungstenite",
        deflate: false,
        reference: false,
    },
    Server {
        name: "fastwebsockets",
        example: "echo_fastwebsockets",
        package: "fastwebsockets",
        deflate: false,
        reference: false,
    },
    Server {
        name: "tokio-websockets",
        example: "echo_tokio_websockets",
        package: "tokio-websockets",
        deflate: false,
        reference: false,
    },
    // `echo_tokio_floor`: frames parsed by hand over a bare tokio `TcpStream`, no validation;
    // its instructions per message are what Tokio costs any server (see the example's docs).
    Server {
        name: "tokio-floor",
        example: "echo_tokio_floor",
        package: "tokio",
        deflate: false,
        reference: true,
    },
];

/// The servers run when `--servers` is not given: every WebSocket crate, no reference.
fn default_servers() -> Vec<Server> {
    SERVERS.iter().copied().filter(|s| !s.reference).collect()
}

/// One load shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Case {
    pub(crate) name: &'static str,
    /// Payload bytes of each message (before compression).
    pub(crate) size: usize,
    pub(crate) connections: usize,
    /// Text (JSON-like) instead of binary.
    pub(crate) text: bool,
    /// Offer permessage-deflate and send compressed messages.
    pub(crate) deflate: bool,
    /// Messages in flight per connection: 1 is ping-pong.
    pub(crate) depth: usize,
}

const fn case(name: &'static str, size: usize, connections: usize) -> Case {
    Case {
        name,
        size,
        connections,
        text: false,
        deflate: false,
        depth: 1,
    }
}

pub(crate) const CASES: &[Case] = &[
    case("512B-x100", 512, 100),
    case("512B-x500", 512, 500),
    case("1KiB-x100", 1024, 100),
    case("1KiB-x500", 1024, 500),
    case("20B-x100", 20, 100),
    case("16KiB-x200", 16 << 10, 200),
    Case {
        depth: 16,
        ..case("512B-x100-pipe16", 512, 100)
    },
    Case {
        text: true,
        deflate: true,
        ..case("1KiB-json-deflate-x100", 1024, 100)
    },
];

impl Case {
    /// One line for the usage text and the report.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} connections x {} B {}{}{}",
            self.connections,
            self.size,
            if self.text { "JSON text" } else { "binary" },
            if self.deflate {
                ", permessage-deflate"
            } else {
                ""
            },
            if self.depth > 1 {
                format!(", {} in flight each", self.depth)
            } else {
                String::new()
            }
        )
    }
}

/// The command line of `cargo xtask bench`.
#[derive(Debug, PartialEq)]
struct Options {
    quick: bool,
    cases: Vec<Case>,
    servers: Vec<Server>,
    /// Whether `--servers` was given (`--instructions` defaults to ours only).
    servers_given: bool,
    rounds: usize,
    seconds: f64,
    warmup: f64,
    memory_connections: usize,
    build: bool,
    pin: bool,
    out: Option<PathBuf>,
    instructions: bool,
    /// Write the README's performance table from this run.
    update_readme: bool,
}

fn split_list(list: &str) -> Vec<&str> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

fn pick<T: Copy>(
    list: &str,
    all: &[T],
    name: impl Fn(&T) -> &'static str,
    what: &str,
) -> Result<Vec<T>, Error> {
    let names = split_list(list);
    if names.is_empty() {
        return Err(Error::Usage(format!("--{what} needs at least one name")));
    }
    names
        .iter()
        .map(|n| {
            all.iter().copied().find(|x| name(x) == *n).ok_or_else(|| {
                let known: Vec<_> = all.iter().map(&name).collect();
                Error::Usage(format!(
                    "unknown {} '{n}' (known: {})",
                    what.trim_end_matches('s'),
                    known.join(", ")
                ))
            })
        })
        .collect()
}

impl Options {
    /// Parses the arguments after `bench`; `None` when help was asked for.
    fn parse(args: &[String]) -> Result<Option<Options>, Error> {
        let mut opts = Options {
            quick: false,
            cases: CASES.to_vec(),
            servers: default_servers(),
            servers_given: false,
            rounds: 3,
            seconds: 5.0,
            warmup: 2.0,
            memory_connections: 10_000,
            build: true,
            pin: true,
            out: None,
            instructions: false,
            update_readme: false,
        };
        let (mut rounds, mut seconds, mut warmup) = (None, None, None);
        let mut parser = cli::parser(args);
        while let Some(arg) = cli::next(&mut parser)? {
            let name = match &arg {
                Long(name) => format!("--{name}"),
                _ => String::new(),
            };
            let number = |v: String| -> Result<f64, Error> {
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| Error::Usage(format!("{name} takes a number, not '{v}'")))
            };
            match arg {
                Short('h') | Long("help") => {
                    if parser.optional_value().is_some() {
                        return Err(Error::Usage("--help takes no value".into()));
                    }
                    return Ok(None);
                }
                Long("quick") => opts.quick = true,
                Long("no-build") => opts.build = false,
                Long("no-pin") => opts.pin = false,
                Long("instructions") => opts.instructions = true,
                Long("update-readme") => opts.update_readme = true,
                Long("cases") => {
                    opts.cases = pick(&cli::value(&mut parser)?, CASES, |c| c.name, "cases")?;
                }
                Long("servers") => {
                    let list = cli::value(&mut parser)?;
                    opts.servers = pick(&list, SERVERS, |s| s.name, "servers")?;
                    opts.servers_given = true;
                }
                Long("rounds") => {
                    let r = number(cli::value(&mut parser)?)?;
                    if r < 1.0 || r.fract() != 0.0 {
                        return Err(Error::Usage("--rounds takes a whole number >= 1".into()));
                    }
                    rounds = Some(r as usize);
                }
                Long("seconds") => {
                    let s = number(cli::value(&mut parser)?)?;
                    if s < 0.5 {
                        return Err(Error::Usage("--seconds must be at least 0.5".into()));
                    }
                    seconds = Some(s);
                }
                Long("warmup") => warmup = Some(number(cli::value(&mut parser)?)?),
                Long("memory-connections") => {
                    let n = number(cli::value(&mut parser)?)?;
                    if n.fract() != 0.0 {
                        return Err(Error::Usage("--memory-connections takes a count".into()));
                    }
                    opts.memory_connections = n as usize;
                }
                Long("out") => opts.out = Some(PathBuf::from(cli::value(&mut parser)?)),
                other => {
                    let typed = cli::typed(other);
                    let typed = cli::with_attached(&mut parser, typed);
                    return Err(Error::Usage(format!("unknown bench option '{typed}'")));
                }
            }
        }
        if opts.quick {
            (opts.rounds, opts.seconds, opts.warmup) = (1, 2.0, 1.0);
        }
        opts.rounds = rounds.unwrap_or(opts.rounds);
        opts.seconds = seconds.unwrap_or(opts.seconds);
        opts.warmup = warmup.unwrap_or(opts.warmup);
        if opts.update_readme && (opts.quick || opts.instructions) {
            return Err(Error::Usage(
                "--update-readme takes a full throughput run (not --quick or --instructions)"
                    .into(),
            ));
        }
        if opts.instructions && !opts.servers_given {
            opts.servers = vec![SERVERS[0]];
        }
        Ok(Some(opts))
    }
}

fn usage() -> String {
    let mut text = USAGE.to_owned();
    for c in CASES {
        text.push_str(&format!("    {:<26}{}\n", c.name, c.describe()));
    }
    text.push_str("    (permessage-deflate cases run only against servers whose crate has it)\n");
    text
}

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

/// A measured run: the load generator's `RESULT` (other members are ignored), and a run of
/// `results.json` (with the status beside it).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub(crate) struct Measure {
    pub(crate) msgs_per_sec: f64,
    pub(crate) messages: f64,
    pub(crate) window_s: f64,
    /// The server's CPU time over the window, user plus system (`None` without a pid).
    pub(crate) server_cpu_s: Option<f64>,
    /// Of which in user space (`utime`): the server's own code, its crate, Tokio, the allocator.
    /// `None` from a generator that predates the split.
    pub(crate) server_user_cpu_s: Option<f64>,
    /// Of which in the kernel (`stime`): on loopback mostly the TCP send and receive path.
    pub(crate) server_sys_cpu_s: Option<f64>,
    pub(crate) loadgen_cpu_s: f64,
    /// Ping-pong round trips in microseconds (0 in pipelined runs).
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) p999_us: f64,
    /// Messages per second of each second of the window.
    #[serde(default)]
    pub(crate) samples: Vec<f64>,
}

impl Measure {
    /// The server's CPU use over the window, as a share of one core.
    pub(crate) fn server_cpu(&self) -> Option<f64> {
        self.server_cpu_s.map(|s| s / self.window_s)
    }

    /// `seconds` per million messages of the window.
    fn per_million(&self, seconds: Option<f64>) -> Option<f64> {
        seconds
            .filter(|_| self.messages > 0.0)
            .map(|s| s / self.messages * 1e6)
    }

    /// Server CPU-seconds per million messages.
    pub(crate) fn cpu_per_million(&self) -> Option<f64> {
        self.per_million(self.server_cpu_s)
    }

    /// Server CPU-seconds per million messages in user space and in the kernel, when the
    /// generator reported the split.
    pub(crate) fn cpu_split_per_million(&self) -> Option<(f64, f64)> {
        Some((
            self.per_million(self.server_user_cpu_s)?,
            self.per_million(self.server_sys_cpu_s)?,
        ))
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Outcome {
    Done(Measure),
    /// Not applicable (e.g. no permessage-deflate in that crate).
    Skipped(String),
    Failed(String),
}

/// One run of one case against one server.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RunResult {
    pub(crate) case: Case,
    pub(crate) server: Server,
    pub(crate) round: usize,
    pub(crate) outcome: Outcome,
}

/// The memory test of one server: the load generator's `RESULT` in idle mode, and an entry of
/// `results.json`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub(crate) struct Memory {
    pub(crate) connections: usize,
    #[serde(rename = "rss_before_kib")]
    pub(crate) before_kib: f64,
    #[serde(rename = "rss_after_kib")]
    pub(crate) after_kib: f64,
    pub(crate) bytes_per_connection: f64,
    pub(crate) connect_s: f64,
}

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
            let outcome = run_case(&bench, &opts, round, &case, &server);
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

    let mut memory = Vec::new();
    if opts.memory_connections > 0 {
        println!(
            "\n=== memory: {} idle connections per server ===",
            opts.memory_connections
        );
        for s in &opts.servers {
            let m = memory_test(&bench, s, opts.memory_connections);
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
        update_readme(&readme, &table)?;
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

/// The markers around the generated performance table in README.md.
const README_START: &str = "<!-- bench-table:start (cargo xtask bench --update-readme) -->";
const README_END: &str = "<!-- bench-table:end -->";

/// Replace what lies between the README's table markers with `table`.
fn update_readme(readme: &Path, table: &str) -> Result<(), String> {
    let text =
        fs::read_to_string(readme).map_err(|e| format!("cannot read {}: {e}", readme.display()))?;
    let updated = replace_between_markers(&text, table).ok_or_else(|| {
        format!(
            "{} lacks the lines {README_START} and {README_END}",
            readme.display()
        )
    })?;
    fs::write(readme, updated).map_err(|e| format!("cannot write {}: {e}", readme.display()))
}

fn replace_between_markers(text: &str, table: &str) -> Option<String> {
    let start = text.find(README_START)? + README_START.len();
    let end = start + text[start..].find(README_END)?;
    Some(format!(
        "{}\n{}\n{}",
        &text[..start],
        table.trim_end(),
        &text[end..]
    ))
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

fn run_case(bench: &Bench, opts: &Options, round: usize, case: &Case, server: &Server) -> Outcome {
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

fn memory_test(bench: &Bench, server: &Server, connections: usize) -> Result<Memory, String> {
    let stem = format!("memory-{}", server.name);
    let server_log = bench.logs.join(format!("{stem}.server.log"));
    let cmd = bench.command(0, &Bench::server_bin(&bench.target, server), &[]);
    let (mut guard, pid, addr) = bench.start_server(server.name, cmd, &server_log)?;
    let args = [
        "--port",
        &addr.port().to_string(),
        "--mode",
        "idle",
        "--connections",
        &connections.to_string(),
        "--server-pid",
        &pid.to_string(),
    ]
    .map(str::to_owned);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Options>, Error> {
        Options::parse(&args.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn options() {
        let o = parse(&[]).unwrap().unwrap();
        assert_eq!((o.rounds, o.seconds, o.warmup), (3, 5.0, 2.0));
        assert_eq!(o.cases.len(), CASES.len());
        assert_eq!(
            o.servers.iter().map(|s| s.name).collect::<Vec<_>>(),
            [
                "sockudo",
                "tungstenite",
                "fastwebsockets",
                "tokio-websockets"
            ],
            "the reference stays out of the defaults"
        );
        assert!(
            SERVERS
                .iter()
                .any(|s| s.name == "tokio-floor" && s.reference)
        );
        let o = parse(&["--servers", "tokio-floor,sockudo"])
            .unwrap()
            .unwrap();
        assert_eq!(
            o.servers.iter().map(|s| s.name).collect::<Vec<_>>(),
            ["tokio-floor", "sockudo"]
        );

        let o = parse(&["--quick", "--seconds=3", "--cases", "20B-x100,512B-x500"])
            .unwrap()
            .unwrap();
        assert_eq!((o.rounds, o.seconds, o.warmup), (1, 3.0, 1.0));
        assert_eq!(
            o.cases.iter().map(|c| c.name).collect::<Vec<_>>(),
            ["20B-x100", "512B-x500"]
        );

        let o = parse(&["--instructions"]).unwrap().unwrap();
        assert_eq!(o.servers, [SERVERS[0]]);
        let o = parse(&["--instructions", "--servers", "sockudo,tungstenite"])
            .unwrap()
            .unwrap();
        assert_eq!(o.servers.len(), 2);
        let o = parse(&[
            "--instructions",
            "--servers=sockudo,tokio-floor,fastwebsockets",
        ])
        .unwrap()
        .unwrap();
        assert!(o.instructions);
        assert_eq!(
            o.servers.iter().map(|s| s.example).collect::<Vec<_>>(),
            ["echo_sockudo", "echo_tokio_floor", "echo_fastwebsockets"]
        );

        assert!(parse(&["--update-readme"]).unwrap().unwrap().update_readme);
        assert!(parse(&["--update-readme", "--quick"]).is_err());
        assert!(parse(&["--update-readme", "--instructions"]).is_err());

        assert!(parse(&["--help"]).unwrap().is_none());
        for bad in [
            &["--cases", "nope"][..],
            &["--servers", ""],
            &["--rounds", "0"],
            &["--rounds", "1.5"],
            &["--seconds", "x"],
            &["--quick=1"],
            &["--bogus"],
        ] {
            assert!(matches!(parse(bad), Err(Error::Usage(_))), "{bad:?}");
        }
    }

    fn measure(loadgen_result: &str) -> Result<Measure, serde_json::Error> {
        serde_json::from_str(loadgen_result)
    }

    #[test]
    fn measure_from_loadgen_json() {
        let m = measure(
            r#"{"mode":"pingpong","window_s":5.0,"messages":500000,"msgs_per_sec":100000.0,
               "samples":[99000.0,101000.0],"server_cpu_s":4.9,"server_user_cpu_s":0.65,
               "server_sys_cpu_s":4.25,"loadgen_cpu_s":3.0,
               "p50_us":900.0,"p99_us":1500.0,"p999_us":2000.0}"#,
        )
        .unwrap();
        assert_eq!(m.samples, [99_000.0, 101_000.0]);
        assert_eq!(
            (m.server_user_cpu_s, m.server_sys_cpu_s),
            (Some(0.65), Some(4.25))
        );
        assert!((m.server_cpu().unwrap() - 0.98).abs() < 1e-9);
        assert!((m.cpu_per_million().unwrap() - 9.8).abs() < 1e-9);
        let (user, sys) = m.cpu_split_per_million().unwrap();
        assert!((user - 1.3).abs() < 1e-9 && (sys - 8.5).abs() < 1e-9);
        assert!((user + sys - m.cpu_per_million().unwrap()).abs() < 1e-9);
        // A generator from before the split: the total alone.
        let m = measure(
            r#"{"window_s":5.0,"messages":500000,"msgs_per_sec":100000.0,"server_cpu_s":4.9,
               "loadgen_cpu_s":3.0,"p50_us":0,"p99_us":0,"p999_us":0}"#,
        )
        .unwrap();
        assert!(m.cpu_per_million().is_some() && m.cpu_split_per_million().is_none());
        assert!(m.samples.is_empty());
        // No pid, no server CPU; a missing figure is an error.
        let m = measure(
            r#"{"window_s":5.0,"messages":5,"msgs_per_sec":1,"server_cpu_s":null,
               "loadgen_cpu_s":3.0,"p50_us":0,"p99_us":0,"p999_us":0,"samples":[]}"#,
        )
        .unwrap();
        assert_eq!(m.server_cpu(), None);
        assert!(measure(r#"{"window_s":5.0,"server_cpu_s":null}"#).is_err());
    }

    #[test]
    fn memory_from_loadgen_json() {
        let m: Memory = serde_json::from_str(
            r#"{"mode":"idle","connections":10000,"rss_before_kib":2048,
               "rss_after_kib":12288,"bytes_per_connection":1048.6,"connect_s":1.5}"#,
        )
        .unwrap();
        assert_eq!(
            m,
            Memory {
                connections: 10_000,
                before_kib: 2048.0,
                after_kib: 12_288.0,
                bytes_per_connection: 1048.6,
                connect_s: 1.5,
            }
        );
    }

    #[test]
    fn readme_markers() {
        let readme = format!("# x\n\n{README_START}\nold table\n{README_END}\n\nafter\n");
        let new = replace_between_markers(&readme, "| new |\n").unwrap();
        assert_eq!(
            new,
            format!("# x\n\n{README_START}\n| new |\n{README_END}\n\nafter\n")
        );
        assert_eq!(replace_between_markers(&new, "| new |").unwrap(), new);
        assert!(replace_between_markers("no markers", "t").is_none());
    }
}
