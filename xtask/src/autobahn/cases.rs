//! The Autobahn|Testsuite case ids, and case selection the way `wstest` does it.
//!
//! `cases.txt` lists the 517 case ids of `autobahntestsuite` 25.10.1 (sections 1-11: 301,
//! 12: 90, 13: 126), taken from its `autobahntestsuite.case.Cases`. Knowing them lets the runner
//! check that a report holds every case that the patterns selected.

use std::cmp::Ordering;

/// Every case id of the suite, one a line.
const ALL_CASES: &str = include_str!("cases.txt");

/// All case ids, in the suite's order.
pub(crate) fn all() -> impl Iterator<Item = &'static str> {
    ALL_CASES.lines().filter(|l| !l.is_empty())
}

/// Whether `pattern` selects case `id`, as `wstest` matches `cases` and `exclude-cases`: a
/// pattern with `*` is a prefix match where `*` stands for any run of characters (`1.*` is
/// section 1, `2.1*` is 2.1, 2.10 and 2.11); one without `*` is an exact id.
pub(crate) fn matches(pattern: &str, id: &str) -> bool {
    if pattern.contains('*') {
        prefix_glob(pattern.as_bytes(), id.as_bytes())
    } else {
        pattern == id
    }
}

fn prefix_glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => true,
        Some((b'*', rest)) => (0..=text.len()).any(|i| prefix_glob(rest, &text[i..])),
        Some((&c, rest)) => text.first() == Some(&c) && prefix_glob(rest, &text[1..]),
    }
}

/// The ids that `cases` select minus those `exclude` selects, sorted like `wstest` sorts them.
/// Fails on an id without `*` that is not in the suite (wstest would crash on it) and when
/// nothing is left.
pub(crate) fn select(cases: &[String], exclude: &[String]) -> Result<Vec<&'static str>, String> {
    for p in cases.iter().chain(exclude) {
        if !p.contains('*') && !all().any(|id| id == p) {
            return Err(format!(
                "'{p}' is not an Autobahn case id (patterns use '*', e.g. 1.*)"
            ));
        }
    }
    let mut ids: Vec<&'static str> = all()
        .filter(|id| cases.iter().any(|p| matches(p, id)))
        .filter(|id| !exclude.iter().any(|p| matches(p, id)))
        .collect();
    ids.sort_by(|a, b| compare_ids(a, b));
    if ids.is_empty() {
        let but = if exclude.is_empty() {
            String::new()
        } else {
            format!(" --exclude {}", exclude.join(","))
        };
        return Err(format!(
            "no Autobahn case is selected by --cases {}{but}",
            cases.join(",")
        ));
    }
    Ok(ids)
}

/// Orders case ids numerically part by part (`2.2` < `2.10` < `10.1.1`).
pub(crate) fn compare_ids(a: &str, b: &str) -> Ordering {
    let parts = |s: &str| -> Vec<u64> {
        s.split('.')
            .map(|p| p.parse().unwrap_or(u64::MAX))
            .collect()
    };
    parts(a).cmp(&parts(b)).then_with(|| a.cmp(b))
}

/// The section of a case id: its first number (`12` for `12.3.4`), 0 if it has none.
pub(crate) fn section(id: &str) -> u32 {
    id.split('.')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn count(cases: &[&str], exclude: &[&str]) -> usize {
        select(&strings(cases), &strings(exclude)).map_or(0, |ids| ids.len())
    }

    #[test]
    fn suite_has_the_documented_sizes() {
        assert_eq!(all().count(), 517);
        assert_eq!(count(&["*"], &[]), 517);
        assert_eq!(count(&["*"], &["12.*", "13.*"]), 301);
        assert_eq!(count(&["12.*"], &[]), 90);
        assert_eq!(count(&["13.*"], &[]), 126);
        assert_eq!(count(&["1.*"], &[]), 16);
        assert_eq!(count(&["6.4.*"], &[]), 4);
    }

    #[test]
    fn patterns_match_like_wstest() {
        assert!(matches("1.*", "1.1.1"));
        assert!(!matches("1.*", "10.1.1"));
        assert!(!matches("1.*", "12.1.1"));
        assert!(matches("*", "13.7.18"));
        assert!(matches("2.1*", "2.1"));
        assert!(matches("2.1*", "2.11"));
        assert!(matches("*.1.1", "7.1.1"));
        // A '*' pattern matches a prefix, as Python's re.match does.
        assert!(matches("*.1", "12.1.5"));
        assert!(matches("2.1", "2.1"));
        assert!(!matches("2.1", "2.10"));
        assert_eq!(count(&["2.1*"], &[]), 3);
        assert_eq!(count(&["2.*"], &["2.1*"]), 8);
    }

    #[test]
    fn selection_is_sorted_and_validated() {
        let ids = select(&strings(&["2.1*", "1.1.1"]), &[]).unwrap();
        assert_eq!(ids, ["1.1.1", "2.1", "2.10", "2.11"]);
        assert!(select(&strings(&["14.*"]), &[]).is_err());
        assert!(select(&strings(&["1.*"]), &strings(&["1.*"])).is_err());
        assert!(
            select(&strings(&["1.1.99"]), &[])
                .unwrap_err()
                .contains("not an Autobahn case")
        );
        assert!(select(&strings(&["1.*"]), &strings(&["8.1"])).is_err());
    }

    #[test]
    fn ids_order_numerically() {
        let mut ids = vec!["10.1.1", "2.10", "2.2", "1.2.1", "1.1.8", "12.1.1", "9.8.6"];
        ids.sort_by(|a, b| compare_ids(a, b));
        assert_eq!(
            ids,
            ["1.1.8", "1.2.1", "2.2", "2.10", "9.8.6", "10.1.1", "12.1.1"]
        );
        assert_eq!(section("12.3.4"), 12);
        assert_eq!(section("2.10"), 2);
        assert_eq!(section("x"), 0);
    }
}
