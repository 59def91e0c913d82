//! The statistics of the report: per case and server the median over the rounds, min-max, the
//! server CPU per million messages (user and system time of the median round) and the ratio to
//! ours.

use super::super::{Case, MIN_SERVER_CPU, Measure, OURS, Outcome, RunResult, Server};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&mut []).is_nan());
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
