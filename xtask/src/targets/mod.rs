//! Rendering: the validated `Stack` to the in-memory `Tree`, one module per output family.
//!
//! Every output goes through `Outputs::add`, which puts the do-not-edit header on it; `render`
//! makes the tree and `parse_back` parses every output back, except those generated/ vouches for
//! (bytes gen parsed back when it wrote them), so a template bug is an error and never a file on
//! disk.

pub mod agents;
pub mod cloud_init;
pub mod compose;
pub mod logs;
pub mod terraform;
pub mod terraform_tests;
pub mod tls;
pub mod traefik;
pub mod uptime_kuma;

use std::path::Path;

use anyhow::{Context, Result};
use minijinja::Value;

use crate::formats;
use crate::render::Renderer;
use crate::stack::Stack;
use crate::tree::{Manifest, Tree};

/// Collects the outputs of every family.
pub struct Outputs<'a> {
    renderer: &'a Renderer,
    tree: Tree,
    /// The stack as a template value, converted once: per-VM templates share it, so rendering
    /// stays linear in the number of VMs.
    stack: Value,
}

impl Outputs<'_> {
    /// The whole validated stack as a template value (cheap to clone).
    pub fn stack_value(&self) -> Value {
        self.stack.clone()
    }

    /// The context most templates get: the stack as `stack`.
    pub fn stack_ctx(&self) -> Value {
        minijinja::context! { stack => self.stack_value() }
    }

    /// Renders the template whose path is `out` plus `.j2` into `out`.
    pub fn render(&mut self, out: &str, ctx: Value) -> Result<()> {
        self.render_from(&format!("{out}.j2"), out, ctx)
    }

    /// Renders `template` into `out` (for per-VM templates, whose path holds `{vm}`).
    pub fn render_from(&mut self, template: &str, out: &str, ctx: Value) -> Result<()> {
        let text = self.renderer.render(template, ctx)?;
        self.add(out, &text)
    }

    /// Copies the static file of the templates folder whose path is `out` (no `.j2`) into `out`,
    /// with its header and the same parse-back as a rendered file.
    pub fn copy(&mut self, out: &str) -> Result<()> {
        let text = self.renderer.read(out)?;
        self.add(out, &text)
    }

    /// Adds a file made in Rust (or rendered), with its header. `generate` parses every file
    /// back before it returns the tree.
    pub fn add(&mut self, out: &str, text: &str) -> Result<()> {
        let text = formats::with_header(out, text);
        self.tree.insert(out, text)
    }

    /// A file already added, as it will be written (for outputs that embed others).
    pub fn get(&self, out: &str) -> Option<&str> {
        self.tree.get(out).and_then(|bytes| std::str::from_utf8(bytes).ok())
    }
}

/// Renders the whole tree for `stack` and parses every output back: what a caller with no
/// generated/ to compare with (tests, review, plan) uses.
pub fn generate(stack: &Stack, templates: &Path) -> Result<Tree> {
    let tree = render(stack, templates)?;
    parse_back(&tree, &Manifest::new())?;
    Ok(tree)
}

/// Renders the whole tree for `stack` from the templates in `templates`, without the parse-back:
/// the caller must call `parse_back` before anything reads or writes the tree (check and gen do,
/// with what generated/ vouches for). It reads nothing but the templates and static files of `templates`.
pub fn render(stack: &Stack, templates: &Path) -> Result<Tree> {
    let renderer = Renderer::new(templates);
    let mut out = Outputs { renderer: &renderer, tree: Tree::default(), stack: Value::from_serialize(stack) };
    compose::render(stack, &mut out).context("monitoring compose stack")?;
    traefik::render(stack, &mut out).context("traefik")?;
    uptime_kuma::render(stack, &mut out).context("uptime kuma monitors")?;
    tls::render(stack, &mut out).context("tls certificates")?;
    logs::render(stack, &mut out).context("central logs")?;
    agents::render(stack, &mut out).context("log agents")?;
    cloud_init::render(stack, &mut out).context("cloud-init")?;
    terraform::render(stack, &mut out).context("terraform")?;
    terraform_tests::render(stack, &mut out).context("terraform module tests")?;
    Ok(out.tree)
}

/// Parses every output back with its format's parser, on every core, except an output whose
/// sha256 is the hash `known` records for its path: those exact bytes were parsed back by the
/// gen that wrote them (see ARCHITECTURE.md, Invariants). `known` comes from
/// `OnDisk::vouched`; an empty one parses everything. The first problem in path order is the
/// error.
pub fn parse_back(tree: &Tree, known: &Manifest) -> Result<()> {
    if !known.is_empty() {
        tree.hash_all();
    }
    let files: Vec<(&str, &[u8])> = tree.files().filter(|(path, _)| known.get(*path).is_none_or(|h| Some(h.as_str()) != tree.hash(path))).collect();
    let mut errors = crate::par::chunks(&files, |part| {
        part.iter()
            .filter_map(|(path, bytes)| match std::str::from_utf8(bytes) {
                Ok(text) => formats::parse_back(path, text).err(),
                Err(_) => Some(anyhow::anyhow!("{path}: not UTF-8")),
            })
            .collect()
    });
    if errors.is_empty() { Ok(()) } else { Err(errors.remove(0)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_output_fails_the_render_and_names_the_first_broken_file() {
        let mut tree = Tree::default();
        tree.insert("a/ok.yml", "a: 1\n").unwrap();
        tree.insert("b/broken.json", "{\"a\": }\n").unwrap();
        tree.insert("c/broken.yml", "a: [1\n").unwrap();
        let err = parse_back(&tree, &Manifest::new()).unwrap_err();
        assert!(format!("{err:#}").starts_with("b/broken.json: rendered JSON does not parse"), "{err:#}");
        tree = Tree::default();
        tree.insert("a/ok.yml", "a: 1\n").unwrap();
        parse_back(&tree, &Manifest::new()).unwrap();
    }

    #[test]
    fn only_bytes_the_manifest_records_skip_the_parse_back() {
        let mut tree = Tree::default();
        tree.insert("b/broken.json", "{\"a\": }\n").unwrap();
        let broken = crate::tree::sha256_hex(b"{\"a\": }\n");
        let known: Manifest = [("b/broken.json".to_string(), broken)].into();
        parse_back(&tree, &known).expect("recorded bytes are not parsed again");
        let other: Manifest = [("b/broken.json".to_string(), crate::tree::sha256_hex(b"{}\n"))].into();
        assert!(parse_back(&tree, &other).is_err(), "a hash of other bytes vouches for nothing");
        let elsewhere: Manifest = [("a/broken.json".to_string(), crate::tree::sha256_hex(b"{\"a\": }\n"))].into();
        assert!(parse_back(&tree, &elsewhere).is_err(), "a hash recorded for another path vouches for nothing");
    }
}
