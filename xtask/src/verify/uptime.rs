//! Uptime Kuma, through its route: every monitor generated under `uptime-kuma/monitors/` exists
//! and is up, read from its Prometheus endpoint (`/metrics`, `monitor_status{monitor_name=…}`:
//! 1 up, 0 down, 2 pending, 3 maintenance), authenticated as Uptime Kuma 2.x documents it: an
//! API key as the password of basic auth, any user name (Settings → API Keys).
//!
//! The notifications are not on `/metrics`: Uptime Kuma lists them only to a logged-in Socket.IO
//! client, so `verify` logs in as AutoKuma does (`services.autokuma.username` and the password
//! `services.autokuma.password` names) over Socket.IO's HTTP long-polling (`socketio`). At the
//! pinned 2.5.3: the `connection` handler emits `info` before it registers `login`
//! (server/server.js:389-450); `login` runs `afterLogin`, which emits `notificationList` to the
//! user's room, and only then calls back `{ok: true, token}` or `{ok: false, msg}`, or
//! `{tokenRequired: true}` for an account with 2FA (server.js:450-526, 1828-1840);
//! `sendNotificationList` sends the rows of the `notification` table with `active` as a boolean
//! and `config` as the JSON text the provider form saved, its `type` the provider
//! (server/client.js:18-35, server/notification.js:284-288).

use serde_json::Value as Json;

use super::report::{Report, Status};
use super::socketio::{Packet, Session, encode_event};
use super::{Ctx, UPTIME_API_KEY_ENV, prom_text};

const SERVICE: &str = "uptime-kuma";

pub fn check(ctx: &Ctx, report: &mut Report) {
    let Some(host) = ctx.exp.host_of("uptime-kuma") else {
        report.push(SERVICE, "reachable", Status::Skip, "Uptime Kuma has no route in stack.toml");
        return;
    };
    monitors(ctx, report, host);
    notifications(ctx, report, host);
}

fn monitors(ctx: &Ctx, report: &mut Report, host: &str) {
    let exp = ctx.exp;
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
}

/// Each notification AutoKuma creates: present, of its provider type, active.
fn notifications(ctx: &Ctx, report: &mut Report, host: &str) {
    let exp = ctx.exp;
    let Some(password) = ctx.secrets.uptime_password.as_deref() else {
        for (name, _) in &exp.notifications {
            let detail = format!("set {} (the password AutoKuma logs in with as {}) to check it", exp.uptime_password_env, exp.uptime_user);
            report.push(SERVICE, format!("notification {name}"), Status::Skip, detail);
        }
        return;
    };
    if exp.notifications.is_empty() {
        return;
    }
    let list = notification_list(ctx, host, &exp.uptime_user, password);
    for (name, kind) in &exp.notifications {
        let line = format!("notification {name}");
        let list = match &list {
            Ok(list) => list,
            Err(e) => {
                report.fail(SERVICE, line, e.clone());
                continue;
            }
        };
        let Some(found) = list.iter().find(|n| n["name"] == name.as_str()) else {
            report.fail(SERVICE, line, "missing: has AutoKuma synced? (docker logs autokuma)");
            continue;
        };
        // The provider form's settings, saved as JSON text; AutoKuma merges `active` into them.
        let config: Json = found["config"].as_str().and_then(|c| serde_json::from_str(c).ok()).unwrap_or(Json::Null);
        let got = config["type"].as_str().unwrap_or("none");
        if got != kind {
            report.fail(SERVICE, line, format!("is of type {got}, not {kind}"));
        } else if !truthy(&found["active"]) || config["active"] == false {
            report.fail(SERVICE, line, "inactive: stack.toml has it active; has AutoKuma synced? (docker logs autokuma)");
        } else {
            report.pass(SERVICE, line, format!("{kind}, active"));
        }
    }
}

/// A boolean as Uptime Kuma sends it (true, or 1 from the database).
fn truthy(v: &Json) -> bool {
    v.as_bool().unwrap_or_else(|| v.as_i64().is_some_and(|n| n != 0))
}

/// Logs in and returns the `notificationList` Uptime Kuma sends before its answer to `login`.
/// An error never holds the password: only what the server answered.
fn notification_list(ctx: &Ctx, host: &str, user: &str, password: &str) -> Result<Vec<Json>, String> {
    let session = Session::connect(ctx, host, "info").map_err(|e| format!("Socket.IO connect: {e}"))?;
    let login = serde_json::json!({ "username": user, "password": password, "token": "" });
    let result = session.post(&encode_event(0, "login", &login)).and_then(|()| session.read_until(|p| matches!(p, Packet::Ack(0, _))));
    session.close();
    let packets = result.map_err(|e| format!("login as {user}: {e}"))?;
    let answer = match packets.last() {
        Some(Packet::Ack(_, args)) => args.first().cloned().unwrap_or(Json::Null),
        _ => Json::Null,
    };
    if answer["tokenRequired"] == true {
        return Err(format!("login as {user}: the account has 2FA on; verify logs in without a token"));
    }
    if answer["ok"] != true {
        let msg = answer["msg"].as_str().unwrap_or("no reason given");
        let why = if msg == "authIncorrectCreds" { "wrong user name or password" } else { msg };
        return Err(format!("login as {user} refused: {why}"));
    }
    packets
        .iter()
        .rev()
        .find_map(|p| match p {
            Packet::Event(name, args) if name == "notificationList" => args.first().and_then(Json::as_array).cloned(),
            _ => None,
        })
        .ok_or_else(|| format!("logged in as {user}, but Uptime Kuma sent no notification list"))
}
