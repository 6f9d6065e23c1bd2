//! Uptime Kuma, through its route: every monitor generated under `uptime-kuma/monitors/` exists
//! and is up, read from its Prometheus endpoint (`/metrics`, `monitor_status{monitor_name=…}`:
//! 1 up, 0 down, 2 pending, 3 maintenance), authenticated as Uptime Kuma 2.x documents it: an
//! API key as the password of basic auth, any user name (Settings → API Keys).

use super::report::{Report, Status};
use super::{Ctx, UPTIME_API_KEY_ENV, prom_text};

const SERVICE: &str = "uptime-kuma";

pub fn check(ctx: &Ctx, report: &mut Report) {
    let exp = ctx.exp;
    let Some(host) = exp.host_of("uptime-kuma") else {
        report.push(SERVICE, "reachable", Status::Skip, "Uptime Kuma has no route in stack.toml");
        return;
    };
    let Some(key) = ctx.secrets.uptime_api_key.clone() else {
        report.fail(SERVICE, "metrics", format!("set {UPTIME_API_KEY_ENV} to an API key of Uptime Kuma (Settings → API Keys) to check its monitors"));
        return;
    };
    let req = super::http::Request { auth: Some((String::new(), key)), ..ctx.request(host, "/metrics") };
    let text = match ctx.text(&req) {
        Ok(t) => t,
        Err(e) => {
            report.fail(SERVICE, "metrics", e);
            return;
        }
    };
    let status = prom_text::samples(&text, "monitor_status");
    for name in &exp.monitors {
        let line = format!("monitor {name}");
        match status.iter().find(|(l, _)| l.get("monitor_name") == Some(name)).map(|(_, v)| *v as i64) {
            None => report.fail(SERVICE, line, "missing: has AutoKuma synced? (docker logs autokuma)"),
            Some(1) => report.pass(SERVICE, line, "up"),
            Some(0) => report.fail(SERVICE, line, "down"),
            Some(2) => report.fail(SERVICE, line, "pending"),
            Some(3) => report.push(SERVICE, line, Status::Info, "in maintenance"),
            Some(v) => report.fail(SERVICE, line, format!("status {v}")),
        }
    }
    for name in &exp.notifications {
        report.push(
            SERVICE,
            format!("notification {name}"),
            Status::Skip,
            "Uptime Kuma lists notifications only over its Socket.IO API, not /metrics: see Settings → Notifications",
        );
    }
}
