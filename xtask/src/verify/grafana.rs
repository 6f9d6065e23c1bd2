//! Grafana, through its route and with its admin credentials (the variable Terraform reads):
//! health, the provisioned datasources by uid and their health, the dashboards, and, through
//! its Loki datasource, log lines from every host that ships logs within `--since`
//! (Grafana's datasource proxy: `/api/datasources/proxy/uid/<uid>/loki/api/v1/query`).

use super::Ctx;
use super::http::{Request, encode};
use super::report::{Report, Status};

const SERVICE: &str = "grafana";

pub fn check(ctx: &Ctx, report: &mut Report) {
    let exp = ctx.exp;
    let Some(host) = exp.host_of("grafana") else {
        report.push(SERVICE, "reachable", Status::Skip, "Grafana has no route in stack.toml");
        return;
    };
    match ctx.json(&ctx.request(host, "/api/health")) {
        Ok(json) if json["database"] == "ok" => report.pass(SERVICE, "health", format!("database ok, version {}", json["version"].as_str().unwrap_or("?"))),
        Ok(json) => report.fail(SERVICE, "health", format!("database {}", json["database"])),
        Err(e) => report.fail(SERVICE, "health", e),
    }
    let Some(password) = ctx.secrets.grafana_password.clone() else {
        report.fail(
            SERVICE,
            "admin login",
            format!("set {} (the Grafana admin password Terraform uses) to check datasources, dashboards and logs", exp.grafana_password_env),
        );
        return;
    };
    let authed = |path: &str| Request { auth: Some((exp.grafana_user.clone(), password.clone())), ..ctx.request(host, path) };
    for (name, uid, kind) in &exp.datasources {
        let line = format!("datasource {name} (uid {uid})");
        match ctx.json(&authed(&format!("/api/datasources/uid/{uid}"))) {
            Err(e) => {
                report.fail(SERVICE, line, e);
                continue;
            }
            Ok(json) if json["type"] != kind.as_str() => {
                report.fail(SERVICE, line, format!("is of type {}, not {kind}", json["type"]));
                continue;
            }
            Ok(_) => {}
        }
        match ctx.json(&authed(&format!("/api/datasources/uid/{uid}/health"))) {
            Ok(json) if json["status"] == "OK" => report.pass(SERVICE, line, "provisioned, healthy"),
            Ok(json) => report.fail(SERVICE, line, format!("unhealthy: {}", json["message"].as_str().unwrap_or("?"))),
            Err(e) => report.fail(SERVICE, line, format!("health: {e}")),
        }
    }
    for title in &exp.dashboard_titles {
        let line = format!("dashboard \"{title}\"");
        match ctx.json(&authed(&format!("/api/search?type=dash-db&query={}", encode(title)))) {
            Ok(json) if json.as_array().is_some_and(|a| a.iter().any(|d| d["title"] == title.as_str())) => report.pass(SERVICE, line, "present"),
            Ok(_) => report.fail(SERVICE, line, "not found"),
            Err(e) => report.fail(SERVICE, line, e),
        }
    }
    logs(ctx, report, &authed);
}

/// One instant query for every host at once: the lines each sent within `--since`.
fn logs(ctx: &Ctx, report: &mut Report, authed: &dyn Fn(&str) -> Request) {
    let exp = ctx.exp;
    let Some((_, uid, _)) = exp.datasources.iter().find(|(_, _, kind)| kind == "loki") else { return };
    let since = format!("{}s", ctx.opts.since.as_secs());
    let query = format!("sum by (host) (count_over_time({{host=~\".+\"}}[{since}]))");
    let path = format!("/api/datasources/proxy/uid/{uid}/loki/api/v1/query?query={}", encode(&query));
    let counts: Result<Vec<(String, String)>, String> = ctx.json(&authed(&path)).map(|json| {
        json["data"]["result"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| (r["metric"]["host"].as_str().unwrap_or("").to_string(), r["value"][1].as_str().unwrap_or("0").to_string()))
            .collect()
    });
    for host in &exp.log_hosts {
        let line = format!("logs from {host} in the last {}", human(ctx.opts.since.as_secs()));
        match &counts {
            Err(e) => report.fail(SERVICE, line, e.clone()),
            Ok(c) => match c.iter().find(|(h, _)| h == host) {
                Some((_, n)) if n != "0" => report.pass(SERVICE, line, format!("{n} lines")),
                _ => report.fail(SERVICE, line, "none: is its agent running and can it reach Loki's push port?"),
            },
        }
    }
}

fn human(secs: u64) -> String {
    if secs.is_multiple_of(3600) {
        format!("{} h", secs / 3600)
    } else if secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}
