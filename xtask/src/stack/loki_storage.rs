//! `[services.loki] storage` and `[services.loki.s3]`: where Loki keeps chunks and index, as
//! schema periods; and the day-2 guard that never lets an edit rewrite a period that has begun
//! (Loki finds a day's logs through the period that covers it: rewritten, they are lost).
//!
//! Facts of Loki 3.7.6 this relies on (grafana/loki at v3.7.6):
//! - `common.storage` takes one backend only (pkg/loki/config_wrapper.go:699, ErrTooManyStorageConfigs),
//!   so with s3 the old filesystem period is read through `storage_config.filesystem.directory`
//!   (docs/sources/shared/configuration.md:7820) and the ruler is kept local with `ruler.storage`
//!   (what v3.7.6 reads without `use_thanos_objstore`: pkg/loki/modules.go:1593).
//! - `endpoint` is `host[:port]`: Loki prefixes https://, or http:// when `insecure`
//!   (pkg/storage/chunk/client/aws/s3_storage_client.go:328-337).
//! - A new schema period is appended with a later `from`; older ones stay as they are
//!   (docs/sources/configure/examples/yaml/7-Schema-Migration-Snippet.yaml).
//! - The compactor keeps one store per period (pkg/compactor/compactor.go:229-231), so retention
//!   still deletes the disk period's chunks once they are old enough.

use super::diag::Problems;
use super::model::{LokiS3, LokiStorage, SchemaPeriod};
use super::raw::{RawLokiS3, RawService};
use super::validate::secret;

/// First day of the filesystem period every lab has had since its first gen. It never moves.
pub const FILESYSTEM_FROM: &str = "2024-04-01";

/// Loki's embedded chunk cache when nothing else is configured: on, 100 MB
/// (pkg/loki/config_wrapper.go:741-745; `max_size_mb` default, configuration.md:2570).
const DEFAULT_CHUNK_CACHE_MB: u32 = 100;
/// With chunks in a bucket every cache miss is a GET over the network: a larger in-process
/// chunk cache (Loki's documented choice for a single binary without memcached is the embedded
/// cache, docs/sources/operations/caching.md) keeps recent chunks on the VM.
const S3_CHUNK_CACHE_MB: u32 = 128;
/// The query results cache the config has always set (query_range.results_cache).
const RESULTS_CACHE_MB: u32 = 64;
/// What Loki needs besides its caches on a small node (ingester streams, queries, compactor):
/// with s3 its memory limit must hold the caches plus this.
pub const WORKING_SET_MB: u32 = 384;

const KEY: &str = "services.loki";

/// The storage of `[services.loki]`, with every problem of `storage` and `[services.loki.s3]`.
pub fn storage(p: &mut Problems, raw: Option<&RawService>) -> LokiStorage {
    let base = SchemaPeriod { from: FILESYSTEM_FROM.to_string(), object_store: "filesystem".to_string() };
    let filesystem = LokiStorage {
        kind: "filesystem".to_string(),
        s3: None,
        periods: vec![base.clone()],
        chunk_cache_mb: DEFAULT_CHUNK_CACHE_MB,
        results_cache_mb: RESULTS_CACHE_MB,
    };
    let kind = raw.and_then(|r| r.storage.as_deref()).unwrap_or("filesystem");
    let section = raw.and_then(|r| r.s3.as_ref());
    match (kind, section) {
        ("filesystem", None) => filesystem,
        ("filesystem", Some(_)) => {
            p.add(
                format!("{KEY}.s3"),
                "a [services.loki.s3] section, but storage is \"filesystem\"",
                "set `storage = \"s3\"` in [services.loki] to store logs in the bucket, or remove the section (only before its `from` day: a bucket period that has begun stays)",
            );
            filesystem
        }
        ("s3", None) => {
            p.add(
                format!("{KEY}.storage"),
                "storage = \"s3\" needs a [services.loki.s3] section",
                "add [services.loki.s3] with endpoint, bucket, region, access_key_id, secret_access_key and from (README, \"Logs on object storage\")",
            );
            filesystem
        }
        ("s3", Some(s3)) => match bucket(p, s3) {
            Some(s3) => LokiStorage {
                kind: "s3".to_string(),
                periods: vec![base, SchemaPeriod { from: s3.from.clone(), object_store: "s3".to_string() }],
                s3: Some(s3),
                chunk_cache_mb: S3_CHUNK_CACHE_MB,
                results_cache_mb: RESULTS_CACHE_MB,
            },
            None => filesystem,
        },
        (other, _) => {
            p.add(format!("{KEY}.storage"), format!("unknown storage `{}`", other.escape_debug()), "use \"filesystem\" (the VM's disk, the default) or \"s3\"");
            filesystem
        }
    }
}

fn bucket(p: &mut Problems, raw: &RawLokiS3) -> Option<LokiS3> {
    let key = |k: &str| format!("{KEY}.s3.{k}");
    let mut ok = true;
    let mut required = |p: &mut Problems, name: &str, value: &Option<String>, example: &str, note: &str| -> String {
        match value {
            Some(v) if !v.is_empty() => v.clone(),
            _ => {
                ok = false;
                p.add_missing(key(name), format!("missing key `{name}`"), &format!("add e.g. `{name} = \"{example}\"`{note}"));
                String::new()
            }
        }
    };
    let endpoint = required(p, "endpoint", &raw.endpoint, "s3.nas.lan:9000", " (host[:port], no scheme)");
    let bucket = required(p, "bucket", &raw.bucket, "loki", "");
    let region = required(p, "region", &raw.region, "us-east-1", " (MinIO's default; Garage: its s3_region)");
    let from = required(p, "from", &raw.from, "2027-06-01", ": a day after today, when logs start going to the bucket");
    let insecure = raw.insecure.unwrap_or(false);
    if !endpoint.is_empty() {
        ok &= check_endpoint(p, &key("endpoint"), &endpoint, insecure);
    }
    if !bucket.is_empty() && !is_bucket_name(&bucket) {
        ok = false;
        p.add(
            key("bucket"),
            format!("`{}` is not an S3 bucket name", bucket.escape_debug()),
            "use 3 to 63 lowercase letters, digits, dots and hyphens, e.g. `loki`",
        );
    }
    if !region.is_empty() && !region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        ok = false;
        p.add(key("region"), format!("`{}` is not a region name", region.escape_debug()), "e.g. `us-east-1` (MinIO), `garage` (Garage's s3_region)");
    }
    if !from.is_empty() && crate::dates::parse_date(&from).is_none() {
        ok = false;
        p.add(
            key("from"),
            format!("`{}` is not a date YYYY-MM-DD", from.escape_debug()),
            "write the first day of the bucket's period, e.g. `from = \"2027-06-01\"`",
        );
    } else if !from.is_empty() && from.as_str() <= FILESYSTEM_FROM {
        ok = false;
        p.add(
            key("from"),
            format!("{from} is not after the filesystem period, which starts on {FILESYSTEM_FROM}"),
            "the bucket's period follows the disk's: pick a date after today",
        );
    }
    let access_key_id = secret(p, &key("access_key_id"), raw.access_key_id.as_ref(), "LOKI_S3_ACCESS_KEY_ID");
    let secret_access_key = secret(p, &key("secret_access_key"), raw.secret_access_key.as_ref(), "LOKI_S3_SECRET_ACCESS_KEY");
    ok.then(|| LokiS3 { endpoint, bucket, region, path_style: raw.path_style.unwrap_or(true), insecure, access_key_id, secret_access_key, from })
}

/// With s3, Loki's memory limit must hold the caches it is configured with plus its working set
/// (the memory budget then counts them: they live inside that limit).
pub fn caches_fit(p: &mut Problems, storage: &LokiStorage, memory_limit_mb: u32) {
    if storage.s3.is_none() {
        return;
    }
    let need = storage.chunk_cache_mb + storage.results_cache_mb + WORKING_SET_MB;
    if memory_limit_mb < need {
        p.add(
            format!("{KEY}.memory_limit_mb"),
            format!(
                "Loki's limit of {memory_limit_mb} MB cannot hold its caches (chunks {} MB + results {} MB) and its working set ({WORKING_SET_MB} MB)",
                storage.chunk_cache_mb, storage.results_cache_mb
            ),
            &format!("raise services.loki.memory_limit_mb to at least {need}"),
        );
    }
}

/// `host[:port]` (Loki adds the scheme); a scheme is refused, `http://` with a pointer to
/// `insecure`, so plain HTTP is never chosen by accident.
fn check_endpoint(p: &mut Problems, key: &str, endpoint: &str, insecure: bool) -> bool {
    // The hints give host[:port] alone: a path (`/loki`, a trailing `/`) is refused below, so a
    // hint that kept it would not work when followed. A path's first segment is likely the bucket.
    let fix = |rest: &str, then: &str| -> String {
        let (hp, path) = rest.split_once('/').unwrap_or((rest, ""));
        let path = path.trim_matches('/');
        let bucket = path.split('/').next().filter(|b| !b.is_empty());
        let bucket = bucket.map(|b| format!("; a bucket is not part of the endpoint: `bucket = \"{b}\"`")).unwrap_or_default();
        format!("write `endpoint = \"{hp}\"`{then}{bucket}")
    };
    if let Some(rest) = endpoint.strip_prefix("http://") {
        let hint = if insecure {
            fix(rest, ": with `insecure = true` Loki speaks http:// to it")
        } else {
            fix(rest, " and, only if the store has no TLS, `insecure = true`: keys and logs then cross the LAN in clear")
        };
        p.add(key, "plain http:// endpoint: Loki would send the access keys and logs unencrypted", &hint);
        return false;
    }
    if let Some(rest) = endpoint.strip_prefix("https://") {
        p.add(key, "the endpoint takes no scheme", &fix(rest, ": Loki adds https://"));
        return false;
    }
    let (host, port) = crate::url::host_port(endpoint).map_or(("", None), |hp| (hp.host, hp.port));
    // One final dot allowed: `a..b` or `-s3.lan` would only fail when Loki first resolves it.
    let host_ok = super::validate::is_host_name(host.strip_suffix('.').unwrap_or(host));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
    if !host_ok || !port_ok {
        p.add(key, format!("`{}` is not host[:port]", endpoint.escape_debug()), "e.g. `s3.nas.lan:9000` or `10.30.0.5:3900`, without a path");
        return false;
    }
    true
}

fn is_bucket_name(s: &str) -> bool {
    (3..=63).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
}

/// What gen last wrote, for the day-2 guard: today's date (taken at the edge) and the schema
/// periods of the Loki config under generated/ (empty when there is none yet).
#[derive(Debug, Clone, Default)]
pub struct Before {
    pub today: String,
    pub periods: Vec<SchemaPeriod>,
    /// The VM roots gen last wrote, for the day-2 guard of the roots (`day2::roots`).
    pub roots: Vec<super::day2::RootOnDisk>,
}

/// The schema periods of a Loki config as gen wrote it; none when it does not read as one.
pub fn periods_of_config(yaml: &str) -> Vec<SchemaPeriod> {
    #[derive(serde::Deserialize)]
    struct Config {
        schema_config: Schema,
    }
    #[derive(serde::Deserialize)]
    struct Schema {
        configs: Vec<Period>,
    }
    #[derive(serde::Deserialize)]
    struct Period {
        from: String,
        object_store: String,
    }
    serde_norway::from_str::<Config>(yaml)
        .map(|c| c.schema_config.configs.into_iter().map(|p| SchemaPeriod { from: p.from, object_store: p.object_store }).collect())
        .unwrap_or_default()
}

/// The day-2 guard: a period gen wrote that has begun (its first day is today or earlier) must
/// stay exactly as it is, and a period this edit introduces must begin after today.
pub fn guard(p: &mut Problems, storage: &LokiStorage, before: &Before) {
    let today = before.today.as_str();
    let at = if storage.s3.is_some() { format!("{KEY}.s3.from") } else { format!("{KEY}.storage") };
    for old in before.periods.iter().filter(|o| o.from.as_str() <= today) {
        if storage.periods.contains(old) {
            continue;
        }
        let hint = match &storage.s3 {
            Some(_) if old.object_store == "s3" => {
                format!("keep `from = \"{}\"`: the logs since that day are in the bucket under that period, and a period that has begun never moves", old.from)
            }
            _ if old.object_store == "s3" => format!(
                "keep `storage = \"s3\"` and its [services.loki.s3] section (`from = \"{}\"`): the logs since that day are in the bucket and Loki reads them only through that period",
                old.from
            ),
            _ => "the disk's period never changes; restore the Loki settings gen last wrote".to_string(),
        };
        p.add(
            &at,
            format!(
                "this edit rewrites the schema period that began on {} (object_store {}, today is {today} UTC): Loki would no longer find the logs stored under it",
                old.from, old.object_store
            ),
            &hint,
        );
    }
    for new in &storage.periods {
        let known = before.periods.contains(new) || new.from == FILESYSTEM_FROM;
        if !known && new.from.as_str() <= today {
            p.add(
                &at,
                format!("the bucket's period would begin on {}, which is not after today ({today} UTC)", new.from),
                &if before.periods.is_empty() {
                    "pick a date after today: Loki writes to the bucket from 00:00 UTC that day, and the logs before it stay on the VM's disk; if an earlier gen wrote this period, restore generated/ from git (`git checkout generated/`) so gen sees it".to_string()
                } else {
                    "pick a date after today: Loki writes to the bucket from 00:00 UTC that day, and the logs before it stay on the VM's disk".to_string()
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint_hint(endpoint: &str) -> String {
        let mut p = Problems::default();
        assert!(!check_endpoint(&mut p, "e", endpoint, false));
        p.0[0].hint.clone().unwrap_or_default()
    }

    #[test]
    fn endpoint_hosts_are_dns_names_or_addresses() {
        let ok = |e: &str| check_endpoint(&mut Problems::default(), "e", e, false);
        for good in ["s3.nas.lan:9000", "10.30.0.5:3900", "S3.NAS.lan", "minio", "s3.lan.:9000", "a-b.c1"] {
            assert!(ok(good), "{good}");
        }
        for bad in ["a..b:9000", "-s3.lan", "s3-.lan:9000", ".s3.lan", "s3_lan:9000", ".", "s3.lan:0", "s3.lan:70000", ":9000", "s3 lan"] {
            assert!(!ok(bad), "{bad}");
        }
    }

    #[test]
    fn endpoint_hints_give_host_and_port_alone_and_name_the_bucket_of_a_path() {
        assert_eq!(endpoint_hint("https://s3.nas.lan:9000/"), "write `endpoint = \"s3.nas.lan:9000\"`: Loki adds https://");
        assert_eq!(
            endpoint_hint("https://s3.nas.lan:9000/loki/"),
            "write `endpoint = \"s3.nas.lan:9000\"`: Loki adds https://; a bucket is not part of the endpoint: `bucket = \"loki\"`"
        );
        assert!(endpoint_hint("http://10.0.0.5:3900/logs").starts_with("write `endpoint = \"10.0.0.5:3900\"` and, only if the store has no TLS"));
        // Followed literally, the hint's endpoint is accepted.
        assert!(check_endpoint(&mut Problems::default(), "e", "s3.nas.lan:9000", false));
    }

    #[test]
    fn periods_are_read_back_from_the_config_gen_wrote() {
        let yaml = "schema_config:\n  configs:\n    - from: \"2024-04-01\"\n      store: tsdb\n      object_store: filesystem\n    - from: \"2027-06-01\"\n      object_store: s3\n";
        let got = periods_of_config(yaml);
        assert_eq!(got.iter().map(|p| (p.from.as_str(), p.object_store.as_str())).collect::<Vec<_>>(), [("2024-04-01", "filesystem"), ("2027-06-01", "s3")]);
        assert!(periods_of_config("not: [yaml").is_empty());
    }

    /// The render memo's key hashes the stack file, the certificates and the templates, not
    /// generated/'s Loki config nor the date: that holds only while the guard adds problems and
    /// never changes the model (memo.rs, "Rendering reads nothing else").
    #[test]
    fn the_guard_never_changes_the_model_the_render_reads() {
        let src = include_str!("../../../tests/stacks/scale-lab/stack.toml");
        let model = |before: Option<&Before>| serde_json::to_string(&crate::stack::from_str_before("stack.toml", src, before).unwrap()).unwrap();
        let plain = model(None);
        let disk = SchemaPeriod { from: FILESYSTEM_FROM.to_string(), object_store: "filesystem".to_string() };
        let bucket = SchemaPeriod { from: "2029-01-01".to_string(), object_store: "s3".to_string() };
        for periods in [vec![], vec![disk.clone()], vec![disk, bucket]] {
            assert_eq!(model(Some(&Before { today: "2026-12-02".to_string(), periods, roots: Vec::new() })), plain);
        }
    }
}
