//! The modules' `terraform test` files (`generated/terraform/modules/*/tests/*.tftest.hcl`).
//!
//! `terraform test` itself cannot run here: `mock_provider "proxmox"` still asks the real
//! bpg/proxmox provider for its schema, so `terraform init` must download it, and the registry
//! is unreachable (CI runs them: `.github/workflows/ci.yml`, job `terraform-test`). What runs
//! here: the files parse as HCL and are `terraform fmt`-clean, every run plans against the mock,
//! and every name they use (resources, variables, outputs) is one the module declares, so a
//! module change that would break them fails here first.

use crate::common;

use std::collections::BTreeSet;
use std::process::Command;

use common::{fixture_stacks, load, render, run_ok, text, validator};
use xtask::tree::Tree;

const MODULES: &[(&str, &[&str])] =
    &[("vm", &["firewall.tftest.hcl", "promtail.tftest.hcl"]), ("monitoring-stack", &["traefik.tftest.hcl", "loki.tftest.hcl", "secrets.tftest.hcl"])];

fn file<'t>(tree: &'t Tree, path: &str) -> &'t str {
    std::str::from_utf8(tree.get(path).unwrap_or_else(|| panic!("{path} is not rendered"))).unwrap()
}

/// The labels of every top-level block `kind` in the module's `.tf` files (`resource` gives
/// `type.name`).
fn declared(tree: &Tree, module: &str, kind: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, bytes) in tree.files() {
        let Some(rest) = path.strip_prefix(&format!("terraform/modules/{module}/")) else { continue };
        if rest.contains('/') || !rest.ends_with(".tf") {
            continue;
        }
        let body = hcl::parse(std::str::from_utf8(bytes).unwrap()).unwrap();
        for block in body.blocks().filter(|b| b.identifier() == kind) {
            let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
            out.insert(labels.join("."));
        }
    }
    out
}

/// Every `prefix<ident>.<ident>` (or `prefix<ident>` when `pair` is false) in `text`.
fn references(text: &str, prefix: &str, pair: bool) -> BTreeSet<String> {
    let ident = |s: &str| s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(s.len());
    let mut out = BTreeSet::new();
    for (at, _) in text.match_indices(prefix) {
        if at > 0 && text[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        let rest = &text[at + prefix.len()..];
        let first = ident(rest);
        let mut name = format!("{prefix}{}", &rest[..first]);
        if pair {
            let Some(after) = rest[first..].strip_prefix('.') else { continue };
            name = format!("{name}.{}", &after[..ident(after)]);
        }
        out.insert(name);
    }
    out
}

/// What is wrong with the test files of `tree`, one line each.
fn problems(name: &str, tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for (module, files) in MODULES {
        let resources = declared(tree, module, "resource");
        let variables = declared(tree, module, "variable");
        let outputs = declared(tree, module, "output");
        if resources.is_empty() {
            out.push(format!("{name}: {module} declares no resource"));
        }
        for f in *files {
            let path = format!("terraform/modules/{module}/tests/{f}");
            let src = file(tree, &path);
            let body = match hcl::parse(src) {
                Ok(body) => body,
                Err(e) => {
                    out.push(format!("{name}: {path}: {e}"));
                    continue;
                }
            };
            let mocks: Vec<_> = body.blocks().filter(|b| b.identifier() == "mock_provider").collect();
            if !(mocks.len() == 1 && mocks[0].labels()[0].as_str() == "proxmox") {
                out.push(format!("{name}: {path}: not exactly one mock_provider \"proxmox\""));
            }
            let runs: Vec<_> = body.blocks().filter(|b| b.identifier() == "run").collect();
            if runs.is_empty() {
                out.push(format!("{name}: {path}: no run"));
            }
            for run in &runs {
                let label = run.labels()[0].as_str();
                let command = run.body().attributes().find(|a| a.key() == "command").map(|a| a.expr().to_string());
                if command.as_deref() != Some("plan") {
                    out.push(format!("{name}: {path}: run {label} does not only plan"));
                }
                let checks = run.body().blocks().filter(|b| b.identifier() == "assert").count()
                    + run.body().attributes().filter(|a| a.key() == "expect_failures").count();
                if checks == 0 {
                    out.push(format!("{name}: {path}: run {label} checks nothing"));
                }
            }
            // Every variable a `variables` block sets is one the module declares.
            let set: Vec<String> = std::iter::once(&body)
                .chain(runs.iter().map(|r| r.body()))
                .flat_map(|b| b.blocks().filter(|b| b.identifier() == "variables"))
                .flat_map(|v| v.body().attributes().map(|a| a.key().to_string()))
                .collect();
            for v in set.iter().filter(|v| !variables.contains(*v)) {
                out.push(format!("{name}: {path}: sets `{v}`, which the module does not declare"));
            }
            for r in references(src, "proxmox_", true).into_iter().chain(references(src, "terraform_data.", false)) {
                if !resources.contains(&r) {
                    out.push(format!("{name}: {path}: refers to `{r}`, which the module does not declare"));
                }
            }
            for v in references(src, "var.", false).into_iter().filter(|v| !variables.contains(&v["var.".len()..])) {
                out.push(format!("{name}: {path}: refers to `{v}`, which the module does not declare"));
            }
            for o in references(src, "output.", false).into_iter().filter(|o| !outputs.contains(&o["output.".len()..])) {
                out.push(format!("{name}: {path}: refers to `{o}`, which the module does not declare"));
            }
        }
    }
    out
}

#[test]
fn every_test_file_parses_plans_against_the_mock_and_names_only_what_the_module_declares() {
    for (name, path) in fixture_stacks() {
        let found = problems(&name, &render(&load(&path)));
        assert!(found.is_empty(), "{}", found.join("\n"));
    }
}

#[test]
fn a_module_change_that_breaks_a_test_file_is_caught_here() {
    let tree = render(&load(&common::repo_root().join("stack.toml")));
    let mut renamed = Tree::default();
    for (path, bytes) in tree.files() {
        let text = std::str::from_utf8(bytes).unwrap();
        let text = match path {
            "terraform/modules/vm/main.tf" => text.replace("resource \"terraform_data\" \"log_agent\"", "resource \"terraform_data\" \"agent\""),
            "terraform/modules/vm/variables.tf" => text.replace("variable \"agent_dir\"", "variable \"agent_path\""),
            _ => text.to_string(),
        };
        renamed.insert(path, text).unwrap();
    }
    let found = problems("example", &renamed);
    for want in [
        "example: terraform/modules/vm/tests/promtail.tftest.hcl: refers to `terraform_data.log_agent`, which the module does not declare",
        "example: terraform/modules/vm/tests/promtail.tftest.hcl: sets `agent_dir`, which the module does not declare",
        "example: terraform/modules/vm/tests/promtail.tftest.hcl: refers to `var.agent_dir`, which the module does not declare",
    ] {
        assert!(found.iter().any(|p| p == want), "{want}\nnot in:\n{}", found.join("\n"));
    }
}

#[test]
fn the_cases_come_from_the_stack() {
    for (name, path) in fixture_stacks() {
        let stack = load(&path);
        let tree = render(&stack);
        let firewall = file(&tree, "terraform/modules/vm/tests/firewall.tftest.hcl");
        // Every rule of the monitoring VM, by port and source, is asserted.
        for rule in xtask::targets::terraform::firewall::firewall_rules(&stack, &stack.monitoring.vm) {
            let key = format!("\"{} {} {} from {}\"", rule.action, rule.proto, rule.dport.as_deref().unwrap_or("-"), rule.source);
            assert!(firewall.contains(&key), "{name}: no assertion for {key}");
        }
        let agent = file(&tree, "terraform/modules/vm/tests/promtail.tftest.hcl");
        for kind in ["promtail", "alloy"] {
            let has = stack.vms.iter().any(|vm| format!("{:?}", vm.agent).to_lowercase() == kind);
            assert_eq!(agent.contains(&format!("run \"{kind}_on_")), has, "{name}: a {kind} run exactly when a VM runs {kind}");
        }
        let secrets = file(&tree, "terraform/modules/monitoring-stack/tests/secrets.tftest.hcl");
        assert_eq!(secrets.contains("\"tls/leaf.key\""), stack.tls.enabled, "{name}");
    }
}

#[test]
fn the_test_files_are_terraform_fmt_clean() {
    let Some(tf) = validator("terraform") else { return };
    for (name, path) in fixture_stacks() {
        let dir = common::materialize(&render(&load(&path)), &format!("tftest-fmt-{name}"));
        let modules = dir.join("terraform/modules");
        let listed = Command::new(&tf).arg("fmt").arg("-check").arg("-recursive").arg(&modules).output().unwrap();
        assert!(listed.status.success(), "{name}: not fmt-clean: {}{}", text(&listed.stdout), text(&listed.stderr));
        // fmt does look at .tftest.hcl files: a misaligned one is reported.
        let probe = modules.join("vm/tests/probe.tftest.hcl");
        std::fs::write(&probe, "run \"x\" {\n  command = plan\n  variables {\n    a = 1\n    bb = 2\n  }\n}\n").unwrap();
        let out = Command::new(&tf).arg("fmt").arg("-check").arg("-recursive").arg(&modules).output().unwrap();
        assert!(!out.status.success() && text(&out.stdout).contains("probe.tftest.hcl"), "{name}: fmt skipped the test files");
        std::fs::remove_file(&probe).unwrap();
        run_ok(Command::new(&tf).arg("fmt").arg("-check").arg("-recursive").arg(&modules), "terraform fmt -check");
    }
}
