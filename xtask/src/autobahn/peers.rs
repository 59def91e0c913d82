//! What a run needs before it starts: the `wstest` program, and the two peers under test
//! (built by cargo, or given by the environment).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::PEER_PACKAGE;
use crate::Error;
use crate::process::{self, fmt_duration};

/// `wstest` from `WSTEST` or PATH, or an error that tells how to get it.
pub(super) fn find_wstest(root: &Path) -> Result<PathBuf, Error> {
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
pub(super) fn peer_binary(root: &Path, env_var: &str, name: &str) -> (PathBuf, bool) {
    if let Some(path) = env::var_os(env_var).filter(|v| !v.is_empty()) {
        return (PathBuf::from(path), true);
    }
    // `cargo build` runs in the workspace root, so a relative target dir is relative to it.
    let target =
        env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |t| root.join(t));
    (target.join("release").join(name), false)
}

pub(super) fn build_peers(root: &Path) -> Result<(), Error> {
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
