//! Child processes that cannot outlive the task, and small helpers for local servers.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How often waiting loops look at a child or a port.
const POLL: Duration = Duration::from_millis(100);

/// A running child process whose stdout and stderr go to a log file. Dropping the guard kills
/// the process (if it still runs) and reaps it, so no exit path leaves it behind.
///
/// Only the process itself is killed: a wrapper script around the real program must `exec` it.
pub(crate) struct ChildGuard {
    name: String,
    child: Child,
    log: PathBuf,
}

impl ChildGuard {
    /// Starts `cmd` with stdin closed and its output appended to a new `log` file.
    pub(crate) fn spawn(name: &str, cmd: &mut Command, log: &Path) -> Result<Self, String> {
        let out = File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {name} ({:?}): {e}", cmd.get_program()))?;
        Ok(ChildGuard {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
        })
    }

    pub(crate) fn log(&self) -> &Path {
        &self.log
    }

    /// The exit status if the process has ended.
    pub(crate) fn try_status(&mut self) -> Result<Option<ExitStatus>, String> {
        self.child
            .try_wait()
            .map_err(|e| format!("cannot wait for {}: {e}", self.name))
    }

    /// Waits up to `timeout` for the process to end, calling `tick` every `every`; `None` when
    /// it is still running at the timeout.
    pub(crate) fn wait_timeout(
        &mut self,
        timeout: Duration,
        every: Duration,
        mut tick: impl FnMut(Duration),
    ) -> Result<Option<ExitStatus>, String> {
        let start = Instant::now();
        let mut next_tick = every;
        loop {
            if let Some(status) = self.try_status()? {
                return Ok(Some(status));
            }
            let elapsed = start.elapsed();
            if elapsed >= timeout {
                return Ok(None);
            }
            if elapsed >= next_tick {
                tick(elapsed);
                next_tick += every;
            }
            sleep(POLL);
        }
    }

    /// Waits until `addr` accepts TCP connections; fails if the process ends first or
    /// `timeout` passes.
    pub(crate) fn wait_for_port(
        &mut self,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.try_status()? {
                return Err(format!(
                    "{} exited before listening on {addr} ({status})",
                    self.name
                ));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok() {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                return Err(format!(
                    "{} did not accept connections on {addr} within {}s",
                    self.name,
                    timeout.as_secs()
                ));
            }
            sleep(POLL);
        }
    }

    /// Kills the process if it still runs and reaps it; returns how it ended if it had ended
    /// on its own.
    pub(crate) fn stop(mut self) -> Option<ExitStatus> {
        // Drop then kills and reaps a process that still runs.
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A port on 127.0.0.1 that was free a moment ago (bound to port 0, read, released).
pub(crate) fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    Ok(port)
}

/// The last `n` lines of a log file, indented, for error messages.
pub(crate) fn tail(path: &Path, n: usize) -> String {
    let Ok(file) = File::open(path) else {
        return format!("    (cannot read {})\n", path.display());
    };
    let lines: Vec<String> = BufReader::new(file).lines().map_while(Result::ok).collect();
    if lines.is_empty() {
        return format!("  ({} is empty)\n", path.display());
    }
    let mut out = format!("  last lines of {}:\n", path.display());
    for line in &lines[lines.len().saturating_sub(n)..] {
        out.push_str("    | ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// How many lines of a log file contain `needle` (0 if it cannot be read).
pub(crate) fn count_lines(path: &Path, needle: &str) -> usize {
    File::open(path).map_or(0, |f| {
        BufReader::new(f)
            .lines()
            .map_while(Result::ok)
            .filter(|l| l.contains(needle))
            .count()
    })
}

/// `program` if it names an existing file, else the first executable of that name on PATH.
pub(crate) fn find_program(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let is_exe = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_exe(&p).then_some(p);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| is_exe(p))
}

/// `12m03s`, or `41.2s` under a minute.
pub(crate) fn fmt_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let whole = d.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(fmt_duration(Duration::from_millis(41_230)), "41.2s");
        assert_eq!(fmt_duration(Duration::from_secs(723)), "12m03s");
    }

    #[test]
    fn guard_kills_on_drop_and_times_out() {
        let dir = std::env::temp_dir().join(format!("xtask-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("sleep.log");
        let mut guard = ChildGuard::spawn("sleep", Command::new("sleep").arg("30"), &log).unwrap();
        let pid = guard.child.id();
        let mut ticks = 0;
        let status = guard
            .wait_timeout(
                Duration::from_millis(350),
                Duration::from_millis(100),
                |_| ticks += 1,
            )
            .unwrap();
        assert!(status.is_none());
        assert!(ticks >= 2, "{ticks}");
        drop(guard);
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "sleep {pid} survived"
        );

        let mut guard = ChildGuard::spawn(
            "echo",
            Command::new("sh").args(["-c", "echo one; echo two >&2; exit 3"]),
            &log,
        )
        .unwrap();
        let status = guard
            .wait_timeout(Duration::from_secs(10), Duration::from_secs(10), |_| {})
            .unwrap();
        assert_eq!(status.and_then(|s| s.code()), Some(3));
        assert_eq!(count_lines(&log, "o"), 2);
        assert!(tail(&log, 1).contains("| two"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn finds_programs_on_path() {
        assert!(find_program("sh").is_some());
        assert!(find_program("/bin/sh").is_some());
        assert!(find_program("no-such-program-xtask").is_none());
    }
}
