//! How numbers read in the report and the progress lines: `1,234,568`, `123.5k`, `1.25 ms`,
//! `7.26 (0.98 u + 6.28 s)`, `98%`.

use std::fmt::Write as _;

use super::super::{MIN_SERVER_CPU, Outcome};
use super::Summary;

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
pub(super) fn short(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

pub(super) fn latency(us: f64) -> String {
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
pub(super) fn cpu_cell(s: &Summary) -> String {
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

pub(super) fn percent(share: Option<f64>) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(thousands(1_234_567.8), "1,234,568");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(f64::NAN), "-");
        assert_eq!(short(123_456.0), "123.5k");
        assert_eq!(latency(1500.0), "1.50 ms");
        assert_eq!(percent(Some(0.984)), "98%");
    }
}
