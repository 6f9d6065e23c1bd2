//! stack.toml: read it, check it, and hand back the validated `Stack` or every problem at once.

pub mod backend_tls;
pub mod catalog;
pub mod day2;
pub mod diag;
pub mod loki_storage;
pub mod model;
pub mod parse;
pub mod raw;
pub mod validate;
pub mod workable;

pub use model::Stack;

/// Parses and validates stack.toml text. `file` names it in messages (e.g. `stack.toml`).
pub fn from_str(file: &str, src: &str) -> Result<Stack, diag::Report> {
    from_str_before(file, src, None)
}

/// Like [`from_str`], and with `before` (what gen last wrote, and today's date, taken at the
/// edge) the day-2 guard of Loki's schema periods (`loki_storage::guard`).
pub fn from_str_before(file: &str, src: &str, before: Option<&loki_storage::Before>) -> Result<Stack, diag::Report> {
    let (raw, index, mut problems) = parse::parse(src);
    let stack = if problems.has_syntax_error() { None } else { validate::validate(&raw, &mut problems) };
    if let (Some(stack), Some(before)) = (&stack, before) {
        loki_storage::guard(&mut problems, &stack.services.loki.storage, before);
    }
    parse::drop_misspelt_section_echoes(&mut problems);
    match stack {
        Some(stack) if problems.is_empty() => Ok(stack),
        _ => Err(diag::Report::new(file, src, problems.0, |key| index.locate(key))),
    }
}

/// Like [`from_str`], for the bytes of a file: text that is not UTF-8 is one located problem
/// (where the first bad byte is, and how to convert the file), not an I/O error.
pub fn from_bytes(file: &str, bytes: &[u8]) -> Result<Stack, diag::Report> {
    from_bytes_before(file, bytes, None)
}

/// [`from_bytes`] with the day-2 guard of [`from_str_before`].
pub fn from_bytes_before(file: &str, bytes: &[u8], before: Option<&loki_storage::Before>) -> Result<Stack, diag::Report> {
    match std::str::from_utf8(bytes) {
        Ok(src) => from_str_before(file, src, before),
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            let prefix = std::str::from_utf8(valid).unwrap_or_default();
            let byte = bytes.get(e.valid_up_to()).copied().unwrap_or(0);
            let problem = diag::Problem::new("", format!("not UTF-8 text: byte 0x{byte:02x} is not valid UTF-8 (TOML files are UTF-8)"))
                .hint("save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 stack.toml > stack.utf8.toml` and move it back")
                .at(prefix.len()..prefix.len());
            Err(diag::Report::new(file, prefix, vec![problem], |_| None))
        }
    }
}
