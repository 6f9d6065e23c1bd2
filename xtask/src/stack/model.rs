//! The validated lab: rich types with every default applied and every derived fact computed
//! (hostnames, routes, memory budget, detection times). Templates only lay these values out.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::Serialize;

pub use super::catalog::ScrapeAt;

/// An IPv4 network in CIDR form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = s.split_once('/')?;
        let addr: Ipv4Addr = addr.parse().ok()?;
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) || prefix.len() > 2 {
            return None;
        }
        let prefix: u8 = prefix.parse().ok()?;
        (prefix <= 32).then_some(Cidr { addr, prefix })
    }

    fn mask(&self) -> u32 {
        if self.prefix == 0 { 0 } else { u32::MAX << (32 - self.prefix) }
    }

    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network())
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Where a secret's value comes from at apply time. Only the reference is ever written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretRef {
    /// Environment variable read by whoever runs Terraform (or the xtask that wraps it).
    pub env: String,
    /// The Terraform variable that carries it, derived from `env` (`TF_VAR_<tf_var>`).
    pub tf_var: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stack {
    pub domain: String,
    pub targets: Targets,
    pub proxmox: Proxmox,
    pub network: Network,
    pub terraform: TerraformSettings,
    pub monitoring: MonitoringVm,
    /// Every VM that is not the monitoring VM, sorted by name.
    pub vms: Vec<Vm>,
    /// Distinct environments of `vms`, sorted; each gets its own Terraform root.
    pub environments: Vec<String>,
    pub logging: Logging,
    pub alerting: Alerting,
    pub tls: Tls,
    pub services: Services,
    /// Every Traefik route: the services that have one, the dashboard, and `[routes]`; by host.
    pub routes: Vec<Route>,
    pub memory: MemoryBudget,
}

impl Stack {
    /// True when at least one VM's host agent is Promtail (end of life: gen warns and suggests
    /// `log_agent = "alloy"`). The monitoring VM's compose Promtail container is not counted
    /// here: no setting replaces it, so gen warns about it apart (`gen_cmd::promtail_warnings`).
    pub fn uses_promtail(&self) -> bool {
        self.vms.iter().any(|vm| vm.agent == Agent::Promtail)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Targets {
    pub proxy_overhead_ms: u32,
    pub log_search_window_minutes: u32,
    pub log_search_seconds: u32,
    pub failure_detection_seconds: u32,
    pub log_retention_days: u32,
    pub added_memory_mb: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Proxmox {
    pub endpoint: String,
    pub insecure: bool,
    /// PEM file (relative to the repository root) of the CA that signed the endpoint's
    /// certificate: `cargo xtask plan|apply` give it to Terraform as SSL_CERT_FILE.
    pub ca_file: Option<String>,
    pub node: String,
    /// `[proxmox] nodes`: the cluster's nodes, in stack.toml's order; empty when not given (then
    /// any node name is taken as it is).
    pub nodes: Vec<String>,
    pub ssh_user: String,
    pub api_token: SecretRef,
    pub vm_datastore: String,
    pub snippets_datastore: String,
    pub image_datastore: String,
    pub cloud_image: CloudImage,
}

#[derive(Debug, Clone, Serialize)]
pub struct CloudImage {
    pub url: String,
    pub file_name: String,
    pub checksum: Option<String>,
    pub checksum_algorithm: Option<String>,
    /// The image's default account (`debian`, `ubuntu`): cloud-init gives it the SSH keys and
    /// Terraform's provisioners log in as it, using sudo.
    pub default_user: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Network {
    pub cidr: Cidr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    pub dns: Vec<Ipv4Addr>,
    pub bridge: String,
    pub vlan_id: Option<u16>,
    pub admin_cidr: Cidr,
    pub search_domain: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TerraformSettings {
    /// `local`, `s3` or `pg`.
    pub backend: String,
    /// Local state directory, relative to the repository root and outside generated/.
    pub state_dir: String,
    pub s3_bucket: Option<String>,
    pub s3_region: Option<String>,
    pub s3_endpoint: Option<String>,
    pub pg_conn_str: Option<SecretRef>,
    /// The bpg/proxmox provider release, `MAJOR.MINOR.PATCH` (bumped by Renovate in stack.toml).
    pub provider_version: String,
    /// The `required_providers` constraint derived from it: exactly that release (`= 0.111.1`).
    pub provider_constraint: String,
    /// VMs a plan may replace or delete (`cargo xtask plan|apply` refuse any other).
    pub acknowledge_recreate: Vec<String>,
    /// Environments with no VM whose roots stay, empty, until applied (`stack::day2`).
    pub retired_environments: Vec<String>,
}

/// Log shipping agent on a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Agent {
    Promtail,
    Alloy,
    None,
}

impl Agent {
    pub fn parse(s: &str) -> Option<Agent> {
        match s {
            "promtail" => Some(Agent::Promtail),
            "alloy" => Some(Agent::Alloy),
            "none" => Some(Agent::None),
            _ => None,
        }
    }

    /// The port the agent serves its own metrics on (scraped by Prometheus).
    pub fn metrics_port(self) -> Option<u16> {
        match self {
            Agent::Promtail => Some(9080),
            Agent::Alloy => Some(12345),
            Agent::None => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Vm {
    pub name: String,
    pub vm_id: u32,
    pub ip: Ipv4Addr,
    pub environment: String,
    pub cores: u32,
    pub memory_mb: u32,
    pub disk_gb: u32,
    pub node: String,
    /// `ha = true`: the nodes the Proxmox HA manager may run it on (its `ha_nodes`, default every
    /// node of `proxmox.nodes`), sorted; empty when the VM is not HA-managed.
    pub ha_nodes: Vec<String>,
    pub agent: Agent,
    pub agent_metrics_port: Option<u16>,
    /// Sorted, as Proxmox sorts them.
    pub tags: Vec<String>,
    pub ssh_keys: Vec<String>,
    /// The VM runs Docker containers: its log agent also ships their logs (the monitoring VM always does).
    pub docker: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MonitoringVm {
    #[serde(flatten)]
    pub vm: Vm,
    pub os_reserve_mb: u32,
    pub stack_dir: String,
    pub secrets_dir: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Logging {
    pub default_agent: Agent,
    pub promtail_version: String,
    pub alloy_version: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Alerting {
    pub telegram_chat_id: i64,
    pub telegram_bot_token: SecretRef,
    pub group_wait_seconds: u32,
    pub repeat_interval_hours: u32,
    pub instance_down_for_seconds: u32,
    /// Worst case from a host going down to the Telegram message: scrape interval + scrape
    /// timeout + rule evaluation (one more scrape interval) + `for` in whole evaluations + group wait.
    pub worst_case_detection_seconds: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tls {
    pub enabled: bool,
    /// Paths outside the repository's tracked files (default `.secrets/`), relative to its root.
    pub ca_key: String,
    pub leaf_key: String,
    /// Committed certificates (`ca.crt`, `leaf.crt`), relative to the repository root: inputs
    /// that `certs init` and gen's renewal step write and the tls family copies into generated/.
    pub certs_dir: String,
    /// What `certs_dir` holds (none when TLS is off), read by the edge during validation
    /// (`stack::ReadCerts`, `Project::parse`).
    #[serde(skip)]
    pub certs: CommittedCerts,
    pub leaf_validity_days: u32,
    pub renew_before_days: u32,
    /// `VersionTLS12` or `VersionTLS13`, as Traefik spells it.
    pub min_version: String,
}

/// The committed certificates as PEM text, each absent when its file is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommittedCerts {
    pub ca: Option<String>,
    pub leaf: Option<String>,
}

/// One container of the monitoring stack, from its catalog entry (`stack/catalog.rs`) and its
/// `[services.KEY]` table.
#[derive(Debug, Clone, Serialize)]
pub struct Container {
    /// Its stack.toml key (`[services.KEY]`, `node_exporter`): what messages locate.
    pub key: String,
    /// Its compose service name (`node-exporter`), on the compose network too.
    pub name: String,
    pub image: String,
    /// Port the container listens on, inside the compose network.
    pub port: u16,
    /// Subdomain routed through Traefik, if any.
    pub route: Option<String>,
    /// `route.domain`, if routed.
    pub host: Option<String>,
    /// Port published on the VM, for what other machines reach directly.
    pub host_port: Option<u16>,
    pub memory_limit_mb: u32,
    pub memory_reservation_mb: u32,
    /// One of the original plan's additions, counted against `targets.added_memory_mb`.
    pub plan_addition: bool,
    /// The path that answers once it is ready (its route's health check, readiness monitors).
    pub health_path: Option<String>,
    /// A `[routes]` entry may be told to route the service itself instead (`route = "..."`).
    pub routable: bool,
    /// On the VM's own network (`network_mode: host`), not the compose network.
    pub host_network: bool,
}

/// The services of the stack. Those with settings of their own have their struct; every other
/// catalog entry is a plain container in `plain`, by stack.toml key (templates read them as
/// `stack.services.KEY` all the same).
#[derive(Debug, Clone, Serialize)]
pub struct Services {
    pub prometheus: Prometheus,
    pub grafana: Grafana,
    pub alertmanager: Container,
    pub node_exporter: Container,
    pub traefik: Traefik,
    pub loki: Loki,
    pub promtail: Container,
    pub uptime_kuma: UptimeKuma,
    pub autokuma: AutoKuma,
    #[serde(flatten)]
    pub plain: BTreeMap<String, Container>,
    /// Every service's stack.toml key, in catalog order (the order of `containers()`).
    #[serde(skip)]
    pub keys: Vec<String>,
    /// docker-compose.yml: each service's partial (`compose/services/_KEY.yml.j2`), in order,
    /// then the named volumes they own.
    pub compose: Vec<String>,
    pub volumes: Vec<String>,
    /// prometheus.yml's scrape jobs of the services, in order.
    pub scrape_jobs: Vec<ScrapeJob>,
}

impl Services {
    /// Every container, in catalog order.
    pub fn containers(&self) -> Vec<&Container> {
        self.keys.iter().filter_map(|key| self.container(key)).collect()
    }

    /// The container of the service whose stack.toml key is `key`.
    pub fn container(&self, key: &str) -> Option<&Container> {
        match key {
            "prometheus" => Some(&self.prometheus.container),
            "grafana" => Some(&self.grafana.container),
            "alertmanager" => Some(&self.alertmanager),
            "node_exporter" => Some(&self.node_exporter),
            "traefik" => Some(&self.traefik.container),
            "loki" => Some(&self.loki.container),
            "promtail" => Some(&self.promtail),
            "uptime_kuma" => Some(&self.uptime_kuma.container),
            "autokuma" => Some(&self.autokuma.container),
            _ => self.plain.get(key),
        }
    }
}

/// One scrape job of prometheus.yml, from a catalog entry.
#[derive(Debug, Clone, Serialize)]
pub struct ScrapeJob {
    pub job: String,
    /// How the template lays its targets out (`compose`, `localhost`, `every_vm`, `log_agents`).
    pub at: ScrapeAt,
    /// The compose service and port it scrapes.
    pub service: String,
    pub port: u16,
}

#[derive(Debug, Clone, Serialize)]
pub struct Prometheus {
    #[serde(flatten)]
    pub container: Container,
    /// `retention_days`, or the `retention_hours` that replaces it (then 0).
    pub retention_days: u32,
    /// Local retention in hours, whichever key set it.
    pub retention_hours: u32,
    /// The value of `--storage.tsdb.retention.time` (`15d`, `6h`).
    pub retention: String,
    /// `[[services.prometheus.remote_write]]`, in stack.toml order (names are unique).
    pub remote_write: Vec<RemoteWrite>,
    /// What remote write adds to `memory_limit_mb` (queues and series cache; 0 without it).
    pub remote_write_memory_mb: u32,
    pub scrape_interval_seconds: u32,
    pub scrape_timeout_seconds: u32,
}

/// One remote-write endpoint; credentials are secret files under `monitoring.secrets_dir`,
/// mounted into the Prometheus container as compose secrets (`/run/secrets/<file>`).
#[derive(Debug, Clone, Serialize)]
pub struct RemoteWrite {
    pub name: String,
    pub url: String,
    /// The URL's host (and port), for the review: never its path or query.
    pub host: String,
    pub username: Option<String>,
    /// Basic-auth password: its reference, and the compose secret / file name that carries it.
    pub password: Option<SecretRef>,
    pub password_file: Option<String>,
    pub bearer_token: Option<SecretRef>,
    pub bearer_token_file: Option<String>,
    /// Regexes of metric names (`__name__`) that are not sent (write_relabel_configs, drop).
    pub drop_series: Vec<String>,
    pub capacity: u32,
    pub max_shards: u32,
    pub max_samples_per_send: u32,
    /// The estimate of what this queue may hold in memory, counted in Prometheus's limit.
    pub queue_memory_mb: u32,
}

impl RemoteWrite {
    /// The secret files this endpoint needs, as (file name, reference).
    pub fn secrets(&self) -> Vec<(&str, &SecretRef)> {
        let password = self.password_file.as_deref().zip(self.password.as_ref());
        let token = self.bearer_token_file.as_deref().zip(self.bearer_token.as_ref());
        password.into_iter().chain(token).collect()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Grafana {
    #[serde(flatten)]
    pub container: Container,
    pub admin_user: String,
    pub admin_password: SecretRef,
}

#[derive(Debug, Clone, Serialize)]
pub struct Traefik {
    #[serde(flatten)]
    pub container: Container,
    pub dashboard: bool,
    pub dashboard_users: Option<SecretRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Loki {
    #[serde(flatten)]
    pub container: Container,
    /// Where chunks and index go, and the schema periods that say so (`stack/loki_storage.rs`).
    pub storage: LokiStorage,
    pub retention_days: u32,
    pub retention_hours: u32,
    /// Query split interval chosen for the log-search target.
    pub split_queries_minutes: u32,
    pub max_query_parallelism: u32,
}

/// Loki's storage: the schema periods in order (the first is always the filesystem one), and the
/// bucket when `storage = "s3"`.
#[derive(Debug, Clone, Serialize)]
pub struct LokiStorage {
    /// `filesystem` or `s3`: the object store of the last period.
    pub kind: String,
    pub s3: Option<LokiS3>,
    pub periods: Vec<SchemaPeriod>,
    /// The embedded chunk cache Loki keeps in memory, in MB (counted in its memory limit).
    pub chunk_cache_mb: u32,
    /// The embedded query results cache, in MB.
    pub results_cache_mb: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SchemaPeriod {
    /// `YYYY-MM-DD`, the first day (00:00 UTC) of the period.
    pub from: String,
    /// `filesystem` or `s3`.
    pub object_store: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LokiS3 {
    /// `host[:port]`, no scheme: Loki adds https://, or http:// when `insecure`.
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub path_style: bool,
    pub insecure: bool,
    pub access_key_id: SecretRef,
    pub secret_access_key: SecretRef,
    pub from: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct UptimeKuma {
    #[serde(flatten)]
    pub container: Container,
    pub interval_seconds: u32,
    pub retries: u32,
    pub retry_interval_seconds: u32,
    /// interval + retries × retry interval.
    pub worst_case_detection_seconds: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct AutoKuma {
    #[serde(flatten)]
    pub container: Container,
    pub username: String,
    pub password: SecretRef,
}

/// A Traefik router and its service.
#[derive(Debug, Clone, Serialize)]
pub struct Route {
    /// Router and service name in Traefik (a DNS label).
    pub name: String,
    pub host: String,
    /// What the route reaches.
    pub target: Target,
    /// How Traefik verifies an `https` backend; None for plain http.
    pub backend_tls: Option<BackendTls>,
}

/// What a route reaches: a service of the compose stack, a port of a VM, or Traefik's dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// A compose service by its compose name, on the compose network.
    Service { name: String, port: u16, health_path: Option<String> },
    /// A `[routes]` entry: a port of a VM of the stack (the monitoring VM included).
    Vm { vm: String, scheme: Scheme, ip: Ipv4Addr, port: u16, health_path: Option<String> },
    /// Traefik's own dashboard (`api@internal`).
    Dashboard,
}

/// How Traefik speaks to a `[routes]` backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

impl Route {
    /// The backend URL Traefik's service points at (`http://grafana:3000`, `https://10.0.0.5:8443`);
    /// None for the dashboard, which is no URL.
    pub fn url(&self) -> Option<String> {
        match &self.target {
            Target::Service { name, port, .. } => Some(format!("http://{name}:{port}")),
            Target::Vm { scheme, ip, port, .. } => Some(format!("{}://{ip}:{port}", scheme.as_str())),
            Target::Dashboard => None,
        }
    }

    /// The compose service it targets, if it is one.
    pub fn service(&self) -> Option<&str> {
        if let Target::Service { name, .. } = &self.target { Some(name) } else { None }
    }

    /// The VM it targets, for a `[routes]` entry.
    pub fn vm(&self) -> Option<&str> {
        if let Target::Vm { vm, .. } = &self.target { Some(vm) } else { None }
    }

    /// Traefik's own dashboard.
    pub fn internal(&self) -> bool {
        self.target == Target::Dashboard
    }
}

/// Traefik's serversTransport for an `https` backend: verify `server_name` against the lab's CA
/// (or the system CAs when TLS is off), or, only when stack.toml opts in, skip verification.
#[derive(Debug, Clone, Serialize)]
pub struct BackendTls {
    pub server_name: String,
    pub insecure_skip_verify: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemoryBudget {
    pub vm_mb: u32,
    pub os_reserve_mb: u32,
    pub limits_mb: u32,
    pub additions_reserved_mb: u32,
    pub additions_target_mb: u32,
    /// What remote write may take (queues and series cache), already inside Prometheus's limit.
    pub remote_write_mb: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_target_is_laid_out_as_the_url_traefik_was_given() {
        let route = |target| Route { name: "r".into(), host: "r.lab".into(), target, backend_tls: None };
        let vm = route(Target::Vm { vm: "web".into(), scheme: Scheme::Https, ip: Ipv4Addr::new(10, 0, 0, 5), port: 8443, health_path: None });
        assert_eq!(vm.url().as_deref(), Some("https://10.0.0.5:8443"));
        assert_eq!((vm.vm(), vm.service(), vm.internal()), (Some("web"), None, false));
        let svc = route(Target::Service { name: "grafana".into(), port: 3000, health_path: Some("/api/health".into()) });
        assert_eq!(svc.url().as_deref(), Some("http://grafana:3000"));
        assert_eq!((svc.vm(), svc.service()), (None, Some("grafana")));
        let dash = route(Target::Dashboard);
        assert_eq!((dash.url(), dash.internal()), (None, true));
    }
}
