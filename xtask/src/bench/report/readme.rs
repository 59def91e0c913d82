//! The README's performance table: `--update-readme` puts it between the README's markers.

use std::fs;
use std::path::Path;

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
