//! `[targets]`, `[terraform]`, `[logging]` and `[alerting]`: defaults and range rules.

use super::*;

impl Validator<'_> {
    pub(super) fn targets(&mut self, raw: Option<&RawTargets>) -> Targets {
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
            failure_detection_seconds: opt_range(
                p,
                "targets.failure_detection_seconds",
                t.failure_detection_seconds,
                120,
                20,
                86_400,
                " seconds (Uptime Kuma checks at most every 20 s)",
            ),
            log_retention_days: opt_range(p, "targets.log_retention_days", t.log_retention_days, 7, 1, 3_650, " days"),
            added_memory_mb: opt_range(p, "targets.added_memory_mb", t.added_memory_mb, 350, 1, 1_048_576, " MB"),
        }
    }

    pub(super) fn terraform(&mut self, raw: Option<&RawTerraform>) -> TerraformSettings {
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
            retired_environments: None,
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
        let provider_version = t.provider_version.clone().unwrap_or_else(|| defaults::PROVIDER_VERSION.to_string());
        let parts: Vec<&str> = provider_version.split('.').collect();
        if parts.len() != 3 || !parts.iter().all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit())) {
            p.add("terraform.provider_version", format!("`{provider_version}` is not a bpg/proxmox release"), "write MAJOR.MINOR.PATCH, e.g. 0.111.1");
        }
        // Exactly this release: a later 0.x may change the schema the templates were checked
        // against (Renovate proposes each release as a stack.toml change, reviewed and tested).
        let provider_constraint = format!("= {provider_version}");
        let acknowledge_recreate = crate::stack::day2::names(p, t.acknowledge_recreate.as_deref());
        let retired_environments = crate::stack::day2::retired(p, t.retired_environments.as_deref());
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
            retired_environments,
        }
    }

    pub(super) fn agent(&mut self, key: &str, raw: Option<&String>, default: Agent) -> Agent {
        match raw {
            None => default,
            Some(s) => Agent::parse(s).unwrap_or_else(|| {
                self.p.add(key, format!("unknown log agent `{s}`"), "one of: promtail, alloy, none");
                default
            }),
        }
    }

    pub(super) fn logging(&mut self, raw: Option<&RawLogging>) -> Logging {
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
            promtail_version: version(self.p, "logging.promtail_version", raw.and_then(|l| l.promtail_version.as_ref()), defaults::PROMTAIL_VERSION),
            alloy_version: version(self.p, "logging.alloy_version", raw.and_then(|l| l.alloy_version.as_ref()), defaults::ALLOY_VERSION),
        }
    }

    /// `[alerting]`, with the worst-case detection time its settings and Prometheus' give.
    pub(super) fn alerting(&mut self, a: &RawAlerting, services: &Services, targets: &Targets) -> Alerting {
        let p = &mut *self.p;
        if a.telegram.chat_id == 0 {
            p.add("alerting.telegram.chat_id", "0 is not a Telegram chat id", "ask @userinfobot or use the group id (negative)");
        }
        let telegram_bot_token = secret(p, "alerting.telegram.bot_token", Some(&a.telegram.bot_token), "TELEGRAM_BOT_TOKEN");
        let group_wait_seconds = opt_range(p, "alerting.group_wait_seconds", a.group_wait_seconds, 15, 0, 3600, " seconds");
        let repeat_interval_hours = opt_range(p, "alerting.repeat_interval_hours", a.repeat_interval_hours, 4, 1, 168, " hours");
        let instance_down_for_seconds = opt_range(p, "alerting.instance_down_for_seconds", a.instance_down_for_seconds, 30, 0, 86_400, " seconds");
        Alerting {
            telegram_chat_id: a.telegram.chat_id,
            telegram_bot_token,
            group_wait_seconds,
            repeat_interval_hours,
            instance_down_for_seconds,
            worst_case_detection_seconds: self.detection(instance_down_for_seconds, group_wait_seconds, services, targets),
        }
    }
}
