//! Traefik v3 (`generated/compose/traefik/`): the static config, one dynamic file of routers and
//! services, one of TLS settings, and the Prometheus rules that watch the proxy.
//!
//! Everything Traefik routes comes from the file provider; it has no docker provider, and no
//! Docker socket.

use anyhow::Result;
use minijinja::Value;
use serde::Serialize;

use super::Outputs;
use crate::stack::Stack;
use crate::stack::model::{Route, Target};

/// Where the dashboard's htpasswd lines are inside the Traefik container: the compose secret
/// made from `<secrets_dir>/traefik_dashboard_users`.
pub const DASHBOARD_USERS_FILE: &str = "/run/secrets/traefik_dashboard_users";

/// Request-duration buckets (seconds) around Traefik's defaults; the proxy-overhead target is
/// added to them so the latency alert compares against a real bucket boundary.
const BASE_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// The path that tells whether a route's backend is up: Traefik's health check polls it, and the
/// Uptime Kuma monitor of the route requests it through the proxy. A stack service's is its
/// catalog entry's (`health_path`), a `[routes]` entry gives its own or gets `/`.
pub fn health_path(route: &Route) -> &str {
    match &route.target {
        Target::Service { health_path: Some(path), .. } | Target::Vm { health_path: Some(path), .. } => path,
        Target::Dashboard => "/dashboard/",
        _ => "/",
    }
}

/// The entry point routers listen on: `websecure` with TLS, else `web`.
pub fn entry_point(stack: &Stack) -> &'static str {
    if stack.tls.enabled { "websecure" } else { "web" }
}

/// The public URL of a routed host.
pub fn public_url(stack: &Stack, route: &Route) -> String {
    let scheme = if stack.tls.enabled { "https" } else { "http" };
    format!("{scheme}://{}{}", route.host, health_path(route))
}

/// The proxy-overhead target in seconds, as Prometheus and Traefik's buckets spell durations.
pub fn overhead_seconds(stack: &Stack) -> f64 {
    f64::from(stack.targets.proxy_overhead_ms) / 1000.0
}

/// The default buckets plus the overhead target, sorted, without duplicates.
pub fn buckets(stack: &Stack) -> Vec<f64> {
    let mut b: Vec<f64> = BASE_BUCKETS.iter().copied().chain([overhead_seconds(stack)]).collect();
    b.sort_by(f64::total_cmp);
    b.dedup();
    b
}

/// The lab's CA inside the Traefik container (`./tls` is mounted at /etc/traefik/certs).
const CA_FILE: &str = "/etc/traefik/certs/ca.crt";

/// The serversTransport of an https backend.
#[derive(Serialize)]
struct TransportView<'a> {
    name: String,
    server_name: &'a str,
    root_ca: Option<&'static str>,
    insecure: bool,
}

#[derive(Serialize)]
struct RouteView<'a> {
    name: &'a str,
    rule: String,
    read_only: bool,
    transport: Option<TransportView<'a>>,
    url: String,
    health_path: &'a str,
    internal: bool,
}

#[derive(Serialize)]
struct View<'a> {
    tls: bool,
    dashboard: bool,
    entry_point: &'static str,
    metrics_port: u16,
    buckets: Vec<f64>,
    routes: Vec<RouteView<'a>>,
    users_file: &'static str,
    /// The proxy-overhead target (seconds) and the request-rate floor of the latency alert
    /// (`latency_guard`), as Rust prints them; the PromQL is in `rules/traefik.yml.j2`.
    overhead_target: String,
    latency_guard: String,
}

/// Requests per second that Uptime Kuma's route monitors alone send through the entry point: one
/// per route every interval, every retry interval while one fails (the faster of the two).
pub fn probe_rate(stack: &Stack) -> f64 {
    let k = &stack.services.uptime_kuma;
    let every = k.interval_seconds.min(k.retry_interval_seconds).max(1);
    stack.routes.iter().filter(|r| !r.internal()).count() as f64 / f64::from(every)
}

/// The request rate above which the latency alert is evaluated: 0.1 req/s of real traffic on
/// top of the probes, rounded up to the millisecond of a request per second.
pub fn latency_guard(stack: &Stack) -> f64 {
    ((0.1 + probe_rate(stack)) * 1000.0).ceil() / 1000.0
}

/// The route's router rule. Loki has no authentication here: its route is read-only, GET and
/// HEAD on `/ready` and the query API, so the LAN can neither push nor reach admin endpoints.
fn rule(r: &Route) -> String {
    if r.service() == Some("loki") {
        return format!(
            "Host(`{}`) && (Method(`GET`) || Method(`HEAD`)) && (Path(`/ready`) || PathPrefix(`/loki/api/v1/`)) && !PathPrefix(`/loki/api/v1/push`)",
            r.host
        );
    }
    format!("Host(`{}`)", r.host)
}

fn view(stack: &Stack) -> View<'_> {
    let ep = entry_point(stack);
    let routes = stack
        .routes
        .iter()
        .map(|r| RouteView {
            name: &r.name,
            rule: rule(r),
            read_only: r.service() == Some("loki"),
            transport: r.backend_tls.as_ref().map(|t| TransportView {
                name: format!("{}-backend", r.name),
                server_name: &t.server_name,
                root_ca: (stack.tls.enabled && !t.insecure_skip_verify).then_some(CA_FILE),
                insecure: t.insecure_skip_verify,
            }),
            url: r.url().unwrap_or_default(),
            health_path: health_path(r),
            internal: r.internal(),
        })
        .collect();
    View {
        tls: stack.tls.enabled,
        dashboard: stack.services.traefik.dashboard,
        entry_point: ep,
        metrics_port: stack.services.traefik.container.port,
        buckets: buckets(stack),
        routes,
        users_file: DASHBOARD_USERS_FILE,
        overhead_target: overhead_seconds(stack).to_string(),
        latency_guard: latency_guard(stack).to_string(),
    }
}

pub fn render(stack: &Stack, out: &mut Outputs) -> Result<()> {
    let ctx = minijinja::context! { stack => out.stack_value(), traefik => Value::from_serialize(view(stack)) };
    out.render("compose/traefik/traefik.yml", ctx.clone())?;
    if !stack.routes.is_empty() {
        out.render("compose/traefik/dynamic/routes.yml", ctx.clone())?;
    }
    if stack.tls.enabled {
        out.render("compose/traefik/dynamic/tls.yml", ctx.clone())?;
    }
    out.render("compose/prometheus/rules/traefik.yml", ctx)?;
    Ok(())
}
