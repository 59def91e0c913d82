//! What one run measured and how it ended; the load generator's `RESULT` line is read into
//! these types.

use serde::{Deserialize, Serialize};

use super::catalog::{Case, Server};

/// A run whose server used less than this share of one core is flagged.
pub(crate) const MIN_SERVER_CPU: f64 = 0.95;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
