//! The log agent of each VM whose agent is on (`generated/agents/<vm>/`): its config
//! (`promtail.yml` or `config.alloy`) and `install-agent.sh`, which installs the pinned agent,
//! puts the config beside it in place and restarts the agent. Cloud-init runs it at first boot;
//! Terraform runs it again over SSH when these files change.

use anyhow::{Context, Result};
use minijinja::Value;

use super::Outputs;
use crate::stack::Stack;
use crate::stack::model::{Agent, Vm};

/// Where cloud-init writes the agent files on the VM; install-agent.sh reads its config from
/// its own directory, so any other upload directory works as well.
pub const STAGING_DIR: &str = "/opt/log-agent";

pub const SCRIPT: &str = "install-agent.sh";

/// The config file name of an agent, `None` when the VM ships no logs.
pub fn config_name(agent: Agent) -> Option<&'static str> {
    match agent {
        Agent::Promtail => Some("promtail.yml"),
        Agent::Alloy => Some("config.alloy"),
        Agent::None => None,
    }
}

/// The files of `vm` under generated/, config first; empty when its agent is off.
pub fn files(vm: &Vm) -> Vec<String> {
    config_name(vm.agent).map(|c| vec![format!("agents/{}/{c}", vm.name), format!("agents/{}/{SCRIPT}", vm.name)]).unwrap_or_default()
}

/// Loki's push endpoint as the other VMs reach it: the monitoring VM's published port. The one
/// place it is built: the agents' configs and the Terraform variable `loki_url` both use it.
pub fn push_url(stack: &Stack) -> Option<String> {
    let port = super::terraform::firewall::loki_port(stack)?;
    Some(format!("http://{}:{port}/loki/api/v1/push", stack.monitoring.vm.ip))
}

pub fn render(stack: &Stack, out: &mut Outputs) -> Result<()> {
    (0..stack.vms.len()).try_for_each(|i| render_vm(stack, out, i))
}

/// The agent files of `stack.vms[i]` (none when its agent is off).
pub fn render_vm(stack: &Stack, out: &mut Outputs, i: usize) -> Result<()> {
    let vm = &stack.vms[i];
    let Some(config) = config_name(vm.agent) else { return Ok(()) };
    let push_url = push_url(stack).with_context(|| format!("vms.{}: Loki publishes no port to push to", vm.name))?;
    let version = match vm.agent {
        Agent::Promtail => &stack.logging.promtail_version,
        _ => &stack.logging.alloy_version,
    };
    let ctx = minijinja::context! {
        stack => out.stack_value(),
        vm => out.vm_value(i)?,
        agent => Value::from_serialize(vm.agent),
        version => version,
        config_name => config,
        push_url => push_url,
    };
    let [config_out, script_out] = <[String; 2]>::try_from(files(vm)).expect("two files per agent");
    out.render_from(&format!("agents/{{vm}}/{config}.j2"), &config_out, ctx.clone())?;
    out.render_from(&format!("agents/{{vm}}/{SCRIPT}.j2"), &script_out, ctx)
}
