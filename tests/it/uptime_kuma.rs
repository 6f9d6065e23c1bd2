//! Uptime Kuma's monitors as code on every fixture stack: every AutoKuma file passes our strict
//! schema (`tests/schemas/autokuma-entity.schema.json`), each routed host and each VM has
//! exactly one monitor, and every monitor is grouped, tagged, notified and fast enough.

use crate::common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{load, materialize, render, run_ok, validator};
use serde_json::Value;

const DIR: &str = "compose/uptime-kuma/monitors/";

/// Every entity of a tree, by its AutoKuma id (the file stem).
fn entities(tree: &xtask::tree::Tree) -> BTreeMap<String, Value> {
    tree.files()
        .filter_map(|(path, bytes)| {
            let id = path.strip_prefix(DIR)?.strip_suffix(".json")?;
            Some((id.to_string(), serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{path}: {e}"))))
        })
        .collect()
}

fn schema() -> std::path::PathBuf {
    common::repo_root().join("tests/schemas/autokuma-entity.schema.json")
}

#[test]
fn every_entity_file_passes_the_strict_schema() {
    let Some(cj) = validator("check-jsonschema") else { return };
    for (name, path) in common::fixture_stacks() {
        let tree = render(&load(&path));
        let dir = materialize(&tree, &format!("kuma-{name}"));
        let files: Vec<_> = std::fs::read_dir(dir.join(DIR)).unwrap().map(|e| e.unwrap().path()).collect();
        assert!(files.iter().all(|f| f.extension().is_some_and(|e| e == "json")), "{name}: only JSON files");
        run_ok(Command::new(&cj).arg("--schemafile").arg(schema()).args(&files), &format!("{name}: AutoKuma schema"));
    }
}

#[test]
fn the_schema_rejects_unknown_keys() {
    let Some(cj) = validator("check-jsonschema") else { return };
    let tree = render(&load(&common::repo_root().join("stack.toml")));
    let dir = common::temp_dir("kuma-unknown-key");
    for (id, mut entity) in entities(&tree) {
        // A plausible typo in each entity: AutoKuma itself would ignore it silently.
        entity.as_object_mut().unwrap().insert("intervall".to_string(), Value::from(30));
        let file = dir.join(format!("{id}.json"));
        std::fs::write(&file, entity.to_string()).unwrap();
        let out = Command::new(&cj).arg("--schemafile").arg(schema()).arg(&file).output().unwrap();
        assert!(!out.status.success(), "{id}: an unknown key passed the schema");
    }
}

#[test]
fn each_routed_host_and_each_vm_has_exactly_one_monitor() {
    for (name, path) in common::fixture_stacks() {
        let stack = load(&path);
        let all = entities(&render(&stack));
        let of_type = |t: &'static str| all.values().filter(move |e| e["type"] == t);
        for route in &stack.routes {
            let n = of_type("http").filter(|e| e["url"].as_str().unwrap().split('/').nth(2) == Some(route.host.as_str())).count();
            assert_eq!(n, 1, "{name}: {} has {n} monitors", route.host);
        }
        for vm in stack.vms.iter().chain([&stack.monitoring.vm]) {
            let n = of_type("ping").filter(|e| e["hostname"] == vm.ip.to_string()).count();
            assert_eq!(n, 1, "{name}: VM {} has {n} ping monitors", vm.name);
        }
        // Besides those: a readiness check of Prometheus and of Loki, inside the compose network.
        let internal: Vec<&str> = of_type("http")
            .filter_map(|e| e["url"].as_str())
            .filter(|u| u.starts_with("http://") && !stack.routes.iter().any(|r| u.contains(&r.host)))
            .collect();
        assert_eq!(internal, ["http://loki:3100/ready", "http://prometheus:9090/-/ready"], "{name}");
        let checks = of_type("http").count() + of_type("ping").count();
        assert_eq!(checks, stack.routes.len() + stack.vms.len() + 1 + 2, "{name}: no other monitor");
    }
}

#[test]
fn monitors_are_grouped_tagged_notified_and_within_the_detection_target() {
    for (name, path) in common::fixture_stacks() {
        let stack = load(&path);
        let all = entities(&render(&stack));
        let notifications: Vec<&String> = all.iter().filter(|(_, e)| e["type"] == "notification").map(|(id, _)| id).collect();
        assert_eq!(notifications.len(), 1, "{name}: one notification entity");
        let telegram = &all[notifications[0]];
        assert_eq!(telegram["config"]["type"], "telegram");
        assert_eq!(telegram["config"]["telegramChatID"], stack.alerting.telegram_chat_id.to_string());
        let tags: Vec<&String> = all.iter().filter(|(_, e)| e["type"] == "tag").map(|(id, _)| id).collect();
        assert_eq!(tags.len(), 1, "{name}: one tag entity");
        assert_eq!(all[tags[0]]["name"], "managed-by-gitops");
        let groups: Vec<&String> = all.iter().filter(|(_, e)| e["type"] == "group").map(|(id, _)| id).collect();
        assert_eq!(groups.len(), stack.environments.len() + 1, "{name}: the monitoring stack's group and one per environment");
        let k = &stack.services.uptime_kuma;
        for (id, e) in &all {
            let kind = e["type"].as_str().unwrap();
            if kind == "notification" || kind == "tag" {
                continue;
            }
            assert_eq!(e["tag_names"][0]["name"], *tags[0].as_str(), "{name}: {id} is not tagged");
            assert_eq!(
                (e["interval"].as_u64(), e["max_retries"].as_u64(), e["retry_interval"].as_u64()),
                (Some(k.interval_seconds.into()), Some(k.retries.into()), Some(k.retry_interval_seconds.into())),
                "{name}: {id}"
            );
            let worst = e["interval"].as_u64().unwrap() + e["max_retries"].as_u64().unwrap() * e["retry_interval"].as_u64().unwrap();
            assert!(worst <= u64::from(stack.targets.failure_detection_seconds), "{name}: {id} detects a failure after {worst} s");
            if kind == "group" {
                assert!(e.get("notification_name_list").is_none(), "{name}: group {id} would notify twice");
                continue;
            }
            assert_eq!(e["notification_name_list"], serde_json::json!([notifications[0]]), "{name}: {id} does not notify");
            let parent = e["parent_name"].as_str().unwrap();
            assert!(groups.iter().any(|g| *g == parent), "{name}: {id} is in the missing group {parent}");
            if let Some(url) = e["url"].as_str() {
                assert!(e["timeout"].as_u64().unwrap() < e["interval"].as_u64().unwrap(), "{name}: {id} times out after its next check");
                if url.starts_with("https://") {
                    assert_eq!(e["ignore_tls"], false, "{name}: {id} must verify the certificate");
                }
            }
        }
        for vm in &stack.vms {
            let ping = all.values().find(|e| e["hostname"] == vm.ip.to_string()).unwrap();
            assert_eq!(ping["parent_name"], format!("group-{}", vm.environment), "{name}: {} is not in its environment's group", vm.name);
        }
    }
}
