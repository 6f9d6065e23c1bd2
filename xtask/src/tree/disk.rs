//! generated/ as it is on disk, read once and compared with the expected tree on the way: the
//! drift of check, what gen must write, what the parse-back may skip, and the bytes the secret
//! scan needs all come from this one reading.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use super::reader::Reader;
use super::{LOCK, MANIFEST, Manifest, TMP_SUFFIX, Tree, not_a_file, parse_manifest, sha256_hex};

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
    /// Gen wrote it before and no longer makes it, but it was edited since: gen keeps it (and
    /// fails until it is moved out of generated/).
    StaleEdited,
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
            Class::StaleEdited => "extra (stale, edited: gen keeps it)",
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
    crate::walk::files(root, crate::walk::Links::List)
}

pub(super) fn read_opt(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("{}: cannot read", path.display())),
    }
}

/// Every file under `root` that is not a working file, relative, sorted (by walk order).
pub fn list_disk(root: &Path) -> Result<Vec<String>> {
    not_a_file(root)?;
    Ok(disk_files(root)?.into_iter().filter(|p| !is_working_file(p)).collect())
}

/// Every file under `root` that is not a working file, with its bytes, sorted by path.
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

/// A file read ahead: its bytes and their sha256.
type ReadAhead = (Vec<u8>, String);

/// The walk of generated/ (every file, working files too, sorted), or why it failed (reported by
/// the read that uses it), with the bytes of the first files when they were read ahead
/// (`walk_and_read`).
pub struct Listing {
    paths: Result<Vec<String>>,
    /// The bytes of the first paths of the walk, in order, with their sha256 (`None`: a working
    /// file, or not readable now); the paths after these are read by `OnDisk::read_listed`.
    ahead: Vec<Option<ReadAhead>>,
}

impl Listing {
    pub fn walk(root: &Path) -> Listing {
        Listing { paths: not_a_file(root).and_then(|()| disk_files(root)), ahead: Vec::new() }
    }

    /// `walk`, then the files in walk order read (and hashed) until `budget` bytes are in memory:
    /// check does this on a core that would otherwise wait for the templates. A file that cannot
    /// be read now is read again later, which reports why.
    pub fn walk_and_read(root: &Path, budget: usize) -> Listing {
        let mut listing = Listing::walk(root);
        let Ok(paths) = &listing.paths else { return listing };
        let mut reader = Reader::new(root);
        let mut used = 0;
        for path in paths {
            if used >= budget {
                break;
            }
            let bytes = if is_working_file(path) { None } else { reader.read(path, 0).ok().flatten().map(|b| (b.to_vec(), sha256_hex(b))) };
            used += bytes.as_ref().map_or(0, |(b, _)| b.len());
            listing.ahead.push(bytes);
        }
        listing
    }
}

/// What the read found at a listed path.
enum Found {
    /// Gone between the walk and the read.
    Gone,
    /// Byte for byte the expected file (not kept).
    Equal,
    /// Other bytes than the expected file's, or a path the tree does not have, or the manifest.
    Bytes(Vec<u8>),
}

/// generated/ read once against an expected tree. Files whose bytes are the expected ones are not
/// kept (only counted as equal); everything else is, for the drift and the secret scan.
#[derive(Debug, Default)]
pub struct OnDisk {
    /// The manifest on disk, parsed (empty when missing or mangled).
    pub manifest: Manifest,
    /// The manifest's bytes, when there is one.
    pub manifest_bytes: Option<Vec<u8>>,
    /// Every other file on disk (working files aside) whose bytes are not the expected tree's for
    /// its path, or that the tree does not have, with its bytes.
    pub differing: BTreeMap<String, Vec<u8>>,
    /// Expected paths with no file on disk.
    pub missing: BTreeSet<String>,
}

impl OnDisk {
    /// Reads `root` once (one walk, each file read once) and compares it with `expected`. The
    /// files are read on every core (the reads' system time is most of the cost), and each
    /// expected file found equal on disk is hashed right there, while its bytes are in cache:
    /// every caller needs every expected file's hash (`vouched`, the manifest).
    pub fn read(expected: &Tree, root: &Path) -> Result<OnDisk> {
        OnDisk::read_listed(expected, root, Listing::walk(root))
    }

    /// `read` from a listing of `root` taken earlier (check walks generated/ while it parses and
    /// renders the stack, on a core that would otherwise wait).
    pub fn read_listed(expected: &Tree, root: &Path, listing: Listing) -> Result<OnDisk> {
        let Listing { paths, ahead } = listing;
        let listed = paths?;
        let mut disk = OnDisk::default();
        let early = ahead.iter().map(Option::as_ref).chain(std::iter::repeat(None));
        let wanted: Vec<(&String, Option<&ReadAhead>)> = listed.iter().zip(early).filter(|(p, _)| !is_working_file(p)).collect();
        // Those read ahead are compared here; the others are read on every core. An expected
        // file found equal on disk gets its hash (the disk bytes' hash, when read ahead).
        let (done, rest) = wanted.split_at(wanted.iter().take_while(|(_, early)| early.is_some()).count());
        let compare = |path: &String, bytes: &[u8], hash: Option<&String>| -> Found {
            if path.as_str() != MANIFEST && expected.get(path) == Some(bytes) {
                match hash {
                    Some(h) => expected.set_hash(path, h),
                    None => drop(expected.hash(path)),
                }
                return Found::Equal;
            }
            Found::Bytes(bytes.to_vec())
        };
        let mut read: Vec<Result<Found>> = done
            .iter()
            .map(|(path, early)| {
                let (bytes, hash) = early.expect("read ahead");
                Ok(compare(path, bytes, Some(hash)))
            })
            .collect();
        read.extend(crate::par::chunks_from(rest, 32, |part| {
            let mut reader = Reader::new(root);
            part.iter()
                .map(|(path, _)| {
                    let want = expected.get(path).filter(|_| path.as_str() != MANIFEST);
                    let read =
                        reader.read(path, want.map_or(0, <[u8]>::len)).with_context(|| format!("{}: cannot read", root.join(path.as_str()).display()))?;
                    let Some(bytes) = read else { return Ok(Found::Gone) };
                    Ok(compare(path, bytes, None))
                })
                .collect()
        }));
        let mut equal = 0;
        for ((path, _), found) in wanted.into_iter().zip(read) {
            match found? {
                Found::Gone => {}
                Found::Equal => equal += 1,
                Found::Bytes(bytes) if path == MANIFEST => {
                    disk.manifest = parse_manifest(&bytes);
                    disk.manifest_bytes = Some(bytes);
                }
                Found::Bytes(bytes) => {
                    disk.differing.insert(path.clone(), bytes);
                }
            }
        }
        let seen = equal + expected.files().filter(|(p, _)| disk.differing.contains_key(*p)).count();
        if seen < expected.len() {
            // An expected file the walk did not list (absent, or behind a symlinked directory).
            let listed: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
            for (path, want) in expected.files().filter(|(p, _)| !listed.contains(p)) {
                match read_opt(&root.join(path))? {
                    None => {
                        disk.missing.insert(path.to_string());
                    }
                    Some(bytes) if bytes == want => {}
                    Some(bytes) => {
                        disk.differing.insert(path.to_string(), bytes);
                    }
                }
            }
        }
        Ok(disk)
    }

    /// Whether the file at `path` on disk is byte for byte the expected one (`path` expected).
    pub fn is_same(&self, path: &str) -> bool {
        !self.differing.contains_key(path) && !self.missing.contains(path)
    }

    /// The manifest entries that vouch for an expected file: the file on disk is byte for byte
    /// the expected one, and the manifest records the sha256 of those bytes. Rendering may skip
    /// the parse-back of exactly these outputs (ARCHITECTURE.md, Invariants).
    pub fn vouched(&self, expected: &Tree) -> Manifest {
        expected.hash_all();
        self.manifest.iter().filter(|(p, h)| self.is_same(p) && expected.hash(p) == Some(h.as_str())).map(|(p, h)| (p.clone(), h.clone())).collect()
    }

    /// The files on disk that the secret scan must read itself, as `(path, bytes)`: those not
    /// byte for byte what gen renders (those were scanned as rendered), and the manifest unless
    /// it is the one gen would write.
    pub fn unscanned<'a>(&'a self, expected_manifest: &str) -> impl Iterator<Item = (&'a str, &'a [u8])> {
        let manifest = self.manifest_bytes.as_deref().filter(|b| *b != expected_manifest.as_bytes()).map(|b| (MANIFEST, b));
        self.differing.iter().map(|(p, b)| (p.as_str(), b.as_slice())).chain(manifest)
    }

    /// How `root` differs from `expected`, from this reading: what check reports.
    pub fn drift(&self, expected: &Tree) -> Vec<Drift> {
        let mut out = Vec::new();
        for path in &self.missing {
            out.push(Drift { path: path.clone(), class: Class::Missing, expected: expected.get(path).map(<[u8]>::to_vec), actual: None });
        }
        for (path, have) in &self.differing {
            let drift = match expected.get(path) {
                Some(want) => {
                    let class = match self.manifest.get(path) {
                        Some(recorded) if *recorded != sha256_hex(have) => Class::HandEdited,
                        _ => Class::Changed,
                    };
                    Drift { path: path.clone(), class, expected: Some(want.to_vec()), actual: Some(have.clone()) }
                }
                None => {
                    let class = match self.manifest.get(path) {
                        Some(recorded) if *recorded == sha256_hex(have) => Class::Stale,
                        Some(_) => Class::StaleEdited,
                        None => Class::Extra,
                    };
                    Drift { path: path.clone(), class, expected: None, actual: Some(have.clone()) }
                }
            };
            out.push(drift);
        }
        let want = expected.manifest();
        match &self.manifest_bytes {
            Some(have) if *have == want.as_bytes() => {}
            have => {
                let class = if have.is_some() { Class::Changed } else { Class::Missing };
                out.push(Drift { path: MANIFEST.to_string(), class, expected: Some(want.into_bytes()), actual: have.clone() });
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }
}

/// Compares the expected tree with `root` on disk. Never writes.
pub fn drift(expected: &Tree, root: &Path) -> Result<Vec<Drift>> {
    Ok(OnDisk::read(expected, root)?.drift(expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_ahead_finds_what_reading_after_the_render_finds() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut expected = Tree::default();
        for (path, bytes) in [("a.yml", "same\n"), ("b/c.yml", "new\n"), ("b/d.yml", "gone\n"), ("z.yml", "last\n")] {
            expected.insert(path, bytes).unwrap();
        }
        for (path, bytes) in [("a.yml", "same\n"), ("b/c.yml", "old\n"), ("b/e.yml", "extra\n"), ("b/.terraform/x", "working\n"), ("z.yml", "last\n")] {
            std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
            std::fs::write(root.join(path), bytes).unwrap();
        }
        std::fs::write(root.join(MANIFEST), format!("{}  a.yml\n", sha256_hex(b"same\n"))).unwrap();
        let after = OnDisk::read_listed(&expected, root, Listing::walk(root)).unwrap();
        // Every budget: nothing read ahead, part of the tree (cut inside a directory), all of it.
        for budget in [0, 1, 6, 12, 100, 1 << 20] {
            let fresh = expected.clone();
            let ahead = OnDisk::read_listed(&fresh, root, Listing::walk_and_read(root, budget)).unwrap();
            assert_eq!(format!("{ahead:?}"), format!("{after:?}"), "budget {budget}");
            assert_eq!(format!("{:?}", ahead.drift(&fresh)), format!("{:?}", after.drift(&expected)), "budget {budget}");
            for (path, bytes) in fresh.files() {
                assert_eq!(fresh.hash(path), Some(sha256_hex(bytes).as_str()), "budget {budget}: {path}");
            }
        }
        assert!(after.differing.contains_key("b/c.yml") && after.differing.contains_key("b/e.yml") && after.missing.contains("b/d.yml"), "{after:?}");
    }
}
