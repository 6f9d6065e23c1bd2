//! The in-memory output tree and the only code that touches generated/ on disk: compare it with
//! the disk (drift), write what changed, and remove what this generator made and no longer makes.
//!
//! Ownership lives in `generated/.manifest.sha256` (sha256sum format): a file not listed there
//! was not made by gen, so gen never deletes it, whatever it is.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};

pub const MANIFEST: &str = ".manifest.sha256";
const LOCK: &str = ".xtask.lock";
const TMP_SUFFIX: &str = ".xtask-tmp";

/// Output files by path relative to generated/, sorted so that every listing is deterministic.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tree {
    files: BTreeMap<String, Vec<u8>>,
}

impl Tree {
    /// Adds a file. Refuses a path that could leave generated/ and a path given twice.
    pub fn insert(&mut self, path: &str, contents: impl Into<Vec<u8>>) -> Result<()> {
        check_relative(path)?;
        if path == MANIFEST {
            bail!("{path}: reserved for the ownership manifest");
        }
        if self.files.insert(path.to_string(), contents.into()).is_some() {
            bail!("{path}: two outputs claim this path");
        }
        Ok(())
    }

    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    pub fn files(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files.iter().map(|(p, c)| (p.as_str(), c.as_slice()))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The manifest text for this tree: `sha256  path`, one line per file, sorted by path.
    pub fn manifest(&self) -> String {
        self.files.iter().map(|(p, c)| format!("{}  {p}\n", sha256_hex(c))).collect()
    }

    /// This tree plus its manifest: everything that should be on disk.
    pub fn with_manifest(&self) -> BTreeMap<String, Vec<u8>> {
        let mut all = self.files.clone();
        all.insert(MANIFEST.to_string(), self.manifest().into_bytes());
        all
    }
}

/// A path is relative, made of plain segments, with no `..` and no empty segment.
pub fn check_relative(path: &str) -> Result<()> {
    let p = Path::new(path);
    let plain =
        !path.is_empty() && !path.contains('\\') && !path.contains("//") && !path.ends_with('/') && p.components().all(|c| matches!(c, Component::Normal(_)));
    if !plain {
        bail!("{path:?}: output paths must stay inside generated/ (relative, no `..`)");
    }
    Ok(())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a manifest: path to recorded hash. A missing or unreadable manifest owns nothing, so a
/// manifest deleted or mangled by hand can only make gen keep files, never delete them.
pub fn read_manifest(root: &Path) -> BTreeMap<String, String> {
    let Ok(text) = fs::read_to_string(root.join(MANIFEST)) else { return BTreeMap::new() };
    text.lines()
        .filter_map(|line| {
            let (hash, path) = line.split_once("  ")?;
            let ok = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) && check_relative(path).is_ok();
            ok.then(|| (path.to_string(), hash.to_string()))
        })
        .collect()
}

/// How a file on disk differs from what gen would write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// The inputs changed: the file is as gen last wrote it, but gen would now write it otherwise.
    Changed,
    /// Gen would write it; it is not on disk.
    Missing,
    /// Someone edited it after gen wrote it (its hash is not the manifest's).
    HandEdited,
    /// Gen wrote it before and no longer makes it: gen will remove it.
    Stale,
    /// Not made by gen (not in the manifest): gen keeps it; check reports it.
    Extra,
}

impl Class {
    pub fn label(self) -> &'static str {
        match self {
            Class::Changed => "changed",
            Class::Missing => "missing",
            Class::HandEdited => "hand-edited",
            Class::Stale => "extra (stale, gen removes it)",
            Class::Extra => "extra (not generated, gen keeps it)",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Drift {
    pub path: String,
    pub class: Class,
    pub expected: Option<Vec<u8>>,
    pub actual: Option<Vec<u8>>,
}

/// Files that tools put next to generated files and that check ignores: Terraform's working
/// files, and gen's own lock and temporary files.
pub fn is_working_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    path.split('/').any(|seg| seg == ".terraform")
        || name == ".terraform.lock.hcl"
        || name.ends_with(".tfstate")
        || name.contains(".tfstate.")
        || name.ends_with(".tfplan")
        || name == LOCK
        || name.ends_with(TMP_SUFFIX)
}

/// Every file under `root`, relative, sorted. A missing root is empty.
fn disk_files(root: &Path) -> Result<Vec<String>> {
    if !root.exists() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.with_context(|| format!("{}: cannot list", root.display()))?;
        if entry.file_type().is_file() || entry.file_type().is_symlink() {
            let rel = entry.path().strip_prefix(root).expect("walkdir stays under root");
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(out)
}

fn read_opt(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("{}: cannot read", path.display())),
    }
}

/// Every file under `root` that is not a working file, with its bytes, sorted by path: what the
/// secret scan of check reads.
pub fn read_disk(root: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    not_a_file(root)?;
    let mut out = Vec::new();
    for path in disk_files(root)? {
        if is_working_file(&path) {
            continue;
        }
        if let Some(bytes) = read_opt(&root.join(&path))? {
            out.push((path, bytes));
        }
    }
    Ok(out)
}

/// generated/ must be a directory or absent; anything else is named in the error.
fn not_a_file(root: &Path) -> Result<()> {
    if root.exists() && !root.is_dir() {
        bail!("{}: is not a directory (the generated tree lives there); move it away and run `cargo xtask gen`", root.display());
    }
    Ok(())
}

/// Compares the expected tree with `root` on disk. Never writes.
pub fn drift(expected: &Tree, root: &Path) -> Result<Vec<Drift>> {
    not_a_file(root)?;
    let manifest = read_manifest(root);
    let all = expected.with_manifest();
    let mut out = Vec::new();
    for (path, want) in &all {
        let have = read_opt(&root.join(path))?;
        let class = match &have {
            None => Class::Missing,
            Some(have) if have == want => continue,
            Some(have) => match manifest.get(path) {
                Some(recorded) if *recorded != sha256_hex(have) && path != MANIFEST => Class::HandEdited,
                _ => Class::Changed,
            },
        };
        out.push(Drift { path: path.clone(), class, expected: Some(want.clone()), actual: have });
    }
    for path in disk_files(root)? {
        if all.contains_key(&path) || is_working_file(&path) {
            continue;
        }
        let class = if manifest.contains_key(&path) { Class::Stale } else { Class::Extra };
        let actual = read_opt(&root.join(&path))?;
        out.push(Drift { path, class, expected: None, actual });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// What a write did, by path.
#[derive(Debug, Default)]
pub struct Summary {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: usize,
    /// Files gen made before and no longer makes, kept because they were edited by hand.
    pub kept_edited: Vec<String>,
}

/// Writes `expected` under `root`: only files whose bytes differ, each atomically; removes the
/// files the old manifest owns that are no longer produced; never touches anything else.
pub fn write(expected: &Tree, root: &Path) -> Result<Summary> {
    write_with(expected, root, &mut |path, contents| write_atomic(path, contents))
}

/// `write` with the function that puts one file's bytes on disk given by the caller: the seam
/// the fault tests use to fail after N files. Everything else (lock, manifest, removals) is the
/// same code path as `write`.
#[doc(hidden)]
pub fn write_with(expected: &Tree, root: &Path, put: &mut dyn FnMut(&Path, &[u8]) -> std::io::Result<()>) -> Result<Summary> {
    not_a_file(root)?;
    fs::create_dir_all(root).with_context(|| format!("{}: cannot create", root.display()))?;
    let lock_path = root.join(LOCK);
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("{}: cannot open the lock file (is generated/ writable?)", lock_path.display()))?;
    let busy = || anyhow::anyhow!("{}: another `cargo xtask gen` is running", lock_path.display());
    lock.try_lock().map_err(|_| busy())?;
    // A run that just finished removes the lock file: a lock taken on that removed file guards
    // nothing, as a third run would lock a new file. Only a lock on the file at the path counts.
    if !same_file(&lock, &lock_path) {
        return Err(busy());
    }

    let old = read_manifest(root);
    let mut summary = Summary::default();

    // First record the intent: the union of old and new files is owned while the write runs, so
    // that a run that fails halfway leaves nothing of ours unowned for the next run to repair.
    let mut intent: BTreeMap<&str, String> = old.iter().map(|(p, h)| (p.as_str(), h.clone())).collect();
    for (path, contents) in expected.files() {
        intent.insert(path, sha256_hex(contents));
    }
    let intent_text: String = intent.iter().map(|(p, h)| format!("{h}  {p}\n")).collect();
    write_if_changed(&root.join(MANIFEST), intent_text.as_bytes(), put)?;

    for (path, contents) in expected.files() {
        match write_if_changed(&root.join(path), contents, put)? {
            Outcome::Created => summary.created.push(path.to_string()),
            Outcome::Updated => summary.updated.push(path.to_string()),
            Outcome::Unchanged => summary.unchanged += 1,
        }
    }
    for (path, recorded) in &old {
        if expected.get(path).is_some() {
            continue;
        }
        let full = root.join(path);
        match read_opt(&full)? {
            None => {}
            Some(bytes) if sha256_hex(&bytes) == *recorded => {
                fs::remove_file(&full).with_context(|| format!("{}: cannot remove", full.display()))?;
                remove_empty_parents(root, &full);
                summary.removed.push(path.clone());
            }
            Some(_) => summary.kept_edited.push(path.clone()),
        }
    }
    // The final manifest still owns stale files that were kept because they were edited, so a
    // later run can tell them apart from foreign files.
    let mut final_manifest = expected.manifest();
    if !summary.kept_edited.is_empty() {
        let mut lines: BTreeMap<&str, String> = expected.files().map(|(p, c)| (p, sha256_hex(c))).collect();
        for path in &summary.kept_edited {
            lines.insert(path, old[path].clone());
        }
        final_manifest = lines.iter().map(|(p, h)| format!("{h}  {p}\n")).collect();
    }
    write_if_changed(&root.join(MANIFEST), final_manifest.as_bytes(), put)?;
    // Remove the lock file while still holding the lock, so that no other run can lock it
    // between the two steps and then hold a lock on a removed file.
    let _ = fs::remove_file(&lock_path);
    drop(lock);
    Ok(summary)
}

#[cfg(unix)]
fn same_file(file: &fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &fs::File, path: &Path) -> bool {
    path.exists()
}

enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// Leaves the file (and its mtime) alone when the bytes are already right; otherwise hands it to
/// `put` (normally `write_atomic`).
fn write_if_changed(path: &Path, contents: &[u8], put: &mut dyn FnMut(&Path, &[u8]) -> std::io::Result<()>) -> Result<Outcome> {
    let existing = read_opt(path)?;
    if existing.as_deref() == Some(contents) {
        return Ok(Outcome::Unchanged);
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("{}: cannot create directory", dir.display()))?;
    }
    put(path, contents).with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(if existing.is_some() { Outcome::Updated } else { Outcome::Created })
}

/// Writes through a temporary file and a rename, so a reader never sees half a file.
fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = tmp_path(path);
    let result = (|| -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn tmp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}{TMP_SUFFIX}"))
}

fn remove_empty_parents(root: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == root || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_escape() {
        for bad in ["../x", "/etc/passwd", "a/../../b", "", "a//b", "a/", "a\\b"] {
            assert!(check_relative(bad).is_err(), "{bad} accepted");
        }
        assert!(check_relative("compose/prometheus/prometheus.yml").is_ok());
    }

    #[test]
    fn working_files_are_recognised() {
        assert!(is_working_file("terraform/environments/prod/.terraform/providers/x"));
        assert!(is_working_file("terraform/environments/prod/terraform.tfstate.backup"));
        assert!(!is_working_file("terraform/environments/prod/main.tf"));
    }
}
