//! `cargo xtask plan|apply <env>` against a stub `terraform` that records its arguments, working
//! directory and the variables it was given: the right root, init before plan, refusal on a stale
//! tree, secrets passed but never printed, clear errors, Terraform's exit code passed through.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{repo_copy, temp_dir, text};

const TOKEN: &str = "root@pam!ci=11111111-2222-3333-4444-555555555555";

/// A directory holding an executable `terraform` that appends what it saw to `log`.
fn stub(log: &Path) -> PathBuf {
    let dir = temp_dir("stub-bin");
    let script = format!(
        "#!/bin/sh\nPATH=/usr/bin:/bin\n{{ printf 'argv:'; for a in \"$@\"; do printf ' %s' \"$a\"; done; printf '\\n'; printf 'pwd: %s\\n' \"$(pwd)\"; env | grep -E '^(PROXMOX_VE_API_TOKEN=|TF_VAR_|PG_CONN_STR=)' | sort | sed 's/^/env: /'; }} >> '{}'\ncase \" $* \" in *' init '*) exit 0 ;; esac\nexit \"${{STUB_EXIT:-0}}\"\n",
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

struct Setup {
    root: PathBuf,
    bin: PathBuf,
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
    let argv: Vec<&str> = calls.lines().filter(|l| l.starts_with("argv:")).collect();
    assert_eq!(
        argv,
        ["argv: -chdir=generated/terraform/environments/prod init -input=false", "argv: -chdir=generated/terraform/environments/prod plan -input=false"]
    );
    let pwd = fs::canonicalize(&s.root).unwrap();
    assert!(calls.lines().filter(|l| l.starts_with("pwd:")).all(|l| Path::new(&l[5..]) == pwd), "{calls}");
    assert!(calls.contains(&format!("env: PROXMOX_VE_API_TOKEN={TOKEN}")), "the token reaches Terraform:\n{calls}");
    assert!(!both(&out).contains(TOKEN), "the token was printed");
}

#[test]
fn apply_asks_for_approval_unless_told_not_to() {
    let s = setup("apply");
    let out = s.run(&[("PROXMOX_VE_API_TOKEN", TOKEN)], &["apply", "prod"]);
    assert!(out.status.success(), "{}", both(&out));
    let out = s.run(&[("PROXMOX_VE_API_TOKEN", TOKEN)], &["apply", "prod", "--auto-approve"]);
    assert!(out.status.success(), "{}", both(&out));
    let applies: Vec<String> = s.calls().lines().filter(|l| l.contains(" apply ")).map(str::to_string).collect();
    assert_eq!(
        applies,
        [
            "argv: -chdir=generated/terraform/environments/prod apply -input=false",
            "argv: -chdir=generated/terraform/environments/prod apply -input=false -auto-approve"
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
    assert!(calls.contains("-chdir=generated/terraform/environments/monitoring plan -input=false"));
}
