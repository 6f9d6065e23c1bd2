//! The generated Terraform of every fixture stack: `terraform fmt`-clean as generated, accepted by
//! the provider-schema checker, one module call per VM in the right root, the derived firewall
//! rules, and state kept outside generated/.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use common::{load, materialize, render, run_ok, text, validator};
use xtask::stack::Stack;
use xtask::targets::terraform::{self, firewall};

fn stacks() -> Vec<(String, Stack)> {
    common::fixture_stacks().into_iter().map(|(name, path)| (name, load(&path))).collect()
}

/// The example stack with its `[terraform]` section replaced, for the other backends.
fn example_with_backend(section: &str) -> Stack {
    let src = std::fs::read_to_string(common::repo_root().join("stack.toml")).unwrap();
    let start = src.find("[terraform]").unwrap();
    let end = start + src[start..].find("\n\n").unwrap();
    let src = format!("{}{section}{}", &src[..start], &src[end..]);
    xtask::stack::from_str("stack.toml", &src).unwrap()
}

fn backend_variants() -> Vec<(String, Stack)> {
    vec![
        (
            "s3".to_string(),
            example_with_backend(
                "[terraform]\nbackend = \"s3\"\ns3_bucket = \"tfstate\"\ns3_region = \"eu-west-1\"\ns3_endpoint = \"https://minio.example:9000\"",
            ),
        ),
        ("pg".to_string(), example_with_backend("[terraform]\nbackend = \"pg\"\npg_conn_str = { env = \"LAB_PG\" }")),
    ]
}

fn file(tree: &xtask::tree::Tree, path: &str) -> String {
    text(tree.get(path).unwrap_or_else(|| panic!("{path} is not generated")))
}

#[test]
fn terraform_fmt_accepts_every_generated_file_as_is() {
    let Some(tf) = validator("terraform") else { return };
    for (name, stack) in stacks().into_iter().chain(backend_variants()) {
        let dir = materialize(&render(&stack), &format!("tf-fmt-{name}"));
        run_ok(Command::new(&tf).args(["fmt", "-check", "-recursive", "-diff"]).arg(dir.join("terraform")), &format!("{name}: terraform fmt -check"));
    }
}

/// `../shared/tools/check-tf-schema` beside the repository, or a skip (a failure when
/// REQUIRE_VALIDATORS=1), like `common::validator`.
fn schema_checker() -> Option<PathBuf> {
    let path = common::repo_root().join("../shared/tools/check-tf-schema");
    if path.is_file() {
        return Some(path);
    }
    // On GitHub there is no ../shared: the workflow runs the real `terraform validate` instead.
    let on_github = std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true");
    if std::env::var("REQUIRE_VALIDATORS").as_deref() == Ok("1") && !on_github {
        panic!("{} is required (REQUIRE_VALIDATORS=1) but missing", path.display());
    }
    common::skipped(&format!("{} is missing; the provider schema check did not run", path.display()));
    None
}

/// The shared provider-schema reference with the HA resources added from
/// `tests/schemas/bpg-proxmox-ha-schema.json` (read from the provider source at the pinned tag;
/// the shared reference does not list them), written to `dir`.
fn schema_with_ha(dir: &Path) -> PathBuf {
    let read = |p: PathBuf| -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap() };
    let mut schema = read(common::repo_root().join("../shared/reference/bpg-proxmox-schema.json"));
    let ha = read(common::repo_root().join("tests/schemas/bpg-proxmox-ha-schema.json"));
    assert_eq!(ha["provider_version"], schema["provider_version"], "the HA excerpt is of another provider version than the reference");
    assert_eq!(ha["provider_version"].as_str(), Some(load(&common::repo_root().join("stack.toml")).terraform.provider_version.as_str()));
    let resources = schema["resources"].as_object_mut().unwrap();
    for (rtype, node) in ha["resources"].as_object().unwrap() {
        assert!(resources.insert(rtype.clone(), node.clone()).is_none(), "{rtype} is in the shared reference now: drop it from the excerpt");
    }
    let path = dir.join("bpg-proxmox-schema-with-ha.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&schema).unwrap()).unwrap();
    path
}

fn check_schema(checker: &Path, schema: &Path, dir: &Path) -> (bool, String) {
    let out = Command::new(checker).arg("--schema").arg(schema).arg(dir).output().unwrap();
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    (out.status.success() && report.contains(": 0 problems"), report)
}

#[test]
fn every_proxmox_block_matches_the_provider_schema() {
    let Some(checker) = schema_checker() else { return };
    let scratch = common::temp_dir("tf-schema-ref");
    let schema = schema_with_ha(&scratch);
    for (name, stack) in stacks().into_iter().chain(backend_variants()) {
        let dir = materialize(&render(&stack), &format!("tf-schema-{name}"));
        let (ok, report) = check_schema(&checker, &schema, &dir.join("terraform"));
        assert!(ok, "{name}: check-tf-schema:\n{report}");
    }
}

/// The HA blocks are checked argument by argument: a misspelt or PVE 8-only argument of the
/// scale-lab's HA rule, or a missing required one, is a problem the checker reports.
#[test]
fn the_ha_blocks_are_checked_against_the_provider_schema() {
    let Some(checker) = schema_checker() else { return };
    let scratch = common::temp_dir("tf-schema-ha");
    let schema = schema_with_ha(&scratch);
    let stack = stacks().into_iter().find(|(n, _)| n == "scale-lab").unwrap().1;
    let tree = render(&stack);
    let main = file(&tree, "terraform/environments/prod/main.tf");
    assert!(main.contains("resource \"proxmox_haresource\" \"vm\"") && main.contains("resource \"proxmox_harule\" \"vm\""));
    let cases = [
        ("  strict    = true\n", "  restricted = true\n", "unknown argument or block 'restricted'"),
        ("  type      = \"node-affinity\"\n", "", "required argument 'type' is missing"),
        ("  resource_id = \"vm:${each.value}\"\n", "  sid = \"vm:${each.value}\"\n", "unknown argument or block 'sid'"),
    ];
    for (from, to, want) in cases {
        assert!(main.contains(from), "{from:?} is not in the rendered HA blocks");
        let dir = common::temp_dir("tf-schema-ha-case");
        std::fs::write(dir.join("main.tf"), main.replacen(from, to, 1)).unwrap();
        let (ok, report) = check_schema(&checker, &schema, &dir);
        assert!(!ok && report.contains(want), "{from:?} → {to:?} passed the schema check:\n{report}");
    }
}

/// The module blocks of a root's main.tf, by name, with their attributes.
fn modules(main_tf: &str) -> BTreeMap<String, hcl::Body> {
    let body: hcl::Body = hcl::from_str(main_tf).unwrap();
    body.blocks().filter(|b| b.identifier() == "module").map(|b| (b.labels()[0].as_str().to_string(), b.body().clone())).collect()
}

fn attr(body: &hcl::Body, key: &str) -> hcl::Expression {
    body.attributes().find(|a| a.key() == key).unwrap_or_else(|| panic!("no `{key}`")).expr().clone()
}

fn string(expr: hcl::Expression) -> String {
    match expr {
        hcl::Expression::String(s) => s,
        other => panic!("not a string: {other:?}"),
    }
}

#[test]
fn each_root_calls_one_module_per_vm_of_its_environment() {
    for (name, stack) in stacks() {
        let tree = render(&stack);
        let envs = terraform::environments(&stack);
        assert_eq!(envs[0], "monitoring");
        // The VM environments and the retired ones (kept empty until their apply), by name.
        let mut vm_roots: Vec<String> = stack.environments.iter().chain(&stack.terraform.retired_environments).cloned().collect();
        vm_roots.sort();
        assert_eq!(&envs[1..], vm_roots.as_slice(), "{name}");
        let roots: Vec<String> =
            tree.files().filter_map(|(p, _)| p.strip_prefix("terraform/environments/")?.split_once('/').map(|(e, _)| e.to_string())).collect();
        let mut roots_dedup = roots.clone();
        roots_dedup.dedup();
        let mut sorted_envs = envs.clone();
        sorted_envs.sort();
        assert_eq!(roots_dedup, sorted_envs, "{name}: one root per environment, no other");

        let mon = modules(&file(&tree, "terraform/environments/monitoring/main.tf"));
        assert_eq!(mon.keys().collect::<Vec<_>>(), ["monitoring"], "{name}");
        assert_eq!(string(attr(&mon["monitoring"], "source")), "../../modules/monitoring-stack");

        for env in &stack.environments {
            let calls = modules(&file(&tree, &format!("terraform/environments/{env}/main.tf")));
            let expected: Vec<&str> = stack.vms.iter().filter(|vm| &vm.environment == env).map(|vm| vm.name.as_str()).collect();
            assert_eq!(calls.len(), expected.len(), "{name}/{env}: module calls");
            let mut names: Vec<String> = calls.values().map(|b| string(attr(b, "name"))).collect();
            names.sort();
            assert_eq!(names, expected, "{name}/{env}: only the VMs of this environment");
            for body in calls.values() {
                assert_eq!(string(attr(body, "source")), "../../modules/vm");
                let vm = stack.vms.iter().find(|vm| vm.name == string(attr(body, "name"))).unwrap();
                assert_eq!(string(attr(body, "node_name")), vm.node, "{name}: a VM keeps its own node");
            }
        }
    }
}

#[test]
fn other_lab_spreads_vms_over_nodes_and_environments() {
    let stack = load(&common::repo_root().join("tests/stacks/other-lab/stack.toml"));
    let tree = render(&stack);
    let prod = file(&tree, "terraform/environments/prod/main.tf");
    assert!(prod.contains(r#"toset(["hv1", "hv2"])"#), "one image per node of the root:\n{prod}");
    assert!(prod.contains(r#"proxmox_download_file.cloud_image["hv2"].id"#));
    assert!(!prod.contains("stage-1"), "a staging VM in the prod root");
    let staging = file(&tree, "terraform/environments/staging/main.tf");
    assert_eq!(modules(&staging).len(), 1);
    assert!(!staging.contains("web-1"));
}

fn rule<'a>(rules: &'a [firewall::Rule], comment_part: &str) -> &'a firewall::Rule {
    rules.iter().find(|r| r.comment.contains(comment_part)).unwrap_or_else(|| panic!("no rule `{comment_part}` in {rules:#?}"))
}

#[test]
fn firewall_rules_open_only_what_the_stack_needs() {
    for (name, stack) in stacks() {
        let mon_ip = stack.monitoring.vm.ip.to_string();
        let admin = stack.network.admin_cidr.to_string();
        let mon = firewall::firewall_rules(&stack, &stack.monitoring.vm);
        let web = rule(&mon, "Traefik");
        assert_eq!((web.source.as_str(), web.dport.as_deref()), (stack.network.cidr.to_string().as_str(), Some("80,443")), "{name}");
        let loki: Vec<&firewall::Rule> = mon.iter().filter(|r| r.comment.starts_with("Loki push")).collect();
        let shippers: Vec<String> = stack.vms.iter().filter(|vm| vm.agent != xtask::stack::model::Agent::None).map(|vm| vm.ip.to_string()).collect();
        assert_eq!(loki.iter().map(|r| r.source.clone()).collect::<Vec<_>>(), shippers, "{name}: Loki only from VMs whose agent is on");
        assert!(loki.iter().all(|r| r.dport.as_deref() == Some("3100")));
        assert_eq!(rule(&mon, "SSH").source, admin);
        assert!(mon.iter().all(|r| r.kind == "in" && r.action == "ACCEPT"));

        for vm in &stack.vms {
            let rules = firewall::firewall_rules(&stack, vm);
            assert_eq!(rule(&rules, "node exporter").source, mon_ip, "{name}/{}", vm.name);
            assert_eq!(rule(&rules, "ping").proto, "icmp");
            assert_eq!(rule(&rules, "SSH").source, admin);
            let agent_port = rules.iter().find(|r| r.comment.contains("metrics scrape")).and_then(|r| r.dport.clone());
            assert_eq!(agent_port, vm.agent_metrics_port.map(|p| p.to_string()), "{name}/{}: agent metrics port", vm.name);
            // Everything but SSH comes from the monitoring VM only.
            assert!(rules.iter().filter(|r| !r.comment.contains("SSH")).all(|r| r.source == mon_ip), "{name}/{}", vm.name);
        }
    }
    let other = load(&common::repo_root().join("tests/stacks/other-lab/stack.toml"));
    let web1 = other.vms.iter().find(|vm| vm.name == "web-1").unwrap();
    let rules = firewall::firewall_rules(&other, web1);
    assert_eq!(rule(&rules, "wiki").dport.as_deref(), Some("8080"), "a route to an app on a VM opens its port to Traefik");
    assert_eq!(rule(&rules, "Alloy").dport.as_deref(), Some("12345"));
}

#[test]
fn generated_firewall_rules_are_the_derived_ones() {
    for (name, stack) in stacks() {
        let tree = render(&stack);
        for env in &stack.environments {
            let calls = modules(&file(&tree, &format!("terraform/environments/{env}/main.tf")));
            for body in calls.values() {
                let vm = stack.vms.iter().find(|vm| vm.name == string(attr(body, "name"))).unwrap();
                let hcl::Expression::Array(rules) = attr(body, "firewall_rules") else { panic!("firewall_rules is not a list") };
                let derived = firewall::firewall_rules(&stack, vm);
                assert_eq!(rules.len(), derived.len(), "{name}/{}", vm.name);
                for (expr, want) in rules.iter().zip(&derived) {
                    let hcl::Expression::Object(obj) = expr else { panic!("a rule is not an object") };
                    let get = |k: &str| obj.iter().find(|(key, _)| key.to_string() == k).map(|(_, v)| v.clone()).unwrap();
                    assert_eq!(string(get("source")), want.source);
                    assert_eq!(string(get("comment")), want.comment);
                }
            }
        }
    }
}

/// Lexically resolves `rel` against `base` (no symlinks), like Terraform resolves a local path.
fn resolve(base: &Path, rel: &str) -> PathBuf {
    let mut out = base.to_path_buf();
    for c in Path::new(rel).components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(s) => out.push(s),
            _ => {}
        }
    }
    out
}

#[test]
fn local_state_lives_outside_generated() {
    for (name, stack) in stacks() {
        let tree = render(&stack);
        let repo = Path::new("/repo");
        for env in terraform::environments(&stack) {
            let versions = file(&tree, &format!("terraform/environments/{env}/versions.tf"));
            let body: hcl::Body = hcl::from_str(&versions).unwrap();
            let tf = body.blocks().find(|b| b.identifier() == "terraform").unwrap();
            let backend = tf.body().blocks().find(|b| b.identifier() == "backend").unwrap();
            assert_eq!(backend.labels()[0].as_str(), "local");
            let path = string(attr(backend.body(), "path"));
            let root_dir = repo.join(format!("generated/terraform/environments/{env}"));
            let resolved = resolve(&root_dir, &path);
            assert_eq!(resolved, repo.join(&stack.terraform.state_dir).join(format!("{env}.tfstate")), "{name}/{env}");
            assert!(!resolved.starts_with(repo.join("generated")));
        }
    }
}

#[test]
fn no_secret_and_no_token_in_the_terraform_files() {
    for (name, stack) in stacks().into_iter().chain(backend_variants()) {
        let tree = render(&stack);
        for (path, bytes) in tree.files().filter(|(p, _)| p.starts_with("terraform/")) {
            let t = text(bytes);
            assert!(!t.contains("api_token"), "{name}: {path} mentions api_token");
            assert!(!t.contains("conn_str ="), "{name}: {path} holds a connection string");
            assert!(!t.contains("dns.server ") && !t.contains("server ="), "{name}: {path} uses the removed dns.server");
        }
        let tfvars = file(&tree, "terraform/environments/monitoring/terraform.tfvars");
        for (_, secret) in terraform::monitoring_secrets(&stack) {
            assert!(!tfvars.contains(&format!("{} =", secret.tf_var)), "{name}: a secret variable is given a value in terraform.tfvars");
            let vars = file(&tree, "terraform/environments/monitoring/variables.tf");
            let body: hcl::Body = hcl::from_str(&vars).unwrap();
            let block = body.blocks().find(|b| b.identifier() == "variable" && b.labels()[0].as_str() == secret.tf_var).unwrap();
            assert_eq!(attr(block.body(), "sensitive"), hcl::Expression::Bool(true), "{name}: {} is not sensitive", secret.tf_var);
        }
    }
}

#[test]
fn other_backends_render_their_own_block() {
    let variants = backend_variants();
    let s3 = file(&render(&variants[0].1), "terraform/environments/prod/versions.tf");
    assert!(s3.contains(r#"backend "s3""#) && s3.contains(r#"key          = "proxmox-lab/prod.tfstate""#) && s3.contains("use_path_style"), "{s3}");
    // Locked by a lock file next to the state (generally available from Terraform 1.11).
    assert!(s3.contains("use_lockfile = true") && s3.contains(r#"required_version = ">= 1.11""#), "{s3}");
    let local = file(&render(&load(&common::repo_root().join("stack.toml"))), "terraform/environments/prod/versions.tf");
    assert!(local.contains(r#"required_version = ">= 1.6""#) && !local.contains("use_lockfile"), "{local}");
    let pg = file(&render(&variants[1].1), "terraform/environments/monitoring/versions.tf");
    assert!(pg.contains(r#"backend "pg""#) && pg.contains(r#"schema_name = "terraform_monitoring""#), "{pg}");
}

#[test]
fn a_secret_named_like_a_root_variable_is_an_error() {
    let src = std::fs::read_to_string(common::repo_root().join("stack.toml")).unwrap().replace("{ env = \"TELEGRAM_BOT_TOKEN\" }", "{ env = \"LOKI_URL\" }");
    let stack = xtask::stack::from_str("stack.toml", &src).unwrap();
    let err = xtask::targets::generate(&stack, &common::repo_root().join("infrastructure/templates")).unwrap_err();
    assert!(format!("{err:#}").contains("the secret from LOKI_URL would be the Terraform variable `loki_url`"), "{err:#}");
}

#[test]
fn terraform_plans_every_root_once_the_provider_is_stubbed() {
    let Some(tf) = validator("terraform") else { return };
    for (name, stack) in stacks() {
        plan_without_provider(&tf, &name, &stack);
    }
}

fn plan_without_provider(tf: &Path, name: &str, stack: &Stack) {
    // Values of the shape each variable's validation asks for (the bot token's is checked).
    let value = |name: &str| if name == "telegram_bot_token" { format!("123456789:{}", "A".repeat(35)) } else { format!("{name}-very-secret") };
    let secrets: Vec<(String, String)> = terraform::monitoring_secrets(stack).iter().map(|(name, s)| (format!("TF_VAR_{}", s.tf_var), value(name))).collect();
    let repo = common::temp_dir(&format!("tf-plan-{name}"));
    for (path, bytes) in render(stack).files() {
        let dest = repo.join("generated").join(path);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(dest, bytes).unwrap();
    }
    // Files of other families and of `cargo xtask certs init`; their content does not matter here.
    for vm in std::iter::once(&stack.monitoring.vm).chain(&stack.vms) {
        let agents = repo.join("generated/agents").join(&vm.name);
        std::fs::create_dir_all(&agents).unwrap();
        std::fs::write(agents.join("install-agent.sh"), "#!/bin/sh\n").unwrap();
    }
    std::fs::create_dir_all(repo.join(".secrets")).unwrap();
    std::fs::write(repo.join(&stack.tls.leaf_key), "tls-key-very-secret").unwrap();
    common::stub_provider(&repo.join("generated/terraform"), common::Provisioners::Keep);
    for env in terraform::environments(stack) {
        let root = repo.join("generated/terraform/environments").join(&env);
        let run = |args: &[&str]| {
            let out = Command::new(tf)
                .arg(format!("-chdir={}", root.display()))
                .args(args)
                .args(["-input=false", "-no-color"])
                .envs(secrets.clone())
                .output()
                .unwrap();
            let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
            assert!(out.status.success(), "{name}/{env}: terraform {args:?} failed:\n{all}");
            all
        };
        run(&["init"]);
        let plan = run(&["plan"]);
        for (_, value) in &secrets {
            assert!(!plan.contains(value.as_str()), "{name}/{env}: a secret is shown in the plan");
        }
        assert!(!plan.contains("tls-key-very-secret"));
        let vms = terraform::vms_of(stack, &env);
        let agents = vms.iter().filter(|vm| vm.agent != xtask::stack::model::Agent::None).count();
        if env == "monitoring" {
            let mut files = vec!["telegram_bot_token", "grafana_admin_password", "autokuma.env"];
            if stack.tls.enabled {
                files.push("tls/leaf.key");
            }
            if stack.services.traefik.dashboard {
                files.push("traefik_dashboard_users");
            }
            // Prometheus's remote-write credentials, one file each.
            files.extend(terraform::prometheus_secrets(stack).into_iter().map(|(f, _)| f));
            if stack.services.loki.storage.s3.is_some() {
                files.push("loki.env");
            }
            for file in &files {
                assert!(plan.contains(&format!("module.monitoring.terraform_data.secret[\"{file}\"] will be created")), "{name}: {file}:\n{plan}");
            }
            assert!(plan.contains("module.monitoring.terraform_data.compose will be created"));
            assert!(plan.contains("\"docker-compose.yml\""), "the compose files are hashed:\n{plan}");
            // The VM stub, the agent, the secrets and the delivery.
            assert!(plan.contains(&format!("Plan: {} to add, 0 to change, 0 to destroy.", 1 + agents + files.len() + 1)), "{name}:\n{plan}");
        } else if stack.terraform.retired_environments.contains(&env) {
            // A retired root manages nothing: with no state, its plan creates nothing either.
            assert!(vms.is_empty(), "{name}/{env}: a retired root has VMs");
            assert!(!plan.contains(" to add,") && plan.contains("ip_addresses = {}"), "{name}/{env}:\n{plan}");
        } else {
            // A VM without an agent, reachable over SSH, gets the agent removal instead.
            let removals = vms.iter().filter(|vm| vm.agent == xtask::stack::model::Agent::None && !vm.ssh_keys.is_empty()).count();
            for vm in vms.iter().filter(|vm| vm.agent == xtask::stack::model::Agent::None && !vm.ssh_keys.is_empty()) {
                let module = vm.name.replace('-', "_");
                assert!(plan.contains(&format!("module.{module}.terraform_data.log_agent_removal[0] will be created")), "{name}/{env}:\n{plan}");
            }
            assert!(plan.contains(&format!("Plan: {} to add, 0 to change, 0 to destroy.", vms.len() + agents + removals)), "{name}/{env}:\n{plan}");
        }
    }
    assert!(!repo.join("generated/.state").exists(), "state landed inside generated/");
}
