//! Prometheus, through its route: every scrape target stack.toml implies is present and up, the
//! rule groups are loaded without evaluation errors, the Alertmanager is discovered; the alerts
//! firing now are listed.

use serde_json::Value as Json;

use super::Ctx;
use super::report::{Report, Status};

const SERVICE: &str = "prometheus";

pub fn check(ctx: &Ctx, report: &mut Report) {
    let Some(host) = ctx.exp.host_of("prometheus") else {
        report.push(SERVICE, "reachable", Status::Skip, "Prometheus has no route in stack.toml");
        return;
    };
    let api = |path: &str| ctx.json(&ctx.request(host, path));
    match api("/api/v1/targets?state=active") {
        Err(e) => report.fail(SERVICE, "scrape targets", e),
        Ok(json) => targets(ctx, report, &json),
    }
    match api("/api/v1/rules?type=alert") {
        Err(e) => report.fail(SERVICE, "rule groups", e),
        Ok(json) => rules(ctx, report, &json),
    }
    match api("/api/v1/alertmanagers") {
        Err(e) => report.fail(SERVICE, "alertmanager discovered", e),
        Ok(json) => {
            let urls: Vec<&str> = json["data"]["activeAlertmanagers"].as_array().into_iter().flatten().filter_map(|a| a["url"].as_str()).collect();
            if urls.is_empty() {
                report.fail(SERVICE, "alertmanager discovered", "no active Alertmanager")
            } else {
                report.pass(SERVICE, "alertmanager discovered", urls.join(", "))
            }
        }
    }
    match api("/api/v1/alerts") {
        Err(e) => report.fail(SERVICE, "alerts firing", e),
        Ok(json) => {
            let firing: Vec<String> = json["data"]["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["state"] == "firing")
                .map(|a| {
                    let l = &a["labels"];
                    let on = l["host"].as_str().or(l["instance"].as_str()).map(|h| format!(" on {h}")).unwrap_or_default();
                    format!("{}{on}", l["alertname"].as_str().unwrap_or("?"))
                })
                .collect();
            if firing.is_empty() {
                report.pass(SERVICE, "alerts firing", "none")
            } else {
                for alert in firing {
                    report.push(SERVICE, "alert firing", Status::Info, alert);
                }
            }
        }
    }
}

fn targets(ctx: &Ctx, report: &mut Report, json: &Json) {
    let active: Vec<&Json> = json["data"]["activeTargets"].as_array().into_iter().flatten().collect();
    for (job, instance) in &ctx.exp.scrape_targets {
        let name = format!("target {job} {instance}");
        let found = active.iter().find(|t| {
            t["labels"]["job"] == job.as_str() && (t["labels"]["instance"] == instance.as_str() || t["discoveredLabels"]["__address__"] == instance.as_str())
        });
        match found {
            None => report.fail(SERVICE, name, "not scraped: is prometheus.yml the generated one?"),
            Some(t) if t["health"] == "up" => report.pass(SERVICE, name, "up"),
            Some(t) => {
                let err = t["lastError"].as_str().filter(|e| !e.is_empty()).unwrap_or("no scrape yet");
                report.fail(SERVICE, name, format!("{}: {err}", t["health"].as_str().unwrap_or("unknown")))
            }
        }
    }
}

fn rules(ctx: &Ctx, report: &mut Report, json: &Json) {
    let groups: Vec<&Json> = json["data"]["groups"].as_array().into_iter().flatten().collect();
    for (file, group) in &ctx.exp.rule_groups {
        let name = format!("rule group {group} ({file})");
        let Some(g) = groups.iter().find(|g| g["name"] == group.as_str() && g["file"].as_str().is_some_and(|f| f.ends_with(&format!("/{file}")) || f == file))
        else {
            report.fail(SERVICE, name, format!("not loaded: is rules/{file} on the VM?"));
            continue;
        };
        let rules: Vec<&Json> = g["rules"].as_array().into_iter().flatten().collect();
        let broken: Vec<String> = rules
            .iter()
            .filter(|r| r["health"] == "err")
            .map(|r| format!("{}: {}", r["name"].as_str().unwrap_or("?"), r["lastError"].as_str().unwrap_or("")))
            .collect();
        if broken.is_empty() {
            report.pass(SERVICE, name, format!("{} rules, no evaluation error", rules.len()))
        } else {
            report.fail(SERVICE, name, broken.join("; "))
        }
    }
}
