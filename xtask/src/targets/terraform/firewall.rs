//! The inbound firewall rules of each VM, derived from the stack: default deny, then only what
//! the observability stack needs (Traefik from the LAN, agent pushes to Loki, scrapes and pings
//! from the monitoring VM, SSH from the admin network).

use serde::Serialize;

use crate::stack::model::{Agent, Stack, Target, Vm};

/// One `rule` block of `proxmox_virtual_environment_firewall_rules` (direction `in`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub action: &'static str,
    pub proto: &'static str,
    /// Destination ports, comma separated; `None` for ICMP.
    pub dport: Option<String>,
    /// A single address or a CIDR.
    pub source: String,
    pub comment: String,
}

fn accept(proto: &'static str, dport: Option<String>, source: impl ToString, comment: String) -> Rule {
    Rule { kind: "in", action: "ACCEPT", proto, dport, source: source.to_string(), comment }
}

fn ssh(stack: &Stack) -> Rule {
    accept("tcp", Some("22".to_string()), stack.network.admin_cidr, "SSH from the admin network".to_string())
}

/// The Loki port published on the monitoring VM, if any.
pub fn loki_port(stack: &Stack) -> Option<u16> {
    stack.services.loki.container.host_port
}

/// The rules of the monitoring VM: Traefik from the LAN, Loki from each VM that ships logs, SSH.
pub fn monitoring_rules(stack: &Stack) -> Vec<Rule> {
    let web = if stack.tls.enabled { "80,443" } else { "80" };
    let mut rules = vec![accept("tcp", Some(web.to_string()), stack.network.cidr, "Traefik (the routed services) from the LAN".to_string())];
    if let Some(port) = loki_port(stack) {
        for vm in stack.vms.iter().filter(|vm| vm.agent != Agent::None) {
            rules.push(accept("tcp", Some(port.to_string()), vm.ip, format!("Loki push from {}", vm.name)));
        }
    }
    rules.push(ssh(stack));
    rules
}

/// The rules of a VM other than the monitoring VM: node exporter, the agent's metrics and the
/// routed apps from the monitoring VM only, ping for Uptime Kuma, SSH from the admin network.
pub fn vm_rules(stack: &Stack, vm: &Vm) -> Vec<Rule> {
    let mon = stack.monitoring.vm.ip;
    // Prometheus scrapes every VM at the node exporter's catalog port (prometheus.yml.j2).
    let node_exporter = stack.services.node_exporter.port;
    let mut rules = vec![accept("tcp", Some(node_exporter.to_string()), mon, "node exporter scrape from the monitoring VM".to_string())];
    if let Some(port) = vm.agent_metrics_port {
        let agent = if vm.agent == Agent::Alloy { "Alloy" } else { "Promtail" };
        rules.push(accept("tcp", Some(port.to_string()), mon, format!("{agent} metrics scrape from the monitoring VM")));
    }
    for route in &stack.routes {
        if let Target::Vm { ip, port, .. } = &route.target
            && *ip == vm.ip
        {
            rules.push(accept("tcp", Some(port.to_string()), mon, format!("route {} from Traefik on the monitoring VM", route.host)));
        }
    }
    rules.push(accept("icmp", None, mon, "ping from Uptime Kuma on the monitoring VM".to_string()));
    rules.push(ssh(stack));
    rules
}

/// The rules of any VM of the stack.
pub fn firewall_rules(stack: &Stack, vm: &Vm) -> Vec<Rule> {
    if vm.name == stack.monitoring.vm.name { monitoring_rules(stack) } else { vm_rules(stack, vm) }
}
