//! Rules for labs that are well formed but cannot work: a `.local` domain (mDNS answers it, not
//! DNS), a VM on the Proxmox node's own address, a gateway that is the network address, an
//! endpoint port outside 1..65535, a malformed image digest, Uptime Kuma 1 driven by AutoKuma 2,
//! and ports the stack itself already uses on a VM. Also the domain-name rules, each named.
//!
//! Runs on the validated pieces, after the section rules of validate/; every rule adds to the same problem list.

use std::net::Ipv4Addr;

use super::diag::Problems;
use super::model::{Agent, Container, MonitoringVm, Network, Proxmox, Route, Services, Target, Vm};
use super::parse::join;

/// Why `s` is not a domain name the lab can use, naming the rule it breaks; `None` when it is one.
pub fn domain_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("is empty".to_string());
    }
    if s.ends_with('.') {
        return Some(format!(
            "ends with a dot: write `{}` (URLs, certificates and Traefik's Host rules name hosts without the trailing dot)",
            s.trim_end_matches('.')
        ));
    }
    if s.len() > 253 {
        return Some(format!("is {} characters long, more than the 253 of a domain name", s.len()));
    }
    let labels: Vec<&str> = s.split('.').collect();
    for label in &labels {
        if label.is_empty() {
            return Some("has an empty label (two dots in a row, or a leading dot)".to_string());
        }
        if label.len() > 63 {
            return Some(format!("has the label `{label}`, longer than 63 characters"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some(format!("has the label `{label}`, which starts or ends with a hyphen"));
        }
        if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
            return Some(format!("has {c:?} in the label `{label}`: only letters, digits and inner hyphens"));
        }
    }
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Some(format!("has uppercase letters: write `{}` (names are compared in lowercase)", s.to_ascii_lowercase()));
    }
    let last = labels[labels.len() - 1];
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!(
            "ends in the all-numeric label `{last}`: browsers read such a name as an IPv4 address (the WHATWG URL standard), so https://grafana.{s}/ is no URL"
        ));
    }
    if last == "localhost" {
        return Some("is under .localhost, which names the loopback address (RFC 6761): browsers send the routed names to their own machine".to_string());
    }
    if labels.len() < 2 {
        let example = if s == "local" { "home.arpa".to_string() } else { format!("home.{s}") };
        return Some(format!("is a single label: a domain needs at least two, e.g. `{example}`"));
    }
    None
}

/// Stands in for a `[network]` that could not be validated (its problem is already reported), so
/// that the VMs are still checked (names, ids, duplicates): it contains every address and
/// adds no problem of its own. The stack is never returned with it: its problem is there.
pub fn stand_in_network() -> Network {
    let any = super::model::Cidr { addr: Ipv4Addr::UNSPECIFIED, prefix: 0 };
    Network {
        cidr: any,
        prefix: 0,
        gateway: Ipv4Addr::UNSPECIFIED,
        dns: Vec::new(),
        bridge: "vmbr0".to_string(),
        vlan_id: None,
        admin_cidr: any,
        search_domain: String::new(),
    }
}

/// Stands in for a `[monitoring]` that could not be read (already reported): no name, id or
/// address any VM can have, and no memory (a budget of 0 MB is never compared); see
/// [`stand_in_network`].
pub fn stand_in_monitoring() -> super::model::MonitoringVm {
    super::model::MonitoringVm {
        vm: super::model::Vm {
            name: String::new(),
            vm_id: 0,
            ip: Ipv4Addr::UNSPECIFIED,
            environment: "monitoring".to_string(),
            cores: 2,
            memory_mb: 0,
            disk_gb: 32,
            node: "pve".to_string(),
            ha_nodes: Vec::new(),
            agent: super::model::Agent::None,
            agent_metrics_port: None,
            tags: Vec::new(),
            ssh_keys: Vec::new(),
            docker: true,
        },
        os_reserve_mb: 512,
        stack_dir: "/opt/monitoring".to_string(),
        secrets_dir: "/etc/monitoring-secrets".to_string(),
    }
}

/// Stands in for a `[proxmox]` that could not be validated, with the defaults validation applies
/// (node names and the image's user only appear in messages); see [`stand_in_network`].
pub fn stand_in_proxmox() -> Proxmox {
    Proxmox {
        endpoint: String::new(),
        insecure: false,
        ca_file: None,
        node: "pve".to_string(),
        nodes: Vec::new(),
        ssh_user: "root".to_string(),
        api_token: super::model::SecretRef { env: "PROXMOX_VE_API_TOKEN".to_string(), tf_var: "proxmox_ve_api_token".to_string() },
        vm_datastore: "local-lvm".to_string(),
        snippets_datastore: "local".to_string(),
        image_datastore: "local".to_string(),
        cloud_image: super::model::CloudImage {
            url: String::new(),
            file_name: String::new(),
            checksum: None,
            checksum_algorithm: None,
            default_user: "debian".to_string(),
        },
    }
}

/// The validated parts of the stack these rules read.
pub struct Lab<'a> {
    pub domain: &'a str,
    pub network: &'a Network,
    pub proxmox: &'a Proxmox,
    pub monitoring: &'a MonitoringVm,
    pub vms: &'a [Vm],
    pub services: &'a Services,
    pub routes: &'a [Route],
    /// False when `network` and `proxmox` include a stand-in: their own rules are skipped.
    pub complete: bool,
}

/// Every rule of this module.
pub fn check(p: &mut Problems, lab: &Lab<'_>) {
    mdns_domain(p, lab.domain);
    if lab.complete {
        gateway(p, lab.network);
        if let Some(node) = endpoint(p, &lab.proxmox.endpoint) {
            vm_on_node(p, lab, node);
        }
    }
    for c in lab.services.containers() {
        digest(p, &image_key(c), &c.image);
    }
    kuma_versions(p, lab.services);
    monitoring_host_ports(p, lab.services);
    route_ports(p, lab);
}

fn image_key(c: &Container) -> String {
    join(&join("services", &c.key), "image")
}

/// `.local` is reserved for Multicast DNS (RFC 6762): resolvers send it to mDNS on the link, so
/// the routed names never reach the DNS server that knows them.
fn mdns_domain(p: &mut Problems, domain: &str) {
    if domain == "local" || domain.ends_with(".local") {
        p.add(
            "domain",
            format!(
                "`{domain}` is under .local, which devices resolve with multicast DNS (RFC 6762), not with your DNS server: the routed names would not resolve"
            ),
            "use `home.arpa` (RFC 8375, for home networks) or a name such as `home.lan`",
        );
    }
}

fn gateway(p: &mut Problems, n: &Network) {
    if n.cidr.prefix < 31 && n.gateway == n.cidr.network() {
        p.add(
            "network.gateway",
            format!("{} is the network address of {}, not a host", n.gateway, n.cidr),
            "the gateway is your router's address, e.g. the .1 of the network",
        );
    } else if n.cidr.prefix < 31 && n.gateway == n.cidr.broadcast() {
        p.add("network.gateway", format!("{} is the broadcast address of {}, not a host", n.gateway, n.cidr), "the gateway is your router's address");
    }
}

/// Checks the endpoint's port; returns the node's IPv4 address when the endpoint names one.
fn endpoint(p: &mut Problems, url: &str) -> Option<Ipv4Addr> {
    let rest = url.strip_prefix("https://")?;
    let authority = rest.split('/').next().unwrap_or("");
    // Credentials in the URL would be written into every root's main.tf and shown in the
    // pull-request summary; the token comes from PROXMOX_VE_API_TOKEN.
    if rest.contains('@') {
        p.add(
            "proxmox.endpoint",
            format!("`{}` carries credentials (`user@` before the host): they would be written into every root's main.tf", crate::url::redacted(url)),
            "write only https://HOST:8006/ and give the API token as PROXMOX_VE_API_TOKEN in the environment",
        );
        return None;
    }
    // A `[` with no `]` is no port, and no IPv4 node address either.
    let hp = crate::url::host_port(authority).unwrap_or(crate::url::HostPort { host: authority, port: None });
    let crate::url::HostPort { host, port } = hp;
    if hp.bracketed().is_none_or(|v6| v6.parse::<std::net::Ipv6Addr>().is_err()) && !super::validate::is_host_name(host) {
        p.add(
            "proxmox.endpoint",
            format!("`{url}` has no host name or address a client can connect to"),
            "write e.g. https://192.168.1.10:8006/ or https://pve.home.lan:8006/",
        );
        return None;
    }
    if let Some(port) = port {
        let valid = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u32>().is_ok_and(|n| (1..=65_535).contains(&n));
        if !valid {
            p.add(
                "proxmox.endpoint",
                format!("port `{port}` of `{}` is not a TCP port (1 to 65535)", crate::url::redacted(url)),
                "Proxmox VE listens on 8006: write e.g. https://192.168.1.10:8006/",
            );
        }
    }
    host.parse().ok()
}

/// A VM given the Proxmox node's own address would take it over on the LAN.
fn vm_on_node(p: &mut Problems, lab: &Lab<'_>, node: Ipv4Addr) {
    let mon = &lab.monitoring.vm;
    let all = std::iter::once((join("monitoring", "ip"), mon)).chain(lab.vms.iter().map(|vm| (join(&join("vms", &vm.name), "ip"), vm)));
    for (key, vm) in all {
        if vm.ip == node {
            p.add(key, format!("{} is the Proxmox node's own address (proxmox.endpoint)", vm.ip), "give the VM a free address of network.cidr");
        }
    }
}

/// A digest is `sha256:` and 64 lowercase hex digits (the OCI image spec's registered algorithm).
fn digest(p: &mut Problems, key: &str, image: &str) {
    let Some((_, digest)) = image.split_once('@') else { return };
    let ok = digest.strip_prefix("sha256:").is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    if !ok {
        p.add(
            key,
            format!("digest `{digest}` of `{image}` is malformed: a digest is `sha256:` and 64 lowercase hex digits"),
            "copy it from `docker buildx imagetools inspect IMAGE`, or drop `@...` and pin the tag only",
        );
    }
}

/// The major version of an image's tag (`v2.5.3`, `2.0.0`, `1-alpine`), if it starts with one.
fn major(image: &str) -> Option<u32> {
    let image = image.split('@').next().unwrap_or(image);
    let (_, tag) = image.rsplit_once(':').filter(|(_, t)| !t.contains('/'))?;
    let digits: String = tag.trim_start_matches('v').chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// AutoKuma 2 speaks Uptime Kuma 2's socket API; Uptime Kuma 1 needs AutoKuma's
/// `uptime-kuma-v1-*` images (/work/shared/reference/tool-facts.md, AutoKuma's README).
fn kuma_versions(p: &mut Problems, s: &Services) {
    let (kuma, auto) = (&s.uptime_kuma.container.image, &s.autokuma.container.image);
    if major(kuma) == Some(1) && major(auto).is_some_and(|m| m >= 2) {
        p.add(
            "services.uptime_kuma.image",
            format!("`{kuma}` is Uptime Kuma 1, but `{auto}` is AutoKuma 2, which only talks to Uptime Kuma 2"),
            "use Uptime Kuma 2 (e.g. `louislam/uptime-kuma:2.5.3`), or AutoKuma's `uptime-kuma-v1-latest` image",
        );
    }
}

/// What the stack itself listens on, on every VM: SSH (the provisioners and you), node exporter.
const SSH: u16 = 22;

fn monitoring_host_ports(p: &mut Problems, s: &Services) {
    for c in s.containers() {
        if c.host_port == Some(SSH) {
            p.add(
                join(&join("services", &c.key), "host_port"),
                "host port 22 of the monitoring VM is SSH, which Terraform's provisioners and you log in with",
                "pick a port that nothing on the monitoring VM uses",
            );
        }
    }
}

/// A `[routes]` entry to a port the stack already uses on that VM would proxy SSH, node
/// exporter or the log agent's metrics, not the application.
fn route_ports(p: &mut Problems, lab: &Lab<'_>) {
    for route in lab.routes {
        let Target::Vm { vm: vm_name, port, .. } = &route.target else { continue };
        let port = *port;
        let is_mon = *vm_name == lab.monitoring.vm.name;
        let vm = if is_mon { Some(&lab.monitoring.vm) } else { lab.vms.iter().find(|v| v.name == *vm_name) };
        let Some(vm) = vm else { continue };
        let what = if port == SSH {
            "SSH"
        } else if !is_mon && port == lab.services.node_exporter.port {
            "node exporter, which runs on every VM"
        } else if vm.agent_metrics_port == Some(port) {
            if vm.agent == Agent::Alloy { "the Alloy agent's metrics" } else { "the Promtail agent's metrics" }
        } else {
            continue;
        };
        p.add(
            join(&join("routes", &route.name), "port"),
            format!("port {port} of `{vm_name}` is already used by {what}: the route would expose that instead of the application"),
            "route to the port the application itself listens on",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint_problems(url: &str) -> (usize, Option<Ipv4Addr>) {
        let mut p = Problems::default();
        let node = endpoint(&mut p, url);
        (p.0.len(), node)
    }

    #[test]
    fn endpoint_ports_and_hosts() {
        assert_eq!(endpoint_problems("https://192.168.1.10:8006/"), (0, Some(Ipv4Addr::new(192, 168, 1, 10))));
        assert_eq!(endpoint_problems("https://192.168.1.10/"), (0, Some(Ipv4Addr::new(192, 168, 1, 10))));
        assert_eq!(endpoint_problems("https://pve.home.lan:8006/"), (0, None));
        assert_eq!(endpoint_problems("https://[fe80::1]:8006/"), (0, None));
        assert_eq!(endpoint_problems("https://[fe80::1]/"), (0, None));
        assert_eq!(endpoint_problems("https://[fe80::1]:0/").0, 1);
        assert_eq!(endpoint_problems("https://pve:65536/").0, 1);
        assert_eq!(endpoint_problems("https://pve:/").0, 1);
        // No host, a host that is no name, credentials (never echoed): refused, and no node address.
        for bad in [
            "https://:8006/",
            "https://a b c/",
            "https://[zz]:8006/",
            "https://root:SEKRETpw@192.168.1.10:8006/",
            "https://root@192.168.1.10:8006/",
            "https://root:pa/SEKRETpw@host/",
        ] {
            assert_eq!(endpoint_problems(bad), (1, None), "{bad}");
        }
        for url in ["https://root:SEKRETpw@192.168.1.10:8006/", "https://root:pa/SEKRETpw@host/"] {
            let mut p = Problems::default();
            endpoint(&mut p, url);
            assert!(!format!("{:?}", p.0).contains("SEKRET"), "the password is echoed: {:?}", p.0);
        }
    }

    #[test]
    fn domains_browsers_cannot_use_are_problems() {
        assert_eq!(domain_problem("home.lan"), None);
        assert_eq!(domain_problem("home.arpa"), None);
        for bad in ["home.123", "1.2.3.4", "123.456", "home.localhost", "localhost", "lan"] {
            assert!(domain_problem(bad).is_some(), "{bad}");
        }
        // The hint of a single label never proposes a name that is refused in turn.
        let local = domain_problem("local").unwrap();
        assert!(local.contains("`home.arpa`"), "{local}");
        assert_eq!(domain_problem("home.arpa"), None);
    }

    #[test]
    fn majors_of_tags() {
        assert_eq!(major("louislam/uptime-kuma:1.23.16"), Some(1));
        assert_eq!(major("louislam/uptime-kuma:2.5.3@sha256:00"), Some(2));
        assert_eq!(major("ghcr.io/bigboot/autokuma:v2.0.0"), Some(2));
        assert_eq!(major("ghcr.io/bigboot/autokuma:uptime-kuma-v1-latest"), None);
        assert_eq!(major("registry.lan:5000/kuma"), None);
    }
}
