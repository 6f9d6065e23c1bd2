//! `[tls]`: key paths outside generated/, the certificates' folder, leaf validity, TLS version.

use super::*;

/// `tls.certs_dir`: a plain relative folder of the repository, outside generated/ (gen copies the
/// certificates from it into generated/, so it cannot be inside).
/// The repository's gitignored folder for private keys (`.gitignore`: `/.secrets/`).
const SECRETS_DIR: &str = ".secrets/";

fn certs_dir(p: &mut Problems, v: Option<String>) -> String {
    let v = v.unwrap_or_else(|| "infrastructure/tls".to_string());
    let n = v.trim_start_matches("./").trim_end_matches('/');
    if crate::tree::check_relative(n).is_err() {
        p.add("tls.certs_dir", format!("`{v}` is not a folder inside the repository"), "use a relative path without `..`, e.g. \"infrastructure/tls\"");
    } else if n == "generated" || n.starts_with("generated/") {
        p.add(
            "tls.certs_dir",
            format!("`{v}` is under generated/"),
            "the committed certificates are inputs: keep them outside generated/, e.g. \"infrastructure/tls\"",
        );
    }
    n.to_string()
}

impl Validator<'_> {
    pub(super) fn tls(&mut self, raw: Option<&RawTls>) -> Tls {
        let p = &mut *self.p;
        let t = raw.cloned().unwrap_or(RawTls {
            enabled: None,
            ca_key: None,
            leaf_key: None,
            certs_dir: None,
            leaf_validity_days: None,
            renew_before_days: None,
            min_version: None,
        });
        // A private key lives in the repository's gitignored `.secrets/` folder, or outside the
        // repository (an absolute path): anywhere else in the checkout it could be committed,
        // and gen would write a key over whatever file the path names (stack.toml, a template).
        let key_path = |p: &mut Problems, key: &str, v: Option<String>, default: &str| {
            let v = v.unwrap_or_else(|| default.to_string());
            let n = v.trim_start_matches("./");
            let hint = "keep keys in `.secrets/` (gitignored), e.g. `.secrets/ca.key`, or at an absolute path outside the repository";
            if v.is_empty() || n == "generated" || n.starts_with("generated/") {
                p.add(key, format!("`{v}` would put a private key under generated/"), hint);
            } else if !v.starts_with('/') && (!n.starts_with(SECRETS_DIR) || crate::tree::check_relative(n).is_err() || n.len() == SECRETS_DIR.len()) {
                p.add(
                    key,
                    format!("`{v}` would put a private key in the repository outside the gitignored `.secrets/` folder, where it could be committed"),
                    hint,
                );
            }
            v
        };
        let validity = opt_range(p, "tls.leaf_validity_days", t.leaf_validity_days, 397, 1, 397, " days (browsers refuse longer leaves)");
        let renew = opt_range(p, "tls.renew_before_days", t.renew_before_days, 30, 1, 396, " days");
        if renew >= validity {
            p.add(
                "tls.renew_before_days",
                format!("{renew} days is not shorter than the leaf validity ({validity} days)"),
                "a leaf would be renewed on every run",
            );
        }
        let min_version = match t.min_version.as_deref().unwrap_or("1.2") {
            "1.2" => "VersionTLS12".to_string(),
            "1.3" => "VersionTLS13".to_string(),
            other => {
                p.add("tls.min_version", format!("`{other}` is not an accepted TLS version"), "use \"1.2\" or \"1.3\"; older versions are insecure");
                "VersionTLS12".to_string()
            }
        };
        let enabled = t.enabled.unwrap_or(true);
        let paths_before = p.0.len();
        let ca_key = key_path(p, "tls.ca_key", t.ca_key, ".secrets/ca.key");
        let leaf_key = key_path(p, "tls.leaf_key", t.leaf_key, ".secrets/leaf.key");
        let same = |a: &str, b: &str| a.split('/').filter(|s| !s.is_empty() && *s != ".").eq(b.split('/').filter(|s| !s.is_empty() && *s != "."));
        if p.0.len() == paths_before && ca_key.starts_with('/') == leaf_key.starts_with('/') && same(&ca_key, &leaf_key) {
            p.add(
                "tls.leaf_key",
                format!("`{leaf_key}` is also tls.ca_key: issuing a leaf would write its key over the CA's"),
                "give the leaf key its own file, e.g. `.secrets/leaf.key`",
            );
        }
        let before = p.0.len();
        let certs_dir = certs_dir(p, t.certs_dir);
        // Read only from a folder inside the repository; with TLS off nothing is copied.
        let certs = if enabled && p.0.len() == before { (self.read_certs)(&certs_dir) } else { CommittedCerts::default() };
        Tls { enabled, ca_key, leaf_key, certs_dir, certs, leaf_validity_days: validity, renew_before_days: renew, min_version }
    }
}
