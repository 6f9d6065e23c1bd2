//! The render memo (`.xtask/render-memo`, gitignored, never under generated/): what the last
//! successful gen rendered, as the sha256 of the manifest of that tree, keyed on a hash of every
//! input of the render. When the inputs are the same again and generated/ is byte for byte the
//! tree that manifest lists, check need not render (ARCHITECTURE.md, Invariants).
//!
//! The key hashes: the tool's build (`XTASK_BUILD_ID`, from build.rs: xtask's sources,
//! Cargo.toml files, Cargo.lock, the compiler's version), the stack file's name and bytes, every
//! file of the templates folder (path and bytes, as the renderer serves them), and the
//! committed certificates the render copies (or their absence). Rendering reads nothing else:
//! no clock, no environment variable, no other file. Validation reads two more things, neither
//! of which the key needs: the certificates (read into the `Stack` while validating, hashed here
//! from it) and, for the day-2 guard of Loki's schema periods, today's date and generated/'s Loki
//! config, which only add problems and never change the `Stack` (a test in loki_storage.rs);
//! check validates, guard included, before it looks at the memo, so a hit never skips a refusal.

use std::path::Path;

use anyhow::Result;

use crate::render::Templates;
use crate::stack::Stack;
use crate::tree::{self, MANIFEST};

/// Where the memo lives, relative to the root.
pub const FILE: &str = ".xtask/render-memo";

/// This build's identity (see build.rs).
pub const BUILD_ID: &str = env!("XTASK_BUILD_ID");

const VERSION: &str = "xtask render memo 1";

/// The key of a render of `stack` (read from `stack_file`, whose bytes are `stack_src`) with
/// `templates`, by this build.
pub fn key(stack_file: &str, stack_src: &[u8], stack: &Stack, templates: &Templates) -> String {
    key_of_build(BUILD_ID, stack_file, stack_src, stack, templates)
}

/// `key` as another build would compute it (tests show that a memo of another build is not used).
pub fn key_of_build(build: &str, stack_file: &str, stack_src: &[u8], stack: &Stack, templates: &Templates) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    // Every field is framed by its length, so no two different sets of inputs hash alike.
    let mut field = |bytes: &[u8]| {
        ctx.update(&(bytes.len() as u64).to_le_bytes());
        ctx.update(bytes);
    };
    field(VERSION.as_bytes());
    field(build.as_bytes());
    field(stack_file.as_bytes());
    field(stack_src);
    let certs = &stack.tls.certs;
    for cert in [&certs.ca, &certs.leaf] {
        match cert {
            Some(pem) => {
                field(b"present");
                field(pem.as_bytes());
            }
            None => field(b"absent"),
        }
    }
    for (path, bytes) in templates.files() {
        field(path.as_bytes());
        field(bytes);
    }
    tree::hex(ctx.finish().as_ref())
}

/// The memo's text: the key, then the sha256 of the manifest of the tree rendered from it.
pub fn text(key: &str, manifest: &str) -> String {
    format!("key {key}\nmanifest {}\n", tree::sha256_hex(manifest.as_bytes()))
}

/// Records that the inputs of `key` render the tree whose manifest is `manifest` (gen, after it
/// wrote that tree). Best effort, written through a temporary file and a rename: a memo that is
/// missing or unreadable only means that check renders.
pub fn record(root: &Path, key: &str, manifest: &str) {
    let path = root.join(FILE);
    let text = text(key, manifest);
    if std::fs::read(&path).is_ok_and(|old| old == text.as_bytes()) {
        return;
    }
    let tmp = path.with_extension("tmp");
    let written =
        path.parent().is_some_and(|dir| std::fs::create_dir_all(dir).is_ok()) && std::fs::write(&tmp, &text).is_ok() && std::fs::rename(&tmp, &path).is_ok();
    if !written {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Files as `(path relative to generated/, bytes)`, sorted by path.
pub type Files = Vec<(String, Vec<u8>)>;

/// What the memo records: the key of the inputs, and the sha256 of the manifest they render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memo {
    pub key: String,
    pub manifest_sha: String,
}

/// The memo under `root`, if there is one and it is well formed.
pub fn read(root: &Path) -> Option<Memo> {
    let text = std::fs::read_to_string(root.join(FILE)).ok()?;
    let mut lines = text.lines();
    let key = lines.next()?.strip_prefix("key ")?.to_string();
    let manifest_sha = lines.next()?.strip_prefix("manifest ")?.to_string();
    (key.len() == 64 && manifest_sha.len() == 64 && lines.next().is_none()).then_some(Memo { key, manifest_sha })
}

/// generated/ read once: when it is exactly the tree of the manifest whose sha256 is
/// `manifest_sha` (that manifest, every file it lists with the hash it records, no other file
/// but Terraform's and gen's working files), its files as `(path, bytes)` (the manifest aside),
/// for the secret scan; `None` as soon as anything differs (then check renders, and says how).
pub fn tree_on_disk(generated: &Path, manifest_sha: &str) -> Result<Option<Files>> {
    let mut listed = tree::list_disk(generated)?;
    listed.sort();
    let Ok(manifest) = std::fs::read(generated.join(MANIFEST)) else { return Ok(None) };
    if tree::sha256_hex(&manifest) != manifest_sha {
        return Ok(None);
    }
    let recorded = tree::parse_manifest(&manifest);
    // The files on disk are the manifest's paths and the manifest itself, nothing else.
    listed.retain(|p| p != MANIFEST);
    if listed.len() != recorded.len() || !listed.iter().zip(recorded.keys()).all(|(p, q)| p == q) {
        return Ok(None);
    }
    // Read and hashed on every core (the reads too: their system time is most of the cost).
    let read: Vec<Option<(String, Vec<u8>)>> = crate::par::chunks_from(&listed, 32, |part| {
        let mut reader = tree::Reader::new(generated);
        part.iter().map(|p| reader.read(p, 0).ok().flatten().filter(|b| tree::sha256_hex(b) == recorded[p]).map(|b| (p.clone(), b.to_vec()))).collect()
    });
    Ok(read.into_iter().collect())
}
