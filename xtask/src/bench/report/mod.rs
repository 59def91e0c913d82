//! The benchmark report: per case and server the median messages per second over the rounds,
//! min-max, server CPU-seconds per million messages (split into user and system time) and the
//! ratio to ours, as a markdown table, a hand-written SVG bar chart, and the raw runs as JSON and
//! CSV.
//!
//! [`stats`] computes the summaries; [`markdown`], [`readme`], [`svg`], [`json`] and [`csv`]
//! each render one output from them; [`format`](mod@format) is how numbers read; [`machine`]
//! tells what the numbers were measured on.

use std::fs;
use std::path::Path;

use super::{Case, Memory, RunResult, Server};

mod csv;
mod format;
mod json;
mod machine;
mod markdown;
pub(super) mod readme;
mod stats;
mod svg;
mod transports;

pub(crate) use format::{outcome_line, thousands};
pub(crate) use machine::{Machine, versions};
use stats::{Summary, summarize};

/// Everything a report shows.
pub(crate) struct Report<'a> {
    pub(crate) machine: &'a Machine,
    pub(crate) versions: &'a [(String, String)],
    pub(crate) settings: &'a str,
    pub(crate) quick: bool,
    pub(crate) cases: &'a [Case],
    pub(crate) servers: &'a [Server],
    pub(crate) runs: &'a [RunResult],
    pub(crate) memory: &'a [(Server, Result<Memory, String>)],
}

impl Report<'_> {
    /// Writes report.md, readme-table.md, transports-table.md (empty without other transports),
    /// chart.svg, results.json, results.csv and memory.csv to `dir`; returns the markdown.
    pub(crate) fn write(&self, dir: &Path) -> Result<String, String> {
        let summaries = summarize(self.cases, self.servers, self.runs);
        let md = self.markdown(&summaries);
        let files = [
            ("report.md", md.clone()),
            ("readme-table.md", self.readme_table(&summaries)),
            (
                "transports-table.md",
                self.transports_readme_table(&summaries),
            ),
            ("chart.svg", self.svg(&summaries)),
            ("results.json", json::render(self, &summaries)),
            ("results.csv", self.csv()),
            ("memory.csv", self.memory_csv()),
        ];
        for (name, text) in files {
            let path = dir.join(name);
            fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        Ok(md)
    }
}

#[cfg(test)]
mod tests {
    use super::super::catalog::{CASES, SERVERS};
    use super::*;
    use crate::bench::Measure;
    use crate::bench::Outcome;
    use machine::utc_date;

    /// A run of 5 s at `rate` with the server at `cpu` of a core, a quarter of it in user space.
    fn measure(rate: f64, cpu: f64) -> Outcome {
        Outcome::Done(Measure {
            msgs_per_sec: rate,
            messages: rate * 5.0,
            window_s: 5.0,
            server_cpu_s: Some(cpu * 5.0),
            server_user_cpu_s: Some(cpu * 5.0 * 0.25),
            server_sys_cpu_s: Some(cpu * 5.0 * 0.75),
            loadgen_cpu_s: 3.0,
            p50_us: 100.0,
            p99_us: 200.0,
            p999_us: 300.0,
            samples: vec![rate; 5],
        })
    }

    #[test]
    fn summaries_and_outputs() {
        let (c, deflate) = (CASES[0], CASES[CASES.len() - 1]);
        let (ours, peer) = (SERVERS[0], SERVERS[1]);
        let mut runs = Vec::new();
        for (round, (a, b)) in [(100.0, 50.0), (120.0, 70.0), (110.0, 60.0)]
            .into_iter()
            .enumerate()
        {
            runs.push(RunResult {
                case: c,
                server: ours,
                round,
                outcome: measure(a * 1000.0, 1.0),
            });
            runs.push(RunResult {
                case: c,
                server: peer,
                round,
                outcome: measure(b * 1000.0, if round == 1 { 0.5 } else { 1.0 }),
            });
        }
        runs.push(RunResult {
            case: deflate,
            server: peer,
            round: 0,
            outcome: Outcome::Skipped("no deflate".to_owned()),
        });
        runs.push(RunResult {
            case: deflate,
            server: ours,
            round: 0,
            outcome: Outcome::Failed("boom\nmore".to_owned()),
        });
        let s = summarize(&[c, deflate], &[ours, peer], &runs);
        assert_eq!(s.len(), 4);
        assert_eq!(
            (s[0].median, s[0].min, s[0].max),
            (110_000.0, 100_000.0, 120_000.0)
        );
        assert_eq!(s[0].ratio, Some(1.0));
        assert!(!s[0].low_cpu && s[1].low_cpu);
        assert!((s[1].ratio.unwrap() - 60.0 / 110.0).abs() < 1e-9);
        assert!((s[0].cpu_per_million.unwrap() - 1e6 / 110_000.0).abs() < 1e-9);
        for s in &s[..2] {
            let total = s.cpu_per_million.unwrap();
            let (user, sys) = (
                s.user_cpu_per_million.unwrap(),
                s.sys_cpu_per_million.unwrap(),
            );
            assert!((user - total * 0.25).abs() < 1e-9, "{s:?}");
            assert!((user + sys - total).abs() < 1e-9, "{s:?}");
        }
        assert_eq!(s[2].user_cpu_per_million, None);
        assert_eq!(s[2].note.as_deref(), Some("failed: boom"));
        assert_eq!(s[3].note.as_deref(), Some("skipped: no deflate"));

        let machine = Machine {
            cpus: 2,
            model: "Test <CPU>".to_owned(),
            kernel: "6.0".to_owned(),
            date: utc_date(0),
        };
        let memory = vec![(
            ours,
            Ok(Memory {
                connections: 10_000,
                before_kib: 2048.0,
                after_kib: 12_288.0,
                bytes_per_connection: 1048.6,
                connect_s: 1.0,
            }),
        )];
        let report = Report {
            machine: &machine,
            versions: &[("tokio".to_owned(), "1".to_owned())],
            settings: "test",
            quick: true,
            cases: &[c, deflate],
            servers: &[ours, peer],
            runs: &runs,
            memory: &memory,
        };
        let md = report.markdown(&s);
        assert!(md.contains(
            "| 512B-x100 | sockudo | 110,000 | 100,000 - 120,000 | 1.00x | \
             9.09 (2.27 u + 6.82 s) | 100% |"
        ));
        assert!(md.contains("| server CPU-s / M msgs (user + sys) |"));
        assert!(md.contains("loopback"), "{md}");
        assert!(
            md.contains("| 512B-x100 | tungstenite | 60,000 ⚠ |"),
            "{md}"
        );
        assert!(md.contains("Smoke run"));
        assert!(md.contains("| sockudo | 10,000 | 2.0 MiB | 12.0 MiB | 1.0 KiB |"));
        let readme = report.readme_table(&s);
        assert!(
            readme.contains("| case | ours msg/s | tungstenite | server CPU-s / M msgs |"),
            "{readme}"
        );
        assert!(
            readme.contains(
                "| 100 connections x 512 B binary | 110,000 | 0.55x | 9.09 (2.27 u + 6.82 s) / "
            ),
            "{readme}"
        );
        assert!(readme.contains("a --quick smoke run"), "{readme}");
        assert!(
            readme.contains("with 10,000 open: sockudo 1.0 KiB."),
            "{readme}"
        );
        let svg = report.svg(&s);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("Test &lt;CPU&gt;") && svg.contains("0.55x"));
        let text = json::render(&report, &s);
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        let run = &parsed["runs"][0];
        assert_eq!(run["server_user_cpu_s"].as_f64(), Some(1.25));
        assert_eq!(run["server_sys_cpu_s"].as_f64(), Some(3.75));
        assert_eq!(parsed["runs"][7]["reason"], "boom\nmore");
        assert_eq!(
            parsed["memory"][0]["rss_after_kib"].as_f64(),
            Some(12_288.0)
        );
        // The layout: one line per member, run, summary and memory entry; three decimals.
        assert!(
            text.starts_with(
                "{\n  \"date\": \"1970-01-01 00:00 UTC\",\n  \"machine\": {\"cpus\": 2, \
                 \"model\": \"Test <CPU>\", \"kernel\": \"6.0\"},\n  \"settings\": \"test\",\n  \
                 \"quick\": true,\n  \"versions\": {\"tokio\": \"1\"},\n  \"runs\": [\n    \
                 {\"case\": \"512B-x100\", \"server\": \"sockudo\", \"round\": 1, \"status\": \"ok\", \
                 \"msgs_per_sec\": 100000.000, \"messages\": 500000.000, \"window_s\": 5.000, \
                 \"server_cpu_s\": 5.000, \"server_user_cpu_s\": 1.250, \"server_sys_cpu_s\": 3.750, \
                 \"loadgen_cpu_s\": 3.000, \"p50_us\": 100.000, \"p99_us\": 200.000, \
                 \"p999_us\": 300.000, \"samples\": [100000.000, 100000.000, 100000.000, \
                 100000.000, 100000.000]},\n    {"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "\n    {\"case\": \"1KiB-json-deflate-x100\", \"server\": \"tungstenite\", \
                 \"round\": 1, \"status\": \"skipped\", \"reason\": \"no deflate\"},\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "\"p999_us\": null, \"server_under_95\": false, \"note\": \"skipped: no deflate\"}\n  \
                 ],\n  \"memory\": [\n    {\"server\": \"sockudo\", \"connections\": 10000, \
                 \"rss_before_kib\": 2048.000, \"rss_after_kib\": 12288.000, \
                 \"bytes_per_connection\": 1048.600, \"connect_s\": 1.000}\n  ]\n}\n"
            ),
            "{text}"
        );
        let sum = &parsed["summary"][0];
        let per_m = |k: &str| sum[k].as_f64().unwrap();
        assert!(
            (per_m("server_user_cpu_s_per_million") + per_m("server_sys_cpu_s_per_million")
                - per_m("server_cpu_s_per_million"))
            .abs()
                < 0.002
        );
        let csv = report.csv();
        assert_eq!(csv.lines().count(), 1 + runs.len());
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        for line in csv.lines() {
            assert_eq!(line.split(',').count(), header.len(), "{line}");
        }
        assert!(csv.contains("failed,,,,,,,,,,,\"boom more\""));
        assert!(csv.contains(",5.000,1.250,3.750,3.000,"), "{csv}");
    }
}
