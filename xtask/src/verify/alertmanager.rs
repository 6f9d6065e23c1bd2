//! Alertmanager, through its route: the Telegram receivers of alertmanager.yml are configured,
//! `alertmanager_notifications_failed_total{integration="telegram"}` does not grow during the
//! run, and with `--send-test-alert` a labelled test alert reaches Telegram (Alertmanager counts
//! the notification sent) within a bounded wait, then is resolved.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::Ctx;
use super::prom_text;
use super::report::{Report, Status};

const SERVICE: &str = "alertmanager";
pub const TEST_ALERT: &str = "XtaskVerifyTestAlert";

/// Alertmanager's Telegram counters. `notifications_total` counts notifications started and
/// `notifications_failed_total` those given up after every retry (which takes up to
/// group_interval); each attempt to reach Telegram is a `notification_requests_total`, and a
/// refused or unreachable one also a `notification_requests_failed_total`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counters {
    pub failed: f64,
    pub requests: f64,
    pub requests_failed: f64,
}

fn counters(ctx: &Ctx, host: &str) -> Result<Counters, String> {
    let text = ctx.text(&ctx.request(host, "/metrics"))?;
    let sum = |metric: &str| prom_text::sum_where(&text, metric, "integration", "telegram");
    if sum("alertmanager_notifications_total").is_none() {
        return Err("no telegram integration in /metrics: is a Telegram receiver configured?".to_string());
    }
    Ok(Counters {
        failed: sum("alertmanager_notifications_failed_total").unwrap_or(0.0),
        requests: sum("alertmanager_notification_requests_total").unwrap_or(0.0),
        requests_failed: sum("alertmanager_notification_requests_failed_total").unwrap_or(0.0),
    })
}

/// Runs the checks; returns the counters at the start, for `failed_not_grown` at the end.
pub fn check(ctx: &Ctx, report: &mut Report) -> Option<Counters> {
    let Some(host) = ctx.exp.host_of("alertmanager") else {
        report.push(SERVICE, "reachable", Status::Skip, "Alertmanager has no route in stack.toml");
        return None;
    };
    match ctx.json(&ctx.request(host, "/api/v2/status")) {
        Err(e) => report.fail(SERVICE, "telegram receiver configured", e),
        Ok(json) => {
            let original = json["config"]["original"].as_str().unwrap_or("");
            let config: serde_norway::Value = serde_norway::from_str(original).unwrap_or_default();
            let receivers: Vec<&serde_norway::Value> = config["receivers"].as_sequence().into_iter().flatten().collect();
            for want in &ctx.exp.telegram_receivers {
                let name = format!("telegram receiver {want}");
                match receivers.iter().find(|r| r["name"].as_str() == Some(want.as_str())) {
                    None => report.fail(SERVICE, name, "not in the running configuration"),
                    Some(r) if r["telegram_configs"].as_sequence().is_some_and(|c| !c.is_empty()) => report.pass(SERVICE, name, "configured"),
                    Some(_) => report.fail(SERVICE, name, "has no telegram_configs"),
                }
            }
        }
    }
    let before = match counters(ctx, host) {
        Ok(c) => Some(c),
        Err(e) => {
            report.fail(SERVICE, "telegram notifications", e);
            None
        }
    };
    if ctx.opts.send_test_alert {
        test_alert(ctx, report, host, before);
    }
    before
}

/// The failed counter at the end of the run, compared with the start.
pub fn failed_not_grown(ctx: &Ctx, report: &mut Report, before: Option<Counters>) {
    let (Some(host), Some(b)) = (ctx.exp.host_of("alertmanager"), before) else { return };
    let name = "telegram notifications failed";
    match counters(ctx, host) {
        Err(e) => report.fail(SERVICE, name, e),
        Ok(now) if now.failed > b.failed || now.requests_failed > b.requests_failed => report.fail(
            SERVICE,
            name,
            format!(
                "{} failed requests to Telegram and {} notifications given up during this run (see Alertmanager's log)",
                now.requests_failed - b.requests_failed,
                now.failed - b.failed
            ),
        ),
        Ok(now) => report.pass(SERVICE, name, format!("none during this run ({} since Alertmanager started)", now.failed)),
    }
}

fn alert_body(ends_at: Option<String>) -> String {
    let mut alert = serde_json::json!({
        "labels": { "alertname": TEST_ALERT, "severity": "info", "source": "cargo-xtask-verify" },
        "annotations": { "summary": "Test alert from cargo xtask verify: Telegram alerts work." },
    });
    if let Some(t) = ends_at {
        alert["endsAt"] = serde_json::Value::String(t);
    }
    serde_json::json!([alert]).to_string()
}

fn post(ctx: &Ctx, host: &str, body: String) -> Result<(), String> {
    let req = super::http::Request { method: "POST", json_body: Some(body), ..ctx.request(host, "/api/v2/alerts") };
    let resp = ctx.send(&req).map_err(|e| e.0)?;
    if (200..300).contains(&resp.status) { Ok(()) } else { Err(format!("HTTP {} from /api/v2/alerts", resp.status)) }
}

fn test_alert(ctx: &Ctx, report: &mut Report, host: &str, before: Option<Counters>) {
    let name = "test alert reaches telegram";
    let Some(b) = before else {
        report.fail(SERVICE, name, "the notification counters are unreadable");
        return;
    };
    if let Err(e) = post(ctx, host, alert_body(None)) {
        report.fail(SERVICE, name, e);
        return;
    }
    // group_wait, then Telegram's answer: bounded.
    let bound = Duration::from_secs(ctx.exp.group_wait_secs + 30);
    let start = Instant::now();
    let outcome = loop {
        match counters(ctx, host) {
            Ok(c) if c.requests_failed > b.requests_failed => {
                break Err("Telegram refused it or is unreachable (alertmanager_notification_requests_failed_total grew; see Alertmanager's log)".to_string());
            }
            Ok(c) if c.requests - c.requests_failed > b.requests - b.requests_failed => break Ok(format!("sent after {} s", start.elapsed().as_secs())),
            Ok(_) | Err(_) if start.elapsed() >= bound => break Err(format!("no notification within {} s", bound.as_secs())),
            _ => std::thread::sleep(Duration::from_millis(500)),
        }
    };
    match outcome {
        Ok(detail) => report.pass(SERVICE, name, detail),
        Err(e) => report.fail(SERVICE, name, e),
    }
    let resolved = post(ctx, host, alert_body(Some(rfc3339(SystemTime::now()))));
    match resolved {
        Ok(()) => report.pass(SERVICE, "test alert resolved", ""),
        Err(e) => report.fail(SERVICE, "test alert resolved", e),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn rfc3339(t: SystemTime) -> String {
    crate::dates::rfc3339(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_rfc3339() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(1_796_083_200 + 3_661)), "2026-12-01T01:01:01Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00Z");
    }
}
