//! `[monitoring]`, `[vms.NAME]` and `[ssh]`: names, ids, addresses, nodes, agents and SSH keys.

use super::*;

impl Validator<'_> {
    /// The VM agents push to Loki's published port: without one they have nowhere to send.
    pub(super) fn agents_reach_loki(&mut self, vms: &[Vm], services: &Services) {
        let shipping: Vec<&str> = vms.iter().filter(|vm| vm.agent != Agent::None).map(|vm| vm.name.as_str()).collect();
        if services.loki.container.host_port.is_none() && !shipping.is_empty() {
            self.p.add(
                "services.loki.host_port",
                format!("Loki publishes no port, but the log agents of {} push to it", shipping.join(", ")),
                "remove `host_port = 0`, or set `log_agent = \"none\"` on those VMs",
            );
        }
    }

    pub(super) fn vm_common(&mut self, key: &str, name: &str, vm_id: i64, ip: &str, network: &Network) -> (u32, Option<Ipv4Addr>) {
        check_label(self.p, key, "VM name", name);
        let id = in_range(self.p, &join(key, "vm_id"), vm_id, 100, 999_999_999, " (Proxmox VM ids)").unwrap_or(0);
        let ip_key = join(key, "ip");
        let ip = self.ip(&ip_key, ip);
        if let Some(ip) = ip {
            let c = network.cidr;
            if !c.contains(ip) {
                self.p.add(&ip_key, format!("{ip} is outside the network {c}"), "pick an address of network.cidr");
            } else if ip == network.gateway {
                self.p.add(&ip_key, format!("{ip} is the gateway's address"), "pick a free address of network.cidr");
            } else if ip == c.network() || ip == c.broadcast() {
                self.p.add(&ip_key, format!("{ip} is the network or broadcast address of {c}"), "pick a host address");
            }
        }
        (id, ip)
    }

    pub(super) fn node(&mut self, key: &str, node: Option<&String>, proxmox: &Proxmox) -> String {
        match node {
            Some(n) => {
                if check_label(self.p, key, "node name", n) {
                    crate::stack::cluster::member(self.p, key, n, &proxmox.nodes);
                }
                n.clone()
            }
            None => proxmox.node.clone(),
        }
    }

    pub(super) fn ssh_keys(&mut self, key: &str, keys: Option<&Vec<String>>) -> Vec<String> {
        let keys = keys.cloned().unwrap_or_default();
        for (i, k) in keys.iter().enumerate() {
            if !super::ssh_key::is_public_key(k) {
                self.p.add(
                    format!("{key}[{i}]"),
                    "not an OpenSSH public key (a key type, then the key in base64, then an optional comment)",
                    "paste one line from ~/.ssh/id_ed25519.pub",
                );
            }
        }
        keys
    }

    /// `[ssh] authorized_keys` go to every VM, before its own `ssh_keys`. The user data replaces
    /// Proxmox's own key injection, so a VM that Terraform provisions over SSH (the monitoring VM,
    /// every VM with a log agent) without any key could never be reached.
    pub(super) fn authorize_ssh(&mut self, raw: Option<&RawSsh>, monitoring: &mut MonitoringVm, vms: &mut [Vm], proxmox: &Proxmox) {
        let common = self.ssh_keys("ssh.authorized_keys", raw.map(|s| &s.authorized_keys));
        let mut unreachable = Vec::new();
        for vm in std::iter::once(&mut monitoring.vm).chain(vms.iter_mut()) {
            let own = std::mem::take(&mut vm.ssh_keys);
            vm.ssh_keys = common.iter().chain(own.iter()).fold(Vec::new(), |mut keys, k| {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
                keys
            });
            let provisioned = vm.environment == "monitoring" || vm.agent != Agent::None;
            if provisioned && vm.ssh_keys.is_empty() {
                unreachable.push(vm.name.clone());
            }
        }
        if !unreachable.is_empty() {
            self.p.add(
                "ssh",
                format!(
                    "no SSH key is authorized on {}: Terraform logs in as `{}` to deliver the stack and install the log agents",
                    unreachable.join(", "),
                    proxmox.cloud_image.default_user
                ),
                "add `[ssh]` with `authorized_keys = [\"ssh-ed25519 AAAA... you@laptop\"]` (public keys only)",
            );
        }
    }

    /// The monitoring VM; an address that is not one (reported) is stood in for by 0.0.0.0, which
    /// no other VM can have, so that the rest is still checked.
    pub(super) fn monitoring(&mut self, m: &RawMonitoringVm, network: &Network, proxmox: &Proxmox) -> MonitoringVm {
        let (vm_id, ip) = self.vm_common("monitoring", &m.name, m.vm_id, &m.ip, network);
        let memory_mb = in_range(self.p, "monitoring.memory_mb", m.memory_mb, 1024, 1_048_576, " MB").unwrap_or(0);
        let os_reserve_mb = opt_range(self.p, "monitoring.os_reserve_mb", m.os_reserve_mb, 512, 128, 65_536, " MB");
        let abs_dir = |p: &mut Problems, key: &str, v: Option<&String>, default: &str| {
            let v = v.cloned().unwrap_or_else(|| default.to_string());
            if !v.starts_with('/') || v.contains("..") || v.len() < 2 || v.contains(char::is_whitespace) {
                p.add(key, format!("`{v}` is not an absolute directory on the VM"), &format!("e.g. {default}"));
            }
            v.trim_end_matches('/').to_string()
        };
        let stack_dir = abs_dir(self.p, "monitoring.stack_dir", m.stack_dir.as_ref(), "/opt/monitoring");
        let secrets_dir = abs_dir(self.p, "monitoring.secrets_dir", m.secrets_dir.as_ref(), "/etc/monitoring-secrets");
        if secrets_dir == stack_dir || secrets_dir.starts_with(&format!("{stack_dir}/")) {
            self.p.add(
                "monitoring.secrets_dir",
                "the secrets directory is inside the delivered stack directory",
                "keep it apart, e.g. /etc/monitoring-secrets",
            );
        }
        let node = self.node("monitoring.node", m.node.as_ref(), proxmox);
        let stand_in = self.p.already_reported("proxmox", true);
        let ha_nodes = crate::stack::cluster::ha(self.p, "monitoring", m.ha, m.ha_nodes.as_deref(), &node, &proxmox.nodes, stand_in);
        let vm = Vm {
            name: m.name.clone(),
            vm_id,
            ip: ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
            environment: "monitoring".to_string(),
            cores: opt_range(self.p, "monitoring.cores", m.cores, 2, 1, 128, ""),
            memory_mb,
            disk_gb: opt_range(self.p, "monitoring.disk_gb", m.disk_gb, 32, 8, 65_536, " GB"),
            node,
            ha_nodes,
            // Its logs are shipped by the compose stack's Promtail container, not by a host agent.
            agent: Agent::None,
            agent_metrics_port: None,
            tags: vec!["monitoring".to_string(), "terraform".to_string()],
            ssh_keys: self.ssh_keys("monitoring.ssh_keys", m.ssh_keys.as_ref()),
            docker: true,
        };
        MonitoringVm { vm, os_reserve_mb, stack_dir, secrets_dir }
    }

    pub(super) fn vms(&mut self, raw: &BTreeMap<String, RawVm>, monitoring: &MonitoringVm, network: &Network, proxmox: &Proxmox, logging: &Logging) -> Vec<Vm> {
        let mut names = BTreeMap::from([(monitoring.vm.name.clone(), "monitoring".to_string())]);
        let mut ids = BTreeMap::from([(monitoring.vm.vm_id, "monitoring".to_string())]);
        let mut ips = BTreeMap::from([(monitoring.vm.ip, "monitoring".to_string())]);
        let mut out = Vec::new();
        for (name, r) in raw {
            let key = join("vms", name);
            let (vm_id, ip) = self.vm_common(&key, name, r.vm_id, &r.ip, network);
            // A VM's name is also its root's module block (`module.<name>`, `-` as `_`), and a
            // Terraform identifier starts with a letter.
            if name.starts_with(|c: char| c.is_ascii_digit()) {
                self.p.add(
                    &key,
                    format!(
                        "VM name `{name}` starts with a digit, but it also names the VM's Terraform module (`module.{}`), which must start with a letter",
                        name.replace('-', "_")
                    ),
                    &format!("start it with a letter, e.g. `vm-{name}`"),
                );
            }
            if let Some(other) = names.insert(name.clone(), key.clone()) {
                self.p.add(&key, format!("VM name `{name}` is already used by {other}"), "VM names must be unique across the lab");
            }
            if vm_id != 0
                && let Some(other) = ids.insert(vm_id, key.clone())
            {
                self.p.add(join(&key, "vm_id"), format!("vm_id {vm_id} is already used by {other}"), "Proxmox VM ids must be unique");
            }
            if let Some(ip) = ip
                && let Some(other) = ips.insert(ip, key.clone())
            {
                self.p.add(join(&key, "ip"), format!("{ip} is already used by {other}"), "each VM needs its own address");
            }
            let env_key = join(&key, "environment");
            if check_label(self.p, &env_key, "environment", &r.environment) && r.environment == "monitoring" {
                self.p.add(&env_key, "`monitoring` is reserved for the monitoring VM", "use e.g. `prod` or `staging`");
            }
            let agent = self.agent(&join(&key, "log_agent"), r.log_agent.as_ref(), logging.default_agent);
            let mut tags = r.tags.clone().unwrap_or_default();
            for (i, t) in tags.iter().enumerate() {
                if !is_dns_label(t) {
                    self.p.add(format!("{key}.tags[{i}]"), format!("tag `{t}` is not a valid Proxmox tag"), "lowercase letters, digits and hyphens");
                }
            }
            tags.push(r.environment.clone());
            tags.push("terraform".to_string());
            tags.sort();
            tags.dedup();
            let node = self.node(&join(&key, "node"), r.node.as_ref(), proxmox);
            let stand_in = self.p.already_reported("proxmox", true);
            let ha_nodes = crate::stack::cluster::ha(self.p, &key, r.ha, r.ha_nodes.as_deref(), &node, &proxmox.nodes, stand_in);
            let Some(ip) = ip else { continue };
            out.push(Vm {
                name: name.clone(),
                vm_id,
                ip,
                environment: r.environment.clone(),
                cores: opt_range(self.p, &join(&key, "cores"), r.cores, 2, 1, 128, ""),
                memory_mb: opt_range(self.p, &join(&key, "memory_mb"), r.memory_mb, 2048, 512, 1_048_576, " MB"),
                disk_gb: opt_range(self.p, &join(&key, "disk_gb"), r.disk_gb, 20, 4, 65_536, " GB"),
                node,
                ha_nodes,
                agent,
                agent_metrics_port: agent.metrics_port(),
                tags,
                ssh_keys: self.ssh_keys(&join(&key, "ssh_keys"), r.ssh_keys.as_ref()),
                docker: r.docker.unwrap_or(false),
            });
        }
        out
    }
}
