//! `cargo xtask verify` against recorded answers, for the services that cannot run here:
//! Grafana, Loki (through Grafana's datasource proxy) and Uptime Kuma have no binary on this
//! machine, so their part is checked against responses in the formats their APIs document
//! (Grafana HTTP API: /api/health, /api/datasources/uid/:uid[/health], /api/search, the
//! datasource proxy; Loki: /loki/api/v1/query vector results; Uptime Kuma: /metrics
//! `monitor_status`, and its Socket.IO API over Engine.IO v4 HTTP long-polling for the
//! notifications: Uptime Kuma is a Node.js server with no binary here, so its polling answers
//! are recorded in the format the Engine.IO v4 and Socket.IO v4 protocol documents give, with
//! the events Uptime Kuma 2.5.3 emits). The real Traefik, Prometheus and Alertmanager are
//! checked in tests/it/verify_live.rs. A fake transport stands in for curl: no socket is opened.

use crate::common;

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv4Addr;

use xtask::verify::expect::{self, Expectations};
use xtask::verify::http::{HttpError, Request, Response, Transport};
use xtask::verify::report::{Report, Status};
use xtask::verify::{self, Ctx, Options, Secrets};

const PASSWORD: &str = "recorded-grafana-password";
const API_KEY: &str = "uk1_recordedkey";
const KUMA_PASSWORD: &str = "recorded-kuma-pass\"word";
/// The JWT Uptime Kuma answers a login with: a secret too.
const KUMA_JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VybmFtZSI6ImFkbWluIn0.recorded";

/// Answers by (method, path without query); anything else is "connection refused". The
/// Socket.IO polls are answered in order from `polls`; once it is empty a poll gets what a real
/// long-poll with nothing to send gets from curl: its timeout.
#[derive(Default)]
struct Recorded {
    answers: BTreeMap<(String, String), (u16, String)>,
    polls: RefCell<VecDeque<String>>,
    seen: RefCell<Vec<Request>>,
}

impl Recorded {
    fn on(&mut self, path: &str, status: u16, body: &str) {
        self.answers.insert(("GET".into(), path.into()), (status, body.into()));
    }

    /// The payloads of the successive polling GETs (packets joined by `\x1e`).
    fn polls(&self, payloads: &[String]) {
        *self.polls.borrow_mut() = payloads.iter().cloned().collect();
    }

    /// The packets the client POSTed to /socket.io/, in order.
    fn posted(&self) -> Vec<String> {
        self.seen.borrow().iter().filter(|r| r.method == "POST" && r.url.contains("/socket.io/")).filter_map(|r| r.text_body.clone()).collect()
    }
}

impl Transport for Recorded {
    fn send(&self, req: &Request) -> Result<Response, HttpError> {
        self.seen.borrow_mut().push(req.clone());
        let rest = req.url.split_once("://").unwrap().1;
        let path = &rest[rest.find('/').unwrap()..];
        let path = path.split('?').next().unwrap();
        if path == "/socket.io/" {
            // Engine.IO v4 polling: a POST is answered `ok`, a GET with the next payload.
            assert!(req.url.contains("EIO=4&transport=polling"), "{}", req.url);
            return match req.method {
                "POST" => Ok(Response { status: 200, body: "ok".into(), ..Response::default() }),
                _ => self
                    .polls
                    .borrow_mut()
                    .pop_front()
                    .map(|body| Ok(Response { status: 200, body, ..Response::default() }))
                    .unwrap_or(Err(HttpError("timed out".into()))),
            };
        }
        match self.answers.get(&(req.method.to_string(), path.to_string())) {
            Some((status, body)) => Ok(Response { status: *status, body: body.clone(), ..Response::default() }),
            None => Err(HttpError("connection refused or unreachable".into())),
        }
    }

    fn resolve(&self, _host: &str) -> Result<Vec<Ipv4Addr>, String> {
        Ok(vec![Ipv4Addr::new(192, 168, 1, 51)])
    }
}

fn example() -> Expectations {
    let stack = common::load(&common::repo_root().join("stack.toml"));
    expect::derive(&stack, &common::render(&stack), None).unwrap()
}

/// Grafana and Uptime Kuma of the example stack, healthy, as their APIs answer.
fn healthy(exp: &Expectations) -> Recorded {
    let mut r = Recorded::default();
    r.on("/api/health", 200, r#"{"commit":"03f502a94d","database":"ok","version":"12.3.0"}"#);
    r.on(
        "/api/datasources/uid/prometheus",
        200,
        r#"{"id":1,"uid":"prometheus","name":"Prometheus","type":"prometheus","access":"proxy","url":"http://prometheus:9090","isDefault":true}"#,
    );
    r.on("/api/datasources/uid/prometheus/health", 200, r#"{"message":"Successfully queried the Prometheus API.","status":"OK"}"#);
    r.on("/api/datasources/uid/loki", 200, r#"{"id":2,"uid":"loki","name":"Loki","type":"loki","access":"proxy","url":"http://loki:3100"}"#);
    r.on("/api/datasources/uid/loki/health", 200, r#"{"message":"Data source successfully connected.","status":"OK"}"#);
    r.on("/api/search", 200, r#"[{"id":3,"uid":"logs-overview","title":"Logs overview","uri":"db/logs-overview","type":"dash-db","tags":[]}]"#);
    let result: Vec<String> = exp.log_hosts.iter().map(|h| format!(r#"{{"metric":{{"host":"{h}"}},"value":[1764620000.123,"120"]}}"#)).collect();
    r.on(
        "/api/datasources/proxy/uid/loki/loki/api/v1/query",
        200,
        &format!(r#"{{"status":"success","data":{{"resultType":"vector","result":[{}],"stats":{{}}}}}}"#, result.join(",")),
    );
    let mut metrics = String::from("# HELP monitor_status Monitor Status (1 = UP, 0= DOWN, 2= PENDING, 3= MAINTENANCE)\n# TYPE monitor_status gauge\n");
    for m in &exp.monitors {
        metrics.push_str(&format!(
            "monitor_status{{monitor_name=\"{m}\",monitor_type=\"http\",monitor_url=\"https://x/\",monitor_hostname=\"null\",monitor_port=\"null\"}} 1\n"
        ));
    }
    r.on("/metrics", 200, &metrics);
    r.polls(&kuma_session(&[telegram(true, true)], r#"{"ok":true,"token":"KUMA_JWT"}"#));
    r
}

/// A row of Uptime Kuma's notificationList as AutoKuma leaves it: `active` from the column,
/// `config` the JSON text of the provider form with AutoKuma's fields merged in.
fn telegram(active: bool, config_active: bool) -> String {
    let config = serde_json::json!({
        "active": config_active, "isDefault": false, "name": "Telegram", "type": "telegram",
        "telegramBotToken": "123456:recorded", "telegramChatID": "-1001234567890",
        "telegramProtectContent": false, "telegramSendSilently": false,
    });
    let row =
        serde_json::json!({"id": 1, "name": "Telegram", "active": active, "user_id": 1, "is_default": false, "config": config.to_string(), "isDefault": false});
    row.to_string()
}

/// What Uptime Kuma 2.5.3 sends over polling to a client that connects and logs in: the open
/// packet, the namespace CONNECT and `info`, then what `afterLogin` emits (monitorList, info,
/// maintenanceList, notificationList, …, heartbeats), then the ack of `login` (id 0), split
/// over several polls as a real server may; `rows` None: no notificationList (login refused).
fn kuma_session(rows: &[String], ack: &str) -> Vec<String> {
    let ack = ack.replace("KUMA_JWT", KUMA_JWT);
    let mut after_login = vec![
        r#"42["monitorList",{"1":{"id":1,"name":"Monitoring stack","type":"group","active":true}}]"#.to_string(),
        r#"42["info",{"primaryBaseURL":null,"serverTimezone":"Europe/Paris","serverTimezoneOffset":"+01:00","version":"2.5.3","latestVersion":"2.5.3","isContainer":true,"dbType":"sqlite"}]"#.to_string(),
        r#"42["maintenanceList",{}]"#.to_string(),
    ];
    if ack.contains("\"ok\":true") {
        after_login.push(format!(r#"42["notificationList",[{}]]"#, rows.join(",")));
    }
    let tail = [r#"42["proxyList",[]]"#.to_string(), r#"42["heartbeatList","1",[],false]"#.to_string(), "2".to_string(), format!("430[{ack}]")];
    let sep = "\x1e";
    vec![
        r#"0{"sid":"Lbo5JLzTotvW3g2LAAAA","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#.to_string(),
        r#"40{"sid":"8m2nQ4dEy4u0nVYhAAAB"}"#.to_string(),
        r#"42["info",{"primaryBaseURL":null,"serverTimezone":"Europe/Paris","serverTimezoneOffset":"+01:00"}]"#.to_string(),
        after_login.join(sep),
        tail.join(sep),
    ]
}

fn run(exp: &Expectations, transport: &Recorded, secrets: Secrets) -> Report {
    let opts = Options::default();
    let ctx = Ctx { exp, http: transport, ca_file: None, opts: &opts, secrets };
    let mut report = Report::default();
    verify::grafana::check(&ctx, &mut report);
    verify::uptime::check(&ctx, &mut report);
    report
}

fn secrets() -> Secrets {
    Secrets { grafana_password: Some(PASSWORD.into()), uptime_api_key: Some(API_KEY.into()), uptime_password: Some(KUMA_PASSWORD.into()) }
}

fn line<'r>(report: &'r Report, name: &str) -> &'r xtask::verify::report::Check {
    report.checks.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no line {name}:\n{}", report.text()))
}

#[test]
fn the_expectations_come_from_the_stack() {
    let exp = example();
    assert_eq!(exp.log_hosts, ["pve-mon", "prod-alloc-budget", "prod-alloc-ia", "prod-blog-the"]);
    assert!(exp.datasources.contains(&("Loki".into(), "loki".into(), "loki".into())), "{:?}", exp.datasources);
    assert_eq!(exp.dashboard_titles, ["Logs overview"]);
    assert!(exp.monitors.contains(&"grafana.home.lan".to_string()), "{:?}", exp.monitors);
    assert_eq!(exp.notifications, [("Telegram".to_string(), "telegram".to_string())]);
    assert_eq!((exp.uptime_user.as_str(), exp.uptime_password_env.as_str()), ("admin", "UPTIME_KUMA_PASSWORD"));
    assert!(exp.scrape_targets.contains(&("node".into(), "192.168.1.103:9100".into())));
    assert!(exp.rule_groups.iter().any(|(f, _)| f == "logs.yml"));
    assert_eq!(exp.telegram_receivers, ["telegram"]);
    // The other lab: its own hosts and agents; --env keeps one environment's VMs.
    let (_, path) = common::fixture_stacks().into_iter().find(|(n, _)| n == "other-lab").unwrap();
    let stack = common::load(&path);
    let tree = common::render(&stack);
    let all = expect::derive(&stack, &tree, None).unwrap();
    let env = "staging".to_string();
    assert!(stack.environments.contains(&env));
    let one = expect::derive(&stack, &tree, Some(&env)).unwrap();
    let agents = stack.vms.iter().filter(|v| v.agent != xtask::stack::model::Agent::None).count();
    assert_eq!(all.log_hosts.len(), 1 + agents);
    assert!(one.log_hosts.len() < all.log_hosts.len() && one.scrape_targets.len() < all.scrape_targets.len(), "{:?}", one.log_hosts);
    for vm in stack.vms.iter().filter(|v| v.environment != env) {
        assert!(!one.log_hosts.contains(&vm.name) && !one.scrape_targets.iter().any(|(_, t)| t.starts_with(&format!("{}:", vm.ip))), "{}", vm.name);
    }
}

#[test]
fn healthy_grafana_loki_and_uptime_kuma_pass() {
    let exp = example();
    let transport = healthy(&exp);
    let report = run(&exp, &transport, secrets());
    println!("{}", report.text());
    let s = report.summary();
    assert_eq!(s.failed, 0, "{}", report.text());
    // Health, 2 datasources, 1 dashboard, one logs line per host, one line per monitor, the
    // Telegram notification.
    assert_eq!(s.passed, 1 + 2 + 1 + exp.log_hosts.len() + exp.monitors.len() + 1, "{}", report.text());
    assert_eq!((line(&report, "notification Telegram").status, line(&report, "notification Telegram").detail.as_str()), (Status::Pass, "telegram, active"));
    // Credentials went only into the requests' auth, never into the report.
    let seen = transport.seen.borrow();
    assert!(seen.iter().filter(|r| r.url.contains("/api/datasources")).all(|r| r.auth == Some(("admin".into(), PASSWORD.into()))));
    assert!(seen.iter().any(|r| r.url.ends_with("/metrics") && r.auth == Some((String::new(), API_KEY.into()))));
    let loki = seen.iter().find(|r| r.url.contains("/loki/api/v1/query")).unwrap();
    assert!(loki.url.contains("count_over_time") && loki.url.contains("%5B900s%5D"), "{}", loki.url);
    // The Socket.IO exchange: CONNECT, the login with the AutoKuma account (the password only
    // in the POST body, which curl reads on its standard input), the pong, the close.
    let login = serde_json::json!({"username": "admin", "password": KUMA_PASSWORD, "token": ""});
    assert_eq!(transport.posted(), ["40".to_string(), format!(r#"420["login",{login}]"#), "3".into(), "1".into()]);
    assert!(seen.iter().filter(|r| r.url.contains("/socket.io/")).all(|r| !r.url.contains("pass") && r.auth.is_none()));
    assert!(transport.polls.borrow().is_empty(), "every recorded poll was read");
    for out in [report.text(), report.json()] {
        assert!(!out.contains(PASSWORD) && !out.contains(API_KEY) && !out.contains("recorded-kuma-pass") && !out.contains(KUMA_JWT));
    }
}

/// The Telegram notification line of a Socket.IO session recorded as `polls`.
fn notification_line(polls: Vec<String>, secrets: Secrets) -> (Status, String) {
    let exp = example();
    let transport = healthy(&exp);
    transport.polls(&polls);
    let report = run(&exp, &transport, secrets);
    let c = line(&report, "notification Telegram");
    (c.status, c.detail.clone())
}

#[test]
fn the_telegram_notification_fails_when_missing_inactive_or_of_another_type() {
    let ok = r#"{"ok":true,"token":"KUMA_JWT"}"#;
    let missing = "missing: has AutoKuma synced? (docker logs autokuma)";
    assert_eq!(notification_line(kuma_session(&[], ok), secrets()), (Status::Fail, missing.into()));
    let other = telegram(true, true).replace("Telegram", "Telegram (old)");
    assert_eq!(notification_line(kuma_session(&[other], ok), secrets()), (Status::Fail, missing.into()));
    let inactive = "inactive: stack.toml has it active; has AutoKuma synced? (docker logs autokuma)";
    assert_eq!(notification_line(kuma_session(&[telegram(false, true)], ok), secrets()), (Status::Fail, inactive.into()));
    assert_eq!(notification_line(kuma_session(&[telegram(true, false)], ok), secrets()), (Status::Fail, inactive.into()));
    let discord = telegram(true, true).replace(r#"\"type\":\"telegram\""#, r#"\"type\":\"discord\""#);
    assert_ne!(discord, telegram(true, true));
    assert_eq!(notification_line(kuma_session(&[discord], ok), secrets()), (Status::Fail, "is of type discord, not telegram".into()));
    // Another notification beside it does not matter.
    let both = [telegram(true, true).replace("Telegram", "Email").replace("telegram", "smtp"), telegram(true, true)];
    assert_eq!(notification_line(kuma_session(&both, ok), secrets()), (Status::Pass, "telegram, active".into()));
}

#[test]
fn a_refused_or_unanswered_login_and_no_password_are_said_as_such() {
    let refused = r#"{"ok":false,"msg":"authIncorrectCreds","msgi18n":true}"#;
    assert_eq!(notification_line(kuma_session(&[], refused), secrets()), (Status::Fail, "login as admin refused: wrong user name or password".into()));
    let limited = r#"{"ok":false,"msg":"Too frequently, try again later."}"#;
    assert_eq!(notification_line(kuma_session(&[], limited), secrets()), (Status::Fail, "login as admin refused: Too frequently, try again later.".into()));
    let twofa = kuma_session(&[], r#"{"tokenRequired":true}"#);
    assert_eq!(notification_line(twofa, secrets()), (Status::Fail, "login as admin: the account has 2FA on; verify logs in without a token".into()));
    // No ack at all: the last poll times out, a failed line, not a hang.
    let mut silent = kuma_session(&[telegram(true, true)], r#"{"ok":true}"#);
    silent.pop();
    assert_eq!(notification_line(silent, secrets()), (Status::Fail, "login as admin: timed out".into()));
    // Events that never end (heartbeats of the user's room) and no ack: bounded too.
    let mut chatty = kuma_session(&[telegram(true, true)], r#"{"ok":true}"#);
    chatty.pop();
    chatty.extend((0..60).map(|i| format!(r#"42["heartbeat",{{"monitorID":1,"status":1,"msg":"{i}"}}]"#)));
    assert_eq!(notification_line(chatty, secrets()), (Status::Fail, "login as admin: no answer after 50 polls".into()));
    // Not an Engine.IO server.
    assert_eq!(
        notification_line(vec!["<html>Uptime Kuma</html>".into()], secrets()),
        (Status::Fail, "Socket.IO connect: not an Engine.IO v4 open packet: <html>Uptime Kuma</html>".into())
    );
    // No password: a skip that names the variable, and no Socket.IO request at all.
    let exp = example();
    let transport = healthy(&exp);
    let report = run(&exp, &transport, Secrets { uptime_password: None, ..secrets() });
    let c = line(&report, "notification Telegram");
    assert_eq!((c.status, c.detail.as_str()), (Status::Skip, "set UPTIME_KUMA_PASSWORD (the password AutoKuma logs in with as admin) to check it"));
    assert!(transport.seen.borrow().iter().all(|r| !r.url.contains("/socket.io/")));
}

#[test]
fn a_silent_host_a_down_monitor_and_a_missing_datasource_each_fail_their_line() {
    let exp = example();
    let mut transport = healthy(&exp);
    let result: Vec<String> =
        exp.log_hosts.iter().filter(|h| *h != "prod-blog-the").map(|h| format!(r#"{{"metric":{{"host":"{h}"}},"value":[1764620000.1,"7"]}}"#)).collect();
    transport.on(
        "/api/datasources/proxy/uid/loki/loki/api/v1/query",
        200,
        &format!(r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#, result.join(",")),
    );
    transport.on("/api/datasources/uid/loki", 404, r#"{"message":"Data source not found"}"#);
    let metrics = transport.answers[&("GET".to_string(), "/metrics".to_string())].1.replace(
        "monitor_name=\"grafana.home.lan\",monitor_type=\"http\",monitor_url=\"https://x/\",monitor_hostname=\"null\",monitor_port=\"null\"} 1",
        "monitor_name=\"grafana.home.lan\",monitor_type=\"http\",monitor_url=\"https://x/\",monitor_hostname=\"null\",monitor_port=\"null\"} 0",
    );
    let metrics: String = metrics.lines().filter(|l| !l.contains("\"prometheus.home.lan\"")).map(|l| format!("{l}\n")).collect();
    transport.on("/metrics", 200, &metrics);
    let report = run(&exp, &transport, secrets());
    let failed: Vec<String> = report.failures();
    assert_eq!(
        failed,
        [
            "grafana: datasource Loki (uid loki): HTTP 404 from /api/datasources/uid/loki: {\"message\":\"Data source not found\"}",
            "grafana: logs from prod-blog-the in the last 15 min: none: is its agent running and can it reach Loki's push port?",
            "uptime-kuma: monitor grafana.home.lan: down",
            "uptime-kuma: monitor prometheus.home.lan: missing: has AutoKuma synced? (docker logs autokuma)",
        ],
        "{}",
        report.text()
    );
}

#[test]
fn missing_credentials_and_a_service_that_is_down_are_failed_lines_not_hangs() {
    let exp = example();
    let report = run(&exp, &healthy(&exp), Secrets::default());
    assert_eq!(
        report.failures(),
        [
            "grafana: admin login: set GRAFANA_ADMIN_PASSWORD (the Grafana admin password Terraform uses) to check datasources, dashboards and logs",
            "uptime-kuma: metrics: set UPTIME_KUMA_API_KEY to an API key of Uptime Kuma (Settings → API Keys) to check its monitors",
        ]
    );
    // Nothing answers at all: every check of every service is a failed line, and the run ends.
    let nothing = Recorded::default();
    let opts = Options::default();
    let ctx = Ctx { exp: &exp, http: &nothing, ca_file: None, opts: &opts, secrets: secrets() };
    let report = verify::run(&ctx);
    assert!(!report.ok());
    for service in ["routes", "prometheus", "alertmanager", "grafana", "uptime-kuma"] {
        assert!(report.checks.iter().any(|c| c.service == service && c.status == Status::Fail), "{service}:\n{}", report.text());
    }
    let s = report.summary();
    assert_eq!((s.passed, s.skipped), (exp.routes.len(), 0), "only name resolution passes:\n{}", report.text());
    assert!(report.text().ends_with(&format!("verify: {} passed, {} failed, 0 skipped, 0 info\n", s.passed, s.failed)), "{}", report.text());
    let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["checks"][0]["status"], "pass", "resolution is recorded as working: {json}");
}

#[test]
fn the_verify_flags_fill_its_own_options() {
    use xtask::cli::{self, Command};
    let args = |a: &[&str]| cli::parse(a.iter().map(std::ffi::OsString::from));
    let opts = |a: &[&str]| match args(a).unwrap().command {
        Command::Verify(v) => v.options,
        other => panic!("not verify: {other:?}"),
    };
    let o = opts(&["verify", "--env", "prod", "--send-test-alert", "--json", "--since", "2h"]);
    assert_eq!((o.env.as_deref(), o.send_test_alert, o.json, o.since.as_secs()), (Some("prod"), true, true, 7200));
    let o = opts(&["verify"]);
    assert_eq!((o.env, o.send_test_alert, o.json, o.since.as_secs()), (None, false, false, 900));
    let err = args(&["verify", "--since", "5x"]).unwrap_err();
    assert!(err.message.contains("`--since 5x`: expected a duration such as 15m, 90s or 2h"), "{err}");
    // verify's flags belong to verify only.
    let err = args(&["gen", "--json"]).unwrap_err();
    assert_eq!((err.message.as_str(), err.hint.as_deref()), ("gen: unknown flag `--json`", Some("`--json` is a flag of `cargo xtask verify`")), "{err}");
}

#[test]
fn an_unknown_environment_is_refused_before_any_request() {
    // The error comes before the transport exists: no packet is sent by this test.
    let out = common::xtask(&common::repo_root(), &["verify", "--env", "nope"]);
    let err = common::text(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("--env nope: no such environment\n  hint: stack.toml has prod"), "{err}");
    assert!(common::text(&out.stdout).is_empty());
}

#[test]
fn a_name_that_does_not_resolve_says_how_to_make_it_resolve() {
    struct NoDns;
    impl Transport for NoDns {
        fn send(&self, _: &Request) -> Result<Response, HttpError> {
            Err(HttpError("timed out".into()))
        }
        fn resolve(&self, _: &str) -> Result<Vec<Ipv4Addr>, String> {
            Ok(vec![])
        }
    }
    let exp = example();
    let opts = Options::default();
    let ctx = Ctx { exp: &exp, http: &NoDns, ca_file: None, opts: &opts, secrets: Secrets::default() };
    let mut report = Report::default();
    verify::routes::check(&ctx, &mut report);
    assert_eq!(
        line(&report, "grafana.home.lan resolves").detail,
        "no IPv4 address; add `192.168.1.51 grafana.home.lan` to /etc/hosts, or see `cargo xtask dns` for every name and the dnsmasq line"
    );
    assert_eq!(line(&report, "grafana.home.lan answers over HTTPS").detail, "timed out");
}
