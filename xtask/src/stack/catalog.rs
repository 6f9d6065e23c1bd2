//! The services the monitoring stack knows: their defaults and which stack.toml keys each takes.
//!
//! Images are pinned defaults that Renovate keeps current (renovate.json's regex manager reads
//! this file); `[services.NAME] image` in stack.toml overrides them.

/// Keys every service takes.
pub const COMMON_KEYS: &[&str] = &["image", "route", "host_port", "memory_limit_mb", "memory_reservation_mb"];

pub struct ServiceSpec {
    pub name: &'static str,
    pub image: &'static str,
    pub port: u16,
    pub route: Option<&'static str>,
    pub host_port: Option<u16>,
    pub memory_limit_mb: u32,
    pub memory_reservation_mb: u32,
    pub plan_addition: bool,
    /// Keys this service takes besides `COMMON_KEYS`.
    pub keys: &'static [&'static str],
}

pub const SERVICES: &[ServiceSpec] = &[
    ServiceSpec {
        name: "prometheus",
        image: "prom/prometheus:v3.14.0",
        port: 9090,
        route: Some("prometheus"),
        host_port: None,
        memory_limit_mb: 1024,
        memory_reservation_mb: 512,
        plan_addition: false,
        keys: &["retention_days", "scrape_interval_seconds"],
    },
    ServiceSpec {
        name: "grafana",
        image: "grafana/grafana:13.3.0",
        port: 3000,
        route: Some("grafana"),
        host_port: None,
        memory_limit_mb: 512,
        memory_reservation_mb: 256,
        plan_addition: false,
        keys: &["admin_user", "admin_password"],
    },
    ServiceSpec {
        name: "alertmanager",
        image: "prom/alertmanager:v0.34.0",
        port: 9093,
        route: Some("alertmanager"),
        host_port: None,
        memory_limit_mb: 128,
        memory_reservation_mb: 64,
        plan_addition: false,
        keys: &[],
    },
    ServiceSpec {
        name: "node_exporter",
        image: "prom/node-exporter:v1.12.1",
        port: 9100,
        route: None,
        host_port: None,
        memory_limit_mb: 64,
        memory_reservation_mb: 32,
        plan_addition: false,
        keys: &[],
    },
    ServiceSpec {
        name: "traefik",
        image: "traefik:v3.7.9",
        port: 8082,
        route: None,
        host_port: None,
        memory_limit_mb: 128,
        memory_reservation_mb: 32,
        plan_addition: true,
        keys: &["dashboard", "dashboard_users"],
    },
    ServiceSpec {
        name: "loki",
        image: "grafana/loki:3.7.6",
        port: 3100,
        route: None,
        host_port: Some(3100),
        memory_limit_mb: 768,
        memory_reservation_mb: 160,
        plan_addition: true,
        keys: &["retention_days", "storage", "s3"],
    },
    ServiceSpec {
        name: "promtail",
        image: "grafana/promtail:3.6.11",
        port: 9080,
        route: None,
        host_port: None,
        memory_limit_mb: 128,
        memory_reservation_mb: 32,
        plan_addition: true,
        keys: &[],
    },
    ServiceSpec {
        name: "uptime_kuma",
        image: "louislam/uptime-kuma:2.5.3",
        port: 3001,
        route: Some("uptime"),
        host_port: None,
        memory_limit_mb: 384,
        memory_reservation_mb: 96,
        plan_addition: true,
        keys: &["interval_seconds", "retries", "retry_interval_seconds"],
    },
    ServiceSpec {
        name: "autokuma",
        image: "ghcr.io/bigboot/autokuma:2.0.0",
        port: 0,
        route: None,
        host_port: None,
        memory_limit_mb: 64,
        memory_reservation_mb: 16,
        plan_addition: true,
        keys: &["username", "password"],
    },
];

pub fn spec(name: &str) -> Option<&'static ServiceSpec> {
    SERVICES.iter().find(|s| s.name == name)
}
