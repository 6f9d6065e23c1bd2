//! `cargo xtask check`: render in memory, compare with generated/, never write.

use std::path::Path;

use anyhow::{Result, bail};
use similar::TextDiff;

use crate::cli;
use crate::memo;
use crate::project::Project;
use crate::secrets;
use crate::targets;
use crate::tree::{self, Class, Drift, Tree};
use crate::ui::Ui;

pub fn run(project: &Project, args: &cli::Check, ui: &Ui) -> Result<()> {
    let memo = if args.no_memo { None } else { memo::read(&project.root) };
    let generated = project.generated();
    let (stack, found, files, how) = std::thread::scope(|scope| -> Result<_> {
        // With a memo, generated/ is read and hashed against its manifest while the stack is
        // parsed; it is used only if the inputs turn out to be the memo's (`memo::key`).
        let on_disk = memo.as_ref().map(|m| scope.spawn(|| memo::tree_on_disk(&generated, &m.manifest_sha)));
        // Without one, check renders: generated/ is walked meanwhile (the parse is on one core).
        let listing = memo.is_none().then(|| scope.spawn(|| tree::Listing::walk(&generated)));
        // The templates are read while the stack is parsed (an error of the stack comes first).
        let templates = scope.spawn(|| project.read_templates());
        let (stack, stack_src) = project.load_with_src()?;
        let templates = templates.join().expect("the templates' reading panicked")?;
        let stack_name = project.stack_name();
        let values = secrets::values(&secrets::referenced(&stack), |k| std::env::var(k).ok());
        // A reading that fails is no hit: the full check below reads again and says why. The key
        // is computed only when there is a memo to compare it with.
        let hit = on_disk
            .and_then(|h| h.join().expect("the memo's reading panicked").ok().flatten())
            .filter(|_| memo.as_ref().is_some_and(|m| m.key == memo::key(&stack_name, &stack_src, &stack, &templates)));
        Ok(match hit {
            // The inputs are those of the last gen and generated/ is its tree: no render needed.
            Some(files) => {
                let found = examine_memo_hit(&files, (&stack_name, &stack_src), &values);
                (stack, found, files.len() + 1, "; same inputs as the last gen, not rendered again: --no-memo renders")
            }
            None => {
                let expected = targets::render_with(&stack, &templates)?;
                let listing = match listing {
                    Some(walk) => walk.join().expect("the walk of generated/ panicked"),
                    None => tree::Listing::walk(&generated),
                };
                let found = examine(&expected, &generated, listing, (&stack_name, &stack_src), &values)?;
                (stack, found, expected.len() + 1, "")
            }
        })
    })?;
    let Examined { drift, findings } = found;
    let tls_problems = crate::tls::audit(&stack, crate::certs_cmd::now());
    for problem in &tls_problems {
        println!("tls: {problem}");
    }
    for f in &findings {
        println!("secret  {f}");
    }
    if drift.is_empty() && findings.is_empty() && tls_problems.is_empty() {
        ui.summary(format_args!("check: generated/ is up to date ({files} files{how})"));
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

/// What check found, besides the TLS audit.
pub struct Examined {
    pub drift: Vec<Drift>,
    pub findings: Vec<secrets::Finding>,
}

/// Check's core once the tree is rendered (not yet parsed back): one read of `generated` (as
/// `listing` lists it, `tree::Listing::walk`), the
/// parse-back of every output it does not vouch for, the drift, and the secret scan of the
/// stack file, of what gen would write and of the files on disk that are not byte for byte
/// that (all from the same reading), searching for `values` (`secrets::values`). The scan of
/// the rendered files runs while generated/ is read.
pub fn examine(expected: &Tree, generated: &Path, listing: tree::Listing, stack_file: (&str, &[u8]), values: &[(String, String)]) -> Result<Examined> {
    let (disk, mut findings) = std::thread::scope(|scope| {
        let rendered = scope.spawn(|| {
            let names: Vec<(String, &[u8])> = expected.files().map(|(p, c)| (format!("generated/{p}"), c)).collect();
            secrets::scan(std::iter::once(stack_file).chain(names.iter().map(|(p, c)| (p.as_str(), *c))), values)
        });
        let disk =
            tree::OnDisk::read_listed(expected, generated, listing).and_then(|disk| targets::parse_back(expected, &disk.vouched(expected)).map(|()| disk));
        (disk, rendered.join().expect("the secret scan panicked"))
    });
    let disk = disk?;
    let expected_manifest = expected.manifest();
    let on_disk: Vec<(String, &[u8])> = disk.unscanned(&expected_manifest).map(|(p, c)| (format!("generated/{p}"), c)).collect();
    findings.extend(secrets::scan(on_disk.iter().map(|(p, c)| (p.as_str(), *c)), values));
    findings.sort();
    findings.dedup();
    Ok(Examined { drift: disk.drift(expected), findings })
}

/// Check's core on a memo hit (`memo::tree_on_disk`): generated/ is the tree gen rendered from
/// these inputs, so there is no drift; the secret scan reads the stack file and every file, as
/// `examine` would (it scans the rendered files, which are these bytes).
pub fn examine_memo_hit(files: &[(String, Vec<u8>)], stack_file: (&str, &[u8]), values: &[(String, String)]) -> Examined {
    let names: Vec<(String, &[u8])> = files.iter().map(|(p, c)| (format!("generated/{p}"), c.as_slice())).collect();
    let findings = secrets::scan(std::iter::once(stack_file).chain(names.iter().map(|(p, c)| (p.as_str(), *c))), values);
    Examined { drift: Vec::new(), findings }
}

/// A unified diff from what is on disk to what gen would write.
pub fn unified_diff(d: &Drift) -> String {
    let text = |b: &Option<Vec<u8>>| b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
    let (old, new) = (text(&d.actual), text(&d.expected));
    let old_name = if d.actual.is_some() { format!("a/generated/{}", d.path) } else { "/dev/null".to_string() };
    let new_name = if d.expected.is_some() { format!("b/generated/{}", d.path) } else { "/dev/null".to_string() };
    TextDiff::from_lines(&old, &new).unified_diff().context_radius(3).header(&old_name, &new_name).to_string()
}
