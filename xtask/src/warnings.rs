//! Which warnings gen already said: a warning is said in full when the set of warnings differs
//! from the set said last time in this checkout, remembered in `.xtask/warnings` (gitignored).
//! While the same warnings hold, gen says how many there are and that `--verbose` repeats them.

use std::path::Path;

/// Where the last set said is kept, relative to the root.
pub const FILE: &str = ".xtask/warnings";

/// The record of a set of warnings: one per line.
pub fn record(warnings: &[String]) -> String {
    warnings.iter().map(|w| format!("{}\n", w.replace('\n', " "))).collect()
}

/// Whether `warnings` are news compared with `said` (the record read back, if any).
pub fn is_new(said: Option<&str>, warnings: &[String]) -> bool {
    !warnings.is_empty() && said != Some(record(warnings).as_str())
}

/// Reads the record, returns whether `warnings` are news, and records them. A record that cannot
/// be written (a read-only checkout) only means the warnings are said again next time.
pub fn remember(root: &Path, warnings: &[String]) -> bool {
    let path = root.join(FILE);
    let said = std::fs::read_to_string(&path).ok();
    let new = is_new(said.as_deref(), warnings);
    if warnings.is_empty() {
        if said.is_some() {
            let _ = std::fs::remove_file(&path);
        }
    } else if new {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(&path, record(warnings));
    }
    new
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_set_is_not_news_a_changed_one_is() {
        let a = vec!["promtail is old".to_string(), "no leaf key".to_string()];
        assert!(is_new(None, &a));
        assert!(!is_new(Some(&record(&a)), &a));
        assert!(is_new(Some(&record(&a[..1])), &a));
        assert!(!is_new(None, &[]));
    }
}
