//! The real tools on the generated files of every fixture stack: promtool, amtool,
//! docker-compose, the compose-spec schema and yamllint. A missing tool skips with a message,
//! unless REQUIRE_VALIDATORS=1 (set by .ci/run), where it fails.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{materialize, render_path, run_ok, validator};

/// Each fixture's tree, written to a temporary directory.
fn trees() -> Vec<(String, common::Scratch)> {
    common::fixture_stacks()
        .into_iter()
        .map(|(name, path)| {
            let dir = materialize(&render_path(&path), &format!("validators-{name}"));
            (name, dir)
        })
        .collect()
}

/// Files of `dir` whose relative path matches `pred`.
fn files(dir: &Path, pred: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .filter(|e| pred(&e.path().strip_prefix(dir).unwrap().to_string_lossy()))
        .map(|e| e.into_path())
        .collect()
}

#[test]
fn promtool_accepts_the_prometheus_config_and_rules() {
    let Some(promtool) = validator("promtool") else { return };
    for (name, dir) in trees() {
        run_ok(
            Command::new(&promtool).args(["check", "config", "--syntax-only"]).arg(dir.join("compose/prometheus/prometheus.yml")),
            &format!("{name}: promtool check config"),
        );
        let rules = files(&dir, |p| p.starts_with("compose/prometheus/rules/"));
        assert!(!rules.is_empty());
        run_ok(Command::new(&promtool).args(["check", "rules"]).args(&rules), &format!("{name}: promtool check rules"));
    }
}

/// Validation keeps local retention above the rules' look-back, read from the rule templates:
/// the rules Prometheus really loads (rendered, with the ranges Rust builds into expressions)
/// must give the same longest look-back, so the check never reads a stale copy.
#[test]
fn the_retention_check_reads_what_the_rendered_rules_look_back() {
    use xtask::stack::rule_ranges::{longest, longest_in_templates, look_backs};
    for (name, path) in common::fixture_stacks() {
        let stack = common::load(&path);
        let tree = common::render(&stack);
        let rendered = tree
            .files()
            .filter(|(p, _)| p.starts_with("compose/prometheus/rules/"))
            .flat_map(|(p, bytes)| look_backs(p.rsplit('/').next().unwrap(), &common::text(bytes), u64::MAX));
        let rendered: Vec<_> = rendered.collect();
        assert!(rendered.iter().all(|r| r.for_seconds != u64::MAX), "{name}: a rendered `for:` is not a duration: {rendered:?}");
        let from_rules = longest(rendered).unwrap();
        let p = &stack.services.prometheus;
        let checked = longest_in_templates(!p.remote_write.is_empty(), u64::from(stack.alerting.instance_down_for_seconds)).unwrap();
        assert_eq!(checked.seconds(), from_rules.seconds(), "{name}: validation checks {checked:?}, the rendered rules look back {from_rules:?}");
        assert!(u64::from(p.retention_hours) * 3_600 >= from_rules.seconds(), "{name}: retention below the rules' look-back");
    }
}

#[test]
fn amtool_accepts_the_alertmanager_config() {
    let Some(amtool) = validator("amtool") else { return };
    for (name, dir) in trees() {
        run_ok(Command::new(&amtool).arg("check-config").arg(dir.join("compose/alertmanager/alertmanager.yml")), &format!("{name}: amtool check-config"));
    }
}

#[test]
fn docker_compose_accepts_the_stack() {
    let Some(compose) = validator("docker-compose") else { return };
    for (name, dir) in trees() {
        run_ok(Command::new(&compose).arg("-f").arg(dir.join("compose/docker-compose.yml")).args(["config", "-q"]), &format!("{name}: docker-compose config"));
    }
}

#[test]
fn the_compose_file_matches_the_compose_spec_schema() {
    let Some(cj) = validator("check-jsonschema") else { return };
    for (name, dir) in trees() {
        run_ok(
            Command::new(&cj).args(["--builtin-schema", "vendor.compose-spec"]).arg(dir.join("compose/docker-compose.yml")),
            &format!("{name}: compose-spec schema"),
        );
    }
}

#[test]
fn yamllint_accepts_every_yaml_file() {
    let Some(yamllint) = validator("yamllint") else { return };
    let config = common::repo_root().join(".yamllint.yml");
    for (name, dir) in trees() {
        let yaml = files(&dir, |p| p.ends_with(".yml") || p.ends_with(".yaml"));
        assert!(!yaml.is_empty());
        run_ok(Command::new(&yamllint).arg("--strict").arg("-c").arg(&config).args(&yaml), &format!("{name}: yamllint"));
    }
}
