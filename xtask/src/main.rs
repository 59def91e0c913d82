//! `cargo xtask`: developer tasks for sockudo-ws that need more than `cargo` itself.
//!
//! Run `cargo xtask help` (the alias lives in `.cargo/config.toml`). Each subcommand is a module
//! with a `run(args) -> Result<ExitCode, Error>` function, dispatched from [`main`]. The crate
//! has few, small dependencies (serde, serde_json, lexopt) so that it builds in seconds.

mod autobahn;
mod bench;
mod cli;
mod fuzz;
mod process;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
cargo xtask: developer tasks for sockudo-ws

USAGE:
    cargo xtask <COMMAND> [OPTIONS]

COMMANDS:
    autobahn    Run the Autobahn|Testsuite (wstest) against the sockudo-ws server and client
    bench       End-to-end echo benchmark against tungstenite, fastwebsockets and tokio-websockets
                (`cargo xtask bench --help`)
    fuzz        Build and run the libFuzzer targets in fuzz/ for a bounded time
    help        Print this text

cargo xtask autobahn [OPTIONS]
    Builds the test peers (cargo build --release -p sockudo-ws-autobahn --bins), runs wstest
    against them, prints a table per section and every failing case, and exits non-zero unless
    every case is OK or INFORMATIONAL (UNIMPLEMENTED passes only in the sections named by
    --allow-unimplemented) and the report holds every selected case. A case counts under the
    worse of its behavior and behaviorClose.

    --server                  Test the server only (wstest -m fuzzingclient)
    --client                  Test the client only (wstest -m fuzzingserver)
    --both                    Test both (the default)
    --cases PATTERN,...       Cases to run (default: *). As in wstest, a pattern with '*' is a
                              prefix glob (1.* = section 1, 2.1* = 2.1, 2.10, 2.11); one
                              without '*' is an exact case id.
    --exclude PATTERN,...     Cases to leave out (default: none)
    --allow-unimplemented S,...
                              Sections whose UNIMPLEMENTED cases pass (default: none, so
                              sections 12 and 13, permessage-deflate, must pass; e.g. 12,13 to
                              test a peer without compression)
    --report-dir DIR          Where specs, logs and reports go (default: autobahn/reports);
                              results land in DIR/servers and DIR/clients
    --timeout MINUTES         Limit for each wstest run (default: 40)

    Environment:
    WSTEST                    wstest program to run (default: wstest on PATH)
    AUTOBAHN_SERVER_BIN       Echo server to test instead of target/release/autobahn-server;
                              run as `BIN --addr 127.0.0.1:PORT`, it must serve until killed
    AUTOBAHN_CLIENT_BIN       Client to test instead of target/release/autobahn-client; run as
                              `BIN --url ws://127.0.0.1:PORT --agent sockudo-ws`, it must run
                              every case of the fuzzing server and exit 0
                              (A peer given by both variables needs no build. A wrapper script
                              must `exec` the real program, which is the process killed.)
    CARGO_TARGET_DIR          Where the built peers are found (default: target)
";

/// Why a task failed; [`Error::Usage`] exits with 2, anything else with 1.
#[derive(Debug)]
enum Error {
    /// The command line is wrong.
    Usage(String),
    /// The task could not run.
    Failed(String),
}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error::Failed(message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) => write!(f, "{m}\n(see `cargo xtask help`)"),
            Error::Failed(m) => f.write_str(m),
        }
    }
}

/// The workspace root: the parent of this crate's directory.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in a workspace")
        .to_path_buf()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    let result = match args.first().map(String::as_str) {
        Some("help" | "-h" | "--help") => {
            print!("{USAGE}\n{}", fuzz::USAGE);
            Ok(ExitCode::SUCCESS)
        }
        Some("autobahn") => autobahn::run(rest),
        Some("bench") => bench::run(rest),
        Some("fuzz") => fuzz::run(rest),
        Some(other) => Err(Error::Usage(format!("unknown command '{other}'"))),
        None => Err(Error::Usage("no command given".to_owned())),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            match e {
                Error::Usage(_) => ExitCode::from(2),
                Error::Failed(_) => ExitCode::FAILURE,
            }
        }
    }
}
