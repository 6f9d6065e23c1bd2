//! Traefik on every fixture stack: its files match SchemaStore's Traefik v3 schemas, every
//! router reaches a real backend on the port its compose service listens on, the latency target
//! is a histogram bucket, the rules fire when promtool feeds them data, and `cargo xtask dns`.

use crate::common;

use std::path::PathBuf;
use std::process::Command;

use common::{load, materialize, render, run_ok, text, validator};
use serde_norway::Value;
use xtask::stack::Stack;
use xtask::tree::Tree;

/// The example and every fixture stack, each with its rendered tree, plus the example with TLS
/// off (plain `web` entry point, no redirect, no tls.yml).
fn fixtures() -> Vec<(String, Stack, Tree)> {
    let mut out: Vec<(String, Stack, Tree)> = common::fixture_stacks()
        .into_iter()
        .map(|(name, path)| {
            let stack = load(&path);
            let tree = render(&stack);
            (name, stack, tree)
        })
        .collect();
    let src = std::fs::read_to_string(common::repo_root().join("stack.toml")).unwrap();
    assert!(src.contains("[tls]\nenabled = true"));
    let stack = xtask::stack::from_str("stack.toml", &src.replace("[tls]\nenabled = true", "[tls]\nenabled = false")).unwrap();
    let tree = render(&stack);
    out.push(("tls-off".to_string(), stack, tree));
    out
}

fn file<'a>(tree: &'a Tree, path: &str) -> &'a str {
    std::str::from_utf8(tree.get(path).unwrap_or_else(|| panic!("{path} is not generated"))).unwrap()
}

fn yaml(tree: &Tree, path: &str) -> Value {
    serde_norway::from_str(file(tree, path)).unwrap()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("`{key}` is not a string in {v:?}"))
}

/// SchemaStore's Traefik schemas, kept out of the repository in `../shared/reference/schemas/`.
fn schemas() -> Option<PathBuf> {
    let dir = common::repo_root().join("../shared/reference/schemas");
    if dir.join("traefik-v3.json").is_file() && dir.join("traefik-v3-file-provider.json").is_file() {
        return Some(dir);
    }
    if std::env::var("REQUIRE_VALIDATORS").as_deref() == Ok("1") {
        panic!("the Traefik schemas are required (REQUIRE_VALIDATORS=1) but missing from {}", dir.display());
    }
    common::skipped(&format!("the Traefik schemas are not in {}; this check did not run", dir.display()));
    None
}

#[test]
fn static_and_dynamic_files_match_the_traefik_v3_schemas() {
    let (Some(cj), Some(schemas)) = (validator("check-jsonschema"), schemas()) else { return };
    for (name, stack, tree) in fixtures() {
        let dir = materialize(&tree, &format!("traefik-schema-{name}"));
        let static_file = dir.join("compose/traefik/traefik.yml");
        run_ok(Command::new(&cj).arg("--schemafile").arg(schemas.join("traefik-v3.json")).arg(&static_file), &format!("{name}: traefik.yml"));
        let dynamic: Vec<PathBuf> = std::fs::read_dir(dir.join("compose/traefik/dynamic")).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(dynamic.len(), if stack.tls.enabled { 2 } else { 1 }, "{name}: routes.yml and tls.yml");
        run_ok(Command::new(&cj).arg("--schemafile").arg(schemas.join("traefik-v3-file-provider.json")).args(&dynamic), &format!("{name}: dynamic files"));
    }
}

#[test]
fn routes_match_their_snapshots() {
    for (name, _, tree) in fixtures() {
        assert_snapshot!(format!("routes-{name}"), file(&tree, "compose/traefik/dynamic/routes.yml"));
    }
}

fn router_is_loki(routes: &Value, router: &str) -> bool {
    routes["http"]["services"][router]["loadBalancer"]["servers"][0]["url"].as_str().is_some_and(|u| u.starts_with("http://loki:"))
}

#[test]
fn every_router_reaches_its_backend_on_the_compose_port() {
    for (name, stack, tree) in fixtures() {
        let routes = yaml(&tree, "compose/traefik/dynamic/routes.yml");
        let compose = yaml(&tree, "compose/docker-compose.yml");
        let routers = routes["http"]["routers"].as_mapping().unwrap();
        let services = routes["http"]["services"].as_mapping().unwrap();
        let entry = if stack.tls.enabled { "websecure" } else { "web" };
        let mut hosts = Vec::new();
        for (router, r) in routers {
            let router = router.as_str().unwrap();
            let rule = str_of(r, "rule");
            // Host(`h`), or Host(`h`) && <read-only conditions> for Loki's route.
            let host = rule
                .strip_prefix("Host(`")
                .and_then(|h| h.split_once("`)"))
                .filter(|(_, rest)| rest.is_empty() || (router_is_loki(&routes, router) && rest.starts_with(" && (Method(`GET`)")))
                .map(|(h, _)| h)
                .unwrap_or_else(|| panic!("{name}: {router}: rule {rule} is not Host(`...`)"));
            assert!(host.ends_with(&format!(".{}", stack.domain)), "{name}: {router}: {host} is outside {}", stack.domain);
            hosts.push(host.to_string());
            assert_eq!(r["entryPoints"], Value::Sequence(vec![Value::from(entry)]), "{name}: {router}");
            assert_eq!(r.get("tls").is_some(), stack.tls.enabled, "{name}: {router}: tls");
            let service = str_of(r, "service");
            if service == "api@internal" {
                assert!(stack.services.traefik.dashboard, "{name}: the dashboard is routed while it is off");
                assert_eq!(r["middlewares"][0].as_str(), Some("dashboard-auth"), "{name}: the dashboard has no basic auth");
                continue;
            }
            let lb = &services.get(service).unwrap_or_else(|| panic!("{name}: router {router} points at the missing service {service}"))["loadBalancer"];
            let url = str_of(&lb["servers"][0], "url");
            let (backend, port) = url.split_once("://").unwrap().1.split_once(':').unwrap();
            let port: u16 = port.trim_end_matches('/').parse().unwrap();
            if let Some(c) = stack.services.containers().into_iter().find(|c| c.name == backend) {
                assert!(compose["services"].get(backend).is_some(), "{name}: {backend} is not a compose service");
                assert_eq!(port, c.port, "{name}: {router} reaches {backend} on {port}, but it listens on {}", c.port);
            } else {
                let vm = stack.vms.iter().chain([&stack.monitoring.vm]).find(|v| v.ip.to_string() == backend);
                assert!(vm.is_some(), "{name}: {router} reaches {backend}, neither a compose service nor a VM");
            }
            assert!(lb["healthCheck"]["path"].as_str().is_some_and(|p| p.starts_with('/')), "{name}: {service} has no health check");
        }
        let mut expected: Vec<String> = stack.routes.iter().map(|r| r.host.clone()).collect();
        expected.sort();
        hosts.sort();
        assert_eq!(hosts, expected, "{name}: one router per routed host");
    }
}

#[test]
fn only_traefik_and_published_services_have_host_ports() {
    for (name, stack, tree) in fixtures() {
        let compose = yaml(&tree, "compose/docker-compose.yml");
        for (service, def) in compose["services"].as_mapping().unwrap() {
            let service = service.as_str().unwrap();
            let Some(ports) = def.get("ports") else { continue };
            let ports: Vec<&str> = ports.as_sequence().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
            if service == "traefik" {
                let expected: Vec<&str> = if stack.tls.enabled { vec!["80:80", "443:443"] } else { vec!["80:80"] };
                assert_eq!(ports, expected, "{name}");
                continue;
            }
            let c = stack.services.containers().into_iter().find(|c| c.name == service).unwrap();
            let published = c.host_port.unwrap_or_else(|| panic!("{name}: {service} publishes {ports:?} but has no host_port"));
            assert_eq!(ports, vec![format!("{published}:{}", c.port)], "{name}: {service}");
        }
    }
}

#[test]
fn the_proxy_target_is_a_bucket_and_the_alert_threshold() {
    for (name, stack, tree) in fixtures() {
        let target = f64::from(stack.targets.proxy_overhead_ms) / 1000.0;
        let t = yaml(&tree, "compose/traefik/traefik.yml");
        let buckets: Vec<f64> = t["metrics"]["prometheus"]["buckets"].as_sequence().unwrap().iter().map(|b| b.as_f64().unwrap()).collect();
        assert!(buckets.contains(&target), "{name}: {target} is not in {buckets:?}");
        assert!(buckets.windows(2).all(|w| w[0] < w[1]), "{name}: buckets are not increasing: {buckets:?}");
        assert_eq!(t["metrics"]["prometheus"]["entryPoint"].as_str(), Some("metrics"));
        assert_eq!(t["entryPoints"]["metrics"]["address"].as_str(), Some(format!(":{}", stack.services.traefik.container.port).as_str()));
        assert_eq!(t.get("api").is_some(), stack.services.traefik.dashboard, "{name}: api only with the dashboard");
        assert!(t["api"].get("insecure").is_none_or(|v| v.as_bool() == Some(false)), "{name}: api.insecure");
        let rules = yaml(&tree, "compose/prometheus/rules/traefik.yml");
        let latency = rules["groups"][0]["rules"].as_sequence().unwrap().iter().find(|r| r["alert"].as_str() == Some("TraefikLatencyAboveTarget")).unwrap();
        assert!(str_of(latency, "expr").contains(&format!(") > {target}\n")), "{name}: {}", str_of(latency, "expr"));
    }
}

/// promtool's rule unit tests: a backend that Traefik sees down fires TraefikBackendDown; slow
/// requests fire TraefikLatencyAboveTarget, fast ones do not.
#[test]
fn the_traefik_alerts_fire_on_promtool_data() {
    let Some(promtool) = validator("promtool") else { return };
    for (name, stack, tree) in fixtures() {
        let dir = materialize(&tree, &format!("traefik-rules-{name}"));
        let entry = if stack.tls.enabled { "websecure" } else { "web" };
        let t = yaml(&tree, "compose/traefik/traefik.yml");
        let buckets: Vec<f64> = t["metrics"]["prometheus"]["buckets"].as_sequence().unwrap().iter().map(|b| b.as_f64().unwrap()).collect();
        // Every request takes between 0.1 and 0.25 s (slow) or under 5 ms (fast), at the entry
        // point (`traefik_entrypoint_*`) or at the backend (`traefik_service_*`), one a second.
        let series = |metric: &str, label: &str, slow: bool| -> String {
            let mut out = String::new();
            for le in buckets.iter().map(|b| b.to_string()).chain(["+Inf".to_string()]) {
                let counted = le == "+Inf" || {
                    let b: f64 = le.parse().unwrap();
                    if slow { b >= 0.25 } else { b >= 0.005 }
                };
                let values = if counted { "0+60x30" } else { "0x30" };
                out.push_str(&format!("      - series: '{metric}_request_duration_seconds_bucket{{{label},le=\"{le}\"}}'\n        values: '{values}'\n"));
            }
            out
        };
        let traffic = |entry_slow: bool, backend_slow: bool| -> String {
            let entry_label = format!("entrypoint=\"{entry}\"");
            format!(
                "{}{}      - series: 'traefik_entrypoint_requests_total{{{entry_label}}}'\n        values: '0+60x30'\n",
                series("traefik_entrypoint", &entry_label, entry_slow),
                series("traefik_service", "service=\"grafana@file\"", backend_slow),
            )
        };
        let down_for = stack.alerting.instance_down_for_seconds;
        let test = format!(
            r#"rule_files: [traefik.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'traefik_service_server_up{{service="grafana@file",url="http://grafana:3000"}}'
        values: '0x30'
{proxy_slow}    alert_rule_test:
      - eval_time: {eval}s
        alertname: TraefikBackendDown
        exp_alerts:
          - exp_labels: {{severity: critical, service: grafana@file, url: "http://grafana:3000"}}
            exp_annotations:
              summary: "Traefik backend http://grafana:3000 of grafana@file is down"
              description: "Traefik's health check of http://grafana:3000 fails; requests to its host get 503."
      - eval_time: 20m
        alertname: TraefikLatencyAboveTarget
        exp_alerts:
          - exp_labels: {{severity: warning}}
            exp_annotations:
              summary: "Traefik adds about 237.8ms at the 95th percentile on {entry}, above the {ms} ms proxy target"
              description: "targets.proxy_overhead_ms is {ms} ms; check the slowest backends in Traefik's service metrics."
  - interval: 1m
    input_series:
{fast}    alert_rule_test:
      - eval_time: 20m
        alertname: TraefikLatencyAboveTarget
        exp_alerts: []
  - interval: 1m
    input_series:
{backend_slow}    alert_rule_test:
      - eval_time: 20m
        alertname: TraefikLatencyAboveTarget
        exp_alerts: []
"#,
            proxy_slow = traffic(true, false),
            fast = traffic(false, false),
            backend_slow = traffic(true, true),
            eval = down_for + 60,
            ms = stack.targets.proxy_overhead_ms,
        );
        let test_file = dir.join("compose/prometheus/rules/traefik_test.yml");
        std::fs::write(&test_file, test).unwrap();
        run_ok(Command::new(&promtool).args(["test", "rules"]).arg(&test_file), &format!("{name}: promtool test rules"));
    }
}

#[test]
fn dns_prints_the_hosts_and_dnsmasq_lines() {
    for (name, path) in common::fixture_stacks() {
        let stack = load(&path);
        let root = path.parent().unwrap();
        let out = common::xtask(root, &["dns"]);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let ip = stack.monitoring.vm.ip;
        let hosts_line = stdout.lines().find(|l| l.starts_with(&format!("{ip} "))).unwrap_or_else(|| panic!("{name}: no hosts line in\n{stdout}"));
        let names: Vec<&str> = hosts_line.split_whitespace().skip(1).collect();
        let expected: Vec<&str> = stack.routes.iter().map(|r| r.host.as_str()).collect();
        assert_eq!(names, expected, "{name}");
        assert!(stdout.lines().any(|l| l == format!("address=/{}/{ip}", stack.domain)), "{name}: no dnsmasq line in\n{stdout}");
        assert_snapshot!(format!("dns-{name}"), stdout);
    }
}

/// The latency alert is evaluated on real traffic only: its request-rate floor is above what
/// Uptime Kuma's route monitors alone send (one request per route per interval or retry interval).
#[test]
fn uptime_kuma_probes_alone_never_arm_the_latency_alert() {
    for (name, stack, tree) in fixtures() {
        let rules = file(&tree, "compose/prometheus/rules/traefik.yml");
        let expr_tail = rules.split("traefik_entrypoint_requests_total").nth(1).unwrap_or_else(|| panic!("{name}: no request-rate guard"));
        let guard: f64 = expr_tail.split("> ").nth(1).unwrap().split_whitespace().next().unwrap().trim_matches('"').parse().unwrap();
        let k = &stack.services.uptime_kuma;
        let monitors = stack.routes.iter().filter(|r| !r.internal()).count() as f64;
        let probes = monitors / f64::from(k.interval_seconds.min(k.retry_interval_seconds));
        assert!(guard > probes + 0.099, "{name}: guard {guard} req/s does not clear {monitors} monitors' {probes} req/s of probes");
        assert!(monitors >= 1.0, "{name}: no route monitor");
    }
}
