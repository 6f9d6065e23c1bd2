//! `[[services.prometheus.remote_write]]`: endpoints, their credentials, the series they drop, and
//! queue sizes that fit a 4 GB monitoring VM, with what the queues may cost in memory.

use super::*;

/// Queue defaults. Prometheus v3.14.0's own (config/config.go:236-252: capacity 10,000,
/// max_shards 50, max_samples_per_send 2,000) are sized to push 1M samples/s and may hold
/// 50 × (10,000 + 2,000) samples, about 150 MB by the estimate below, per endpoint. A homelab
/// sends a few thousand samples/s: 10 shards of 1,000 samples per request carry ~100k samples/s
/// at 100 ms per request, and a capacity of 5 requests per shard keeps sends flowing through a
/// slow request, for about 15 MB per endpoint.
pub const CAPACITY: u32 = 5_000;
pub const MAX_SHARDS: u32 = 10;
pub const MAX_SAMPLES_PER_SEND: u32 = 1_000;

/// Memory per queued sample, a deliberately high estimate: the queue's `timeSeries` entry is
/// about 100 bytes (storage/remote/queue_manager.go:1402: a labels reference, value, timestamps,
/// pointers), and each shard's batch is copied into `prompb.TimeSeries` with its labels and
/// compressed (queue_manager.go:1569).
pub const BYTES_PER_QUEUED_SAMPLE: u64 = 256;

/// What one queue may hold in memory, rounded up to the MB: every shard full (capacity) plus
/// one batch being sent.
pub fn queue_memory_mb(max_shards: u32, capacity: u32, max_samples_per_send: u32) -> u32 {
    let bytes = u64::from(max_shards) * (u64::from(capacity) + u64::from(max_samples_per_send)) * BYTES_PER_QUEUED_SAMPLE;
    u32::try_from(bytes.div_ceil(1 << 20)).unwrap_or(u32::MAX)
}

/// What remote write adds to Prometheus's memory: each queue's estimate, plus once the series
/// cache, which upstream's tuning guide puts at "~25% increased memory usage"
/// (https://prometheus.io/docs/practices/remote_write/, "Resource usage": each queue maps every
/// series of the WAL to its labels), taken as a quarter of Prometheus's limit without it.
pub fn memory_mb(endpoints: &[RemoteWrite], base_limit_mb: u32) -> u32 {
    if endpoints.is_empty() {
        return 0;
    }
    base_limit_mb.div_ceil(4) + endpoints.iter().map(|rw| rw.queue_memory_mb).sum::<u32>()
}

impl Validator<'_> {
    pub(super) fn remote_write(&mut self, raw: Option<&Vec<RawRemoteWrite>>) -> Vec<RemoteWrite> {
        let mut out: Vec<RemoteWrite> = Vec::new();
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        for (i, rw) in raw.into_iter().flatten().enumerate() {
            let at = format!("services.prometheus.remote_write[{i}]");
            let key = |k: &str| join(&at, k);
            let p = &mut *self.p;
            if check_label(p, &key("name"), "remote-write name", &rw.name) {
                if let Some(first) = names.get(&rw.name) {
                    p.add(
                        key("name"),
                        format!("`{}` is already the name of services.prometheus.remote_write[{first}]", rw.name),
                        "give each endpoint its own name: it labels its queue's metrics (remote_name) and its secret files",
                    );
                } else {
                    names.insert(rw.name.clone(), i);
                }
            }
            let host = match url_host(&rw.url) {
                Err(UrlProblem::Credentials) => {
                    p.add(
                        key("url"),
                        // Not echoed: the URL holds a password.
                        "the URL carries credentials (user:password@), which would be committed with stack.toml",
                        "remove them from the URL: write `username = \"...\"` and `password = { env = \"...\" }`",
                    );
                    String::new()
                }
                Err(UrlProblem::Malformed(why)) => {
                    p.add(key("url"), format!("`{}` {why}", rw.url), "write the endpoint's full URL, e.g. `https://mimir.example.net/api/v1/push`");
                    String::new()
                }
                Ok((scheme, host)) => {
                    if scheme == "http" && rw.allow_insecure_http != Some(true) {
                        p.add(
                            key("url"),
                            format!("`{}` is plain http: samples and credentials would cross the network unencrypted", rw.url),
                            "use https://, or set `allow_insecure_http = true` for an endpoint on a network you trust",
                        );
                    }
                    host
                }
            };
            let env = |what: &str| format!("REMOTE_WRITE_{}_{what}", rw.name.to_ascii_uppercase().replace('-', "_"));
            let password = rw.password.as_ref().map(|s| secret(p, &key("password"), Some(s), &env("PASSWORD")));
            let bearer_token = rw.bearer_token.as_ref().map(|s| secret(p, &key("bearer_token"), Some(s), &env("TOKEN")));
            match (&rw.username, &password) {
                (Some(_), None) => p.add(key("username"), "a username without a password", &format!("add `password = {{ env = \"{}\" }}`", env("PASSWORD"))),
                (None, Some(_)) => p.add(key("password"), "a password without a username", "add `username = \"...\"` (basic auth needs both)"),
                (Some(u), Some(_)) if u.is_empty() || u.chars().any(char::is_control) => {
                    p.add(key("username"), "the username is empty or has a control character", "write the account name the endpoint expects")
                }
                _ => {}
            }
            if password.is_some() && bearer_token.is_some() {
                p.add(
                    key("bearer_token"),
                    "both basic auth (username, password) and a bearer token",
                    "keep one: Prometheus refuses an endpoint with both basic_auth and authorization",
                );
            }
            let mut drop_series = Vec::new();
            for (j, re) in rw.drop_series.iter().flatten().enumerate() {
                match regex_problem(re) {
                    Some(why) => p.add(
                        format!("{}[{j}]", key("drop_series")),
                        format!("`{re}` is not a valid regex: {why}"),
                        "write an RE2 regex matched against the whole metric name, e.g. `go_gc_.*` (no lookaround, no backreferences)",
                    ),
                    None => drop_series.push(re.clone()),
                }
            }
            let queue = rw.queue.as_ref();
            let qkey = |k: &str| join(&key("queue"), k);
            let capacity = opt_range(p, &qkey("capacity"), queue.and_then(|q| q.capacity), CAPACITY, 1, 1_000_000, " samples per shard");
            let max_shards = opt_range(p, &qkey("max_shards"), queue.and_then(|q| q.max_shards), MAX_SHARDS, 1, 1_000, " shards");
            let max_samples_per_send =
                opt_range(p, &qkey("max_samples_per_send"), queue.and_then(|q| q.max_samples_per_send), MAX_SAMPLES_PER_SEND, 1, 100_000, " samples");
            if capacity < max_samples_per_send {
                p.add(
                    qkey("capacity"),
                    format!("a shard holds {capacity} samples, fewer than one request's {max_samples_per_send}"),
                    "make capacity a few times max_samples_per_send (Prometheus's docs: enough to buffer several requests)",
                );
            }
            let file = |what: &str| format!("remote_write_{}_{what}", rw.name);
            out.push(RemoteWrite {
                name: rw.name.clone(),
                url: rw.url.clone(),
                host,
                username: rw.username.clone(),
                password_file: password.as_ref().map(|_| file("password")),
                password,
                bearer_token_file: bearer_token.as_ref().map(|_| file("token")),
                bearer_token,
                drop_series,
                capacity,
                max_shards,
                max_samples_per_send,
                queue_memory_mb: queue_memory_mb(max_shards, capacity, max_samples_per_send),
            });
        }
        out
    }
}

/// Why a URL cannot be used.
#[derive(Debug, PartialEq, Eq)]
enum UrlProblem {
    /// `user:password@` in the URL: a secret in stack.toml.
    Credentials,
    Malformed(&'static str),
}

/// The scheme and `host[:port]` of an http(s) URL, or why it is not one we can use.
fn url_host(url: &str) -> Result<(&str, String), UrlProblem> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UrlProblem::Malformed("has a space or control character"));
    }
    let Some((scheme, rest)) = url.split_once("://") else { return Err(UrlProblem::Malformed("is not a URL: it has no scheme (https://)")) };
    if scheme != "https" && scheme != "http" {
        return Err(UrlProblem::Malformed("is not an http(s) URL"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(UrlProblem::Credentials);
    }
    let parts = crate::url::host_port(authority).filter(|hp| hp.bracketed().is_none_or(|v6| v6.parse::<std::net::Ipv6Addr>().is_ok()));
    let Some(crate::url::HostPort { host, port }) = parts else { return Err(UrlProblem::Malformed("has a malformed IPv6 host")) };
    if !host.starts_with('[') && !is_host_name(host) {
        return Err(UrlProblem::Malformed("has no valid host name or address"));
    }
    if let Some(p) = port
        && !(p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok_and(|p| p > 0))
    {
        return Err(UrlProblem::Malformed("has a port outside 1..65535"));
    }
    Ok((scheme, authority.to_string()))
}

/// Why `re` is not a regex Prometheus can use (RE2 syntax, anchored at both ends as Prometheus
/// anchors relabel regexes), by the syntax of the regex crate, which follows RE2's. Prometheus
/// matches label values as UTF-8 text, ASCII classes as RE2 does.
fn regex_problem(re: &str) -> Option<String> {
    if re.is_empty() {
        return Some("it is empty, so it drops nothing".to_string());
    }
    let anchored = format!("^(?:{re})$");
    let err = regex_syntax::ParserBuilder::new().unicode(false).utf8(false).build().parse(&anchored).err()?;
    let why = match &err {
        regex_syntax::Error::Parse(e) => e.kind().to_string(),
        regex_syntax::Error::Translate(e) => e.kind().to_string(),
        other => other.to_string(),
    };
    Some(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_host_or_why_not() {
        assert_eq!(url_host("https://mimir.lab:8080/api/v1/push"), Ok(("https", "mimir.lab:8080".to_string())));
        assert_eq!(url_host("http://10.0.0.5/write"), Ok(("http", "10.0.0.5".to_string())));
        assert_eq!(url_host("https://[fd00::1]:9009/push"), Ok(("https", "[fd00::1]:9009".to_string())));
        assert!(url_host("mimir.lab/push").is_err());
        assert!(url_host("https:///push").is_err());
        assert_eq!(url_host("https://u:p@mimir.lab/push"), Err(UrlProblem::Credentials));
        assert!(url_host("https://mimir.lab:0/push").is_err());
        assert!(url_host("ftp://mimir.lab/").is_err());
        // Host names are case-insensitive; a label still may not start with a hyphen.
        assert_eq!(url_host("https://Mimir.LAB/push"), Ok(("https", "Mimir.LAB".to_string())));
        assert!(url_host("https://-mimir.lab/push").is_err());
    }

    #[test]
    fn regexes_follow_re2_syntax() {
        assert_eq!(regex_problem("go_gc_.*|process_.+"), None);
        assert_eq!(regex_problem("[a-z]+_bucket"), None);
        assert!(regex_problem("(unclosed").is_some());
        assert!(regex_problem("a(?=b)").is_some(), "RE2 has no lookahead");
        assert!(regex_problem("").is_some());
    }

    #[test]
    fn queue_memory_counts_every_full_shard() {
        assert_eq!(queue_memory_mb(MAX_SHARDS, CAPACITY, MAX_SAMPLES_PER_SEND), 15);
        // Prometheus's own defaults: about 150 MB per endpoint.
        assert_eq!(queue_memory_mb(50, 10_000, 2_000), 147);
    }
}
