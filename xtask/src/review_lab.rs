//! The first section of the pull-request summary: the changes an operator approves on purpose
//! (TLS and URL schemes, the CA and the leaf, firewall rules, targets and the figures derived
//! from them, the memory budget, remote-write endpoints, log agents, Loki's storage, the
//! secrets folder, the Proxmox connection, HA per VM). Pure:
//! two validated stacks and two rendered trees in, one line per change out.

use std::collections::BTreeMap;

use crate::stack::Stack;
use crate::stack::model::{Agent, Prometheus, RemoteWrite, SecretRef, Vm};
use crate::targets::terraform::firewall::{Rule, firewall_rules};
use crate::targets::terraform::monitoring_secrets;
use crate::tree::Tree;

/// The title of the section `review::summarize` shows first.
pub const TITLE: &str = "To approve on purpose";

/// Every change of this kind, most consequential first; empty when there is none.
pub fn approvals(old: &Stack, new: &Stack, old_tree: &Tree, new_tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    out.extend(day2(old, new));
    out.extend(tls(old, new));
    out.extend(certificates(new, old_tree, new_tree));
    out.extend(firewall(old, new));
    out.extend(targets(old, new));
    out.extend(memory(old, new));
    out.extend(shorter_retention(old, new));
    out.extend(remote_write(old, new));
    out.extend(agents(old, new));
    out.extend(loki_storage(old, new));
    out.extend(secrets_dir(old, new));
    out.extend(proxmox(old, new));
    out.extend(ha(old, new));
    out.extend(secret_files_left(old, new));
    out.extend(ssh_keys(old, new));
    out
}

/// The day-2 keys of `[terraform]`: what the plan guard lets through, and the roots kept empty.
fn day2(old: &Stack, new: &Stack) -> Vec<String> {
    let (a, b) = (&old.terraform, &new.terraform);
    let mut out = Vec::new();
    let names = |list: Vec<&String>| list.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    let added: Vec<&String> = b.acknowledge_recreate.iter().filter(|n| !a.acknowledge_recreate.contains(n)).collect();
    if !added.is_empty() {
        out.push(format!(
            "**acknowledge_recreate** now names {}: `cargo xtask plan|apply` accept a plan that re-creates or deletes {} (the disk is lost), by this change or a later one, until the name is removed",
            names(added.clone()),
            if added.len() == 1 { "it" } else { "them" }
        ));
    }
    let dropped: Vec<&String> = a.acknowledge_recreate.iter().filter(|n| !b.acknowledge_recreate.contains(n)).collect();
    if !dropped.is_empty() {
        out.push(format!(
            "**acknowledge_recreate** no longer names {}: a plan that re-creates or deletes {} is refused again",
            names(dropped.clone()),
            if dropped.len() == 1 { "it" } else { "them" }
        ));
    }
    for env in b.retired_environments.iter().filter(|e| !a.retired_environments.contains(e)) {
        let vms: Vec<&String> = old.vms.iter().filter(|vm| &vm.environment == env).map(|vm| &vm.name).collect();
        out.push(format!(
            "**root `{env}` retired**: kept with no VM, so `cargo xtask apply {env}` destroys every VM its state has{}; remove `{env}` from `retired_environments` after that apply",
            if vms.is_empty() { String::new() } else { format!(" ({})", names(vms)) }
        ));
    }
    for env in a.retired_environments.iter().filter(|e| !b.retired_environments.contains(e) && !new.environments.contains(e)) {
        out.push(format!(
            "**root `{env}` removed**: gen deletes generated/terraform/environments/{env}/ and CI no longer plans it; whatever its state still holds is left unmanaged, so merge this only after `cargo xtask apply {env}` ran with the retired root"
        ));
    }
    out
}

/// The secret files on the monitoring VM that a switch turns off and that this section does
/// not say elsewhere (loki.env and the remote-write files have their own lines): Terraform
/// stops managing them, and nothing deletes them from the VM.
fn secret_files_left(old: &Stack, new: &Stack) -> Vec<String> {
    let delivered = |s: &Stack| {
        let mut files = Vec::new();
        if s.tls.enabled {
            files.push("tls/leaf.key");
        }
        if s.services.traefik.dashboard {
            files.push("traefik_dashboard_users");
        }
        files
    };
    let now = delivered(new);
    let left: Vec<String> = delivered(old).into_iter().filter(|f| !now.contains(f)).map(|f| format!("`{}/{f}`", new.monitoring.secrets_dir)).collect();
    if left.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "**secret file(s) left on `{}`**: {} no longer delivered; Terraform does not delete {} from the VM: remove {} by hand",
        new.monitoring.vm.name,
        left.join(" and ") + if left.len() == 1 { " is" } else { " are" },
        if left.len() == 1 { "it" } else { "them" },
        if left.len() == 1 { "it" } else { "them" }
    )]
}

/// Authorized SSH keys live in the first-boot user data: a running VM never sees a change.
fn ssh_keys(old: &Stack, new: &Stack) -> Vec<String> {
    let (a, b) = (all_vms(old), all_vms(new));
    let changed: Vec<String> =
        b.iter().filter(|(name, vm)| a.get(*name).is_some_and(|o| o.ssh_keys != vm.ssh_keys)).map(|(name, _)| format!("`{name}`")).collect();
    if changed.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "**SSH keys** of {} change only in the first-boot user data: the running VM(s) keep the keys they have (a removed key still logs in) and do not get the new ones; Terraform's provisioners log in with the keys of your ssh-agent, so update ~/.ssh/authorized_keys on each VM yourself before you rely on the new keys",
        changed.join(", ")
    )]
}

/// The scheme clients use for the routed names.
pub fn scheme(stack: &Stack) -> &'static str {
    if stack.tls.enabled { "https" } else { "http" }
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

fn tls(old: &Stack, new: &Stack) -> Vec<String> {
    if old.tls.enabled == new.tls.enabled {
        return Vec::new();
    }
    let (a, b) = (scheme(old), scheme(new));
    let mut line = format!(
        "**TLS {} → {}**: every URL goes from `{a}://` to `{b}://` ({} routed name(s)); Traefik's port 443 {} on `{}`",
        on_off(old.tls.enabled),
        on_off(new.tls.enabled),
        new.routes.len(),
        if new.tls.enabled { "opens" } else { "closes" },
        new.monitoring.vm.name
    );
    if new.tls.enabled {
        line.push_str("; every device must import the lab CA (docs/tls.md)");
    }
    vec![line]
}

fn certificates(new: &Stack, old_tree: &Tree, new_tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    let dir = &new.tls.certs_dir;
    match (old_tree.get("compose/tls/ca.crt"), new_tree.get("compose/tls/ca.crt")) {
        (Some(a), Some(b)) if a != b => {
            out.push(format!("**CA replaced** (`{dir}/ca.crt`): every device must import the new CA and remove the old one (docs/tls.md)"))
        }
        (None, Some(_)) => out.push(format!("**CA added** (`{dir}/ca.crt`): import it on every device (docs/tls.md)")),
        (Some(_), None) if !new.tls.enabled => {}
        (Some(_), None) => out.push(format!("**CA removed** (`{dir}/ca.crt`): gen cannot issue a leaf until `cargo xtask certs init`")),
        _ => {}
    }
    if let (Some(a), Some(b)) = (old_tree.get("compose/tls/leaf.crt"), new_tree.get("compose/tls/leaf.crt"))
        && a != b
    {
        out.push(format!(
            "**leaf certificate reissued** (`{dir}/leaf.crt`, {} name(s)): apply `monitoring` so Terraform delivers its new key; devices need nothing",
            crate::tls::wanted_names(new).len()
        ));
    }
    out
}

/// Every VM of the lab, monitoring VM included, by name.
fn all_vms(stack: &Stack) -> BTreeMap<&str, &Vm> {
    std::iter::once(&stack.monitoring.vm).chain(&stack.vms).map(|vm| (vm.name.as_str(), vm)).collect()
}

/// A rule as a reviewer reads it, one per port: `proto port from source`, and what it is for.
fn rule_keys(r: &Rule) -> Vec<(String, String)> {
    let ports: Vec<String> = match r.dport.as_deref() {
        Some(list) => list.split(',').map(|p| format!(" {}", p.trim())).collect(),
        None => vec![String::new()],
    };
    ports.into_iter().map(|port| (format!("{}{port} from {}", r.proto, r.source), r.comment.clone())).collect()
}

fn rules(stack: &Stack, vm: &Vm) -> BTreeMap<String, String> {
    firewall_rules(stack, vm).iter().flat_map(rule_keys).collect()
}

fn firewall(old: &Stack, new: &Stack) -> Vec<String> {
    let (a, b) = (all_vms(old), all_vms(new));
    let mut out = Vec::new();
    for (name, new_vm) in &b {
        let after = rules(new, new_vm);
        let Some(old_vm) = a.get(name) else {
            out.push(format!("**firewall** `{name}` (new VM): {} inbound rule(s) accepted, the rest denied", after.len()));
            continue;
        };
        let before = rules(old, old_vm);
        for (rule, why) in &after {
            if !before.contains_key(rule) {
                out.push(format!("**firewall opened** on `{name}`: {rule} ({why})"));
            }
        }
        for (rule, why) in &before {
            if !after.contains_key(rule) {
                out.push(format!("**firewall closed** on `{name}`: {rule} (was {why})"));
            }
        }
    }
    for name in a.keys().filter(|n| !b.contains_key(*n)) {
        out.push(format!("**firewall** `{name}` (VM removed): its rules go with it"));
    }
    out
}

/// `label before → after` when the two differ.
fn figure(out: &mut Vec<String>, label: &str, before: impl ToString, after: impl ToString) {
    let (x, y) = (before.to_string(), after.to_string());
    if x != y {
        out.push(format!("{label} {x} → {y}"));
    }
}

fn targets(old: &Stack, new: &Stack) -> Vec<String> {
    let (a, b) = (&old.targets, &new.targets);
    let mut t = Vec::new();
    figure(&mut t, "failure detection target", format!("{} s", a.failure_detection_seconds), format!("{} s", b.failure_detection_seconds));
    figure(&mut t, "log retention target", format!("{} days", a.log_retention_days), format!("{} days", b.log_retention_days));
    figure(
        &mut t,
        "log search target",
        format!("{} min in {} s", a.log_search_window_minutes, a.log_search_seconds),
        format!("{} min in {} s", b.log_search_window_minutes, b.log_search_seconds),
    );
    figure(&mut t, "added memory target", format!("{} MB", a.added_memory_mb), format!("{} MB", b.added_memory_mb));
    figure(&mut t, "proxy overhead target", format!("{} ms", a.proxy_overhead_ms), format!("{} ms", b.proxy_overhead_ms));
    let mut d = Vec::new();
    let (ua, ub) = (&old.services.uptime_kuma, &new.services.uptime_kuma);
    figure(&mut d, "Uptime Kuma worst-case detection", format!("{} s", ua.worst_case_detection_seconds), format!("{} s", ub.worst_case_detection_seconds));
    let (la, lb) = (&old.alerting, &new.alerting);
    figure(&mut d, "alert worst-case detection", format!("{} s", la.worst_case_detection_seconds), format!("{} s", lb.worst_case_detection_seconds));
    figure(&mut d, "InstanceDown `for`", format!("{} s", la.instance_down_for_seconds), format!("{} s", lb.instance_down_for_seconds));
    figure(&mut d, "Alertmanager group_wait", format!("{} s", la.group_wait_seconds), format!("{} s", lb.group_wait_seconds));
    let (pa, pb) = (&old.services.prometheus, &new.services.prometheus);
    figure(&mut d, "Prometheus scrape interval", format!("{} s", pa.scrape_interval_seconds), format!("{} s", pb.scrape_interval_seconds));
    figure(&mut d, "Prometheus retention", retention(pa), retention(pb));
    let (ka, kb) = (&old.services.loki, &new.services.loki);
    figure(&mut d, "Loki retention", format!("{} days", ka.retention_days), format!("{} days", kb.retention_days));
    figure(
        &mut d,
        "Loki query split",
        format!("{} min × {} in parallel", ka.split_queries_minutes, ka.max_query_parallelism),
        format!("{} min × {} in parallel", kb.split_queries_minutes, kb.max_query_parallelism),
    );
    let mut out = Vec::new();
    if !t.is_empty() {
        out.push(format!("**targets**: {}", t.join("; ")));
    }
    if !d.is_empty() {
        out.push(format!("**derived figures**: {}", d.join("; ")));
    }
    out
}

fn memory(old: &Stack, new: &Stack) -> Vec<String> {
    let (a, b) = (&old.memory, &new.memory);
    let mut m = Vec::new();
    figure(&mut m, "VM", format!("{} MB", a.vm_mb), format!("{} MB", b.vm_mb));
    figure(&mut m, "container limits", format!("{} MB", a.limits_mb), format!("{} MB", b.limits_mb));
    figure(&mut m, "OS reserve", format!("{} MB", a.os_reserve_mb), format!("{} MB", b.os_reserve_mb));
    figure(
        &mut m,
        "the plan's additions reserve",
        format!("{} MB of {} MB", a.additions_reserved_mb, a.additions_target_mb),
        format!("{} MB of {} MB", b.additions_reserved_mb, b.additions_target_mb),
    );
    figure(
        &mut m,
        "remote write (queues and series cache, inside Prometheus's limit)",
        format!("{} MB", a.remote_write_mb),
        format!("{} MB", b.remote_write_mb),
    );
    if m.is_empty() { Vec::new() } else { vec![format!("**memory budget** of `{}`: {}", new.monitoring.vm.name, m.join("; "))] }
}

/// A shorter retention deletes what is already stored: say what, where, and that remote write
/// does not keep a copy of the past (Prometheus's WAL watcher sends only samples newer than its
/// own start: tsdb/wlog/watcher.go, `if s.T > w.startTimestamp`, at v3.14.0).
fn shorter_retention(old: &Stack, new: &Stack) -> Vec<String> {
    let vm = &new.monitoring.vm.name;
    let mut out = Vec::new();
    let (pa, pb) = (&old.services.prometheus, &new.services.prometheus);
    if pb.retention_hours < pa.retention_hours {
        let copy = if new.services.prometheus.remote_write.is_empty() {
            "nothing else holds a copy"
        } else {
            "remote write does not send them (it sends only samples newer than Prometheus's start), so the remote store has them only if it already received them"
        };
        out.push(format!(
            "**stored metrics deleted**: Prometheus keeps {} instead of {}: when it restarts with this change it deletes the blocks of `{vm}`'s disk older than {} (whole blocks: a few hours more may stay until the next one ends); {copy}",
            retention(pb),
            retention(pa),
            retention(pb)
        ));
    }
    let (la, lb) = (old.services.loki.retention_days, new.services.loki.retention_days);
    if lb < la {
        out.push(format!(
            "**stored logs deleted**: Loki keeps {lb} days instead of {la}: its compactor (every 10 minutes) marks the logs older than {lb} days and deletes them 2 hours later (`retention_delete_delay`), from the disk and the bucket alike"
        ));
    }
    out
}

fn retention(p: &Prometheus) -> String {
    if p.retention_days > 0 { format!("{} days", p.retention_days) } else { format!("{} h", p.retention_hours) }
}

/// How an endpoint authenticates, and from which variable.
fn auth(rw: &RemoteWrite) -> String {
    match (&rw.password, &rw.bearer_token) {
        (Some(p), _) => format!("basic auth as `{}`, password from `{}`", rw.username.as_deref().unwrap_or_default(), p.env),
        (None, Some(t)) => format!("bearer token from `{}`", t.env),
        (None, None) => "no authentication".to_string(),
    }
}

/// Remote-write endpoints added, removed or changed: where every sample goes is a decision.
fn remote_write(old: &Stack, new: &Stack) -> Vec<String> {
    let by_name =
        |s: &'_ Stack| -> BTreeMap<String, RemoteWrite> { s.services.prometheus.remote_write.iter().map(|rw| (rw.name.clone(), rw.clone())).collect() };
    let (a, b) = (by_name(old), by_name(new));
    let dir = &new.monitoring.secrets_dir;
    let mut out = Vec::new();
    for (name, rw) in &b {
        match a.get(name) {
            None => out.push(format!(
                "**remote write added**: `{name}` → `{}` ({}; {} series pattern(s) dropped; queue up to {} MB): Prometheus sends every sample it keeps there from now on",
                rw.url,
                auth(rw),
                rw.drop_series.len(),
                rw.queue_memory_mb
            )),
            Some(before) => {
                let mut c = Vec::new();
                figure(&mut c, "URL", format!("`{}`", before.url), format!("`{}`", rw.url));
                figure(&mut c, "auth", auth(before), auth(rw));
                figure(&mut c, "dropped series", format!("`{}`", before.drop_series.join("`, `")), format!("`{}`", rw.drop_series.join("`, `")));
                figure(
                    &mut c,
                    "queue",
                    format!("{} shards × {} (+{} per send), {} MB", before.max_shards, before.capacity, before.max_samples_per_send, before.queue_memory_mb),
                    format!("{} shards × {} (+{} per send), {} MB", rw.max_shards, rw.capacity, rw.max_samples_per_send, rw.queue_memory_mb),
                );
                if !c.is_empty() {
                    out.push(format!("**remote write** `{name}`: {}", c.join("; ")));
                }
            }
        }
    }
    for (name, rw) in a.iter().filter(|(n, _)| !b.contains_key(*n)) {
        let files: Vec<String> = rw.secrets().iter().map(|(f, _)| format!("`{dir}/{f}`")).collect();
        let left = if files.is_empty() { String::new() } else { format!("; its secret file {} stays on the VM until you delete it", files.join(" and ")) };
        out.push(format!("**remote write removed**: `{name}` (`{}`): Prometheus stops sending to it; what it already received stays there{left}", rw.url));
    }
    out
}

/// Every secret reference Terraform needs for this stack: the API token, the monitoring root's
/// secrets and the pg connection string.
fn secret_refs(stack: &Stack) -> BTreeMap<String, SecretRef> {
    let mut all: Vec<&SecretRef> = vec![&stack.proxmox.api_token];
    all.extend(monitoring_secrets(stack).into_iter().map(|(_, r)| r));
    all.extend(stack.terraform.pg_conn_str.as_ref());
    all.into_iter().map(|r| (r.env.clone(), r.clone())).collect()
}

/// The workflow file `cargo xtask plan/apply` run from in CI.
pub const TERRAFORM_WORKFLOW: &str = ".github/workflows/terraform.yml";

/// A secret this change introduces must be exported where Terraform runs, and in CI be added to
/// the workflow by hand (it names its secrets one by one; `cargo xtask plan` stops without it).
/// `workflow` is the text of [`TERRAFORM_WORKFLOW`] in this checkout, when there is one.
pub fn new_secrets(old: &Stack, new: &Stack, workflow: Option<&str>) -> Vec<String> {
    let before = secret_refs(old);
    let mut out = Vec::new();
    for (env, r) in secret_refs(new).into_iter().filter(|(env, _)| !before.contains_key(env)) {
        // The API token and the pg connection string reach Terraform under names of their own
        // (terraform_cmd::child_env), read from the variable stack.toml names.
        let target = if r.env == new.proxmox.api_token.env {
            "PROXMOX_VE_API_TOKEN".to_string()
        } else if new.terraform.pg_conn_str.as_ref().is_some_and(|c| c.env == r.env) {
            "PG_CONN_STR".to_string()
        } else {
            format!("TF_VAR_{}", r.tf_var)
        };
        let line = format!("{target}: ${{{{ secrets.{env} }}}}");
        let ci = match workflow {
            Some(text) if text.contains(&line) => format!("`{TERRAFORM_WORKFLOW}` passes it (`{line}`): add the repository secret `{env}` on GitHub"),
            Some(_) => format!(
                "`{TERRAFORM_WORKFLOW}` does not pass it yet: add `{line}` to the `env:` of its plan and apply jobs and the repository secret `{env}` on GitHub, else CI's `cargo xtask plan monitoring` stops and names it"
            ),
            None => format!("in CI, `{line}` in the `env:` of the plan and apply jobs of `{TERRAFORM_WORKFLOW}`, and the repository secret `{env}`"),
        };
        out.push(format!("**new secret** `{env}`: export it where Terraform runs (`cargo xtask plan` passes it as `{target}`); {ci}"));
    }
    out
}

fn agent_name(agent: Agent) -> &'static str {
    match agent {
        Agent::Promtail => "promtail",
        Agent::Alloy => "alloy",
        Agent::None => "none",
    }
}

fn agents(old: &Stack, new: &Stack) -> Vec<String> {
    let (a, b) = (all_vms(old), all_vms(new));
    let mut changed = Vec::new();
    for (name, vm) in &b {
        if let Some(before) = a.get(name).filter(|o| o.agent != vm.agent) {
            changed.push(format!("`{name}` {} → {}", agent_name(before.agent), agent_name(vm.agent)));
        }
    }
    let mut out = Vec::new();
    if !changed.is_empty() {
        out.push(format!(
            "**log agents**: {} (a new agent: install-agent.sh runs over SSH and removes the other one; `none`: the agent is removed over SSH where stack.toml authorizes a key, else left running)",
            changed.join(", ")
        ));
    }
    let mut v = Vec::new();
    figure(&mut v, "default agent", agent_name(old.logging.default_agent), agent_name(new.logging.default_agent));
    figure(&mut v, "promtail", &old.logging.promtail_version, &new.logging.promtail_version);
    figure(&mut v, "alloy", &old.logging.alloy_version, &new.logging.alloy_version);
    if !v.is_empty() {
        out.push(format!("**log agent versions**: {}", v.join("; ")));
    }
    out
}

fn secrets_dir(old: &Stack, new: &Stack) -> Vec<String> {
    let (a, b) = (&old.monitoring.secrets_dir, &new.monitoring.secrets_dir);
    if a == b {
        return Vec::new();
    }
    vec![format!(
        "**secrets folder** on `{}`: `{a}` → `{b}` (Terraform writes the secret files there; the old ones stay until removed)",
        new.monitoring.vm.name
    )]
}

fn proxmox(old: &Stack, new: &Stack) -> Vec<String> {
    let (a, b) = (&old.proxmox, &new.proxmox);
    let mut p = Vec::new();
    figure(&mut p, "endpoint", format!("`{}`", a.endpoint), format!("`{}`", b.endpoint));
    figure(&mut p, "insecure TLS", a.insecure, b.insecure);
    figure(&mut p, "node", format!("`{}`", a.node), format!("`{}`", b.node));
    let list = |n: &[String]| if n.is_empty() { "not listed".to_string() } else { crate::stack::cluster::list(n) };
    figure(&mut p, "cluster nodes", list(&a.nodes), list(&b.nodes));
    figure(&mut p, "SSH user", format!("`{}`", a.ssh_user), format!("`{}`", b.ssh_user));
    figure(&mut p, "API token variable", format!("`{}`", a.api_token.env), format!("`{}`", b.api_token.env));
    figure(&mut p, "VM datastore", format!("`{}`", a.vm_datastore), format!("`{}`", b.vm_datastore));
    figure(&mut p, "snippets datastore", format!("`{}`", a.snippets_datastore), format!("`{}`", b.snippets_datastore));
    figure(&mut p, "image datastore", format!("`{}`", a.image_datastore), format!("`{}`", b.image_datastore));
    if p.is_empty() { Vec::new() } else { vec![format!("**Proxmox**: {}", p.join("; "))] }
}

/// HA on or off per VM, and the nodes each HA VM may run on.
fn ha(old: &Stack, new: &Stack) -> Vec<String> {
    let (a, b) = (all_vms(old), all_vms(new));
    let on = |vm: Option<&&Vm>| vm.is_some_and(|vm| !vm.ha_nodes.is_empty());
    let mut changed = Vec::new();
    for name in a.keys().chain(b.keys().filter(|n| !a.contains_key(*n))) {
        let (before, after) = (a.get(name), b.get(name));
        let nodes = |vm: Option<&&Vm>| vm.map(|vm| crate::stack::cluster::list(&vm.ha_nodes)).unwrap_or_default();
        match (on(before), on(after)) {
            (false, true) if before.is_none() => changed.push(format!("`{name}` new, on (nodes {})", nodes(after))),
            (false, true) => changed.push(format!("`{name}` off → on (nodes {})", nodes(after))),
            (true, false) if after.is_some() => changed.push(format!("`{name}` on → off (the VM leaves HA and runs on)")),
            (true, false) => changed.push(format!("`{name}` on → removed with the VM")),
            (true, true) if before.map(|v| &v.ha_nodes) != after.map(|v| &v.ha_nodes) => {
                changed.push(format!("`{name}` nodes {} → {}", nodes(before), nodes(after)))
            }
            _ => {}
        }
    }
    if changed.is_empty() {
        return Vec::new();
    }
    vec![format!("**HA** (Proxmox HA manager; the VMs themselves are untouched, each needs its disks on shared storage to fail over): {}", changed.join(", "))]
}

/// Where Loki keeps logs: what happens to the logs already stored when the storage changes.
fn loki_storage(old: &Stack, new: &Stack) -> Vec<String> {
    let (a, b) = (&old.services.loki.storage, &new.services.loki.storage);
    let vm = &new.monitoring.vm.name;
    let days = new.services.loki.retention_days;
    match (&a.s3, &b.s3) {
        (None, Some(s3)) => vec![format!(
            "**Loki storage filesystem → s3** (bucket `{}` at `{}`): from {} (00:00 UTC) new logs go to the bucket; the logs before stay on `{vm}`'s disk and are read from there until they are {days} days old (retention), then deleted; the keys come from `{}` and `{}` where Terraform runs (written to `<secrets_dir>/loki.env`, never to git); create the bucket before this apply: the compactor keeps its delete requests there from Loki's next start",
            s3.bucket, s3.endpoint, s3.from, s3.access_key_id.env, s3.secret_access_key.env
        )],
        // Terraform drops the loki.env resource without deleting the file (no destroy-time
        // provisioner in modules/monitoring-stack): the keys stay on the VM, as a removed
        // remote-write endpoint's secret file does.
        (Some(s3), None) => vec![format!(
            "**Loki storage s3 → filesystem**: the bucket's period (from {}) is dropped, which gen accepts only before that day: no logs are in the bucket yet (only the compactor's delete requests), and logs stay on `{vm}`'s disk; the bucket's keys file `{}/loki.env` stays on the VM until you delete it",
            s3.from, old.monitoring.secrets_dir
        )],
        (Some(x), Some(y)) => {
            let mut out = Vec::new();
            if x.from != y.from {
                out.push(format!(
                    "**Loki's bucket period moved** {} → {}, which gen accepts only while neither day has come: logs go to the bucket from {} on",
                    x.from, y.from, y.from
                ));
            }
            if (&x.endpoint, &x.bucket) != (&y.endpoint, &y.bucket) {
                out.push(format!(
                    "**Loki's bucket changed** `{}` at `{}` → `{}` at `{}`: Loki reads every day since {} from the new bucket only, so logs already in the old one are no longer found unless you copy its objects across first",
                    x.bucket, x.endpoint, y.bucket, y.endpoint, y.from
                ));
            }
            out
        }
        (None, None) => Vec::new(),
    }
}
