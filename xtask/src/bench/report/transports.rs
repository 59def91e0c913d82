//! The Transports table: ours over HTTP/1.1 (`sockudo`, the baseline), TLS and HTTP/2 on the
//! same cases, as ratios to HTTP/1.1: messages per second and server CPU-seconds per million
//! messages. In `report.md`, and in short in `transports-table.md` (for the README).

use std::fmt::Write as _;

use super::super::catalog::Transport;
use super::super::{Case, OURS};
use super::format::thousands;
use super::{Report, Summary};

impl Report<'_> {
    /// Whether the run has any of our other transports (and so a Transports table).
    pub(super) fn has_transports(&self) -> bool {
        self.servers.iter().any(|s| s.transport != Transport::H1)
    }

    /// The Transports table (empty when the run has no other transport): per case a row for
    /// HTTP/1.1 and one per other transport, with msg/s and CPU-s / M msgs and each as a ratio
    /// to HTTP/1.1.
    pub(crate) fn transports_table(&self, summaries: &[Summary]) -> String {
        if !self.has_transports() {
            return String::new();
        }
        let rows: Vec<_> = self
            .servers
            .iter()
            .filter(|s| s.name == OURS || s.transport != Transport::H1)
            .collect();
        let find = |case: &Case, server: &str| {
            summaries
                .iter()
                .find(|s| s.case == *case && s.server.name == server)
        };
        let mut md = String::from(
            "| case | transport | server | msg/s (median) | vs HTTP/1.1 | server CPU-s / M msgs | \
             vs HTTP/1.1 |\n|---|---|---|--:|--:|--:|--:|\n",
        );
        for case in self.cases {
            let base = find(case, OURS).filter(|s| s.rounds > 0);
            for server in &rows {
                let Some(s) = find(case, server.name) else {
                    continue;
                };
                let describe = server.transport.describe();
                if s.rounds == 0 {
                    let _ = writeln!(
                        md,
                        "| {} | {describe} | {} | {} | | | |",
                        case.name,
                        server.name,
                        s.note.as_deref().unwrap_or("no result")
                    );
                    continue;
                }
                let ratio = |mine: Option<f64>, theirs: Option<f64>| match (mine, theirs) {
                    (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
                    _ => "-".to_owned(),
                };
                let cpu = s
                    .cpu_per_million
                    .map_or_else(|| "-".to_owned(), |c| format!("{c:.2}"));
                let _ = writeln!(
                    md,
                    "| {} | {describe} | {} | {}{} | {} | {cpu} | {} |",
                    case.name,
                    server.name,
                    thousands(s.median),
                    if s.low_cpu { " ⚠" } else { "" },
                    ratio(Some(s.median), base.map(|b| b.median)),
                    ratio(s.cpu_per_million, base.and_then(|b| b.cpu_per_million)),
                );
            }
        }
        md
    }

    /// The short form for the README (`transports-table.md`; empty without other
    /// transports): per case the HTTP/1.1 msg/s, each other transport's as a ratio to it, and
    /// the server CPU-s / M msgs of each, HTTP/1.1 first.
    pub(crate) fn transports_readme_table(&self, summaries: &[Summary]) -> String {
        if !self.has_transports() {
            return String::new();
        }
        let others: Vec<_> = self
            .servers
            .iter()
            .filter(|s| s.transport != Transport::H1)
            .collect();
        let find = |case: &Case, server: &str| {
            summaries
                .iter()
                .find(|s| s.case == *case && s.server.name == server && s.rounds > 0)
        };
        let cpu = |s: Option<&Summary>| {
            s.and_then(|s| s.cpu_per_million)
                .map_or_else(|| "-".to_owned(), |c| format!("{c:.2}"))
        };
        let mut md = format!(
            "Median of {} from `cargo xtask bench` on {}, {}{}; other transports as ratios of \
             the HTTP/1.1 msg/s. Server CPU-seconds per million messages, HTTP/1.1 first, then \
             the others in the same order.\n\n| case | HTTP/1.1 msg/s |",
            self.rounds_text(),
            self.machine.describe(),
            self.machine.date,
            if self.quick {
                " (a --quick smoke run, not results)"
            } else {
                ""
            },
        );
        for s in &others {
            let _ = write!(md, " {} |", s.transport.short());
        }
        md.push_str(" server CPU-s / M msgs |\n|---|--:|");
        for _ in &others {
            md.push_str("--:|");
        }
        md.push_str("--:|\n");
        for case in self.cases {
            let Some(base) = find(case, OURS) else {
                continue;
            };
            let _ = write!(md, "| {} | {} |", case.describe(), thousands(base.median));
            let mut cpus = vec![cpu(Some(base))];
            for s in &others {
                let mine = find(case, s.name);
                let ratio = mine.map_or_else(
                    || "-".to_owned(),
                    |m| format!("{:.2}x", m.median / base.median),
                );
                let _ = write!(md, " {ratio} |");
                cpus.push(cpu(mine));
            }
            let _ = writeln!(md, " {} |", cpus.join(" / "));
        }
        md
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::catalog::{CASES, SERVERS};
    use super::super::super::{Measure, Outcome, RunResult, Server};
    use super::super::machine::utc_date;
    use super::super::{Machine, summarize};
    use super::*;

    fn server(name: &str) -> Server {
        *SERVERS.iter().find(|s| s.name == name).unwrap()
    }

    /// A 5 s run at `rate` msg/s with the server busy `cpu` of a core.
    fn run(case: Case, server: Server, rate: f64, cpu: f64) -> RunResult {
        RunResult {
            case,
            server,
            round: 0,
            outcome: Outcome::Done(Measure {
                msgs_per_sec: rate,
                messages: rate * 5.0,
                window_s: 5.0,
                server_cpu_s: Some(cpu * 5.0),
                server_user_cpu_s: Some(cpu * 2.5),
                server_sys_cpu_s: Some(cpu * 2.5),
                loadgen_cpu_s: 5.0,
                p50_us: 100.0,
                p99_us: 200.0,
                p999_us: 300.0,
                samples: vec![rate; 5],
            }),
        }
    }

    #[test]
    fn ratios_to_http1() {
        let case = CASES[0];
        let servers = [
            server("sockudo"),
            server("tungstenite"),
            server("sockudo-wss"),
            server("sockudo-h2"),
            server("sockudo-h2-mux"),
        ];
        let runs = vec![
            run(case, servers[0], 200_000.0, 1.0),
            run(case, servers[1], 80_000.0, 1.0),
            run(case, servers[2], 100_000.0, 1.0),
            run(case, servers[3], 50_000.0, 1.0),
            RunResult {
                case,
                server: servers[4],
                round: 0,
                outcome: Outcome::Failed("boom".to_owned()),
            },
        ];
        let summaries = summarize(&[case], &servers, &runs);
        let machine = Machine {
            cpus: 2,
            model: "Test".to_owned(),
            kernel: "6.0".to_owned(),
            date: utc_date(0),
        };
        let report = Report {
            machine: &machine,
            versions: &[],
            settings: "test",
            quick: false,
            cases: &[case],
            servers: &servers,
            runs: &runs,
            memory: &[],
        };
        let table = report.transports_table(&summaries);
        assert!(
            table.contains("| 512B-x100 | HTTP/1.1 | sockudo | 200,000 | 1.00x | 5.00 | 1.00x |"),
            "{table}"
        );
        assert!(
            table.contains(
                "| 512B-x100 | HTTP/1.1 over TLS (wss) | sockudo-wss | 100,000 | 0.50x | 10.00 | \
                 2.00x |"
            ),
            "{table}"
        );
        assert!(
            table.contains(
                "| 512B-x100 | HTTP/2, 1 WebSocket per connection | sockudo-h2 | 50,000 | 0.25x | \
                 20.00 | 4.00x |"
            ),
            "{table}"
        );
        assert!(
            table.contains(
                "| HTTP/2, 10 WebSockets per connection | sockudo-h2-mux | failed: boom |"
            ),
            "{table}"
        );
        assert!(!table.contains("tungstenite"), "{table}");
        let short = report.transports_readme_table(&summaries);
        assert!(
            short.contains(
                "| case | HTTP/1.1 msg/s | wss | h2 | h2, 10 WebSockets / connection | \
                 server CPU-s / M msgs |"
            ),
            "{short}"
        );
        assert!(
            short.contains(
                "| 100 connections x 512 B binary | 200,000 | 0.50x | 0.25x | - | \
                 5.00 / 10.00 / 20.00 / - |"
            ),
            "{short}"
        );
        let md = report.markdown(&summaries);
        assert!(md.contains("## Transports"), "{md}");
        // The README's peers are the other crates only.
        let readme = report.readme_table(&summaries);
        assert!(
            readme.contains("| case | ours msg/s | tungstenite | server CPU-s / M msgs |"),
            "{readme}"
        );

        // Without other transports: no table, no section.
        let h1 = &servers[..2];
        let report = Report {
            servers: h1,
            ..report
        };
        let summaries = summarize(&[case], h1, &runs);
        assert_eq!(report.transports_table(&summaries), "");
        assert_eq!(report.transports_readme_table(&summaries), "");
        assert!(!report.markdown(&summaries).contains("## Transports"));
    }
}
