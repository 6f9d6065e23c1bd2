//! The interleaved rounds of `cargo xtask bench`: in each round, the floor the disk allows (a
//! plain read-and-compare of the tree, a plain write of its files, one sync) and, right after
//! it, check and gen themselves, so that load from other processes hits both alike and every
//! figure is a ratio to a floor measured moments before it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};

use crate::check;
use crate::gen_cmd;
use crate::memo;
use crate::project::Project;
use crate::stack::Stack;
use crate::tree::{self, Tree};

/// A child round's seconds: `check`, `check --no-memo`, `gen` into an empty tree.
pub type Children = (f64, f64, f64);

/// The figures of one round, in seconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Round {
    /// Plain read of every file of an up-to-date generated/ and comparison with the tree.
    pub floor_read: f64,
    /// Plain write of every file into an empty directory (no sync).
    pub floor_write: f64,
    /// One sync of those files (`syncfs` on Linux).
    pub floor_sync: f64,
    /// Parse + validate + render (with the full parse-back).
    pub render: f64,
    /// Check over the up-to-date generated/: parse, validate, render, read, drift, secret scan.
    pub check: f64,
    /// The same check on a render-memo hit: parse, validate, the memo's key (templates read and
    /// hashed), read and hash generated/, secret scan; no render. Both are `check::work`, the
    /// work of `cargo xtask check` without its printing.
    pub check_memo: f64,
    /// Gen into an empty generated/: parse, validate, render, parse-back, write, sync, manifest.
    pub gen_empty: f64,
    /// Gen over an up-to-date generated/ (writes nothing).
    pub gen_same: f64,
    /// `check`, `check --no-memo` (the full render, as CI runs it) and `gen` of another build of
    /// xtask, as child processes (`XTASK_BENCH_BEFORE`).
    pub before: Option<Children>,
    /// The same three of this build, as child processes, when `before` is measured.
    pub after: Option<Children>,
}

impl Round {
    pub fn write_floor(&self) -> f64 {
        self.floor_write + self.floor_sync
    }
}

/// A throwaway directory for one stack's rounds.
pub fn temp_dir(name: &str) -> PathBuf {
    let slug: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let base = std::env::var_os("XTASK_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = base.join(format!("xtask-bench-{}-{slug}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn secs(f: impl FnOnce() -> Result<()>) -> Result<f64> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed().as_secs_f64())
}

/// The read floor: every file of `tree` (and its manifest) read from `dir` and compared.
fn read_and_compare(tree: &Tree, manifest: &[u8], dir: &Path) -> Result<()> {
    let mut same = fs::read(dir.join(tree::MANIFEST))? == manifest;
    for (path, bytes) in tree.files() {
        same &= fs::read(dir.join(path))? == bytes;
    }
    ensure!(same, "{}: the floor's tree is not the tree", dir.display());
    Ok(())
}

/// The write floor: every file of `tree` (and its manifest) written into the empty `dir`.
fn plain_write(tree: &Tree, manifest: &[u8], dir: &Path) -> Result<()> {
    fs::create_dir_all(dir)?;
    let mut made = std::collections::BTreeSet::new();
    for (path, bytes) in tree.files() {
        let full = dir.join(path);
        if let Some(parent) = full.parent().filter(|p| !made.contains(*p)) {
            fs::create_dir_all(parent)?;
            made.insert(parent.to_path_buf());
        }
        fs::write(full, bytes)?;
    }
    fs::write(dir.join(tree::MANIFEST), manifest)?;
    Ok(())
}

/// One stack's rounds: `src` is the stack file, loaded and rendered as `project` does (its
/// templates and committed certificates); `before` another
/// build of xtask to time as a child process against the same floors.
pub struct Bench<'a> {
    pub name: &'a str,
    pub src: &'a str,
    pub project: &'a Project,
    pub before: Option<&'a Path>,
    /// A repository root for child processes (stack.toml, infrastructure/), when `before` is set.
    pub root_of: Option<&'a Path>,
}

impl Bench<'_> {
    fn load(&self) -> Result<Stack> {
        self.project.parse("stack.toml", self.src.as_bytes()).map_err(|e| anyhow::anyhow!("{}: {e}", self.name))
    }

    fn render(&self) -> Result<Tree> {
        self.project.render_unparsed(&self.load()?)
    }

    /// Runs `rounds` rounds; returns them with the tree's file count.
    pub fn run(&self, rounds: usize) -> Result<(Vec<Round>, usize)> {
        let first = self.project.render(&self.load()?)?;
        let manifest = first.manifest().into_bytes();
        // The memo gen would record for this stack's inputs and tree.
        let memo = memo::Memo {
            key: memo::key("stack.toml", self.src.as_bytes(), &self.load()?, &self.project.read_templates()?),
            manifest_sha: tree::sha256_hex(&manifest),
        };
        let base = temp_dir(self.name);
        let (same, write_dir, gen_dir) = (base.join("same"), base.join("write"), base.join("gen"));
        tree::write(&first, &same)?;
        let children = match (self.before, self.root_of) {
            (Some(before), Some(example_root)) => Some(self.child_roots(&base, before, example_root)?),
            _ => None,
        };
        let mut out = Vec::new();
        for _ in 0..rounds {
            let mut r = Round { floor_read: secs(|| read_and_compare(&first, &manifest, &same))?, ..Round::default() };
            // As `cargo xtask check` loads it: validated with the day-2 guards against this tree.
            let load = || {
                let before = Project::before_in(&same, crate::certs_cmd::now());
                let stack = self.project.parse_before("stack.toml", self.src.as_bytes(), Some(&before)).map_err(|e| anyhow::anyhow!("{}: {e}", self.name))?;
                Ok((stack, self.src.as_bytes().to_vec()))
            };
            let sources = check::Sources { generated: &same, stack_name: "stack.toml", load: &load, templates: &|| self.project.read_templates() };
            let no_env = |_: &str| None;
            r.check = secs(|| {
                let done = check::work(&sources, None, &no_env, crate::certs_cmd::now())?;
                ensure!(done.rendered && done.found.drift.is_empty() && done.found.findings.is_empty(), "{}: check found drift or secrets", self.name);
                Ok(())
            })?;
            r.check_memo = secs(|| {
                let done = check::work(&sources, Some(&memo), &no_env, crate::certs_cmd::now())?;
                ensure!(!done.rendered, "{}: the memo did not hit", self.name);
                ensure!(done.found.findings.is_empty(), "{}: check found secrets", self.name);
                Ok(())
            })?;
            r.render = secs(|| self.project.render(&self.load()?).map(drop))?;
            let _ = fs::remove_dir_all(&write_dir);
            r.floor_write = secs(|| plain_write(&first, &manifest, &write_dir))?;
            r.floor_sync = secs(|| sync(&write_dir))?;
            let _ = fs::remove_dir_all(&gen_dir);
            r.gen_empty = secs(|| gen_cmd::write_generated(&self.render()?, &gen_dir, &mut tree::RealDisk).map(drop))?;
            r.gen_same = secs(|| {
                let summary = gen_cmd::write_generated(&self.render()?, &gen_dir, &mut tree::RealDisk)?;
                ensure!(summary.created.len() + summary.updated.len() + summary.removed.len() == 0, "{}: a second gen wrote", self.name);
                Ok(())
            })?;
            if let Some((before_root, after_root, before, after)) = &children {
                r.before = Some(child_round(before, before_root)?);
                r.after = Some(child_round(after, after_root)?);
            }
            out.push(r);
        }
        let _ = fs::remove_dir_all(&base);
        Ok((out, first.len() + 1))
    }

    /// Two repository roots holding this stack (one per build), each generated by its build.
    fn child_roots(&self, base: &Path, before: &Path, example_root: &Path) -> Result<(PathBuf, PathBuf, PathBuf, PathBuf)> {
        let after = std::env::current_exe().context("the bench's own executable")?;
        let mut roots = Vec::new();
        for (which, exe) in [("before", before), ("after", after.as_path())] {
            let root = base.join(which);
            fs::create_dir_all(&root)?;
            fs::write(root.join("stack.toml"), self.src)?;
            #[cfg(unix)]
            std::os::unix::fs::symlink(example_root.join("infrastructure"), root.join("infrastructure"))?;
            let out = Command::new(exe).args(["gen", "--root"]).arg(&root).output().with_context(|| format!("{}: cannot run", exe.display()))?;
            ensure!(out.status.success(), "{} gen: {}", exe.display(), String::from_utf8_lossy(&out.stderr));
            roots.push(root);
        }
        Ok((roots[0].clone(), roots[1].clone(), before.to_path_buf(), after))
    }
}

/// The peak resident memory (KiB) of `cargo xtask check` and of `gen` into an empty
/// generated/, each run alone as a child process of this build on a root holding `src`.
pub fn child_peaks(name: &str, src: &str, example_root: &Path) -> Result<(u64, u64)> {
    let exe = std::env::current_exe().context("the bench's own executable")?;
    let root = temp_dir(&format!("{name}-peak"));
    fs::create_dir_all(&root)?;
    fs::write(root.join("stack.toml"), src)?;
    #[cfg(unix)]
    std::os::unix::fs::symlink(example_root.join("infrastructure"), root.join("infrastructure"))?;
    let peak = |cmd: &str| -> Result<u64> {
        let out = Command::new(&exe).args(["bench", "--root"]).arg(&root).env(PEAK_ENV, cmd).output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        ensure!(out.status.success(), "{cmd} (peak): {text}{}", String::from_utf8_lossy(&out.stderr));
        text.lines().find_map(|l| l.strip_prefix("peak_kib ")).and_then(|k| k.trim().parse().ok()).context("the child printed no peak")
    };
    let generate = peak("gen")?;
    let check = peak("check")?;
    let _ = fs::remove_dir_all(&root);
    Ok((check, generate))
}

/// Set in a child of the bench: run this command, then print the process's peak memory.
pub const PEAK_ENV: &str = "XTASK_BENCH_PEAK_OF";

/// `check` over the up-to-date tree (a memo hit: the build's own gen made it), `check --no-memo`,
/// then `gen` into an empty tree, each as a child process.
fn child_round(exe: &Path, root: &Path) -> Result<Children> {
    let run = |args: &[&str]| -> Result<()> {
        let out = Command::new(exe).args(args).arg("--root").arg(root).output().with_context(|| format!("{}: cannot run", exe.display()))?;
        ensure!(out.status.success(), "{} {}: {}{}", exe.display(), args.join(" "), String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        Ok(())
    };
    let check = secs(|| run(&["check"]))?;
    let full = secs(|| run(&["check", "--no-memo"]))?;
    let saved = root.join("generated.saved");
    let _ = fs::remove_dir_all(&saved);
    fs::rename(root.join("generated"), &saved)?;
    let generate = secs(|| run(&["gen"]))?;
    fs::remove_dir_all(&saved)?;
    Ok((check, full, generate))
}

/// The floor's sync: what gen's one sync costs for the same files.
fn sync(dir: &Path) -> Result<()> {
    tree::RealDisk.sync(dir, &[]).with_context(|| format!("{}: cannot sync", dir.display()))
}

use tree::Writer as _;

/// min, median and max.
pub fn spread(mut xs: Vec<f64>) -> (f64, f64, f64) {
    xs.sort_by(f64::total_cmp);
    if xs.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    (xs[0], xs[xs.len() / 2], xs[xs.len() - 1])
}

pub fn median(xs: impl Iterator<Item = f64>) -> Duration {
    Duration::from_secs_f64(spread(xs.collect()).1.max(0.0))
}
