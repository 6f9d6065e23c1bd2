//! The repository being worked on: where stack.toml, the templates and generated/ are, and the
//! two steps every command shares (load the stack, render the tree). Knows nothing of flags.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::render::Templates;
use crate::stack::model::CommittedCerts;
use crate::stack::{self, Stack};
use crate::targets;
use crate::tree::Tree;

/// The largest stack file read (the example is about 10 KiB): a larger one, or a device such as
/// /dev/zero, is refused before it is read.
pub const MAX_STACK_BYTES: u64 = 1024 * 1024;

/// The repository root, found at run time (never compiled in: with one `CARGO_TARGET_DIR`
/// shared by two clones, cargo may run the binary built in the other one). First the parent of
/// `CARGO_MANIFEST_DIR`, which `cargo run` (`cargo xtask`) sets to this checkout's xtask/;
/// else the nearest directory from `cwd` up that holds `stack.toml` and the xtask workspace.
pub fn find_root(manifest_dir: Option<OsString>, cwd: &Path) -> Result<PathBuf> {
    if let Some(dir) = manifest_dir.map(PathBuf::from)
        && let Some(parent) = dir.parent()
        && is_root(parent)
    {
        return Ok(parent.to_path_buf());
    }
    if let Some(found) = cwd.ancestors().find(|d| is_root(d)) {
        return Ok(found.to_path_buf());
    }
    bail!(
        "{}: not inside a checkout of this repository (no directory from here up holds stack.toml and the xtask workspace)\n  hint: run `cargo xtask` inside the checkout, or pass `--root DIR`",
        cwd.display()
    )
}

/// `dir` holds a stack file and the Cargo workspace whose member is xtask.
fn is_root(dir: &Path) -> bool {
    dir.join("stack.toml").is_file() && dir.join("xtask").join("Cargo.toml").is_file() && dir.join("Cargo.toml").is_file()
}

pub struct Project {
    pub root: PathBuf,
    pub stack_file: PathBuf,
}

impl Project {
    /// `stack_file` is relative to `root` (or absolute).
    pub fn new(root: impl Into<PathBuf>, stack_file: impl Into<PathBuf>) -> Project {
        Project { root: root.into(), stack_file: stack_file.into() }
    }

    pub fn generated(&self) -> PathBuf {
        self.root.join("generated")
    }

    pub fn templates(&self) -> PathBuf {
        self.root.join("infrastructure").join("templates")
    }

    /// The stack file's name as messages show it.
    pub fn stack_name(&self) -> String {
        self.stack_file.to_string_lossy().replace('\\', "/")
    }

    /// The bytes of the stack file: refused when it is not a regular file or larger than
    /// [`MAX_STACK_BYTES`] (UTF-8 is checked, located, by `stack::from_bytes`).
    pub fn read_stack(&self) -> Result<Vec<u8>> {
        let path = self.root.join(&self.stack_file);
        let name = self.stack_name();
        let meta = std::fs::metadata(&path).with_context(|| format!("{}: cannot read", path.display()))?;
        if !meta.is_file() {
            bail!("{name}: not a regular file\n  hint: pass the path of a stack.toml with `--stack FILE`");
        }
        let too_big = || {
            anyhow::anyhow!(
                "{name}: larger than {} KiB, too large for a stack file\n  hint: pass the path of a stack.toml with `--stack FILE`",
                MAX_STACK_BYTES / 1024
            )
        };
        if meta.len() > MAX_STACK_BYTES {
            return Err(too_big());
        }
        // The size on disk can lie (files of /proc say 0) or grow: read one byte past the bound.
        let mut bytes = Vec::new();
        let file = std::fs::File::open(&path).with_context(|| format!("{}: cannot read", path.display()))?;
        file.take(MAX_STACK_BYTES + 1).read_to_end(&mut bytes).with_context(|| format!("{}: cannot read", path.display()))?;
        if bytes.len() as u64 > MAX_STACK_BYTES {
            return Err(too_big());
        }
        Ok(bytes)
    }

    /// Reads and validates the stack file; every problem is in the error. Loki's schema periods
    /// are checked against the ones gen last wrote, with today's date taken here (the edge).
    pub fn load(&self) -> Result<Stack> {
        self.load_at(crate::certs_cmd::now())
    }

    /// [`Project::load`] at a given Unix time (tests inject it).
    pub fn load_at(&self, now: i64) -> Result<Stack> {
        self.load_with_src_at(now).map(|(stack, _)| stack)
    }

    /// `load`, with the bytes of the stack file it read (what the render memo's key hashes).
    pub fn load_with_src(&self) -> Result<(Stack, Vec<u8>)> {
        self.load_with_src_at(crate::certs_cmd::now())
    }

    fn load_with_src_at(&self, now: i64) -> Result<(Stack, Vec<u8>)> {
        let src = self.read_stack()?;
        let before = self.before(now);
        let stack = self.parse_before(&self.stack_name(), &src, Some(&before))?;
        Ok((stack, src))
    }

    /// The stack file validated with the day-2 guard against `before` rather than generated/
    /// (diff: the Loki config committed at the base, which a stale branch may not have seen).
    pub fn load_before(&self, before: &stack::loki_storage::Before) -> Result<Stack> {
        let src = self.read_stack()?;
        self.parse_before(&self.stack_name(), &src, Some(before))
    }

    /// Every template, read once.
    pub fn read_templates(&self) -> Result<Templates> {
        Templates::read(&self.templates())
    }

    /// Validates stack text with this root's committed certificates: the stack file (`load`), the
    /// stack at a git ref (diff), a synthetic lab (bench), a test's variant. `name` is the file
    /// as messages show it; a validation failure is a `stack::diag::Report` (every problem).
    pub fn parse(&self, name: &str, src: &[u8]) -> Result<Stack> {
        self.parse_before(name, src, None)
    }

    /// [`Project::parse`], with the day-2 guard of Loki's schema periods when `before` is given.
    pub fn parse_before(&self, name: &str, src: &[u8], before: Option<&stack::loki_storage::Before>) -> Result<Stack> {
        // The first certificate that cannot be read (other than absent); said after the
        // problems of the stack itself, as when certificates were read after validation.
        let mut unreadable = None;
        let mut read_certs = |certs_dir: &str| {
            read_certs(&self.root.join(certs_dir)).unwrap_or_else(|e| {
                unreadable.get_or_insert(e);
                CommittedCerts::default()
            })
        };
        let stack = stack::from_bytes_with(name, src, &mut read_certs, before).map_err(anyhow::Error::new)?;
        match unreadable {
            Some(e) => Err(e),
            None => Ok(stack),
        }
    }

    /// What the day-2 guards compare with: the schema periods of the Loki config under
    /// generated/ (none when it is absent or unreadable: the first gen), the Terraform roots
    /// there with the VMs each manages, and today's UTC date.
    pub fn before(&self, now: i64) -> stack::loki_storage::Before {
        Project::before_in(&self.generated(), now)
    }

    /// [`Project::before`] of another generated/ (the bench's trees).
    pub fn before_in(generated: &Path, now: i64) -> stack::loki_storage::Before {
        let config = generated.join(crate::targets::logs::LOKI_CONFIG);
        let periods = std::fs::read_to_string(config).map(|t| stack::loki_storage::periods_of_config(&t)).unwrap_or_default();
        let roots_dir = generated.join(crate::targets::terraform::ROOTS_DIR);
        let manifest = std::fs::read_to_string(generated.join(crate::tree::MANIFEST)).unwrap_or_default();
        let mut roots: Vec<stack::day2::RootOnDisk> = std::fs::read_dir(&roots_dir)
            .into_iter()
            .flatten()
            .filter_map(|entry| {
                let env = entry.ok()?.file_name().into_string().ok()?;
                let main = std::fs::read_to_string(roots_dir.join(&env).join("main.tf")).ok()?;
                stack::day2::root_on_disk(&env, &main, &manifest)
            })
            .collect();
        roots.sort_by(|a, b| a.env.cmp(&b.env));
        stack::loki_storage::Before { today: crate::dates::utc_date(now), periods, roots }
    }

    /// [`Project::before`] of a tree gen wrote and its manifest's text (diff: generated/ as
    /// committed at the base).
    pub fn before_of(tree: &Tree, manifest: &str, now: i64) -> stack::loki_storage::Before {
        let periods =
            tree.get(crate::targets::logs::LOKI_CONFIG).map(|c| stack::loki_storage::periods_of_config(&String::from_utf8_lossy(c))).unwrap_or_default();
        let prefix = format!("{}/", crate::targets::terraform::ROOTS_DIR);
        let roots = tree
            .files()
            .filter_map(|(path, bytes)| {
                let env = path.strip_prefix(&prefix)?.strip_suffix("/main.tf").filter(|env| !env.contains('/'))?;
                stack::day2::root_on_disk(env, &String::from_utf8_lossy(bytes), manifest)
            })
            .collect();
        stack::loki_storage::Before { today: crate::dates::utc_date(now), periods, roots }
    }

    /// Renders everything in memory and parses every output back.
    pub fn render(&self, stack: &Stack) -> Result<Tree> {
        targets::generate(stack, &self.templates())
    }

    /// Renders everything in memory without the parse-back, for check and gen, which parse back
    /// what generated/ does not vouch for (`targets::parse_back`).
    pub fn render_unparsed(&self, stack: &Stack) -> Result<Tree> {
        targets::render(stack, &self.templates())
    }
}

/// The committed certificates in `dir` (each absent when its file is), so rendering copies them
/// into generated/ without touching the disk itself.
fn read_certs(dir: &Path) -> Result<CommittedCerts> {
    let read = |name: &str| -> Result<Option<String>> {
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("{}: cannot read", path.display())),
        }
    };
    Ok(CommittedCerts { ca: read("ca.crt")?, leaf: read("leaf.crt")? })
}

/// The text of a file, or a located error at its first byte that is not UTF-8.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_found_from_the_manifest_dir_then_from_the_current_directory() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let elsewhere = std::env::temp_dir();
        assert_eq!(find_root(Some(repo.join("xtask").into()), &elsewhere).unwrap(), repo);
        assert_eq!(find_root(None, &repo.join("infrastructure/templates")).unwrap(), repo);
        assert_eq!(find_root(Some(elsewhere.clone().into()), &repo.join("generated")).unwrap(), repo);
        let err = find_root(None, Path::new("/")).unwrap_err().to_string();
        assert!(err.contains("not inside a checkout") && err.contains("hint: run `cargo xtask` inside the checkout, or pass `--root DIR`"), "{err}");
    }
}
