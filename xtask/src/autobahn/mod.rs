//! `cargo xtask autobahn`: runs the Autobahn|Testsuite against our server and client.
//!
//! Server mode starts `autobahn-server` on a free port and points `wstest -m fuzzingclient` at
//! it; client mode starts `wstest -m fuzzingserver` and runs `autobahn-client` against it. Both
//! peers come from the `sockudo-ws-autobahn` package (or `AUTOBAHN_SERVER_BIN` /
//! `AUTOBAHN_CLIENT_BIN`). Specs, logs and results go to the report directory; the results are
//! then judged by [`report`].

mod cases;
mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::env;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use serde::Serialize;

use lexopt::Arg::{Long, Short};

use crate::process::{self, ChildGuard, fmt_duration};
use crate::{Error, cli};

/// The agent name our peers report under.
const AGENT: &str = "sockudo-ws";
/// The package that holds the two peers.
const PEER_PACKAGE: &str = "sockudo-ws-autobahn";
const SERVER_BIN: &str = "autobahn-server";
const CLIENT_BIN: &str = "autobahn-client";
const SERVER_BIN_ENV: &str = "AUTOBAHN_SERVER_BIN";
const CLIENT_BIN_ENV: &str = "AUTOBAHN_CLIENT_BIN";
/// How long a started server may take to accept connections.
const SERVER_STARTUP: Duration = Duration::from_secs(10);
/// wstest (Python 2 + Twisted) starts more slowly, above all on a busy machine.
const WSTEST_STARTUP: Duration = Duration::from_secs(30);
/// How long the fuzzing server may take to write its report after the client is done.
const REPORT_WAIT: Duration = Duration::from_secs(15);
/// How often a long run prints its progress.
const HEARTBEAT: Duration = Duration::from_secs(60);
/// The line wstest logs as it starts each case (in both modes).
const CASE_STARTED: &str = "Running test case ID";
/// How many log lines to show when a process fails.
const TAIL_LINES: usize = 30;

/// The command line of `cargo xtask autobahn`.
#[derive(Debug, PartialEq)]
struct Options {
    server: bool,
    client: bool,
    cases: Vec<String>,
    exclude: Vec<String>,
    allow_unimplemented: BTreeSet<u32>,
    report_dir: Option<PathBuf>,
    timeout: Duration,
}

impl Options {
    /// Parses the arguments after `autobahn`; `None` when help was asked for.
    fn parse(args: &[String]) -> Result<Option<Options>, Error> {
        let (mut server, mut client) = (false, false);
        let mut opts = Options {
            server: true,
            client: true,
            cases: vec!["*".to_owned()],
            exclude: Vec::new(),
            allow_unimplemented: BTreeSet::new(),
            report_dir: None,
            timeout: Duration::from_secs(40 * 60),
        };
        let mut parser = cli::parser(args);
        while let Some(arg) = cli::next(&mut parser)? {
            match arg {
                Short('h') | Long("help") => return Ok(None),
                Long("server") => server = true,
                Long("client") => client = true,
                Long("both") => (server, client) = (true, true),
                Long("cases") => opts.cases = split_list(&cli::value(&mut parser)?),
                Long("exclude") => opts.exclude = split_list(&cli::value(&mut parser)?),
                Long("allow-unimplemented") => {
                    opts.allow_unimplemented =
                        report::parse_sections(&cli::value(&mut parser)?).map_err(Error::Usage)?;
                }
                Long("report-dir") => opts.report_dir = Some(cli::value(&mut parser)?.into()),
                Long("timeout") => {
                    let v = cli::value(&mut parser)?;
                    let minutes: u64 = v.parse().ok().filter(|m| *m > 0).ok_or_else(|| {
                        Error::Usage(format!("--timeout takes minutes, not '{v}'"))
                    })?;
                    opts.timeout = Duration::from_secs(minutes * 60);
                }
                other => {
                    let typed = cli::typed(other);
                    let typed = cli::with_attached(&mut parser, typed);
                    return Err(Error::Usage(format!("unknown autobahn option '{typed}'")));
                }
            }
        }
        if server || client {
            (opts.server, opts.client) = (server, client);
        }
        if opts.cases.is_empty() {
            return Err(Error::Usage(
                "--cases needs at least one pattern".to_owned(),
            ));
        }
        Ok(Some(opts))
    }
}

fn split_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What a mode needs to know.
struct Run {
    wstest: PathBuf,
    report_dir: PathBuf,
    expected: Vec<&'static str>,
    opts: Options,
}

/// How one mode went.
struct ModeResult {
    name: &'static str,
    elapsed: Duration,
    cases: usize,
    passed: bool,
}

pub(crate) fn run(args: &[String]) -> Result<ExitCode, Error> {
    let Some(opts) = Options::parse(args)? else {
        print!("{}", crate::USAGE);
        return Ok(ExitCode::SUCCESS);
    };
    let total_start = Instant::now();
    let root = crate::workspace_root();
    let expected = cases::select(&opts.cases, &opts.exclude).map_err(Error::Usage)?;
    let wstest = find_wstest(&root)?;

    let report_dir = match &opts.report_dir {
        Some(dir) => env::current_dir().map_err(|e| e.to_string())?.join(dir),
        None => root.join("autobahn").join("reports"),
    };
    fs::create_dir_all(&report_dir)
        .map_err(|e| format!("cannot create {}: {e}", report_dir.display()))?;

    let server_bin = opts
        .server
        .then(|| peer_binary(&root, SERVER_BIN_ENV, SERVER_BIN));
    let client_bin = opts
        .client
        .then(|| peer_binary(&root, CLIENT_BIN_ENV, CLIENT_BIN));
    let peers: Vec<&(PathBuf, bool)> = server_bin.iter().chain(&client_bin).collect();
    if peers.iter().any(|(_, overridden)| !overridden) {
        build_peers(&root)?;
    }
    for (path, overridden) in &peers {
        if !path.is_file() {
            return Err(Error::Failed(if *overridden {
                format!(
                    "{} does not exist (set by {SERVER_BIN_ENV} or {CLIENT_BIN_ENV})",
                    path.display()
                )
            } else {
                format!(
                    "{} was not built by `cargo build -p {PEER_PACKAGE}`",
                    path.display()
                )
            }));
        }
    }

    println!(
        "wstest: {}\nreports: {}\ncases: {} selected by --cases {} --exclude {}; \
         UNIMPLEMENTED allowed in sections: {}",
        wstest.display(),
        report_dir.display(),
        expected.len(),
        opts.cases.join(","),
        if opts.exclude.is_empty() {
            "(none)".to_owned()
        } else {
            opts.exclude.join(",")
        },
        if opts.allow_unimplemented.is_empty() {
            "(none)".to_owned()
        } else {
            opts.allow_unimplemented
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        }
    );
    let run = Run {
        wstest,
        report_dir,
        expected,
        opts,
    };
    let mut results = Vec::new();
    if let Some((bin, _)) = &server_bin {
        results.push(run.test_server(bin));
    }
    if let Some((bin, _)) = &client_bin {
        results.push(run.test_client(bin));
    }

    println!(
        "\n=== Autobahn summary ({} in all) ===",
        fmt_duration(total_start.elapsed())
    );
    for r in &results {
        println!(
            "  {:<6} {}  {} in {}",
            r.name,
            if r.passed { "PASS" } else { "FAIL" },
            report::n_cases(r.cases),
            fmt_duration(r.elapsed)
        );
    }
    Ok(if results.iter().all(|r| r.passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `wstest` from `WSTEST` or PATH, or an error that tells how to get it.
fn find_wstest(root: &Path) -> Result<PathBuf, Error> {
    let from_env = env::var("WSTEST").ok().filter(|v| !v.is_empty());
    let name = from_env.as_deref().unwrap_or("wstest");
    if let Some(path) = process::find_program(name) {
        return Ok(path);
    }
    let script = root.join("../shared/autobahn/install-wstest.sh");
    let shown = match script.canonicalize() {
        Ok(real) => format!(
            "../shared/autobahn/install-wstest.sh   (that is {})",
            real.display()
        ),
        Err(_) => {
            "../shared/autobahn/install-wstest.sh   (not present beside this checkout)".to_owned()
        }
    };
    let what = match &from_env {
        Some(v) => format!("WSTEST={v} is not an executable program"),
        None => "wstest (the Autobahn|Testsuite) is not on PATH".to_owned(),
    };
    Err(Error::Failed(format!(
        "{what}.
  On Debian 12 (this project's machines and CI), from the repository root:
      sudo bash {shown}
  Elsewhere, use the Docker image crossbario/autobahn-testsuite through a wrapper script named
  by WSTEST that mounts the report directory at the same path (specs use absolute paths):
      #!/bin/sh
      exec docker run --rm --network host -v \"$PWD:$PWD\" -w \"$PWD\" crossbario/autobahn-testsuite wstest \"$@\"
  or run a mode by hand with the spec that this task writes, e.g.:
      docker run -it --rm --network host -v \"$PWD/autobahn/reports:/reports\" -w /reports \\
          crossbario/autobahn-testsuite wstest -m fuzzingclient -s /reports/fuzzingclient.json"
    )))
}

/// The peer program: `$env_var` if set (`true` = overridden), else the release build.
fn peer_binary(root: &Path, env_var: &str, name: &str) -> (PathBuf, bool) {
    if let Some(path) = env::var_os(env_var).filter(|v| !v.is_empty()) {
        return (PathBuf::from(path), true);
    }
    // `cargo build` runs in the workspace root, so a relative target dir is relative to it.
    let target =
        env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |t| root.join(t));
    (target.join("release").join(name), false)
}

fn build_peers(root: &Path) -> Result<(), Error> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let args = ["build", "--release", "-p", PEER_PACKAGE, "--bins"];
    println!("=== cargo {} ===", args.join(" "));
    let start = Instant::now();
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", Path::new(&cargo).display()))?;
    if !status.success() {
        return Err(Error::Failed(format!(
            "cargo {} failed ({status})",
            args.join(" ")
        )));
    }
    println!("built the peers in {}", fmt_duration(start.elapsed()));
    Ok(())
}

impl Run {
    /// Server mode: `wstest -m fuzzingclient` against `autobahn-server`.
    fn test_server(&self, bin: &Path) -> ModeResult {
        println!(
            "\n=== Autobahn server: wstest -m fuzzingclient against {} ({}) ===",
            bin.display(),
            report::n_cases(self.expected.len())
        );
        let start = Instant::now();
        let outdir = self.report_dir.join("servers");
        let mut errors = Vec::new();
        // A failed setup leaves no report to read.
        let ran = self
            .drive_server(bin, &outdir, &mut errors)
            .map_err(|e| errors.push(e));
        self.finish("server", start, ran.is_ok().then_some(&outdir), errors)
    }

    fn drive_server(
        &self,
        bin: &Path,
        outdir: &Path,
        errors: &mut Vec<String>,
    ) -> Result<(), String> {
        clear_dir(outdir)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], process::free_port()?));
        let mut server = ChildGuard::spawn(
            SERVER_BIN,
            Command::new(bin).arg("--addr").arg(addr.to_string()),
            &self.report_dir.join(format!("{SERVER_BIN}.log")),
        )?;
        server
            .wait_for_port(addr, SERVER_STARTUP)
            .map_err(|e| e + "\n" + &process::tail(server.log(), TAIL_LINES))?;
        println!("{SERVER_BIN} is listening on {addr}");

        let url = format!("ws://{addr}");
        let spec = self.spec(
            outdir,
            None,
            &[SpecServer {
                agent: AGENT,
                url: &url,
            }],
        );
        let mut wstest = self.start_wstest("fuzzingclient", &spec)?;
        match wstest.wait_timeout(self.opts.timeout, HEARTBEAT, |t| {
            self.heartbeat(&wstest_log(&self.report_dir, "fuzzingclient"), t)
        })? {
            None => errors.push(format!(
                "wstest did not finish within {}; killed it\n{}",
                fmt_duration(self.opts.timeout),
                process::tail(wstest.log(), TAIL_LINES)
            )),
            Some(status) if !status.success() => errors.push(format!(
                "wstest failed ({status})\n{}",
                process::tail(wstest.log(), TAIL_LINES)
            )),
            Some(_) => {}
        }
        drop(wstest);
        if let Some(status) = server.try_status()? {
            errors.push(format!(
                "{SERVER_BIN} exited during the run ({status})\n{}",
                process::tail(server.log(), TAIL_LINES)
            ));
        }
        server.stop();
        Ok(())
    }

    /// Client mode: `autobahn-client` against `wstest -m fuzzingserver`.
    fn test_client(&self, bin: &Path) -> ModeResult {
        println!(
            "\n=== Autobahn client: {} against wstest -m fuzzingserver ({}) ===",
            bin.display(),
            report::n_cases(self.expected.len())
        );
        let start = Instant::now();
        let outdir = self.report_dir.join("clients");
        let mut errors = Vec::new();
        let ran = self
            .drive_client(bin, &outdir, &mut errors)
            .map_err(|e| errors.push(e));
        self.finish("client", start, ran.is_ok().then_some(&outdir), errors)
    }

    fn drive_client(
        &self,
        bin: &Path,
        outdir: &Path,
        errors: &mut Vec<String>,
    ) -> Result<(), String> {
        clear_dir(outdir)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], process::free_port()?));
        let url = format!("ws://{addr}");
        let spec = self.spec(outdir, Some(&url), &[]);
        let mut wstest = self.start_wstest("fuzzingserver", &spec)?;
        wstest
            .wait_for_port(addr, WSTEST_STARTUP)
            .map_err(|e| e + "\n" + &process::tail(wstest.log(), TAIL_LINES))?;
        println!("wstest fuzzingserver is listening on {addr}");

        let mut client = ChildGuard::spawn(
            CLIENT_BIN,
            Command::new(bin).args(["--url", &url, "--agent", AGENT]),
            &self.report_dir.join(format!("{CLIENT_BIN}.log")),
        )?;
        match client.wait_timeout(self.opts.timeout, HEARTBEAT, |t| {
            self.heartbeat(wstest.log(), t)
        })? {
            None => errors.push(format!(
                "{CLIENT_BIN} did not finish within {}; killed it\n{}",
                fmt_duration(self.opts.timeout),
                process::tail(client.log(), TAIL_LINES)
            )),
            Some(status) if !status.success() => errors.push(format!(
                "{CLIENT_BIN} failed ({status})\n{}",
                process::tail(client.log(), TAIL_LINES)
            )),
            Some(_) => {}
        }
        client.stop();

        // The fuzzing server writes its reports when the client calls /updateReports; give it
        // time after a client that finished (one that failed may never have called it).
        let index = outdir.join("index.json");
        let wait = if errors.is_empty() {
            REPORT_WAIT
        } else {
            Duration::ZERO
        };
        let deadline = Instant::now() + wait;
        while !fs::read_to_string(&index)
            .is_ok_and(|t| serde_json::from_str::<serde::de::IgnoredAny>(&t).is_ok())
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(200));
        }
        if let Some(status) = wstest.try_status()? {
            errors.push(format!(
                "wstest fuzzingserver exited during the run ({status})\n{}",
                process::tail(wstest.log(), TAIL_LINES)
            ));
        }
        wstest.stop();
        Ok(())
    }

    /// The wstest spec of a mode: `servers` to test for fuzzingclient, the `url` to serve on for
    /// fuzzingserver; results go to `outdir`.
    fn spec(&self, outdir: &Path, url: Option<&str>, servers: &[SpecServer<'_>]) -> String {
        let spec = Spec {
            url,
            outdir: &outdir.to_string_lossy(),
            servers,
            cases: &self.opts.cases,
            exclude_cases: &self.opts.exclude,
            exclude_agent_cases: BTreeMap::new(),
        };
        serde_json::to_string_pretty(&spec).expect("a spec serializes") + "\n"
    }

    /// Writes the spec for `mode` into the report directory and starts wstest there.
    fn start_wstest(&self, mode: &str, spec: &str) -> Result<ChildGuard, String> {
        let spec_path = self.report_dir.join(format!("{mode}.json"));
        fs::write(&spec_path, spec)
            .map_err(|e| format!("cannot write {}: {e}", spec_path.display()))?;
        println!("spec: {}", spec_path.display());
        let mut command = Command::new(&self.wstest);
        command.args(["-m", mode, "-s"]).arg(&spec_path);
        if mode == "fuzzingserver" {
            // Its embedded web UI would bind port 8080, which a second run on the same machine
            // (another report directory) cannot share: leave it off.
            command.args(["--webport", "0"]);
        }
        ChildGuard::spawn(
            &format!("wstest {mode}"),
            command
                .current_dir(&self.report_dir)
                .env("PYTHONUNBUFFERED", "1"),
            &wstest_log(&self.report_dir, mode),
        )
    }

    fn heartbeat(&self, wstest_log: &Path, elapsed: Duration) {
        println!(
            "  ... {}: {} of {} cases started",
            fmt_duration(elapsed),
            process::count_lines(wstest_log, CASE_STARTED),
            self.expected.len()
        );
    }

    /// Reads and judges `outdir/index.json` (if given), prints the outcome, and sums up the
    /// mode, which passes if the report does and nothing went wrong (`errors`).
    fn finish(
        &self,
        name: &'static str,
        start: Instant,
        outdir: Option<&Path>,
        mut errors: Vec<String>,
    ) -> ModeResult {
        let elapsed = start.elapsed();
        let mut cases = 0;
        let mut passed = false;
        if let Some(outdir) = outdir {
            let index = outdir.join("index.json");
            match fs::read_to_string(&index)
                .map_err(|e| format!("cannot read {}: {e}", index.display()))
                .and_then(|text| {
                    report::parse_index(&text, AGENT)
                        .map_err(|e| format!("{}: {e}", index.display()))
                }) {
                Ok(results) => {
                    let eval =
                        report::evaluate(&results, &self.expected, &self.opts.allow_unimplemented);
                    println!("\nAutobahn {name} results ({}):", index.display());
                    print!("{}", report::render(&eval, outdir));
                    cases = results.len();
                    passed = eval.passed();
                }
                Err(e) => errors.push(e),
            }
        }
        for e in &errors {
            println!("  FAIL: {e}");
        }
        passed &= errors.is_empty();
        println!(
            "--- Autobahn {name}: {} ({} in {}) ---",
            if passed { "PASS" } else { "FAIL" },
            report::n_cases(cases),
            fmt_duration(elapsed)
        );
        ModeResult {
            name,
            elapsed,
            cases,
            passed,
        }
    }
}

fn wstest_log(report_dir: &Path, mode: &str) -> PathBuf {
    report_dir.join(format!("wstest-{mode}.log"))
}

/// Empties a results directory so that no stale report can pass for a new one.
fn clear_dir(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
    }
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// A wstest spec file (`wstest -m MODE -s FILE`).
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Spec<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    outdir: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    servers: &'a [SpecServer<'a>],
    cases: &'a [String],
    exclude_cases: &'a [String],
    exclude_agent_cases: BTreeMap<String, Vec<String>>,
}

/// A server for `wstest -m fuzzingclient` to test.
#[derive(Serialize)]
struct SpecServer<'a> {
    agent: &'a str,
    url: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Options>, Error> {
        Options::parse(&args.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults() {
        let opts = parse(&[]).unwrap().unwrap();
        assert!(opts.server && opts.client);
        assert_eq!(opts.cases, ["*"]);
        assert!(opts.exclude.is_empty());
        assert!(opts.allow_unimplemented.is_empty());
        assert_eq!(opts.report_dir, None);
        assert_eq!(opts.timeout, Duration::from_secs(2400));
    }

    #[test]
    fn options() {
        let opts = parse(&[
            "--server",
            "--cases",
            "1.*, 2.*,6.4.*",
            "--exclude=2.1*",
            "--allow-unimplemented=",
            "--report-dir",
            "/tmp/r",
            "--timeout",
            "5",
        ])
        .unwrap()
        .unwrap();
        assert!(opts.server && !opts.client);
        assert_eq!(opts.cases, ["1.*", "2.*", "6.4.*"]);
        assert_eq!(opts.exclude, ["2.1*"]);
        assert!(opts.allow_unimplemented.is_empty());
        assert_eq!(opts.report_dir, Some(PathBuf::from("/tmp/r")));
        assert_eq!(opts.timeout, Duration::from_secs(300));

        let opts = parse(&["--client", "--allow-unimplemented", ""])
            .unwrap()
            .unwrap();
        assert!(!opts.server && opts.client);
        assert!(opts.allow_unimplemented.is_empty());
        let opts = parse(&["--allow-unimplemented", "12,13"]).unwrap().unwrap();
        assert_eq!(opts.allow_unimplemented, BTreeSet::from([12, 13]));
        let opts = parse(&["--server", "--client"]).unwrap().unwrap();
        assert!(opts.server && opts.client);
        assert!(parse(&["--help"]).unwrap().is_none());
    }

    #[test]
    fn bad_options() {
        for args in [
            &["--cases"][..],
            &["--cases", ""],
            &["--frobnicate"],
            &["--timeout", "0"],
            &["--timeout", "x"],
            &["--allow-unimplemented", "12,x"],
            &["--server=yes"],
        ] {
            assert!(matches!(parse(args), Err(Error::Usage(_))), "{args:?}");
        }
    }

    #[test]
    fn specs_are_json() {
        let run = Run {
            wstest: PathBuf::from("wstest"),
            report_dir: PathBuf::from("/r"),
            expected: Vec::new(),
            opts: parse(&["--cases", "1.*,a\"b", "--exclude", "1.1.1"])
                .unwrap()
                .unwrap(),
        };
        let servers = [SpecServer {
            agent: AGENT,
            url: "ws://127.0.0.1:9001",
        }];
        let spec = run.spec(Path::new("/r/servers"), None, &servers);
        let value: serde_json::Value = serde_json::from_str(&spec).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "outdir": "/r/servers",
                "servers": [{"agent": "sockudo-ws", "url": "ws://127.0.0.1:9001"}],
                "cases": ["1.*", "a\"b"],
                "exclude-cases": ["1.1.1"],
                "exclude-agent-cases": {}
            })
        );
        let spec = run.spec(Path::new("/r/clients"), Some("ws://127.0.0.1:9002"), &[]);
        let value: serde_json::Value = serde_json::from_str(&spec).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "url": "ws://127.0.0.1:9002",
                "outdir": "/r/clients",
                "cases": ["1.*", "a\"b"],
                "exclude-cases": ["1.1.1"],
                "exclude-agent-cases": {}
            })
        );
        assert!(
            spec.starts_with("{\n  \"url\": ") && spec.ends_with("}\n"),
            "{spec}"
        );
    }
}
