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
    content: Value,
}

/// What each VM installs and runs (packages, runcmd) is written in `cloud-init/{vm}.yaml.j2`;
/// this family gives it the files to embed and where the agent's install script lands.
pub fn render(stack: &Stack, out: &mut Outputs) -> Result<()> {
    render_monitoring(stack, out)?;
    (0..stack.vms.len()).try_for_each(|i| render_one(stack, out, i))
}

/// The monitoring VM's cloud-config.
pub fn render_monitoring(stack: &Stack, out: &mut Outputs) -> Result<()> {
    let vm = &stack.monitoring.vm;
    render_vm(stack, out, vm, Value::from_serialize(vm), "the monitoring VM", true, Vec::new())
}

/// The cloud-config of `stack.vms[i]`; its agent files must be in `out`.
pub fn render_one(stack: &Stack, out: &mut Outputs, i: usize) -> Result<()> {
    let vm = &stack.vms[i];
    let mut files = Vec::new();
    for generated in agents::files(vm) {
        let name = generated.rsplit('/').next().unwrap_or(&generated);
        // Straight into a template string: one copy of the file.
        let content = Value::from(out.get(&generated).with_context(|| format!("generated/{generated}: not rendered before the cloud-init"))?);
        let script = name == agents::SCRIPT;
        files.push(File { path: format!("{}/{name}", agents::STAGING_DIR), permissions: if script { "0750" } else { "0640" }, content });
    }
    render_vm(stack, out, vm, out.vm_value(i)?, &format!("environment {}", vm.environment), false, files)
}

fn render_vm(stack: &Stack, out: &mut Outputs, vm: &Vm, vm_value: Value, role: &str, monitoring: bool, files: Vec<File>) -> Result<()> {
    let domain = if stack.network.search_domain.is_empty() { &stack.domain } else { &stack.network.search_domain };
    let ctx = minijinja::context! {
        stack => out.stack_value(),
        vm => vm_value,
        role => role,
        fqdn => format!("{}.{domain}", vm.name),
        monitoring => monitoring,
        files => Value::from_serialize(&files),
        agent_script => format!("{}/{}", agents::STAGING_DIR, agents::SCRIPT),
    };
    out.render_from("cloud-init/{vm}.yaml.j2", &format!("cloud-init/{}.yaml", vm.name), ctx)
}
