//! First-boot cloud-config of every VM, the monitoring VM included
//! (`generated/cloud-init/<vm>.yaml`): hostname, SSH keys, the guest agent, node exporter on
//! the other VMs, Docker on the monitoring VM, and the log agent's files and install run.
//! Rendered after the agents, whose files it embeds as they are written.

use anyhow::{Context, Result};
use minijinja::Value;
use serde::Serialize;

use super::{Outputs, agents};
use crate::stack::Stack;
use crate::stack::model::Vm;

#[derive(Serialize)]
struct File {
    path: String,
    permissions: &'static str,
    content: String,
}

/// What each VM installs and runs (packages, runcmd) is written in `cloud-init/{vm}.yaml.j2`;
/// this family gives it the files to embed and where the agent's install script lands.
pub fn render(stack: &Stack, out: &mut Outputs) -> Result<()> {
    render_monitoring(stack, out)?;
    stack.vms.iter().try_for_each(|vm| render_one(stack, out, vm))
}

/// The monitoring VM's cloud-config.
pub fn render_monitoring(stack: &Stack, out: &mut Outputs) -> Result<()> {
    render_vm(stack, out, &stack.monitoring.vm, "the monitoring VM", true, Vec::new())
}

/// The cloud-config of one VM other than the monitoring VM; its agent files must be in `out`.
pub fn render_one(stack: &Stack, out: &mut Outputs, vm: &Vm) -> Result<()> {
    let mut files = Vec::new();
    for generated in agents::files(vm) {
        let name = generated.rsplit('/').next().unwrap_or(&generated);
        let content = out.get(&generated).with_context(|| format!("generated/{generated}: not rendered before the cloud-init"))?.to_string();
        let script = name == agents::SCRIPT;
        files.push(File { path: format!("{}/{name}", agents::STAGING_DIR), permissions: if script { "0750" } else { "0640" }, content });
    }
    render_vm(stack, out, vm, &format!("environment {}", vm.environment), false, files)
}

fn render_vm(stack: &Stack, out: &mut Outputs, vm: &Vm, role: &str, monitoring: bool, files: Vec<File>) -> Result<()> {
    let domain = if stack.network.search_domain.is_empty() { &stack.domain } else { &stack.network.search_domain };
    let ctx = minijinja::context! {
        stack => out.stack_value(),
        vm => Value::from_serialize(vm),
        role => role,
        fqdn => format!("{}.{domain}", vm.name),
        monitoring => monitoring,
        files => Value::from_serialize(&files),
        agent_script => format!("{}/{}", agents::STAGING_DIR, agents::SCRIPT),
    };
    out.render_from("cloud-init/{vm}.yaml.j2", &format!("cloud-init/{}.yaml", vm.name), ctx)
}
