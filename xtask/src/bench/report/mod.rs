//! The benchmark report: per case and server the median messages per second over the rounds,
//! min-max, server CPU-seconds per million messages (split into user and system time) and the
//! ratio to ours, as a markdown table, a hand-written SVG bar chart, and the raw runs as JSON and
//! CSV.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::{Case, MIN_SERVER_CPU, Measure, Memory, OURS, Outcome, RunResult, Server};

mod json;
pub(super) mod readme;

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

/// The rounds of one case against one server, summarized.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Summary {
    pub(crate) case: Case,
    pub(crate) server: Server,
    /// Rounds that measured something.
    pub(crate) rounds: usize,
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
    /// Server CPU-seconds per million messages, user plus system (median over the rounds).
    pub(crate) cpu_per_million: Option<f64>,
    /// Of which in user space and in the kernel: the split of the median round (see
    /// [`median_split`]), so the two add up to `cpu_per_million`.
    pub(crate) user_cpu_per_million: Option<f64>,
    pub(crate) sys_cpu_per_million: Option<f64>,
    pub(crate) server_cpu: Option<f64>,
    pub(crate) loadgen_cpu: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) p999_us: f64,
    /// Some round had the server under [`MIN_SERVER_CPU`] of a core.
    pub(crate) low_cpu: bool,
    /// Median over ours (`None` when ours has no result for the case).
    pub(crate) ratio: Option<f64>,
    /// Why there is no number (skipped or failed), when `rounds` is 0.
    pub(crate) note: Option<String>,
}

pub(crate) fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The user and system CPU-seconds per million messages of the round whose total is the median
/// (the mean of the middle two for an even count), so that they add up to the median total,
/// which separate medians would not; `None` unless every round with a total has the split.
pub(crate) fn median_split(done: &[&Measure]) -> Option<(f64, f64)> {
    let mut runs = done
        .iter()
        .filter_map(|m| Some((m.cpu_per_million()?, m.cpu_split_per_million())))
        .map(|(total, split)| Some((total, split?)))
        .collect::<Option<Vec<(f64, (f64, f64))>>>()?;
    if runs.is_empty() {
        return None;
    }
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = runs.len();
    if n % 2 == 1 {
        Some(runs[n / 2].1)
    } else {
        let ((u1, s1), (u2, s2)) = (runs[n / 2 - 1].1, runs[n / 2].1);
        Some(((u1 + u2) / 2.0, (s1 + s2) / 2.0))
    }
}

pub(crate) fn summarize(cases: &[Case], servers: &[Server], runs: &[RunResult]) -> Vec<Summary> {
    let mut out = Vec::new();
    for case in cases {
        let mut ours_median = None;
        let first = out.len();
        for server in servers {
            let of_pair: Vec<&RunResult> = runs
                .iter()
                .filter(|r| r.case.name == case.name && r.server.name == server.name)
                .collect();
            let done: Vec<_> = of_pair
                .iter()
                .filter_map(|r| match &r.outcome {
                    Outcome::Done(m) => Some(m),
                    _ => None,
                })
                .collect();
            let note = of_pair.iter().find_map(|r| match &r.outcome {
                Outcome::Skipped(why) => Some(format!("skipped: {why}")),
                Outcome::Failed(why) => Some(format!(
                    "failed: {}",
                    why.lines().next().unwrap_or_default()
                )),
                Outcome::Done(_) => None,
            });
            let collect = |f: &dyn Fn(&Measure) -> Option<f64>| -> Option<f64> {
                let mut v: Vec<f64> = done.iter().filter_map(|m| f(m)).collect();
                (!v.is_empty()).then(|| median(&mut v))
            };
            let rates: Vec<f64> = done.iter().map(|m| m.msgs_per_sec).collect();
            let split = median_split(&done);
            let s = Summary {
                case: *case,
                server: *server,
                rounds: done.len(),
                median: collect(&|m| Some(m.msgs_per_sec)).unwrap_or(f64::NAN),
                min: rates.iter().copied().fold(f64::INFINITY, f64::min),
                max: rates.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                cpu_per_million: collect(&|m| m.cpu_per_million()),
                user_cpu_per_million: split.map(|(user, _)| user),
                sys_cpu_per_million: split.map(|(_, sys)| sys),
                server_cpu: collect(&|m| m.server_cpu()),
                loadgen_cpu: collect(&|m| Some(m.loadgen_cpu_s / m.window_s)).unwrap_or(f64::NAN),
                p50_us: collect(&|m| Some(m.p50_us)).unwrap_or(f64::NAN),
                p99_us: collect(&|m| Some(m.p99_us)).unwrap_or(f64::NAN),
                p999_us: collect(&|m| Some(m.p999_us)).unwrap_or(f64::NAN),
                low_cpu: done
                    .iter()
                    .any(|m| m.server_cpu().is_some_and(|c| c < MIN_SERVER_CPU)),
                ratio: None,
                note: if done.is_empty() { note } else { None },
            };
            if server.name == OURS && s.rounds > 0 {
                ours_median = Some(s.median);
            }
            out.push(s);
        }
        if let Some(ours) = ours_median {
            for s in &mut out[first..] {
                if s.rounds > 0 {
                    s.ratio = Some(s.median / ours);
                }
            }
        }
    }
    out
}

/// `1234567.8` as `1,234,568`.
pub(crate) fn thousands(v: f64) -> String {
    if !v.is_finite() {
        return "-".to_owned();
    }
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 && digits != "0" {
        out.insert(0, '-');
    }
    out
}

/// `123456.0` as `123.5k`, for chart labels.
fn short(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn latency(us: f64) -> String {
    if !us.is_finite() {
        "-".to_owned()
    } else if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

/// Server CPU-seconds per million messages: `7.26 (0.98 u + 6.28 s)`, or the total alone.
fn cpu_cell(s: &Summary) -> String {
    match (
        s.cpu_per_million,
        s.user_cpu_per_million,
        s.sys_cpu_per_million,
    ) {
        (Some(total), Some(user), Some(sys)) => format!("{total:.2} ({user:.2} u + {sys:.2} s)"),
        (Some(total), _, _) => format!("{total:.2}"),
        (None, _, _) => "-".to_owned(),
    }
}

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "-".to_owned(), |c| format!("{:.0}%", c * 100.0))
}

/// One progress line for a finished run.
pub(crate) fn outcome_line(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Done(m) => {
            let cpu = m.server_cpu();
            let mut line = format!(
                "{:>10} msg/s  server CPU {:>4}  generator CPU {:>4}",
                thousands(m.msgs_per_sec),
                percent(cpu),
                percent(Some(m.loadgen_cpu_s / m.window_s))
            );
            if m.p99_us > 0.0 {
                let _ = write!(line, "  p99 {}", latency(m.p99_us));
            }
            if cpu.is_some_and(|c| c < MIN_SERVER_CPU) {
                line.push_str("  (server under 95%)");
            }
            line
        }
        Outcome::Skipped(why) => format!("skipped: {why}"),
        Outcome::Failed(why) => format!("FAILED: {why}"),
    }
}

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
    /// Writes report.md, chart.svg, results.json, results.csv and memory.csv to `dir`; returns
    /// the markdown.
    pub(crate) fn write(&self, dir: &Path) -> Result<String, String> {
        let summaries = summarize(self.cases, self.servers, self.runs);
        let md = self.markdown(&summaries);
        let files = [
            ("report.md", md.clone()),
            ("readme-table.md", self.readme_table(&summaries)),
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

    fn markdown(&self, summaries: &[Summary]) -> String {
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

    /// The README's performance table: per case our median msg/s, each peer's as a ratio to
    /// ours, and the server CPU per million messages of ours and of each peer; then the
    /// memory per idle connection. `--update-readme` puts it between the README's markers.
    pub(crate) fn readme_table(&self, summaries: &[Summary]) -> String {
        let peers: Vec<&Server> = self.servers.iter().filter(|s| s.name != OURS).collect();
        let find = |case: &Case, server: &str| {
            summaries
                .iter()
                .find(|s| s.case == *case && s.server.name == server && s.rounds > 0)
        };
        let mut md = format!(
            "Median of {} from `cargo xtask bench` on {}, {}{}; peers as ratios of our msg/s. \
             Server CPU-seconds per million messages (user + system), ours first, then each \
             peer's in the same order.\n\n",
            self.rounds_text(),
            self.machine.describe(),
            self.machine.date,
            if self.quick {
                " (a --quick smoke run, not results)"
            } else {
                ""
            },
        );
        md.push_str("| case | ours msg/s |");
        for p in &peers {
            let _ = write!(md, " {} |", p.name);
        }
        md.push_str(" server CPU-s / M msgs |\n|---|--:|");
        for _ in &peers {
            md.push_str("--:|");
        }
        md.push_str("--:|\n");
        for case in self.cases {
            let Some(ours) = find(case, OURS) else {
                continue;
            };
            let _ = write!(md, "| {} | {} |", case.describe(), thousands(ours.median));
            let mut cpu = vec![cpu_cell(ours)];
            for p in &peers {
                match find(case, p.name) {
                    Some(s) => {
                        let ratio = s
                            .ratio
                            .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}x"));
                        let _ = write!(md, " {ratio} |");
                        cpu.push(
                            s.cpu_per_million
                                .map_or_else(|| "-".to_owned(), |c| format!("{c:.2}")),
                        );
                    }
                    None => {
                        md.push_str(" n/a |");
                        cpu.push("n/a".to_owned());
                    }
                }
            }
            let _ = writeln!(md, " {} |", cpu.join(" / "));
        }
        let memory: Vec<String> = self
            .memory
            .iter()
            .filter_map(|(s, m)| {
                m.as_ref()
                    .ok()
                    .map(|m| format!("{} {:.1} KiB", s.name, m.bytes_per_connection / 1024.0))
            })
            .collect();
        if !memory.is_empty() {
            let n = self
                .memory
                .iter()
                .find_map(|(_, m)| m.as_ref().ok().map(|m| m.connections))
                .unwrap_or(0);
            let _ = writeln!(
                md,
                "\nResident memory per idle connection with {} open: {}.",
                thousands(n as f64),
                memory.join(", ")
            );
        }
        md
    }

    /// "3 rounds" (the most any case had).
    fn rounds_text(&self) -> String {
        let rounds = self.runs.iter().map(|r| r.round + 1).max().unwrap_or(0);
        format!("{rounds} round{}", if rounds == 1 { "" } else { "s" })
    }

    fn svg(&self, summaries: &[Summary]) -> String {
        const COLORS: [&str; 5] = ["#d9480f", "#1c7ed6", "#37b24d", "#7048e8", "#868e96"];
        const PANEL_W: f64 = 250.0;
        const PANEL_H: f64 = 210.0;
        const COLS: usize = 4;
        const TOP: f64 = 78.0;
        let rows = self.cases.len().div_ceil(COLS).max(1);
        let width = PANEL_W * COLS as f64 + 20.0;
        let height = TOP + PANEL_H * rows as f64 + 10.0;
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
             viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">sockudo-ws echo \
             benchmark: messages per second (median; whiskers min-max){}</text>\n\
             <text x=\"10\" y=\"37\" fill=\"#555\">{} - {} - {}</text>\n",
            if self.quick {
                " - SMOKE RUN, not results"
            } else {
                ""
            },
            esc(&self.machine.date),
            esc(&self.machine.describe()),
            esc(self.settings)
        );
        let mut x = 10.0;
        for (i, s) in self.servers.iter().enumerate() {
            let _ = writeln!(
                svg,
                "<rect x=\"{x}\" y=\"48\" width=\"12\" height=\"12\" fill=\"{}\"/>\
                 <text x=\"{}\" y=\"58\">{}</text>",
                COLORS[i % COLORS.len()],
                x + 16.0,
                esc(s.name)
            );
            x += 30.0 + 7.0 * s.name.len() as f64;
        }
        for (ci, case) in self.cases.iter().enumerate() {
            let px = 10.0 + (ci % COLS) as f64 * PANEL_W;
            let py = TOP + (ci / COLS) as f64 * PANEL_H;
            let (plot_top, plot_bottom) = (py + 38.0, py + PANEL_H - 22.0);
            let in_case: Vec<&Summary> = summaries
                .iter()
                .filter(|s| s.case.name == case.name)
                .collect();
            let top = in_case
                .iter()
                .filter(|s| s.rounds > 0)
                .map(|s| s.max)
                .fold(0.0, f64::max);
            let _ = write!(
                svg,
                "<rect x=\"{px}\" y=\"{py}\" width=\"{}\" height=\"{}\" fill=\"none\" \
                 stroke=\"#ddd\"/>\n<text x=\"{}\" y=\"{}\" font-weight=\"bold\">{}</text>\n\
                 <line x1=\"{}\" y1=\"{plot_bottom}\" x2=\"{}\" y2=\"{plot_bottom}\" \
                 stroke=\"#888\"/>\n",
                PANEL_W - 10.0,
                PANEL_H - 10.0,
                px + 8.0,
                py + 16.0,
                esc(case.name),
                px + 8.0,
                px + PANEL_W - 18.0
            );
            let slot = (PANEL_W - 30.0) / self.servers.len().max(1) as f64;
            let scale = |v: f64| {
                if top > 0.0 {
                    (plot_bottom - plot_top) * v / top
                } else {
                    0.0
                }
            };
            for (si, server) in self.servers.iter().enumerate() {
                let bx = px + 12.0 + si as f64 * slot;
                let cx = bx + slot * 0.4;
                let Some(s) = in_case.iter().find(|s| s.server.name == server.name) else {
                    continue;
                };
                if s.rounds == 0 {
                    let _ = writeln!(
                        svg,
                        "<text x=\"{cx}\" y=\"{}\" text-anchor=\"middle\" fill=\"#999\">n/a</text>",
                        plot_bottom - 4.0
                    );
                    continue;
                }
                let h = scale(s.median);
                let _ = write!(
                    svg,
                    "<rect x=\"{bx:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" \
                     fill=\"{}\"><title>{}: {} msg/s (min {}, max {})</title></rect>\n\
                     <line x1=\"{cx:.1}\" y1=\"{:.1}\" x2=\"{cx:.1}\" y2=\"{:.1}\" \
                     stroke=\"#222\"/>\n\
                     <text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" \
                     font-size=\"10\">{}</text>\n",
                    plot_bottom - h,
                    slot * 0.8,
                    COLORS[si % COLORS.len()],
                    esc(server.name),
                    thousands(s.median),
                    thousands(s.min),
                    thousands(s.max),
                    plot_bottom - scale(s.min),
                    plot_bottom - scale(s.max),
                    plot_bottom - scale(s.max) - 4.0,
                    short(s.median)
                );
                if let Some(r) = s.ratio.filter(|_| server.name != OURS) {
                    let _ = writeln!(
                        svg,
                        "<text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" \
                         font-size=\"10\" fill=\"#555\">{r:.2}x</text>",
                        plot_bottom + 13.0
                    );
                }
            }
        }
        svg.push_str("</svg>\n");
        svg
    }

    fn csv(&self) -> String {
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

    fn memory_csv(&self) -> String {
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

#[cfg(test)]
mod tests {
    use super::super::catalog::{CASES, SERVERS};
    use super::*;

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
    fn numbers() {
        assert_eq!(thousands(1_234_567.8), "1,234,568");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(f64::NAN), "-");
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(short(123_456.0), "123.5k");
        assert_eq!(utc_date(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_date(1_709_210_096), "2024-02-29 12:34 UTC");
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

    #[test]
    fn split_of_the_median_round() {
        let run = |messages: f64, user: f64, sys: f64| Measure {
            msgs_per_sec: messages,
            messages,
            window_s: 1.0,
            server_cpu_s: Some(user + sys),
            server_user_cpu_s: Some(user),
            server_sys_cpu_s: Some(sys),
            loadgen_cpu_s: 0.5,
            p50_us: 0.0,
            p99_us: 0.0,
            p999_us: 0.0,
            samples: Vec::new(),
        };
        // Per million: totals 10 (1 + 9), 8 (4 + 4), 12 (2 + 10). The median total is 10; the
        // medians of user (2) and of system (9) alone would add up to 11.
        let (a, b, c) = (run(1e5, 0.1, 0.9), run(1e5, 0.4, 0.4), run(1e5, 0.2, 1.0));
        let (user, sys) = median_split(&[&a, &b, &c]).unwrap();
        assert!((user - 1.0).abs() < 1e-9 && (sys - 9.0).abs() < 1e-9);
        // Even count: the mean of the middle two (10 and 12 of 8, 10, 12, 15).
        let d = run(1e5, 0.5, 1.0);
        let (user, sys) = median_split(&[&d, &a, &b, &c]).unwrap();
        assert!((user - 1.5).abs() < 1e-9 && (sys - 9.5).abs() < 1e-9);
        // A round without the split (an older generator): no split at all.
        let old = Measure {
            server_user_cpu_s: None,
            server_sys_cpu_s: None,
            ..run(1e5, 0.1, 0.9)
        };
        assert_eq!(median_split(&[&a, &old]), None);
        assert_eq!(median_split(&[]), None);
        let no_pid = Measure {
            server_cpu_s: None,
            ..old
        };
        assert_eq!(median_split(&[&no_pid]), None);
    }
}
