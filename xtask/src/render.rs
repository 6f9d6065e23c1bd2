//! The one minijinja Environment: strict undefined, no auto-escaping, quoting filters for each
//! output language, and a loader that serves the templates of `infrastructure/templates/`, read
//! once (`Templates`), so that a render uses exactly the bytes the render memo hashed.
//!
//! A template's path minus `.j2` is its output path under generated/; a `{vm}` segment stands for
//! each VM's name. A file without `.j2` is static: copied as it is (`Renderer::read`). Templates
//! only lay values out: Rust computes them, and every value enters
//! YAML, HCL or JSON through a quoting filter (`yaml`, `hcl`, `json`), never bare.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use minijinja::value::{Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior};

/// Every file under the templates folder, read once: relative path (`/`-separated) → bytes.
#[derive(Debug, Clone, Default)]
pub struct Templates {
    files: Arc<BTreeMap<String, Vec<u8>>>,
}

impl Templates {
    /// Reads every file under `dir` (following symlinks, as a path loader would); a missing
    /// folder holds no template (each render then says which template it cannot load).
    pub fn read(dir: &Path) -> Result<Templates> {
        let mut files = BTreeMap::new();
        if dir.exists() {
            let listed = crate::walk::entries(dir, crate::walk::Links::Follow).with_context(|| format!("{}: cannot read the templates", dir.display()))?;
            // Read on every core: a few dozen files, each a few system calls.
            let read = crate::par::chunks_from(&listed, 16, |part| part.iter().map(|e| std::fs::read(&e.path)).collect());
            for (entry, bytes) in listed.into_iter().zip(read) {
                let bytes = bytes.with_context(|| format!("{}: cannot read", entry.path.display()))?;
                files.insert(entry.rel, bytes);
            }
        }
        Ok(Templates { files: Arc::new(files) })
    }

    /// Every file, sorted by path.
    pub fn files(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files.iter().map(|(p, b)| (p.as_str(), b.as_slice()))
    }

    /// The template `name` as minijinja's `path_loader` would find it: no segment starting with
    /// `.` or holding `\\`; an error when it is not UTF-8.
    fn load(&self, name: &str) -> Result<Option<String>, Error> {
        if name.split('/').any(|s| s.starts_with('.') || s.contains('\\')) {
            return Ok(None);
        }
        let Some(bytes) = self.files.get(name) else { return Ok(None) };
        String::from_utf8(bytes.clone()).map(Some).map_err(|e| {
            Error::new(ErrorKind::InvalidOperation, "could not read template").with_source(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        })
    }
}

pub struct Renderer {
    env: Environment<'static>,
    templates: Templates,
}

impl Renderer {
    /// An environment that loads templates from `templates` (read from `infrastructure/templates`).
    pub fn new(templates: &Templates) -> Renderer {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_debug(true);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        // What every filter returns, a string, is written as it is (outside an autoescape block);
        // anything else as minijinja writes it (strict undefined is checked before this).
        env.set_formatter(|out, state, value| match value.as_str().filter(|_| state.auto_escape() == AutoEscape::None) {
            Some(text) => out.write_str(text).map_err(Error::from),
            None => minijinja::escape_formatter(out, state, value),
        });
        let loader = templates.clone();
        env.set_loader(move |name| loader.load(name));
        env.add_filter("yaml", yaml);
        env.add_filter("yaml_key", yaml_key);
        env.add_filter("json", json);
        env.add_filter("hcl", hcl);
        env.add_filter("indent_lines", indent_lines);
        env.add_filter("ljust", ljust);
        Renderer { env, templates: templates.clone() }
    }

    /// The text of a static file of the templates folder (no `.j2`: nothing in it is rendered).
    pub fn read(&self, file: &str) -> Result<String> {
        let bytes = self.templates.files.get(file).with_context(|| format!("static file {file}: cannot read it: not in the templates folder"))?;
        String::from_utf8(bytes.clone()).with_context(|| format!("static file {file}: cannot read it: not UTF-8"))
    }

    /// Compiles `template` now, if it compiles, instead of on its first render (an error is the
    /// render's to report).
    pub fn compile(&self, template: &str) {
        let _ = self.env.get_template(template);
    }

    /// The templates compiled so far, sorted (for tests).
    pub fn compiled(&self) -> Vec<String> {
        let mut names: Vec<String> = self.env.templates().map(|(name, _)| name.to_string()).collect();
        names.sort();
        names
    }

    /// Renders `template` (relative to the templates folder, with its `.j2`) with `ctx`.
    pub fn render(&self, template: &str, ctx: Value) -> Result<String> {
        let tmpl = self.env.get_template(template).with_context(|| format!("template {template}: cannot load it"))?;
        tmpl.render(ctx).map_err(|err| anyhow::anyhow!("template {template}: {}", chain(&err)))
    }
}

fn chain(err: &Error) -> String {
    let mut out = format!("{err:#}");
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        out.push_str(&format!("\ncaused by: {cause}"));
        source = cause.source();
    }
    out
}

/// The JSON text of a boolean, none or integer value (as `serde_json` writes them), without the
/// detour through a `serde_json` value; `None` for any other value.
fn json_scalar(value: &Value) -> Option<String> {
    match value.kind() {
        ValueKind::Bool => Some(if value.is_true() { "true" } else { "false" }.to_string()),
        ValueKind::None => Some("null".to_string()),
        ValueKind::Number if value.is_integer() => value.as_i64().map(|n| n.to_string()),
        _ => None,
    }
}

fn to_json(value: &Value) -> Result<serde_json::Value, Error> {
    serde_json::to_value(value).map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("cannot serialize value: {e}")))
}

/// A JSON string literal (what `serde_json` writes for a string value). Most strings need no
/// escape at all: those are quoted as they are, into a buffer of the exact size.
fn json_str(s: &str) -> String {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
        return out;
    }
    serde_json::to_string(s).expect("a string always serializes")
}

/// A YAML flow value: JSON is valid YAML, and quoting every string keeps `yes`, `on`, `08` and
/// `: ` from changing meaning.
fn yaml(value: &Value) -> Result<String, Error> {
    json(value)
}

/// A YAML mapping key or plain word: left plain when it is a lowercase word that YAML reads as
/// that string (`prometheus-data`, `log-agents`), else quoted as [`yaml`] does.
fn yaml_key(value: &Value) -> Result<String, Error> {
    const SPECIAL: &[&str] = &["y", "n", "yes", "no", "on", "off", "true", "false", "null"];
    if let Some(s) = value.as_str()
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && !SPECIAL.contains(&s)
    {
        return Ok(s.to_string());
    }
    yaml(value)
}

fn json(value: &Value) -> Result<String, Error> {
    // A string (most values) is written as serde_json writes it, without the detour through a
    // serde_json value.
    match value.as_str() {
        Some(s) => Ok(json_str(s)),
        None => match json_scalar(value) {
            Some(text) => Ok(text),
            None => Ok(to_json(value)?.to_string()),
        },
    }
}

/// An HCL literal: strings are quoted with `${` and `%{` escaped, lists and objects recurse.
fn hcl(value: &Value) -> Result<String, Error> {
    fn escaped(s: &str) -> String {
        let json = json_str(s);
        // Most strings hold no `{` at all: one byte search instead of two substring searches.
        if memchr::memchr(b'{', json.as_bytes()).is_some() && (json.contains("${") || json.contains("%{")) {
            json.replace("${", "$${").replace("%{", "%%{")
        } else {
            json
        }
    }
    fn quoted(s: &str, out: &mut String) {
        out.push_str(&escaped(s));
    }
    fn lit(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::Null => out.push_str("null"),
            serde_json::Value::String(s) => quoted(s, out),
            serde_json::Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    lit(item, out);
                }
                out.push(']');
            }
            serde_json::Value::Object(map) => {
                out.push_str("{ ");
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    quoted(k, out);
                    out.push_str(" = ");
                    lit(v, out);
                }
                out.push_str(" }");
            }
            other => out.push_str(&other.to_string()),
        }
    }
    if let Some(s) = value.as_str() {
        return Ok(escaped(s));
    }
    if let Some(text) = json_scalar(value) {
        return Ok(text);
    }
    let mut out = String::new();
    lit(&to_json(value)?, &mut out);
    Ok(out)
}

/// Indents every line but the first by `width` spaces (for block scalars); empty lines stay
/// empty, so no line ends in spaces.
fn indent_lines(value: &str, width: usize) -> String {
    let pad = " ".repeat(width);
    let lines = memchr::memchr_iter(b'\n', value.as_bytes()).count() + 1;
    let mut out = String::with_capacity(value.len() + lines * width);
    // The lines as `str::lines` gives them (a `\r` before a `\n` dropped), found with memchr.
    let mut rest = value;
    let mut first = true;
    while !rest.is_empty() {
        let (line, next) = match memchr::memchr(b'\n', rest.as_bytes()) {
            Some(i) => (rest[..i].strip_suffix('\r').unwrap_or(&rest[..i]), &rest[i + 1..]),
            None => (rest, ""),
        };
        if !first {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&pad);
            }
        }
        first = false;
        out.push_str(line);
        rest = next;
    }
    out
}

/// `value` padded with spaces to `width` characters: the one helper that aligns columns (e.g.
/// Terraform's `=` signs, as `terraform fmt` does, to the longest key of a block).
fn ljust(value: String, width: usize) -> String {
    let len = value.chars().count();
    format!("{value}{}", " ".repeat(width.saturating_sub(len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_escapes_template_sequences() {
        assert_eq!(hcl(&Value::from("a${b}%{c}")).unwrap(), r#""a$${b}%%{c}""#);
        assert_eq!(hcl(&Value::from(vec!["x", "y"])).unwrap(), r#"["x", "y"]"#);
    }

    #[test]
    fn json_strings_are_what_serde_json_writes() {
        let mut texts: Vec<String> = (0u8..128).map(|b| format!("a{}b", b as char)).collect();
        texts.extend(["", "plain", "é ü 😀", "\u{7f}", "\"quoted\"", "back\\slash", "${x} %{y}", "tab\tnew\nline\r"].map(String::from));
        for text in &texts {
            assert_eq!(json_str(text), serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn ljust_pads_to_the_width_and_never_cuts() {
        assert_eq!(ljust("\"a\"".to_string(), 5), "\"a\"  ");
        assert_eq!(ljust("long".to_string(), 2), "long");
    }

    #[test]
    fn indent_lines_leaves_empty_lines_empty() {
        assert_eq!(indent_lines("a\n\n b\n", 2), "a\n\n   b");
        // Line for line what `str::lines` splits: `\r\n` endings, no final newline, empty text.
        for text in ["a\r\nb\r\n", "a\nb", "", "\n", "\n\n", "a\r", "x\r\n\r\ny", "\ra\n"] {
            let want: Vec<String> = text.lines().enumerate().map(|(i, l)| if i == 0 || l.is_empty() { l.to_string() } else { format!("   {l}") }).collect();
            assert_eq!(indent_lines(text, 3), want.join("\n"), "{text:?}");
        }
    }

    #[test]
    fn hcl_writes_objects_and_nested_lists_as_before() {
        let v = Value::from_serialize(serde_json::json!({"a${": ["x", null, 1, {"k": "%{y}"}], "b": true}));
        assert_eq!(hcl(&v).unwrap(), r#"{ "a$${" = ["x", null, 1, { "k" = "%%{y}" }], "b" = true }"#);
        assert_eq!(hcl(&Value::from("\"q\"\n")).unwrap(), r#""\"q\"\n""#);
        assert_eq!(json(&Value::from("é\u{1}")).unwrap(), serde_json::Value::from("é\u{1}").to_string());
    }

    #[test]
    fn yaml_quotes_strings_that_would_change_meaning() {
        assert_eq!(yaml(&Value::from("yes")).unwrap(), r#""yes""#);
        assert_eq!(yaml(&Value::from(8)).unwrap(), "8");
        assert_eq!(yaml_key(&Value::from("prometheus-data")).unwrap(), "prometheus-data");
        assert_eq!(yaml_key(&Value::from("on")).unwrap(), r#""on""#);
        assert_eq!(yaml_key(&Value::from("a: b")).unwrap(), r#""a: b""#);
        assert_eq!(yaml_key(&Value::from("9x")).unwrap(), r#""9x""#);
    }
}
