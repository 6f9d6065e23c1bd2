//! Text to `RawStack`: TOML syntax, then each section (and each VM, service, route) deserialized
//! on its own, so that every problem is found in one run and located by line and column.
//!
//! It also gives the `SpanIndex` (dotted key to byte span) that locates problems found later by
//! key alone; the index is built from the text the first time a problem asks for it, so a stack
//! without problems never pays for it.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::diag::{Kind, Problem, Problems, did_you_mean};
use super::raw::{RawStack, SECTIONS};

type Spans = BTreeMap<String, (Range<usize>, Range<usize>)>;

/// Where each dotted key of the file is: the span of its key and of its value. Built from the
/// text on first use (only a problem asks), empty for a file that is not valid TOML.
#[derive(Debug)]
pub struct SpanIndex<'s> {
    src: &'s str,
    entries: std::cell::OnceCell<Spans>,
}

impl SpanIndex<'_> {
    fn entries(&self) -> &Spans {
        self.entries.get_or_init(|| {
            let mut entries = Spans::new();
            if let Ok(doc) = DeTable::parse(self.src) {
                index(&mut entries, "", doc.get_ref());
            }
            entries
        })
    }

    /// The span to point at for a problem of `key`: its value, else the nearest parent's key.
    pub fn locate(&self, key: &str) -> Option<Range<usize>> {
        let entries = self.entries();
        if let Some((_, value)) = entries.get(key) {
            return Some(value.clone());
        }
        let mut parent = key;
        while let Some(i) = parent.rfind(['.', '[']) {
            parent = &parent[..i];
            if let Some((key_span, _)) = entries.get(parent) {
                return Some(key_span.clone());
            }
        }
        None
    }

    /// The deepest key whose key or value span contains `span`: names a serde error's location.
    fn key_at(&self, span: &Range<usize>) -> Option<&str> {
        self.entries().iter().filter(|(_, (k, v))| contains(k, span) || contains(v, span)).max_by_key(|(path, _)| path.len()).map(|(path, _)| path.as_str())
    }
}

fn index(entries: &mut Spans, prefix: &str, table: &DeTable<'_>) {
    for (key, value) in table.iter() {
        let path = join(prefix, key.get_ref());
        entries.insert(path.clone(), (key.span(), value.span()));
        index_value(entries, &path, value);
    }
}

fn index_value(entries: &mut Spans, path: &str, value: &Spanned<DeValue<'_>>) {
    match value.get_ref() {
        DeValue::Table(t) => index(entries, path, t),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let item_path = format!("{path}[{i}]");
                entries.insert(item_path.clone(), (item.span(), item.span()));
                index_value(entries, &item_path, item);
            }
        }
        _ => {}
    }
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// Joins a dotted key; a segment that is not a bare TOML key is quoted.
pub fn join(prefix: &str, segment: &str) -> String {
    let bare = !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    // Called for every key of every VM: pushed, not formatted (only a quoted segment is).
    let mut out = String::with_capacity(prefix.len() + segment.len() + 3);
    if !prefix.is_empty() {
        out.push_str(prefix);
        out.push('.');
    }
    if bare {
        out.push_str(segment);
    } else {
        out.push_str(&format!("{segment:?}"));
    }
    out
}

/// Parses stack.toml text. Returns what could be read, where everything is, and every problem.
pub fn parse(src: &str) -> (RawStack, SpanIndex<'_>, Problems) {
    let mut problems = Problems::default();
    let index = SpanIndex { src, entries: std::cell::OnceCell::new() };
    let mut raw = RawStack::default();
    let (doc, syntax_errors) = DeTable::parse_recoverable(src);
    if !syntax_errors.is_empty() {
        // After the first few, syntax errors are mostly echoes of the first (an unclosed brace
        // makes every later line wrong): show those few and count the rest.
        const SHOWN: usize = 3;
        let hidden = syntax_errors.len().saturating_sub(SHOWN);
        let next_span = syntax_errors.get(SHOWN).and_then(|e| e.span());
        for err in syntax_errors.into_iter().take(SHOWN) {
            let mut message = first_line(err.message()).to_string();
            if let Some(text) = err.span().and_then(|s| src.get(s)).filter(|t| message == "duplicate key" && !t.is_empty()) {
                message = format!("duplicate key `{text}`");
            }
            let mut hint = "fix the syntax first; the other checks run once the file parses".to_string();
            if let Some(addr) = err.span().and_then(|s| unquoted_address(src, s.start)).filter(|_| message.starts_with("invalid float")) {
                message = format!("`{addr}` is not a number: an address is a string");
                hint = format!("quote it: \"{addr}\"");
            }
            let mut p = Problem::new("", format!("invalid TOML: {message}")).hint(hint).kind(Kind::Syntax);
            if let Some(span) = err.span() {
                p = p.at(span);
            }
            problems.push(p);
        }
        if hidden > 0 {
            let mut p = Problem::new(
                "",
                format!("invalid TOML: {hidden} more syntax error{} after these, most likely caused by the first", if hidden == 1 { "" } else { "s" }),
            )
            .hint("fix the first error and run again")
            .kind(Kind::Syntax);
            if let Some(span) = next_span {
                p = p.at(span);
            }
            problems.push(p);
        }
        // Not valid TOML: no key is located (each syntax error carries its own span).
        let _ = index.entries.set(Spans::new());
        return (raw, index, problems);
    }
    let doc = doc.into_inner();

    for (key, value) in doc.iter() {
        let name = key.get_ref().as_ref();
        let mut section = Section { index: &index, problems: &mut problems };
        match name {
            "schema_version" => raw.schema_version = section.read(name, value),
            "domain" => raw.domain = section.read(name, value),
            "targets" => raw.targets = section.read(name, value),
            "proxmox" => raw.proxmox = section.read(name, value),
            "network" => raw.network = section.read(name, value),
            "terraform" => raw.terraform = section.read(name, value),
            "monitoring" => raw.monitoring = section.read(name, value),
            "vms" => raw.vms = section.read_map(name, value),
            "logging" => raw.logging = section.read(name, value),
            "alerting" => raw.alerting = section.read(name, value),
            "tls" => raw.tls = section.read(name, value),
            "services" => raw.services = section.read_map(name, value),
            "routes" => raw.routes = section.read_map(name, value),
            "ssh" => raw.ssh = section.read(name, value),
            other => {
                let meant = did_you_mean(other, SECTIONS.iter().copied());
                let mut p = Problem::new(join("", other), format!("unknown section `{other}`"))
                    .at(key.span())
                    .kind(Kind::UnknownSection { meant: meant.map(str::to_string) });
                p = match meant {
                    Some(near) => p.hint(format!("did you mean `{near}`? rename [{other}] (and its sub-tables) to [{near}]")),
                    None => p.hint(format!("the sections are: {}", SECTIONS.join(", "))),
                };
                problems.push(p);
            }
        }
    }
    (raw, index, problems)
}

struct Section<'a> {
    index: &'a SpanIndex<'a>,
    problems: &'a mut Problems,
}

impl Section<'_> {
    /// Deserializes one section. An unknown key, or a value of the wrong type, is reported, then
    /// left out and the section read again; a missing key is reported, then stood in for (a
    /// value of each kind in turn until serde takes one) and the section read again: so that no
    /// problem hides the section's other problems, nor the checks of the sections that depend
    /// on it (every problem at once). A required key left out for its type is not reported
    /// again as missing. A section read with a stand-in is never returned.
    fn read<T: DeserializeOwned>(&mut self, path: &str, value: &Spanned<DeValue<'_>>) -> Option<T> {
        let span = value.span();
        let mut value = value.clone();
        let mut left_out: Vec<String> = Vec::new();
        let mut stand_ins: Vec<StandIn> = Vec::new();
        // Each retry removes a key, adds one or changes a stand-in's kind (at most five per
        // key), so this ends; the bound is a guard only.
        for _ in 0..512 {
            match T::deserialize(ValueDeserializer::from(value.clone())) {
                Ok(v) => return stand_ins.is_empty().then_some(v),
                Err(err) => {
                    let message = err.message();
                    let at = err.span().unwrap_or(span.clone());
                    // Serde wants another kind of value where a stand-in is.
                    if let Some(stand_in) = stand_ins.iter_mut().find(|s| s.marker == at) {
                        stand_in.kind += 1;
                        if !stand_in.put(&mut value) {
                            return None;
                        }
                        continue;
                    }
                    if let Some(field) = message.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
                        if !left_out.iter().any(|k| k == field) {
                            let key = self.index.key_at(&at).map_or_else(|| path.to_string(), str::to_string);
                            self.problems.push(humanize(&key, message).at(at.clone()));
                        }
                        let n = stand_ins.len();
                        let mut stand_in = StandIn { field: field.to_string(), table: at, marker: usize::MAX - 2 * n - 1..usize::MAX - 2 * n, kind: 0 };
                        if !stand_in.put(&mut value) {
                            return None;
                        }
                        stand_in.kind = 0;
                        stand_ins.push(stand_in);
                        continue;
                    }
                    let key = self.index.key_at(&at).map_or_else(|| path.to_string(), str::to_string);
                    self.problems.push(humanize(&key, message).at(at.clone()));
                    let removed = if message.starts_with("unknown field `") {
                        remove_key_at(&mut value, &at)
                    } else if is_type_error(message) && at != span {
                        match remove_value_at(&mut value, &at) {
                            Some(k) => {
                                left_out.push(k);
                                true
                            }
                            None => false,
                        }
                    } else {
                        false
                    };
                    if !removed {
                        return None;
                    }
                }
            }
        }
        None
    }

    /// A table of named entries (`[vms.NAME]`): each entry is read on its own.
    fn read_map<T: DeserializeOwned>(&mut self, path: &str, value: &Spanned<DeValue<'_>>) -> BTreeMap<String, T> {
        let mut out = BTreeMap::new();
        let DeValue::Table(table) = value.get_ref() else {
            self.problems.push(
                Problem::new(path, "expected a table of named entries")
                    .hint(format!("write one `[{path}.NAME]` table per entry"))
                    .at(value.span())
                    .kind(Kind::Parse),
            );
            return out;
        };
        for (name, entry) in table.iter() {
            let entry_path = join(path, name.get_ref());
            if let Some(v) = self.read(&entry_path, entry) {
                out.insert(name.get_ref().to_string(), v);
            }
        }
        out
    }
}

/// A value put where a section misses a key, so that the rest of the section is still read.
struct StandIn {
    field: String,
    /// The span of the table that misses it.
    table: Range<usize>,
    /// A span no value of the file has: an error there is about this stand-in.
    marker: Range<usize>,
    /// Which kind of value it is now (`stand_in_value`).
    kind: usize,
}

impl StandIn {
    /// Puts (or replaces) the stand-in of its kind into its table; false when no kind is left or
    /// the table is not found.
    fn put(&self, value: &mut Spanned<DeValue<'_>>) -> bool {
        let (Some(v), Some(table)) = (stand_in_value(self.kind), table_at(value, &self.table)) else { return false };
        table.insert(Spanned::new(self.marker.clone(), std::borrow::Cow::Owned(self.field.clone())), Spanned::new(self.marker.clone(), v));
        true
    }
}

/// The stand-in values, one of each kind, in the order they are tried.
fn stand_in_value(kind: usize) -> Option<DeValue<'static>> {
    Some(match kind {
        0 => DeValue::Integer(toml::de::DeInteger::default()),
        1 => DeValue::String(std::borrow::Cow::Borrowed("")),
        2 => DeValue::Boolean(false),
        3 => DeValue::Array(toml::de::DeArray::default()),
        4 => DeValue::Table(DeTable::new()),
        _ => return None,
    })
}

/// The table whose span is `at`, wherever it is in `value`.
fn table_at<'v, 'i>(value: &'v mut Spanned<DeValue<'i>>, at: &Range<usize>) -> Option<&'v mut DeTable<'i>> {
    let here = value.span() == *at;
    match value.get_mut() {
        DeValue::Table(table) => {
            if here {
                Some(table)
            } else {
                table.iter_mut().find_map(|(_, v)| table_at(v, at))
            }
        }
        DeValue::Array(items) => items.iter_mut().find_map(|v| table_at(v, at)),
        _ => None,
    }
}

/// A value serde could not take as the key's type (not a missing or unknown key).
fn is_type_error(message: &str) -> bool {
    message.starts_with("invalid type: ") || message.starts_with("invalid value: ") || message.contains("untagged enum")
}

/// Removes the deepest entry whose value is at `at`, wherever it is in `value`; its key.
fn remove_value_at(value: &mut Spanned<DeValue<'_>>, at: &Range<usize>) -> Option<String> {
    match value.get_mut() {
        DeValue::Table(table) => {
            let key = table.iter().find(|(_, v)| contains(&v.span(), at)).map(|(k, _)| k.clone())?;
            let entry = table.get_mut(&key)?;
            if let Some(inner) = remove_value_at(entry, at) {
                return Some(inner);
            }
            table.remove(&key).map(|_| key.get_ref().to_string())
        }
        DeValue::Array(items) => items.iter_mut().find_map(|v| remove_value_at(v, at)),
        _ => None,
    }
}

/// Removes the entry whose key is at `at`, wherever it is in `value`; whether one was found.
fn remove_key_at(value: &mut Spanned<DeValue<'_>>, at: &Range<usize>) -> bool {
    match value.get_mut() {
        DeValue::Table(table) => {
            if let Some(key) = table.iter().map(|(k, _)| k).find(|k| contains(&k.span(), at)).cloned() {
                return table.remove(&key).is_some();
            }
            table.iter_mut().any(|(_, v)| remove_key_at(v, at))
        }
        DeValue::Array(items) => items.iter_mut().any(|v| remove_key_at(v, at)),
        _ => false,
    }
}

/// The value of the line at `offset` when it is an unquoted IPv4 address or CIDR (`ip =
/// 192.168.1.5`), which TOML reads as a broken float.
fn unquoted_address(src: &str, offset: usize) -> Option<String> {
    let start = src.get(..offset)?.rfind('\n').map_or(0, |i| i + 1);
    let line = src[start..].lines().next()?;
    let value = line.split_once('=')?.1.split('#').next()?.trim();
    let (addr, prefix) = value.split_once('/').map_or((value, None), |(a, p)| (a, Some(p)));
    let is_addr = addr.parse::<std::net::Ipv4Addr>().is_ok() && prefix.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    is_addr.then(|| value.to_string())
}

/// Drops the echoes of a misspelt section: with `[proxmx]` (did you mean `proxmox`?), a
/// `[proxmox.cloud_image]` left behind makes `proxmox` look present with its keys missing, and
/// without one `proxmox` is a missing section; both are the same mistake, already reported.
pub fn drop_misspelt_section_echoes(problems: &mut Problems) {
    let meant: Vec<String> = problems
        .0
        .iter()
        .filter_map(|p| match &p.kind {
            Kind::UnknownSection { meant } => meant.clone(),
            _ => None,
        })
        .collect();
    problems.0.retain(|p| {
        let echo = meant.iter().any(|m| p.key == *m || p.key.starts_with(&format!("{m}.")));
        !(echo && p.kind == Kind::Missing)
    });
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s).trim()
}

/// Turns serde's wording into ours: what was expected, and a hint where one helps.
fn humanize(key: &str, message: &str) -> Problem {
    let problem = humanized(key, message);
    let kind = if problem.kind == Kind::Missing { Kind::Missing } else { Kind::Parse };
    problem.kind(kind)
}

fn humanized(key: &str, message: &str) -> Problem {
    let message = first_line(message);
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let choices: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let key = key.rsplit_once('.').map_or(String::new(), |(parent, _)| parent.to_string());
        let key = join(&key, field);
        let hint = match did_you_mean(field, choices.iter().copied()) {
            Some(near) => format!("did you mean `{near}`?"),
            None if choices.is_empty() => "remove it".to_string(),
            None => format!("the keys here are: {}", choices.join(", ")),
        };
        return Problem::new(key, format!("unknown key `{field}`")).hint(hint);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return Problem::new(key, format!("missing key `{field}`")).hint(format!("add `{field} = ...` to this table")).kind(Kind::Missing);
    }
    if message.contains("untagged enum RawSecret") {
        return Problem::new(key, "expected a secret reference").hint("write `{ env = \"VARIABLE_NAME\" }`: the value itself never goes in stack.toml");
    }
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        if let Some(number) = found.strip_prefix("integer `").and_then(|r| r.strip_suffix("` as i128")) {
            return Problem::new(key, format!("{number} is out of range: stack.toml integers are 64-bit"))
                .hint("write a number between -9223372036854775808 and 9223372036854775807 (and within this key's own range)");
        }
        let want = plain_type(expected);
        let hint = match (want.as_str(), found) {
            ("an integer", f) if f.starts_with("string") => "write the number without quotes",
            ("an integer", f) if f.starts_with("floating point") => "write a whole number",
            ("an integer", _) => "write a number",
            ("a boolean", _) => "write `true` or `false`, without quotes",
            ("a string", _) => "quote it, e.g. `name = \"value\"`",
            ("an array", _) => "write a list in brackets, e.g. `[\"a\", \"b\"]`",
            ("a table", _) => "write it as a table, `[section]` or `{ key = value }`",
            _ => "",
        };
        let problem = Problem::new(key, format!("expected {want}, found {found}"));
        return if hint.is_empty() { problem } else { problem.hint(hint) };
    }
    Problem::new(key, message.to_string())
}

fn plain_type(serde_type: &str) -> String {
    match serde_type {
        "i64" | "u16" | "u32" | "u64" | "i32" => "an integer".to_string(),
        "a boolean" | "a string" => serde_type.to_string(),
        "a sequence" => "an array".to_string(),
        s if s.starts_with("struct ") || s == "a map" => "a table".to_string(),
        s => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_locates_nested_keys_and_falls_back_to_parents() {
        let src = "[vms.web]\nip = \"10.0.0.5\"\n";
        let (_, index, _) = parse(src);
        assert_eq!(index.locate("vms.web.ip").map(|s| &src[s]), Some("\"10.0.0.5\""));
        assert_eq!(index.locate("vms.web.cores").map(|s| &src[s]), Some("web"));
    }

    #[test]
    fn every_broken_section_is_reported() {
        let src = "domain = 3\n[targets]\nlog_retention_dayz = 7\n[tls]\nenabled = \"yes\"\n";
        let (_, _, problems) = parse(src);
        let keys: Vec<&str> = problems.0.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["domain", "targets.log_retention_dayz", "tls.enabled"]);
    }

    #[test]
    fn problems_carry_their_kind_so_nothing_reads_their_text() {
        let (_, _, problems) = parse("domain = [\n");
        assert!(problems.has_syntax_error() && problems.0.iter().all(|p| p.kind == Kind::Syntax), "{:?}", problems.0);
        let (_, _, problems) = parse("domain = 3\n[proxmx]\nnode = \"pve\"\n");
        assert!(!problems.has_syntax_error());
        let kinds: Vec<&Kind> = problems.0.iter().map(|p| &p.kind).collect();
        assert_eq!(kinds, [&Kind::Parse, &Kind::UnknownSection { meant: Some("proxmox".to_string()) }]);
        assert!(problems.already_reported("domain", false) && !problems.already_reported("dom", true));
    }
}
