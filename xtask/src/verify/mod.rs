//! `cargo xtask verify`: the running lab against stack.toml. Expectations come from the validated
//! stack (`expect`), each service has its checks (`routes`, `prometheus`, `alertmanager`,
//! `grafana`, `uptime`), all through the `Transport` seam (`http`, and `socketio` over it), into
//! one `Report`.

pub mod alertmanager;
pub mod expect;
pub mod grafana;
pub mod http;
pub mod prom_text;
pub mod prometheus;
pub mod report;
pub mod routes;
pub mod socketio;
pub mod uptime;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value as Json;

use expect::Expectations;
use http::{HttpError, Request, Response, Transport};
use report::Report;

/// The options of `cargo xtask verify`, in their own struct so that the CLI only fills it.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only the VMs of this environment (and the monitoring VM) are expected.
    pub env: Option<String>,
    /// Post a test alert and wait until Alertmanager has sent it to Telegram.
    pub send_test_alert: bool,
    pub json: bool,
    /// How far back the logs of each host are looked for.
    pub since: Duration,
    /// The bound of each HTTP request.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options { env: None, send_test_alert: false, json: false, since: Duration::from_secs(15 * 60), timeout: Duration::from_secs(10) }
    }
}

/// Parses `15m`, `90s`, `2h`.
pub fn parse_since(text: &str) -> Option<Duration> {
    let (n, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = n.parse().ok().filter(|n| *n > 0)?;
    match unit {
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        "h" => Some(Duration::from_secs(n * 3600)),
        _ => None,
    }
}

/// Secrets read from the environment at the edge; never printed.
#[derive(Clone, Default)]
pub struct Secrets {
    pub grafana_password: Option<String>,
    pub uptime_api_key: Option<String>,
    /// The password of the Uptime Kuma account AutoKuma uses (`services.autokuma.password`).
    pub uptime_password: Option<String>,
}

/// The name of the variable holding the Uptime Kuma API key that `/metrics` accepts.
pub const UPTIME_API_KEY_ENV: &str = "UPTIME_KUMA_API_KEY";

pub struct Ctx<'a> {
    pub exp: &'a Expectations,
    pub http: &'a dyn Transport,
    /// The committed CA, written to a file for curl.
    pub ca_file: Option<PathBuf>,
    pub opts: &'a Options,
    pub secrets: Secrets,
}

impl Ctx<'_> {
    pub fn scheme(&self) -> &'static str {
        if self.exp.tls { "https" } else { "http" }
    }

    /// A request to a routed host through Traefik, verified against the committed CA.
    pub fn request(&self, host: &str, path: &str) -> Request {
        Request { url: format!("{}://{host}{path}", self.scheme()), resolve: Some(self.exp.traefik_ip), ca_file: self.ca_file.clone(), ..Request::get("") }
    }

    pub fn send(&self, req: &Request) -> Result<Response, HttpError> {
        self.http.send(req)
    }

    /// GET and parse JSON; an error is the line's detail.
    pub fn json(&self, req: &Request) -> Result<Json, String> {
        let resp = self.send(req).map_err(|e| e.0)?;
        if !(200..300).contains(&resp.status) {
            return Err(format!("HTTP {} from {}: {}", resp.status, path_of(&req.url), report::snippet(&resp.body)));
        }
        serde_json::from_str(&resp.body).map_err(|e| format!("{}: not JSON: {e}", path_of(&req.url)))
    }

    pub fn text(&self, req: &Request) -> Result<String, String> {
        let resp = self.send(req).map_err(|e| e.0)?;
        if !(200..300).contains(&resp.status) {
            return Err(format!("HTTP {} from {}: {}", resp.status, path_of(&req.url), report::snippet(&resp.body)));
        }
        Ok(resp.body)
    }
}

/// The path of a URL, for details (the query may be long).
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    path.split('?').next().unwrap_or(path)
}

/// Runs every check and returns the report; never panics on what the lab answers.
pub fn run(ctx: &Ctx) -> Report {
    let mut report = Report::default();
    routes::check(ctx, &mut report);
    prometheus::check(ctx, &mut report);
    let before = alertmanager::check(ctx, &mut report);
    grafana::check(ctx, &mut report);
    uptime::check(ctx, &mut report);
    alertmanager::failed_not_grown(ctx, &mut report, before);
    report
}
