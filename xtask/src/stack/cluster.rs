//! A Proxmox cluster: `[proxmox] nodes` (the nodes VMs may name) and high availability (`ha`,
//! `ha_nodes` on `[monitoring]` and `[vms.NAME]`), checked against each other. Validation calls
//! these; the HA resources they lead to are rendered by `targets::terraform`.

use super::diag::{Problems, did_you_mean, edit_distance};
use super::validate::is_dns_label;

/// `proxmox.nodes` (absent: empty): DNS labels, none twice, `proxmox.node` among them.
pub fn nodes(p: &mut Problems, raw: Option<&[String]>, node: &str) -> Vec<String> {
    let Some(raw) = raw else { return Vec::new() };
    if raw.is_empty() {
        p.add("proxmox.nodes", "the list of nodes is empty", "name every node of the cluster, e.g. `nodes = [\"pve-a\", \"pve-b\"]`, or remove the key");
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for (i, n) in raw.iter().enumerate() {
        if !is_dns_label(n) {
            p.add(
                format!("proxmox.nodes[{i}]"),
                format!("node name `{}` is not a DNS label", n.escape_debug()),
                "Proxmox node names are hostnames, e.g. `pve-a`",
            );
        } else if out.contains(n) {
            p.add(format!("proxmox.nodes[{i}]"), format!("node `{n}` is listed twice"), "name each node once");
        } else {
            out.push(n.clone());
        }
    }
    member(p, "proxmox.node", node, &out);
    out
}

/// A node a VM (or the provider) names must be one of `nodes`, when the list is given.
pub fn member(p: &mut Problems, key: &str, node: &str, nodes: &[String]) {
    if nodes.is_empty() || nodes.iter().any(|n| n == node) {
        return;
    }
    // Node names often differ by one digit (`pve2`, `pve3`): a typo is suggested only when one
    // node is closer than every other, never for a tie such as `pve4`.
    let near = did_you_mean(node, nodes.iter().map(String::as_str))
        .filter(|near| nodes.iter().filter(|n| edit_distance(node, n) == edit_distance(node, near)).count() == 1);
    let hint = match near {
        Some(near) => format!("did you mean `{near}`? The nodes are {}", list(nodes)),
        None => format!("one of {}, or add it to `proxmox.nodes`", list(nodes)),
    };
    p.add(key, format!("node `{node}` is not in proxmox.nodes"), &hint);
}

/// `` `pve-a`, `pve-b` ``: nodes as messages and the PR summary show them.
pub fn list(nodes: &[String]) -> String {
    nodes.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// The nodes the HA manager may run the VM at `key` on (sorted), or empty when `ha` is not on.
/// HA needs `proxmox.nodes`; `ha_nodes` needs `ha = true`, names only nodes of the list, none
/// twice, and the VM's own node (else the HA manager would move it away from where Terraform
/// puts it). `stand_in`: `[proxmox]` could not be read (already reported), so nothing is known
/// of its nodes and no echo is added.
pub fn ha(p: &mut Problems, key: &str, ha: Option<bool>, ha_nodes: Option<&[String]>, node: &str, nodes: &[String], stand_in: bool) -> Vec<String> {
    let on = ha.unwrap_or(false);
    let nodes_key = format!("{key}.ha_nodes");
    if stand_in {
        return Vec::new();
    }
    if !on {
        if ha_nodes.is_some() {
            p.add(&nodes_key, "`ha_nodes` is set but `ha` is not on", "add `ha = true`, or remove `ha_nodes`");
        }
        return Vec::new();
    }
    if nodes.is_empty() {
        let (k, what) = if ha_nodes.is_some() { (nodes_key.clone(), "`ha_nodes` needs") } else { (format!("{key}.ha"), "HA needs") };
        p.add(
            k,
            format!("{what} the cluster's nodes, and `[proxmox]` has no `nodes`"),
            "add `nodes = [\"pve-a\", \"pve-b\", ...]` to `[proxmox]`: the nodes of the cluster",
        );
        return Vec::new();
    }
    let Some(raw) = ha_nodes else {
        let mut all = nodes.to_vec();
        all.sort();
        return all;
    };
    if raw.is_empty() {
        p.add(&nodes_key, "the list of HA nodes is empty", "name the nodes it may run on, or remove `ha_nodes` to allow every node of proxmox.nodes");
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for (i, n) in raw.iter().enumerate() {
        let k = format!("{nodes_key}[{i}]");
        if !nodes.contains(n) {
            member(p, &k, n, nodes);
        } else if out.contains(n) {
            p.add(k, format!("node `{n}` is listed twice"), "name each node once");
        } else {
            out.push(n.clone());
        }
    }
    if out.len() == raw.len() && !out.iter().any(|n| n == node) {
        p.add(
            &nodes_key,
            format!("the VM's own node `{node}` is not in `ha_nodes`"),
            "add it: the HA rule is strict, the HA manager would move the VM away from its node",
        );
    }
    out.sort();
    out
}
