//! `cargo xtask check`: render in memory, compare with generated/, never write.

use std::path::Path;

use anyhow::{Result, bail};
use similar::TextDiff;

use crate::cli;
use crate::memo;
use crate::project::Project;
use crate::render::Templates;
use crate::secrets;
use crate::stack::Stack;
use crate::targets;
use crate::tree::{self, Class, Drift, Tree};
use crate::ui::Ui;

pub fn run(project: &Project, args: &cli::Check, ui: &Ui) -> Result<()> {
    let memo = if args.no_memo { None } else { memo::read(&project.root) };
    let (generated, stack_name) = (project.generated(), project.stack_name());
    let sources = Sources { generated: &generated, stack_name: &stack_name, load: &|| project.load_with_src(), templates: &|| project.read_templates() };
    let Checked { found, files, rendered, tls_problems } = work(&sources, memo.as_ref(), &|k| std::env::var(k).ok(), crate::certs_cmd::now())?;
    let how = if rendered { "" } else { "; same inputs as the last gen, not rendered again: --no-memo renders" };
    let Examined { drift, findings } = found;
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
    // A file with a possible secret in it gets no diff: CI logs would show the secret.
    for d in &drift {
        let file = format!("generated/{}", d.path);
        if findings.iter().any(|f| f.file == file) {
            println!("--- {file}: diff withheld, it holds a possible secret (named above)\n");
        } else {
            print!("{}", unified_diff(d));
        }
    }
    let count = |c: Class| drift.iter().filter(|d| d.class == c).count();
    bail!(
        "generated/ is out of date: {} changed, {} missing, {} hand-edited, {} stale, {} extra{}\n  hint: run `cargo xtask gen` locally and commit the result; move files of your own out of generated/",
        count(Class::Changed),
        count(Class::Missing),
        count(Class::HandEdited),
        count(Class::Stale),
        count(Class::Extra) + count(Class::StaleEdited),
        if findings.is_empty() { String::new() } else { format!("; {} possible secret(s)", findings.len()) }
            + &if tls_problems.is_empty() { String::new() } else { format!("; {} TLS problem(s)", tls_problems.len()) }
    )
}

/// What check reads: generated/, the stack file (by `load`, which parses and validates it and
/// returns its bytes too) and the templates folder (by `templates`).
pub struct Sources<'a> {
    pub generated: &'a Path,
    pub stack_name: &'a str,
    pub load: &'a (dyn Fn() -> Result<(Stack, Vec<u8>)> + Sync),
    pub templates: &'a (dyn Fn() -> Result<Templates> + Sync),
}

/// What check's work gives for printing.
pub struct Checked {
    pub found: Examined,
    /// What the TLS audit found (`tls::audit`), one line each.
    pub tls_problems: Vec<String>,
    /// Files of the tree, the manifest included.
    pub files: usize,
    /// Whether the stack was rendered (no memo, or the memo did not hit).
    pub rendered: bool,
}

/// How many bytes of generated/ check reads while the templates are read and compiled (then
/// compared from memory): a small lab's whole tree; a large one's rest is read after the render
/// (reading it all ahead cost a 1,000-VM check more in copies than the overlap saved).
const READ_AHEAD: usize = 2 << 20;

/// Check's work, without printing: with a `memo`, generated/ is read and hashed against its
/// manifest while the stack is parsed, and used only if the inputs turn out to be the memo's
/// (`memo::key`); without one, or when it does not hit, the stack is rendered and compared with
/// generated/, which is walked (its first `READ_AHEAD` bytes read) while the templates are read
/// and compiled. `env` gives the secret variables' values for the scan; the TLS audit runs at
/// `now` (Unix time), beside the render. The bench times exactly this.
pub fn work(sources: &Sources, memo: Option<&memo::Memo>, env: &(dyn Fn(&str) -> Option<String> + Sync), now: i64) -> Result<Checked> {
    let generated = sources.generated;
    std::thread::scope(|scope| -> Result<_> {
        let on_disk = memo.map(|m| scope.spawn(|| memo::tree_on_disk(generated, &m.manifest_sha)));
        let listing = memo.is_none().then(|| scope.spawn(|| tree::Listing::walk_and_read(generated, READ_AHEAD)));
        // The templates are read, and compiled when check will render, while the stack is parsed
        // (an error of the stack comes first).
        let templates = scope.spawn(|| {
            let templates = (sources.templates)()?;
            let renderers = memo.is_none().then(|| targets::Renderers::new(&templates));
            if let Some(r) = &renderers {
                r.compile(&templates);
            }
            anyhow::Ok((templates, renderers))
        });
        let (stack, stack_src) = (sources.load)()?;
        let (templates, renderers) = templates.join().expect("the templates' reading panicked")?;
        let values = || secrets::values(&secrets::referenced(&stack), env);
        // A reading that fails is no hit: the full check below reads again and says why. The key
        // is computed only when there is a memo to compare it with.
        let hit = on_disk
            .and_then(|h| h.join().expect("the memo's reading panicked").ok().flatten())
            .filter(|_| memo.is_some_and(|m| m.key == memo::key(sources.stack_name, &stack_src, &stack, &templates)));
        if let Some(files) = hit {
            // The inputs are those of the last gen and generated/ is its tree: no render needed.
            let (found, tls_problems) = std::thread::scope(|inner| {
                let tls = inner.spawn(|| crate::tls::audit(&stack, now));
                let found = examine_memo_hit(&files, (sources.stack_name, &stack_src), &values());
                (found, tls.join().expect("the TLS audit panicked"))
            });
            return Ok(Checked { found, tls_problems, files: files.len() + 1, rendered: false });
        }
        // The secret values (only the scan needs them) and the TLS audit: found while the stack
        // renders.
        let (expected, (values, tls_problems)) = std::thread::scope(|inner| {
            let beside = inner.spawn(|| (values(), crate::tls::audit(&stack, now)));
            let renderers = renderers.unwrap_or_else(|| targets::Renderers::new(&templates));
            (targets::render_prepared(&stack, &renderers), beside.join().expect("the secret values or the TLS audit panicked"))
        });
        let expected = expected?;
        let listing = match listing {
            Some(walk) => walk.join().expect("the walk of generated/ panicked"),
            None => tree::Listing::walk(generated),
        };
        let found = examine(&expected, generated, listing, (sources.stack_name, &stack_src), &values)?;
        Ok(Checked { found, tls_problems, files: expected.len() + 1, rendered: true })
    })
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
