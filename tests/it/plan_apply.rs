//! `cargo xtask plan|apply <env>` against a stub `terraform` that records its arguments, working
//! directory and the variables it was given: the right root, init before plan, refusal on a stale
//! tree, secrets passed but never printed, clear errors, Terraform's exit code passed through;
//! the plan guard on a real `terraform show -json` of a saved plan (made by real Terraform from a
//! local-only config) and end to end through the stub.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{repo_copy, temp_dir, text};

const TOKEN: &str = "root@pam!ci=11111111-2222-3333-4444-555555555555";

/// A directory holding an executable `terraform` that appends what it saw to `log`.
fn stub(log: &Path) -> common::Scratch {
    let dir = temp_dir("stub-bin");
    let script = format!(
        "#!/bin/sh\nPATH=/usr/bin:/bin\n{{ printf 'argv:'; for a in \"$@\"; do printf ' %s' \"$a\"; done; printf '\\n'; printf 'pwd: %s\\n' \"$(pwd)\"; env | grep -E '^(PROXMOX_VE_API_TOKEN=|TF_VAR_|PG_CONN_STR=|SSL_CERT_FILE=)' | sort | sed 's/^/env: /'; }} >> '{}'\ncase \" $* \" in *' init '*) exit 0 ;; *' show '*) if [ -n \"$STUB_SHOW\" ]; then cat \"$STUB_SHOW\"; else echo '{{\"format_version\":\"1.2\"}}'; fi; exit 0 ;; esac\nfor a in \"$@\"; do case \"$a\" in -out=*) : > \"${{a#-out=}}\" ;; esac; done\nexit \"${{STUB_EXIT:-0}}\"\n",
        log.display()
    );
    let path = dir.join("terraform");
    fs::write(&path, script).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

/// Runs xtask on `root` with only `path` on PATH and exactly the variables in `env`.
fn xtask(root: &Path, path: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.env_clear().env("PATH", path).args(args).arg("--root").arg(root);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// Like [`xtask`], with `input` on standard input.
fn xtask_with_input(root: &Path, path: &Path, env: &[(&str, &str)], args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.env_clear().env("PATH", path).args(args).arg("--root").arg(root);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

struct Setup {
    root: common::Scratch,
    bin: common::Scratch,
    log: PathBuf,
}

fn setup(name: &str) -> Setup {
    let root = repo_copy(name);
    let log = root.join("terraform-calls.log");
    let bin = stub(&log);
    Setup { root, bin, log }
}

impl Setup {
    fn run(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        xtask(&self.root, &self.bin, env, args)
    }

    fn calls(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The argv lines, with the repository's path written ROOT.
    fn argv(&self) -> Vec<String> {
        let canonical = fs::canonicalize(&self.root).unwrap();
        self.calls()
            .lines()
            .filter(|l| l.starts_with("argv:"))
            .map(|l| l.replace(&canonical.display().to_string(), "ROOT").replace(&self.root.display().to_string(), "ROOT"))
            .collect()
    }
}

fn both(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

#[test]
fn plan_runs_init_then_plan_in_the_environments_root() {
    let s = setup("plan-prod");
    let out = s.run(&[("PROXMOX_VE_API_TOKEN", TOKEN)], &["plan", "prod"]);
    assert!(out.status.success(), "{}", both(&out));
    let calls = s.calls();
    assert_eq!(
        s.argv(),
        [
            "argv: -chdir=generated/terraform/environments/prod init -input=false",
            "argv: -chdir=generated/terraform/environments/prod plan -input=false -out=ROOT/.state/prod.tfplan",
            "argv: -chdir=generated/terraform/environments/prod show -json ROOT/.state/prod.tfplan",
        ]
    );
    assert!(s.root.join(".state/prod.tfplan").is_file(), "the plan is saved outside generated/");
    let pwd = fs::canonicalize(&s.root).unwrap();
    assert!(calls.lines().filter(|l| l.starts_with("pwd:")).all(|l| Path::new(&l[5..]) == pwd), "{calls}");
    assert!(calls.contains(&format!("env: PROXMOX_VE_API_TOKEN={TOKEN}")), "the token reaches Terraform:\n{calls}");
    assert!(!both(&out).contains(TOKEN), "the token was printed");
}

#[test]
fn apply_applies_exactly_the_saved_plan_once() {
    let s = setup("apply");
    let out = s.run(&[("PROXMOX_VE_API_TOKEN", TOKEN)], &["apply", "prod"]);
    assert!(!out.status.success(), "no saved plan, no apply");
    assert!(text(&out.stderr).contains("no saved plan for `prod`") && text(&out.stderr).contains("cargo xtask plan prod"), "{}", both(&out));
    assert!(!s.argv().iter().any(|l| l.contains(" apply ")));
    // Terraform does not ask before it applies a saved plan: xtask asks, and anything but `yes`
    // (or no input at all) applies nothing.
    let out = s.run(&[("PROXMOX_VE_API_TOKEN", TOKEN)], &["plan", "prod"]);
    assert!(out.status.success(), "{}", both(&out));
    for answer in ["", "no\n", "y\n"] {
        let out = xtask_with_input(&s.root, &s.bin, &[("PROXMOX_VE_API_TOKEN", TOKEN)], &["apply", "prod"], answer);
        assert!(!out.status.success(), "applied on {answer:?}: {}", both(&out));
        assert!(text(&out.stderr).contains("not approved, nothing applied"), "{}", both(&out));
        assert!(s.root.join(".state/prod.tfplan").is_file(), "a refused apply keeps the plan");
    }
    assert!(!s.argv().iter().any(|l| l.contains(" apply ")), "nothing was applied without approval");
    for extra in [&[][..], &["--auto-approve"][..]] {
        let out = s.run(&[("PROXMOX_VE_API_TOKEN", TOKEN)], &["plan", "prod"]);
        assert!(out.status.success(), "{}", both(&out));
        let args = [&["apply", "prod"][..], extra].concat();
        let out = xtask_with_input(&s.root, &s.bin, &[("PROXMOX_VE_API_TOKEN", TOKEN)], &args, if extra.is_empty() { "yes\n" } else { "" });
        assert!(out.status.success(), "{}", both(&out));
        assert!(!s.root.join(".state/prod.tfplan").exists(), "a saved plan is applied once");
    }
    let applies: Vec<String> = s.argv().into_iter().filter(|l| l.contains(" apply ")).collect();
    assert_eq!(
        applies,
        [
            "argv: -chdir=generated/terraform/environments/prod apply -input=false ROOT/.state/prod.tfplan",
            "argv: -chdir=generated/terraform/environments/prod apply -input=false -auto-approve ROOT/.state/prod.tfplan"
        ]
    );
    let out = s.run(&[("PROXMOX_VE_API_TOKEN", TOKEN)], &["plan", "prod", "--auto-approve"]);
    assert!(!out.status.success(), "--auto-approve is for apply only");
}

#[test]
fn terraforms_exit_code_is_passed_through() {
    let s = setup("exit-code");
    let out = s.run(&[("PROXMOX_VE_API_TOKEN", TOKEN), ("STUB_EXIT", "3")], &["plan", "prod"]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(text(&out.stderr).contains("terraform plan exited with code 3"), "{}", both(&out));
}

#[test]
fn a_stale_tree_is_refused_before_terraform_runs() {
    let s = setup("stale");
    let main = s.root.join("generated/terraform/environments/prod/main.tf");
    let edited = fs::read_to_string(&main).unwrap().replace("cores                 = 2", "cores                 = 8");
    fs::write(&main, edited).unwrap();
    let out = s.run(&[("PROXMOX_VE_API_TOKEN", TOKEN)], &["plan", "prod"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("generated/ is out of date"), "{}", both(&out));
    assert!(!s.log.exists(), "terraform ran on a stale tree:\n{}", s.calls());
}

#[test]
fn an_unknown_environment_is_refused_with_the_list() {
    let s = setup("unknown-env");
    let out = s.run(&[("PROXMOX_VE_API_TOKEN", TOKEN)], &["plan", "staging"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("unknown environment `staging`") && err.contains("one of: monitoring, prod"), "{err}");
    let out = s.run(&[("PROXMOX_VE_API_TOKEN", TOKEN)], &["plan"]);
    assert!(!out.status.success() && text(&out.stderr).contains("one of: monitoring, prod"));
    assert!(!s.log.exists());
}

#[test]
fn a_missing_token_or_terraform_is_a_clear_error() {
    let s = setup("missing");
    let out = s.run(&[], &["plan", "prod"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("PROXMOX_VE_API_TOKEN"), "{}", both(&out));
    assert!(!s.log.exists());

    let empty = temp_dir("empty-path");
    let out = xtask(&s.root, &empty, &[("PROXMOX_VE_API_TOKEN", TOKEN)], &["plan", "prod"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("`terraform` is not on PATH"), "{}", both(&out));
    assert!(!both(&out).contains(TOKEN));
}

#[test]
fn the_monitoring_root_gets_its_secrets_from_the_named_variables() {
    let s = setup("monitoring");
    let secrets = [("TELEGRAM_BOT_TOKEN", "tg-secret-1"), ("GRAFANA_ADMIN_PASSWORD", "gf-secret-2"), ("UPTIME_KUMA_PASSWORD", "uk-secret-3")];
    let mut env = vec![("PROXMOX_VE_API_TOKEN", TOKEN)];
    // Without the leaf key, nothing runs.
    let out = s.run(&[&env[..], &secrets[..]].concat(), &["plan", "monitoring"]);
    assert!(!out.status.success() && text(&out.stderr).contains("certs init"), "{}", both(&out));
    fs::create_dir_all(s.root.join(".secrets")).unwrap();
    fs::write(s.root.join(".secrets/leaf.key"), "not a real key").unwrap();
    // Without the secrets, nothing runs, and the error names every missing variable.
    let out = s.run(&env, &["plan", "monitoring"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    for (name, _) in secrets {
        assert!(err.contains(name), "{err}");
    }
    assert!(!s.log.exists());
    env.extend(secrets);
    let out = s.run(&env, &["plan", "monitoring"]);
    assert!(out.status.success(), "{}", both(&out));
    let calls = s.calls();
    for (name, value) in secrets {
        assert!(calls.contains(&format!("env: TF_VAR_{}={value}", name.to_ascii_lowercase())), "{calls}");
        assert!(!both(&out).contains(value), "a secret was printed");
    }
    assert!(calls.contains("-chdir=generated/terraform/environments/monitoring plan -input=false -out="));
}

/// A real saved plan, shown as JSON by real Terraform: a local-only config whose modules are
/// named like the generated roots' (`module.prod_app`, ...), each with one `terraform_data`.
/// Applied once, then planned with `prod_app` replaced, `old` removed and `prod_db` unchanged.
/// None when Terraform is not installed.
fn real_plan_json() -> Option<String> {
    let tf = common::validator("terraform")?;
    let dir = temp_dir("real-plan");
    fs::create_dir_all(dir.join("vm")).unwrap();
    fs::write(
        dir.join("vm/main.tf"),
        "variable \"generation\" {\n  type = number\n}\n\nresource \"terraform_data\" \"this\" {\n  triggers_replace = var.generation\n}\n",
    )
    .unwrap();
    fs::write(
        dir.join("main.tf"),
        "variable \"generation\" {\n  type = number\n}\n\nvariable \"keep_old\" {\n  type = bool\n}\n\nmodule \"prod_app\" {\n  source     = \"./vm\"\n  generation = var.generation\n}\n\nmodule \"prod_db\" {\n  source     = \"./vm\"\n  generation = 1\n}\n\nmodule \"old\" {\n  source     = \"./vm\"\n  count      = var.keep_old ? 1 : 0\n  generation = 1\n}\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(&tf).arg(format!("-chdir={}", dir.display())).args(args).env("TF_IN_AUTOMATION", "1").output().unwrap();
        assert!(out.status.success(), "terraform {args:?}: {}{}", text(&out.stdout), text(&out.stderr));
        text(&out.stdout)
    };
    run(&["init", "-input=false"]);
    run(&["apply", "-input=false", "-auto-approve", "-var=generation=1", "-var=keep_old=true"]);
    run(&["plan", "-input=false", "-out=saved.tfplan", "-var=generation=2", "-var=keep_old=false"]);
    Some(run(&["show", "-json", "saved.tfplan"]))
}

#[test]
fn the_guard_reads_a_real_plan_and_refuses_an_unacknowledged_replacement() {
    let Some(json) = real_plan_json() else { return };
    // The same plan as the guard sees it, with terraform_data standing for the VM resource.
    let changes = xtask::plan_guard::changes(&json, &["terraform_data"]).unwrap();
    assert_eq!(
        xtask::plan_guard::table(&changes),
        [
            "replace  module.prod_app.terraform_data.this  (VM prod-app; replace_because_cannot_update)",
            "delete   module.old[0].terraform_data.this  (VM old; delete_because_no_module)",
        ]
    );
    let err = xtask::plan_guard::verdict("plan", &changes, &[]).unwrap_err().to_string();
    assert!(err.contains("destroys `prod-app` (replace), `old` (delete)"), "{err}");
    xtask::plan_guard::verdict("plan", &changes, &["prod-app".to_string(), "old".to_string()]).unwrap();
}

#[test]
fn plan_and_apply_refuse_a_plan_that_replaces_an_unacknowledged_vm() {
    let Some(json) = real_plan_json() else { return };
    let s = setup("guard");
    // Real `show -json` output, with the resource type the guard watches written in for
    // terraform_data (in types and addresses): no provider can be downloaded here.
    let show = s.root.join("show.json");
    fs::write(&show, json.replace("terraform_data", "proxmox_virtual_environment_vm")).unwrap();
    let show = show.display().to_string();
    let env = [("PROXMOX_VE_API_TOKEN", TOKEN), ("STUB_SHOW", show.as_str())];
    let out = s.run(&env, &["plan", "prod"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let stdout = text(&out.stdout);
    let replace = stdout.find("replace  module.prod_app.proxmox_virtual_environment_vm.this").expect("the replacement is listed");
    let delete = stdout.find("delete   module.old[0].proxmox_virtual_environment_vm.this").expect("the deletion is listed");
    assert!(replace < delete, "{stdout}");
    let err = text(&out.stderr);
    assert!(err.contains("plan: refused: the plan destroys `prod-app` (replace), `old` (delete)"), "{err}");
    assert!(err.contains("acknowledge_recreate = [\"prod-app\", \"old\"]"), "{err}");
    // The saved plan cannot be applied either.
    let out = s.run(&env, &["apply", "prod"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(text(&out.stderr).contains("apply: refused"), "{}", both(&out));
    assert!(!s.argv().iter().any(|l| l.contains(" apply ")), "terraform apply ran");
    // Acknowledged in stack.toml (one of the two is not enough), it goes through.
    let stack = fs::read_to_string(s.root.join("stack.toml")).unwrap();
    let ack = |names: &str| stack.replacen("[terraform]\n", &format!("[terraform]\nacknowledge_recreate = [{names}]\n"), 1);
    fs::write(s.root.join("stack.toml"), ack("\"prod-app\"")).unwrap();
    let out = s.run(&env, &["plan", "prod"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(text(&out.stderr).contains("destroys `old` (delete)") && !text(&out.stderr).contains("`prod-app`"), "{}", both(&out));
    fs::write(s.root.join("stack.toml"), ack("\"prod-app\", \"old\"")).unwrap();
    let out = xtask_with_input(&s.root, &s.bin, &env, &["apply", "prod"], "yes\n");
    assert!(out.status.success(), "{}", both(&out));
    assert!(s.argv().iter().any(|l| l.ends_with("apply -input=false ROOT/.state/prod.tfplan")), "{:?}", s.argv());
}

#[test]
fn a_ca_file_reaches_terraform_as_ssl_cert_file() {
    let s = setup("ca-file");
    let stack = fs::read_to_string(s.root.join("stack.toml")).unwrap();
    let edited = stack.replacen("insecure = true ", "ca_file = \"infrastructure/proxmox-ca.pem\"\n#", 1);
    assert_ne!(edited, stack, "the example no longer says `insecure = true`");
    fs::write(s.root.join("stack.toml"), edited).unwrap();
    // The generated provider block now verifies the endpoint.
    let regen = common::xtask(&s.root, &["gen"]);
    assert!(regen.status.success(), "{}", both(&regen));
    let main = fs::read_to_string(s.root.join("generated/terraform/environments/prod/main.tf")).unwrap();
    assert!(main.contains("insecure = false"), "{main}");
    let out = s.run(&[("PROXMOX_VE_API_TOKEN", TOKEN)], &["plan", "prod"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("infrastructure/proxmox-ca.pem: the Proxmox endpoint's CA file (proxmox.ca_file) is missing"), "{}", both(&out));
    assert!(!s.log.exists());
    fs::write(s.root.join("infrastructure/proxmox-ca.pem"), "-----BEGIN CERTIFICATE-----\n").unwrap();
    let out = s.run(&[("PROXMOX_VE_API_TOKEN", TOKEN)], &["plan", "prod"]);
    assert!(out.status.success(), "{}", both(&out));
    let want = fs::canonicalize(&s.root).unwrap().join("infrastructure/proxmox-ca.pem");
    let calls = s.calls();
    assert!(
        calls.contains(&format!("env: SSL_CERT_FILE={}", want.display()))
            || calls.contains(&format!("env: SSL_CERT_FILE={}", s.root.join("infrastructure/proxmox-ca.pem").display())),
        "{calls}"
    );
}
