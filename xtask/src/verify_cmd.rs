//! `cargo xtask verify [--env NAME] [--send-test-alert] [--json] [--since 15m]`: the running lab
//! against stack.toml, from a machine inside the LAN. The thin edge of `verify`: reads the
//! stack, the secrets from the environment and writes the committed CA to a temporary file for
//! curl; `verify::run` does the rest.

use anyhow::{Result, bail};

use crate::project::Project;
use crate::verify::{self, Ctx, Secrets, UPTIME_API_KEY_ENV, expect, http::Curl};

pub fn run(project: &Project, opts: &verify::Options) -> Result<()> {
    let stack = project.load()?;
    if let Some(env) = opts.env.as_ref().filter(|e| !stack.environments.contains(e)) {
        bail!("--env {env}: no such environment\n  hint: stack.toml has {}", stack.environments.join(", "));
    }
    let tree = project.render(&stack)?;
    let exp = expect::derive(&stack, &tree, opts.env.as_deref())?;
    let ca_file = match &exp.ca_pem {
        Some(pem) if exp.tls => {
            let path = std::env::temp_dir().join(format!("xtask-verify-{}-ca.crt", std::process::id()));
            std::fs::write(&path, pem)?;
            Some(path)
        }
        _ => None,
    };
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let secrets =
        Secrets { grafana_password: env(&exp.grafana_password_env), uptime_api_key: env(UPTIME_API_KEY_ENV), uptime_password: env(&exp.uptime_password_env) };
    let transport = Curl { timeout: opts.timeout };
    let ctx = Ctx { exp: &exp, http: &transport, ca_file: ca_file.clone(), opts, secrets };
    let report = verify::run(&ctx);
    if let Some(path) = ca_file {
        let _ = std::fs::remove_file(path);
    }
    print!("{}", if opts.json { report.json() } else { report.text() });
    let failed = report.summary().failed;
    if failed > 0 {
        bail!("verify: {failed} check{} failed", if failed == 1 { "" } else { "s" });
    }
    Ok(())
}
