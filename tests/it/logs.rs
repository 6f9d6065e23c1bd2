//! Central logs and first boot, on every fixture stack: Loki's retention and schema, one agent
//! config per VM whose agent is on (pushing to the monitoring VM with the VM's labels), the
//! cloud-init of every VM (checked by `cloud-init schema`), the install scripts (bash -n and
//! shellcheck), the logs dashboard's datasources and the agents' scrape ports.

use crate::common;

use std::collections::BTreeSet;
use std::process::Command;

use serde_norway::Value as Yaml;
use xtask::stack::Stack;
use xtask::stack::model::Agent;
use xtask::tree::Tree;

use common::{materialize, run_ok, validator};

/// Each fixture's name, validated stack and rendered tree.
fn fixtures() -> Vec<(String, Stack, Tree)> {
    common::fixture_stacks()
        .into_iter()
        .map(|(name, path)| {
            let stack = common::load(&path);
            let tree = common::render(&stack);
            (name, stack, tree)
        })
        .collect()
}

fn text<'t>(tree: &'t Tree, path: &str) -> &'t str {
    std::str::from_utf8(tree.get(path).unwrap_or_else(|| panic!("{path} is not generated"))).unwrap()
}

fn yaml(tree: &Tree, path: &str) -> Yaml {
    serde_norway::from_str(text(tree, path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn str_at<'v>(v: &'v Yaml, keys: &[&str]) -> &'v str {
    let mut cur = v;
    for k in keys {
        cur = &cur[*k];
    }
    cur.as_str().unwrap_or_else(|| panic!("{} is not a string: {cur:?}", keys.join(".")))
}

fn push_url(stack: &Stack) -> String {
    format!("http://{}:{}/loki/api/v1/push", stack.monitoring.vm.ip, stack.services.loki.container.host_port.unwrap())
}

#[test]
fn loki_keeps_logs_for_the_retention_with_tsdb_v13() {
    for (name, stack, tree) in fixtures() {
        let loki = yaml(&tree, "compose/loki/loki-config.yml");
        let derived = format!("{}h", stack.services.loki.retention_days * 24);
        let expected = match name.as_str() {
            "example" => "168h",
            "other-lab" => "336h",
            _ => derived.as_str(),
        };
        assert_eq!(expected, derived, "{name}");
        assert_eq!(str_at(&loki, &["limits_config", "retention_period"]), expected, "{name}");
        assert_eq!(loki["compactor"]["retention_enabled"].as_bool(), Some(true), "{name}");
        let last_store = &stack.services.loki.storage.periods.last().unwrap().object_store;
        assert_eq!(str_at(&loki, &["compactor", "delete_request_store"]), last_store, "{name}");
        assert_eq!(loki["auth_enabled"].as_bool(), Some(false), "{name}");
        assert_eq!(loki["analytics"]["reporting_enabled"].as_bool(), Some(false), "{name}");
        let periods = loki["schema_config"]["configs"].as_sequence().unwrap();
        assert!(!periods.is_empty());
        for period in periods {
            assert_eq!(str_at(period, &["store"]), "tsdb", "{name}");
            assert_eq!(str_at(period, &["schema"]), "v13", "{name}");
            assert_eq!(str_at(period, &["index", "period"]), "24h", "{name}: retention needs a 24h index");
        }
        let split = format!("{}m", stack.services.loki.split_queries_minutes);
        assert_eq!(str_at(&loki, &["limits_config", "split_queries_by_interval"]), split, "{name}");
        // Keys Loki 3 removed make it refuse to start.
        let raw = text(&tree, "compose/loki/loki-config.yml");
        // compactor.deletion_mode moved to limits_config in Loki 3; the delete API stays off.
        assert!(loki["compactor"]["deletion_mode"].is_null(), "{name}: compactor.deletion_mode was removed in Loki 3");
        assert_eq!(str_at(&loki, &["limits_config", "deletion_mode"]), "disabled", "{name}: Loki's delete API must be off");
        // TSDB schedules by tsdb_max_query_parallelism: the parallelism the search target needs.
        assert_eq!(loki["limits_config"]["tsdb_max_query_parallelism"], loki["limits_config"]["max_query_parallelism"], "{name}");
        assert!(loki["limits_config"]["tsdb_max_query_parallelism"].as_u64().is_some(), "{name}: no tsdb_max_query_parallelism");
        for removed in ["shared_store", "max_transfer_retries", "enforce_metric_name", "use_boltdb_shipper_as_backup"] {
            assert!(!raw.contains(removed), "{name}: loki-config.yml uses `{removed}`, removed in Loki 3");
        }
        let compose = text(&tree, "compose/docker-compose.yml");
        let expands = compose.contains("\"-config.expand-env=true\"");
        assert_eq!(raw.contains("${"), expands, "{name}: `${{` needs -config.expand-env, which only the bucket's keys need");
        assert_eq!(expands, stack.services.loki.storage.s3.is_some(), "{name}");
    }
}

#[test]
fn loki_on_s3_adds_a_bucket_period_after_the_disk_period_and_reads_both() {
    let mut seen = 0;
    for (name, stack, tree) in fixtures() {
        let loki = yaml(&tree, "compose/loki/loki-config.yml");
        let periods: Vec<(&str, &str)> =
            loki["schema_config"]["configs"].as_sequence().unwrap().iter().map(|p| (str_at(p, &["from"]), str_at(p, &["object_store"]))).collect();
        let storage = loki["common"]["storage"].as_mapping().unwrap();
        // Loki 3.7 takes one backend in common.storage (config_wrapper.go:699).
        assert_eq!(storage.len(), 1, "{name}: {storage:?}");
        let Some(s3) = &stack.services.loki.storage.s3 else {
            assert_eq!(periods, [("2024-04-01", "filesystem")], "{name}");
            assert!(storage.contains_key("filesystem"), "{name}");
            continue;
        };
        seen += 1;
        assert_eq!(periods, [("2024-04-01", "filesystem"), (s3.from.as_str(), "s3")], "{name}: the disk's period stays, the bucket's follows");
        assert_eq!(str_at(&loki, &["storage_config", "filesystem", "directory"]), "/loki/chunks", "{name}: the disk's period is still read");
        assert_eq!(str_at(&loki, &["ruler", "storage", "type"]), "local", "{name}: rules stay on the VM");
        let c = &loki["common"]["storage"]["s3"];
        assert_eq!(str_at(c, &["endpoint"]), s3.endpoint, "{name}");
        assert!(!s3.endpoint.contains("://"), "{name}: Loki adds the scheme");
        assert_eq!(str_at(c, &["bucketnames"]), s3.bucket, "{name}");
        assert_eq!(c["s3forcepathstyle"].as_bool(), Some(s3.path_style), "{name}");
        assert_eq!(c["insecure"].as_bool(), Some(s3.insecure), "{name}");
        assert_eq!(str_at(c, &["access_key_id"]), "${LOKI_S3_ACCESS_KEY_ID}", "{name}");
        assert_eq!(str_at(c, &["secret_access_key"]), "${LOKI_S3_SECRET_ACCESS_KEY}", "{name}");
        let cache = &loki["chunk_store_config"]["chunk_cache_config"]["embedded_cache"];
        assert_eq!(cache["max_size_mb"].as_u64(), Some(u64::from(stack.services.loki.storage.chunk_cache_mb)), "{name}");
        // The keys reach Loki from the env file Terraform writes, and the rules watch the bucket.
        let compose: Yaml = yaml(&tree, "compose/docker-compose.yml");
        let env_file = str_at(&compose["services"]["loki"]["env_file"][0], &["path"]);
        assert_eq!(env_file, format!("{}/loki.env", stack.monitoring.secrets_dir), "{name}");
        let main = text(&tree, "terraform/modules/monitoring-stack/main.tf");
        assert!(main.contains("\"loki.env\"                = \"LOKI_S3_ACCESS_KEY_ID='${var.loki_s3_access_key_id}'"), "{name}");
        let rules = text(&tree, "compose/prometheus/rules/logs.yml");
        assert!(rules.contains("alert: LokiObjectStoreWriteErrors") && rules.contains("loki_s3_request_duration_seconds_count"), "{name}");
    }
    assert!(seen >= 1, "no fixture stores Loki's logs in a bucket");
    // Without s3, no alert on a bucket and no loki.env.
    let (_, _, example) = fixtures().into_iter().find(|(n, _, _)| n == "example").unwrap();
    assert!(!text(&example, "compose/prometheus/rules/logs.yml").contains("loki_s3_"));
    assert!(!text(&example, "terraform/modules/monitoring-stack/main.tf").contains("loki.env"));
}

#[test]
fn the_promtail_container_pushes_to_loki_over_the_compose_network() {
    for (name, stack, tree) in fixtures() {
        let p = yaml(&tree, "compose/promtail/promtail-config.yml");
        let client = &p["clients"][0];
        assert_eq!(str_at(client, &["url"]), format!("http://loki:{}/loki/api/v1/push", stack.services.loki.container.port), "{name}");
        assert_eq!(str_at(client, &["external_labels", "host"]), stack.monitoring.vm.name, "{name}");
        assert_eq!(str_at(client, &["external_labels", "env"]), "monitoring", "{name}");
        assert_eq!(str_at(&p, &["positions", "filename"]), "/var/lib/promtail/positions.yaml");
        let jobs: Vec<&str> = p["scrape_configs"].as_sequence().unwrap().iter().map(|j| str_at(j, &["job_name"])).collect();
        assert_eq!(jobs, ["journal", "varlogs", "docker"], "{name}");
    }
}

#[test]
fn each_vm_with_an_agent_on_gets_exactly_its_agent_files() {
    let mut kinds = BTreeSet::new();
    let mut docker = BTreeSet::new();
    for (name, stack, tree) in fixtures() {
        let agent_files: BTreeSet<&str> = tree.files().map(|(p, _)| p).filter(|p| p.starts_with("agents/")).collect();
        let mut expected = BTreeSet::new();
        for vm in &stack.vms {
            kinds.insert(format!("{:?}", vm.agent));
            if vm.agent != Agent::None {
                docker.insert(vm.docker);
            }
            let dir = format!("agents/{}/", vm.name);
            let config = match vm.agent {
                Agent::None => {
                    assert!(agent_files.iter().all(|p| !p.starts_with(&dir)), "{name}: {} has its agent off but has agent files", vm.name);
                    continue;
                }
                Agent::Promtail => format!("{dir}promtail.yml"),
                Agent::Alloy => format!("{dir}config.alloy"),
            };
            expected.insert(config.clone());
            expected.insert(format!("{dir}install-agent.sh"));
            let body = text(&tree, &config);
            let url = push_url(&stack);
            let port = vm.agent.metrics_port().unwrap();
            if vm.agent == Agent::Promtail {
                let p: Yaml = serde_norway::from_str(body).unwrap();
                let client = &p["clients"][0];
                assert_eq!(str_at(client, &["url"]), url, "{name}: {config}");
                assert_eq!(str_at(client, &["external_labels", "host"]), vm.name, "{name}: {config}");
                assert_eq!(str_at(client, &["external_labels", "env"]), vm.environment, "{name}: {config}");
                assert_eq!(p["server"]["http_listen_port"].as_u64(), Some(u64::from(port)), "{name}: {config}");
                assert_eq!(str_at(&p, &["server", "http_listen_address"]), "0.0.0.0", "{name}: {config}");
                assert_eq!(str_at(&p, &["positions", "filename"]), "/var/lib/promtail/positions.yaml");
                let jobs: Vec<&str> = p["scrape_configs"].as_sequence().unwrap().iter().map(|j| str_at(j, &["job_name"])).collect();
                let expected_jobs: &[&str] = if vm.docker { &["journal", "varlogs", "docker"] } else { &["journal", "varlogs"] };
                assert_eq!(jobs, expected_jobs, "{name}: {config}: the docker job iff the VM runs Docker");
            } else {
                assert!(body.contains(&format!("url = \"{url}\"")), "{name}: {config} does not push to {url}");
                assert!(body.contains(&format!("host = \"{}\"", vm.name)), "{name}: {config} lacks host = {}", vm.name);
                assert!(body.contains(&format!("env  = \"{}\"", vm.environment)), "{name}: {config} lacks env");
                for component in ["loki.write", "loki.source.journal", "loki.source.file"] {
                    assert!(body.contains(&format!("{component} \"")), "{name}: {config} lacks {component}");
                }
                assert_eq!(body.contains("loki.source.docker \""), vm.docker, "{name}: {config}: Docker logs iff the VM runs Docker");
                let script = text(&tree, &format!("{dir}install-agent.sh"));
                assert!(script.contains(&format!("--server.http.listen-addr=0.0.0.0:{port}")), "{name}: Alloy must listen on :{port}");
            }
        }
        assert_eq!(agent_files, expected.iter().map(String::as_str).collect(), "{name}: agent files");
        assert!(
            agent_files.iter().all(|p| !p.starts_with(&format!("agents/{}/", stack.monitoring.vm.name))),
            "{name}: the monitoring VM ships logs from its Promtail container"
        );
    }
    assert_eq!(kinds, ["Alloy", "None", "Promtail"].map(String::from).into(), "the fixtures must cover every agent kind");
    assert_eq!(docker, [false, true].into(), "the fixtures must cover agents with and without Docker");
}

#[test]
fn prometheus_scrapes_each_agent_on_the_port_it_listens_on() {
    for (name, stack, tree) in fixtures() {
        let prom = yaml(&tree, "compose/prometheus/prometheus.yml");
        let job = prom["scrape_configs"].as_sequence().unwrap().iter().find(|j| str_at(j, &["job_name"]) == "log-agents").expect("log-agents job");
        let targets: BTreeSet<String> = job["static_configs"]
            .as_sequence()
            .unwrap()
            .iter()
            .flat_map(|c| c["targets"].as_sequence().unwrap().iter().map(|t| t.as_str().unwrap().to_string()))
            .collect();
        for vm in &stack.vms {
            let Some(port) = vm.agent.metrics_port() else { continue };
            assert!(targets.contains(&format!("{}:{port}", vm.ip)), "{name}: {} is not scraped on :{port}", vm.name);
        }
        assert!(targets.contains(&format!("promtail:{}", stack.services.promtail.port)), "{name}");
    }
}

#[test]
fn every_vm_gets_a_cloud_config() {
    for (name, stack, tree) in fixtures() {
        let all: Vec<_> = std::iter::once(&stack.monitoring.vm).chain(&stack.vms).collect();
        let files: BTreeSet<&str> = tree.files().map(|(p, _)| p).filter(|p| p.starts_with("cloud-init/")).collect();
        assert_eq!(files, all.iter().map(|vm| format!("cloud-init/{}.yaml", vm.name)).collect::<BTreeSet<_>>().iter().map(String::as_str).collect(), "{name}");
        for vm in all {
            let path = format!("cloud-init/{}.yaml", vm.name);
            let raw = text(&tree, &path);
            assert!(raw.starts_with("#cloud-config\n"), "{name}: {path}");
            let ci: Yaml = serde_norway::from_str(raw).unwrap();
            assert_eq!(str_at(&ci, &["hostname"]), vm.name, "{name}: {path}");
            let packages: BTreeSet<&str> = ci["packages"].as_sequence().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
            let monitoring = vm.name == stack.monitoring.vm.name;
            assert!(packages.contains("qemu-guest-agent"), "{name}: {path}");
            assert_eq!(packages.contains("docker.io"), monitoring, "{name}: {path}: docker on the monitoring VM only");
            assert_eq!(packages.contains("prometheus-node-exporter"), !monitoring, "{name}: {path}: node exporter package on the other VMs");
            let keys: Vec<&str> = ci["ssh_authorized_keys"].as_sequence().map(|s| s.iter().map(|k| k.as_str().unwrap()).collect()).unwrap_or_default();
            assert_eq!(keys, vm.ssh_keys, "{name}: {path}");
            let runcmd = serde_json::to_string(&serde_json::to_value(&ci["runcmd"]).unwrap()).unwrap();
            let agent_on = !monitoring && vm.agent != Agent::None;
            assert_eq!(runcmd.contains("install-agent.sh"), agent_on, "{name}: {path}: runs the agent install iff the agent is on");
            // The embedded files are byte for byte the ones under agents/, which Terraform hashes.
            let written: Vec<(String, String)> = ci["write_files"]
                .as_sequence()
                .map(|s| s.iter().map(|f| (str_at(f, &["path"]).to_string(), str_at(f, &["content"]).to_string())).collect())
                .unwrap_or_default();
            assert_eq!(written.len(), if agent_on { 2 } else { 0 }, "{name}: {path}");
            for (dest, content) in written {
                let file = dest.rsplit('/').next().unwrap();
                assert_eq!(content, text(&tree, &format!("agents/{}/{file}", vm.name)), "{name}: {path}: {dest}");
            }
        }
    }
}

#[test]
fn cloud_init_schema_accepts_every_cloud_config() {
    let Some(tool) = validator("cloud-init-schema") else { return };
    for (name, _, tree) in fixtures() {
        let dir = materialize(&tree, &format!("logs-cloud-init-{name}"));
        let files: Vec<_> = tree.files().map(|(p, _)| p).filter(|p| p.starts_with("cloud-init/")).collect();
        assert!(!files.is_empty());
        for file in files {
            run_ok(Command::new(&tool).arg("-c").arg(dir.join(file)).arg("--annotate"), &format!("{name}: cloud-init schema {file}"));
        }
    }
}

#[test]
fn install_scripts_pass_bash_n_and_shellcheck() {
    let shellcheck = validator("shellcheck");
    for (name, _, tree) in fixtures() {
        let dir = materialize(&tree, &format!("logs-scripts-{name}"));
        let scripts: Vec<_> = tree.files().map(|(p, _)| p).filter(|p| p.ends_with("/install-agent.sh")).collect();
        assert!(!scripts.is_empty(), "{name}: no install script");
        for script in scripts {
            let body = text(&tree, script);
            assert!(body.starts_with("#!/usr/bin/env bash\n") && body.contains("\nset -euo pipefail\n"), "{name}: {script}");
            assert!(body.contains("https://apt.grafana.com/gpg-full.key") && body.contains("/etc/apt/keyrings/grafana.asc"), "{name}: {script}");
            run_ok(Command::new("bash").arg("-n").arg(dir.join(script)), &format!("{name}: bash -n {script}"));
            if let Some(sc) = &shellcheck {
                run_ok(Command::new(sc).arg(dir.join(script)), &format!("{name}: shellcheck {script}"));
            }
        }
    }
}

#[test]
fn the_logs_dashboard_uses_only_provisioned_datasources() {
    for (name, _, tree) in fixtures() {
        let path = "compose/grafana/dashboards/logs-overview.json";
        let dash: serde_json::Value = serde_json::from_str(text(&tree, path)).unwrap();
        assert_eq!(dash["uid"], "logs-overview", "{name}");
        assert_eq!(dash["schemaVersion"], 41, "{name}");
        assert!(dash.get("id").is_none(), "{name}: a provisioned dashboard has no id");
        let vars: Vec<&str> = dash["templating"]["list"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
        assert!(vars.contains(&"host") && vars.contains(&"job"), "{name}: {vars:?}");
        let exprs: Vec<&str> =
            dash["panels"].as_array().unwrap().iter().flat_map(|p| p["targets"].as_array().unwrap()).map(|t| t["expr"].as_str().unwrap()).collect();
        assert!(exprs.iter().any(|e| e.contains(r#"sum by (host, level) (count_over_time({host=~"$host", job=~"$job"} [$__auto]))"#)), "{name}: {exprs:?}");
        assert!(dash["panels"].as_array().unwrap().iter().any(|p| p["type"] == "logs"), "{name}");

        let provisioned = yaml(&tree, "compose/grafana/provisioning/datasources/datasources.yml");
        let uids: BTreeSet<&str> = provisioned["datasources"].as_sequence().unwrap().iter().map(|d| str_at(d, &["uid"])).collect();
        let mut used = BTreeSet::new();
        collect_datasource_uids(&dash, &mut used);
        assert!(used.contains("loki"), "{name}");
        for uid in used {
            assert!(uids.contains(uid.as_str()), "{name}: {path} references datasource uid `{uid}`, not provisioned ({uids:?})");
        }
    }
}

fn collect_datasource_uids(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, child) in map {
                if k == "datasource" {
                    let uid = child["uid"].as_str().unwrap_or_else(|| panic!("datasource without a uid: {child}"));
                    out.insert(uid.to_string());
                }
                collect_datasource_uids(child, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_datasource_uids(i, out)),
        _ => {}
    }
}

/// `promtool test rules` on logs.yml: a silent agent alerts, one that sends does not; an agent
/// that drops nothing does not alert.
#[test]
fn the_log_alerts_fire_for_a_silent_agent_only() {
    let Some(promtool) = validator("promtool") else { return };
    let (_, _, tree) = fixtures().remove(0);
    let dir = materialize(&tree, "logs-promtool-test");
    let rules = dir.join("compose/prometheus/rules/logs.yml");
    let test = format!(
        r#"rule_files: [{rules:?}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{{job="log-agents", instance="10.0.0.1:9080", host="a", env="prod", agent="promtail"}}'
        values: '1x120'
      - series: 'promtail_sent_entries_total{{job="log-agents", instance="10.0.0.1:9080", host="a", env="prod", agent="promtail", exported_host="loki:3100"}}'
        values: '0+10x120'
      - series: 'promtail_dropped_entries_total{{job="log-agents", instance="10.0.0.1:9080", host="a", env="prod", agent="promtail", reason="rate_limited"}}'
        values: '3x120'
      - series: 'up{{job="log-agents", instance="10.0.0.2:12345", host="b", env="prod", agent="alloy"}}'
        values: '1x120'
      - series: 'loki_write_sent_entries_total{{job="log-agents", instance="10.0.0.2:12345", host="b", env="prod", agent="alloy"}}'
        values: '5x120'
    alert_rule_test:
      - eval_time: 100m
        alertname: LogAgentNotSending
        exp_alerts:
          - exp_labels: {{severity: warning, job: log-agents, instance: "10.0.0.2:12345", host: b, env: prod, agent: alloy}}
            exp_annotations:
              summary: "b: the log agent has sent no log line to Loki for an hour"
              description: "alloy on 10.0.0.2:12345 is up but sent no entries; check its journal and that Loki's port is reachable."
      - eval_time: 100m
        alertname: LogAgentDroppingLogs
        exp_alerts: []
"#
    );
    let path = dir.join("logs-test.yml");
    std::fs::write(&path, test).unwrap();
    run_ok(Command::new(&promtool).args(["test", "rules"]).arg(&path), "promtool test rules logs.yml");
}

#[test]
fn the_object_store_alerts_fire_on_failed_bucket_requests_only() {
    let Some(promtool) = validator("promtool") else { return };
    let (name, _, tree) = fixtures().into_iter().find(|(_, s, _)| s.services.loki.storage.s3.is_some()).expect("a fixture on s3");
    let dir = materialize(&tree, "logs-s3-promtool-test");
    let rules = dir.join("compose/prometheus/rules/logs.yml");
    // PutObject fails at 1/s; List succeeds; 1 in 4 GetObject fails (above 10%), then the
    // other case: no failure at all.
    let test = format!(
        r#"rule_files: [{rules:?}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'loki_s3_request_duration_seconds_count{{job="loki", operation="S3.PutObject", status_code="500"}}'
        values: '0+60x60'
      - series: 'loki_s3_request_duration_seconds_count{{job="loki", operation="S3.List", status_code="200"}}'
        values: '0+60x60'
      - series: 'loki_s3_request_duration_seconds_count{{job="loki", operation="S3.GetObject", status_code="200"}}'
        values: '0+180x60'
      - series: 'loki_s3_request_duration_seconds_count{{job="loki", operation="S3.GetObject", status_code="500"}}'
        values: '0+60x60'
    alert_rule_test:
      - eval_time: 40m
        alertname: LokiObjectStoreWriteErrors
        exp_alerts:
          - exp_labels: {{severity: critical, operation: S3.PutObject}}
            exp_annotations:
              summary: "Loki cannot write to its bucket (S3.PutObject failing)"
              description: "1 failed S3.PutObject requests per second for 15 minutes; check the S3 endpoint, the bucket and the keys in loki.env."
      - eval_time: 40m
        alertname: LokiObjectStoreReadErrors
        exp_alerts:
          - exp_labels: {{severity: warning}}
            exp_annotations:
              summary: "Loki fails to read 25% of its bucket's objects"
              description: "S3.GetObject fails for more than 10% of requests for 15 minutes: queries over the days stored in the bucket miss logs."
  - interval: 1m
    input_series:
      - series: 'loki_s3_request_duration_seconds_count{{job="loki", operation="S3.PutObject", status_code="200"}}'
        values: '0+60x60'
      - series: 'loki_s3_request_duration_seconds_count{{job="loki", operation="S3.GetObject", status_code="200"}}'
        values: '0+60x60'
    alert_rule_test:
      - eval_time: 40m
        alertname: LokiObjectStoreWriteErrors
        exp_alerts: []
      - eval_time: 40m
        alertname: LokiObjectStoreReadErrors
        exp_alerts: []
"#
    );
    let path = dir.join("logs-s3-test.yml");
    std::fs::write(&path, test).unwrap();
    run_ok(Command::new(&promtool).args(["test", "rules"]).arg(&path), &format!("{name}: promtool test rules logs.yml (object store)"));
}
