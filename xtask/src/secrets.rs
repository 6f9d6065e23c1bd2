//! The secret scan of `cargo xtask check`: no private key, no value of a referenced secret and no
//! token-shaped literal in stack.toml or anything under generated/. Pure: callers read the files
//! and the environment, this module only looks at bytes.
//!
//! The patterns are matched by hand (no regex crate): each one is small and has clear boundaries.

use std::fmt;

mod find_refs;

use crate::stack::Stack;
use crate::stack::model::SecretRef;

/// Environment values shorter than this are not searched for: they would match by chance.
pub const MIN_VALUE_LEN: usize = 6;

/// One thing that looks like a secret, located by file and 1-based line. Never holds the secret.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub file: String,
    pub line: usize,
    pub what: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.what)
    }
}

/// Every secret reference of the stack, found in its serialized form so that a `SecretRef` added
/// later to the model is scanned without touching this module (`find_refs`). Sorted by
/// variable, deduplicated.
pub fn referenced(stack: &Stack) -> Vec<SecretRef> {
    let mut out = Vec::new();
    find_refs::find(stack, &mut out);
    out.sort_by(|a, b| (&a.env, &a.tf_var).cmp(&(&b.env, &b.tf_var)));
    out.dedup();
    out
}

/// The values to search for: `(variable, value)` for each referenced variable that `env` knows,
/// when the value is at least `MIN_VALUE_LEN` characters long once trimmed.
pub fn values(refs: &[SecretRef], env: impl Fn(&str) -> Option<String>) -> Vec<(String, String)> {
    refs.iter().filter_map(|r| env(&r.env).map(|v| (r.env.clone(), v.trim().to_string()))).filter(|(_, v)| v.chars().count() >= MIN_VALUE_LEN).collect()
}

/// Scans files given as `(name, bytes)`; `values` are the secret values from `values`.
pub fn scan<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>, values: &[(String, String)]) -> Vec<Finding> {
    let files: Vec<(&str, &[u8])> = files.into_iter().collect();
    // Files are independent: scan them on every core, then merge in a fixed order. Parts of
    // about the same size in bytes (by count, one core got the agents' small files and the other
    // the cloud-configs and the Terraform roots, twice the bytes).
    let parts = parts_of_bytes(&files, files.iter().map(|(_, b)| b.len()).sum::<usize>() / (4 * crate::par::workers()) + 1);
    let mut out: Vec<Finding> = crate::par::queue(&parts, |part| scan_files(part, values)).into_iter().flatten().collect();
    out.sort();
    out.dedup();
    out
}

/// `files` cut into runs of about `bytes` bytes each (a file is never cut).
fn parts_of_bytes<'f, 'a>(files: &'f [(&'a str, &'a [u8])], bytes: usize) -> Vec<&'f [(&'a str, &'a [u8])]> {
    let mut parts = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (i, (_, b)) in files.iter().enumerate() {
        size += b.len();
        if size >= bytes {
            parts.push(&files[start..=i]);
            (start, size) = (i + 1, 0);
        }
    }
    if start < files.len() {
        parts.push(&files[start..]);
    }
    parts
}

fn scan_files(files: &[(&str, &[u8])], values: &[(String, String)]) -> Vec<Finding> {
    // A value with a newline never fits on one line (no pattern matches a newline either).
    let values: Vec<(String, memchr::memmem::Finder)> = values
        .iter()
        .filter(|(_, v)| !v.contains('\n') && !v.is_empty())
        .map(|(var, v)| (format!("the value of ${var} (a referenced secret) is written here"), memchr::memmem::Finder::new(v.as_bytes())))
        .collect();
    let anchors: Vec<(&Kind, memchr::memmem::Finder)> = KINDS.iter().map(|k| (k, memchr::memmem::Finder::new(k.anchor.as_bytes()))).collect();
    let mut out = Vec::new();
    let mut hits: Vec<(usize, &str)> = Vec::new();
    for (name, bytes) in files {
        // Each literal (a value, a pattern's anchor) is searched over the whole file: every
        // occurrence, overlapping ones too, so each line holding a match is found, as a scan of
        // each line would find it, and no match spans a line.
        hits.clear();
        for (what, finder) in &values {
            hits.extend(find_all(finder, bytes).map(|at| (at, what.as_str())));
        }
        for (kind, finder) in &anchors {
            hits.extend(find_all(finder, bytes).filter(|at| (kind.at)(bytes, *at)).map(|at| (at, kind.what)));
        }
        hits.sort_unstable();
        let mut lines = LineOf::new(bytes);
        out.extend(hits.iter().map(|(at, what)| Finding { file: name.to_string(), line: lines.at(*at), what: what.to_string() }));
    }
    out
}

/// Every offset at which `finder`'s literal starts in `bytes`, overlapping occurrences included.
fn find_all<'a>(finder: &'a memchr::memmem::Finder, bytes: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    let mut from = 0;
    std::iter::from_fn(move || {
        let at = from + finder.find(bytes.get(from..)?)?;
        from = at + 1;
        Some(at)
    })
}

/// 1-based line numbers of byte offsets, asked for in increasing order.
struct LineOf<'a> {
    text: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> LineOf<'a> {
    fn new(text: &'a [u8]) -> LineOf<'a> {
        LineOf { text, offset: 0, line: 1 }
    }

    fn at(&mut self, offset: usize) -> usize {
        if offset < self.offset {
            (self.offset, self.line) = (0, 1);
        }
        self.line += memchr::memchr_iter(b'\n', &self.text[self.offset..offset]).count();
        self.offset = offset;
        self.line
    }
}

/// A token shape: the literal every match contains, and whether a match holds at an anchor.
struct Kind {
    what: &'static str,
    anchor: &'static str,
    /// `(text, offset of the anchor)`.
    at: fn(&[u8], usize) -> bool,
}

const KINDS: [Kind; 6] = [
    Kind { what: "a PEM private key", anchor: "-----BEGIN ", at: private_key_pem_at },
    Kind { what: "a Telegram bot token (digits:35 characters)", anchor: ":", at: telegram_token_at },
    Kind { what: "a Proxmox API token (user@realm!name=uuid)", anchor: "!", at: proxmox_token_at },
    Kind { what: "a GitHub token", anchor: "gh", at: github_token_at },
    Kind { what: "a GitHub token", anchor: "github_pat_", at: github_token_at },
    Kind { what: "an AWS access key id (AKIA...)", anchor: "AKIA", at: aws_key_at },
];

/// The kinds of token-shaped literal found in one line.
pub fn line_patterns(line: &str) -> Vec<&'static str> {
    let mut out: Vec<&str> = KINDS.iter().filter(|k| line.match_indices(k.anchor).any(|(at, _)| (k.at)(line.as_bytes(), at))).map(|k| k.what).collect();
    out.dedup();
    out
}

/// The rest of the line that starts at `i`.
fn rest_of_line(b: &[u8], i: usize) -> &[u8] {
    let rest = &b[i..];
    &rest[..rest.iter().position(|c| *c == b'\n').unwrap_or(rest.len())]
}

/// `-----BEGIN ... PRIVATE KEY-----` (RSA, EC, OPENSSH, ENCRYPTED or plain PKCS#8) on one line.
fn private_key_pem_at(b: &[u8], i: usize) -> bool {
    rest_of_line(b, i).windows(16).any(|w| w == b"PRIVATE KEY-----")
}

/// `\d{8,10}:[A-Za-z0-9_-]{35}` around the colon at `i`: at least 8 digits, 35 token characters.
fn telegram_token_at(b: &[u8], i: usize) -> bool {
    let digits = b[..i].iter().rev().take_while(|c| c.is_ascii_digit()).count();
    digits >= 8 && b[i + 1..].iter().take_while(|c| is_token_char(**c)).count() >= 35
}

/// `user@realm!tokenid=uuid` around the `!` at `i`, the form the Proxmox provider takes in
/// PROXMOX_VE_API_TOKEN.
fn proxmox_token_at(b: &[u8], i: usize) -> bool {
    let realm = b[..i].iter().rev().take_while(|c| is_ident_char(**c)).count();
    let at = i - realm;
    let user = b[..at.saturating_sub(1)].iter().rev().take_while(|c| is_ident_char(**c)).count();
    let name = b[i + 1..].iter().take_while(|c| is_ident_char(**c)).count();
    let eq = i + 1 + name;
    realm > 0 && at > 0 && b[at - 1] == b'@' && user > 0 && name > 0 && b.get(eq) == Some(&b'=') && starts_with_uuid(&b[eq + 1..])
}

/// Classic GitHub tokens (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` and 36 or more letters and
/// digits) and fine-grained ones (`github_pat_` and 22 or more), starting at `i`, not inside a
/// longer word.
fn github_token_at(b: &[u8], i: usize) -> bool {
    if i > 0 && b[i - 1].is_ascii_alphanumeric() {
        return false;
    }
    let rest = &b[i..];
    let classic = ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"].iter().any(|p| rest.starts_with(p.as_bytes()));
    (classic && rest[4..].iter().take_while(|c| c.is_ascii_alphanumeric()).count() >= 36)
        || (rest.starts_with(b"github_pat_") && rest[11..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count() >= 22)
}

/// `AKIA[0-9A-Z]{16}` starting at `i`, not inside a longer word.
fn aws_key_at(b: &[u8], i: usize) -> bool {
    let key_char = |c: &u8| c.is_ascii_uppercase() || c.is_ascii_digit();
    let rest = &b[i..];
    (i == 0 || !b[i - 1].is_ascii_alphanumeric())
        && rest.len() >= 20
        && rest[4..20].iter().all(key_char)
        && rest.get(20).is_none_or(|c| !c.is_ascii_alphanumeric())
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// A UUID (8-4-4-4-12 hex digits) at the start of `b`.
fn starts_with_uuid(b: &[u8]) -> bool {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    let mut i = 0;
    for (n, len) in GROUPS.iter().enumerate() {
        if b.len() < i + len || !b[i..i + len].iter().all(u8::is_ascii_hexdigit) {
            return false;
        }
        i += len;
        if n < 4 {
            if b.get(i) != Some(&b'-') {
                return false;
            }
            i += 1;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parts_hold_every_file_once_in_order() {
        let bytes: Vec<Vec<u8>> = [5, 1, 1, 9, 0, 3, 3, 3, 12].iter().map(|n| vec![b'x'; *n]).collect();
        let names: Vec<String> = (0..bytes.len()).map(|i| format!("f{i}")).collect();
        let files: Vec<(&str, &[u8])> = names.iter().zip(&bytes).map(|(n, b)| (n.as_str(), b.as_slice())).collect();
        for size in [1, 4, 6, 100] {
            let parts = parts_of_bytes(&files, size);
            let joined: Vec<&str> = parts.iter().flat_map(|p| p.iter().map(|(n, _)| *n)).collect();
            assert_eq!(joined, names, "size {size}");
            // Every part but the last reaches the size; none is empty.
            assert!(parts.iter().all(|p| !p.is_empty()), "size {size}");
            assert!(parts[..parts.len() - 1].iter().all(|p| p.iter().map(|(_, b)| b.len()).sum::<usize>() >= size), "size {size}");
        }
        assert!(parts_of_bytes(&[], 10).is_empty());
    }

    fn kinds(line: &str) -> Vec<&'static str> {
        line_patterns(line)
    }

    #[test]
    fn private_keys_are_found_and_certificates_are_not() {
        for pem in [
            "-----BEGIN PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY-----",
            "-----BEGIN EC PRIVATE KEY-----",
            "  -----BEGIN OPENSSH PRIVATE KEY-----",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----",
        ] {
            assert_eq!(kinds(pem), ["a PEM private key"], "{pem}");
        }
        for other in ["-----BEGIN CERTIFICATE-----", "-----BEGIN PUBLIC KEY-----", "# the private key stays on the VM", "PRIVATE KEY-----"] {
            assert!(kinds(other).is_empty(), "{other}");
        }
    }

    #[test]
    fn telegram_tokens_are_found() {
        let token = format!("123456789:{}", "A".repeat(19) + "b_c-d0123456789x");
        assert_eq!(token.len(), 10 + 35);
        assert_eq!(kinds(&format!("bot_token: {token}")), ["a Telegram bot token (digits:35 characters)"]);
        assert_eq!(kinds(&format!("\"{token}\"")).len(), 1);
        // Too few digits, too short a tail, or a hostname:port are not tokens.
        assert!(kinds(&format!("1234567:{}", "A".repeat(35))).is_empty());
        assert!(kinds(&format!("123456789:{}", "A".repeat(34))).is_empty());
        assert!(kinds("chat_id: -1001234567890").is_empty());
        assert!(kinds("url: http://192.168.1.51:3100/loki/api/v1/push").is_empty());
        assert!(kinds("bot_token = \"123456:ABC-DEF\"").is_empty());
    }

    #[test]
    fn proxmox_tokens_are_found() {
        let line = "PROXMOX_VE_API_TOKEN=root@pam!terraform=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
        assert_eq!(kinds(line), ["a Proxmox API token (user@realm!name=uuid)"]);
        assert_eq!(kinds("api_token = \"terraform@pve!tf-2=0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0\"").len(), 1);
        // A token id without its secret, or a secret that is not a UUID, is not a token.
        assert!(kinds("root@pam!terraform").is_empty());
        assert!(kinds("root@pam!terraform=changeme").is_empty());
        assert!(kinds("!name=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0").is_empty());
        assert!(kinds("a != b").is_empty());
    }

    #[test]
    fn github_tokens_are_found() {
        let classic = format!("ghp_{}", "a1B2".repeat(9));
        assert_eq!(kinds(&format!("token: {classic}")), ["a GitHub token"]);
        assert_eq!(kinds(&format!("github_pat_{}", "11ABCDEFG0_abcdefghijklmnop")).len(), 1);
        assert!(kinds(&format!("ghp_{}", "a".repeat(35))).is_empty());
        assert!(kinds(&format!("xghp_{}", "a".repeat(40))).is_empty());
        assert!(kinds("ghp_ is the prefix of classic tokens").is_empty());
    }

    #[test]
    fn aws_keys_are_found() {
        assert_eq!(kinds("aws_access_key_id = AKIAIOSFODNN7EXAMPLE"), ["an AWS access key id (AKIA...)"]);
        assert!(kinds("AKIAIOSFODNN7EXAMPL").is_empty(), "15 characters after AKIA");
        assert!(kinds("AKIAIOSFODNN7EXAMPLEX").is_empty(), "part of a longer word");
        assert!(kinds("XAKIAIOSFODNN7EXAMPLE").is_empty(), "part of a longer word");
        assert!(kinds("akiaiosfodnn7example").is_empty());
    }

    #[test]
    fn values_of_referenced_variables_are_found_with_their_line() {
        let refs = [
            SecretRef { env: "GRAFANA_ADMIN_PASSWORD".into(), tf_var: "grafana_admin_password".into() },
            SecretRef { env: "SHORT".into(), tf_var: "short".into() },
            SecretRef { env: "UNSET".into(), tf_var: "unset".into() },
        ];
        let env = |k: &str| match k {
            "GRAFANA_ADMIN_PASSWORD" => Some("s3cret-Pa55".to_string()),
            "SHORT" => Some("abc".to_string()),
            _ => None,
        };
        let values = values(&refs, env);
        assert_eq!(values, [("GRAFANA_ADMIN_PASSWORD".to_string(), "s3cret-Pa55".to_string())], "short and unset values are skipped");
        let file = b"a: 1\npassword: s3cret-Pa55\nb: abc\n";
        let found = scan([("generated/x.yml", &file[..])], &values);
        assert_eq!(
            found,
            [Finding { file: "generated/x.yml".into(), line: 2, what: "the value of $GRAFANA_ADMIN_PASSWORD (a referenced secret) is written here".into() }]
        );
        assert!(!found[0].to_string().contains("s3cret"), "a finding never repeats the secret");
        assert!(scan([("generated/x.yml", &b"password_file: /run/secrets/x\n"[..])], &values).is_empty());
    }

    #[test]
    fn the_whole_file_scan_finds_what_a_scan_of_each_line_finds() {
        let lines = [
            "a: 1".to_string(),
            format!("bot: 123456789:{}", "A".repeat(35)),
            "-----BEGIN RSA PRIVATE KEY-----".to_string(),
            "-----BEGIN CERTIFICATE----- PRIVATE KEY-----".to_string(),
            "-----BEGIN ".to_string(),
            "PRIVATE KEY-----".to_string(),
            format!("x=ghp_{} y=AKIAIOSFODNN7EXAMPLE", "a1".repeat(18)),
            "t=root@pam!tf=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 and s3cret-Pa55".to_string(),
            format!("github_pat_{}", "b".repeat(22)),
            "12345678:".to_string(),
            "A".repeat(35),
        ];
        let file = lines.join("\n") + "\n";
        let values = [("V".to_string(), "s3cret-Pa55".to_string()), ("M".to_string(), "a: 1\nbot".to_string())];
        let mut by_line = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if line.contains("s3cret-Pa55") {
                by_line.push(Finding { file: "f".into(), line: i + 1, what: "the value of $V (a referenced secret) is written here".into() });
            }
            by_line.extend(line_patterns(line).into_iter().map(|what| Finding { file: "f".into(), line: i + 1, what: what.into() }));
        }
        by_line.sort();
        assert_eq!(scan([("f", file.as_bytes())], &values), by_line);
        assert_eq!(by_line.len(), 8, "{by_line:?}");
    }
}
