//! The README's performance table: rendered from the summaries (`readme-table.md`), and put
//! between the README's markers by `--update-readme`.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use super::super::catalog::Transport;
use super::super::{Case, OURS, Server};
use super::format::{cpu_cell, thousands};
use super::{Report, Summary};

impl Report<'_> {
    /// The README's performance table: per case our median msg/s, each peer's as a ratio to
    /// ours, and the server CPU per million messages of ours and of each peer; then the
    /// memory per idle connection. `--update-readme` puts it between the README's markers.
    /// Ours over other transports are not peers: they are in the Transports table.
    pub(crate) fn readme_table(&self, summaries: &[Summary]) -> String {
        let peers: Vec<&Server> = self
            .servers
            .iter()
            .filter(|s| s.name != OURS && s.transport == Transport::H1)
            .collect();
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
    pub(super) fn rounds_text(&self) -> String {
        let rounds = self.runs.iter().map(|r| r.round + 1).max().unwrap_or(0);
        format!("{rounds} round{}", if rounds == 1 { "" } else { "s" })
    }
}

/// The markers around the generated performance table in README.md.
const README_START: &str = "<!-- bench-table:start (cargo xtask bench --update-readme) -->";
const README_END: &str = "<!-- bench-table:end -->";

/// Replaces what lies between the README's table markers with `table`.
pub(crate) fn update(readme: &Path, table: &str) -> Result<(), String> {
    let text =
        fs::read_to_string(readme).map_err(|e| format!("cannot read {}: {e}", readme.display()))?;
    let updated = replace_between_markers(&text, table).ok_or_else(|| {
        format!(
            "{} lacks the lines {README_START} and {README_END}",
            readme.display()
        )
    })?;
    fs::write(readme, updated).map_err(|e| format!("cannot write {}: {e}", readme.display()))
}

fn replace_between_markers(text: &str, table: &str) -> Option<String> {
    let start = text.find(README_START)? + README_START.len();
    let end = start + text[start..].find(README_END)?;
    Some(format!(
        "{}\n{}\n{}",
        &text[..start],
        table.trim_end(),
        &text[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_markers() {
        let readme = format!("# x\n\n{README_START}\nold table\n{README_END}\n\nafter\n");
        let new = replace_between_markers(&readme, "| new |\n").unwrap();
        assert_eq!(
            new,
            format!("# x\n\n{README_START}\n| new |\n{README_END}\n\nafter\n")
        );
        assert_eq!(replace_between_markers(&new, "| new |").unwrap(), new);
        assert!(replace_between_markers("no markers", "t").is_none());
    }
}
