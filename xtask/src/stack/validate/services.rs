//! `[services.NAME]`: each container from its catalog entry, and the published host ports.

use super::remote_write;
use super::*;

impl Validator<'_> {
    pub(super) fn container(&mut self, spec: &ServiceSpec, raw: Option<&RawService>, domain: &str) -> Container {
        let key = |k: &str| join(&join("services", spec.key), k);
        let p = &mut *self.p;
        let image = raw.and_then(|r| r.image.clone()).unwrap_or_else(|| spec.image.to_string());
        check_image(p, &key("image"), &image);
        let route = match raw.and_then(|r| r.route.clone()) {
            Some(r) if r.is_empty() => None,
            Some(r) => match spec.routing {
                // The reason is the catalog entry's; the hint says what to do instead.
                Routing::Refused(why) if spec.host_network => {
                    p.add(key("route"), why, &format!("remove `route`: Prometheus scrapes it at <monitoring ip>:{}", spec.port));
                    None
                }
                Routing::Refused(why) => {
                    p.add(key("route"), why, "remove `route`");
                    None
                }
                Routing::Web | Routing::Dashboard => check_label(p, &key("route"), "route", &r).then_some(r),
            },
            None => spec.route.map(str::to_string),
        };
        // A service on the VM's network takes no host_port (refused in `services`).
        let given_host_port = raw.and_then(|r| r.host_port).filter(|_| !spec.host_network);
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
            key: spec.key.to_string(),
            name: spec.compose.to_string(),
            image,
            port: spec.port,
            host: route.as_ref().map(|r| format!("{r}.{domain}")),
            route,
            host_port,
            memory_limit_mb: limit,
            memory_reservation_mb: reservation,
            plan_addition: spec.plan_addition,
            health_path: spec.health_path.map(str::to_string),
            routable: spec.routing == Routing::Web,
            host_network: spec.host_network,
        }
    }

    pub(super) fn services(&mut self, raw: &BTreeMap<String, RawService>, domain: &str, targets: &Targets) -> Services {
        for (name, service) in raw {
            let Some(spec) = catalog::spec(self.catalog, name) else {
                let names = self.catalog.iter().map(|s| s.key);
                let hint = did_you_mean(name, names.clone())
                    .map_or_else(|| format!("the services are: {}", names.collect::<Vec<_>>().join(", ")), |n| format!("did you mean `{n}`?"));
                self.p.add(join("services", name), format!("unknown service `{name}`"), &hint);
                continue;
            };
            // A service on the VM's own network publishes nothing.
            let common: Vec<&str> = COMMON_KEYS.iter().copied().filter(|k| !(spec.host_network && *k == "host_port")).collect();
            for key in given_keys(service) {
                if !common.contains(&key) && !spec.keys.contains(&key) {
                    let takes: Vec<&str> = common.iter().chain(spec.keys).copied().collect();
                    self.p.add(join(&join("services", name), key), format!("{name} does not take `{key}`"), &format!("its keys are: {}", takes.join(", ")));
                }
            }
        }
        let get = |name: &str| raw.get(name);
        let catalog = self.catalog;
        // Every container from its catalog entry; those with settings of their own are taken
        // out into their struct, the others stay plain containers.
        let mut plain = BTreeMap::new();
        for s in catalog {
            plain.insert(s.key.to_string(), self.container(s, get(s.key), domain));
        }
        let mut take = |key: &str| plain.remove(key).expect("the catalog has every service that `Services` names");
        let p_key = |s: &str, k: &str| join(&join("services", s), k);

        let prometheus_raw = get("prometheus");
        let scrape_interval_seconds = opt_range(
            self.p,
            &p_key("prometheus", "scrape_interval_seconds"),
            prometheus_raw.and_then(|r| r.scrape_interval_seconds),
            defaults::PROMETHEUS_SCRAPE_INTERVAL_SECONDS,
            5,
            300,
            " seconds",
        );
        let retention_days = opt_range(
            self.p,
            &p_key("prometheus", "retention_days"),
            prometheus_raw.and_then(|r| r.retention_days),
            defaults::PROMETHEUS_RETENTION_DAYS,
            1,
            3650,
            " days",
        );
        let (retention_days, retention_hours, retention) = match prometheus_raw.and_then(|r| r.retention_hours) {
            None => (retention_days, retention_days * 24, format!("{retention_days}d")),
            Some(h) => {
                if prometheus_raw.is_some_and(|r| r.retention_days.is_some()) {
                    self.p.add(
                        p_key("prometheus", "retention_hours"),
                        "both retention_days and retention_hours",
                        "keep one of them: they set the same retention",
                    );
                }
                let hours = in_range(self.p, &p_key("prometheus", "retention_hours"), h, 1, 87_600, " hours").unwrap_or(retention_days * 24);
                (0, hours, format!("{hours}h"))
            }
        };
        let remote_write = self.remote_write(prometheus_raw.and_then(|r| r.remote_write.as_ref()));
        let mut prometheus_container = take("prometheus");
        // Remote write lives in Prometheus's memory: its limit grows by what it may take (queues
        // and series cache), so that the VM's budget (limits + OS reserve) counts it.
        let remote_write_memory_mb = remote_write::memory_mb(&remote_write, prometheus_container.memory_limit_mb);
        prometheus_container.memory_limit_mb += remote_write_memory_mb;
        let prometheus = Prometheus {
            container: prometheus_container,
            retention_days,
            retention_hours,
            retention,
            remote_write,
            remote_write_memory_mb,
            scrape_interval_seconds,
            // Prometheus's default, never above the interval.
            scrape_timeout_seconds: scrape_interval_seconds.min(defaults::PROMETHEUS_SCRAPE_TIMEOUT_SECONDS),
        };
        let grafana_raw = get("grafana");
        let grafana = Grafana {
            container: take("grafana"),
            admin_user: account_name(
                self.p,
                &p_key("grafana", "admin_user"),
                grafana_raw.and_then(|r| r.admin_user.clone()).unwrap_or_else(|| defaults::GRAFANA_ADMIN_USER.to_string()),
            ),
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
        let mut traefik_container = take("traefik");
        if dashboard && traefik_container.route.is_none() {
            traefik_container.route = Some("traefik".to_string());
            traefik_container.host = Some(format!("traefik.{domain}"));
        } else if !dashboard && traefik_raw.and_then(|r| r.route.as_ref()).is_some() {
            self.p.add(p_key("traefik", "route"), "a route for the dashboard, but the dashboard is off", "set `dashboard = true` or remove `route`");
        }
        let loki_raw = get("loki");
        let retention_key = p_key("loki", "retention_days");
        let retention_days = opt_range(
            self.p,
            &retention_key,
            loki_raw.and_then(|r| r.retention_days),
            targets.log_retention_days.max(defaults::LOKI_MIN_RETENTION_DAYS),
            1,
            3650,
            " days",
        );
        if retention_days < targets.log_retention_days {
            self.p.add(
                &retention_key,
                format!("log retention of {retention_days} days is shorter than the target of {} days", targets.log_retention_days),
                &format!("set retention_days to at least {} (targets.log_retention_days)", targets.log_retention_days),
            );
        }
        let (split_queries_minutes, max_query_parallelism) = derived::loki_query_split(targets);
        let loki = Loki {
            container: take("loki"),
            storage: crate::stack::loki_storage::storage(self.p, loki_raw),
            retention_days,
            retention_hours: retention_days * 24,
            split_queries_minutes,
            max_query_parallelism,
        };
        let kuma_raw = get("uptime_kuma");
        let interval = opt_range(
            self.p,
            &p_key("uptime_kuma", "interval_seconds"),
            kuma_raw.and_then(|r| r.interval_seconds),
            defaults::UPTIME_KUMA_INTERVAL_SECONDS,
            20,
            86_400,
            " seconds",
        );
        let retries = opt_range(self.p, &p_key("uptime_kuma", "retries"), kuma_raw.and_then(|r| r.retries), defaults::UPTIME_KUMA_RETRIES, 0, 10, "");
        let retry_interval = opt_range(
            self.p,
            &p_key("uptime_kuma", "retry_interval_seconds"),
            kuma_raw.and_then(|r| r.retry_interval_seconds),
            defaults::UPTIME_KUMA_RETRY_INTERVAL_SECONDS,
            20,
            86_400,
            " seconds",
        );
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
            container: take("uptime_kuma"),
            interval_seconds: interval,
            retries,
            retry_interval_seconds: retry_interval,
            worst_case_detection_seconds: worst,
        };
        let autokuma_raw = get("autokuma");
        let autokuma = AutoKuma {
            container: take("autokuma"),
            username: account_name(
                self.p,
                &p_key("autokuma", "username"),
                autokuma_raw.and_then(|r| r.username.clone()).unwrap_or_else(|| defaults::AUTOKUMA_USERNAME.to_string()),
            ),
            password: secret(self.p, &p_key("autokuma", "password"), autokuma_raw.and_then(|r| r.password.as_ref()), "UPTIME_KUMA_PASSWORD"),
        };
        let (alertmanager, node_exporter, promtail) = (take("alertmanager"), take("node_exporter"), take("promtail"));
        let mut in_compose: Vec<&ServiceSpec> = catalog.iter().collect();
        in_compose.sort_by_key(|s| s.compose_place);
        let mut scraped: Vec<(&ServiceSpec, Scrape)> = catalog.iter().filter_map(|s| s.scrape.map(|j| (s, j))).collect();
        scraped.sort_by_key(|(_, j)| j.place);
        let services = Services {
            prometheus,
            grafana,
            alertmanager,
            node_exporter,
            traefik: Traefik { container: traefik_container, dashboard, dashboard_users },
            loki,
            promtail,
            uptime_kuma,
            autokuma,
            plain,
            keys: catalog.iter().map(|s| s.key.to_string()).collect(),
            compose: in_compose.iter().map(|s| s.key.to_string()).collect(),
            volumes: in_compose.iter().flat_map(|s| s.volumes.iter().map(|v| v.to_string())).collect(),
            scrape_jobs: scraped
                .into_iter()
                .map(|(s, j)| ScrapeJob { job: j.job.to_string(), at: j.at, service: s.compose.to_string(), port: s.port })
                .collect(),
        };
        self.host_ports(&services);
        services
    }

    pub(super) fn host_ports(&mut self, services: &Services) {
        let mut used: BTreeMap<u16, String> = BTreeMap::from([(80, "traefik".to_string()), (443, "traefik".to_string())]);
        // On the VM's own network (network_mode: host).
        for c in services.containers().into_iter().filter(|c| c.host_network) {
            used.insert(c.port, c.name.clone());
        }
        for c in services.containers() {
            if let Some(port) = c.host_port {
                let key = join(&join("services", &c.key), "host_port");
                if let Some(other) = used.insert(port, c.name.clone()) {
                    self.p.add(key, format!("host port {port} is already used by {other}"), "each published port must be unique on the monitoring VM");
                }
            }
        }
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
    given(s.retention_hours.is_some(), "retention_hours");
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
    given(s.remote_write.is_some(), "remote_write");
    given(s.storage.is_some(), "storage");
    given(s.s3.is_some(), "s3");
    keys
}

/// An account name written into docker-compose.yml's environment (Grafana's admin, AutoKuma's
/// Uptime Kuma user): Compose expands `$` there, and a login has no spaces or quotes.
fn account_name(p: &mut Problems, key: &str, name: String) -> String {
    let plain = !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c));
    if !plain {
        p.add(
            key,
            format!("`{}` is not an account name", name.escape_debug()),
            "use 1 to 64 letters, digits, `.`, `_`, `@` or `-` (Compose would expand a `$`), e.g. \"admin\"",
        );
    }
    name
}
