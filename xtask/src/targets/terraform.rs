//! Terraform for the bpg/proxmox provider (`generated/terraform/`): the `vm` and
//! `monitoring-stack` modules, and one root per environment (`monitoring`, then each VM
//! environment) with its backend, provider, tfvars and one module call per VM.
//!
//! Rust decides everything a root holds (which VMs, their firewall rules, paths into generated/,
//! the state path); the templates lay it out already `terraform fmt`-clean.

pub mod firewall;

use anyhow::{Context, Result};
use minijinja::Value;
use serde::Serialize;

use super::Outputs;
use crate::stack::model::{Agent, SecretRef, Stack, Vm};
use firewall::Rule;

/// The root of the monitoring VM; every other root is named after a VM environment.
pub const MONITORING: &str = "monitoring";
/// Where the roots live under generated/, one directory per root.
pub const ROOTS_DIR: &str = "terraform/environments";

/// The files of each module: `(module, templates, static files)`. A template renders from the
/// same path plus `.j2` (the provider constraint, and lines that only some stacks need); a static
/// file is copied as it is.
const MODULES: &[(&str, &[&str], &[&str])] = &[
    ("vm", &["versions.tf", "README.md"], &["main.tf", "variables.tf", "outputs.tf"]),
    // monitoring-stack's main.tf, variables.tf and README.md take Prometheus's secret files only
    // with remote write, and Loki's S3 keys (loki.env) only with `storage = "s3"`.
    ("monitoring-stack", &["versions.tf", "main.tf", "variables.tf", "README.md"], &["outputs.tf"]),
];
const ROOT_FILES: &[&str] = &["versions.tf", "main.tf", "variables.tf", "outputs.tf", "terraform.tfvars"];

/// Variables every root declares; a secret's `tf_var` may not take one of these names.
const ROOT_VARIABLES: &[&str] = &[
    "vm_ssh_user",
    "vm_datastore_id",
    "snippets_datastore_id",
    "image_datastore_id",
    "loki_url",
    "cloud_image",
    "network",
    "stack_dir",
    "secrets_dir",
    "tls_leaf_key_file",
];

/// From a root (`generated/terraform/environments/<env>/`) up to generated/ and to the repository.
const TO_GENERATED: &str = "../../..";
const TO_REPO: &str = "../../../..";

/// Every root, in order: `monitoring` first, then the VM environments and the retired ones (kept,
/// with no VM, until their apply has destroyed what they managed), by name.
pub fn environments(stack: &Stack) -> Vec<String> {
    let mut vm_roots: Vec<String> = stack.environments.iter().chain(&stack.terraform.retired_environments).cloned().collect();
    vm_roots.sort();
    std::iter::once(MONITORING.to_string()).chain(vm_roots).collect()
}

/// The VMs a root manages: the monitoring VM in `monitoring`, else the VMs of that environment.
pub fn vms_of<'s>(stack: &'s Stack, env: &str) -> Vec<&'s Vm> {
    indexed_vms_of(stack, env).into_iter().map(|(_, vm)| vm).collect()
}

/// `vms_of`, each VM with its index in `stack.vms` (`None` for the monitoring VM).
fn indexed_vms_of<'s>(stack: &'s Stack, env: &str) -> Vec<(Option<usize>, &'s Vm)> {
    if env == MONITORING {
        vec![(None, &stack.monitoring.vm)]
    } else {
        stack.vms.iter().enumerate().filter(|(_, vm)| vm.environment == env).map(|(i, vm)| (Some(i), vm)).collect()
    }
}

/// The nodes a root downloads the cloud image to (`proxmox_download_file.cloud_image`, one per
/// node): those of its VMs, sorted, each once.
pub fn image_nodes<'s>(stack: &'s Stack, env: &str) -> Vec<&'s str> {
    let mut nodes: Vec<&str> = vms_of(stack, env).iter().map(|vm| vm.node.as_str()).collect();
    nodes.sort();
    nodes.dedup();
    nodes
}

/// The secrets the monitoring root needs, as (role, reference): each becomes a sensitive variable
/// named `tf_var`, set from `TF_VAR_<tf_var>` (or by `cargo xtask plan` from `env`). A role is
/// a monitoring-stack module argument, or for remote-write credentials the secret file's name
/// (`remote_write_<name>_password`), passed in the module's `prometheus_secrets` map.
pub fn monitoring_secrets(stack: &Stack) -> Vec<(String, &SecretRef)> {
    let s = &stack.services;
    let mut out: Vec<(String, &SecretRef)> = vec![
        ("telegram_bot_token".to_string(), &stack.alerting.telegram_bot_token),
        ("grafana_admin_password".to_string(), &s.grafana.admin_password),
        ("autokuma_password".to_string(), &s.autokuma.password),
    ];
    if let (true, Some(users)) = (s.traefik.dashboard, &s.traefik.dashboard_users) {
        out.push(("traefik_dashboard_users".to_string(), users));
    }
    out.extend(prometheus_secrets(stack).into_iter().map(|(file, r)| (file.to_string(), r)));
    if let Some(s3) = &s.loki.storage.s3 {
        out.push(("loki_s3_access_key_id".to_string(), &s3.access_key_id));
        out.push(("loki_s3_secret_access_key".to_string(), &s3.secret_access_key));
    }
    out
}

/// The secret files Prometheus reads (remote-write credentials), as (file name under
/// secrets_dir, reference), in stack.toml order.
pub fn prometheus_secrets(stack: &Stack) -> Vec<(&str, &SecretRef)> {
    stack.services.prometheus.remote_write.iter().flat_map(|rw| rw.secrets()).collect()
}

/// What gen warns about in the Terraform it renders (printed, never fatal).
pub fn warnings(stack: &Stack) -> Vec<String> {
    let mut out = Vec::new();
    let image = &stack.proxmox.cloud_image;
    if image.checksum.is_none() {
        out.push(format!(
            "proxmox.cloud_image has no checksum: Proxmox takes whatever {} serves, unverified; pin a dated image and its published sha512 (`checksum`, `checksum_algorithm = \"sha512\"`)",
            image.url
        ));
    }
    out.extend(ha_on_local_storage(stack));
    out
}

/// The storages a Proxmox VE installer creates on every node's own disk
/// (https://pve.proxmox.com/pve-docs/chapter-pvesm.html: `local`, and `local-lvm` or `local-zfs`):
/// a VM whose disks are there cannot fail over, its disk being on the node that failed.
const INSTALLER_LOCAL_STORAGES: [&str; 3] = ["local", "local-lvm", "local-zfs"];

/// HA asked for VMs whose disks go to a storage that is, by Proxmox's own naming, local to each
/// node. A warning, not a refusal: the name is the operator's, and only the cluster knows.
fn ha_on_local_storage(stack: &Stack) -> Vec<String> {
    let datastore = &stack.proxmox.vm_datastore;
    if !INSTALLER_LOCAL_STORAGES.contains(&datastore.as_str()) {
        return Vec::new();
    }
    let ha: Vec<&str> = std::iter::once(&stack.monitoring.vm).chain(&stack.vms).filter(|vm| !vm.ha_nodes.is_empty()).map(|vm| vm.name.as_str()).collect();
    if ha.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "ha = true on {} with proxmox.vm_datastore = \"{datastore}\", the name Proxmox gives a node's own disk: if it is local, the HA manager cannot restart {} elsewhere (its disk is on the node that failed); put the VMs' disks on shared storage (Ceph RBD, NFS, iSCSI...) and set vm_datastore to it (README, \"A Proxmox cluster with HA\")",
        ha.join(", "),
        if ha.len() == 1 { "it" } else { "them" }
    )]
}

pub fn render(stack: &Stack, out: &mut Outputs) -> Result<()> {
    render_modules(stack, out)?;
    environments(stack).iter().try_for_each(|env| render_root(stack, out, env))
}

/// The `vm` and `monitoring-stack` modules.
pub fn render_modules(stack: &Stack, out: &mut Outputs) -> Result<()> {
    // The modules are the same for every stack but for the provider constraint they pin.
    // The monitoring-stack module takes Prometheus's secret files only when the stack has some,
    // and, with Loki on S3, the bucket's keys (variables and loki.env), so that a stack without
    // them renders the module it always had.
    let module_ctx = minijinja::context! {
        stack => minijinja::context! { terraform => minijinja::Value::from_serialize(&stack.terraform) },
        prometheus_secrets => !prometheus_secrets(stack).is_empty(),
        loki_s3 => stack.services.loki.storage.s3.is_some(),
    };
    for (module, templates, statics) in MODULES {
        for file in *templates {
            out.render(&format!("terraform/modules/{module}/{file}"), module_ctx.clone())?;
        }
        for file in *statics {
            out.copy(&format!("terraform/modules/{module}/{file}"))?;
        }
    }
    Ok(())
}

/// The root of one environment (`monitoring` or a VM environment).
pub fn render_root(stack: &Stack, out: &mut Outputs, env: &str) -> Result<()> {
    let ctx = root_ctx(stack, out, env)?;
    for file in ROOT_FILES {
        let template = format!("terraform/environments/{{env}}/{file}.j2");
        out.render_from(&template, &format!("terraform/environments/{env}/{file}"), ctx.clone()).with_context(|| format!("terraform root `{env}`"))?;
    }
    Ok(())
}

/// What a root's templates read of a VM besides its own fields (the two read as one map,
/// `overlay`).
#[derive(Serialize)]
struct VmCtx {
    /// The module block's name: the VM name with `_` for `-`.
    module: String,
    log_agent: Agent,
    /// The agent is off and the stack authorizes an SSH key: Terraform removes any agent the VM
    /// ran before (`terraform_data.log_agent_removal`).
    agent_removal: bool,
    rules: Vec<Rule>,
    /// HCL string expressions of the VM's files under generated/ (names are DNS labels).
    cloud_init_file: String,
    agent_dir: String,
}

/// A VM under the HA manager: its `proxmox_haresource` and `proxmox_harule` (`_ha.tf.j2`).
#[derive(Serialize)]
struct HaCtx {
    /// `<name>-<vm_id>`: see `_ha.tf.j2`.
    key: String,
    /// The module output, so the HA resource is created after the VM and destroyed before it.
    vm_id: String,
    nodes: Vec<String>,
}

#[derive(Serialize)]
struct UrlCtx {
    name: String,
    url: String,
}

#[derive(Serialize)]
struct SecretCtx {
    role: String,
    var: String,
    env: String,
}

/// A secret argument of the monitoring-stack call and its HCL expression.
#[derive(Serialize)]
struct ArgCtx {
    name: String,
    expr: String,
}

fn root_ctx(stack: &Stack, out: &Outputs, env: &str) -> Result<Value> {
    let indexed = indexed_vms_of(stack, env);
    let vms: Vec<&Vm> = indexed.iter().map(|(_, vm)| *vm).collect();
    // Each VM's own value: the one converted with the stack (the monitoring VM's is flattened
    // into `stack.monitoring` there, so it is converted here).
    let vm_values: Vec<Value> = indexed.iter().map(|(i, vm)| i.map_or_else(|| Ok(Value::from_serialize(vm)), |i| out.vm_value(i))).collect::<Result<_>>()?;
    let vm_ctx: Vec<VmCtx> = vms
        .iter()
        .map(|vm| VmCtx {
            module: vm.name.replace('-', "_"),
            log_agent: vm.agent,
            agent_removal: vm.agent == Agent::None && !vm.ssh_keys.is_empty() && env != MONITORING,
            rules: firewall::firewall_rules(stack, vm),
            cloud_init_file: format!("\"${{local.generated_dir}}/cloud-init/{}.yaml\"", vm.name),
            agent_dir: format!("\"${{local.generated_dir}}/agents/{}\"", vm.name),
        })
        .collect();
    let ha_key = |vm: &Vm| format!("{}-{}", vm.name, vm.vm_id);
    let ha: Vec<HaCtx> = vms
        .iter()
        .filter(|vm| !vm.ha_nodes.is_empty())
        .map(|vm| HaCtx {
            key: ha_key(vm),
            vm_id: if env == MONITORING { "module.monitoring.vm_id".to_string() } else { format!("module.{}.vm_id", vm.name.replace('-', "_")) },
            nodes: vm.ha_nodes.clone(),
        })
        .collect();
    let nodes = image_nodes(stack, env);
    let scheme = if stack.tls.enabled { "https" } else { "http" };
    let urls: Vec<UrlCtx> = stack.routes.iter().map(|r| UrlCtx { name: r.name.clone(), url: format!("{scheme}://{}/", r.host) }).collect();
    let mut secrets: Vec<SecretCtx> =
        monitoring_secrets(stack).into_iter().map(|(role, s)| SecretCtx { role, var: s.tf_var.clone(), env: s.env.clone() }).collect();
    secrets.sort_by(|a, b| a.role.cmp(&b.role));
    let mut secret_vars: Vec<(String, String)> = secrets.iter().map(|s| (s.var.clone(), s.env.clone())).collect();
    secret_vars.sort();
    secret_vars.dedup();
    if let Some((var, env_name)) = secret_vars.iter().find(|(v, _)| ROOT_VARIABLES.contains(&v.as_str())) {
        anyhow::bail!(
            "the secret from {env_name} would be the Terraform variable `{var}`, which the root already declares\n  hint: give that secret another environment variable name"
        );
    }
    let files = prometheus_secrets(stack);
    let mut secret_args: Vec<(String, String)> =
        secrets.iter().filter(|s| !files.iter().any(|(f, _)| *f == s.role)).map(|s| (s.role.clone(), format!("var.{}", s.var))).collect();
    let leaf = if stack.tls.enabled { "sensitive(file(\"${path.root}/${var.tls_leaf_key_file}\"))" } else { "null" };
    secret_args.push(("tls_leaf_key".to_string(), leaf.to_string()));
    // The `prometheus_secrets` map of the module call: quoted file name and the variable that
    // carries its value (the template aligns the `=` as fmt does).
    let prometheus_files: Vec<String> = files.iter().map(|(f, _)| f.to_string()).collect();
    let prometheus_map: Vec<ArgCtx> = files.iter().map(|(f, r)| ArgCtx { name: format!("\"{f}\""), expr: format!("var.{}", r.tf_var) }).collect();
    let secret_args: Vec<ArgCtx> = secret_args.into_iter().map(|(name, expr)| ArgCtx { name, expr }).collect();
    let t = &stack.terraform;
    let leaf_key = if stack.tls.leaf_key.starts_with('/') { stack.tls.leaf_key.clone() } else { format!("{TO_REPO}/{}", stack.tls.leaf_key) };
    Ok(minijinja::context! {
        stack => out.stack_value(),
        env => env,
        monitoring => env == MONITORING,
        vms => vm_ctx.iter().zip(vm_values).map(|(extra, vm)| super::overlay::overlay(Value::from_serialize(extra), vm)).collect::<Vec<_>>(),
        ha => Value::from_serialize(&ha),
        nodes => nodes,
        image_file_name => format!("{env}-{}", stack.proxmox.cloud_image.file_name),
        loki_url => super::agents::push_url(stack).unwrap_or_default(),
        state_path => format!("{TO_REPO}/{}/{env}.tfstate", t.state_dir.trim_start_matches("./").trim_end_matches('/')),
        s3_key => format!("proxmox-lab/{env}.tfstate"),
        pg_schema => format!("terraform_{}", env.replace('-', "_")),
        generated_dir => TO_GENERATED,
        urls => Value::from_serialize(&urls),
        secrets => Value::from_serialize(&secrets),
        secret_vars => secret_vars,
        secret_args => Value::from_serialize(&secret_args),
        prometheus_files => prometheus_files,
        prometheus_map => Value::from_serialize(&prometheus_map),
        dashboard => stack.services.traefik.dashboard && stack.services.traefik.dashboard_users.is_some(),
        leaf_key_file => leaf_key,
    })
}
