//! The modules' own tests (`generated/terraform/modules/*/tests/*.tftest.hcl`), the plan's
//! `traefik.tftest.hcl`, `loki.tftest.hcl` and `promtail.tftest.hcl` and what else the modules
//! promise: `terraform test` with `mock_provider "proxmox"` (Terraform >= 1.7) and
//! `command = plan`, so no Proxmox is touched.
//!
//! The inputs come from the stack (the monitoring VM, one VM per agent kind, their firewall
//! rules), so the tests check the module against what this lab will pass it. Paths are relative
//! to the module directory, where `terraform test` runs.

use anyhow::Result;
use minijinja::Value;
use serde::Serialize;

use super::Outputs;
use super::agents::push_url;
use super::terraform::firewall::{self, Rule};
use crate::stack::model::{Agent, Stack, Vm};

/// The test files of each module, rendered from the template of the same path plus `.j2`.
pub const FILES: &[(&str, &[&str])] =
    &[("vm", &["firewall.tftest.hcl", "promtail.tftest.hcl"]), ("monitoring-stack", &["traefik.tftest.hcl", "loki.tftest.hcl", "secrets.tftest.hcl"])];

/// From a module directory to generated/.
const TO_GENERATED: &str = "../../..";

/// One VM as a test case: the module's inputs (the VM's own fields, `overlay`) and the rules it
/// must end up with.
#[derive(Serialize)]
struct Case {
    /// An HCL identifier for run names.
    id: String,
    rules: Vec<Rule>,
    /// Each rule as `ACTION proto dport from source`, the key the assertions compare.
    rule_keys: Vec<String>,
    cloud_init_file: String,
    agent_dir: String,
}

fn rule_key(r: &Rule) -> String {
    format!("{} {} {} from {}", r.action, r.proto, r.dport.as_deref().unwrap_or("-"), r.source)
}

fn case(stack: &Stack, vm: &Vm) -> Value {
    let rules = firewall::firewall_rules(stack, vm);
    let case = Case {
        id: vm.name.replace('-', "_"),
        rule_keys: rules.iter().map(rule_key).collect(),
        rules,
        cloud_init_file: format!("{TO_GENERATED}/cloud-init/{}.yaml", vm.name),
        agent_dir: format!("{TO_GENERATED}/agents/{}", vm.name),
    };
    super::overlay::overlay(Value::from_serialize(case), Value::from_serialize(vm))
}

pub fn render(stack: &Stack, out: &mut Outputs) -> Result<()> {
    let mon = &stack.monitoring.vm;
    // The firewall cases: the monitoring VM and the first VM of each environment.
    let mut firewall_cases = vec![case(stack, mon)];
    for env in &stack.environments {
        if let Some(vm) = stack.vms.iter().find(|vm| &vm.environment == env) {
            firewall_cases.push(case(stack, vm));
        }
    }
    // The agent cases: the first VM of each agent kind that the stack runs.
    let agent_cases: Vec<Value> =
        [Agent::Promtail, Agent::Alloy].iter().filter_map(|kind| stack.vms.iter().find(|vm| vm.agent == *kind)).map(|vm| case(stack, vm)).collect();
    let agent_vms: Vec<&Vm> = stack.vms.iter().filter(|vm| vm.agent != Agent::None).collect();
    // The files of the central logs that the monitoring VM must receive, as other families made them.
    let log_files: Vec<&str> = ["loki/loki-config.yml", "promtail/promtail-config.yml", "prometheus/rules/logs.yml"]
        .into_iter()
        .filter(|f| out.get(&format!("compose/{f}")).is_some())
        .collect();
    let prometheus_files: Vec<&str> = super::terraform::prometheus_secrets(stack).into_iter().map(|(f, _)| f).collect();
    let width = prometheus_files.iter().map(|f| f.len()).max().unwrap_or(0);
    let secret_files = |dashboard: bool| {
        let mut files = vec!["autokuma.env", "grafana_admin_password"];
        if stack.services.loki.storage.s3.is_some() {
            files.push("loki.env");
        }
        files.push("telegram_bot_token");
        if stack.tls.enabled {
            files.push("tls/leaf.key");
        }
        if dashboard {
            files.push("traefik_dashboard_users");
        }
        files.extend(prometheus_files.iter().copied());
        // keys() of the module's map: sorted.
        files.sort_unstable();
        files
    };
    let ctx = minijinja::context! {
        log_files => log_files,
        secret_files => secret_files(false),
        prometheus_files => prometheus_files,
        // Made-up values of prometheus_secrets, each key padded as `terraform fmt` aligns it.
        prometheus_values => prometheus_files.iter().map(|f| (format!("\"{f}\"{}", " ".repeat(width - f.len())), format!("\"tftest-{f}\""))).collect::<Vec<_>>(),
        all_secret_files => secret_files(true),
        stack => out.stack_value(),
        mon => case(stack, mon),
        firewall_cases => firewall_cases,
        agent_cases => agent_cases,
        loki_url => push_url(stack).unwrap_or_default(),
        loki_port => firewall::loki_port(stack),
        loki_push_keys => agent_vms.iter().filter_map(|vm| firewall::loki_port(stack).map(|p| format!("ACCEPT tcp {p} from {}", vm.ip))).collect::<Vec<_>>(),
        compose_dir => format!("{TO_GENERATED}/compose"),
        image_file_id => format!("{}:import/tftest.qcow2", stack.proxmox.image_datastore),
    };
    for (module, files) in FILES {
        for file in *files {
            out.render(&format!("terraform/modules/{module}/tests/{file}"), ctx.clone())?;
        }
    }
    Ok(())
}
