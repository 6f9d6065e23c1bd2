//! The in-memory output tree and the only code that touches generated/ on disk: compare it with
//! the disk (drift), write what changed, and remove what this generator made and no longer makes.
//!
//! Ownership lives in `generated/.manifest.sha256` (sha256sum format): a file not listed there
//! was not made by gen, so gen never deletes it, whatever it is. `disk.rs` reads generated/ once
//! (`OnDisk`) and derives the drift from it; `write.rs` writes from the same reading.

mod disk;
mod reader;
mod write;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Component, Path};
use std::sync::OnceLock;

use anyhow::{Result, bail};

pub use disk::{Class, Drift, Listing, OnDisk, drift, is_working_file, list_disk, read_disk};
pub use reader::Reader;
pub use write::{IN_FLIGHT, Lock, RealDisk, Summary, Writer, write, write_io, write_locked, write_with};

pub const MANIFEST: &str = ".manifest.sha256";
const LOCK: &str = ".xtask.lock";
const TMP_SUFFIX: &str = ".xtask-tmp";

/// A manifest: path relative to generated/ → sha256 (lowercase hex) of the bytes gen wrote there.
pub type Manifest = BTreeMap<String, String>;

#[derive(Debug, Default, Clone)]
struct Entry {
    bytes: Vec<u8>,
    /// sha256 of `bytes`, computed once when first asked for.
    hash: OnceLock<String>,
}

impl Entry {
    fn hash(&self) -> &str {
        self.hash.get_or_init(|| sha256_hex(&self.bytes))
    }
}

/// Output files by path relative to generated/, sorted so that every listing is deterministic.
#[derive(Debug, Default, Clone)]
pub struct Tree {
    files: BTreeMap<String, Entry>,
}

impl PartialEq for Tree {
    fn eq(&self, other: &Tree) -> bool {
        self.files.len() == other.files.len() && self.files().eq(other.files())
    }
}

impl Eq for Tree {}

impl Tree {
    /// Adds a file. Refuses a path that could leave generated/ and a path given twice.
    pub fn insert(&mut self, path: &str, contents: impl Into<Vec<u8>>) -> Result<()> {
        check_relative(path)?;
        if path == MANIFEST {
            bail!("{path}: reserved for the ownership manifest");
        }
        if self.files.insert(path.to_string(), Entry { bytes: contents.into(), hash: OnceLock::new() }).is_some() {
            bail!("{path}: two outputs claim this path");
        }
        Ok(())
    }

    /// Moves every file of `other` into this tree; refuses a path both have.
    pub fn absorb(&mut self, other: Tree) -> Result<()> {
        for (path, entry) in other.files {
            if self.files.contains_key(&path) {
                bail!("{path}: two outputs claim this path");
            }
            self.files.insert(path, entry);
        }
        Ok(())
    }

    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(|e| e.bytes.as_slice())
    }

    pub fn files(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files.iter().map(|(p, e)| (p.as_str(), e.bytes.as_slice()))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The sha256 of the file at `path`, computed once per file.
    pub fn hash(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(Entry::hash)
    }

    /// Records `hash` as the sha256 of the file at `path`, unless it is known already: for a
    /// caller that hashed the same bytes elsewhere (the read-ahead of generated/, bytes found
    /// equal to this file's). Debug builds check it.
    pub fn set_hash(&self, path: &str, hash: &str) {
        if let Some(entry) = self.files.get(path) {
            debug_assert_eq!(sha256_hex(&entry.bytes), hash, "{path}: another file's hash");
            let _ = entry.hash.set(hash.to_string());
        }
    }

    /// Hashes every file on every core (each file once; later calls are free).
    pub fn hash_all(&self) {
        let entries: Vec<&Entry> = self.files.values().filter(|e| e.hash.get().is_none()).collect();
        crate::par::chunks(&entries, |part| {
            part.iter().for_each(|e| {
                e.hash();
            });
            Vec::<()>::new()
        });
    }

    /// The manifest text for this tree: `sha256  path`, one line per file, sorted by path.
    pub fn manifest(&self) -> String {
        self.hash_all();
        let mut out = String::with_capacity(self.files.keys().map(|p| p.len() + 67).sum());
        for (path, entry) in &self.files {
            out.push_str(entry.hash());
            out.push_str("  ");
            out.push_str(path);
            out.push('\n');
        }
        out
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
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// `bytes` as lowercase hex (a digest's text, in the manifest and the render memo).
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * bytes.len());
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

/// Reads a manifest: path to recorded hash. A missing or unreadable manifest owns nothing, so a
/// manifest deleted or mangled by hand can only make gen keep files, never delete them.
pub fn read_manifest(root: &Path) -> Manifest {
    fs::read(root.join(MANIFEST)).map(|bytes| parse_manifest(&bytes)).unwrap_or_default()
}

/// The well-formed lines of a manifest's bytes (a line that is not `64 hex digits, two spaces, a
/// relative path` owns nothing).
pub fn parse_manifest(bytes: &[u8]) -> Manifest {
    let Ok(text) = std::str::from_utf8(bytes) else { return Manifest::new() };
    text.lines()
        .filter_map(|line| {
            let (hash, path) = line.split_once("  ")?;
            let ok = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) && check_relative(path).is_ok();
            ok.then(|| (path.to_string(), hash.to_string()))
        })
        .collect()
}

/// generated/ must be a directory or absent; anything else is named in the error.
fn not_a_file(root: &Path) -> Result<()> {
    if root.exists() && !root.is_dir() {
        bail!("{}: is not a directory (the generated tree lives there); move it away and run `cargo xtask gen`", root.display());
    }
    Ok(())
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

    #[test]
    fn hashes_are_sha256_and_the_manifest_lists_them() {
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        let mut tree = Tree::default();
        tree.insert("b.txt", "").unwrap();
        tree.insert("a.txt", "").unwrap();
        let m = tree.manifest();
        assert_eq!(m, format!("{h}  a.txt\n{h}  b.txt\n", h = sha256_hex(b"")));
        assert_eq!(parse_manifest(m.as_bytes()).len(), 2);
        assert_eq!(tree, tree.clone());
    }
}
