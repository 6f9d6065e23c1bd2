//! The services the monitoring stack knows, one entry each: its stack.toml key, compose name,
//! pinned image, ports, health path, scrape job, volumes, memory defaults, whether it may be
//! routed, and which stack.toml keys it takes. Validation, the compose file, Traefik, Prometheus
//! and the memory budget all iterate over this list (ARCHITECTURE.md, "Adding a service").
//!
//! Images are pinned defaults that Renovate keeps current (renovate.json's regex manager reads
//! the `image: "..."` lines of this file); `[services.KEY] image` in stack.toml overrides them.

/// Keys every service takes (a service on the VM's network takes no `host_port`).
pub const COMMON_KEYS: &[&str] = &["image", "route", "host_port", "memory_limit_mb", "memory_reservation_mb"];

#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// Its table in stack.toml, `[services.KEY]`; its compose partial is
    /// `infrastructure/templates/compose/services/_KEY.yml.j2`.
    pub key: &'static str,
    /// Its name in docker-compose.yml and on the compose network (what Traefik and Prometheus
    /// reach it by), and in messages.
    pub compose: &'static str,
    pub image: &'static str,
    /// Port the container listens on (its web interface or metrics); 0 for none.
    pub port: u16,
    /// The path that answers 2xx once it is ready: the health check of its route in Traefik and
    /// its readiness monitor in Uptime Kuma.
    pub health_path: Option<&'static str>,
    /// Prometheus's job for it, if Prometheus scrapes it.
    pub scrape: Option<Scrape>,
    /// Named volumes it owns, declared under `volumes:` of docker-compose.yml.
    pub volumes: &'static [&'static str],
    /// Its place in docker-compose.yml (ascending; equal places keep the catalog's order).
    pub compose_place: u8,
    /// Whether a `route` may name it, and the default route (subdomain), if any.
    pub routing: Routing,
    pub route: Option<&'static str>,
    /// It runs on the VM's own network (`network_mode: host`): no `host_port`, no route, and
    /// its port is taken on the monitoring VM itself.
    pub host_network: bool,
    pub host_port: Option<u16>,
    pub memory_limit_mb: u32,
    pub memory_reservation_mb: u32,
    /// One of the original plan's additions, counted against `targets.added_memory_mb`.
    pub plan_addition: bool,
    /// Keys this service takes besides `COMMON_KEYS`.
    pub keys: &'static [&'static str],
}

/// Whether Traefik may route a subdomain to a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// `route = "NAME"` routes `NAME.<domain>` to its port.
    Web,
    /// Traefik itself: its route is the dashboard (`api@internal`), only when the dashboard is on.
    Dashboard,
    /// `route` is refused with this reason.
    Refused(&'static str),
}

/// A Prometheus scrape job of a service.
#[derive(Debug, Clone, Copy)]
pub struct Scrape {
    pub job: &'static str,
    /// Where the job's targets are.
    pub at: ScrapeAt,
    /// Its place in prometheus.yml (ascending; equal places keep the catalog's order).
    pub place: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScrapeAt {
    /// `COMPOSE:PORT` on the compose network.
    Compose,
    /// `localhost:PORT`: Prometheus scraping itself.
    Localhost,
    /// The monitoring VM's address and every VM's, at `PORT` (the node exporter runs on each).
    EveryVm,
    /// This container, then the log agent of every VM that runs one, at the agent's port.
    LogAgents,
}

pub const SERVICES: &[ServiceSpec] = &[
    ServiceSpec {
        key: "prometheus",
        compose: "prometheus",
        image: "prom/prometheus:v3.14.0",
        port: 9090,
        health_path: Some("/-/ready"),
        scrape: Some(Scrape { job: "prometheus", at: ScrapeAt::Localhost, place: 1 }),
        volumes: &["prometheus-data"],
        compose_place: 2,
        routing: Routing::Web,
        route: Some("prometheus"),
        host_network: false,
        host_port: None,
        memory_limit_mb: 1024,
        memory_reservation_mb: 512,
        plan_addition: false,
        keys: &["retention_days", "retention_hours", "scrape_interval_seconds", "remote_write"],
    },
    ServiceSpec {
        key: "grafana",
        compose: "grafana",
        image: "grafana/grafana:13.3.0",
        port: 3000,
        health_path: Some("/api/health"),
        scrape: Some(Scrape { job: "grafana", at: ScrapeAt::Compose, place: 3 }),
        volumes: &["grafana-data"],
        compose_place: 4,
        routing: Routing::Web,
        route: Some("grafana"),
        host_network: false,
        host_port: None,
        memory_limit_mb: 512,
        memory_reservation_mb: 256,
        plan_addition: false,
        keys: &["admin_user", "admin_password"],
    },
    ServiceSpec {
        key: "alertmanager",
        compose: "alertmanager",
        image: "prom/alertmanager:v0.34.0",
        port: 9093,
        health_path: Some("/-/ready"),
        scrape: Some(Scrape { job: "alertmanager", at: ScrapeAt::Compose, place: 2 }),
        volumes: &["alertmanager-data"],
        compose_place: 3,
        routing: Routing::Web,
        route: Some("alertmanager"),
        host_network: false,
        host_port: None,
        memory_limit_mb: 128,
        memory_reservation_mb: 64,
        plan_addition: false,
        keys: &[],
    },
    ServiceSpec {
        key: "node_exporter",
        compose: "node-exporter",
        image: "prom/node-exporter:v1.12.1",
        port: 9100,
        health_path: Some("/metrics"),
        scrape: Some(Scrape { job: "node", at: ScrapeAt::EveryVm, place: 6 }),
        volumes: &[],
        compose_place: 5,
        // network_mode: host: `node-exporter` does not resolve on the compose network.
        routing: Routing::Refused("the node exporter runs on the VM's network (network_mode: host), which Traefik's routes cannot reach"),
        route: None,
        host_network: true,
        host_port: None,
        memory_limit_mb: 64,
        memory_reservation_mb: 32,
        plan_addition: false,
        keys: &[],
    },
    ServiceSpec {
        key: "traefik",
        compose: "traefik",
        image: "traefik:v3.7.9",
        // The metrics and ping entry point; the routes' entry points are 80 and 443.
        port: 8082,
        health_path: None,
        scrape: Some(Scrape { job: "traefik", at: ScrapeAt::Compose, place: 4 }),
        volumes: &[],
        compose_place: 1,
        routing: Routing::Dashboard,
        route: None,
        host_network: false,
        host_port: None,
        memory_limit_mb: 128,
        memory_reservation_mb: 32,
        plan_addition: true,
        keys: &["dashboard", "dashboard_users"],
    },
    ServiceSpec {
        key: "loki",
        compose: "loki",
        image: "grafana/loki:3.7.6",
        port: 3100,
        health_path: Some("/ready"),
        scrape: Some(Scrape { job: "loki", at: ScrapeAt::Compose, place: 5 }),
        volumes: &["loki-data"],
        compose_place: 6,
        routing: Routing::Web,
        route: None,
        host_network: false,
        host_port: Some(3100),
        memory_limit_mb: 768,
        memory_reservation_mb: 160,
        plan_addition: true,
        keys: &["retention_days", "storage", "s3"],
    },
    ServiceSpec {
        key: "promtail",
        compose: "promtail",
        image: "grafana/promtail:3.6.11",
        port: 9080,
        health_path: Some("/ready"),
        scrape: Some(Scrape { job: "log-agents", at: ScrapeAt::LogAgents, place: 7 }),
        volumes: &["promtail-positions"],
        compose_place: 7,
        routing: Routing::Web,
        route: None,
        host_network: false,
        host_port: None,
        memory_limit_mb: 128,
        memory_reservation_mb: 32,
        plan_addition: true,
        keys: &[],
    },
    ServiceSpec {
        key: "uptime_kuma",
        compose: "uptime-kuma",
        image: "louislam/uptime-kuma:2.5.3",
        port: 3001,
        health_path: Some("/api/entry-page"),
        scrape: None,
        volumes: &["uptime-kuma-data"],
        compose_place: 8,
        routing: Routing::Web,
        route: Some("uptime"),
        host_network: false,
        host_port: None,
        memory_limit_mb: 384,
        memory_reservation_mb: 96,
        plan_addition: true,
        keys: &["interval_seconds", "retries", "retry_interval_seconds"],
    },
    ServiceSpec {
        key: "autokuma",
        compose: "autokuma",
        image: "ghcr.io/bigboot/autokuma:2.0.0",
        port: 0,
        health_path: None,
        scrape: None,
        volumes: &["autokuma-data"],
        compose_place: 9,
        routing: Routing::Refused("autokuma has no web interface to route to"),
        route: None,
        host_network: false,
        host_port: None,
        memory_limit_mb: 64,
        memory_reservation_mb: 16,
        plan_addition: true,
        keys: &["username", "password"],
    },
];

/// Defaults of the services' own settings (their keys beyond `COMMON_KEYS`), when stack.toml
/// leaves them out.
pub mod defaults {
    pub const PROMETHEUS_RETENTION_DAYS: u32 = 15;
    pub const PROMETHEUS_SCRAPE_INTERVAL_SECONDS: u32 = 30;
    /// Prometheus's own default scrape timeout; the timeout is never above the interval.
    pub const PROMETHEUS_SCRAPE_TIMEOUT_SECONDS: u32 = 10;
    pub const GRAFANA_ADMIN_USER: &str = "admin";
    /// Loki keeps logs at least this long, and at least `targets.log_retention_days`.
    pub const LOKI_MIN_RETENTION_DAYS: u32 = 7;
    pub const UPTIME_KUMA_INTERVAL_SECONDS: u32 = 30;
    pub const UPTIME_KUMA_RETRIES: u32 = 2;
    pub const UPTIME_KUMA_RETRY_INTERVAL_SECONDS: u32 = 30;
    pub const AUTOKUMA_USERNAME: &str = "admin";
    /// The bpg/proxmox release when `terraform.provider_version` is not given, and the agents'
    /// releases when `logging.promtail_version` / `logging.alloy_version` are not: Renovate's
    /// regex managers bump these lines as they bump stack.toml's (renovate.json).
    pub const PROVIDER_VERSION: &str = "0.111.1";
    pub const PROMTAIL_VERSION: &str = "3.6.11";
    pub const ALLOY_VERSION: &str = "1.18.1";
}

/// The entry of `key` in `catalog`.
pub fn spec<'a>(catalog: &'a [ServiceSpec], key: &str) -> Option<&'a ServiceSpec> {
    catalog.iter().find(|s| s.key == key)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_entry_is_unique_where_it_must_be_and_has_its_partial() {
        let distinct = |what: &str, items: Vec<String>| {
            let set: BTreeSet<&String> = items.iter().collect();
            assert_eq!(set.len(), items.len(), "two entries share a {what}: {items:?}");
        };
        distinct("key", SERVICES.iter().map(|s| s.key.to_string()).collect());
        distinct("compose name", SERVICES.iter().map(|s| s.compose.to_string()).collect());
        distinct("compose place", SERVICES.iter().map(|s| s.compose_place.to_string()).collect());
        distinct("scrape job", SERVICES.iter().filter_map(|s| s.scrape).map(|j| j.job.to_string()).collect());
        distinct("scrape place", SERVICES.iter().filter_map(|s| s.scrape).map(|j| j.place.to_string()).collect());
        distinct("volume", SERVICES.iter().flat_map(|s| s.volumes.iter().map(|v| v.to_string())).collect());
        let templates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../infrastructure/templates/compose/services");
        // `Services` serializes its plain containers next to its own fields.
        let fields = ["compose", "volumes", "scrape_jobs", "plain", "keys"];
        for s in SERVICES {
            assert!(templates.join(format!("_{}.yml.j2", s.key)).is_file(), "{}: no compose partial", s.key);
            assert!(!fields.contains(&s.key), "{}: a field name of `Services`", s.key);
            assert!(s.image.rsplit_once(':').is_some_and(|(_, tag)| !tag.is_empty() && tag != "latest"), "{}: image not pinned", s.key);
            assert!(s.health_path.is_none_or(|p| p.starts_with('/')), "{}: health path", s.key);
            assert!(s.routing != Routing::Web || s.port != 0, "{}: routable with no port", s.key);
        }
    }
}
