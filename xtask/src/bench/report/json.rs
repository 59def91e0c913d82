//! `results.json`: the settings, every run, the summaries and the memory test, for tools.
//!
//! The model is declared with serde; [`Layout`] keeps the file readable in a diff: one line per
//! run, summary and memory entry, and every number with three decimals (`null` when not finite).

use std::io;

use serde::{Serialize, Serializer};
use serde_json::ser::Formatter;

use super::super::{Measure, Memory, Outcome, Server};
use super::{Machine, Report, Summary};

/// The whole file.
#[derive(Serialize)]
struct Results<'a> {
    date: &'a str,
    machine: &'a Machine,
    settings: &'a str,
    quick: bool,
    #[serde(serialize_with = "ordered_map")]
    versions: &'a [(String, String)],
    runs: Vec<Run<'a>>,
    summary: Vec<SummaryEntry<'a>>,
    memory: Vec<MemoryEntry<'a>>,
}

/// One run of one case against one server.
#[derive(Serialize)]
struct Run<'a> {
    case: &'a str,
    server: &'a str,
    /// From 1.
    round: usize,
    #[serde(flatten)]
    status: Status<'a>,
}

/// How a run ended: `"status": "ok"` and the measure, or `"skipped"`/`"failed"` and why.
#[derive(Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
enum Status<'a> {
    Ok(&'a Measure),
    Skipped { reason: &'a str },
    Failed { reason: &'a str },
}

/// The rounds of one case against one server ([`Summary`]).
#[derive(Serialize)]
struct SummaryEntry<'a> {
    case: &'a str,
    server: &'a str,
    rounds: usize,
    median: f64,
    min: f64,
    max: f64,
    ratio_to_ours: Option<f64>,
    server_cpu_s_per_million: Option<f64>,
    server_user_cpu_s_per_million: Option<f64>,
    server_sys_cpu_s_per_million: Option<f64>,
    server_cpu: Option<f64>,
    loadgen_cpu: f64,
    p50_us: f64,
    p99_us: f64,
    p999_us: f64,
    server_under_95: bool,
    note: Option<&'a str>,
}

/// The memory test of one server, or why it failed.
#[derive(Serialize)]
#[serde(untagged)]
enum MemoryEntry<'a> {
    Done {
        server: &'a str,
        #[serde(flatten)]
        memory: &'a Memory,
    },
    Failed {
        server: &'a str,
        error: &'a str,
    },
}

/// `[(name, version)]` as a JSON object in that order.
fn ordered_map<S: Serializer>(pairs: &&[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

impl<'a> From<&'a Summary> for SummaryEntry<'a> {
    fn from(s: &'a Summary) -> Self {
        SummaryEntry {
            case: s.case.name,
            server: s.server.name,
            rounds: s.rounds,
            median: s.median,
            min: s.min,
            max: s.max,
            ratio_to_ours: s.ratio,
            server_cpu_s_per_million: s.cpu_per_million,
            server_user_cpu_s_per_million: s.user_cpu_per_million,
            server_sys_cpu_s_per_million: s.sys_cpu_per_million,
            server_cpu: s.server_cpu,
            loadgen_cpu: s.loadgen_cpu,
            p50_us: s.p50_us,
            p99_us: s.p99_us,
            p999_us: s.p999_us,
            server_under_95: s.low_cpu,
            note: s.note.as_deref(),
        }
    }
}

impl<'a> MemoryEntry<'a> {
    fn new(server: &'a Server, memory: &'a Result<Memory, String>) -> Self {
        match memory {
            Ok(memory) => MemoryEntry::Done {
                server: server.name,
                memory,
            },
            Err(error) => MemoryEntry::Failed {
                server: server.name,
                error,
            },
        }
    }
}

/// The text of `results.json`.
pub(super) fn render(report: &Report<'_>, summaries: &[Summary]) -> String {
    let results = Results {
        date: &report.machine.date,
        machine: report.machine,
        settings: report.settings,
        quick: report.quick,
        versions: report.versions,
        runs: report
            .runs
            .iter()
            .map(|r| Run {
                case: r.case.name,
                server: r.server.name,
                round: r.round + 1,
                status: match &r.outcome {
                    Outcome::Done(m) => Status::Ok(m),
                    Outcome::Skipped(why) => Status::Skipped { reason: why },
                    Outcome::Failed(why) => Status::Failed { reason: why },
                },
            })
            .collect(),
        summary: summaries.iter().map(SummaryEntry::from).collect(),
        memory: report
            .memory
            .iter()
            .map(|(s, m)| MemoryEntry::new(s, m))
            .collect(),
    };
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Layout::default());
    results.serialize(&mut ser).expect("results serialize");
    let mut text = String::from_utf8(out).expect("serde_json writes UTF-8");
    text.push('\n');
    text
}

/// The layout of `results.json`: the top-level object one member a line, the arrays in it one
/// element a line, everything deeper on that line (`{"a": 1, "b": [2.000]}`); floats with
/// three decimals.
#[derive(Default)]
struct Layout {
    /// How many objects and arrays are open.
    depth: usize,
}

impl Formatter for Layout {
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth -= 1;
        w.write_all(if self.depth == 0 { b"\n}" } else { b"}" })
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        match (self.depth, first) {
            (1, true) => w.write_all(b"\n  "),
            (1, false) => w.write_all(b",\n  "),
            (_, true) => Ok(()),
            (_, false) => w.write_all(b", "),
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth -= 1;
        w.write_all(if self.depth == 1 { b"\n  ]" } else { b"]" })
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        match (self.depth, first) {
            (2, true) => w.write_all(b"\n    "),
            (2, false) => w.write_all(b",\n    "),
            (_, true) => Ok(()),
            (_, false) => w.write_all(b", "),
        }
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        // serde_json writes `null` for what is not finite without asking the formatter.
        write!(w, "{value:.3}")
    }
}
