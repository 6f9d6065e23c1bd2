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
mod overlay;
pub mod terraform;
pub mod terraform_tests;
pub mod tls;
pub mod traefik;
pub mod uptime_kuma;

use std::path::Path;

use anyhow::Result;
use minijinja::Value;

use crate::formats;
use crate::render::{Renderer, Templates};
use crate::stack::Stack;
use crate::tree::{Manifest, Tree};

/// Collects the outputs of every family.
pub struct Outputs<'a> {
    renderer: &'a Renderer,
    tree: Tree,
    /// The stack as a template value, converted once: per-VM templates share it, so rendering
    /// stays linear in the number of VMs.
    stack: Value,
    /// `stack.vms` of that value: each VM's own value, converted with it.
    vms: Value,
}

impl Outputs<'_> {
    /// The whole validated stack as a template value (cheap to clone).
    pub fn stack_value(&self) -> Value {
        self.stack.clone()
    }

    /// The value of `stack.vms[i]` (cheap to clone: converted once, with the stack).
    pub fn vm_value(&self, i: usize) -> Result<Value> {
        self.vms.get_item_by_index(i).map_err(|e| anyhow::anyhow!("stack.vms[{i}]: {e}"))
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
        // A new buffer of the exact size: the rendered text's own has up to twice that.
        let text = formats::with_header(out, text);
        self.tree.insert(out, text)
    }

    /// A file already added, as it will be written (for outputs that embed others).
    pub fn get(&self, out: &str) -> Option<&str> {
        self.tree.get(out).and_then(|bytes| std::str::from_utf8(bytes).ok())
    }
}

impl<'a> Outputs<'a> {
    /// An empty collection with the same stack value and `renderer`, for one part of the render.
    fn fork(&self, renderer: &'a Renderer) -> Outputs<'a> {
        Outputs { renderer, tree: Tree::default(), stack: self.stack.clone(), vms: self.vms.clone() }
    }
}

/// A part of the render that runs on its own core and writes its own tree. The parts read no
/// output of one another: the agent files a cloud-config embeds are rendered in the same part,
/// and so are the compose files whose presence the Terraform module tests look up.
enum Part {
    /// compose, traefik, uptime kuma, tls.
    Central,
    /// The central logs, then the Terraform module tests (which look up the logs' files).
    LogsAndTests,
    /// The monitoring VM's cloud-config.
    Monitoring,
    /// The agents, then the cloud-configs, of these VMs (indices into `stack.vms`).
    Vms(std::ops::Range<usize>),
    /// The Terraform modules.
    Modules,
    /// The Terraform root of the environment at this index of `terraform::environments`.
    Root(usize),
}

/// Where an error ranks: (family, item), in the order a render one family after another meets
/// them, so that the error reported is the one a sequential render would stop at.
type Rank = (usize, usize);

/// VMs per part: enough to keep the cost of a part above that of handing it out.
const VMS_PER_PART: usize = 16;

impl Part {
    /// Which of the renderers (one per family of templates, see `render_with`) this part uses.
    fn family(&self) -> usize {
        match self {
            Part::Central => 0,
            Part::LogsAndTests => 1,
            Part::Root(_) => 2,
            Part::Modules => 3,
            Part::Monitoring | Part::Vms(_) => 4,
        }
    }

    fn render(&self, stack: &Stack, envs: &[String], out: &mut Outputs) -> Result<(), (Rank, anyhow::Error)> {
        let at = |rank: Rank, what: &'static str| move |e: anyhow::Error| (rank, e.context(what));
        match self {
            Part::Central => {
                compose::render(stack, out).map_err(at((0, 0), "monitoring compose stack"))?;
                traefik::render(stack, out).map_err(at((1, 0), "traefik"))?;
                uptime_kuma::render(stack, out).map_err(at((2, 0), "uptime kuma monitors"))?;
                tls::render(stack, out).map_err(at((3, 0), "tls certificates"))
            }
            Part::LogsAndTests => {
                logs::render(stack, out).map_err(at((4, 0), "central logs"))?;
                terraform_tests::render(stack, out).map_err(at((8, 0), "terraform module tests"))
            }
            Part::Monitoring => cloud_init::render_monitoring(stack, out).map_err(at((6, 0), "cloud-init")),
            Part::Vms(range) => {
                for i in range.clone() {
                    agents::render_vm(stack, out, i).map_err(at((5, i), "log agents"))?;
                }
                for i in range.clone() {
                    cloud_init::render_one(stack, out, i).map_err(at((6, i + 1), "cloud-init"))?;
                }
                Ok(())
            }
            Part::Modules => terraform::render_modules(stack, out).map_err(at((7, 0), "terraform")),
            Part::Root(i) => terraform::render_root(stack, out, &envs[*i]).map_err(at((7, i + 1), "terraform")),
        }
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
/// with what generated/ vouches for). It reads nothing: the templates and static files come in
/// `templates`, read once. The parts (`Part`) render on every core, each into its own tree; the
/// trees are then joined, so the result never depends on scheduling, and the error is the first
/// one in the families' order.
pub fn render(stack: &Stack, templates: &Path) -> Result<Tree> {
    render_with(stack, &Templates::read(templates)?)
}

/// Which families of parts (`Part::family`) render the template at `path` (relative to the
/// templates folder), so that `Renderers::compile` can compile it in those families'
/// environments ahead of the render. A hint only: a template a family uses that this does not
/// give it is compiled on first use, as without it (a test checks that the fixtures need no
/// such compile).
fn families_of_template(path: &str) -> &'static [usize] {
    const LOGS: [&str; 3] = ["compose/loki/", "compose/promtail/", "compose/prometheus/rules/logs.yml"];
    match path {
        _ if !path.ends_with(".j2") => &[],
        // The partials beside the per-VM agent templates serve the central Promtail too.
        _ if path.starts_with("agents/_") => &[1, 4],
        _ if path.starts_with("agents/") || path.starts_with("cloud-init/") => &[4],
        _ if path.starts_with("terraform/environments/") => &[2],
        _ if path.starts_with("terraform/modules/") && path.contains("/tests/") => &[1],
        _ if path.starts_with("terraform/modules/") => &[3],
        _ if LOGS.iter().any(|p| path.starts_with(p)) => &[1],
        _ => &[0],
    }
}

/// One template environment per family of parts: minijinja compiles a template on first use
/// while holding its environment's lock, so with one environment the parts would compile one
/// after another and wait for each other; the families use (almost) disjoint templates, so each
/// is compiled once, and the families' compilations run side by side.
pub struct Renderers([Renderer; 5]);

impl Renderers {
    pub fn new(templates: &Templates) -> Renderers {
        Renderers(std::array::from_fn(|_| Renderer::new(templates)))
    }

    /// The templates each family's environment has compiled so far (for tests).
    pub fn compiled(&self) -> Vec<Vec<String>> {
        self.0.iter().map(Renderer::compiled).collect()
    }

    /// Compiles every template in the environment of the family that renders it
    /// (`families_of_template`), the families side by side: check does this while the stack is
    /// parsed, which needs no template. A template that does not compile is left for the
    /// render, which reports it where a render without this would.
    pub fn compile(&self, templates: &Templates) {
        let families: Vec<usize> = (0..self.0.len()).collect();
        crate::par::queue(&families, |&family| {
            for (path, _) in templates.files().filter(|(p, _)| families_of_template(p).contains(&family)) {
                self.0[family].compile(path);
            }
        });
    }
}

/// `render` from templates already read.
pub fn render_with(stack: &Stack, templates: &Templates) -> Result<Tree> {
    render_prepared(stack, &Renderers::new(templates))
}

/// `render` with environments made (and maybe compiled, `Renderers::compile`) beforehand.
pub fn render_prepared(stack: &Stack, renderers: &Renderers) -> Result<Tree> {
    let renderers = &renderers.0;
    let stack_value = Value::from_serialize(stack);
    let vms = stack_value.get_attr("vms").map_err(|e| anyhow::anyhow!("stack.vms: {e}"))?;
    let base = Outputs { renderer: &renderers[0], tree: Tree::default(), stack: stack_value, vms };
    let envs = terraform::environments(stack);
    // The costly parts first, so that the last ones handed out are small.
    let mut parts = vec![Part::Central, Part::LogsAndTests];
    parts.extend((0..envs.len()).map(Part::Root));
    parts.extend([Part::Modules, Part::Monitoring]);
    parts.extend((0..stack.vms.len()).step_by(VMS_PER_PART).map(|i| Part::Vms(i..(i + VMS_PER_PART).min(stack.vms.len()))));
    let done = crate::par::queue(&parts, |part| {
        let mut out = base.fork(&renderers[part.family()]);
        let failed = part.render(stack, &envs, &mut out).err();
        (out.tree, failed)
    });
    let mut trees = Vec::with_capacity(done.len());
    let mut first: Option<(Rank, anyhow::Error)> = None;
    for (tree, failed) in done {
        if let Some((rank, e)) = failed
            && first.as_ref().is_none_or(|(r, _)| rank < *r)
        {
            first = Some((rank, e));
        }
        trees.push(tree);
    }
    if let Some((_, e)) = first {
        return Err(e);
    }
    let mut tree = Tree::default();
    trees.into_iter().try_for_each(|part| tree.absorb(part))?;
    Ok(tree)
}

/// Parses every output back with its format's parser, on every core, except an output whose
/// sha256 is the hash `known` records for its path: those exact bytes were parsed back by the
/// gen that wrote them (see ARCHITECTURE.md, Invariants). `known` comes from
/// `OnDisk::vouched`; an empty one parses everything. The first problem in path order is the
/// error, whichever core found it.
pub fn parse_back(tree: &Tree, known: &Manifest) -> Result<()> {
    if !known.is_empty() {
        tree.hash_all();
    }
    let files: Vec<(&str, &[u8])> = tree.files().filter(|(path, _)| known.get(*path).is_none_or(|h| Some(h.as_str()) != tree.hash(path))).collect();
    // Each core takes the next file: first the files of `LARGE` bytes or more, one after another
    // on one core (a syntax tree of a large Terraform root takes some 20 times its size: two at
    // once raised a 1,000-VM gen's peak by 12 MiB), then the others, largest first. In
    // contiguous chunks by path, as before, the roots' main.tf all fell to one core while the
    // other had finished.
    const LARGE: usize = 256 << 10;
    type Run<'t> = Vec<&'t (&'t str, &'t [u8])>;
    let (large, mut others): (Run, Run) = files.iter().partition(|(_, bytes)| bytes.len() >= LARGE);
    others.sort_by_key(|(path, bytes)| (std::cmp::Reverse(bytes.len()), *path));
    let mut runs: Vec<Run> = Vec::with_capacity(others.len() + 1);
    if !large.is_empty() {
        runs.push(large);
    }
    runs.extend(others.into_iter().map(|file| vec![file]));
    let outcomes = crate::par::queue(&runs, |run| {
        run.iter()
            .filter_map(|(path, bytes)| match std::str::from_utf8(bytes) {
                Ok(text) => formats::parse_back(path, text).err().map(|e| (*path, e)),
                Err(_) => Some((*path, anyhow::anyhow!("{path}: not UTF-8"))),
            })
            .collect::<Vec<_>>()
    });
    match outcomes.into_iter().flatten().min_by(|(a, _), (b, _)| a.cmp(b)) {
        Some((_, first)) => Err(first),
        None => Ok(()),
    }
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
        // The costliest files are parsed first: the error is still the first in path order,
        // among large files too.
        for large in [1000, 100_000] {
            tree = Tree::default();
            tree.insert("a/small.json", "{\n").unwrap();
            tree.insert("m/large.yml", format!("{}a: [1\n", "k: v\n".repeat(large))).unwrap();
            tree.insert("z/large.yml", format!("{}a: [1\n", "k: v\n".repeat(large))).unwrap();
            let err = parse_back(&tree, &Manifest::new()).unwrap_err();
            assert!(format!("{err:#}").starts_with("a/small.json: rendered JSON does not parse"), "{large}: {err:#}");
            tree = Tree::default();
            tree.insert("a/fixed.json", "{}\n").unwrap();
            tree.insert("m/large.yml", format!("{}a: [1\n", "k: v\n".repeat(large))).unwrap();
            tree.insert("z/large.yml", format!("{}a: [1\n", "k: v\n".repeat(large))).unwrap();
            let err = parse_back(&tree, &Manifest::new()).unwrap_err();
            assert!(format!("{err:#}").starts_with("m/large.yml: rendered YAML does not parse"), "{large}: {err:#}");
        }
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
