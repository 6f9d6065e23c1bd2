//! Uptime Kuma's monitors as code (`generated/compose/uptime-kuma/monitors/`): one AutoKuma
//! static entity per JSON file, its id the file stem. AutoKuma, in the compose stack, creates,
//! updates and deletes the matching entities in Uptime Kuma (`AUTOKUMA__ON_DELETE=delete`).
//!
//! Routed hosts are checked over their public URL, through Traefik and TLS, as a user reaches
//! them: Uptime Kuma resolves each routed host to the monitoring VM (compose `extra_hosts`) and
//! trusts the lab's CA (`NODE_EXTRA_CA_CERTS`), so `ignore_tls` stays false and an expired or
//! wrong certificate is a failure, not a silent pass.

use anyhow::{Context, Result};
use serde::Serialize;

use super::Outputs;
use super::traefik;
use crate::stack::Stack;
use crate::stack::model::Route;

pub const DIR: &str = "compose/uptime-kuma/monitors";
/// The tag every entity carries, so what AutoKuma owns is visible in the UI.
pub const TAG: &str = "managed-by-gitops";
/// The AutoKuma id of the Telegram notification.
pub const NOTIFICATION: &str = "telegram";
/// The variable AutoKuma reads the bot token from (AutoKuma lets templates read only
/// `AUTOKUMA__ENV__*`); it is a line of `<secrets_dir>/autokuma.env`, never in git.
pub const TELEGRAM_TOKEN_ENV: &str = "AUTOKUMA__ENV__TELEGRAM_BOT_TOKEN";
const MONITORING_GROUP: &str = "group-monitoring";
const DESCRIPTION: &str = "Managed by stack.toml through AutoKuma: changes made in Uptime Kuma are overwritten.";

#[derive(Serialize)]
struct Notification {
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
    active: bool,
    is_default: bool,
    config: TelegramConfig,
}

/// Uptime Kuma's Telegram provider settings, by the names its form uses.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TelegramConfig {
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
    telegram_bot_token: String,
    #[serde(rename = "telegramChatID")]
    telegram_chat_id: String,
    telegram_send_silently: bool,
    telegram_protect_content: bool,
}

#[derive(Serialize)]
struct Tag {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'static str,
    color: &'static str,
}

#[derive(Serialize)]
struct TagValue {
    name: &'static str,
}

/// A group, http or ping monitor; the fields a type does not take are left out.
#[derive(Serialize)]
struct Monitor {
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
    description: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<String>,
    interval: u32,
    max_retries: u32,
    retry_interval: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    accepted_statuscodes: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ignore_tls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiry_notification: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_redirects: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notification_name_list: Vec<&'static str>,
    tag_names: Vec<TagValue>,
}

impl Monitor {
    fn new(stack: &Stack, kind: &'static str, name: String, parent: Option<String>) -> Monitor {
        let k = &stack.services.uptime_kuma;
        // Groups only aggregate: notifying on them too would send every failure twice.
        let notify = if kind == "group" { vec![] } else { vec![NOTIFICATION] };
        Monitor {
            kind,
            name,
            description: DESCRIPTION,
            url: None,
            method: None,
            hostname: None,
            interval: k.interval_seconds,
            max_retries: k.retries,
            retry_interval: k.retry_interval_seconds,
            timeout: None,
            accepted_statuscodes: None,
            ignore_tls: None,
            expiry_notification: None,
            max_redirects: None,
            parent_name: parent,
            notification_name_list: notify,
            tag_names: vec![TagValue { name: TAG }],
        }
    }

    fn http(stack: &Stack, name: String, url: String, parent: &str, accepted: &'static str) -> Monitor {
        let https = url.starts_with("https://");
        Monitor {
            url: Some(url),
            method: Some("GET"),
            // Uptime Kuma's own default: 80 % of the interval, so a check ends before the next.
            timeout: Some(stack.services.uptime_kuma.interval_seconds * 4 / 5),
            accepted_statuscodes: Some(vec![accepted]),
            ignore_tls: https.then_some(false),
            expiry_notification: https.then_some(true),
            max_redirects: Some(10),
            ..Monitor::new(stack, "http", name, Some(parent.to_string()))
        }
    }

    fn ping(stack: &Stack, name: String, ip: String, parent: &str) -> Monitor {
        Monitor { hostname: Some(ip), ..Monitor::new(stack, "ping", name, Some(parent.to_string())) }
    }
}

/// The AutoKuma id of the group a route's monitor belongs to.
fn route_group(stack: &Stack, route: &Route) -> String {
    match route.vm() {
        Some(vm) if vm != stack.monitoring.vm.name => {
            let env = stack.vms.iter().find(|v| v.name == vm).map_or("monitoring", |v| v.environment.as_str());
            env_group(env)
        }
        _ => MONITORING_GROUP.to_string(),
    }
}

fn env_group(env: &str) -> String {
    format!("group-{env}")
}

fn write<T: Serialize>(out: &mut Outputs, id: &str, entity: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(entity).with_context(|| format!("{DIR}/{id}.json: cannot serialize"))?;
    out.add(&format!("{DIR}/{id}.json"), &format!("{text}\n"))
}

pub fn render(stack: &Stack, out: &mut Outputs) -> Result<()> {
    let a = &stack.alerting;
    write(out, TAG, &Tag { kind: "tag", name: TAG, color: "#2563EB" })?;
    let config = TelegramConfig {
        kind: "telegram",
        name: "Telegram".to_string(),
        telegram_bot_token: format!("{{{{ get_env(name='{TELEGRAM_TOKEN_ENV}') }}}}"),
        telegram_chat_id: a.telegram_chat_id.to_string(),
        telegram_send_silently: false,
        telegram_protect_content: false,
    };
    write(out, NOTIFICATION, &Notification { kind: "notification", name: "Telegram".to_string(), active: true, is_default: false, config })?;

    let mon = &stack.monitoring.vm;
    write(out, MONITORING_GROUP, &Monitor::new(stack, "group", "Monitoring stack".to_string(), None))?;
    for env in &stack.environments {
        write(out, &env_group(env), &Monitor::new(stack, "group", format!("{env} VMs"), None))?;
    }
    for route in &stack.routes {
        // The dashboard answers 401 without credentials: that proves Traefik and its auth are up.
        let accepted = if route.internal() { "401" } else { "200-299" };
        let monitor = Monitor::http(stack, route.host.clone(), traefik::public_url(stack, route), &route_group(stack, route), accepted);
        write(out, &format!("route-{}", route.name), &monitor)?;
    }
    let s = &stack.services;
    let ready_url = |c: &crate::stack::model::Container| format!("http://{}:{}{}", c.name, c.port, c.health_path.as_deref().unwrap_or("/"));
    let ready = [("ready-prometheus", "Prometheus ready", ready_url(&s.prometheus.container)), ("ready-loki", "Loki ready", ready_url(&s.loki.container))];
    for (id, name, url) in ready {
        write(out, id, &Monitor::http(stack, name.to_string(), url, MONITORING_GROUP, "200-299"))?;
    }
    write(out, &format!("ping-{}", mon.name), &Monitor::ping(stack, format!("{} ({})", mon.name, mon.ip), mon.ip.to_string(), MONITORING_GROUP))?;
    for vm in &stack.vms {
        write(out, &format!("ping-{}", vm.name), &Monitor::ping(stack, format!("{} ({})", vm.name, vm.ip), vm.ip.to_string(), &env_group(&vm.environment)))?;
    }
    Ok(())
}
