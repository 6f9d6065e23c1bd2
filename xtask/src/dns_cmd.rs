//! `cargo xtask dns`: the name resolution lines that send every routed host to Traefik on the
//! monitoring VM, for a hosts file and for dnsmasq (Pi-hole, OpenWrt). docs/dns.md explains them.

use anyhow::Result;

use crate::project::Project;
use crate::stack::Stack;

/// The lines to paste, for one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsLines {
    /// `<monitoring ip> <host> <host> ...`: every routed host on one hosts-file line.
    pub hosts: String,
    /// `address=/<domain>/<monitoring ip>`: the domain and every name under it.
    pub dnsmasq: String,
    /// Every routed host, sorted.
    pub names: Vec<String>,
}

/// Every routed host resolves to the monitoring VM, including routes to other VMs: Traefik,
/// which runs there, forwards them.
pub fn lines(stack: &Stack) -> DnsLines {
    let ip = stack.monitoring.vm.ip;
    let names: Vec<String> = stack.routes.iter().map(|r| r.host.clone()).collect();
    let hosts = if names.is_empty() { String::new() } else { format!("{ip} {}", names.join(" ")) };
    DnsLines { hosts, dnsmasq: format!("address=/{}/{ip}", stack.domain), names }
}

/// The text `cargo xtask dns` prints: comments say where each line goes.
pub fn render(stack: &Stack) -> String {
    let l = lines(stack);
    let mut out = String::new();
    if l.names.is_empty() {
        out.push_str("# stack.toml routes no host: there is nothing to resolve.\n");
        return out;
    }
    out.push_str("# hosts file: /etc/hosts (Linux, macOS) or C:\\Windows\\System32\\drivers\\etc\\hosts (Windows)\n");
    out.push_str(&format!("{}\n", l.hosts));
    out.push_str(&format!("\n# dnsmasq, Pi-hole or OpenWrt: {} and every name under it go to {}\n", stack.domain, stack.monitoring.vm.name));
    out.push_str(&format!("{}\n", l.dnsmasq));
    out.push_str(&format!("\n# or, instead, when other machines have names under {}: one line per routed host\n", stack.domain));
    for name in &l.names {
        out.push_str(&format!("address=/{name}/{}\n", stack.monitoring.vm.ip));
    }
    out.push_str(&format!("\n# check: dig +short {} (or nslookup {}) answers {}\n", l.names[0], l.names[0], stack.monitoring.vm.ip));
    out
}

pub fn run(project: &Project) -> Result<()> {
    let stack = project.load()?;
    print!("{}", render(&stack));
    Ok(())
}
