//! stack.toml: read it, check it, and hand back the validated `Stack` or every problem at once.

pub mod backend_tls;
pub mod catalog;
pub mod diag;
pub mod model;
pub mod parse;
pub mod raw;
pub mod validate;

pub use model::Stack;

/// Parses and validates stack.toml text. `file` names it in messages (e.g. `stack.toml`).
pub fn from_str(file: &str, src: &str) -> Result<Stack, diag::Report> {
    let (raw, index, mut problems) = parse::parse(src);
    let stack = if problems.0.iter().any(|p| p.message.starts_with("invalid TOML")) { None } else { validate::validate(&raw, &mut problems) };
    match stack {
        Some(stack) if problems.is_empty() => Ok(stack),
        _ => Err(diag::Report::new(file, src, problems.0, |key| index.locate(key))),
    }
}
