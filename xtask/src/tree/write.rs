//! Gen's side of tree.rs: the lock, then only the files whose bytes changed (each atomically),
//! one sync, and only then the manifest.
//!
//! Durability: every changed file is written to a temporary file and renamed over its path, with
//! no fsync each; then one `Writer::sync` makes all of them (data and renames) durable, and only
//! after that is the final manifest written (and synced). On Linux the sync is one `syncfs(2)` of
//! generated/'s filesystem: fsync of the directories alone would make the renames durable but
//! not the files' data, and an fsync per file is what made a full 1,000-VM regeneration take
//! seconds on a real disk. The price: syncfs also flushes other dirty data of that filesystem
//! (what `sync -f` does). Elsewhere the sync is an fsync of each written file and directory.
//! The manifests (intent and final) are made durable on their own, by an fsync of the file and
//! of generated/: the intent manifest vouches only for what the old one did, and before the
//! final one every file it vouches for anew was synced (those written, and those found already
//! right on disk that the old manifest did not vouch for), so one syncfs per gen is enough.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::disk::OnDisk;
use super::{LOCK, MANIFEST, TMP_SUFFIX, Tree, not_a_file};

/// The hash the intent manifest records for a path being written: owned, vouching for nothing
/// (no file hashes to it, so such a file is never removed as unchanged nor taken as parsed back).
pub const IN_FLIGHT: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a write did, by path.
#[derive(Debug, Default)]
pub struct Summary {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: usize,
    /// Files gen made before and no longer makes, kept because they were edited by hand.
    pub kept_edited: Vec<String>,
    /// Files gen never made (not in the manifest, not working files): kept, as always.
    pub foreign: Vec<String>,
}

impl Summary {
    /// Files gen left in generated/ that check reports as drift: every one of them keeps check
    /// failing until it is moved out, so gen does not end as a success while one is there.
    pub fn kept(&self) -> impl Iterator<Item = &str> {
        self.kept_edited.iter().chain(&self.foreign).map(String::as_str)
    }
}

/// How gen puts bytes on disk: the seam of the fault tests (tests/it/faults.rs).
pub trait Writer {
    /// Puts `contents` at `path` (whose directory exists) so that no reader sees half a file.
    fn put(&mut self, path: &Path, contents: &[u8]) -> io::Result<()>;
    /// Makes durable every file put (and removed) under `root` so far; `written` lists the
    /// files put since the last sync.
    fn sync(&mut self, root: &Path, written: &[PathBuf]) -> io::Result<()>;
    /// Makes the manifest just put at `path` durable, when everything else put or removed
    /// before it already is (gen syncs its files before the final manifest, and puts nothing
    /// before the intent manifest). By default `sync` of that one file.
    fn sync_manifest(&mut self, root: &Path, path: &Path) -> io::Result<()> {
        self.sync(root, &[path.to_path_buf()])
    }
}

/// The real disk: atomic rename per file, one sync for all of them.
pub struct RealDisk;

impl Writer for RealDisk {
    fn put(&mut self, path: &Path, contents: &[u8]) -> io::Result<()> {
        write_atomic(path, contents)
    }

    fn sync(&mut self, root: &Path, written: &[PathBuf]) -> io::Result<()> {
        sync_all(root, written)
    }

    /// An fsync of the manifest and of generated/ (its rename): not a `syncfs`, which would
    /// also flush every other dirty file of the filesystem, other programs' included.
    fn sync_manifest(&mut self, root: &Path, path: &Path) -> io::Result<()> {
        fs::File::open(path)?.sync_all()?;
        sync_dir(root)
    }
}

/// An fsync of a directory, which makes the renames in it durable (best effort where
/// directories cannot be opened for it: Windows).
fn sync_dir(dir: &Path) -> io::Result<()> {
    match fs::File::open(dir) {
        Ok(d) => d.sync_all().or_else(|e| if cfg!(unix) { Err(e) } else { Ok(()) }),
        Err(_) if !cfg!(unix) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A caller's `put` with the real sync (`write_with`).
struct PutWith<'a>(&'a mut dyn FnMut(&Path, &[u8]) -> io::Result<()>);

impl Writer for PutWith<'_> {
    fn put(&mut self, path: &Path, contents: &[u8]) -> io::Result<()> {
        (self.0)(path, contents)
    }

    fn sync(&mut self, root: &Path, written: &[PathBuf]) -> io::Result<()> {
        sync_all(root, written)
    }
}

/// Gen's lock on generated/, held from before generated/ is read until the manifest is written.
pub struct Lock {
    file: fs::File,
    path: PathBuf,
}

impl Lock {
    /// Creates generated/ if needed and takes the lock, or says that another gen holds it.
    pub fn take(root: &Path) -> Result<Lock> {
        not_a_file(root)?;
        fs::create_dir_all(root).with_context(|| format!("{}: cannot create", root.display()))?;
        let path = root.join(LOCK);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("{}: cannot open the lock file (is generated/ writable?)", path.display()))?;
        let busy = || anyhow::anyhow!("{}: another `cargo xtask gen` is running", path.display());
        file.try_lock().map_err(|_| busy())?;
        // A run that just finished removes the lock file: a lock taken on that removed file
        // guards nothing, as a third run would lock a new file. Only a lock on the file at the
        // path counts.
        if !same_file(&file, &path) {
            return Err(busy());
        }
        Ok(Lock { file, path })
    }

    /// Removes the lock file while still holding the lock, so that no other run can lock it
    /// between the two steps and then hold a lock on a removed file.
    pub fn release(self) {
        let _ = fs::remove_file(&self.path);
        drop(self.file);
    }
}

/// Writes `expected` under `root`: only files whose bytes differ, each atomically; removes the
/// files the old manifest owns that are no longer produced; never touches anything else.
pub fn write(expected: &Tree, root: &Path) -> Result<Summary> {
    write_io(expected, root, &mut RealDisk)
}

/// `write` with the function that puts one file's bytes on disk given by the caller: the seam
/// the fault tests use to fail after N files. Everything else (lock, sync, manifest, removals)
/// is the same code path as `write`.
#[doc(hidden)]
pub fn write_with(expected: &Tree, root: &Path, put: &mut dyn FnMut(&Path, &[u8]) -> io::Result<()>) -> Result<Summary> {
    write_io(expected, root, &mut PutWith(put))
}

/// `write` through any `Writer`: lock, read generated/ once, write.
pub fn write_io(expected: &Tree, root: &Path, io: &mut dyn Writer) -> Result<Summary> {
    let lock = Lock::take(root)?;
    let disk = OnDisk::read(expected, root)?;
    write_locked(lock, expected, &disk, root, io)
}

/// Writes `expected` under `root`, given `disk`, the reading of `root` made under `lock`.
pub fn write_locked(lock: Lock, expected: &Tree, disk: &OnDisk, root: &Path, io: &mut dyn Writer) -> Result<Summary> {
    let old = &disk.manifest;
    let mut summary = Summary::default();
    let mut on_disk_manifest = disk.manifest_bytes.clone();

    // First record the intent: every path this run writes is owned while it runs, so that a run
    // that fails halfway leaves nothing of ours unowned for the next run to repair. Those paths
    // are listed with the `IN_FLIGHT` hash, which no file has; the others keep their hash: no
    // manifest ever vouches for bytes that may not be durable.
    expected.hash_all();
    let writes: Vec<&str> = expected.files().map(|(p, _)| p).filter(|p| !disk.is_same(p)).collect();
    if !writes.is_empty() {
        let mut intent: BTreeMap<&str, &str> = old.iter().map(|(p, h)| (p.as_str(), h.as_str())).collect();
        intent.extend(writes.iter().map(|p| (*p, IN_FLIGHT)));
        let text = manifest_text(intent.iter().map(|(p, h)| (*p, *h)));
        put_manifest(root, &text, &mut on_disk_manifest, io)?;
    }

    let mut written = Vec::new();
    // Each directory is made once per run (`create_dir_all` of one that exists still costs two
    // system calls, for each of a 1,000-VM lab's 4,000 files).
    let mut made: BTreeSet<&Path> = BTreeSet::new();
    for (path, contents) in expected.files() {
        if disk.is_same(path) {
            summary.unchanged += 1;
            continue;
        }
        let full = root.join(path);
        if let Some(dir) = Path::new(path).parent().filter(|dir| !made.contains(dir)) {
            let dir_full = root.join(dir);
            fs::create_dir_all(&dir_full).with_context(|| format!("{}: cannot create directory", dir_full.display()))?;
            made.insert(dir);
        }
        io.put(&full, contents).with_context(|| format!("{}: cannot write", full.display()))?;
        if disk.missing.contains(path) {
            summary.created.push(path.to_string())
        } else {
            summary.updated.push(path.to_string())
        }
        written.push(full);
    }
    for (path, recorded) in old {
        if expected.get(path).is_some() {
            continue;
        }
        let full = root.join(path);
        match disk.differing.get(path) {
            None => {}
            Some(bytes) if super::sha256_hex(bytes) == *recorded => {
                fs::remove_file(&full).with_context(|| format!("{}: cannot remove", full.display()))?;
                remove_empty_parents(root, &full);
                summary.removed.push(path.clone());
            }
            Some(_) => summary.kept_edited.push(path.clone()),
        }
    }
    summary.foreign = disk.differing.keys().filter(|p| expected.get(p).is_none() && !old.contains_key(*p)).cloned().collect();
    // Files this run did not write that the final manifest vouches for anew (left by a run that
    // stopped before its sync, or edited into what gen renders): synced too, as if written.
    let unsynced = expected.files().filter(|(p, _)| disk.is_same(p) && old.get(*p).map(String::as_str) != expected.hash(p)).map(|(p, _)| root.join(p));
    written.extend(unsynced);
    // The one sync: every file above is durable before a manifest vouches for it.
    if !written.is_empty() || !summary.removed.is_empty() {
        io.sync(root, &written).with_context(|| format!("{}: cannot make the written files durable", root.display()))?;
    }
    // The final manifest still owns stale files that were kept because they were edited, so a
    // later run can tell them apart from foreign files.
    let mut lines: BTreeMap<&str, &str> = expected.files().map(|(p, _)| (p, expected.hash(p).unwrap_or_default())).collect();
    for path in &summary.kept_edited {
        lines.insert(path, &old[path]);
    }
    let text = manifest_text(lines.iter().map(|(p, h)| (*p, *h)));
    put_manifest(root, &text, &mut on_disk_manifest, io)?;
    lock.release();
    Ok(summary)
}

fn manifest_text<'a>(lines: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    lines.map(|(p, h)| format!("{h}  {p}\n")).collect()
}

/// Writes the manifest when its bytes change, and makes it durable.
fn put_manifest(root: &Path, text: &str, on_disk: &mut Option<Vec<u8>>, io: &mut dyn Writer) -> Result<()> {
    if on_disk.as_deref() == Some(text.as_bytes()) {
        return Ok(());
    }
    let path = root.join(MANIFEST);
    io.put(&path, text.as_bytes()).with_context(|| format!("{}: cannot write", path.display()))?;
    io.sync_manifest(root, &path).with_context(|| format!("{}: cannot make the manifest durable", path.display()))?;
    *on_disk = Some(text.as_bytes().to_vec());
    Ok(())
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

/// Writes through a temporary file and a rename, so a reader never sees half a file. Not synced
/// here: `Writer::sync` makes every written file durable at once.
fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let tmp = tmp_path(path);
    let result = (|| -> io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(contents)?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(target_os = "linux")]
fn sync_all(root: &Path, _written: &[PathBuf]) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    unsafe extern "C" {
        fn syncfs(fd: i32) -> i32;
    }
    let dir = fs::File::open(root)?;
    // SAFETY: syncfs(2) takes an open file descriptor, here one `dir` owns for the whole call,
    // and touches no memory of ours; std links the C library that provides it on Linux.
    if unsafe { syncfs(dir.as_raw_fd()) } == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

#[cfg(not(target_os = "linux"))]
fn sync_all(root: &Path, written: &[PathBuf]) -> io::Result<()> {
    let mut dirs = std::collections::BTreeSet::new();
    for path in written {
        fs::File::open(path)?.sync_all()?;
        dirs.extend(path.parent().map(Path::to_path_buf));
    }
    dirs.insert(root.to_path_buf());
    for dir in dirs {
        // Directories cannot be opened for syncing everywhere (Windows): best effort.
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
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
