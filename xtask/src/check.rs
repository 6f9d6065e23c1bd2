//! `cargo xtask check`: render in memory, compare with generated/, never write.

use anyhow::{Result, bail};
use similar::TextDiff;

use crate::project::Project;
use crate::secrets;
use crate::tree::{self, Class, Drift};
use crate::ui::Ui;

pub fn run(project: &Project, ui: &Ui) -> Result<()> {
    let stack = project.load()?;
    let expected = project.render(&stack)?;
    let drift = tree::drift(&expected, &project.generated())?;
    let tls_problems = crate::tls::audit(&stack, crate::certs_cmd::now());
    for problem in &tls_problems {
        println!("tls: {problem}");
    }
    let findings = secret_scan(project, &stack, &expected)?;
    for f in &findings {
        println!("secret  {f}");
    }
    if drift.is_empty() && findings.is_empty() && tls_problems.is_empty() {
        ui.summary(format_args!("check: generated/ is up to date ({} files)", expected.len() + 1));
        return Ok(());
    }
    if drift.is_empty() {
        if !findings.is_empty() {
            bail!(
                "{} possible secret(s) in stack.toml or generated/\n  hint: keep secrets in the environment (`{{ env = \"NAME\" }}`) and keys outside git, then rotate any value that was written",
                findings.len()
            );
        }
        bail!("the TLS certificates need attention ({} problem(s) above)\n  hint: see docs/tls.md", tls_problems.len());
    }
    for d in &drift {
        println!("{:<38} generated/{}", d.class.label(), d.path);
    }
    println!();
    for d in &drift {
        print!("{}", unified_diff(d));
    }
    let count = |c: Class| drift.iter().filter(|d| d.class == c).count();
    bail!(
        "generated/ is out of date: {} changed, {} missing, {} hand-edited, {} stale, {} extra{}\n  hint: run `cargo xtask gen` locally and commit the result; move files of your own out of generated/",
        count(Class::Changed),
        count(Class::Missing),
        count(Class::HandEdited),
        count(Class::Stale),
        count(Class::Extra),
        if findings.is_empty() { String::new() } else { format!("; {} possible secret(s)", findings.len()) }
            + &if tls_problems.is_empty() { String::new() } else { format!("; {} TLS problem(s)", tls_problems.len()) }
    )
}

/// The secret scan over stack.toml, what gen would write and what is on disk under generated/,
/// searching for the values that the referenced variables have in this environment.
fn secret_scan(project: &Project, stack: &crate::stack::Stack, expected: &tree::Tree) -> Result<Vec<secrets::Finding>> {
    let stack_path = project.root.join(&project.stack_file);
    let stack_src = std::fs::read(&stack_path).unwrap_or_default();
    let stack_name = project.stack_name();
    let disk = tree::read_disk(&project.generated())?;
    let values = secrets::values(&secrets::referenced(stack), |k| std::env::var(k).ok());
    let expected_names: Vec<(String, &[u8])> = expected.files().map(|(p, c)| (format!("generated/{p}"), c)).collect();
    // A file on disk that is byte for byte what gen renders was scanned as rendered already.
    let disk_names: Vec<(String, &[u8])> =
        disk.iter().filter(|(p, c)| expected.get(p) != Some(c.as_slice())).map(|(p, c)| (format!("generated/{p}"), c.as_slice())).collect();
    let files = std::iter::once((stack_name.as_str(), stack_src.as_slice()))
        .chain(expected_names.iter().map(|(p, c)| (p.as_str(), *c)))
        .chain(disk_names.iter().map(|(p, c)| (p.as_str(), *c)));
    Ok(secrets::scan(files, &values))
}

/// A unified diff from what is on disk to what gen would write.
pub fn unified_diff(d: &Drift) -> String {
    let text = |b: &Option<Vec<u8>>| b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
    let (old, new) = (text(&d.actual), text(&d.expected));
    let old_name = if d.actual.is_some() { format!("a/generated/{}", d.path) } else { "/dev/null".to_string() };
    let new_name = if d.expected.is_some() { format!("b/generated/{}", d.path) } else { "/dev/null".to_string() };
    TextDiff::from_lines(&old, &new).unified_diff().context_radius(3).header(&old_name, &new_name).to_string()
}
