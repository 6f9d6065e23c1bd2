//! `cargo xtask plan <env>` and `cargo xtask apply <env>`: run Terraform on one generated root,
//! only when generated/ is exactly what stack.toml says, with the secrets taken from the
//! environment (never printed, never written), and Terraform's exit code passed through. `plan`
//! saves the plan; `apply` applies exactly that saved plan; both list its resource changes and
//! refuse one that destroys an unacknowledged VM (`plan_guard`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use xshell::{Shell, cmd};

use crate::cli::{Apply, Plan};
use crate::plan_guard;
use crate::project::Project;
use crate::stack::Stack;
use crate::targets::terraform::{self, MONITORING};
use crate::tree;

/// Terraform ran and failed: the process exits with Terraform's own code.
#[derive(Debug)]
pub struct TerraformFailed {
    pub step: &'static str,
    pub code: u8,
}

impl std::fmt::Display for TerraformFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "terraform {} exited with code {}", self.step, self.code)
    }
}

impl std::error::Error for TerraformFailed {}

/// The provider's own variable for the API token.
const TOKEN_VAR: &str = "PROXMOX_VE_API_TOKEN";
/// The pg backend's own variable for its connection string.
const PG_VAR: &str = "PG_CONN_STR";

/// `cargo xtask plan <env>`.
pub fn plan(project: &Project, args: &Plan) -> Result<()> {
    run(project, false, args.env.as_deref(), false)
}

/// `cargo xtask apply <env> [--auto-approve]`.
pub fn apply(project: &Project, args: &Apply) -> Result<()> {
    run(project, true, args.env.as_deref(), args.auto_approve)
}

fn run(project: &Project, apply: bool, env: Option<&str>, auto_approve: bool) -> Result<()> {
    let verb: &'static str = if apply { "apply" } else { "plan" };
    let stack = project.load()?;
    let envs = terraform::environments(&stack);
    let Some(env) = env else {
        bail!("{verb}: name the environment to {verb}\n  hint: one of: {}", envs.join(", "));
    };
    if !envs.iter().any(|e| e == env) {
        bail!("{verb}: unknown environment `{env}`\n  hint: one of: {}", envs.join(", "));
    }
    let expected = project.render(&stack)?;
    let drift = tree::drift(&expected, &project.generated())?;
    if !drift.is_empty() {
        bail!(
            "{verb}: generated/ is out of date ({} file(s) differ from stack.toml); Terraform was not run\n  hint: `cargo xtask check` shows the drift; run `cargo xtask gen` and commit the result",
            drift.len()
        );
    }
    let terraform = find_on_path("terraform").ok_or_else(|| {
        anyhow!("{verb}: `terraform` is not on PATH\n  hint: install Terraform >= 1.6 (https://developer.hashicorp.com/terraform/install) or OpenTofu as `terraform`")
    })?;
    let child_env = child_env(&stack, env, &project.root, verb)?;
    let dir = format!("generated/terraform/environments/{env}");
    let sh = Shell::new()?;
    sh.change_dir(&project.root);
    terraform_step(&sh, &terraform, &dir, "init", &["-input=false"], &child_env)?;
    let plan_file = plan_path(&project.root, &stack, env);
    let plan_arg = plan_file.to_string_lossy().into_owned();
    if apply {
        if !plan_file.is_file() {
            bail!("apply: no saved plan for `{env}` at {}\n  hint: run `cargo xtask plan {env}` first and read what it will do", plan_file.display());
        }
    } else {
        let dir_of_plans = plan_file.parent().expect("a plan path has a parent");
        std::fs::create_dir_all(dir_of_plans).map_err(|e| anyhow!("plan: {}: {e}", dir_of_plans.display()))?;
        let out = format!("-out={plan_arg}");
        terraform_step(&sh, &terraform, &dir, "plan", &["-input=false", &out], &child_env)?;
    }
    // The guard reads the saved plan, as `terraform apply` will run it.
    let json = terraform_output(&sh, &terraform, &dir, "show", &["-json", &plan_arg], &child_env)?;
    let changes = plan_guard::changes(&json, plan_guard::GUARDED_TYPES).map_err(|e| anyhow!("{verb}: {e:#}"))?;
    println!("{verb} `{env}`: {} resource change(s){}", changes.len(), if changes.is_empty() { "" } else { ":" });
    for line in plan_guard::table(&changes) {
        println!("  {line}");
    }
    plan_guard::verdict(verb, &changes, &stack.terraform.acknowledge_recreate)?;
    if !apply {
        eprintln!("plan: saved to {}; `cargo xtask apply {env}` applies exactly this plan", plan_file.display());
        return Ok(());
    }
    // Terraform applies a saved plan without asking: the approval is asked here.
    if !auto_approve {
        confirm(env, changes.len(), &mut std::io::stdin().lock())?;
    }
    let mut args = vec!["-input=false"];
    if auto_approve {
        args.push("-auto-approve");
    }
    args.push(&plan_arg);
    terraform_step(&sh, &terraform, &dir, "apply", &args, &child_env)?;
    // A saved plan applies once; the next apply needs a new plan.
    let _ = std::fs::remove_file(&plan_file);
    Ok(())
}

/// Asks for the approval Terraform does not ask for a saved plan: only `yes` applies; anything
/// else, or no input at all (CI without `--auto-approve`), applies nothing.
fn confirm(env: &str, changes: usize, input: &mut dyn std::io::BufRead) -> Result<()> {
    eprint!("apply these {changes} change(s) to `{env}`? Only `yes` is accepted: ");
    let mut answer = String::new();
    input.read_line(&mut answer).map_err(|e| anyhow!("apply: cannot read the approval: {e}"))?;
    if answer.trim() != "yes" {
        eprintln!();
        bail!("apply: not approved, nothing applied\n  hint: answer `yes`, or pass `--auto-approve` after reading the plan (CI does)");
    }
    Ok(())
}

/// Where `plan` saves the plan of `env` and `apply` reads it: beside the local state, outside
/// generated/ and git (`*.tfplan` is ignored), because a plan file holds the sensitive values.
pub fn plan_path(root: &Path, stack: &Stack, env: &str) -> PathBuf {
    root.join(stack.terraform.state_dir.trim_start_matches("./").trim_end_matches('/')).join(format!("{env}.tfplan"))
}

/// Runs one Terraform command and returns its standard output (its errors go to stderr).
fn terraform_output(sh: &Shell, terraform: &Path, dir: &str, step: &'static str, args: &[&str], env: &[(String, String)]) -> Result<String> {
    let chdir = format!("-chdir={dir}");
    eprintln!("$ terraform {chdir} {step} {}", args.join(" "));
    let mut cmd = cmd!(sh, "{terraform} {chdir} {step} {args...}");
    for (name, value) in env {
        cmd = cmd.env(name, value);
    }
    let mut command = std::process::Command::from(cmd);
    command.stderr(std::process::Stdio::inherit());
    let out = command.output().map_err(|e| anyhow!("{step}: cannot run {}: {e}", terraform.display()))?;
    if !out.status.success() {
        let code = out.status.code().map_or(1, |c| u8::try_from(c).unwrap_or(1).max(1));
        return Err(TerraformFailed { step, code }.into());
    }
    String::from_utf8(out.stdout).map_err(|_| anyhow!("{step}: terraform printed something that is not UTF-8"))
}

/// Runs one Terraform command, printing the command (never the environment).
fn terraform_step(sh: &Shell, terraform: &Path, dir: &str, step: &'static str, args: &[&str], env: &[(String, String)]) -> Result<()> {
    let chdir = format!("-chdir={dir}");
    eprintln!("$ terraform {chdir} {step} {}", args.join(" "));
    let mut cmd = cmd!(sh, "{terraform} {chdir} {step} {args...}");
    for (name, value) in env {
        cmd = cmd.env(name, value);
    }
    let status = std::process::Command::from(cmd).status().map_err(|e| anyhow!("{step}: cannot run {}: {e}", terraform.display()))?;
    if status.success() {
        return Ok(());
    }
    let code = status.code().map_or(1, |c| u8::try_from(c).unwrap_or(1).max(1));
    Err(TerraformFailed { step, code }.into())
}

/// A variable of the xtask's own environment, when set and not empty.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The variables Terraform needs that are not already where it looks: the API token, the
/// monitoring root's secrets (`TF_VAR_<name>` from the variable stack.toml names) and the pg
/// connection string. Every missing one is reported at once, by name only.
fn child_env(stack: &Stack, env: &str, root: &Path, verb: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut missing = Vec::new();
    let mut from = |target: &str, source: &str, missing: &mut Vec<String>| {
        if var(target).is_some() {
            return;
        }
        match var(source) {
            Some(value) => out.push((target.to_string(), value)),
            None if source == target => missing.push(target.to_string()),
            None => missing.push(format!("{source} (or {target})")),
        }
    };
    from(TOKEN_VAR, &stack.proxmox.api_token.env, &mut missing);
    if env == MONITORING {
        for (_, secret) in terraform::monitoring_secrets(stack) {
            from(&format!("TF_VAR_{}", secret.tf_var), &secret.env, &mut missing);
        }
    }
    if let Some(conn) = &stack.terraform.pg_conn_str {
        from(PG_VAR, &conn.env, &mut missing);
    }
    if !missing.is_empty() {
        bail!(
            "{verb}: {} not set: {}\n  hint: export each one where Terraform runs (e.g. from a password manager); {TOKEN_VAR} is an API token `user@realm!tokenid=uuid`",
            if missing.len() == 1 { "this environment variable is" } else { "these environment variables are" },
            missing.join(", ")
        );
    }
    // The provider (Go) verifies the endpoint against the CAs of SSL_CERT_FILE when it is set.
    if let Some(ca) = &stack.proxmox.ca_file {
        let path = root.join(ca);
        if !path.is_file() {
            bail!("{verb}: {ca}: the Proxmox endpoint's CA file (proxmox.ca_file) is missing\n  hint: copy the node's /etc/pve/pve-root-ca.pem there");
        }
        out.push(("SSL_CERT_FILE".to_string(), path.to_string_lossy().into_owned()));
    }
    if env == MONITORING && stack.tls.enabled {
        let key = root.join(&stack.tls.leaf_key);
        if !key.is_file() {
            bail!(
                "{verb}: {}: the TLS leaf key is missing (Terraform writes it to the monitoring VM)\n  hint: {}",
                stack.tls.leaf_key,
                crate::certs_cmd::leaf_key_hint(stack)
            );
        }
    }
    Ok(out)
}

/// The first executable file called `name` in PATH.
fn find_on_path(name: &str) -> Option<PathBuf> {
    let path: OsString = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}
