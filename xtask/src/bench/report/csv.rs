//! `results.csv` (every run) and `memory.csv` (the memory test), for spreadsheets.

use std::fmt::Write as _;

use super::super::Outcome;
use super::Report;

impl Report<'_> {
    pub(super) fn csv(&self) -> String {
        let mut out = String::from(
            "case,server,round,status,msgs_per_sec,messages,window_s,server_cpu_s,\
             server_user_cpu_s,server_sys_cpu_s,loadgen_cpu_s,p50_us,p99_us,p999_us,note\n",
        );
        let secs = |v: Option<f64>| v.map_or_else(String::new, |c| format!("{c:.3}"));
        let field = |s: &str| format!("\"{}\"", s.replace('"', "\"\"").replace('\n', " "));
        for r in self.runs {
            let _ = write!(out, "{},{},{},", r.case.name, r.server.name, r.round + 1);
            match &r.outcome {
                Outcome::Done(m) => {
                    let _ = writeln!(
                        out,
                        "ok,{:.1},{},{:.3},{},{},{},{:.3},{:.1},{:.1},{:.1},",
                        m.msgs_per_sec,
                        m.messages,
                        m.window_s,
                        secs(m.server_cpu_s),
                        secs(m.server_user_cpu_s),
                        secs(m.server_sys_cpu_s),
                        m.loadgen_cpu_s,
                        m.p50_us,
                        m.p99_us,
                        m.p999_us
                    );
                }
                Outcome::Skipped(why) => {
                    let _ = writeln!(out, "skipped,,,,,,,,,,,{}", field(why));
                }
                Outcome::Failed(why) => {
                    let _ = writeln!(out, "failed,,,,,,,,,,,{}", field(why));
                }
            }
        }
        out
    }

    pub(super) fn memory_csv(&self) -> String {
        let mut out = String::from(
            "server,connections,rss_before_kib,rss_after_kib,bytes_per_connection,connect_s\n",
        );
        for (s, m) in self.memory {
            if let Ok(m) = m {
                let _ = writeln!(
                    out,
                    "{},{},{},{},{:.0},{:.3}",
                    s.name,
                    m.connections,
                    m.before_kib,
                    m.after_kib,
                    m.bytes_per_connection,
                    m.connect_s
                );
            }
        }
        out
    }
}
