//! `RawStack` to `Stack`: applies defaults, derives facts, and checks every rule, collecting
//! every problem instead of stopping at the first.
//!
//! Rules that come from the original plan's targets (retention, detection time, memory) read
//! their bound from `[targets]`, so the bound is visible in stack.toml next to what it limits.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::catalog::{self, COMMON_KEYS, ServiceSpec};
use super::diag::{Problems, did_you_mean};
use super::model::*;
use super::parse::join;
use super::raw::*;

pub const SCHEMA_VERSION: i64 = 1;

/// Validates a parsed stack. `problems` already holds the parse problems; validation adds to it.
/// Returns a model only when there is no problem at all.
pub fn validate(raw: &RawStack, problems: &mut Problems) -> Option<Stack> {
    let mut v = Validator { p: problems };
    let stack = v.stack(raw);
    if v.p.is_empty() { stack } else { None }
}

struct Validator<'a> {
    p: &'a mut Problems,
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

/// `tls.certs_dir`: a plain relative folder of the repository, outside generated/ (gen copies the
/// certificates from it into generated/, so it cannot be inside).
fn certs_dir(p: &mut Problems, v: Option<String>) -> String {
    let v = v.unwrap_or_else(|| "infrastructure/tls".to_string());
    let n = v.trim_start_matches("./").trim_end_matches('/');
    if crate::tree::check_relative(n).is_err() {
        p.add("tls.certs_dir", format!("`{v}` is not a folder inside the repository"), "use a relative path without `..`, e.g. \"infrastructure/tls\"");
    } else if n == "generated" || n.starts_with("generated/") {
        p.add(
            "tls.certs_dir",
            format!("`{v}` is under generated/"),
            "the committed certificates are inputs: keep them outside generated/, e.g. \"infrastructure/tls\"",
        );
    }
    n.to_string()
}

/// A DNS label: what VM, environment, route and node names must be, so they are safe as hostnames,
/// Terraform identifiers and path segments alike.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') && !s.starts_with('-') && !s.ends_with('-')
}

fn check_label(p: &mut Problems, key: &str, what: &str, name: &str) -> bool {
    if is_dns_label(name) {
        return true;
    }
    let why = if name.contains('/') || name.contains('\\') || name.contains("..") { "could escape the generated/ folder" } else { "is not a DNS label" };
    p.add(key, format!("{what} `{name}` {why}"), "use 1 to 63 lowercase letters, digits and inner hyphens, e.g. `prod-web-1`");
    false
}

fn secret(p: &mut Problems, key: &str, raw: Option<&RawSecret>, default_env: &str) -> SecretRef {
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
            None if p.0.iter().any(|x| x.key == "schema_version") => {}
            None => p.add("schema_version", "missing key `schema_version`", "add `schema_version = 1` at the top of stack.toml"),
            Some(SCHEMA_VERSION) => {}
            Some(v) => p.add("schema_version", format!("unsupported schema version {v}"), "this generator reads schema_version = 1"),
        }
        let domain = match &raw.domain {
            None if p.0.iter().any(|x| x.key == "domain") => "home.lan".to_string(),
            None => {
                p.add("domain", "missing key `domain`", "add e.g. `domain = \"home.lan\"`: services get `<name>.<domain>`");
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
        let alerting = self.required(raw.alerting.as_ref(), "alerting", "[alerting.telegram] with chat_id and bot_token").map(|a| self.alerting(a));
        let tls = self.tls(raw.tls.as_ref());
        let services = self.services(&raw.services, &domain, &targets);

        // Before the early return, so that a missing [monitoring] is reported with the others.
        let monitoring = self.required(raw.monitoring.as_ref(), "monitoring", "name, vm_id, ip and memory_mb");
        // A [network] or [proxmox] that could not be validated (already reported) is stood in for,
        // so that the VMs and everything after them are still checked: every problem at once.
        let complete = network.is_some() && proxmox.is_some();
        let network = network.unwrap_or_else(super::workable::stand_in_network);
        let proxmox = proxmox.unwrap_or_else(super::workable::stand_in_proxmox);
        let mut monitoring = monitoring.and_then(|m| self.monitoring(m, &network, &proxmox))?;
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
        let alerting = self.detection(alerting?, &services, &targets);
        if !complete {
            return None;
        }

        let uses_promtail = vms.iter().any(|vm| vm.agent == Agent::Promtail);
        let mut environments: Vec<String> = vms.iter().map(|vm| vm.environment.clone()).collect();
        environments.sort();
        environments.dedup();
        Some(Stack {
            domain,
            targets,
            proxmox,
            network,
            terraform,
            monitoring,
            vms,
            environments,
            logging: Logging { uses_promtail, ..logging },
            alerting,
            tls,
            services,
            routes,
            memory,
        })
    }

    fn required<'r, T>(&mut self, section: Option<&'r T>, name: &str, what: &str) -> Option<&'r T> {
        if section.is_none() && !self.p.0.iter().any(|p| p.key == name || p.key.starts_with(&format!("{name}."))) {
            self.p.add(name, format!("missing section `[{name}]`"), &format!("add a `[{name}]` table with {what}"));
        }
        section
    }

    fn targets(&mut self, raw: Option<&RawTargets>) -> Targets {
        let p = &mut *self.p;
        let t = raw.cloned().unwrap_or(RawTargets {
            proxy_overhead_ms: None,
            log_search_window_minutes: None,
            log_search_seconds: None,
            failure_detection_seconds: None,
            log_retention_days: None,
            added_memory_mb: None,
        });
        Targets {
            proxy_overhead_ms: opt_range(p, "targets.proxy_overhead_ms", t.proxy_overhead_ms, 50, 1, 10_000, " ms"),
            log_search_window_minutes: opt_range(p, "targets.log_search_window_minutes", t.log_search_window_minutes, 60, 1, 10_080, " minutes"),
            log_search_seconds: opt_range(p, "targets.log_search_seconds", t.log_search_seconds, 5, 1, 300, " seconds"),
            failure_detection_seconds: opt_range(p, "targets.failure_detection_seconds", t.failure_detection_seconds, 120, 10, 86_400, " seconds"),
            log_retention_days: opt_range(p, "targets.log_retention_days", t.log_retention_days, 7, 1, 3_650, " days"),
            added_memory_mb: opt_range(p, "targets.added_memory_mb", t.added_memory_mb, 350, 1, 1_048_576, " MB"),
        }
    }

    fn ip(&mut self, key: &str, s: &str) -> Option<Ipv4Addr> {
        match s.parse::<Ipv4Addr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                let hint = if s.contains('/') { "write the address without a prefix length" } else { "write a dotted IPv4 address, e.g. 192.168.1.51" };
                self.p.add(key, format!("`{s}` is not an IPv4 address"), hint);
                None
            }
        }
    }

    fn cidr(&mut self, key: &str, s: &str) -> Option<Cidr> {
        let Some(c) = Cidr::parse(s) else {
            self.p.add(key, format!("`{s}` is not an IPv4 network in CIDR form"), "write e.g. 192.168.1.0/24");
            return None;
        };
        if c.addr != c.network() {
            self.p.add(key, format!("`{s}` has host bits set"), &format!("the network address is {}/{}", c.network(), c.prefix));
        }
        Some(c)
    }

    fn network(&mut self, n: &RawNetwork) -> Option<Network> {
        let cidr = self.cidr("network.cidr", &n.cidr);
        let gateway = self.ip("network.gateway", &n.gateway);
        if let (Some(c), Some(g)) = (cidr, gateway)
            && !c.contains(g)
        {
            self.p.add("network.gateway", format!("gateway {g} is outside the network {c}"), "the gateway must be an address of network.cidr");
        }
        let dns: Vec<Ipv4Addr> = n.dns.iter().enumerate().filter_map(|(i, s)| self.ip(&format!("network.dns[{i}]"), s)).collect();
        if n.dns.is_empty() {
            self.p.add("network.dns", "no DNS server", "list at least one, e.g. dns = [\"192.168.1.1\"]");
        }
        let bridge = n.bridge.clone().unwrap_or_else(|| "vmbr0".to_string());
        if !bridge.bytes().all(|b| b.is_ascii_alphanumeric()) || bridge.is_empty() {
            self.p.add("network.bridge", format!("`{bridge}` is not a Proxmox bridge name"), "e.g. vmbr0");
        }
        let vlan_id = n.vlan_id.and_then(|v| in_range(self.p, "network.vlan_id", v, 1, 4094, "")).map(|v| v as u16);
        let admin_cidr = match &n.admin_cidr {
            Some(s) => self.cidr("network.admin_cidr", s),
            None => cidr,
        };
        let search_domain = n.search_domain.clone().unwrap_or_default();
        if let Some(why) = Some(&search_domain).filter(|d| !d.is_empty()).and_then(|d| super::workable::domain_problem(d)) {
            self.p.add("network.search_domain", format!("`{search_domain}` {why}"), "e.g. home.lan");
        }
        let cidr = cidr?;
        Some(Network { cidr, prefix: cidr.prefix, gateway: gateway?, dns, bridge, vlan_id, admin_cidr: admin_cidr?, search_domain })
    }

    fn proxmox(&mut self, x: &RawProxmox) -> Proxmox {
        let p = &mut *self.p;
        if !(x.endpoint.starts_with("https://") && x.endpoint.len() > "https://".len()) {
            p.add("proxmox.endpoint", format!("`{}` is not an https URL", x.endpoint), "write e.g. https://192.168.1.10:8006/");
        } else if x.endpoint.contains("/api2/") {
            p.add("proxmox.endpoint", "the endpoint must not include the API path", "write https://HOST:8006/ without /api2/json");
        }
        check_label(p, "proxmox.node", "node name", &x.node);
        let datastore = |p: &mut Problems, key: &str, v: &Option<String>, default: &str| {
            let v = v.clone().unwrap_or_else(|| default.to_string());
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                p.add(key, format!("`{v}` is not a Proxmox datastore id"), "e.g. local-lvm");
            }
            v
        };
        let vm_datastore = datastore(p, "proxmox.vm_datastore", &x.vm_datastore, "local-lvm");
        let snippets_datastore = datastore(p, "proxmox.snippets_datastore", &x.snippets_datastore, "local");
        let image_datastore = datastore(p, "proxmox.image_datastore", &x.image_datastore, "local");
        let img = &x.cloud_image;
        if !(img.url.starts_with("https://") || img.url.starts_with("http://")) {
            p.add("proxmox.cloud_image.url", format!("`{}` is not an http(s) URL", img.url), "the Proxmox download API fetches it");
        }
        if !img.file_name.ends_with(".qcow2") || img.file_name.contains('/') {
            p.add(
                "proxmox.cloud_image.file_name",
                format!("`{}` must be a plain file name ending in .qcow2", img.file_name),
                "Proxmox imports only *.qcow2 names",
            );
        }
        const ALGOS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];
        if let Some(a) = &img.checksum_algorithm
            && !ALGOS.contains(&a.as_str())
        {
            p.add("proxmox.cloud_image.checksum_algorithm", format!("unknown algorithm `{a}`"), &format!("one of: {}", ALGOS.join(", ")));
        }
        if img.checksum.is_some() != img.checksum_algorithm.is_some() {
            p.add("proxmox.cloud_image", "`checksum` and `checksum_algorithm` go together", "set both or neither");
        }
        let default_user = img.default_user.clone().unwrap_or_else(|| "debian".to_string());
        let user_ok = !default_user.is_empty()
            && default_user.len() <= 32
            && default_user.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            && default_user.as_bytes()[0].is_ascii_lowercase();
        if !user_ok {
            p.add(
                "proxmox.cloud_image.default_user",
                format!("`{default_user}` is not a Linux user name"),
                "the image's default account, e.g. `debian` or `ubuntu`",
            );
        }
        let ssh_user = x.ssh_user.clone().unwrap_or_else(|| "root".to_string());
        let ca_file = crate::stack::day2::ca_file(p, x.ca_file.as_deref(), x.insecure.unwrap_or(false));
        Proxmox {
            endpoint: x.endpoint.clone(),
            insecure: x.insecure.unwrap_or(false),
            ca_file,
            node: x.node.clone(),
            ssh_user,
            api_token: secret(p, "proxmox.api_token", x.api_token.as_ref(), "PROXMOX_VE_API_TOKEN"),
            vm_datastore,
            snippets_datastore,
            image_datastore,
            cloud_image: CloudImage {
                url: img.url.clone(),
                file_name: img.file_name.clone(),
                checksum: img.checksum.clone(),
                checksum_algorithm: img.checksum_algorithm.clone(),
                default_user,
            },
        }
    }

    fn terraform(&mut self, raw: Option<&RawTerraform>) -> TerraformSettings {
        let p = &mut *self.p;
        let t = raw.cloned().unwrap_or(RawTerraform {
            backend: None,
            state_dir: None,
            s3_bucket: None,
            s3_region: None,
            s3_endpoint: None,
            pg_conn_str: None,
            provider_version: None,
            acknowledge_recreate: None,
        });
        let backend = t.backend.clone().unwrap_or_else(|| "local".to_string());
        match backend.as_str() {
            "local" => {}
            "s3" => {
                if t.s3_bucket.is_none() || t.s3_region.is_none() {
                    p.add("terraform.backend", "the s3 backend needs `s3_bucket` and `s3_region`", "add both to [terraform]");
                }
            }
            "pg" => {
                if t.pg_conn_str.is_none() {
                    p.add("terraform.backend", "the pg backend needs `pg_conn_str`", "add `pg_conn_str = { env = \"PG_CONN_STR\" }`");
                }
            }
            other => p.add("terraform.backend", format!("unknown backend `{other}`"), "one of: local, s3, pg"),
        }
        let state_dir = t.state_dir.clone().unwrap_or_else(|| ".state".to_string());
        let normalized = state_dir.trim_start_matches("./");
        if state_dir.starts_with('/') || normalized == "generated" || normalized.starts_with("generated/") || state_dir.is_empty() {
            p.add(
                "terraform.state_dir",
                format!("`{state_dir}` is not allowed for Terraform state"),
                "use a path relative to the repository root, outside generated/, e.g. `.state`",
            );
        }
        let pg_conn_str = t.pg_conn_str.as_ref().map(|s| secret(p, "terraform.pg_conn_str", Some(s), "PG_CONN_STR"));
        // The bpg/proxmox release the generated roots require (Renovate bumps it in stack.toml).
        let provider_version = t.provider_version.clone().unwrap_or_else(|| "0.111.1".to_string());
        let parts: Vec<&str> = provider_version.split('.').collect();
        if parts.len() != 3 || !parts.iter().all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit())) {
            p.add("terraform.provider_version", format!("`{provider_version}` is not a bpg/proxmox release"), "write MAJOR.MINOR.PATCH, e.g. 0.111.1");
        }
        // Exactly this release: a later 0.x may change the schema the templates were checked
        // against (Renovate proposes each release as a stack.toml change, reviewed and tested).
        let provider_constraint = format!("= {provider_version}");
        let acknowledge_recreate = crate::stack::day2::names(p, t.acknowledge_recreate.as_deref());
        TerraformSettings {
            backend,
            state_dir,
            s3_bucket: t.s3_bucket,
            s3_region: t.s3_region,
            s3_endpoint: t.s3_endpoint,
            pg_conn_str,
            provider_version,
            provider_constraint,
            acknowledge_recreate,
        }
    }

    fn agent(&mut self, key: &str, raw: Option<&String>, default: Agent) -> Agent {
        match raw {
            None => default,
            Some(s) => Agent::parse(s).unwrap_or_else(|| {
                self.p.add(key, format!("unknown log agent `{s}`"), "one of: promtail, alloy, none");
                default
            }),
        }
    }

    fn logging(&mut self, raw: Option<&RawLogging>) -> Logging {
        let default_agent = self.agent("logging.default_agent", raw.and_then(|l| l.default_agent.as_ref()), Agent::Promtail);
        let version = |p: &mut Problems, key: &str, v: Option<&String>, default: &str| {
            let v = v.cloned().unwrap_or_else(|| default.to_string());
            if !v.split('.').all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit())) || v.split('.').count() != 3 {
                p.add(key, format!("`{v}` is not a release version"), "write MAJOR.MINOR.PATCH, e.g. 3.6.11");
            }
            v
        };
        Logging {
            default_agent,
            promtail_version: version(self.p, "logging.promtail_version", raw.and_then(|l| l.promtail_version.as_ref()), "3.6.11"),
            alloy_version: version(self.p, "logging.alloy_version", raw.and_then(|l| l.alloy_version.as_ref()), "1.18.1"),
            uses_promtail: false,
        }
    }

    fn alerting(&mut self, a: &RawAlerting) -> Alerting {
        let p = &mut *self.p;
        if a.telegram.chat_id == 0 {
            p.add("alerting.telegram.chat_id", "0 is not a Telegram chat id", "ask @userinfobot or use the group id (negative)");
        }
        Alerting {
            telegram_chat_id: a.telegram.chat_id,
            telegram_bot_token: secret(p, "alerting.telegram.bot_token", Some(&a.telegram.bot_token), "TELEGRAM_BOT_TOKEN"),
            group_wait_seconds: opt_range(p, "alerting.group_wait_seconds", a.group_wait_seconds, 15, 0, 3600, " seconds"),
            repeat_interval_hours: opt_range(p, "alerting.repeat_interval_hours", a.repeat_interval_hours, 4, 1, 168, " hours"),
            instance_down_for_seconds: opt_range(p, "alerting.instance_down_for_seconds", a.instance_down_for_seconds, 30, 0, 86_400, " seconds"),
            worst_case_detection_seconds: 0,
        }
    }

    fn tls(&mut self, raw: Option<&RawTls>) -> Tls {
        let p = &mut *self.p;
        let t = raw.cloned().unwrap_or(RawTls {
            enabled: None,
            ca_key: None,
            leaf_key: None,
            certs_dir: None,
            leaf_validity_days: None,
            renew_before_days: None,
            min_version: None,
        });
        let key_path = |p: &mut Problems, key: &str, v: Option<String>, default: &str| {
            let v = v.unwrap_or_else(|| default.to_string());
            let n = v.trim_start_matches("./");
            if v.is_empty() || n == "generated" || n.starts_with("generated/") {
                p.add(key, format!("`{v}` would put a private key under generated/"), "keep keys outside git, e.g. `.secrets/ca.key` (gitignored)");
            }
            v
        };
        let validity = opt_range(p, "tls.leaf_validity_days", t.leaf_validity_days, 397, 1, 397, " days (browsers refuse longer leaves)");
        let renew = opt_range(p, "tls.renew_before_days", t.renew_before_days, 30, 1, 396, " days");
        if renew >= validity {
            p.add(
                "tls.renew_before_days",
                format!("{renew} days is not shorter than the leaf validity ({validity} days)"),
                "a leaf would be renewed on every run",
            );
        }
        let min_version = match t.min_version.as_deref().unwrap_or("1.2") {
            "1.2" => "VersionTLS12".to_string(),
            "1.3" => "VersionTLS13".to_string(),
            other => {
                p.add("tls.min_version", format!("`{other}` is not an accepted TLS version"), "use \"1.2\" or \"1.3\"; older versions are insecure");
                "VersionTLS12".to_string()
            }
        };
        Tls {
            enabled: t.enabled.unwrap_or(true),
            ca_key: key_path(p, "tls.ca_key", t.ca_key, ".secrets/ca.key"),
            leaf_key: key_path(p, "tls.leaf_key", t.leaf_key, ".secrets/leaf.key"),
            certs_dir: certs_dir(p, t.certs_dir),
            certs: CommittedCerts::default(),
            leaf_validity_days: validity,
            renew_before_days: renew,
            min_version,
        }
    }

    fn container(&mut self, spec: &ServiceSpec, raw: Option<&RawService>, domain: &str) -> Container {
        let key = |k: &str| join(&join("services", spec.name), k);
        let p = &mut *self.p;
        let image = raw.and_then(|r| r.image.clone()).unwrap_or_else(|| spec.image.to_string());
        check_image(p, &key("image"), &image);
        let route = match raw.and_then(|r| r.route.clone()) {
            Some(r) if r.is_empty() => None,
            Some(r) => {
                if spec.port == 0 && spec.name != "traefik" {
                    p.add(key("route"), format!("{} has no web interface to route to", spec.name), "remove `route`");
                    None
                } else if spec.name == "node_exporter" {
                    // network_mode: host: `node-exporter` does not resolve on the compose network.
                    p.add(
                        key("route"),
                        "the node exporter runs on the VM's network (network_mode: host), which Traefik's routes cannot reach",
                        "remove `route`: Prometheus scrapes it at <monitoring ip>:9100",
                    );
                    None
                } else if check_label(p, &key("route"), "route", &r) {
                    Some(r)
                } else {
                    None
                }
            }
            None => spec.route.map(str::to_string),
        };
        // The node exporter takes no host_port (refused in `services`): it is on the VM's network.
        let given_host_port = raw.and_then(|r| r.host_port).filter(|_| spec.name != "node_exporter");
        let host_port = match given_host_port {
            Some(0) => None,
            Some(v) => in_range(p, &key("host_port"), v, 1, 65_535, "; 0 publishes nothing").map(|v| v as u16),
            None => spec.host_port,
        };
        let limit = opt_range(p, &key("memory_limit_mb"), raw.and_then(|r| r.memory_limit_mb), spec.memory_limit_mb, 16, 1_048_576, " MB");
        let reservation =
            opt_range(p, &key("memory_reservation_mb"), raw.and_then(|r| r.memory_reservation_mb), spec.memory_reservation_mb.min(limit), 0, 1_048_576, " MB");
        if reservation > limit {
            p.add(
                key("memory_reservation_mb"),
                format!("reservation {reservation} MB is above the limit {limit} MB"),
                "a container cannot reserve more than it may use",
            );
        }
        Container {
            name: spec.name.replace('_', "-"),
            image,
            port: spec.port,
            host: route.as_ref().map(|r| format!("{r}.{domain}")),
            route,
            host_port,
            memory_limit_mb: limit,
            memory_reservation_mb: reservation,
            plan_addition: spec.plan_addition,
        }
    }

    fn services(&mut self, raw: &BTreeMap<String, RawService>, domain: &str, targets: &Targets) -> Services {
        for (name, service) in raw {
            let Some(spec) = catalog::spec(name) else {
                let names = catalog::SERVICES.iter().map(|s| s.name);
                let hint = did_you_mean(name, names.clone())
                    .map_or_else(|| format!("the services are: {}", names.collect::<Vec<_>>().join(", ")), |n| format!("did you mean `{n}`?"));
                self.p.add(join("services", name), format!("unknown service `{name}`"), &hint);
                continue;
            };
            // The node exporter runs on the VM's own network: it publishes nothing.
            let common: Vec<&str> = COMMON_KEYS.iter().copied().filter(|k| !(spec.name == "node_exporter" && *k == "host_port")).collect();
            for key in given_keys(service) {
                if !common.contains(&key) && !spec.keys.contains(&key) {
                    let takes: Vec<&str> = common.iter().chain(spec.keys).copied().collect();
                    self.p.add(join(&join("services", name), key), format!("{name} does not take `{key}`"), &format!("its keys are: {}", takes.join(", ")));
                }
            }
        }
        let get = |name: &str| raw.get(name);
        let spec = |name: &str| catalog::spec(name).expect("catalog names are static");
        let p_key = |s: &str, k: &str| join(&join("services", s), k);

        let prometheus_raw = get("prometheus");
        let scrape_interval_seconds =
            opt_range(self.p, &p_key("prometheus", "scrape_interval_seconds"), prometheus_raw.and_then(|r| r.scrape_interval_seconds), 30, 5, 300, " seconds");
        let prometheus = Prometheus {
            container: self.container(spec("prometheus"), prometheus_raw, domain),
            retention_days: opt_range(self.p, &p_key("prometheus", "retention_days"), prometheus_raw.and_then(|r| r.retention_days), 15, 1, 3650, " days"),
            scrape_interval_seconds,
            // Prometheus's default, never above the interval.
            scrape_timeout_seconds: scrape_interval_seconds.min(10),
        };
        let grafana_raw = get("grafana");
        let grafana = Grafana {
            container: self.container(spec("grafana"), grafana_raw, domain),
            admin_user: grafana_raw.and_then(|r| r.admin_user.clone()).unwrap_or_else(|| "admin".to_string()),
            admin_password: secret(self.p, &p_key("grafana", "admin_password"), grafana_raw.and_then(|r| r.admin_password.as_ref()), "GRAFANA_ADMIN_PASSWORD"),
        };
        let traefik_raw = get("traefik");
        let dashboard = traefik_raw.and_then(|r| r.dashboard).unwrap_or(false);
        let dashboard_users = traefik_raw
            .and_then(|r| r.dashboard_users.as_ref())
            .map(|s| secret(self.p, &p_key("traefik", "dashboard_users"), Some(s), "TRAEFIK_DASHBOARD_USERS"));
        if dashboard && dashboard_users.is_none() {
            self.p.add(
                p_key("traefik", "dashboard"),
                "the dashboard needs basic auth users",
                "add `dashboard_users = { env = \"TRAEFIK_DASHBOARD_USERS\" }` (htpasswd lines)",
            );
        }
        let mut traefik_container = self.container(spec("traefik"), traefik_raw, domain);
        if dashboard && traefik_container.route.is_none() {
            traefik_container.route = Some("traefik".to_string());
            traefik_container.host = Some(format!("traefik.{domain}"));
        } else if !dashboard && traefik_raw.and_then(|r| r.route.as_ref()).is_some() {
            self.p.add(p_key("traefik", "route"), "a route for the dashboard, but the dashboard is off", "set `dashboard = true` or remove `route`");
        }
        let loki_raw = get("loki");
        let retention_key = p_key("loki", "retention_days");
        let retention_days = opt_range(self.p, &retention_key, loki_raw.and_then(|r| r.retention_days), targets.log_retention_days.max(7), 1, 3650, " days");
        if retention_days < targets.log_retention_days {
            self.p.add(
                &retention_key,
                format!("log retention of {retention_days} days is shorter than the target of {} days", targets.log_retention_days),
                &format!("set retention_days to at least {} (targets.log_retention_days)", targets.log_retention_days),
            );
        }
        // 1 h of logs searched in 5 s on 2 vCPUs: split the window so each part runs in parallel.
        let max_query_parallelism = 4;
        let split_queries_minutes = (targets.log_search_window_minutes / max_query_parallelism).clamp(5, 60);
        let loki = Loki {
            container: self.container(spec("loki"), loki_raw, domain),
            retention_days,
            retention_hours: retention_days * 24,
            split_queries_minutes,
            max_query_parallelism,
        };
        let kuma_raw = get("uptime_kuma");
        let interval = opt_range(self.p, &p_key("uptime_kuma", "interval_seconds"), kuma_raw.and_then(|r| r.interval_seconds), 30, 20, 86_400, " seconds");
        let retries = opt_range(self.p, &p_key("uptime_kuma", "retries"), kuma_raw.and_then(|r| r.retries), 2, 0, 10, "");
        let retry_interval =
            opt_range(self.p, &p_key("uptime_kuma", "retry_interval_seconds"), kuma_raw.and_then(|r| r.retry_interval_seconds), 30, 20, 86_400, " seconds");
        let worst = interval + retries * retry_interval;
        if worst > targets.failure_detection_seconds {
            self.p.add(
                p_key("uptime_kuma", "interval_seconds"),
                format!(
                    "worst-case failure detection is {interval} + {retries} × {retry_interval} = {worst} s, above the target of {} s",
                    targets.failure_detection_seconds
                ),
                "lower interval_seconds, retries or retry_interval_seconds (targets.failure_detection_seconds)",
            );
        }
        let uptime_kuma = UptimeKuma {
            container: self.container(spec("uptime_kuma"), kuma_raw, domain),
            interval_seconds: interval,
            retries,
            retry_interval_seconds: retry_interval,
            worst_case_detection_seconds: worst,
        };
        let autokuma_raw = get("autokuma");
        let autokuma = AutoKuma {
            container: self.container(spec("autokuma"), autokuma_raw, domain),
            username: autokuma_raw.and_then(|r| r.username.clone()).unwrap_or_else(|| "admin".to_string()),
            password: secret(self.p, &p_key("autokuma", "password"), autokuma_raw.and_then(|r| r.password.as_ref()), "UPTIME_KUMA_PASSWORD"),
        };
        let services = Services {
            prometheus,
            grafana,
            alertmanager: self.container(spec("alertmanager"), get("alertmanager"), domain),
            node_exporter: self.container(spec("node_exporter"), get("node_exporter"), domain),
            traefik: Traefik { container: traefik_container, dashboard, dashboard_users },
            loki,
            promtail: self.container(spec("promtail"), get("promtail"), domain),
            uptime_kuma,
            autokuma,
        };
        self.host_ports(&services);
        services
    }

    /// The VM agents push to Loki's published port: without one they have nowhere to send.
    fn agents_reach_loki(&mut self, vms: &[Vm], services: &Services) {
        let shipping: Vec<&str> = vms.iter().filter(|vm| vm.agent != Agent::None).map(|vm| vm.name.as_str()).collect();
        if services.loki.container.host_port.is_none() && !shipping.is_empty() {
            self.p.add(
                "services.loki.host_port",
                format!("Loki publishes no port, but the log agents of {} push to it", shipping.join(", ")),
                "remove `host_port = 0`, or set `log_agent = \"none\"` on those VMs",
            );
        }
    }

    fn host_ports(&mut self, services: &Services) {
        let mut used: BTreeMap<u16, String> = BTreeMap::from([
            (80, "traefik".to_string()),
            (443, "traefik".to_string()),
            // On the VM's own network (network_mode: host).
            (services.node_exporter.port, "node-exporter".to_string()),
        ]);
        for c in services.containers() {
            if let Some(port) = c.host_port {
                let key = join(&join("services", &c.name.replace('-', "_")), "host_port");
                if let Some(other) = used.insert(port, c.name.clone()) {
                    self.p.add(key, format!("host port {port} is already used by {other}"), "each published port must be unique on the monitoring VM");
                }
            }
        }
    }

    fn vm_common(&mut self, key: &str, name: &str, vm_id: i64, ip: &str, network: &Network) -> (u32, Option<Ipv4Addr>) {
        check_label(self.p, key, "VM name", name);
        let id = in_range(self.p, &join(key, "vm_id"), vm_id, 100, 999_999_999, " (Proxmox VM ids)").unwrap_or(0);
        let ip_key = join(key, "ip");
        let ip = self.ip(&ip_key, ip);
        if let Some(ip) = ip {
            let c = network.cidr;
            if !c.contains(ip) {
                self.p.add(&ip_key, format!("{ip} is outside the network {c}"), "pick an address of network.cidr");
            } else if ip == network.gateway {
                self.p.add(&ip_key, format!("{ip} is the gateway's address"), "pick a free address of network.cidr");
            } else if ip == c.network() || ip == c.broadcast() {
                self.p.add(&ip_key, format!("{ip} is the network or broadcast address of {c}"), "pick a host address");
            }
        }
        (id, ip)
    }

    fn node(&mut self, key: &str, node: Option<&String>, proxmox: &Proxmox) -> String {
        match node {
            Some(n) => {
                check_label(self.p, key, "node name", n);
                n.clone()
            }
            None => proxmox.node.clone(),
        }
    }

    fn ssh_keys(&mut self, key: &str, keys: Option<&Vec<String>>) -> Vec<String> {
        let keys = keys.cloned().unwrap_or_default();
        for (i, k) in keys.iter().enumerate() {
            if !(k.starts_with("ssh-") || k.starts_with("ecdsa-") || k.starts_with("sk-")) || k.contains('\n') {
                self.p.add(format!("{key}[{i}]"), "not an OpenSSH public key", "paste one line from ~/.ssh/id_ed25519.pub");
            }
        }
        keys
    }

    /// `[ssh] authorized_keys` go to every VM, before its own `ssh_keys`. The user data replaces
    /// Proxmox's own key injection, so a VM that Terraform provisions over SSH (the monitoring VM,
    /// every VM with a log agent) without any key could never be reached.
    fn authorize_ssh(&mut self, raw: Option<&RawSsh>, monitoring: &mut MonitoringVm, vms: &mut [Vm], proxmox: &Proxmox) {
        let common = self.ssh_keys("ssh.authorized_keys", raw.map(|s| &s.authorized_keys));
        let mut unreachable = Vec::new();
        for vm in std::iter::once(&mut monitoring.vm).chain(vms.iter_mut()) {
            let own = std::mem::take(&mut vm.ssh_keys);
            vm.ssh_keys = common.iter().chain(own.iter()).fold(Vec::new(), |mut keys, k| {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
                keys
            });
            let provisioned = vm.environment == "monitoring" || vm.agent != Agent::None;
            if provisioned && vm.ssh_keys.is_empty() {
                unreachable.push(vm.name.clone());
            }
        }
        if !unreachable.is_empty() {
            self.p.add(
                "ssh",
                format!(
                    "no SSH key is authorized on {}: Terraform logs in as `{}` to deliver the stack and install the log agents",
                    unreachable.join(", "),
                    proxmox.cloud_image.default_user
                ),
                "add `[ssh]` with `authorized_keys = [\"ssh-ed25519 AAAA... you@laptop\"]` (public keys only)",
            );
        }
    }

    fn monitoring(&mut self, m: &RawMonitoringVm, network: &Network, proxmox: &Proxmox) -> Option<MonitoringVm> {
        let (vm_id, ip) = self.vm_common("monitoring", &m.name, m.vm_id, &m.ip, network);
        let memory_mb = in_range(self.p, "monitoring.memory_mb", m.memory_mb, 1024, 1_048_576, " MB").unwrap_or(0);
        let os_reserve_mb = opt_range(self.p, "monitoring.os_reserve_mb", m.os_reserve_mb, 512, 128, 65_536, " MB");
        let abs_dir = |p: &mut Problems, key: &str, v: Option<&String>, default: &str| {
            let v = v.cloned().unwrap_or_else(|| default.to_string());
            if !v.starts_with('/') || v.contains("..") || v.len() < 2 || v.contains(char::is_whitespace) {
                p.add(key, format!("`{v}` is not an absolute directory on the VM"), &format!("e.g. {default}"));
            }
            v.trim_end_matches('/').to_string()
        };
        let stack_dir = abs_dir(self.p, "monitoring.stack_dir", m.stack_dir.as_ref(), "/opt/monitoring");
        let secrets_dir = abs_dir(self.p, "monitoring.secrets_dir", m.secrets_dir.as_ref(), "/etc/monitoring-secrets");
        if secrets_dir == stack_dir || secrets_dir.starts_with(&format!("{stack_dir}/")) {
            self.p.add(
                "monitoring.secrets_dir",
                "the secrets directory is inside the delivered stack directory",
                "keep it apart, e.g. /etc/monitoring-secrets",
            );
        }
        let vm = Vm {
            name: m.name.clone(),
            vm_id,
            ip: ip?,
            environment: "monitoring".to_string(),
            cores: opt_range(self.p, "monitoring.cores", m.cores, 2, 1, 128, ""),
            memory_mb,
            disk_gb: opt_range(self.p, "monitoring.disk_gb", m.disk_gb, 32, 8, 65_536, " GB"),
            node: self.node("monitoring.node", m.node.as_ref(), proxmox),
            // Its logs are shipped by the compose stack's Promtail container, not by a host agent.
            agent: Agent::None,
            agent_metrics_port: None,
            tags: vec!["monitoring".to_string(), "terraform".to_string()],
            ssh_keys: self.ssh_keys("monitoring.ssh_keys", m.ssh_keys.as_ref()),
            docker: true,
        };
        Some(MonitoringVm { vm, os_reserve_mb, stack_dir, secrets_dir })
    }

    fn vms(&mut self, raw: &BTreeMap<String, RawVm>, monitoring: &MonitoringVm, network: &Network, proxmox: &Proxmox, logging: &Logging) -> Vec<Vm> {
        let mut names = BTreeMap::from([(monitoring.vm.name.clone(), "monitoring".to_string())]);
        let mut ids = BTreeMap::from([(monitoring.vm.vm_id, "monitoring".to_string())]);
        let mut ips = BTreeMap::from([(monitoring.vm.ip, "monitoring".to_string())]);
        let mut out = Vec::new();
        for (name, r) in raw {
            let key = join("vms", name);
            let (vm_id, ip) = self.vm_common(&key, name, r.vm_id, &r.ip, network);
            if let Some(other) = names.insert(name.clone(), key.clone()) {
                self.p.add(&key, format!("VM name `{name}` is already used by {other}"), "VM names must be unique across the lab");
            }
            if vm_id != 0
                && let Some(other) = ids.insert(vm_id, key.clone())
            {
                self.p.add(join(&key, "vm_id"), format!("vm_id {vm_id} is already used by {other}"), "Proxmox VM ids must be unique");
            }
            if let Some(ip) = ip
                && let Some(other) = ips.insert(ip, key.clone())
            {
                self.p.add(join(&key, "ip"), format!("{ip} is already used by {other}"), "each VM needs its own address");
            }
            let env_key = join(&key, "environment");
            if check_label(self.p, &env_key, "environment", &r.environment) && r.environment == "monitoring" {
                self.p.add(&env_key, "`monitoring` is reserved for the monitoring VM", "use e.g. `prod` or `staging`");
            }
            let agent = self.agent(&join(&key, "log_agent"), r.log_agent.as_ref(), logging.default_agent);
            let mut tags = r.tags.clone().unwrap_or_default();
            for (i, t) in tags.iter().enumerate() {
                if !is_dns_label(t) {
                    self.p.add(format!("{key}.tags[{i}]"), format!("tag `{t}` is not a valid Proxmox tag"), "lowercase letters, digits and hyphens");
                }
            }
            tags.push(r.environment.clone());
            tags.push("terraform".to_string());
            tags.sort();
            tags.dedup();
            let Some(ip) = ip else { continue };
            out.push(Vm {
                name: name.clone(),
                vm_id,
                ip,
                environment: r.environment.clone(),
                cores: opt_range(self.p, &join(&key, "cores"), r.cores, 2, 1, 128, ""),
                memory_mb: opt_range(self.p, &join(&key, "memory_mb"), r.memory_mb, 2048, 512, 1_048_576, " MB"),
                disk_gb: opt_range(self.p, &join(&key, "disk_gb"), r.disk_gb, 20, 4, 65_536, " GB"),
                node: self.node(&join(&key, "node"), r.node.as_ref(), proxmox),
                agent,
                agent_metrics_port: agent.metrics_port(),
                tags,
                ssh_keys: self.ssh_keys(&join(&key, "ssh_keys"), r.ssh_keys.as_ref()),
                docker: r.docker.unwrap_or(false),
            });
        }
        out
    }

    fn routes(&mut self, raw: &BTreeMap<String, RawRoute>, services: &Services, vms: &[Vm], monitoring: &MonitoringVm, domain: &str) -> Vec<Route> {
        let mut routes = Vec::new();
        for c in services.containers() {
            let (Some(route), Some(host)) = (&c.route, &c.host) else { continue };
            let internal = c.name == "traefik";
            let url = if internal { String::new() } else { format!("http://{}:{}", c.name, c.port) };
            routes.push((
                join(&join("services", &c.name.replace('-', "_")), "route"),
                Route { name: route.clone(), host: host.clone(), url, service: (!internal).then(|| c.name.clone()), vm: None, health_path: None, internal },
            ));
        }
        for (name, r) in raw {
            let key = join("routes", name);
            check_label(self.p, &key, "route", name);
            let port = in_range(self.p, &join(&key, "port"), r.port, 1, 65_535, "").unwrap_or(0);
            let scheme = r.scheme.clone().unwrap_or_else(|| "http".to_string());
            if scheme != "http" && scheme != "https" {
                self.p.add(join(&key, "scheme"), format!("unknown scheme `{scheme}`"), "http or https");
            }
            let target = if r.vm == monitoring.vm.name { Some(monitoring.vm.ip) } else { vms.iter().find(|v| v.name == r.vm).map(|v| v.ip) };
            let Some(ip) = target else {
                let names = vms.iter().map(|v| v.name.as_str()).chain([monitoring.vm.name.as_str()]);
                let hint = did_you_mean(&r.vm, names).map_or("name a VM of [vms] or the monitoring VM".to_string(), |n| format!("did you mean `{n}`?"));
                self.p.add(join(&key, "vm"), format!("no VM named `{}`", r.vm), &hint);
                continue;
            };
            if r.vm == monitoring.vm.name && port != 0 {
                self.monitoring_port(&key, name, port as u16, services);
            }
            if let Some(path) = &r.health_path
                && (!path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()))
            {
                self.p.add(
                    join(&key, "health_path"),
                    format!("`{path}` is not an absolute URL path"),
                    "write e.g. \"/healthz\": a path that answers 2xx or 3xx without logging in",
                );
            }
            let health_path = r.health_path.clone();
            let route = Route {
                name: name.clone(),
                host: format!("{name}.{domain}"),
                url: format!("{scheme}://{ip}:{port}"),
                service: None,
                vm: Some(r.vm.clone()),
                health_path,
                internal: false,
            };
            routes.push((key, route));
        }
        let mut hosts: BTreeMap<String, String> = BTreeMap::new();
        for (key, route) in &routes {
            if let Some(other) = hosts.insert(route.host.clone(), key.clone()) {
                self.p.add(key, format!("host {} is already routed by {other}", route.host), &format!("each host has one route: rename [{key}] or {other}"));
            }
            if route.host.len() > 253 {
                self.p.add(key, format!("host `{}` is longer than the 253 characters of a domain name", route.host), "shorten the route name or the domain");
            }
        }
        let mut routes: Vec<Route> = routes.into_iter().map(|(_, r)| r).collect();
        routes.sort_by(|a, b| a.host.cmp(&b.host));
        routes
    }

    /// A `[routes]` entry to the monitoring VM must not target what the compose stack already
    /// uses there: Traefik's own entry points (a loop), or a service's port, which a route by IP
    /// either cannot reach (inside the compose network) or reaches around its own route.
    fn monitoring_port(&mut self, key: &str, name: &str, port: u16, services: &Services) {
        let port_key = join(key, "port");
        if port == 80 || port == 443 {
            self.p.add(
                port_key,
                format!("port {port} of the monitoring VM is Traefik's own entry point: the route would loop back into Traefik"),
                "route to the port the application itself listens on",
            );
            return;
        }
        for c in services.containers() {
            let what = if c.host_port == Some(port) {
                "published port".to_string()
            } else if c.port == port {
                "port inside the compose network, which a route by IP cannot reach".to_string()
            } else {
                continue;
            };
            let routable = c.name != "traefik" && c.name != "autokuma";
            let hint = if let (true, Some(host)) = (routable, &c.host) {
                format!("{} is already routed as {host}: remove [{key}]", c.name)
            } else if routable {
                format!("route the service itself: set `route = \"{name}\"` in [services.{}] and remove [{key}]", c.name.replace('-', "_"))
            } else {
                "pick a port that nothing of the monitoring stack uses".to_string()
            };
            self.p.add(port_key, format!("port {port} of the monitoring VM is {}'s {what}", c.name), &hint);
            return;
        }
    }

    fn memory(&mut self, services: &Services, monitoring: &MonitoringVm, targets: &Targets) -> MemoryBudget {
        let limits: u32 = services.containers().iter().map(|c| c.memory_limit_mb).sum();
        let additions: u32 = services.containers().iter().filter(|c| c.plan_addition).map(|c| c.memory_reservation_mb).sum();
        let vm_mb = monitoring.vm.memory_mb;
        // A memory_mb out of range (0 here) is already reported; comparing with it says nothing.
        if vm_mb > 0 && limits + monitoring.os_reserve_mb > vm_mb {
            let parts: Vec<String> = services.containers().iter().map(|c| format!("{} {}", c.name, c.memory_limit_mb)).collect();
            self.p.add(
                "monitoring.memory_mb",
                format!("container memory limits ({limits} MB) plus the OS reserve ({} MB) exceed the VM's {vm_mb} MB", monitoring.os_reserve_mb),
                &format!("raise monitoring.memory_mb to at least {} or lower memory_limit_mb of: {}", limits + monitoring.os_reserve_mb, parts.join(", ")),
            );
        }
        if additions > targets.added_memory_mb {
            self.p.add(
                "targets.added_memory_mb",
                format!("the plan's additions reserve {additions} MB, above the target of {} MB", targets.added_memory_mb),
                "lower memory_reservation_mb of traefik, loki, promtail, uptime_kuma or autokuma",
            );
        }
        MemoryBudget {
            vm_mb,
            os_reserve_mb: monitoring.os_reserve_mb,
            limits_mb: limits,
            additions_reserved_mb: additions,
            additions_target_mb: targets.added_memory_mb,
        }
    }

    /// Prometheus path: a host that stops answering is seen down when a scrape times out, the
    /// next rule evaluation sees `up == 0`, the alert fires after `for`, and Alertmanager waits
    /// `group_wait` before the first message.
    fn detection(&mut self, mut alerting: Alerting, services: &Services, targets: &Targets) -> Alerting {
        let p = &services.prometheus;
        let (scrape, timeout) = (p.scrape_interval_seconds, p.scrape_timeout_seconds);
        let worst = scrape + timeout + scrape + alerting.instance_down_for_seconds + alerting.group_wait_seconds;
        if worst > targets.failure_detection_seconds {
            self.p.add(
                "alerting.instance_down_for_seconds",
                format!(
                    "a down host is reported after up to {scrape} + {timeout} + {scrape} + {} + {} = {worst} s (scrape interval + scrape timeout + rule evaluation + for + group wait), above the target of {} s",
                    alerting.instance_down_for_seconds, alerting.group_wait_seconds, targets.failure_detection_seconds
                ),
                "lower instance_down_for_seconds, group_wait_seconds or services.prometheus.scrape_interval_seconds",
            );
        }
        alerting.worst_case_detection_seconds = worst;
        alerting
    }
}

/// The keys a `[services.NAME]` table sets, by their stack.toml names.
fn given_keys(s: &RawService) -> Vec<&'static str> {
    let mut keys = Vec::new();
    let mut given = |set: bool, key: &'static str| {
        if set {
            keys.push(key);
        }
    };
    given(s.image.is_some(), "image");
    given(s.route.is_some(), "route");
    given(s.host_port.is_some(), "host_port");
    given(s.memory_limit_mb.is_some(), "memory_limit_mb");
    given(s.memory_reservation_mb.is_some(), "memory_reservation_mb");
    given(s.retention_days.is_some(), "retention_days");
    given(s.scrape_interval_seconds.is_some(), "scrape_interval_seconds");
    given(s.admin_user.is_some(), "admin_user");
    given(s.admin_password.is_some(), "admin_password");
    given(s.dashboard.is_some(), "dashboard");
    given(s.dashboard_users.is_some(), "dashboard_users");
    given(s.interval_seconds.is_some(), "interval_seconds");
    given(s.retries.is_some(), "retries");
    given(s.retry_interval_seconds.is_some(), "retry_interval_seconds");
    given(s.username.is_some(), "username");
    given(s.password.is_some(), "password");
    keys
}
