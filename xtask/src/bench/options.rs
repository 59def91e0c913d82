//! The command line of `cargo xtask bench` and its usage text.

use std::path::PathBuf;

use lexopt::Arg::{Long, Short};

use super::catalog::{CASES, Case, SERVERS, Server, default_servers};
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
    --servers NAME,...        Servers to run (default: all but tokio-floor and ours over the
                              other transports): sockudo, tungstenite, fastwebsockets,
                              tokio-websockets, and, run only when named: tokio-floor, a
                              reference (a bare Tokio echo that parses frames by hand and
                              validates nothing: the floor under any Tokio server);
                              sockudo-wss (ours over TLS), sockudo-h2 (ours over HTTP/2, one
                              WebSocket per connection) and sockudo-h2-mux (HTTP/2, 10
                              WebSockets per connection), reported in a Transports table as
                              ratios to sockudo (HTTP/1.1), e.g. --servers
                              sockudo,sockudo-wss,sockudo-h2,sockudo-h2-mux
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

/// The command line of `cargo xtask bench`.
#[derive(Debug, PartialEq)]
pub(super) struct Options {
    pub(super) quick: bool,
    pub(super) cases: Vec<Case>,
    pub(super) servers: Vec<Server>,
    /// Whether `--servers` was given (`--instructions` defaults to ours only).
    pub(super) servers_given: bool,
    pub(super) rounds: usize,
    pub(super) seconds: f64,
    pub(super) warmup: f64,
    pub(super) memory_connections: usize,
    pub(super) build: bool,
    pub(super) pin: bool,
    pub(super) out: Option<PathBuf>,
    pub(super) instructions: bool,
    /// Write the README's performance table from this run.
    pub(super) update_readme: bool,
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
    pub(super) fn parse(args: &[String]) -> Result<Option<Options>, Error> {
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

pub(super) fn usage() -> String {
    let mut text = USAGE.to_owned();
    for c in CASES {
        text.push_str(&format!("    {:<26}{}\n", c.name, c.describe()));
    }
    text.push_str("    (permessage-deflate cases run only against servers whose crate has it)\n");
    text
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
            "the reference and the other transports stay out of the defaults"
        );
        let o = parse(&["--servers", "sockudo,sockudo-wss,sockudo-h2,sockudo-h2-mux"])
            .unwrap()
            .unwrap();
        assert_eq!(
            o.servers
                .iter()
                .map(|s| s.transport.loadgen_args().join(" "))
                .collect::<Vec<_>>(),
            [
                "",
                "--transport wss",
                "--transport h2 --streams-per-connection 1",
                "--transport h2 --streams-per-connection 10"
            ]
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
}
