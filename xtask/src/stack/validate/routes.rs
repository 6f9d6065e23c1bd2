//! `[routes]` and the services' routes: Traefik routers, hosts and backend URLs.

use super::*;

impl Validator<'_> {
    pub(super) fn routes(&mut self, raw: &BTreeMap<String, RawRoute>, services: &Services, vms: &[Vm], monitoring: &MonitoringVm, domain: &str) -> Vec<Route> {
        let mut routes = Vec::new();
        for c in services.containers() {
            let (Some(route), Some(host)) = (&c.route, &c.host) else { continue };
            // Traefik's own route is its dashboard.
            let target =
                if c.key == "traefik" { Target::Dashboard } else { Target::Service { name: c.name.clone(), port: c.port, health_path: c.health_path.clone() } };
            routes.push((join(&join("services", &c.key), "route"), Route { name: route.clone(), host: host.clone(), target, backend_tls: None }));
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
            let backend_tls = crate::stack::backend_tls::check(self.p, &key, r, &scheme, &format!("{name}.{domain}"));
            // Any other scheme is reported above; the route is never rendered then.
            let scheme = if scheme == "https" { Scheme::Https } else { Scheme::Http };
            let target = Target::Vm { vm: r.vm.clone(), scheme, ip, port: port as u16, health_path: r.health_path.clone() };
            let route = Route { name: name.clone(), host: format!("{name}.{domain}"), target, backend_tls };
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
    pub(super) fn monitoring_port(&mut self, key: &str, name: &str, port: u16, services: &Services) {
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
            } else if c.port == port && c.host_network {
                "port, on the VM's own network".to_string()
            } else if c.port == port {
                "port inside the compose network, which a route by IP cannot reach".to_string()
            } else {
                continue;
            };
            let hint = if let (true, Some(host)) = (c.routable, &c.host) {
                format!("{} is already routed as {host}: remove [{key}]", c.name)
            } else if c.routable {
                format!("route the service itself: set `route = \"{name}\"` in [services.{}] and remove [{key}]", c.key)
            } else {
                "pick a port that nothing of the monitoring stack uses".to_string()
            };
            self.p.add(port_key, format!("port {port} of the monitoring VM is {}'s {what}", c.name), &hint);
            return;
        }
    }
}
