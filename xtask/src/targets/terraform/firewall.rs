//! The inbound firewall rules of each VM, derived from the stack: default deny, then only what
//! the observability stack needs (Traefik from the LAN, agent pushes to Loki, scrapes and pings
//! from the monitoring VM, SSH from the admin network).

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::stack::model::{Agent, Stack, Vm};

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
        if let Some((_, port)) = backend(&route.url).filter(|(ip, _)| *ip == vm.ip) {
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

/// The address and port of a route's backend URL, when it is an IPv4 address (`http://ip:port`).
fn backend(url: &str) -> Option<(Ipv4Addr, u16)> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    Some((host.parse().ok()?, port.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_reads_ip_routes_only() {
        assert_eq!(backend("http://10.0.0.5:8080"), Some((Ipv4Addr::new(10, 0, 0, 5), 8080)));
        assert_eq!(backend("https://10.0.0.5:8443/app"), Some((Ipv4Addr::new(10, 0, 0, 5), 8443)));
        assert_eq!(backend("http://grafana:3000"), None);
        assert_eq!(backend(""), None);
    }
}
