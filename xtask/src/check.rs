//! `cargo xtask check`: render in memory, compare with generated/, never write.

use anyhow::{Result, bail};
use similar::TextDiff;

use crate::cli::Flags;
use crate::project::Project;
use crate::tree::{self, Class, Drift};

pub fn run(flags: &Flags) -> Result<()> {
    let project = Project::from_flags(flags);
    let stack = project.load()?;
    let expected = project.render(&stack)?;
    let drift = tree::drift(&expected, &project.generated())?;
    let tls_problems = crate::tls::audit(&stack, crate::certs_cmd::now());
    for problem in &tls_problems {
        println!("tls: {problem}");
    }
    if drift.is_empty() {
        if !tls_problems.is_empty() {
            bail!("the TLS certificates need attention ({} problem(s) above)", tls_problems.len());
        }
        println!("check: generated/ is up to date ({} files)", expected.len() + 1);
        return Ok(());
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
        "generated/ is out of date: {} changed, {} missing, {} hand-edited, {} stale, {} extra\n  hint: run `cargo xtask gen` locally and commit the result; move files of your own out of generated/",
        count(Class::Changed),
        count(Class::Missing),
        count(Class::HandEdited),
        count(Class::Stale),
        count(Class::Extra)
    )
}

/// A unified diff from what is on disk to what gen would write.
pub fn unified_diff(d: &Drift) -> String {
    let text = |b: &Option<Vec<u8>>| b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
    let (old, new) = (text(&d.actual), text(&d.expected));
    let old_name = if d.actual.is_some() { format!("a/generated/{}", d.path) } else { "/dev/null".to_string() };
    let new_name = if d.expected.is_some() { format!("b/generated/{}", d.path) } else { "/dev/null".to_string() };
    TextDiff::from_lines(&old, &new).unified_diff().context_radius(3).header(&old_name, &new_name).to_string()
}
