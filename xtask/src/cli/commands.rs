//! The commands of `cargo xtask`: one struct each, whose `Args::SPEC` is its help and flags.

use lexopt::Parser;

use super::{Args, CliError, Flag, Global, Spec, command, did_you_mean, text};

#[derive(Debug)]
pub enum Command {
    /// Print this text (top-level or per-command help) and exit 0.
    Help(String),
    Version,
    Gen(Gen),
    Check(Check),
    Dns(Dns),
    Certs(Certs),
    Plan(Plan),
    Apply(Apply),
    Diff(Diff),
    Bench(Bench),
    Verify(Verify),
    Tidy(Tidy),
}

pub type ParseFn = fn(&mut Parser, &mut Global) -> Result<Command, CliError>;

/// Every command, in the order of the help.
pub const COMMANDS: &[(&Spec, ParseFn)] = &[
    (&Gen::SPEC, command::<Gen>),
    (&Check::SPEC, command::<Check>),
    (&Dns::SPEC, command::<Dns>),
    (&Certs::SPEC, command::<Certs>),
    (&Plan::SPEC, command::<Plan>),
    (&Apply::SPEC, command::<Apply>),
    (&Diff::SPEC, command::<Diff>),
    (&Bench::SPEC, command::<Bench>),
    (&Verify::SPEC, command::<Verify>),
    (&Tidy::SPEC, command::<Tidy>),
];

/// `cargo xtask gen`.
#[derive(Debug, Default)]
pub struct Gen {
    /// `-v`: say every warning, also those said on an earlier run.
    pub verbose: bool,
}

impl Args for Gen {
    const SPEC: Spec = Spec {
        name: "gen",
        args: "",
        about: "render generated/ from stack.toml, writing only what changed",
        details: "Prints each file created, updated or removed, then a summary (-q: none). A warning is said\nin full when it is new; while the same warnings hold, later runs say how many there are\n(remembered in .xtask/warnings, gitignored).",
        flags: &[Flag { long: "verbose", short: Some('v'), value: None, help: "say every warning in full, also those said on an earlier run" }],
        not_here: &[],
    };
    fn flag(&mut self, _long: &str, _p: &mut Parser) -> Result<(), lexopt::Error> {
        self.verbose = true;
        Ok(())
    }
    fn into_command(self) -> Command {
        Command::Gen(self)
    }
}

/// `cargo xtask check`.
#[derive(Debug, Default)]
pub struct Check {
    /// `--no-memo`: render even when the render memo says the inputs are those of the last gen.
    pub no_memo: bool,
}

impl Args for Check {
    const SPEC: Spec = Spec {
        name: "check",
        args: "",
        about: "render in memory and compare with generated/; never writes, exit 1 on any drift",
        details: "Also fails on anything that looks like a secret in stack.toml or generated/, and on TLS\ncertificates that need attention. When the inputs (stack file, templates, certificates, this\nbuild of xtask) are those of the last gen here (.xtask/render-memo, gitignored) and generated/\nis byte for byte what that gen wrote, it does not render again; any difference renders.",
        flags: &[Flag { long: "no-memo", short: None, value: None, help: "render even when the inputs are those of the last gen" }],
        not_here: &[],
    };
    fn flag(&mut self, _long: &str, _p: &mut Parser) -> Result<(), lexopt::Error> {
        self.no_memo = true;
        Ok(())
    }
    fn into_command(self) -> Command {
        Command::Check(self)
    }
}

/// `cargo xtask dns`.
#[derive(Debug, Default)]
pub struct Dns;

impl Args for Dns {
    const SPEC: Spec = Spec {
        name: "dns",
        args: "",
        about: "print the hosts-file and dnsmasq lines that send every routed host to Traefik",
        details: "",
        flags: &[],
        not_here: &[],
    };
    fn into_command(self) -> Command {
        Command::Dns(self)
    }
}

/// `cargo xtask certs init [--force]`.
#[derive(Debug, Default)]
pub struct Certs {
    /// The `init` subcommand was given (the only one).
    pub init: bool,
    /// `--force`: replace an existing CA.
    pub force: bool,
}

impl Args for Certs {
    const SPEC: Spec = Spec {
        name: "certs",
        args: "init",
        about: "make the lab's name-constrained CA (key in tls.ca_key, certificate in tls.certs_dir)",
        details: "",
        flags: &[Flag { long: "force", short: None, value: None, help: "replace an existing CA (every device must then import the new one)" }],
        not_here: &[],
    };
    fn flag(&mut self, _long: &str, _p: &mut Parser) -> Result<(), lexopt::Error> {
        self.force = true;
        Ok(())
    }
    fn positional(&mut self, value: String) -> Result<(), String> {
        match value.as_str() {
            "init" if !self.init => {
                self.init = true;
                Ok(())
            }
            _ if self.init => Err(format!("unexpected argument `{value}` after `init`")),
            _ => Err(format!("unknown subcommand `{value}`{}", did_you_mean(&value, ["init"]).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())),
        }
    }
    fn finish(&self) -> Result<(), String> {
        if self.init { Ok(()) } else { Err("needs a subcommand: `init`".to_string()) }
    }
    fn into_command(self) -> Command {
        Command::Certs(self)
    }
}

/// `cargo xtask plan <ENV>`.
#[derive(Debug, Default)]
pub struct Plan {
    /// The environment; when absent, the command says which ones exist.
    pub env: Option<String>,
}

impl Args for Plan {
    const SPEC: Spec = Spec {
        name: "plan",
        args: "<ENV>",
        about: "terraform init + plan of generated/terraform/environments/ENV, saved for apply; lists every resource action",
        details: "Refused when generated/ is stale, or when the plan replaces or deletes a VM that\n`[terraform] acknowledge_recreate` does not name. Secrets are passed from the environment as\nTF_VAR_<name>, never printed; the exit code is Terraform's.",
        flags: &[],
        not_here: &[("auto-approve", "plan never applies, so there is nothing to approve; `cargo xtask apply <ENV> --auto-approve` applies")],
    };
    fn positional(&mut self, value: String) -> Result<(), String> {
        one_env(&mut self.env, value)
    }
    fn into_command(self) -> Command {
        Command::Plan(self)
    }
}

/// `cargo xtask apply <ENV> [--auto-approve]`.
#[derive(Debug, Default)]
pub struct Apply {
    pub env: Option<String>,
    /// `--auto-approve`: pass `-auto-approve` to Terraform.
    pub auto_approve: bool,
}

impl Args for Apply {
    const SPEC: Spec = Spec {
        name: "apply",
        args: "<ENV>",
        about: "apply exactly the plan `cargo xtask plan ENV` saved, once; asks for `yes` first",
        details: "Refused, as plan is, when generated/ is stale or the plan replaces or deletes a VM that\n`[terraform] acknowledge_recreate` does not name. Without --auto-approve only `yes` on standard\ninput applies.",
        flags: &[Flag { long: "auto-approve", short: None, value: None, help: "apply without asking for approval" }],
        not_here: &[],
    };
    fn flag(&mut self, _long: &str, _p: &mut Parser) -> Result<(), lexopt::Error> {
        self.auto_approve = true;
        Ok(())
    }
    fn positional(&mut self, value: String) -> Result<(), String> {
        one_env(&mut self.env, value)
    }
    fn into_command(self) -> Command {
        Command::Apply(self)
    }
}

fn one_env(env: &mut Option<String>, value: String) -> Result<(), String> {
    match env {
        None => {
            *env = Some(value);
            Ok(())
        }
        Some(first) => Err(format!("takes one environment; `{value}` is one too many (after `{first}`)")),
    }
}

/// `cargo xtask diff --markdown [--base REF]`.
#[derive(Debug, Default)]
pub struct Diff {
    pub markdown: bool,
    pub base: Option<String>,
}

impl Args for Diff {
    const SPEC: Spec = Spec {
        name: "diff",
        args: "",
        about: "what this branch changes in the lab compared with a git ref, as a pull-request summary",
        details: "The base is --base, else origin/$GITHUB_BASE_REF on GitHub, else main.",
        flags: &[
            Flag { long: "markdown", short: None, value: None, help: "print markdown (the only format; required)" },
            Flag { long: "base", short: None, value: Some("REF"), help: "the git ref to compare with" },
        ],
        not_here: &[],
    };
    fn flag(&mut self, long: &str, p: &mut Parser) -> Result<(), lexopt::Error> {
        match long {
            "markdown" => self.markdown = true,
            _ => self.base = Some(text(p.value()?)?),
        }
        Ok(())
    }
    fn into_command(self) -> Command {
        Command::Diff(self)
    }
}

/// `cargo xtask bench`.
#[derive(Debug, Default)]
pub struct Bench;

impl Args for Bench {
    const SPEC: Spec = Spec {
        name: "bench",
        args: "",
        about: "time parse + validate + render and check for the example and 10/100/1,000-VM labs",
        details: "",
        flags: &[],
        not_here: &[],
    };
    fn into_command(self) -> Command {
        Command::Bench(self)
    }
}

/// `cargo xtask verify [--env NAME] [--send-test-alert] [--json] [--since 15m]`.
#[derive(Debug, Default)]
pub struct Verify {
    pub options: crate::verify::Options,
}

impl Args for Verify {
    const SPEC: Spec = Spec {
        name: "verify",
        args: "",
        about: "the running lab against stack.toml (routes, TLS, Prometheus, Alertmanager, Grafana, logs, Uptime Kuma)",
        details: "Run from a machine inside the LAN after apply. Credentials come from the environment variables\nstack.toml names; nothing secret is printed. Exit 1 when a check fails.",
        flags: &[
            Flag { long: "env", short: None, value: Some("NAME"), help: "expect only the VMs of this environment (and the monitoring VM)" },
            Flag { long: "send-test-alert", short: None, value: None, help: "post a test alert and wait until Alertmanager has sent it to Telegram" },
            Flag { long: "json", short: None, value: None, help: "print the report as JSON" },
            Flag { long: "since", short: None, value: Some("DURATION"), help: "how far back to look for each host's logs (default 15m)" },
        ],
        not_here: &[],
    };
    fn flag(&mut self, long: &str, p: &mut Parser) -> Result<(), lexopt::Error> {
        match long {
            "env" => self.options.env = Some(text(p.value()?)?),
            "send-test-alert" => self.options.send_test_alert = true,
            "json" => self.options.json = true,
            _ => {
                let v = text(p.value()?)?;
                self.options.since = crate::verify::parse_since(&v).ok_or_else(|| format!("`--since {v}`: expected a duration such as 15m, 90s or 2h"))?;
            }
        }
        Ok(())
    }
    fn into_command(self) -> Command {
        Command::Verify(self)
    }
}

/// `cargo xtask tidy`.
#[derive(Debug, Default)]
pub struct Tidy;

impl Args for Tidy {
    const SPEC: Spec = Spec {
        name: "tidy",
        args: "",
        about: "maintainer checks: cargo fmt --check, clippy -D warnings, no hash-ordered container, files of xtask/src at most 600 lines",
        details: "Runs every check and lists each failure; exit 1 if one fails.",
        flags: &[],
        not_here: &[],
    };
    fn into_command(self) -> Command {
        Command::Tidy(self)
    }
}
