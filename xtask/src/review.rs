//! The pull-request summary: what a change of stack.toml (and of the templates) does to the lab,
//! as short markdown. Pure: two validated stacks and two rendered trees in, text out.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::stack::Stack;
use crate::stack::model::{Agent, Vm};
use crate::targets::terraform;
use crate::tree::{self, Tree};
use crate::vm_fate::{self, Fate};

/// The heading every summary starts with (the sticky comment is found by its own marker).
pub const TITLE: &str = "## Stack changes";

/// Summarizes the change from `old` to `new` for a reviewer: VMs, images, routes, ports, the VMs
/// Terraform is likely to re-create, changes that are slow or refused, and the generated files
/// per family.
pub fn summarize(old: &Stack, new: &Stack, old_tree: &Tree, new_tree: &Tree) -> String {
    summarize_with_workflow(old, new, old_tree, new_tree, None)
}

/// [`summarize`], with the text of `.github/workflows/terraform.yml` (when the checkout has one)
/// so that a secret this change introduces is said to be passed by CI or not yet.
pub fn summarize_with_workflow(old: &Stack, new: &Stack, old_tree: &Tree, new_tree: &Tree, workflow: Option<&str>) -> String {
    let mut approvals = crate::review_lab::approvals(old, new, old_tree, new_tree);
    approvals.extend(crate::review_lab::new_secrets(old, new, workflow));
    let sections = [
        (crate::review_lab::TITLE, approvals),
        ("VMs", vms(old, new)),
        ("Images", images(old, new)),
        ("Routes", routes(old, new)),
        ("Ports", ports(old, new)),
        ("What happens to each VM", vm_fates(old, new, old_tree, new_tree)),
        ("Terraform will likely re-create", replacements(old, new, old_tree, new_tree)),
        ("Slow, refused or first-boot-only changes", caveats(old, new, old_tree, new_tree)),
    ];
    let mut out = format!("{TITLE}\n\n");
    let mut any = false;
    for (title, lines) in &sections {
        if lines.is_empty() {
            continue;
        }
        any = true;
        let _ = writeln!(out, "### {title}\n");
        for line in lines {
            let _ = writeln!(out, "- {line}");
        }
        out.push('\n');
    }
    let files = files(old_tree, new_tree);
    if !any && files.is_empty() {
        out.push_str("No change: the stack and every generated file are the same.\n");
        return out;
    }
    if !any {
        out.push_str("No change to VMs, images, routes or ports.\n\n");
    }
    out.push_str(&files_table(&files));
    out
}

/// Every VM of the lab, monitoring VM included, by name.
fn all_vms(stack: &Stack) -> BTreeMap<&str, &Vm> {
    std::iter::once(&stack.monitoring.vm).chain(&stack.vms).map(|vm| (vm.name.as_str(), vm)).collect()
}

fn agent_name(agent: Agent) -> &'static str {
    match agent {
        Agent::Promtail => "promtail",
        Agent::Alloy => "alloy",
        Agent::None => "none",
    }
}

fn describe_vm(vm: &Vm) -> String {
    format!(
        "{}, node {}, vm_id {}, {} core{}, {} MB, {} GB disk, {}, agent {}",
        vm.environment,
        vm.node,
        vm.vm_id,
        vm.cores,
        if vm.cores == 1 { "" } else { "s" },
        vm.memory_mb,
        vm.disk_gb,
        vm.ip,
        agent_name(vm.agent)
    )
}

/// What differs between two versions of one VM, as `field old → new` items.
fn vm_changes(a: &Vm, b: &Vm) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = |name: &str, x: String, y: String| {
        if x != y {
            out.push(format!("{name} {x} → {y}"));
        }
    };
    field("vm_id", a.vm_id.to_string(), b.vm_id.to_string());
    field("environment", a.environment.clone(), b.environment.clone());
    field("node", a.node.clone(), b.node.clone());
    field("cores", a.cores.to_string(), b.cores.to_string());
    field("memory", format!("{} MB", a.memory_mb), format!("{} MB", b.memory_mb));
    field("disk", format!("{} GB", a.disk_gb), format!("{} GB", b.disk_gb));
    field("IP", a.ip.to_string(), b.ip.to_string());
    field("agent", agent_name(a.agent).to_string(), agent_name(b.agent).to_string());
    field("tags", a.tags.join(","), b.tags.join(","));
    if a.ssh_keys != b.ssh_keys {
        out.push(format!("ssh keys {} → {}", a.ssh_keys.len(), b.ssh_keys.len()));
    }
    out
}

fn vms(old: &Stack, new: &Stack) -> Vec<String> {
    let (a, b) = (all_vms(old), all_vms(new));
    let mut out = Vec::new();
    for (name, vm) in &b {
        if !a.contains_key(name) {
            out.push(format!("added `{name}` ({})", describe_vm(vm)));
        }
    }
    for (name, vm) in &a {
        if !b.contains_key(name) {
            out.push(format!("removed `{name}` ({})", describe_vm(vm)));
        }
    }
    for (name, old_vm) in &a {
        if let Some(new_vm) = b.get(name) {
            let changes = vm_changes(old_vm, new_vm);
            if !changes.is_empty() {
                out.push(format!("changed `{name}`: {}", changes.join(", ")));
            }
        }
    }
    out
}

/// `repo:tag` split at the last colon that is not part of a registry port.
fn split_image(image: &str) -> (&str, &str) {
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (image, "latest"),
    }
}

fn images(old: &Stack, new: &Stack) -> Vec<String> {
    let old_images: BTreeMap<&str, &str> = old.services.containers().iter().map(|c| (c.name.as_str(), c.image.as_str())).collect();
    let mut out = Vec::new();
    for c in new.services.containers() {
        let Some(before) = old_images.get(c.name.as_str()) else { continue };
        if *before == c.image {
            continue;
        }
        let ((old_repo, old_tag), (new_repo, new_tag)) = (split_image(before), split_image(&c.image));
        if old_repo == new_repo {
            out.push(format!("`{}`: {new_repo} {old_tag} → {new_tag}", c.name));
        } else {
            out.push(format!("`{}`: {before} → {}", c.name, c.image));
        }
    }
    for (name, what) in [
        ("promtail (on the VMs)", (&old.logging.promtail_version, &new.logging.promtail_version)),
        ("alloy (on the VMs)", (&old.logging.alloy_version, &new.logging.alloy_version)),
    ] {
        if what.0 != what.1 {
            out.push(format!("`{name}`: {} → {}", what.0, what.1));
        }
    }
    out
}

fn routes(old: &Stack, new: &Stack) -> Vec<String> {
    let index = |s: &Stack| -> BTreeMap<String, String> {
        s.routes.iter().map(|r| (r.host.clone(), r.url().unwrap_or_else(|| "Traefik dashboard".to_string()))).collect()
    };
    let (a, b) = (index(old), index(new));
    let mut out = Vec::new();
    let (was, now) = (crate::review_lab::scheme(old), crate::review_lab::scheme(new));
    for (host, url) in &b {
        match a.get(host) {
            None => out.push(format!("added `{now}://{host}` → {url}")),
            Some(before) if before != url => out.push(format!("changed `{now}://{host}`: {before} → {url}")),
            Some(_) => {}
        }
    }
    for (host, url) in &a {
        if !b.contains_key(host) {
            out.push(format!("removed `{was}://{host}` (was {url})"));
        }
    }
    out
}

/// Ports each VM listens on for other machines, as the model knows them: ports the monitoring
/// stack publishes on its VM (`host_port`) and the log agents' metrics ports, which Prometheus
/// scrapes. Traefik's own 80/443 are fixed and therefore never change.
fn open_ports(stack: &Stack) -> BTreeMap<(String, u16), String> {
    let mut out = BTreeMap::new();
    let mon = &stack.monitoring.vm.name;
    for c in stack.services.containers() {
        if let Some(port) = c.host_port {
            out.insert((mon.clone(), port), c.name.clone());
        }
    }
    for vm in std::iter::once(&stack.monitoring.vm).chain(&stack.vms) {
        if let Some(port) = vm.agent_metrics_port {
            out.insert((vm.name.clone(), port), format!("{} metrics", agent_name(vm.agent)));
        }
    }
    out
}

fn ports(old: &Stack, new: &Stack) -> Vec<String> {
    let (a, b) = (open_ports(old), open_ports(new));
    let mut out = Vec::new();
    for ((vm, port), what) in &b {
        if !a.contains_key(&(vm.clone(), *port)) {
            out.push(format!("opened `{vm}:{port}/tcp` ({what})"));
        }
    }
    for ((vm, port), what) in &a {
        if !b.contains_key(&(vm.clone(), *port)) {
            out.push(format!("closed `{vm}:{port}/tcp` ({what})"));
        }
    }
    out
}

/// One line per VM that the change touches, with what happens to it and why
/// (`crate::vm_fate`, where the provider facts it relies on are listed with their source lines).
fn vm_fates(old: &Stack, new: &Stack, old_tree: &Tree, new_tree: &Tree) -> Vec<String> {
    vm_fate::fates(old, new, old_tree, new_tree)
        .into_iter()
        .filter(|(_, f)| f.fate != Fate::Unchanged)
        .map(|(name, f)| {
            let why: Vec<&str> = f.reasons.iter().map(|(_, why)| why.as_str()).collect();
            format!("`{name}`: **{}**: {}", f.fate.label(), why.join("; "))
        })
        .collect()
}

/// Changes that destroy a VM and create it again, losing its disk (see `crate::vm_fate` and its
/// `FORCE_NEW` list): a new `vm_id`, a move to another environment (another root and state), a
/// rename (a new module address; for the monitoring VM, new snippet ids), a new snippets
/// datastore (new snippet ids for every VM).
fn replacements(old: &Stack, new: &Stack, old_tree: &Tree, new_tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for (name, f) in vm_fate::fates(old, new, old_tree, new_tree) {
        let why = f.because(Fate::Recreated);
        match why.as_slice() {
            [] => {}
            [rename] if rename.starts_with("VM `") => out.push(rename.to_string()),
            _ => out.push(format!("VM `{name}`: {}", why.join("; "))),
        }
    }
    out
}

/// Changes applied in place that still deserve a reviewer's eye, because they are slow, refused
/// or only half applied:
///
/// - A smaller disk: Proxmox only grows disks, so the apply fails.
/// - A new node: the generated module sets `migrate = true`, so the VM migrates (slow, and it
///   needs shared or migratable storage) instead of being re-created; its snippets are uploaded
///   to the new node first, under the same ids (`crate::vm_fate::FORCE_NEW`).
/// - The VM datastore: the provider moves the disks (`move_disk`), slow for large disks.
/// - The cloud image (`url`, `file_name`): the download resource is replaced (each of its
///   arguments forces a new download), but `disk[0].import_from` is ignored after creation, so
///   only new VMs use the new image.
/// - The nodes a root downloads the image to (`terraform::image_nodes`, the `for_each` of its
///   download): a VM on a node new to its root adds a download there, and a node no VM of the
///   root is left on loses the root's copy (the VMs' disks were imported from it, they are
///   their own).
/// - Cloud-init: every argument of `proxmox_virtual_environment_file` forces a new snippet, so
///   the snippet is uploaded again; `initialization[0].user_data_file_id` is ignored after
///   creation, so the running VM is untouched and only reads it again on a later boot, if ever.
fn caveats(old: &Stack, new: &Stack, old_tree: &Tree, new_tree: &Tree) -> Vec<String> {
    let (a, b) = (all_vms(old), all_vms(new));
    let mut out = Vec::new();
    for (name, old_vm) in &a {
        let Some(new_vm) = b.get(name) else { continue };
        if new_vm.disk_gb < old_vm.disk_gb {
            out.push(format!("VM `{name}`: disk {} GB → {} GB is refused, Proxmox only grows disks", old_vm.disk_gb, new_vm.disk_gb));
        }
        if old_vm.node != new_vm.node {
            out.push(format!("VM `{name}`: migrates from node `{}` to `{}` (kept; slow, needs migratable storage)", old_vm.node, new_vm.node));
        }
    }
    if old.proxmox.vm_datastore != new.proxmox.vm_datastore {
        out.push(format!("VM disks move from datastore `{}` to `{}` (in place, but slow)", old.proxmox.vm_datastore, new.proxmox.vm_datastore));
    }
    let old_roots = terraform::environments(old);
    for env in terraform::environments(new).into_iter().filter(|env| old_roots.contains(env)) {
        let (was, now) = (terraform::image_nodes(old, &env), terraform::image_nodes(new, &env));
        let gained: Vec<String> = now.iter().filter(|n| !was.contains(n)).map(|n| format!("`{n}`")).collect();
        let lost: Vec<String> = was.iter().filter(|n| !now.contains(n)).map(|n| format!("`{n}`")).collect();
        if !gained.is_empty() {
            out.push(format!("cloud image: root `{env}` downloads it to node {} too, where a VM of the root now runs", gained.join(", ")));
        }
        if !lost.is_empty() {
            out.push(format!(
                "cloud image: root `{env}` deletes its copy on node {} (no VM of the root is left there; the VMs' disks were imported from it and do not need it)",
                lost.join(", ")
            ));
        }
    }
    let (oi, ni) = (&old.proxmox.cloud_image, &new.proxmox.cloud_image);
    if oi.url != ni.url || oi.file_name != ni.file_name {
        out.push(format!("cloud image `{}` → `{}`: downloaded again; only new VMs use it", oi.file_name, ni.file_name));
    }
    let snippets: Vec<String> = b
        .keys()
        .filter(|name| {
            let path = format!("cloud-init/{name}.yaml");
            matches!((old_tree.get(&path), new_tree.get(&path)), (Some(x), Some(y)) if x != y)
        })
        .map(|name| format!("`{name}`"))
        .collect();
    if !snippets.is_empty() {
        out.push(format!("cloud-init of {} changed: the snippet is uploaded again, but running VMs keep their first-boot configuration", snippets.join(", ")));
    }
    out
}

/// Added, changed and removed generated files, by family (the first folder under generated/).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    added: usize,
    changed: usize,
    removed: usize,
}

fn family(path: &str) -> &str {
    path.split_once('/').map_or(".", |(first, _)| first)
}

fn files(old_tree: &Tree, new_tree: &Tree) -> BTreeMap<String, Counts> {
    let mut out: BTreeMap<String, Counts> = BTreeMap::new();
    let paths: BTreeSet<&str> = old_tree.files().chain(new_tree.files()).map(|(p, _)| p).collect();
    for path in paths {
        if path == tree::MANIFEST {
            continue;
        }
        let counts = out.entry(family(path).to_string()).or_default();
        match (old_tree.get(path), new_tree.get(path)) {
            (None, Some(_)) => counts.added += 1,
            (Some(_), None) => counts.removed += 1,
            (Some(x), Some(y)) if x != y => counts.changed += 1,
            _ => {}
        }
    }
    out.retain(|_, c| *c != Counts::default());
    out
}

fn files_table(files: &BTreeMap<String, Counts>) -> String {
    if files.is_empty() {
        return "Generated files: none changed.\n".to_string();
    }
    let mut out = String::from("### Generated files\n\n| family | added | changed | removed |\n|---|---:|---:|---:|\n");
    let mut total = Counts::default();
    for (family, c) in files {
        let _ = writeln!(out, "| `{family}/` | {} | {} | {} |", c.added, c.changed, c.removed);
        total.added += c.added;
        total.changed += c.changed;
        total.removed += c.removed;
    }
    let _ = writeln!(out, "| **total** | {} | {} | {} |", total.added, total.changed, total.removed);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_split_at_the_tag_not_the_registry_port() {
        assert_eq!(split_image("grafana/loki:3.7.6"), ("grafana/loki", "3.7.6"));
        assert_eq!(split_image("registry.lan:5000/loki"), ("registry.lan:5000/loki", "latest"));
        assert_eq!(split_image("registry.lan:5000/loki:3.7.6"), ("registry.lan:5000/loki", "3.7.6"));
    }

    #[test]
    fn files_are_counted_per_family() {
        let mut a = Tree::default();
        let mut b = Tree::default();
        a.insert("compose/x.yml", "1").unwrap();
        a.insert("compose/y.yml", "1").unwrap();
        a.insert("agents/vm/promtail.yml", "1").unwrap();
        b.insert("compose/x.yml", "2").unwrap();
        b.insert("compose/y.yml", "1").unwrap();
        b.insert("cloud-init/vm.yaml", "1").unwrap();
        let f = files(&a, &b);
        assert_eq!(f["compose"], Counts { added: 0, changed: 1, removed: 0 });
        assert_eq!(f["agents"], Counts { added: 0, changed: 0, removed: 1 });
        assert_eq!(f["cloud-init"], Counts { added: 1, changed: 0, removed: 0 });
    }
}
