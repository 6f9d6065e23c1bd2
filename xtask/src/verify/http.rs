//! HTTP for `verify`: a request/response pair, the `Transport` seam the tests replace, and the
//! real transport, which runs `curl` (present on any machine of the LAN; no HTTP crate in the
//! build; see ARCHITECTURE.md). Credentials and text bodies (a Socket.IO login holds a
//! password) go to curl on its standard input (`--config -`), never on its command line; every
//! call is bounded by `--connect-timeout` and `--max-time`.

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: &'static str,
    pub url: String,
    /// Connect to this address whatever the name resolves to (curl `--resolve`).
    pub resolve: Option<Ipv4Addr>,
    /// Verify the server against this CA file; `None` with `insecure` false uses the system's.
    pub ca_file: Option<PathBuf>,
    /// Do not verify the certificate (to read it and compare it ourselves).
    pub insecure: bool,
    /// Basic auth user and password (a secret: never printed).
    pub auth: Option<(String, String)>,
    pub json_body: Option<String>,
    /// A `text/plain` body, sent through curl's standard input: it may hold a secret.
    pub text_body: Option<String>,
    /// Return the peer's certificates (DER, leaf first).
    pub want_certs: bool,
}

impl Request {
    pub fn get(url: impl Into<String>) -> Request {
        Request { method: "GET", url: url.into(), ..Request::default() }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: String,
    /// The `Location` a redirect points to.
    pub location: Option<String>,
    pub certs: Vec<Vec<u8>>,
}

/// A failed exchange: no HTTP answer at all (refused, timed out, TLS refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError(pub String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub trait Transport {
    fn send(&self, req: &Request) -> Result<Response, HttpError>;

    /// The IPv4 addresses `host` resolves to, by the system's resolver, bounded in time.
    fn resolve(&self, host: &str) -> Result<Vec<Ipv4Addr>, String> {
        system_resolve(host, Duration::from_secs(5))
    }
}

/// getaddrinfo has no timeout of its own: it runs on a thread that is left behind if it hangs.
pub fn system_resolve(host: &str, timeout: Duration) -> Result<Vec<Ipv4Addr>, String> {
    use std::net::ToSocketAddrs;
    let (tx, rx) = std::sync::mpsc::channel();
    let name = format!("{host}:443");
    std::thread::spawn(move || {
        let result = name.to_socket_addrs().map(|addrs| {
            let mut v: Vec<Ipv4Addr> = addrs
                .filter_map(|a| match a.ip() {
                    std::net::IpAddr::V4(ip) => Some(ip),
                    std::net::IpAddr::V6(_) => None,
                })
                .collect();
            v.sort();
            v.dedup();
            v
        });
        let _ = tx.send(result.map_err(|e| e.to_string()));
    });
    rx.recv_timeout(timeout).unwrap_or_else(|_| Err(format!("no answer within {} s", timeout.as_secs())))
}

/// The real transport: one `curl` process per request.
pub struct Curl {
    pub timeout: Duration,
}

const MARK: &str = "@@xtask-verify@@";

/// Quotes a value for curl's config file syntax.
fn config_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Transport for Curl {
    fn send(&self, req: &Request) -> Result<Response, HttpError> {
        let mut cmd = Command::new("curl");
        let secs = self.timeout.as_secs().max(1);
        cmd.args(["-sS", "--proto", "=http,https", "--connect-timeout", &secs.min(5).to_string(), "--max-time", &secs.to_string(), "-X", req.method]);
        cmd.args(["-w", &format!("%{{stderr}}{MARK} %{{http_code}} %{{redirect_url}}\n%{{certs}}")]);
        if let (Some(ip), Some((host, port))) = (req.resolve, host_port(&req.url)) {
            cmd.args(["--resolve", &format!("{host}:{port}:{ip}")]);
        }
        if req.insecure {
            cmd.arg("-k");
        } else if let Some(ca) = &req.ca_file {
            cmd.arg("--cacert").arg(ca);
        }
        if let Some(body) = &req.json_body {
            cmd.args(["-H", "Content-Type: application/json", "--data-binary", body]);
        }
        if req.text_body.is_some() {
            cmd.args(["-H", "Content-Type: text/plain;charset=UTF-8"]);
        }
        cmd.args(["--config", "-"]).arg("--").arg(&req.url);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| HttpError(format!("cannot run curl: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(stdin_config(req).as_bytes());
        }
        let out = child.wait_with_output().map_err(|e| HttpError(format!("curl: {e}")))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let (errors, tail) = stderr.split_once(MARK).unwrap_or((&stderr, ""));
        let mut lines = tail.lines();
        let head: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
        let status: u16 = head.first().and_then(|s| s.parse().ok()).unwrap_or(0);
        if !out.status.success() || status == 0 {
            let msg = errors.trim().trim_start_matches("curl: ").to_string();
            return Err(HttpError(explain(out.status.code(), &msg)));
        }
        let certs = if req.want_certs { pem_certs(&lines.collect::<Vec<_>>().join("\n")) } else { Vec::new() };
        Ok(Response {
            status,
            body: String::from_utf8_lossy(&out.stdout).into_owned(),
            location: head.get(1).map(|s| s.to_string()).filter(|s| !s.is_empty()),
            certs,
        })
    }
}

/// What curl reads on its standard input: the secrets and the text body, in its config syntax
/// (`data-raw`: the body as is, an `@` is not a file name).
fn stdin_config(req: &Request) -> String {
    let mut config = String::new();
    if let Some((user, pass)) = &req.auth {
        config.push_str(&format!("user = {}\n", config_quote(&format!("{user}:{pass}"))));
    }
    if let Some(body) = &req.text_body {
        config.push_str(&format!("data-raw = {}\n", config_quote(body)));
    }
    config
}

/// curl's exit codes that an operator meets here, in words.
fn explain(code: Option<i32>, msg: &str) -> String {
    let what = match code {
        Some(6) => "the name does not resolve",
        Some(7) => "connection refused or unreachable",
        Some(28) => "timed out",
        Some(35) => "TLS handshake failed",
        Some(60) => "the certificate does not verify against the committed CA",
        _ => "",
    };
    let msg = msg.lines().next().unwrap_or("").trim();
    match (what.is_empty(), msg.is_empty()) {
        (true, _) => msg.to_string(),
        (false, true) => what.to_string(),
        (false, false) => format!("{what} ({msg})"),
    }
}

/// The host and port of an http(s) URL.
pub fn host_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let default = if scheme == "https" { 443 } else { 80 };
    let hp = crate::url::host_port(authority)?;
    Some((hp.host.to_string(), hp.port.map_or(Some(default), |p| p.parse().ok())?))
}

/// The DER of every PEM certificate in `text`.
pub fn pem_certs(text: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let Some(len) = rest[start..].find("-----END CERTIFICATE-----") else { break };
        let end = start + len + "-----END CERTIFICATE-----".len();
        if let Ok((_, pem)) = x509_parser::pem::parse_x509_pem(&rest.as_bytes()[start..end]) {
            out.push(pem.contents);
        }
        rest = &rest[end..];
    }
    out
}

/// Percent-encodes a query parameter value.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_quoting() {
        assert_eq!(host_port("https://grafana.home.lan/api/health"), Some(("grafana.home.lan".into(), 443)));
        assert_eq!(host_port("http://10.0.0.1:9090/x"), Some(("10.0.0.1".into(), 9090)));
        assert_eq!(config_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(encode("sum by (host) ({a=~\".+\"})"), "sum%20by%20%28host%29%20%28%7Ba%3D~%22.%2B%22%7D%29");
        let login = Request { text_body: Some("420[\"login\",{\"password\":\"p\\\"w\"}]".into()), ..Request::get("http://x/") };
        assert_eq!(stdin_config(&login), "data-raw = \"420[\\\"login\\\",{\\\"password\\\":\\\"p\\\\\\\"w\\\"}]\"\n");
        assert_eq!(explain(Some(7), "curl: (7) Failed to connect"), "connection refused or unreachable (curl: (7) Failed to connect)");
    }
}
