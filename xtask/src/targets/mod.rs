//! Rendering: the validated `Stack` to the in-memory `Tree`, one module per output family.
//!
//! Every output goes through `Outputs::add`, which puts the do-not-edit header on it and parses
//! it back, so a template bug is an error here and never a file on disk.

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
use crate::tree::Tree;

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

/// Renders the whole tree for `stack` from the templates in `templates`.
pub fn generate(stack: &Stack, templates: &Path) -> Result<Tree> {
    let renderer = Renderer::new(templates);
    let mut out = Outputs { renderer: &renderer, tree: Tree::default(), stack: Value::from_serialize(stack) };
    compose::render(&mut out).context("monitoring compose stack")?;
    traefik::render(stack, &mut out).context("traefik")?;
    uptime_kuma::render(stack, &mut out).context("uptime kuma monitors")?;
    tls::render(stack, &mut out).context("tls certificates")?;
    logs::render(stack, &mut out).context("central logs")?;
    agents::render(stack, &mut out).context("log agents")?;
    cloud_init::render(stack, &mut out).context("cloud-init")?;
    terraform::render(stack, &mut out).context("terraform")?;
    terraform_tests::render(stack, &mut out).context("terraform module tests")?;
    parse_back_all(&out.tree)?;
    Ok(out.tree)
}

/// Parses every output back with its format's parser, on every core: the parsers are most of
/// the time of a render. The first problem in path order is the error.
fn parse_back_all(tree: &Tree) -> Result<()> {
    let files: Vec<(&str, &[u8])> = tree.files().collect();
    let workers = std::thread::available_parallelism().map_or(1, usize::from).clamp(1, 4);
    let chunk = files.len().div_ceil(workers).max(1);
    let check = |part: &[(&str, &[u8])]| -> Vec<anyhow::Error> {
        part.iter()
            .filter_map(|(path, bytes)| match std::str::from_utf8(bytes) {
                Ok(text) => formats::parse_back(path, text).err(),
                Err(_) => Some(anyhow::anyhow!("{path}: not UTF-8")),
            })
            .collect()
    };
    let mut errors: Vec<anyhow::Error> = std::thread::scope(|scope| {
        let handles: Vec<_> = files.chunks(chunk).map(|part| scope.spawn(move || check(part))).collect();
        handles.into_iter().flat_map(|h| h.join().expect("a parse-back worker panicked")).collect()
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
        let err = parse_back_all(&tree).unwrap_err();
        assert!(format!("{err:#}").starts_with("b/broken.json: rendered JSON does not parse"), "{err:#}");
        tree = Tree::default();
        tree.insert("a/ok.yml", "a: 1\n").unwrap();
        parse_back_all(&tree).unwrap();
    }
}
