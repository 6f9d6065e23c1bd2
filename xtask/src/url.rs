//! The one reading of a URL's authority as host and port (`[v6]:port`, `[v6]`, `host:port`,
//! `host`): stack validation (remote write, Loki's S3 endpoint), the workability checks and verify
//! each use it and say in their own words what is wrong with the parts.

/// The host and port of an authority (`user@` aside: callers refuse or never have one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostPort<'a> {
    /// As written: an IPv6 address keeps its brackets.
    pub host: &'a str,
    /// The text after the last `:` of the host, when there is one (maybe empty or not a number).
    pub port: Option<&'a str>,
}

impl<'a> HostPort<'a> {
    /// The IPv6 address between the brackets, when the host is one in brackets.
    pub fn bracketed(&self) -> Option<&'a str> {
        self.host.strip_prefix('[')?.strip_suffix(']')
    }
}

/// `url` with whatever stands between `://` and the last `@` (credentials) replaced by `…`, for
/// messages: a URL with a user or password in it is refused, never echoed.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}…{}", &url[..scheme + 3], &url[at..]),
        (None, Some(at)) => format!("…{}", &url[at..]),
        _ => url.to_string(),
    }
}

/// `authority` split into host and port; `None` for a `[` with no `]`.
pub fn host_port(authority: &str) -> Option<HostPort<'_>> {
    match authority.strip_prefix('[') {
        Some(v6) => {
            let (inner, rest) = v6.split_once(']')?;
            Some(HostPort { host: &authority[..inner.len() + 2], port: rest.strip_prefix(':') })
        }
        None => Some(match authority.rsplit_once(':') {
            Some((host, port)) => HostPort { host, port: Some(port) },
            None => HostPort { host: authority, port: None },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(redacted("https://root:SEKRET@10.0.0.1:8006/"), "https://…@10.0.0.1:8006/");
        assert_eq!(redacted("https://root:pa/SEKRET@host/"), "https://…@host/");
        assert_eq!(redacted("http://u:p@h/"), "http://…@h/");
        assert_eq!(redacted("https://10.0.0.1:8006/"), "https://10.0.0.1:8006/");
    }

    #[test]
    fn hosts_and_ports_of_every_shape() {
        let hp = |a| host_port(a).map(|h| (h.host, h.port, h.bracketed()));
        assert_eq!(hp("pve.lan:8006"), Some(("pve.lan", Some("8006"), None)));
        assert_eq!(hp("10.0.0.1"), Some(("10.0.0.1", None, None)));
        assert_eq!(hp("pve:"), Some(("pve", Some(""), None)));
        assert_eq!(hp("[fe80::1]:8006"), Some(("[fe80::1]", Some("8006"), Some("fe80::1"))));
        assert_eq!(hp("[fe80::1]"), Some(("[fe80::1]", None, Some("fe80::1"))));
        assert_eq!(hp("[fe80::1"), None);
    }
}
