//! Raw input: stack.toml mirrored 1:1 with serde, as close to what the user typed as possible.
//!
//! Every struct denies unknown fields so that a typo is an error with a location, never a silently
//! ignored key. Defaults and meaning live in `validate/`, not here: an absent key is `None`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The top-level sections of stack.toml, in the order the example file shows them.
pub const SECTIONS: &[&str] =
    &["schema_version", "domain", "targets", "proxmox", "network", "terraform", "monitoring", "vms", "logging", "alerting", "tls", "services", "routes", "ssh"];

/// The whole file. Each section is filled by `parse.rs` on its own, so that one broken section
/// does not hide the problems of the others.
#[derive(Debug, Default)]
pub struct RawStack {
    pub schema_version: Option<i64>,
    pub domain: Option<String>,
    pub targets: Option<RawTargets>,
    pub proxmox: Option<RawProxmox>,
    pub network: Option<RawNetwork>,
    pub terraform: Option<RawTerraform>,
    pub monitoring: Option<RawMonitoringVm>,
    pub vms: BTreeMap<String, RawVm>,
    pub logging: Option<RawLogging>,
    pub alerting: Option<RawAlerting>,
    pub tls: Option<RawTls>,
    pub services: BTreeMap<String, RawService>,
    pub routes: BTreeMap<String, RawRoute>,
    pub ssh: Option<RawSsh>,
}

/// A secret is never a value in stack.toml: it names where the value lives.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum RawSecret {
    /// `{ env = "NAME" }`: read from the environment of whoever runs Terraform.
    Ref(RawSecretRef),
    /// Anything else (a plain string) is refused by validation, with a hint.
    Literal(String),
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RawSecretRef {
    pub env: String,
}

/// The original plan's performance targets, as data that validation checks the stack against.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTargets {
    pub proxy_overhead_ms: Option<i64>,
    pub log_search_window_minutes: Option<i64>,
    pub log_search_seconds: Option<i64>,
    pub failure_detection_seconds: Option<i64>,
    pub log_retention_days: Option<i64>,
    pub added_memory_mb: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProxmox {
    pub endpoint: String,
    pub insecure: Option<bool>,
    pub ca_file: Option<String>,
    pub node: String,
    /// The cluster's nodes (optional): every node a VM names must be one of them.
    pub nodes: Option<Vec<String>>,
    pub ssh_user: Option<String>,
    pub api_token: Option<RawSecret>,
    pub vm_datastore: Option<String>,
    pub snippets_datastore: Option<String>,
    pub image_datastore: Option<String>,
    pub cloud_image: RawCloudImage,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCloudImage {
    pub url: String,
    pub file_name: String,
    pub checksum: Option<String>,
    pub checksum_algorithm: Option<String>,
    /// The image's default account, which gets the SSH keys (Terraform's provisioners log in as it).
    pub default_user: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    pub cidr: String,
    pub gateway: String,
    pub dns: Vec<String>,
    pub bridge: Option<String>,
    pub vlan_id: Option<i64>,
    pub admin_cidr: Option<String>,
    pub search_domain: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTerraform {
    pub backend: Option<String>,
    pub state_dir: Option<String>,
    pub s3_bucket: Option<String>,
    pub s3_region: Option<String>,
    pub s3_endpoint: Option<String>,
    pub pg_conn_str: Option<RawSecret>,
    pub provider_version: Option<String>,
    pub acknowledge_recreate: Option<Vec<String>>,
    pub retired_environments: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMonitoringVm {
    pub name: String,
    pub vm_id: i64,
    pub ip: String,
    pub cores: Option<i64>,
    pub memory_mb: i64,
    pub disk_gb: Option<i64>,
    pub node: Option<String>,
    pub ha: Option<bool>,
    pub ha_nodes: Option<Vec<String>>,
    pub os_reserve_mb: Option<i64>,
    pub stack_dir: Option<String>,
    pub secrets_dir: Option<String>,
    pub ssh_keys: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVm {
    pub vm_id: i64,
    pub ip: String,
    pub environment: String,
    pub cores: Option<i64>,
    pub memory_mb: Option<i64>,
    pub disk_gb: Option<i64>,
    pub node: Option<String>,
    /// Managed by the Proxmox HA manager, on `ha_nodes` (default: every node of `proxmox.nodes`).
    pub ha: Option<bool>,
    pub ha_nodes: Option<Vec<String>>,
    pub log_agent: Option<String>,
    pub tags: Option<Vec<String>>,
    pub ssh_keys: Option<Vec<String>>,
    pub docker: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogging {
    pub default_agent: Option<String>,
    pub promtail_version: Option<String>,
    pub alloy_version: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlerting {
    pub telegram: RawTelegram,
    pub group_wait_seconds: Option<i64>,
    pub repeat_interval_hours: Option<i64>,
    pub instance_down_for_seconds: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTelegram {
    pub chat_id: i64,
    pub bot_token: RawSecret,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub enabled: Option<bool>,
    pub ca_key: Option<String>,
    pub leaf_key: Option<String>,
    pub certs_dir: Option<String>,
    pub leaf_validity_days: Option<i64>,
    pub renew_before_days: Option<i64>,
    pub min_version: Option<String>,
}

/// One container of the monitoring stack. Which keys apply depends on the service; validation
/// refuses a key that the named service does not take.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub image: Option<String>,
    pub route: Option<String>,
    pub host_port: Option<i64>,
    pub memory_limit_mb: Option<i64>,
    pub memory_reservation_mb: Option<i64>,
    pub retention_days: Option<i64>,
    pub retention_hours: Option<i64>,
    pub scrape_interval_seconds: Option<i64>,
    pub admin_user: Option<String>,
    pub admin_password: Option<RawSecret>,
    pub dashboard: Option<bool>,
    pub dashboard_users: Option<RawSecret>,
    pub interval_seconds: Option<i64>,
    pub retries: Option<i64>,
    pub retry_interval_seconds: Option<i64>,
    pub username: Option<String>,
    pub password: Option<RawSecret>,
    /// `[[services.prometheus.remote_write]]`: one entry per remote-write endpoint.
    pub remote_write: Option<Vec<RawRemoteWrite>>,
    /// Loki: `filesystem` (default) or `s3`, with `[services.loki.s3]`.
    pub storage: Option<String>,
    pub s3: Option<RawLokiS3>,
}

/// One `[[services.prometheus.remote_write]]` endpoint (Mimir, Thanos Receive, VictoriaMetrics...).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRemoteWrite {
    pub name: String,
    pub url: String,
    pub allow_insecure_http: Option<bool>,
    pub username: Option<String>,
    pub password: Option<RawSecret>,
    pub bearer_token: Option<RawSecret>,
    pub drop_series: Option<Vec<String>>,
    pub queue: Option<RawRemoteWriteQueue>,
}

/// `[services.prometheus.remote_write.queue]`: Prometheus's `queue_config`, defaults in `validate`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRemoteWriteQueue {
    pub capacity: Option<i64>,
    pub max_shards: Option<i64>,
    pub max_samples_per_send: Option<i64>,
}

/// `[services.loki.s3]`: the S3-compatible bucket Loki stores chunks and index in from `from` on.
/// Every key is optional here so that a missing one is reported with a location and a hint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLokiS3 {
    pub endpoint: Option<String>,
    pub bucket: Option<String>,
    pub region: Option<String>,
    pub path_style: Option<bool>,
    pub insecure: Option<bool>,
    pub access_key_id: Option<RawSecret>,
    pub secret_access_key: Option<RawSecret>,
    pub from: Option<String>,
}

/// An extra route through Traefik to a web app on one of the lab's VMs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub vm: String,
    pub port: i64,
    pub scheme: Option<String>,
    /// Path that answers 2xx/3xx while the app is up (Traefik health check, Uptime Kuma).
    pub health_path: Option<String>,
    /// scheme = "https": the name the backend's certificate must carry (default: the route's host).
    pub server_name: Option<String>,
    /// scheme = "https": accept any backend certificate (explicit opt-in; no verification).
    pub insecure_skip_verify: Option<bool>,
}

/// SSH access to every VM's default user: Terraform's provisioners log in with these keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSsh {
    pub authorized_keys: Vec<String>,
}
