//! Problems found in stack.toml, and how they are shown: `stack.toml:LINE:COL: key: message`.
//!
//! Parsing and validation never stop at the first problem: they push every `Problem` into a
//! `Problems` list, and the caller turns a non-empty list into one error that shows them all.

use std::fmt;
use std::ops::Range;
use std::panic::Location;

/// What kind of problem it is: the code that reacts to earlier problems reads this, never the
/// message text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Kind {
    /// A rule of validation.
    #[default]
    Rule,
    /// The file is not TOML: nothing else is checked.
    Syntax,
    /// A value the parser could not read (wrong type, unknown key, ...).
    Parse,
    /// A missing key or section.
    Missing,
    /// A section of no known name; `meant` is the known one it most likely misspells.
    UnknownSection { meant: Option<String> },
}

/// One thing wrong with the input, located by its dotted key (and, when known, a byte span).
#[derive(Debug, Clone, Eq)]
pub struct Problem {
    /// Dotted key, e.g. `vms.prod-alloc-ia.ip`; empty for a problem of the whole file.
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
    /// Byte span in the source, when the parser knows it better than the key does.
    pub span: Option<Range<usize>>,
    pub kind: Kind,
    /// The rule that found it: the source line that made the problem (`Problems::add` and its
    /// kin are `#[track_caller]`). Tests use it to check that every rule has a case; it is not
    /// part of what is shown, nor of equality.
    pub rule: &'static Location<'static>,
}

/// Two problems are the same when the operator sees the same thing, whichever rule found them.
impl PartialEq for Problem {
    fn eq(&self, other: &Problem) -> bool {
        (&self.key, &self.message, &self.hint, &self.span, &self.kind) == (&other.key, &other.message, &other.hint, &other.span, &other.kind)
    }
}

impl Problem {
    #[track_caller]
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem { key: key.into(), message: message.into(), hint: None, span: None, kind: Kind::Rule, rule: Location::caller() }
    }

    pub fn kind(mut self, kind: Kind) -> Problem {
        self.kind = kind;
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Problem {
        self.hint = Some(hint.into());
        self
    }

    pub fn at(mut self, span: Range<usize>) -> Problem {
        self.span = Some(span);
        self
    }
}

/// Every problem of one run, in the order found; sorted by position when shown.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn push(&mut self, problem: Problem) {
        self.0.push(problem);
    }

    /// Shorthand for the common case of a key and a message with a hint.
    #[track_caller]
    pub fn add(&mut self, key: impl Into<String>, message: impl Into<String>, hint: &str) {
        let problem = Problem::new(key, message);
        self.push(if hint.is_empty() { problem } else { problem.hint(hint) });
    }

    /// Like [`Problems::add`], for a missing key or section (a misspelt section's echoes are
    /// recognised by it).
    #[track_caller]
    pub fn add_missing(&mut self, key: impl Into<String>, message: impl Into<String>, hint: &str) {
        self.push(Problem::new(key, message).hint(hint).kind(Kind::Missing));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The file is not TOML (a syntax problem is there).
    pub fn has_syntax_error(&self) -> bool {
        self.0.iter().any(|p| p.kind == Kind::Syntax)
    }

    /// Whether `key` (with `under`, or a key under it) is already reported by other than a
    /// validation rule (the parser could not read it, or it is missing): validation then adds
    /// nothing about it.
    pub fn already_reported(&self, key: &str, under: bool) -> bool {
        self.0.iter().any(|p| p.kind != Kind::Rule && (p.key == key || (under && p.key.strip_prefix(key).is_some_and(|rest| rest.starts_with('.')))))
    }
}

/// A 1-based line and column (in characters) of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// All problems of a file, located and sorted, ready to print.
#[derive(Debug)]
pub struct Report {
    pub file: String,
    pub lines: Vec<(usize, usize, Problem)>,
}

impl Report {
    pub fn new(file: &str, src: &str, problems: Vec<Problem>, locate: impl Fn(&str) -> Option<Range<usize>>) -> Report {
        let mut lines: Vec<(usize, usize, Problem)> = problems
            .into_iter()
            .map(|p| {
                let span = p.span.clone().or_else(|| locate(&p.key));
                let (line, col) = span.map_or((1, 1), |s| line_col(src, s.start));
                (line, col, p)
            })
            .collect();
        lines.sort_by(|a, b| (a.0, a.1, &a.2.key, &a.2.message).cmp(&(b.0, b.1, &b.2.key, &b.2.message)));
        lines.dedup_by(|a, b| a.2 == b.2);
        Report { file: file.to_string(), lines }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (line, col, p) in &self.lines {
            let key = if p.key.is_empty() { String::new() } else { format!("{}: ", one_line(&p.key)) };
            writeln!(f, "{}:{line}:{col}: {key}{}", self.file, one_line(&p.message))?;
            if let Some(hint) = &p.hint {
                writeln!(f, "  hint: {}", one_line(hint))?;
            }
        }
        let n = self.lines.len();
        write!(f, "{n} problem{} in {}", if n == 1 { "" } else { "s" }, self.file)
    }
}

impl std::error::Error for Report {}

/// A message quoting user input stays on one line and shows what it holds: control characters
/// (a `\n` escape in a TOML string) and bidirectional overrides are written as escapes.
fn one_line(s: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !s.chars().any(hidden) {
        return std::borrow::Cow::Borrowed(s);
    }
    s.chars().map(|c| if hidden(c) { c.escape_default().to_string() } else { c.to_string() }).collect::<String>().into()
}

/// The closest candidate to `word` by edit distance, when it is close enough to be a typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates.into_iter().map(|c| (edit_distance(word, c), c)).filter(|(d, c)| *d <= c.len().max(word.len()) / 3 + 1).min().map(|(_, c)| c)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and transpositions
/// of two neighbours each cost 1, so `tsl` is one step from `tls`.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_from_one() {
        let src = "a = 1\nbé = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, src.find("= 2").unwrap()), (2, 4));
    }

    #[test]
    fn reports_keep_one_problem_per_line() {
        let src = "a = 1\n";
        let p = Problem::new("vms.\"a\\nb\"", "`x\ny\u{202e}` is bad").hint("tab\there");
        let text = Report::new("stack.toml", src, vec![p], |_| Some(0..1)).to_string();
        assert_eq!(text, "stack.toml:1:1: vms.\"a\\nb\": `x\\ny\\u{202e}` is bad\n  hint: tab\\there\n1 problem in stack.toml");
    }

    #[test]
    fn did_you_mean_finds_typos_only() {
        assert_eq!(did_you_mean("naem", ["name", "ip", "vm_id"]), Some("name"));
        assert_eq!(did_you_mean("colour", ["memory_mb", "cores"]), None);
        assert_eq!(did_you_mean("memroy_mb", ["memory_mb", "cores"]), Some("memory_mb"));
        assert_eq!(did_you_mean("tsl", ["ssh", "tls"]), Some("tls"));
    }
}
