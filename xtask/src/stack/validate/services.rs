//! `[services.NAME]`: each container from its catalog entry, and the published host ports.

use super::*;

impl Validator<'_> {
    pub(super) fn container(&mut self, spec: &ServiceSpec, raw: Option<&RawService>, domain: &str) -> Container {
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
                        &format!("remove `route`: Prometheus scrapes it at <monitoring ip>:{}", spec.port),
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

    pub(super) fn services(&mut self, raw: &BTreeMap<String, RawService>, domain: &str, targets: &Targets) -> Services {
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
        let (split_queries_minutes, max_query_parallelism) = derived::loki_query_split(targets);
        let loki = Loki {
            container: self.container(spec("loki"), loki_raw, domain),
            storage: crate::stack::loki_storage::storage(self.p, loki_raw),
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

    pub(super) fn host_ports(&mut self, services: &Services) {
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
    given(s.storage.is_some(), "storage");
    given(s.s3.is_some(), "s3");
    keys
}
