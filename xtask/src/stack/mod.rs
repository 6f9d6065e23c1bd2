//! stack.toml: read it, check it, and hand back the validated `Stack` or every problem at once.

pub mod backend_tls;
pub mod catalog;
pub mod cluster;
pub mod day2;
pub mod diag;
pub mod loki_storage;
pub mod model;
pub mod parse;
pub mod raw;
pub mod rule_ranges;
pub mod validate;
pub mod workable;

pub use model::Stack;

/// Reads the committed certificates of a `tls.certs_dir` (relative to the repository root): the
/// one input of the model that is not in stack.toml. The edge (`Project`) reads the disk;
/// validation asks once it knows the folder, so the `Stack` it returns is complete.
pub type ReadCerts<'a> = &'a mut dyn FnMut(&str) -> model::CommittedCerts;

/// Parses and validates stack.toml text, as a lab with no committed certificate (a test's stack,
/// a synthetic lab). `file` names it in messages (e.g. `stack.toml`).
pub fn from_str(file: &str, src: &str) -> Result<Stack, diag::Report> {
    from_str_with(file, src, catalog::SERVICES)
}

/// [`from_str`] against another service catalog than [`catalog::SERVICES`] (tests: a catalog
/// with one service more shows what adding a service takes).
pub fn from_str_with(file: &str, src: &str, catalog: &[catalog::ServiceSpec]) -> Result<Stack, diag::Report> {
    parse_and_validate(file, src, &mut |_| model::CommittedCerts::default(), catalog, None)
}

/// Like [`from_str`], and with `before` (what gen last wrote, and today's date, taken at the
/// edge) the day-2 guard of Loki's schema periods (`loki_storage::guard`).
pub fn from_str_before(file: &str, src: &str, before: Option<&loki_storage::Before>) -> Result<Stack, diag::Report> {
    parse_and_validate(file, src, &mut |_| model::CommittedCerts::default(), catalog::SERVICES, before)
}

/// Parse and validate `src`, with the committed certificates that `read_certs` finds and, given
/// `before`, the day-2 guard of Loki's schema periods.
fn parse_and_validate(
    file: &str,
    src: &str,
    read_certs: ReadCerts,
    catalog: &[catalog::ServiceSpec],
    before: Option<&loki_storage::Before>,
) -> Result<Stack, diag::Report> {
    let (raw, index, mut problems) = parse::parse(src);
    let stack = if problems.has_syntax_error() { None } else { validate::validate_with(&raw, &mut problems, read_certs, catalog) };
    if let (Some(stack), Some(before)) = (&stack, before) {
        loki_storage::guard(&mut problems, &stack.services.loki.storage, before);
        day2::roots(&mut problems, stack, &before.roots);
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
    from_bytes_with(file, bytes, &mut |_| model::CommittedCerts::default(), None)
}

/// Like [`from_bytes`], with the committed certificates that `read_certs` finds and the day-2
/// guard of [`from_str_before`] (`Project::parse`).
pub fn from_bytes_with(file: &str, bytes: &[u8], read_certs: ReadCerts, before: Option<&loki_storage::Before>) -> Result<Stack, diag::Report> {
    match std::str::from_utf8(bytes) {
        Ok(src) => parse_and_validate(file, src, read_certs, catalog::SERVICES, before),
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
