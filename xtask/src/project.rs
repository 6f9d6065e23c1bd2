//! The repository being worked on: where stack.toml, the templates and generated/ are, and the
//! two steps every command shares (load the stack, render the tree).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::cli::Flags;
use crate::stack::{self, Stack};
use crate::targets;
use crate::tree::Tree;

/// The repository root: the parent of the xtask crate.
pub fn default_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the repository").to_path_buf()
}

pub struct Project {
    pub root: PathBuf,
    pub stack_file: PathBuf,
}

impl Project {
    pub fn from_flags(flags: &Flags) -> Project {
        Project { root: flags.root.clone(), stack_file: flags.stack.clone() }
    }

    pub fn generated(&self) -> PathBuf {
        self.root.join("generated")
    }

    pub fn templates(&self) -> PathBuf {
        self.root.join("infrastructure").join("templates")
    }

    /// Reads and validates the stack file; every problem is in the error.
    pub fn load(&self) -> Result<Stack> {
        let path = self.root.join(&self.stack_file);
        let src = std::fs::read(&path).with_context(|| format!("{}: cannot read", path.display()))?;
        let name = self.stack_file.to_string_lossy().replace('\\', "/");
        let mut stack = stack::from_bytes(&name, &src).map_err(anyhow::Error::new)?;
        load_certs(&mut stack, &self.root)?;
        Ok(stack)
    }

    /// Renders everything in memory.
    pub fn render(&self, stack: &Stack) -> Result<Tree> {
        targets::generate(stack, &self.templates())
    }
}

/// Reads the committed certificates of `tls.certs_dir` into the stack (each absent when its file
/// is), so rendering copies them into generated/ without touching the disk itself.
pub fn load_certs(stack: &mut Stack, root: &Path) -> Result<()> {
    if !stack.tls.enabled {
        return Ok(());
    }
    let dir = root.join(&stack.tls.certs_dir);
    let read = |name: &str| -> Result<Option<String>> {
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("{}: cannot read", path.display())),
        }
    };
    stack.tls.certs.ca = read("ca.crt")?;
    stack.tls.certs.leaf = read("leaf.crt")?;
    Ok(())
}
