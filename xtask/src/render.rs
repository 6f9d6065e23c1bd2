//! The one minijinja Environment: strict undefined, no auto-escaping, quoting filters for each
//! output language, and a loader rooted at `infrastructure/templates/`.
//!
//! A template's path minus `.j2` is its output path under generated/; a `{vm}` segment stands for
//! each VM's name. A file without `.j2` is static: copied as it is (`Renderer::read`). Templates only lay values out: Rust computes them, and every value enters
//! YAML, HCL or JSON through a quoting filter (`yaml`, `hcl`, `json`), never bare.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior};

pub struct Renderer {
    env: Environment<'static>,
    dir: PathBuf,
}

impl Renderer {
    /// An environment that loads templates from `dir` (normally `infrastructure/templates`).
    pub fn new(dir: &Path) -> Renderer {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_debug(true);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_loader(minijinja::path_loader(dir));
        env.add_filter("yaml", yaml);
        env.add_filter("yaml_key", yaml_key);
        env.add_filter("json", json);
        env.add_filter("hcl", hcl);
        env.add_filter("indent_lines", indent_lines);
        env.add_filter("ljust", ljust);
        Renderer { env, dir: dir.to_path_buf() }
    }

    /// The text of a static file of the templates folder (no `.j2`: nothing in it is rendered).
    pub fn read(&self, file: &str) -> Result<String> {
        std::fs::read_to_string(self.dir.join(file)).with_context(|| format!("static file {file}: cannot read it"))
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

fn to_json(value: &Value) -> Result<serde_json::Value, Error> {
    serde_json::to_value(value).map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("cannot serialize value: {e}")))
}

/// A YAML flow value: JSON is valid YAML, and quoting every string keeps `yes`, `on`, `08` and
/// `: ` from changing meaning.
fn yaml(value: &Value) -> Result<String, Error> {
    Ok(to_json(value)?.to_string())
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
    Ok(to_json(value)?.to_string())
}

/// An HCL literal: strings are quoted with `${` and `%{` escaped, lists and objects recurse.
fn hcl(value: &Value) -> Result<String, Error> {
    fn lit(v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::Null => "null".to_string(),
            serde_json::Value::String(s) => serde_json::Value::String(s.clone()).to_string().replace("${", "$${").replace("%{", "%%{"),
            serde_json::Value::Array(items) => format!("[{}]", items.iter().map(lit).collect::<Vec<_>>().join(", ")),
            serde_json::Value::Object(map) => {
                let fields: Vec<String> = map.iter().map(|(k, v)| format!("{} = {}", lit(&serde_json::Value::String(k.clone())), lit(v))).collect();
                format!("{{ {} }}", fields.join(", "))
            }
            other => other.to_string(),
        }
    }
    Ok(lit(&to_json(value)?))
}

/// Indents every line but the first by `width` spaces (for block scalars); empty lines stay
/// empty, so no line ends in spaces.
fn indent_lines(value: String, width: usize) -> String {
    let pad = " ".repeat(width);
    let lines: Vec<String> = value.lines().enumerate().map(|(i, l)| if i == 0 || l.is_empty() { l.to_string() } else { format!("{pad}{l}") }).collect();
    lines.join("\n")
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
    fn ljust_pads_to_the_width_and_never_cuts() {
        assert_eq!(ljust("\"a\"".to_string(), 5), "\"a\"  ");
        assert_eq!(ljust("long".to_string(), 2), "long");
    }

    #[test]
    fn indent_lines_leaves_empty_lines_empty() {
        assert_eq!(indent_lines("a\n\n b\n".to_string(), 2), "a\n\n   b");
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
