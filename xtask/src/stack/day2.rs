//! Day-2 safety of stack.toml: `[terraform] acknowledge_recreate`, the VMs a reviewed change may
//! re-create or delete (checked as VM names; a VM being removed is no longer in stack.toml, so
//! they need not name a VM of the stack); `[terraform] retired_environments` and the guard of the
//! Terraform roots against those gen last wrote (`roots`); and `proxmox.ca_file`, the CA of the
//! API endpoint.

use super::diag::Problems;

const KEY: &str = "terraform.acknowledge_recreate";

/// The acknowledged names, sorted and deduplicated; a name that cannot be a VM's is a problem.
pub fn names(p: &mut Problems, raw: Option<&[String]>) -> Vec<String> {
    kept_sorted(raw, |name| {
        let label = super::validate::is_dns_label(name);
        if !label {
            p.add(
                KEY,
                format!("`{}` is not a VM name", name.escape_debug()),
                "list the names of the VMs (the `[vms.<name>]` keys, or monitoring.name) the plan may re-create",
            );
        }
        label
    })
}

/// The names of a list `keep` accepts, sorted and deduplicated.
fn kept_sorted(raw: Option<&[String]>, mut keep: impl FnMut(&str) -> bool) -> Vec<String> {
    let mut out: Vec<String> = raw.unwrap_or_default().iter().filter(|name| keep(name)).cloned().collect();
    out.sort();
    out.dedup();
    out
}

/// `proxmox.ca_file`: a relative path to a PEM file; pointless (so refused) with `insecure`.
pub fn ca_file(p: &mut Problems, raw: Option<&str>, insecure: bool) -> Option<String> {
    let path = raw?;
    if path.is_empty() || path.starts_with('/') || path.split('/').any(|c| c == "..") {
        p.add(
            "proxmox.ca_file",
            format!("`{}` is not a path inside the repository", path.escape_debug()),
            "e.g. `infrastructure/proxmox-ca.pem` (a public certificate, safe to commit)",
        );
        return None;
    }
    if insecure {
        p.add(
            "proxmox.ca_file",
            "set together with `insecure = true`, which skips verification",
            "remove `insecure = true` so the endpoint is verified against this CA",
        );
    }
    Some(path.to_string())
}

const RETIRED_KEY: &str = "terraform.retired_environments";

/// `[terraform] retired_environments`: environment names (DNS labels, not `monitoring`), sorted
/// and deduplicated.
pub fn retired(p: &mut Problems, raw: Option<&[String]>) -> Vec<String> {
    let hint = "list environments of VMs (`environment = \"...\"`) whose VMs are all removed";
    kept_sorted(raw, |name| {
        if name == crate::targets::terraform::MONITORING {
            p.add(RETIRED_KEY, "`monitoring` is the monitoring VM's root, which is never retired", hint);
            false
        } else if super::validate::is_dns_label(name) {
            true
        } else {
            p.add(RETIRED_KEY, format!("`{}` is not an environment name", name.escape_debug()), hint);
            false
        }
    })
}

/// A retired environment is one no VM is in any more.
pub fn retired_have_no_vm(p: &mut Problems, retired: &[String], vms: &[super::model::Vm]) {
    for env in retired {
        let inside: Vec<String> = vms.iter().filter(|vm| &vm.environment == env).map(|vm| vm.name.clone()).collect();
        if !inside.is_empty() {
            p.add(
                RETIRED_KEY,
                format!("environment `{env}` is retired, but VMs are still in it: {}", quoted(&inside)),
                &format!("remove `{env}` from retired_environments, or remove those VMs (under new names they can go to another environment)"),
            );
        }
    }
}

fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// A Terraform root as gen last wrote it (generated/terraform/environments/<env>/main.tf): its
/// environment and the VMs it manages, for the day-2 guard of `roots`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootOnDisk {
    pub env: String,
    pub vms: Vec<String>,
}

/// The VMs a root's main.tf manages. A VM root: one `module "<name>"` block per VM, the VM's
/// name with `_` for `-` (VM names have no `_`, so this reads back exactly). The monitoring
/// root: the `name` its `module "monitoring"` block gives.
pub fn vms_of_main_tf(env: &str, text: &str) -> Vec<String> {
    if env == crate::targets::terraform::MONITORING {
        let mut lines = text.lines().skip_while(|l| !l.starts_with("module \"monitoring\""));
        let name = lines.find_map(|l| l.trim_start().strip_prefix("name")?.trim_start().strip_prefix('=')?.trim().strip_prefix('"')?.strip_suffix('"'));
        return name.map(str::to_string).into_iter().collect();
    }
    text.lines().filter_map(|l| l.strip_prefix("module \"")?.split_once('"')).map(|(name, _)| name.replace('_', "-")).collect()
}

/// The root `env` as gen wrote it, from its main.tf: only when the manifest's text lists that
/// main.tf (a root gen made, not a folder of the operator's own, which the guard must not read
/// as one).
pub fn root_on_disk(env: &str, main_tf: &str, manifest: &str) -> Option<RootOnDisk> {
    let line = format!("  {}/{env}/main.tf", crate::targets::terraform::ROOTS_DIR);
    let owned = manifest.lines().any(|l| l.ends_with(&line) && l.len() == 64 + line.len());
    owned.then(|| RootOnDisk { env: env.to_string(), vms: vms_of_main_tf(env, main_tf) })
}

/// The day-2 guard of the Terraform roots, against the roots gen last wrote (`roots`: those
/// under generated/ that its manifest lists, each with the VMs its main.tf manages; none on a
/// first gen). It reads generated/, not the Terraform state: that a root's apply has run is the
/// operator's word (the summary asks for it).
/// - a root that still manages VMs stays while its environment has VMs or is retired: removing
///   it would leave its VMs running with nothing to destroy them (CI plans the roots it finds);
/// - a VM, the monitoring VM included, takes a name another root manages only once that root no
///   longer does: both states would manage its cloud-init snippets (named after the VM), and the
///   root that applies last deletes or overwrites the files the other's VM boots from;
/// - a retired environment is one whose root exists (a misspelt one would make a new, empty root).
pub fn roots(p: &mut Problems, stack: &super::Stack, roots: &[RootOnDisk]) {
    let monitoring = crate::targets::terraform::MONITORING;
    for root in roots.iter().filter(|r| !r.vms.is_empty()) {
        let env = &root.env;
        if env != monitoring && !stack.environments.contains(env) && !stack.terraform.retired_environments.contains(env) {
            p.add_missing(
                RETIRED_KEY,
                format!(
                    "no VM is in environment `{env}` any more, but its root (generated/terraform/environments/{env}/) still manages {}: without that root nothing destroys them, and CI no longer plans it",
                    quoted(&root.vms)
                ),
                &format!(
                    "add \"{env}\" to `retired_environments` under [terraform] (`retired_environments = [\"{env}\"]`): gen keeps an empty `{env}` root, whose apply destroys its VMs (name them in acknowledge_recreate); remove it from the list once `cargo xtask apply {env}` has run"
                ),
            );
        }
        let all =
            std::iter::once((&stack.monitoring.vm, "monitoring.name".to_string())).chain(stack.vms.iter().map(|v| (v, format!("vms.{}.environment", v.name))));
        for (vm, key) in all.filter(|(v, _)| v.environment != *env && root.vms.contains(&v.name)) {
            let (from, to) = (root_name(env), root_name(&vm.environment));
            p.add(
                key,
                format!(
                    "`{}` is managed by {from}, and would be by {to} too under the same name: both states would manage its cloud-init snippets ({}-user-data.yaml, {}-meta-data.yaml), and the root applied last deletes or overwrites the files the other's VM boots from",
                    vm.name, vm.name, vm.name
                ),
                &format!(
                    "give the VM in {to} a new name (a move re-creates it anyway), or do it in two steps: remove `{}` from {from} and `cargo xtask apply {env}`, then add it",
                    vm.name
                ),
            );
        }
    }
    if roots.iter().any(|r| r.env != monitoring) {
        for env in stack.terraform.retired_environments.iter().filter(|e| !roots.iter().any(|r| &r.env == *e)) {
            p.add(
                RETIRED_KEY,
                format!("environment `{env}` is retired, but generated/ has no root of that name: gen would make a new, empty one"),
                "list only environments whose root is under generated/terraform/environments/ (a name removed from stack.toml's VMs)",
            );
        }
    }
}

fn root_name(env: &str) -> String {
    format!("the `{env}` root")
}
