//! `RawStack` to `Stack`: applies defaults, derives facts, and checks every rule, collecting
//! every problem instead of stopping at the first.
//!
//! Rules that come from the original plan's targets (retention, detection time, memory) read
//! their bound from `[targets]`, so the bound is visible in stack.toml next to what it limits.
//!
//! This module holds the entry point, the order of the sections and the checks they share; each
//! section's rules are in their own module (`settings`, `network`, `proxmox`, `tls`, `services`,
//! `vms`, `routes`, `remote_write`), and the figures derived from several sections in `derived`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::catalog::{self, COMMON_KEYS, Routing, Scrape, ServiceSpec, defaults};
use super::diag::{Problems, did_you_mean};
use super::model::*;
use super::parse::join;
use super::raw::*;

mod derived;
mod network;
mod proxmox;
mod remote_write;
mod routes;
mod services;
mod settings;
mod ssh_key;
mod tls;
mod vms;

pub const SCHEMA_VERSION: i64 = 1;

/// Validates a parsed stack. `problems` already holds the parse problems; validation adds to it.
/// Returns a model only when there is no problem at all.
/// `read_certs` gives the committed certificates of `tls.certs_dir` (asked only when TLS is on).
pub fn validate(raw: &RawStack, problems: &mut Problems, read_certs: super::ReadCerts) -> Option<Stack> {
    validate_with(raw, problems, read_certs, catalog::SERVICES)
}

/// [`validate`] against another service catalog (the tests' catalog with one service more).
pub fn validate_with(raw: &RawStack, problems: &mut Problems, read_certs: super::ReadCerts, catalog: &[ServiceSpec]) -> Option<Stack> {
    let mut v = Validator { p: problems, read_certs, catalog };
    let stack = v.stack(raw);
    if v.p.is_empty() { stack } else { None }
}

struct Validator<'a> {
    p: &'a mut Problems,
    read_certs: super::ReadCerts<'a>,
    catalog: &'a [ServiceSpec],
}

/// Integer `value` within `min..=max`, else a problem at `key`.
fn in_range(p: &mut Problems, key: &str, value: i64, min: i64, max: i64, unit: &str) -> Option<u32> {
    if value < min || value > max {
        p.add(key, format!("{value} is out of range"), &format!("expected {min} to {max}{unit}"));
        return None;
    }
    u32::try_from(value).ok()
}

fn opt_range(p: &mut Problems, key: &str, value: Option<i64>, default: u32, min: i64, max: i64, unit: &str) -> u32 {
    value.map_or(Some(default), |v| in_range(p, key, v, min, max, unit)).unwrap_or(default)
}

/// A DNS label: what VM, environment, route and node names must be, so they are safe as hostnames,
/// Terraform identifiers and path segments alike.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') && !s.starts_with('-') && !s.ends_with('-')
}

/// A host name to connect to: dot-separated DNS labels in any case (host names are
/// case-insensitive), at most 253 characters; an IPv4 address is one too.
pub fn is_host_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(|l| is_dns_label(&l.to_ascii_lowercase()))
}

fn check_label(p: &mut Problems, key: &str, what: &str, name: &str) -> bool {
    if is_dns_label(name) {
        return true;
    }
    let why = if name.contains('/') || name.contains('\\') || name.contains("..") { "could escape the generated/ folder" } else { "is not a DNS label" };
    p.add(key, format!("{what} `{name}` {why}"), "use 1 to 63 lowercase letters, digits and inner hyphens, e.g. `prod-web-1`");
    false
}

pub(in crate::stack) fn secret(p: &mut Problems, key: &str, raw: Option<&RawSecret>, default_env: &str) -> SecretRef {
    let env = match raw {
        None => default_env.to_string(),
        Some(RawSecret::Ref(r)) => {
            let ok =
                !r.env.is_empty() && r.env.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') && !r.env.as_bytes()[0].is_ascii_digit();
            if !ok {
                p.add(join(key, "env"), format!("`{}` is not an environment variable name", r.env), "use UPPER_CASE letters, digits and underscores");
            }
            r.env.clone()
        }
        Some(RawSecret::Literal(_)) => {
            p.add(
                key,
                "a secret is given as a literal value",
                &format!("never commit secrets: write `{{ env = \"{default_env}\" }}` and export the value where Terraform runs"),
            );
            default_env.to_string()
        }
    };
    SecretRef { tf_var: env.to_ascii_lowercase(), env }
}

fn check_image(p: &mut Problems, key: &str, image: &str) {
    let (name, tag) = match image.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, Some(t)),
        _ => (image, None),
    };
    let digest = image.contains("@sha256:");
    let bad_chars = image.is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_ascii_uppercase());
    if bad_chars || name.is_empty() {
        p.add(key, format!("`{image}` is not an image reference"), "write `registry/name:tag`, e.g. `prom/prometheus:v3.14.0`");
    } else if !digest && tag.is_none() {
        p.add(key, format!("image `{image}` has no tag"), "pin a version, e.g. `:v3.14.0`, so the stack is reproducible");
    } else if tag == Some("latest") {
        p.add(key, format!("image `{image}` uses the moving tag `latest`"), "pin a version so that a restart never upgrades by surprise");
    }
}

impl Validator<'_> {
    fn stack(&mut self, raw: &RawStack) -> Option<Stack> {
        let p = &mut *self.p;
        match raw.schema_version {
            // A value of the wrong type was already reported by the parser.
            None if p.already_reported("schema_version", false) => {}
            None => p.add_missing("schema_version", "missing key `schema_version`", "add `schema_version = 1` at the top of stack.toml"),
            Some(SCHEMA_VERSION) => {}
            Some(v) => p.add("schema_version", format!("unsupported schema version {v}"), "this generator reads schema_version = 1"),
        }
        let domain = match &raw.domain {
            None if p.already_reported("domain", false) => "home.lan".to_string(),
            None => {
                p.add_missing("domain", "missing key `domain`", "add e.g. `domain = \"home.lan\"`: services get `<name>.<domain>`");
                "home.lan".to_string()
            }
            Some(d) => {
                if let Some(why) = super::workable::domain_problem(d) {
                    p.add("domain", format!("`{d}` {why}"), "write lowercase labels joined by dots, e.g. `home.lan`");
                }
                d.clone()
            }
        };
        let targets = self.targets(raw.targets.as_ref());
        let network = self.required(raw.network.as_ref(), "network", "cidr, gateway and dns").and_then(|n| self.network(n));
        let proxmox = self.required(raw.proxmox.as_ref(), "proxmox", "endpoint, node and cloud_image").map(|x| self.proxmox(x));
        let terraform = self.terraform(raw.terraform.as_ref());
        let logging = self.logging(raw.logging.as_ref());
        let alerting = self.required(raw.alerting.as_ref(), "alerting", "[alerting.telegram] with chat_id and bot_token");
        let tls = self.tls(raw.tls.as_ref());
        let services = self.services(&raw.services, &domain, &targets);

        // Before the early return, so that a missing [monitoring] is reported with the others.
        let monitoring = self.required(raw.monitoring.as_ref(), "monitoring", "name, vm_id, ip and memory_mb");
        // A [network], [proxmox] or [monitoring] that could not be validated (already reported) is
        // stood in for, so that the VMs and everything after them are still checked: every
        // problem at once.
        let complete = network.is_some() && proxmox.is_some() && monitoring.is_some();
        let network = network.unwrap_or_else(super::workable::stand_in_network);
        let proxmox = proxmox.unwrap_or_else(super::workable::stand_in_proxmox);
        let mut monitoring = monitoring.map_or_else(super::workable::stand_in_monitoring, |m| self.monitoring(m, &network, &proxmox));
        let mut vms = self.vms(&raw.vms, &monitoring, &network, &proxmox, &logging);
        self.authorize_ssh(raw.ssh.as_ref(), &mut monitoring, &mut vms, &proxmox);
        self.agents_reach_loki(&vms, &services);
        let routes = self.routes(&raw.routes, &services, &vms, &monitoring, &domain);
        let lab = super::workable::Lab {
            domain: &domain,
            network: &network,
            proxmox: &proxmox,
            monitoring: &monitoring,
            vms: &vms,
            services: &services,
            routes: &routes,
            complete,
        };
        super::workable::check(self.p, &lab);
        let memory = self.memory(&services, &monitoring, &targets);
        let alerting = self.alerting(alerting?, &services, &targets);
        self.retention_covers_rules(&services, &alerting);
        if !complete {
            return None;
        }

        let mut environments: Vec<String> = vms.iter().map(|vm| vm.environment.clone()).collect();
        environments.sort();
        environments.dedup();
        crate::stack::day2::retired_have_no_vm(self.p, &terraform.retired_environments, &vms);
        Some(Stack { domain, targets, proxmox, network, terraform, monitoring, vms, environments, logging, alerting, tls, services, routes, memory })
    }

    fn required<'r, T>(&mut self, section: Option<&'r T>, name: &str, what: &str) -> Option<&'r T> {
        if section.is_none() && !self.p.already_reported(name, true) {
            self.p.add_missing(name, format!("missing section `[{name}]`"), &format!("add a `[{name}]` table with {what}"));
        }
        section
    }
}
