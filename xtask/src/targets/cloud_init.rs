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

/// An argv list, so runcmd needs no shell quoting.
fn cmd(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

pub fn render(stack: &Stack, out: &mut Outputs) -> Result<()> {
    render_monitoring(stack, out)?;
    stack.vms.iter().try_for_each(|vm| render_one(stack, out, vm))
}

/// The monitoring VM's cloud-config.
pub fn render_monitoring(stack: &Stack, out: &mut Outputs) -> Result<()> {
    let m = &stack.monitoring;
    let mut packages = cmd(&["qemu-guest-agent", "ca-certificates", "curl", "docker.io"]);
    packages.sort();
    let runcmd = vec![
        cmd(&["systemctl", "enable", "--now", "qemu-guest-agent"]),
        // Compose v2: `docker-compose-v2` on Ubuntu; on Debian 13 `docker-compose` is v2.
        cmd(&[
            "sh",
            "-c",
            "if apt-cache show docker-compose-v2 >/dev/null 2>&1; then pkg=docker-compose-v2; else pkg=docker-compose; fi; DEBIAN_FRONTEND=noninteractive apt-get install -y \"$pkg\"",
        ]),
        cmd(&["systemctl", "enable", "--now", "docker"]),
        cmd(&["docker", "compose", "version"]),
        cmd(&["install", "-d", "-m", "0755", &m.stack_dir]),
        cmd(&["install", "-d", "-m", "0700", &m.secrets_dir]),
    ];
    render_vm(stack, out, &m.vm, "the monitoring VM", packages, Vec::new(), runcmd)
}

/// The cloud-config of one VM other than the monitoring VM; its agent files must be in `out`.
pub fn render_one(stack: &Stack, out: &mut Outputs, vm: &Vm) -> Result<()> {
    let mut packages = cmd(&["qemu-guest-agent", "prometheus-node-exporter"]);
    let mut runcmd = vec![cmd(&["systemctl", "enable", "--now", "qemu-guest-agent"]), cmd(&["systemctl", "enable", "--now", "prometheus-node-exporter"])];
    let mut files = Vec::new();
    for generated in agents::files(vm) {
        let name = generated.rsplit('/').next().unwrap_or(&generated);
        let content = out.get(&generated).with_context(|| format!("generated/{generated}: not rendered before the cloud-init"))?.to_string();
        let script = name == agents::SCRIPT;
        files.push(File { path: format!("{}/{name}", agents::STAGING_DIR), permissions: if script { "0750" } else { "0640" }, content });
    }
    if !files.is_empty() {
        packages.extend(cmd(&["ca-certificates", "curl"]));
        runcmd.push(cmd(&["bash", &format!("{}/{}", agents::STAGING_DIR, agents::SCRIPT)]));
    }
    packages.sort();
    render_vm(stack, out, vm, &format!("environment {}", vm.environment), packages, files, runcmd)
}

fn render_vm(stack: &Stack, out: &mut Outputs, vm: &Vm, role: &str, packages: Vec<String>, files: Vec<File>, runcmd: Vec<Vec<String>>) -> Result<()> {
    let domain = if stack.network.search_domain.is_empty() { &stack.domain } else { &stack.network.search_domain };
    let ctx = minijinja::context! {
        stack => out.stack_value(),
        vm => Value::from_serialize(vm),
        role => role,
        fqdn => format!("{}.{domain}", vm.name),
        packages => packages,
        files => Value::from_serialize(&files),
        runcmd => runcmd,
    };
    out.render_from("cloud-init/{vm}.yaml.j2", &format!("cloud-init/{}.yaml", vm.name), ctx)
}
