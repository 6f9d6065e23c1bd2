//! Every routed name: it resolves to Traefik, answers over HTTPS verified against the committed
//! CA, serves exactly the committed leaf (with its days left), and `http://` redirects to it. A
//! served leaf due for renewal is one `info` line after them: it is the right leaf, and it needs
//! `gen`.

use super::Ctx;
use super::http::Request;
use super::report::{Report, Status};

const SERVICE: &str = "routes";

fn der_of(pem: &str) -> Option<Vec<u8>> {
    super::http::pem_certs(pem).into_iter().next()
}

fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// Days from now until the certificate's notAfter (negative once expired).
fn days_left(der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    Some((cert.validity().not_after.timestamp() - now).div_euclid(86_400))
}

/// How to make a name resolve: its hosts-file line, and the command that prints them all.
fn dns_hint(ip: std::net::Ipv4Addr, host: &str) -> String {
    format!("add `{ip} {host}` to /etc/hosts, or see `cargo xtask dns` for every name and the dnsmasq line")
}

pub fn check(ctx: &Ctx, report: &mut Report) {
    let exp = ctx.exp;
    let committed = exp.leaf_pem.as_deref().and_then(der_of);
    // The fewest days left of a served committed leaf within tls.renew_before_days.
    let mut due: Option<i64> = None;
    for route in &exp.routes {
        let host = &route.host;
        match ctx.http.resolve(host) {
            Ok(ips) if ips.contains(&exp.traefik_ip) => report.pass(SERVICE, format!("{host} resolves"), exp.traefik_ip.to_string()),
            Ok(ips) if ips.is_empty() => report.fail(SERVICE, format!("{host} resolves"), format!("no IPv4 address; {}", dns_hint(exp.traefik_ip, host))),
            Ok(ips) => report.fail(
                SERVICE,
                format!("{host} resolves"),
                format!(
                    "to {} instead of Traefik at {}; see `cargo xtask dns`",
                    ips.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", "),
                    exp.traefik_ip
                ),
            ),
            Err(e) => report.fail(SERVICE, format!("{host} resolves"), format!("{e}; {}", dns_hint(exp.traefik_ip, host))),
        }
        // The answer, through Traefik whatever the name resolves to, verified.
        let name = format!("{host} answers over {}", ctx.scheme().to_uppercase());
        match ctx.send(&ctx.request(host, "/")) {
            Ok(resp) if resp.status >= 500 => report.fail(SERVICE, name, format!("HTTP {} (is its backend up?)", resp.status)),
            // Traefik's own answer for a host no router matches.
            Ok(resp) if resp.status == 404 && resp.body.trim() == "404 page not found" => {
                report.fail(SERVICE, name, "HTTP 404 from Traefik: no router for this host (is traefik/dynamic/routes.yml the generated one?)")
            }
            Ok(resp) => report.pass(SERVICE, name, format!("HTTP {}", resp.status)),
            Err(e) => report.fail(SERVICE, name, e.0),
        }
        if !exp.tls {
            continue;
        }
        let served = ctx.send(&Request { insecure: true, want_certs: true, ..ctx.request(host, "/") });
        let name = format!("{host} serves the committed leaf");
        match (served, &committed) {
            (Err(e), _) => report.fail(SERVICE, name, e.0),
            (Ok(_), None) => report.fail(SERVICE, name, "no committed leaf (tls.certs_dir/leaf.crt) to compare with"),
            (Ok(resp), Some(want)) => match resp.certs.first() {
                None => report.fail(SERVICE, name, "the server sent no certificate"),
                Some(got) if got != want => report.fail(SERVICE, name, format!("served {} , committed {}", fingerprint(got), fingerprint(want))),
                Some(got) => match days_left(got) {
                    Some(d) if d < 0 => report.fail(SERVICE, name, format!("expired {} days ago", -d)),
                    Some(d) => {
                        if d < exp.renew_before_days as i64 {
                            due = Some(due.map_or(d, |m| m.min(d)));
                        }
                        report.pass(SERVICE, name, format!("{d} days left"))
                    }
                    None => report.fail(SERVICE, name, "the served certificate does not parse"),
                },
            },
        }
        let name = format!("http://{host}/ redirects to HTTPS");
        let req = Request { url: format!("http://{host}/"), resolve: Some(exp.traefik_ip), ..Request::get("") };
        match ctx.send(&req) {
            Ok(resp) if (300..400).contains(&resp.status) && resp.location.as_deref().is_some_and(|l| l.starts_with(&format!("https://{host}"))) => {
                report.pass(SERVICE, name, format!("HTTP {}", resp.status))
            }
            Ok(resp) => report.fail(SERVICE, name, format!("HTTP {} to {}", resp.status, resp.location.as_deref().unwrap_or("nowhere"))),
            Err(e) => report.fail(SERVICE, name, e.0),
        }
    }
    if let Some(d) = due {
        let detail = format!(
            "the served leaf has {d} days left, within tls.renew_before_days ({}): run `cargo xtask gen` where the CA key is, commit, then `cargo xtask apply monitoring`",
            exp.renew_before_days
        );
        report.push(SERVICE, "leaf renewal due", Status::Info, detail);
    }
}
