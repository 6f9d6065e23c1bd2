//! `[network]` and the address rules every VM shares.

use super::*;

impl Validator<'_> {
    pub(super) fn ip(&mut self, key: &str, s: &str) -> Option<Ipv4Addr> {
        match s.parse::<Ipv4Addr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                let hint = if s.contains('/') { "write the address without a prefix length" } else { "write a dotted IPv4 address, e.g. 192.168.1.51" };
                self.p.add(key, format!("`{s}` is not an IPv4 address"), hint);
                None
            }
        }
    }

    pub(super) fn cidr(&mut self, key: &str, s: &str) -> Option<Cidr> {
        let Some(c) = Cidr::parse(s) else {
            self.p.add(key, format!("`{s}` is not an IPv4 network in CIDR form"), "write e.g. 192.168.1.0/24");
            return None;
        };
        if c.addr != c.network() {
            self.p.add(key, format!("`{s}` has host bits set"), &format!("the network address is {}/{}", c.network(), c.prefix));
        }
        Some(c)
    }

    pub(super) fn network(&mut self, n: &RawNetwork) -> Option<Network> {
        let cidr = self.cidr("network.cidr", &n.cidr);
        // The lab's LAN: every firewall rule "from the LAN" allows this network. A prefix under
        // /8 is a good part of the internet, not a LAN.
        if let Some(c) = cidr.filter(|c| c.prefix < 8) {
            self.p.add(
                "network.cidr",
                format!(
                    "`{}` is not a LAN: a /{} holds {} addresses, and the firewall would open the LAN's ports to all of them",
                    n.cidr,
                    c.prefix,
                    if c.prefix == 0 { "all".to_string() } else { format!("2^{}", 32 - c.prefix) }
                ),
                "write the network the VMs' bridge is on, e.g. 192.168.1.0/24",
            );
        }
        let gateway = self.ip("network.gateway", &n.gateway);
        if let (Some(c), Some(g)) = (cidr, gateway)
            && !c.contains(g)
        {
            self.p.add("network.gateway", format!("gateway {g} is outside the network {c}"), "the gateway must be an address of network.cidr");
        }
        let dns: Vec<Ipv4Addr> = n.dns.iter().enumerate().filter_map(|(i, s)| self.ip(&format!("network.dns[{i}]"), s)).collect();
        if n.dns.is_empty() {
            self.p.add("network.dns", "no DNS server", "list at least one, e.g. dns = [\"192.168.1.1\"]");
        }
        let bridge = n.bridge.clone().unwrap_or_else(|| "vmbr0".to_string());
        if !bridge.bytes().all(|b| b.is_ascii_alphanumeric()) || bridge.is_empty() {
            self.p.add("network.bridge", format!("`{bridge}` is not a Proxmox bridge name"), "e.g. vmbr0");
        }
        let vlan_id = n.vlan_id.and_then(|v| in_range(self.p, "network.vlan_id", v, 1, 4094, "")).map(|v| v as u16);
        let admin_cidr = match &n.admin_cidr {
            Some(s) => self.cidr("network.admin_cidr", s),
            None => cidr,
        };
        let search_domain = n.search_domain.clone().unwrap_or_default();
        if let Some(why) = Some(&search_domain).filter(|d| !d.is_empty()).and_then(|d| crate::stack::workable::domain_problem(d)) {
            self.p.add("network.search_domain", format!("`{search_domain}` {why}"), "e.g. home.lan");
        }
        let cidr = cidr?;
        Some(Network { cidr, prefix: cidr.prefix, gateway: gateway?, dns, bridge, vlan_id, admin_cidr: admin_cidr?, search_domain })
    }
}
