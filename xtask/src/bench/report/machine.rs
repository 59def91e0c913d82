//! What the numbers were measured on and with: the machine, the date, the crates' versions.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// What the numbers were measured on.
#[derive(Serialize)]
pub(crate) struct Machine {
    pub(crate) cpus: usize,
    pub(crate) model: String,
    pub(crate) kernel: String,
    /// UTC, ISO 8601 (beside the machine in `results.json`).
    #[serde(skip)]
    pub(crate) date: String,
}

impl Machine {
    pub(crate) fn collect() -> Self {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == "model name").then(|| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".to_owned());
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "unknown".to_owned(), |k| k.trim().to_owned());
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            model,
            kernel,
            date: utc_date(secs),
        }
    }

    pub(crate) fn describe(&self) -> String {
        format!(
            "{} CPUs (nproc), {}, Linux {}",
            self.cpus, self.model, self.kernel
        )
    }
}

/// `secs` since the epoch as `YYYY-MM-DD HH:MM UTC` (civil-from-days, proleptic Gregorian).
pub(crate) fn utc_date(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let (hh, mm) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02} UTC")
}

/// The versions of the crates compared, from Cargo.lock, and our git revision.
pub(crate) fn versions(root: &Path) -> Vec<(String, String)> {
    let lock = fs::read_to_string(root.join("Cargo.lock")).unwrap_or_default();
    let version_of = |name: &str| {
        let needle = format!("name = \"{name}\"\nversion = \"");
        let mut found: Vec<&str> = lock
            .match_indices(&needle)
            .filter_map(|(i, _)| lock[i + needle.len()..].split('"').next())
            .collect();
        found.dedup();
        if found.is_empty() {
            "?".to_owned()
        } else {
            found.join(" + ")
        }
    };
    let git = Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let ours = match git {
        Some(rev) => format!("{} (git {rev})", version_of("sockudo-ws")),
        None => version_of("sockudo-ws"),
    };
    let mut v = vec![("sockudo-ws".to_owned(), ours)];
    for name in [
        "tokio-tungstenite",
        "tungstenite",
        "fastwebsockets",
        "hyper",
        "tokio-websockets",
        "tokio",
    ] {
        v.push((name.to_owned(), version_of(name)));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc_date(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_date(1_709_210_096), "2024-02-29 12:34 UTC");
    }
}
