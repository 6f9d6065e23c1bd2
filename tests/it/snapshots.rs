//! Golden snapshots of the whole generated tree, for the example stack and every fixture stack.

use crate::common;

use std::process::Command;

#[test]
fn generated_trees_match_their_snapshots() {
    for (name, path) in common::fixture_stacks() {
        let tree = common::render_path(&path);
        assert_snapshot!(format!("tree-{name}"), common::flatten(&tree));
    }
}

#[test]
fn rendering_is_deterministic() {
    for (_, path) in common::fixture_stacks() {
        assert_eq!(common::render_path(&path), common::render_path(&path));
    }
}

#[test]
fn nothing_of_the_example_lab_is_hard_coded_in_templates() {
    let templates = common::repo_root().join("infrastructure/templates");
    for entry in walkdir::WalkDir::new(&templates) {
        let entry = entry.unwrap();
        if !entry.file_type().is_file() {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        for needle in ["home.lan", "192.168.", "pve-mon", "prod-alloc", "prod-blog", "-1001234567890"] {
            assert!(!text.contains(needle), "{} hard-codes `{needle}`", entry.path().display());
        }
    }
}

/// The catalog entry of ARCHITECTURE.md's "Adding a service": a routed, scraped service with a
/// volume, whose stack.toml key (`push_gateway`) is not its compose name (`pushgateway`).
fn push_gateway() -> xtask::stack::catalog::ServiceSpec {
    use xtask::stack::catalog::{Routing, Scrape, ScrapeAt, ServiceSpec};
    ServiceSpec {
        key: "push_gateway",
        compose: "pushgateway",
        image: "prom/pushgateway:v1.11.1",
        port: 9091,
        health_path: Some("/-/ready"),
        scrape: Some(Scrape { job: "pushgateway", at: ScrapeAt::Compose, place: 8 }),
        volumes: &["pushgateway-data"],
        compose_place: 10,
        routing: Routing::Web,
        route: Some("push"),
        host_network: false,
        host_port: None,
        memory_limit_mb: 64,
        memory_reservation_mb: 16,
        plan_addition: false,
        keys: &[],
    }
}

/// Adding a service takes its catalog entry, its compose partial and its stack.toml table, and
/// nothing else: with the three, it is in docker-compose.yml (its partial, its volume), routed
/// by Traefik with its health path, monitored by Uptime Kuma, scraped by Prometheus and counted
/// in the memory budget; every other file is as it was.
#[test]
fn adding_a_service_takes_a_catalog_entry_a_partial_and_its_stack_toml_table() {
    let root = common::repo_root();
    let mut catalog = xtask::stack::catalog::SERVICES.to_vec();
    catalog.push(push_gateway());
    let templates = common::temp_dir("catalog");
    common::copy_dir(&root.join("infrastructure/templates"), &templates);
    std::fs::copy(root.join("tests/catalog/_push_gateway.yml.j2"), templates.join("compose/services/_push_gateway.yml.j2")).unwrap();
    let src =
        std::fs::read_to_string(root.join("stack.toml")).unwrap() + "\n[services.push_gateway]\nimage = \"prom/pushgateway:v1.11.1\"\nmemory_limit_mb = 96\n";
    let unknown = xtask::stack::from_str("stack.toml", &src).unwrap_err().to_string();
    assert!(unknown.contains("services.push_gateway: unknown service `push_gateway`"), "without its entry: {unknown}");
    let mut stack = xtask::stack::from_str_with("stack.toml", &src, &catalog).unwrap_or_else(|e| panic!("{e}"));
    let before = common::load(&root.join("stack.toml"));
    // The same tls.certs_dir as the example: its committed certificates, as the edge reads them.
    stack.tls.certs = before.tls.certs.clone();
    let tree = xtask::targets::generate(&stack, &templates).unwrap();
    let old = common::render(&before);
    let text = |t: &xtask::tree::Tree, path: &str| String::from_utf8(t.get(path).unwrap_or_else(|| panic!("no {path}")).to_vec()).unwrap();
    let yaml = |t: &xtask::tree::Tree, path: &str| -> serde_norway::Value { serde_norway::from_str(&text(t, path)).unwrap() };

    let compose = yaml(&tree, "compose/docker-compose.yml");
    let svc = &compose["services"]["pushgateway"];
    assert_eq!(svc["image"].as_str(), Some("prom/pushgateway:v1.11.1"), "{svc:?}");
    assert_eq!(svc["deploy"]["resources"]["limits"]["memory"].as_str(), Some("96M"), "its stack.toml table is read");
    assert!(compose["volumes"].get("pushgateway-data").is_some(), "its volume is declared");
    let names: Vec<&str> = compose["services"].as_mapping().unwrap().keys().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(names.last(), Some(&"pushgateway"), "its compose place is last: {names:?}");

    let host = format!("push.{}", stack.domain);
    let routes = yaml(&tree, "compose/traefik/dynamic/routes.yml");
    assert_eq!(routes["http"]["routers"]["push"]["rule"].as_str(), Some(format!("Host(`{host}`)").as_str()));
    let lb = &routes["http"]["services"]["push"]["loadBalancer"];
    assert_eq!(lb["servers"][0]["url"].as_str(), Some("http://pushgateway:9091"));
    assert_eq!(lb["healthCheck"]["path"].as_str(), Some("/-/ready"));
    let monitor = text(&tree, "compose/uptime-kuma/monitors/route-push.json");
    assert!(monitor.contains(&format!("{host}/-/ready")), "{monitor}");

    let prom = yaml(&tree, "compose/prometheus/prometheus.yml");
    let job = prom["scrape_configs"].as_sequence().unwrap().iter().find(|j| j["job_name"].as_str() == Some("pushgateway")).expect("its scrape job");
    assert_eq!(job["static_configs"][0]["targets"][0].as_str(), Some("pushgateway:9091"));

    assert_eq!(stack.memory.limits_mb, before.memory.limits_mb + 96, "counted in the memory budget");
    assert_eq!(stack.memory.additions_reserved_mb, before.memory.additions_reserved_mb, "not one of the plan's additions");

    // Every other file is byte for byte what the catalog without it renders.
    let changed: Vec<&str> = tree.files().filter(|(path, bytes)| old.get(path) != Some(*bytes)).map(|(path, _)| path).collect();
    // The Traefik rules' request-rate floor counts the routes' probes; Terraform outputs each URL.
    let expected = [
        "compose/docker-compose.yml",
        "compose/prometheus/prometheus.yml",
        "compose/prometheus/rules/traefik.yml",
        "compose/traefik/dynamic/routes.yml",
        "compose/uptime-kuma/monitors/route-push.json",
        "terraform/environments/monitoring/outputs.tf",
    ];
    assert_eq!(changed, expected, "what the new service changes");
    assert!(old.files().all(|(path, _)| tree.get(path).is_some()), "no file disappears");

    // The real tools accept the files the new service changed.
    let dir = common::materialize(&tree, "catalog-tree");
    if let Some(compose) = common::validator("docker-compose") {
        common::run_ok(Command::new(compose).arg("-f").arg(dir.join("compose/docker-compose.yml")).args(["config", "-q"]), "docker-compose config");
    }
    if let Some(promtool) = common::validator("promtool") {
        let config = dir.join("compose/prometheus/prometheus.yml");
        common::run_ok(Command::new(promtool).args(["check", "config", "--syntax-only"]).arg(config), "promtool check config");
    }
}
