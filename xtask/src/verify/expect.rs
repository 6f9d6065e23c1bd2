//! What the running lab must look like, derived from the validated stack and the tree rendered
//! from it (never from a hard-coded list): routes, scrape targets, rule groups, receivers,
//! datasources, the logs dashboard, the hosts that ship logs and the Uptime Kuma monitors.

use std::net::Ipv4Addr;

use anyhow::{Context, Result};
use serde_json::Value as Json;
use serde_norway::Value as Yaml;

use crate::stack::Stack;
use crate::stack::model::Agent;
use crate::tree::Tree;

/// One routed host.
#[derive(Debug, Clone)]
pub struct RouteExp {
    pub name: String,
    pub host: String,
    /// The compose service behind it, if any (`prometheus`, `grafana`, ...).
    pub service: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Expectations {
    pub domain: String,
    /// Where Traefik listens: every routed name must resolve here.
    pub traefik_ip: Ipv4Addr,
    pub tls: bool,
    pub ca_pem: Option<String>,
    pub leaf_pem: Option<String>,
    pub renew_before_days: u32,
    pub routes: Vec<RouteExp>,
    /// (job, instance) of every static scrape target.
    pub scrape_targets: Vec<(String, String)>,
    /// (rule file name, group name) of every rule group.
    pub rule_groups: Vec<(String, String)>,
    /// Receivers of alertmanager.yml that have a Telegram config.
    pub telegram_receivers: Vec<String>,
    /// How long Alertmanager waits before a first notification (route.group_wait).
    pub group_wait_secs: u64,
    /// (name, uid, type) of every provisioned Grafana datasource.
    pub datasources: Vec<(String, String, String)>,
    pub dashboard_titles: Vec<String>,
    /// Hosts whose logs must be in Loki: the monitoring VM and every VM with an agent.
    pub log_hosts: Vec<String>,
    pub grafana_user: String,
    pub grafana_password_env: String,
    /// Names of the Uptime Kuma monitors AutoKuma creates (groups included).
    pub monitors: Vec<String>,
    /// (name, provider type) of every Uptime Kuma notification AutoKuma creates.
    pub notifications: Vec<(String, String)>,
    /// The account AutoKuma logs in with (`services.autokuma.username`).
    pub uptime_user: String,
    /// The variable holding its password (`services.autokuma.password`).
    pub uptime_password_env: String,
}

fn yaml(tree: &Tree, path: &str) -> Result<Yaml> {
    let bytes = tree.get(path).with_context(|| format!("{path} is not rendered"))?;
    serde_norway::from_slice(bytes).with_context(|| format!("{path}: not YAML"))
}

fn str_list(v: &Yaml) -> Vec<String> {
    v.as_sequence().map(|s| s.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// Alertmanager durations as rendered: `15s`, `5m`, `4h`.
fn seconds(text: &str) -> u64 {
    let (n, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = n.parse().unwrap_or(0);
    match unit {
        "m" => n * 60,
        "h" => n * 3600,
        _ => n,
    }
}

/// `env`: only the VMs of that environment (and the monitoring VM) are expected.
pub fn derive(stack: &Stack, tree: &Tree, env: Option<&str>) -> Result<Expectations> {
    let in_env = |vm_env: &str| env.is_none_or(|e| e == vm_env);
    let other_hosts: Vec<&str> = stack.vms.iter().filter(|vm| !in_env(&vm.environment)).map(|vm| vm.name.as_str()).collect();
    let routes = stack.routes.iter().map(|r| RouteExp { name: r.name.clone(), host: r.host.clone(), service: r.service().map(str::to_string) }).collect();

    let prom = yaml(tree, "compose/prometheus/prometheus.yml")?;
    let mut scrape_targets = Vec::new();
    for job in prom["scrape_configs"].as_sequence().into_iter().flatten() {
        let name = job["job_name"].as_str().unwrap_or_default().to_string();
        for sc in job["static_configs"].as_sequence().into_iter().flatten() {
            if sc["labels"]["host"].as_str().is_some_and(|h| other_hosts.contains(&h)) {
                continue;
            }
            for target in str_list(&sc["targets"]) {
                scrape_targets.push((name.clone(), target));
            }
        }
    }

    let mut rule_groups = Vec::new();
    for (path, _) in tree.files().filter(|(p, _)| p.starts_with("compose/prometheus/rules/") && p.ends_with(".yml")) {
        let file = path.rsplit('/').next().unwrap_or(path).to_string();
        for group in yaml(tree, path)?["groups"].as_sequence().into_iter().flatten() {
            rule_groups.push((file.clone(), group["name"].as_str().unwrap_or_default().to_string()));
        }
    }

    let am = yaml(tree, "compose/alertmanager/alertmanager.yml")?;
    let telegram_receivers = am["receivers"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter(|r| r["telegram_configs"].as_sequence().is_some_and(|c| !c.is_empty()))
        .filter_map(|r| r["name"].as_str().map(str::to_string))
        .collect();
    let group_wait_secs = seconds(am["route"]["group_wait"].as_str().unwrap_or("30s"));

    let ds = yaml(tree, "compose/grafana/provisioning/datasources/datasources.yml")?;
    let datasources = ds["datasources"]
        .as_sequence()
        .into_iter()
        .flatten()
        .map(|d| {
            let s = |k: &str| d[k].as_str().unwrap_or_default().to_string();
            (s("name"), s("uid"), s("type"))
        })
        .collect();
    let mut dashboard_titles = Vec::new();
    for (path, bytes) in tree.files().filter(|(p, _)| p.starts_with("compose/grafana/dashboards/") && p.ends_with(".json")) {
        let json: Json = serde_json::from_slice(bytes).with_context(|| format!("{path}: not JSON"))?;
        if let Some(title) = json["title"].as_str() {
            dashboard_titles.push(title.to_string());
        }
    }

    let mut log_hosts = vec![stack.monitoring.vm.name.clone()];
    log_hosts.extend(stack.vms.iter().filter(|vm| vm.agent != Agent::None && in_env(&vm.environment)).map(|vm| vm.name.clone()));

    let mut monitors = Vec::new();
    let mut notifications = Vec::new();
    for (path, bytes) in tree.files().filter(|(p, _)| p.starts_with("compose/uptime-kuma/monitors/") && p.ends_with(".json")) {
        let json: Json = serde_json::from_slice(bytes).with_context(|| format!("{path}: not JSON"))?;
        let name = json["name"].as_str().unwrap_or_default().to_string();
        let parent = json["parent_name"].as_str().unwrap_or_default();
        let stem = path.rsplit('/').next().unwrap_or(path).trim_end_matches(".json");
        let skipped_env =
            env.is_some() && (parent.starts_with("group-") && parent != "group-monitoring" && parent != format!("group-{}", env.unwrap_or_default()));
        let skipped_group = env.is_some_and(|e| stem.starts_with("group-") && stem != "group-monitoring" && stem != format!("group-{e}"));
        match json["type"].as_str() {
            Some("tag") => {}
            Some("notification") => notifications.push((name, json["config"]["type"].as_str().unwrap_or_default().to_string())),
            _ if skipped_env || skipped_group => {}
            _ => monitors.push(name),
        }
    }

    Ok(Expectations {
        domain: stack.domain.clone(),
        traefik_ip: stack.monitoring.vm.ip,
        tls: stack.tls.enabled,
        ca_pem: stack.tls.certs.ca.clone(),
        leaf_pem: stack.tls.certs.leaf.clone(),
        renew_before_days: stack.tls.renew_before_days,
        routes,
        scrape_targets,
        rule_groups,
        telegram_receivers,
        group_wait_secs,
        datasources,
        dashboard_titles,
        log_hosts,
        grafana_user: stack.services.grafana.admin_user.clone(),
        grafana_password_env: stack.services.grafana.admin_password.env.clone(),
        monitors,
        notifications,
        uptime_user: stack.services.autokuma.username.clone(),
        uptime_password_env: stack.services.autokuma.password.env.clone(),
    })
}

impl Expectations {
    /// The routed host of a compose service, if it is routed.
    pub fn host_of(&self, service: &str) -> Option<&str> {
        self.routes.iter().find(|r| r.service.as_deref() == Some(service)).map(|r| r.host.as_str())
    }
}
