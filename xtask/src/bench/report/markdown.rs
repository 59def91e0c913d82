//! `report.md`: the settings, the throughput table, the memory table and the failed runs.

use std::fmt::Write as _;

use super::super::Outcome;
use super::format::{cpu_cell, latency, percent, thousands};
use super::{Report, Summary};

impl Report<'_> {
    pub(super) fn markdown(&self, summaries: &[Summary]) -> String {
        let mut md = String::from("# sockudo-ws end-to-end echo benchmark\n\n");
        if self.quick {
            md.push_str(
                "> **Smoke run (`--quick`)**: one short round, on whatever else the machine was \
                 doing. The numbers show that the harness works; they are not results.\n\n",
            );
        }
        let _ = writeln!(md, "- date: {}", self.machine.date);
        let _ = writeln!(md, "- machine: {}", self.machine.describe());
        let _ = writeln!(md, "- settings: {}", self.settings);
        let versions: Vec<String> = self
            .versions
            .iter()
            .map(|(n, v)| format!("{n} {v}"))
            .collect();
        let _ = writeln!(md, "- versions: {}", versions.join(", "));
        md.push_str(
            "- every server is an example of `benches/` on a single-threaded tokio runtime; the \
             generator (`loadgen`) is raw tokio TCP with pre-masked frames\n\n",
        );

        md.push_str("## Throughput\n\n");
        md.push_str(
            "| case | server | msg/s (median) | min - max | vs ours | server CPU-s / M msgs \
             (user + sys) | server CPU | generator CPU | latency p50 / p99 / p99.9 |\n\
             |---|---|--:|--:|--:|--:|--:|--:|--:|\n",
        );
        let mut low = false;
        for s in summaries {
            if s.rounds == 0 {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | | | | | | |",
                    s.case.name,
                    s.server.name,
                    s.note.as_deref().unwrap_or("no result")
                );
                continue;
            }
            low |= s.low_cpu;
            let lat = if s.case.depth > 1 {
                "(pipelined)".to_owned()
            } else {
                format!(
                    "{} / {} / {}",
                    latency(s.p50_us),
                    latency(s.p99_us),
                    latency(s.p999_us)
                )
            };
            let _ = writeln!(
                md,
                "| {} | {} | {}{} | {} - {} | {} | {} | {} | {} | {} |",
                s.case.name,
                s.server.name,
                thousands(s.median),
                if s.low_cpu { " ⚠" } else { "" },
                thousands(s.min),
                thousands(s.max),
                s.ratio
                    .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}x")),
                cpu_cell(s),
                percent(s.server_cpu),
                percent(Some(s.loadgen_cpu)),
                lat
            );
        }
        md.push('\n');
        if low {
            md.push_str(
                "⚠ the server used under 95% of one core in at least one round: the generator \
                 or the machine, not the server, may have set the pace.\n\n",
            );
        }
        md.push_str(
            "Server CPU-s / M msgs is the server's CPU time per million echoed messages \
             (`/proc/PID/stat`), split into user space (u: its own code, i.e. the WebSocket crate, \
             Tokio and the allocator) and the kernel (s). On loopback the system time is mostly \
             the kernel's TCP send and receive path (system calls, copies, waking the other \
             end): much the same work for every server, varying only with its system calls per \
             message, so it caps how far faster user-space code can move the total. The kernel \
             splits the time by sampling at its timer tick, so the split is coarse in short runs; \
             over several rounds it is that of the round with the median total.\n\n",
        );
        if self.has_transports() {
            md.push_str(
                "## Transports\n\n\
                 Ours over TLS and HTTP/2 against ours over HTTP/1.1 (`sockudo`) on the same \
                 cases, as ratios to HTTP/1.1. A case's connections are its WebSockets: over \
                 HTTP/2 with K per connection they share connections / K TCP connections.\n\n",
            );
            md.push_str(&self.transports_table(summaries));
            md.push('\n');
        }
        md.push_str("Cases:\n");
        for c in self.cases {
            let _ = writeln!(md, "- `{}`: {}", c.name, c.describe());
        }

        if !self.memory.is_empty() {
            md.push_str(
                "\n## Memory per idle connection\n\n\
                 RSS of the server after one warm connection and after N more idle ones \
                 (handshake done, nothing sent), divided by N.\n\n\
                 | server | connections | RSS before | RSS after | per connection |\n\
                 |---|--:|--:|--:|--:|\n",
            );
            for (s, m) in self.memory {
                match m {
                    Ok(m) => {
                        let _ = writeln!(
                            md,
                            "| {} | {} | {:.1} MiB | {:.1} MiB | {:.1} KiB |",
                            s.name,
                            thousands(m.connections as f64),
                            m.before_kib / 1024.0,
                            m.after_kib / 1024.0,
                            m.bytes_per_connection / 1024.0
                        );
                    }
                    Err(e) => {
                        let _ = writeln!(
                            md,
                            "| {} | failed: {} | | | |",
                            s.name,
                            e.lines().next().unwrap_or_default()
                        );
                    }
                }
            }
        }

        let failures: Vec<String> = self
            .runs
            .iter()
            .filter_map(|r| match &r.outcome {
                Outcome::Failed(why) => Some(format!(
                    "- {} / {} round {}: {}",
                    r.case.name,
                    r.server.name,
                    r.round + 1,
                    why.lines().next().unwrap_or_default()
                )),
                _ => None,
            })
            .collect();
        if !failures.is_empty() {
            md.push_str("\n## Failed runs\n\n");
            md.push_str(&failures.join("\n"));
            md.push('\n');
        }
        md
    }
}
