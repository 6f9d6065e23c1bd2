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

/// (failed, sent) Telegram notification counters.
pub type Counters = (f64, f64);

fn counters(ctx: &Ctx, host: &str) -> Result<Counters, String> {
    let text = ctx.text(&ctx.request(host, "/metrics"))?;
    let failed = prom_text::sum_where(&text, "alertmanager_notifications_failed_total", "integration", "telegram");
    let sent = prom_text::sum_where(&text, "alertmanager_notifications_total", "integration", "telegram");
    match (failed, sent) {
        (Some(f), Some(s)) => Ok((f, s)),
        _ => Err("no telegram integration in /metrics: is a Telegram receiver configured?".to_string()),
    }
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
    let (Some(host), Some((failed_before, _))) = (ctx.exp.host_of("alertmanager"), before) else { return };
    let name = "telegram notifications failed";
    match counters(ctx, host) {
        Err(e) => report.fail(SERVICE, name, e),
        Ok((failed, _)) if failed > failed_before => report.fail(SERVICE, name, format!("grew from {failed_before} to {failed} during this run")),
        Ok((failed, _)) => report.pass(SERVICE, name, format!("none during this run ({failed} since Alertmanager started)")),
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
    let Some((failed0, sent0)) = before else {
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
            Ok((failed, _)) if failed > failed0 => break Err("Telegram refused the notification (alertmanager_notifications_failed_total grew)".to_string()),
            Ok((_, sent)) if sent > sent0 => break Ok(format!("sent after {} s", start.elapsed().as_secs())),
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
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
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
