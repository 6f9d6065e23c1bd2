//! Command-line flags, parsed by hand: a handful of commands does not justify clap's build time.

use std::path::PathBuf;

use anyhow::{Result, bail};

pub const USAGE: &str = "\
usage: cargo xtask <command> [--root DIR] [--stack FILE]

commands:
  gen      render generated/ from stack.toml, writing only what changed
  check    render in memory and compare with generated/; never writes, exit 1 on any drift
  dns      print the hosts-file and dnsmasq lines that send every routed host to Traefik
  certs init [--force]
           make the lab's name-constrained CA (key in tls.ca_key, certificate in tls.certs_dir)
  plan     ENV: terraform init + plan in generated/terraform/environments/ENV; refused when stale
  apply    ENV: terraform init + apply there; asks for approval unless --auto-approve
  diff     --markdown [--base REF]: what this branch changes in the lab compared with REF
           (default: origin/$GITHUB_BASE_REF on GitHub, else main), as a pull-request summary
           or on anything that looks like a secret in stack.toml or generated/
  verify   [--env NAME] [--send-test-alert] [--json] [--since 15m]: the running lab against
           stack.toml (routes, TLS, Prometheus, Alertmanager, Grafana, logs, Uptime Kuma)
  bench    time parse + validate + render and check for the example and 10/100/1,000-VM labs
  help     this text

flags:
  --root DIR     the repository to work on (default: this repository)
  --stack FILE   the stack file, relative to the root (default: stack.toml)
  --auto-approve apply without asking for approval (apply only)
  --markdown     diff: print markdown (the only format)
  --base REF     diff: the git ref to compare with";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Gen,
    Check,
    Dns,
    Certs,
    Plan,
    Apply,
    Diff,
    Bench,
    Verify,
    Help,
}

#[derive(Debug, Clone)]
pub struct Flags {
    pub command: Command,
    pub root: PathBuf,
    pub stack: PathBuf,
    /// Positional arguments after the command (e.g. the environment of `plan`).
    pub args: Vec<String>,
    /// `--force`: let `certs init` replace an existing CA.
    pub force: bool,
    /// `apply --auto-approve`: pass `-auto-approve` to Terraform.
    pub auto_approve: bool,
    /// `diff --markdown`.
    pub markdown: bool,
    /// `diff --base REF`.
    pub base: Option<String>,
    /// `verify`'s own options.
    pub verify: crate::verify::Options,
}

impl Flags {
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Flags> {
        let mut args = args.into_iter();
        let command = match args.next().as_deref() {
            None | Some("help" | "--help" | "-h") => Command::Help,
            Some("gen") => Command::Gen,
            Some("check") => Command::Check,
            Some("dns") => Command::Dns,
            Some("certs") => Command::Certs,
            Some("plan") => Command::Plan,
            Some("apply") => Command::Apply,
            Some("diff") => Command::Diff,
            Some("bench") => Command::Bench,
            Some("verify") => Command::Verify,
            Some(other) => bail!("unknown command `{other}`"),
        };
        let mut flags = Flags {
            command,
            root: crate::project::default_root(),
            stack: PathBuf::from("stack.toml"),
            args: Vec::new(),
            force: false,
            auto_approve: false,
            markdown: false,
            base: None,
            verify: crate::verify::Options::default(),
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--root" => flags.root = PathBuf::from(value(&arg, args.next())?),
                "--stack" => flags.stack = PathBuf::from(value(&arg, args.next())?),
                "--force" => flags.force = true,
                "--auto-approve" if flags.command == Command::Apply => flags.auto_approve = true,
                "--markdown" => flags.markdown = true,
                "--base" => flags.base = Some(value(&arg, args.next())?),
                "--env" if flags.command == Command::Verify => flags.verify.env = Some(value(&arg, args.next())?),
                "--send-test-alert" if flags.command == Command::Verify => flags.verify.send_test_alert = true,
                "--json" if flags.command == Command::Verify => flags.verify.json = true,
                "--since" if flags.command == Command::Verify => {
                    let v = value(&arg, args.next())?;
                    flags.verify.since =
                        crate::verify::parse_since(&v).ok_or_else(|| anyhow::anyhow!("`--since {v}`: expected a duration such as 15m, 90s or 2h"))?;
                }
                s if s.starts_with("--") => bail!("unknown flag `{s}`"),
                _ => flags.args.push(arg),
            }
        }
        Ok(flags)
    }
}

fn value(flag: &str, v: Option<String>) -> Result<String> {
    match v {
        Some(v) if !v.starts_with("--") => Ok(v),
        _ => bail!("`{flag}` needs a value"),
    }
}
