//! Reading Autobahn's `index.json` and deciding whether a run passed.
//!
//! `index.json` is `{agent: {case_id: {"behavior", "behaviorClose", "duration" (ms),
//! "reportfile", ...}}}`. Each case gets one [`Outcome`]: the worse of its `behavior` and its
//! `behaviorClose`. A run passes when every case is OK or INFORMATIONAL, except that
//! UNIMPLEMENTED passes in the sections the caller allows, and when the report holds every case
//! that was selected.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

use super::cases;

/// Case durations above this (ms) are bogus and count as 0.
const MAX_CASE_MS: f64 = 3_600_000.0;

/// "1 case", "2 cases".
pub(crate) fn n_cases(n: usize) -> String {
    format!("{n} case{}", if n == 1 { "" } else { "s" })
}

/// How a case went, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Outcome {
    Ok,
    Informational,
    Unimplemented,
    NonStrict,
    /// FAILED, and the other verdicts Autobahn can give (WRONG CODE, UNCLEAN, FAILED BY CLIENT,
    /// NO_CLOSE) or anything unknown.
    Failed,
}

impl Outcome {
    fn parse(behavior: &str) -> Outcome {
        match behavior {
            "OK" => Outcome::Ok,
            "INFORMATIONAL" => Outcome::Informational,
            "UNIMPLEMENTED" => Outcome::Unimplemented,
            "NON-STRICT" => Outcome::NonStrict,
            _ => Outcome::Failed,
        }
    }
}

/// One case of the report.
#[derive(Debug, Clone)]
pub(crate) struct CaseResult {
    pub(crate) id: String,
    pub(crate) behavior: String,
    pub(crate) behavior_close: String,
    pub(crate) duration_ms: f64,
    pub(crate) report_file: String,
    pub(crate) outcome: Outcome,
}

/// One case as `index.json` records it; absent or `null` strings read as empty (a verdict
/// that is not known fails), an absent duration as 0.
#[derive(Debug, Deserialize)]
struct IndexEntry {
    behavior: Option<String>,
    #[serde(rename = "behaviorClose")]
    behavior_close: Option<String>,
    duration: Option<f64>,
    reportfile: Option<String>,
}

/// The cases of one agent in an `index.json`, sorted by case id.
pub(crate) fn parse_index(text: &str, agent: &str) -> Result<Vec<CaseResult>, String> {
    let mut index: BTreeMap<String, BTreeMap<String, IndexEntry>> =
        serde_json::from_str(text).map_err(|e| format!("not an Autobahn index.json: {e}"))?;
    let Some(results) = index.remove(agent) else {
        let found: Vec<&str> = index.keys().map(String::as_str).collect();
        return Err(format!(
            "agent '{agent}' is not in index.json (agents found: {})",
            if found.is_empty() {
                "none".to_owned()
            } else {
                found.join(", ")
            }
        ));
    };
    let mut list: Vec<CaseResult> = results
        .into_iter()
        .map(|(id, case)| {
            let behavior = case.behavior.unwrap_or_default();
            let behavior_close = case.behavior_close.unwrap_or_default();
            CaseResult {
                outcome: Outcome::parse(&behavior).max(Outcome::parse(&behavior_close)),
                id,
                // Autobahn writes a timestamp as the duration of a case whose connection failed.
                duration_ms: case
                    .duration
                    .filter(|d| (0.0..=MAX_CASE_MS).contains(d))
                    .unwrap_or(0.0),
                report_file: case.reportfile.unwrap_or_default(),
                behavior,
                behavior_close,
            }
        })
        .collect();
    list.sort_by(|a, b| cases::compare_ids(&a.id, &b.id));
    Ok(list)
}

/// Case counts of one section.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct SectionStats {
    pub(crate) ok: usize,
    pub(crate) non_strict: usize,
    pub(crate) informational: usize,
    pub(crate) unimplemented: usize,
    pub(crate) failed: usize,
    pub(crate) duration_ms: f64,
}

impl SectionStats {
    fn add(&mut self, case: &CaseResult) {
        *match case.outcome {
            Outcome::Ok => &mut self.ok,
            Outcome::Informational => &mut self.informational,
            Outcome::Unimplemented => &mut self.unimplemented,
            Outcome::NonStrict => &mut self.non_strict,
            Outcome::Failed => &mut self.failed,
        } += 1;
        self.duration_ms += case.duration_ms;
    }

    fn total(&self) -> usize {
        self.ok + self.non_strict + self.informational + self.unimplemented + self.failed
    }
}

/// The verdict on a report.
#[derive(Debug)]
pub(crate) struct Evaluation {
    pub(crate) sections: BTreeMap<u32, SectionStats>,
    /// Cases that are neither OK nor INFORMATIONAL, and not allowed UNIMPLEMENTED.
    pub(crate) failing: Vec<CaseResult>,
    /// UNIMPLEMENTED cases in allowed sections: section -> count.
    pub(crate) allowed_unimplemented: BTreeMap<u32, usize>,
    /// Selected cases that the report lacks.
    pub(crate) missing: Vec<&'static str>,
    /// Cases in the report that were not selected (not an error).
    pub(crate) unexpected: Vec<String>,
    /// Why the run fails; empty when it passes.
    pub(crate) problems: Vec<String>,
}

impl Evaluation {
    pub(crate) fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Judges `results` against the `expected` case ids, allowing UNIMPLEMENTED in `allow`.
pub(crate) fn evaluate(
    results: &[CaseResult],
    expected: &[&'static str],
    allow: &BTreeSet<u32>,
) -> Evaluation {
    let mut eval = Evaluation {
        sections: BTreeMap::new(),
        failing: Vec::new(),
        allowed_unimplemented: BTreeMap::new(),
        missing: Vec::new(),
        unexpected: Vec::new(),
        problems: Vec::new(),
    };
    for case in results {
        let section = cases::section(&case.id);
        eval.sections.entry(section).or_default().add(case);
        match case.outcome {
            Outcome::Ok | Outcome::Informational => {}
            Outcome::Unimplemented if allow.contains(&section) => {
                *eval.allowed_unimplemented.entry(section).or_default() += 1;
            }
            _ => eval.failing.push(case.clone()),
        }
    }
    let present: BTreeSet<&str> = results.iter().map(|c| c.id.as_str()).collect();
    eval.missing = expected
        .iter()
        .copied()
        .filter(|id| !present.contains(id))
        .collect();
    let wanted: BTreeSet<&str> = expected.iter().copied().collect();
    eval.unexpected = results
        .iter()
        .filter(|c| !wanted.contains(c.id.as_str()))
        .map(|c| c.id.clone())
        .collect();

    if results.is_empty() {
        eval.problems.push("the report has no cases".to_owned());
    }
    if !eval.missing.is_empty() {
        eval.problems.push(format!(
            "{} of {} selected are missing from the report ({})",
            eval.missing.len(),
            n_cases(expected.len()),
            abbreviate(&eval.missing)
        ));
    }
    if !eval.failing.is_empty() {
        let ids: Vec<&str> = eval.failing.iter().map(|c| c.id.as_str()).collect();
        eval.problems.push(format!(
            "{} failed ({})",
            n_cases(ids.len()),
            abbreviate(&ids)
        ));
    }
    eval
}

/// The first few ids of a list, and how many more there are.
fn abbreviate(ids: &[&str]) -> String {
    const SHOWN: usize = 8;
    let mut text = ids
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        let _ = write!(text, ", ... {} more", ids.len() - SHOWN);
    }
    text
}

/// The per-section table, the failing cases (with their report files under `outdir`) and
/// the verdict, as printed after a run.
pub(crate) fn render(eval: &Evaluation, outdir: &Path) -> String {
    let mut out = String::new();
    let row = |out: &mut String, name: &str, s: &SectionStats| {
        let _ = writeln!(
            out,
            "  {name:>7} {:>6} {:>6} {:>10} {:>6} {:>6} {:>6} {:>9.1}s",
            s.total(),
            s.ok,
            s.non_strict,
            s.informational,
            s.unimplemented,
            s.failed,
            s.duration_ms / 1000.0
        );
    };
    let _ = writeln!(
        out,
        "  {:>7} {:>6} {:>6} {:>10} {:>6} {:>6} {:>6} {:>10}",
        "section", "cases", "OK", "NON-STRICT", "INFO", "UNIMPL", "FAILED", "duration"
    );
    let mut total = SectionStats::default();
    for (section, stats) in &eval.sections {
        row(&mut out, &section.to_string(), stats);
        total.ok += stats.ok;
        total.non_strict += stats.non_strict;
        total.informational += stats.informational;
        total.unimplemented += stats.unimplemented;
        total.failed += stats.failed;
        total.duration_ms += stats.duration_ms;
    }
    row(&mut out, "total", &total);
    let _ = writeln!(
        out,
        "  (each case counts under the worse of its behavior and behaviorClose; \
         durations are Autobahn's per-case times)"
    );

    if !eval.failing.is_empty() {
        let _ = writeln!(out, "\n  Failing cases (not OK/INFORMATIONAL):");
        let width = eval.failing.iter().map(|c| c.id.len()).max().unwrap_or(0);
        for case in &eval.failing {
            let _ = writeln!(
                out,
                "    {:<width$}  behavior={:<13} behaviorClose={:<13} {}",
                case.id,
                case.behavior,
                case.behavior_close,
                outdir.join(&case.report_file).display()
            );
        }
    }
    for (section, n) in &eval.allowed_unimplemented {
        let _ = writeln!(
            out,
            "  note: {} in section {section} are UNIMPLEMENTED, allowed by --allow-unimplemented",
            n_cases(*n)
        );
    }
    if !eval.unexpected.is_empty() {
        let ids: Vec<&str> = eval.unexpected.iter().map(String::as_str).collect();
        let _ = writeln!(
            out,
            "  note: {} in the report were not selected: {}",
            n_cases(ids.len()),
            abbreviate(&ids)
        );
    }
    for problem in &eval.problems {
        let _ = writeln!(out, "  FAIL: {problem}");
    }
    out
}

/// Parses a section list such as `12,13`; an empty string is the empty set.
pub(crate) fn parse_sections(list: &str) -> Result<BTreeSet<u32>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<u32>()
                .ok()
                .filter(|n| (1..=13).contains(n))
                .ok_or_else(|| format!("'{s}' is not an Autobahn section number (1-13)"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sections 1 and 12 with OK, NON-STRICT, INFORMATIONAL and UNIMPLEMENTED cases.
    const SAMPLE: &str = r#"{
  "other-agent": {"1.1.1": {"behavior": "FAILED", "behaviorClose": "FAILED"}},
  "sockudo-ws": {
    "1.1.2": {"behavior": "OK", "behaviorClose": "OK", "duration": 3,
              "remoteCloseCode": 1000, "reportfile": "sockudo_ws_case_1_1_2.json"},
    "1.1.1": {"behavior": "OK", "behaviorClose": "OK", "duration": 2,
              "remoteCloseCode": 1000, "reportfile": "sockudo_ws_case_1_1_1.json"},
    "1.1.3": {"behavior": "INFORMATIONAL", "behaviorClose": "OK", "duration": 1,
              "remoteCloseCode": 1000, "reportfile": "sockudo_ws_case_1_1_3.json"},
    "12.1.1": {"behavior": "UNIMPLEMENTED", "behaviorClose": "UNIMPLEMENTED", "duration": 0,
               "remoteCloseCode": null, "reportfile": "sockudo_ws_case_12_1_1.json"},
    "12.1.2": {"behavior": "UNIMPLEMENTED", "behaviorClose": "UNIMPLEMENTED", "duration": 0,
               "remoteCloseCode": null, "reportfile": "sockudo_ws_case_12_1_2.json"}
  }
}"#;

    const SAMPLE_IDS: [&str; 5] = ["1.1.1", "1.1.2", "1.1.3", "12.1.1", "12.1.2"];

    fn with_case(id: &str, behavior: &str, close: &str) -> String {
        SAMPLE.replacen(
            "\"sockudo-ws\": {",
            &format!(
                "\"sockudo-ws\": {{\"{id}\": {{\"behavior\": \"{behavior}\", \
                 \"behaviorClose\": \"{close}\", \"duration\": 5, \"reportfile\": \"r.json\"}},"
            ),
            1,
        )
    }

    fn verdict(text: &str, expected: &[&'static str], allow: &str) -> Evaluation {
        let results = parse_index(text, "sockudo-ws").unwrap();
        evaluate(&results, expected, &parse_sections(allow).unwrap())
    }

    #[test]
    fn parses_the_agent_sorted() {
        let results = parse_index(SAMPLE, "sockudo-ws").unwrap();
        let ids: Vec<&str> = results.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, SAMPLE_IDS);
        assert_eq!(results[3].outcome, Outcome::Unimplemented);
        assert_eq!(results[3].report_file, "sockudo_ws_case_12_1_1.json");
        assert_eq!(results[1].duration_ms, 3.0);
        let err = parse_index(SAMPLE, "nobody").unwrap_err();
        assert!(err.contains("other-agent, sockudo-ws"), "{err}");
        assert!(parse_index("[]", "sockudo-ws").is_err());
        assert!(parse_index("{\"sockudo-ws\": []}", "sockudo-ws").is_err());
        assert!(parse_index("{\"sockudo-ws\": {}", "sockudo-ws").is_err());
        let err = parse_index("{}", "sockudo-ws").unwrap_err();
        assert!(err.contains("agents found: none"), "{err}");
        // Missing or null fields: an unknown verdict fails, no duration counts as 0.
        let results = parse_index(
            r#"{"sockudo-ws": {"2.1": {"behavior": null}}}"#,
            "sockudo-ws",
        )
        .unwrap();
        assert_eq!(results[0].outcome, Outcome::Failed);
        assert_eq!(
            (results[0].duration_ms, results[0].report_file.as_str()),
            (0.0, "")
        );
    }

    #[test]
    fn unimplemented_passes_only_in_allowed_sections() {
        let eval = verdict(SAMPLE, &SAMPLE_IDS, "12,13");
        assert!(eval.passed(), "{:?}", eval.problems);
        assert_eq!(eval.allowed_unimplemented, BTreeMap::from([(12, 2)]));
        assert_eq!(eval.sections[&1].ok, 2);
        assert_eq!(eval.sections[&1].informational, 1);
        assert_eq!(eval.sections[&12].unimplemented, 2);

        for allow in ["", "13", "1,13"] {
            let eval = verdict(SAMPLE, &SAMPLE_IDS, allow);
            assert!(!eval.passed(), "allow={allow:?}");
            let ids: Vec<&str> = eval.failing.iter().map(|c| c.id.as_str()).collect();
            assert_eq!(ids, ["12.1.1", "12.1.2"]);
        }
    }

    #[test]
    fn non_strict_fails_everywhere() {
        let text = with_case("1.1.4", "NON-STRICT", "OK");
        let mut expected = SAMPLE_IDS.to_vec();
        expected.push("1.1.4");
        for allow in ["12,13", "", "1,12"] {
            let eval = verdict(&text, &expected, allow);
            assert!(!eval.passed(), "allow={allow:?}");
            assert_eq!(eval.sections[&1].non_strict, 1);
            assert_eq!(eval.failing.len(), if allow.is_empty() { 3 } else { 1 });
            assert_eq!(eval.failing[0].id, "1.1.4");
        }
        // UNIMPLEMENTED in section 1 fails unless section 1 is allowed.
        let text = with_case("1.1.4", "UNIMPLEMENTED", "OK");
        assert!(!verdict(&text, &expected, "12,13").passed());
        assert!(verdict(&text, &expected, "1,12").passed());
    }

    #[test]
    fn behavior_close_counts_too() {
        let mut expected = SAMPLE_IDS.to_vec();
        expected.push("1.1.4");
        for (close, outcome) in [
            ("FAILED", Outcome::Failed),
            ("NON-STRICT", Outcome::NonStrict),
            ("WRONG CODE", Outcome::Failed),
            ("UNCLEAN", Outcome::Failed),
            ("", Outcome::Failed),
        ] {
            let eval = verdict(&with_case("1.1.4", "OK", close), &expected, "12,13");
            assert!(!eval.passed(), "close={close:?}");
            assert_eq!(eval.failing[0].outcome, outcome);
        }
        // An UNIMPLEMENTED case whose close went wrong fails even where UNIMPLEMENTED is allowed.
        let eval = verdict(
            &with_case("12.1.3", "UNIMPLEMENTED", "FAILED"),
            &SAMPLE_IDS,
            "12",
        );
        assert_eq!(eval.failing.len(), 1);
        assert_eq!(eval.failing[0].id, "12.1.3");
        // INFORMATIONAL close is fine.
        assert!(verdict(&with_case("1.1.4", "OK", "INFORMATIONAL"), &expected, "12").passed());
    }

    #[test]
    fn empty_or_short_reports_fail() {
        let eval = verdict("{\"sockudo-ws\": {}}", &SAMPLE_IDS, "12,13");
        assert!(!eval.passed());
        assert!(eval.problems.iter().any(|p| p.contains("no cases")));
        assert_eq!(eval.missing.len(), 5);

        let eval = verdict(SAMPLE, &["1.1.1", "1.1.2", "1.1.3", "1.1.4"], "12,13");
        assert!(!eval.passed());
        assert_eq!(eval.missing, ["1.1.4"]);
        assert_eq!(eval.unexpected, ["12.1.1", "12.1.2"]);
        assert_eq!(
            eval.problems[0],
            "1 of 4 cases selected are missing from the report (1.1.4)"
        );

        // Extra cases alone are only noted.
        assert!(verdict(SAMPLE, &["1.1.1"], "12").passed());
    }

    #[test]
    fn render_lists_failures_and_totals() {
        let text = with_case("1.1.4", "NON-STRICT", "OK");
        let mut expected = SAMPLE_IDS.to_vec();
        expected.push("1.1.4");
        let eval = verdict(&text, &expected, "12");
        let out = render(&eval, Path::new("/r/servers"));
        assert!(out.contains("1.1.4  behavior=NON-STRICT"), "{out}");
        assert!(out.contains("/r/servers/r.json"), "{out}");
        assert!(
            out.contains("2 cases in section 12 are UNIMPLEMENTED"),
            "{out}"
        );
        assert!(out.contains("FAIL: 1 case failed (1.1.4)"), "{out}");
        let total = out
            .lines()
            .find(|l| l.trim_start().starts_with("total"))
            .unwrap();
        let numbers: Vec<&str> = total.split_whitespace().collect();
        assert_eq!(
            numbers[..7],
            ["total", "6", "2", "1", "1", "2", "0"],
            "{total}"
        );
    }

    #[test]
    fn section_lists() {
        assert_eq!(parse_sections("12,13").unwrap(), BTreeSet::from([12, 13]));
        assert_eq!(
            parse_sections(" 12 , 13 ,").unwrap(),
            BTreeSet::from([12, 13])
        );
        assert!(parse_sections("").unwrap().is_empty());
        assert!(parse_sections("12,x").is_err());
        assert!(parse_sections("14").is_err());
        assert!(parse_sections("0").is_err());
    }

    #[test]
    fn abbreviates_long_lists() {
        let ids = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
        assert_eq!(abbreviate(&ids), "a, b, c, d, e, f, g, h, ... 2 more");
        assert_eq!(abbreviate(&ids[..2]), "a, b");
    }
}
