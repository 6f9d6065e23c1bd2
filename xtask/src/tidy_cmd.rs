//! `cargo xtask tidy`: the maintainer checks (formatting, clippy, no hash-ordered container, no
//! over-long file), each run and reported, as rust-analyzer's `cargo xtask tidy` does.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Longest file in xtask/src, in lines: a file that grows past it is split by topic.
pub const MAX_LINES: usize = 600;

/// Hash-ordered containers: their iteration order depends on the hash seed, so an output built
/// from one could change between runs. (Spelt in two parts so this file does not hold them.)
const HASH_ORDERED: [&str; 2] = [concat!("Hash", "Map"), concat!("Hash", "Set")];

/// Every `.rs` file under `dir`, sorted, as (path relative to `dir`, text).
fn rust_files(dir: &Path) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for e in crate::walk::entries(dir, crate::walk::Links::List)? {
        if e.path.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&e.path).with_context(|| format!("{}: cannot read", e.path.display()))?;
            out.push((e.rel, text));
        }
    }
    Ok(out)
}

/// The files under `dir` longer than `max` lines, with their length.
pub fn long_files(dir: &Path, max: usize) -> Result<Vec<(String, usize)>> {
    Ok(rust_files(dir)?.into_iter().map(|(name, text)| (name, text.lines().count())).filter(|(_, n)| *n > max).collect())
}

/// The files under `dir` that name a hash-ordered container, with the name.
pub fn hash_ordered(dir: &Path) -> Result<Vec<(String, &'static str)>> {
    Ok(rust_files(dir)?.into_iter().filter_map(|(name, text)| HASH_ORDERED.iter().find(|w| text.contains(**w)).map(|w| (name, *w))).collect())
}

/// Runs every check in `root` (the repository) and fails naming each one that failed.
pub fn run(root: &Path) -> Result<()> {
    let src = root.join("xtask/src");
    let mut failed = Vec::new();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    for args in [&["fmt", "--all", "--check"][..], &["clippy", "--workspace", "--all-targets", "--quiet", "--", "-D", "warnings"][..]] {
        let what = format!("cargo {}", args.join(" "));
        eprintln!("tidy: {what}");
        let status = Command::new(&cargo).args(args).current_dir(root).status().with_context(|| format!("cannot run {what}"))?;
        if !status.success() {
            failed.push(what);
        }
    }
    for (file, word) in hash_ordered(&src)? {
        failed.push(format!("xtask/src/{file}: uses {word}, whose order depends on the hash seed; use a BTreeMap/BTreeSet"));
    }
    for (file, n) in long_files(&src, MAX_LINES)? {
        failed.push(format!("xtask/src/{file}: {n} lines, over {MAX_LINES}; split it into modules by topic"));
    }
    if !failed.is_empty() {
        bail!("tidy: {} check(s) failed:\n  {}", failed.len(), failed.join("\n  "));
    }
    println!("tidy: fmt, clippy, no hash-ordered container, every file of xtask/src within {MAX_LINES} lines");
    Ok(())
}
