//! `cargo xtask autobahn`: runs the Autobahn|Testsuite against our server and client.
//!
//! Server mode starts `autobahn-server` on a free port and points `wstest -m fuzzingclient` at
//! it; client mode starts `wstest -m fuzzingserver` and runs `autobahn-client` against it. Both
//! peers come from the `sockudo-ws-autobahn` package (or `AUTOBAHN_SERVER_BIN` /
//! `AUTOBAHN_CLIENT_BIN`). Specs, logs and results go to the report directory; the results are
//! then judged by [`report`].
//!
//! The parts: [`options`] (the command line), [`cases`] (the suite's case ids and selection),
//! [`peers`] (finding wstest, building the peers), this file (running each mode) and [`report`]
//! (reading and judging `index.json`).

mod cases;
mod options;
mod peers;
mod report;

use std::collections::BTreeMap;
use std::env;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::Error;
use crate::process::{self, ChildGuard, fmt_duration};
use options::Options;
use peers::{build_peers, find_wstest, peer_binary};

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
