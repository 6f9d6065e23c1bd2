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
        let src = std::fs::read_to_string(&path).with_context(|| format!("{}: cannot read", path.display()))?;
        let name = self.stack_file.to_string_lossy().replace('\\', "/");
        stack::from_str(&name, &src).map_err(anyhow::Error::new)
    }

    /// Renders everything in memory.
    pub fn render(&self, stack: &Stack) -> Result<Tree> {
        targets::generate(stack, &self.templates())
    }
}
