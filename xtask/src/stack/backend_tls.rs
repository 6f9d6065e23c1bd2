//! How Traefik verifies a `[routes]` backend reached over `scheme = "https"`: by default the
//! route's own host name against the lab's CA; `server_name` names another; only an explicit
//! `insecure_skip_verify = true` turns verification off. Without a transport Traefik would check
//! the backend's certificate against the system CAs for its IP address, and every request fails.

use super::diag::Problems;
use super::model::BackendTls;
use super::parse::join;
use super::raw::RawRoute;

/// The transport of one route, or None for plain http (where the TLS keys are refused).
pub fn check(p: &mut Problems, key: &str, r: &RawRoute, scheme: &str, host: &str) -> Option<BackendTls> {
    if scheme != "https" {
        for (given, name) in [(r.server_name.is_some(), "server_name"), (r.insecure_skip_verify.is_some(), "insecure_skip_verify")] {
            if given {
                p.add(
                    join(key, name),
                    format!("`{name}` applies to an https backend, and this route's scheme is `{scheme}`"),
                    "set `scheme = \"https\"` or remove it",
                );
            }
        }
        return None;
    }
    let insecure = r.insecure_skip_verify.unwrap_or(false);
    let server_name = match &r.server_name {
        Some(n) if insecure => {
            p.add(join(key, "server_name"), format!("`{n}` is never checked: insecure_skip_verify = true turns verification off"), "remove one of the two");
            n.clone()
        }
        Some(n) if n.is_empty() || n.len() > 253 || !n.split('.').all(super::validate::is_dns_label) => {
            p.add(join(key, "server_name"), format!("`{n}` is not a host name"), "the DNS name in the backend's certificate, e.g. \"nas.home.lan\"");
            host.to_string()
        }
        Some(n) => n.clone(),
        None => host.to_string(),
    };
    Some(BackendTls { server_name, insecure_skip_verify: insecure })
}
