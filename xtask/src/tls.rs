//! The lab's certificates, with no I/O: make the name-constrained CA, issue the leaf, decide
//! whether the committed leaf must be renewed, and audit the committed pair for `check`.
//!
//! Times are Unix seconds, passed in by the caller, so every decision is testable.

use anyhow::{Context, Result, anyhow, bail};
use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType, ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, NameConstraints, PKCS_ECDSA_P256_SHA256, SerialNumber,
};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use crate::stack::Stack;

pub const DAY: i64 = 86_400;
/// About ten years: the CA is imported by hand on every device, so it should rarely change.
pub const CA_VALIDITY_DAYS: i64 = 3652;
/// The longest leaf browsers accept (CA/Browser Forum); `tls.leaf_validity_days` may not exceed it.
pub const MAX_LEAF_DAYS: i64 = 397;

/// A certificate and its private key, both PEM.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

/// The names the leaf must carry: every routed host, sorted and without duplicates.
pub fn wanted_names(stack: &Stack) -> Vec<String> {
    let mut names: Vec<String> = stack.routes.iter().map(|r| r.host.to_ascii_lowercase()).collect();
    names.sort();
    names.dedup();
    names
}

/// The CA's common name for a domain.
pub fn ca_common_name(domain: &str) -> String {
    format!("{domain} homelab CA")
}

/// Sets `not_before`/`not_after` from Unix seconds (rcgen takes `time`'s type, which it does not
/// re-export; `date_time_ymd` plus a std duration builds it without naming the crate).
fn set_validity(params: &mut CertificateParams, from: i64, days: i64) -> Result<()> {
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    let from_u = u64::try_from(from).map_err(|_| anyhow!("the clock is before 1970"))?;
    params.not_before = epoch + std::time::Duration::from_secs(from_u);
    params.not_after = epoch + std::time::Duration::from_secs(from_u + u64::try_from(days * DAY).unwrap_or(0));
    Ok(())
}

fn random_serial() -> Result<SerialNumber> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new().fill(&mut bytes).map_err(|_| anyhow!("no system randomness for a serial number"))?;
    bytes[0] &= 0x7f; // Positive, as RFC 5280 requires.
    bytes[0] |= 0x01; // And never shorter than 16 bytes.
    Ok(SerialNumber::from_slice(&bytes))
}

/// Makes the lab's CA: ECDSA P-256, CA:TRUE with pathlen 0, keyCertSign and cRLSign, and name
/// constraints that permit DNS names under `domain` only and exclude every IP address (the leaf
/// carries no IP SAN, so a certificate for an address cannot be valid under this CA).
pub fn new_ca(domain: &str, now: i64) -> Result<Issued> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).context("cannot generate the CA key")?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, ca_common_name(domain));
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![GeneralSubtree::DnsName(domain.to_string())],
        excluded_subtrees: vec![GeneralSubtree::IpAddress(CidrSubnet::V4([0; 4], [0; 4])), GeneralSubtree::IpAddress(CidrSubnet::V6([0; 16], [0; 16]))],
    });
    params.serial_number = Some(random_serial()?);
    set_validity(&mut params, now, CA_VALIDITY_DAYS)?;
    let cert = params.self_signed(&key).context("cannot sign the CA certificate")?;
    Ok(Issued { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
}

/// Issues a server certificate for `names` (DNS SANs, the first is also the CN), signed by the
/// CA, with a fresh key. Refuses a CA key that does not belong to the CA certificate.
pub fn issue_leaf(ca_cert_pem: &str, ca_key_pem: &str, names: &[String], now: i64, validity_days: u32) -> Result<Issued> {
    let Some(first) = names.first() else { bail!("no routed host to put in the certificate") };
    let ca_key = KeyPair::from_pem(ca_key_pem).map_err(|e| anyhow!("the CA key is not a usable private key: {e}"))?;
    with_cert(ca_cert_pem, |ca| {
        if ca.public_key().subject_public_key.data.as_ref() != ca_key.public_key_raw() {
            bail!("the CA key does not belong to the committed CA certificate");
        }
        Ok(())
    })
    .context("CA certificate")??;
    let issuer = Issuer::from_ca_cert_pem(ca_cert_pem, &ca_key).map_err(|e| anyhow!("the CA certificate cannot issue: {e}"))?;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).context("cannot generate the leaf key")?;
    let mut params = CertificateParams::new(names.to_vec()).map_err(|e| anyhow!("a routed host is not a valid DNS name: {e}"))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, first.as_str());
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(random_serial()?);
    set_validity(&mut params, now, i64::from(validity_days))?;
    let cert = params.signed_by(&key, &issuer).context("cannot sign the leaf certificate")?;
    Ok(Issued { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
}

/// Parses one PEM certificate and hands it to `f`.
fn with_cert<T>(pem: &str, f: impl FnOnce(&X509Certificate<'_>) -> T) -> Result<T> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| anyhow!("not a PEM certificate: {e}"))?;
    let cert = pem.parse_x509().map_err(|e| anyhow!("not an X.509 certificate: {e}"))?;
    Ok(f(&cert))
}

/// The DNS names in a certificate's subjectAltName, lowercased.
fn dns_sans(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(san)) = cert.subject_alternative_name() else { return Vec::new() };
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(s) => Some(s.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// Whether a SAN covers `host`: the same name, or a wildcard for exactly one more label.
pub fn covers(sans: &[String], host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    sans.iter().any(|san| match san.strip_prefix("*.") {
        Some(parent) => host.split_once('.').is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => *san == host,
    })
}

/// Whether `leaf` is signed by `ca`: issuer name and signature.
fn signed_by(leaf: &X509Certificate<'_>, ca: &X509Certificate<'_>) -> bool {
    leaf.issuer() == ca.subject() && leaf.verify_signature(Some(ca.public_key())).is_ok()
}

/// Why a new leaf is needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Missing,
    Unreadable(String),
    /// Not signed by the committed CA (a new CA was made, or the files were mixed up).
    OtherIssuer,
    /// Routed hosts the leaf does not cover.
    Uncovered(Vec<String>),
    /// The leaf expires on this date (Unix seconds), within the renewal threshold.
    Expiring(i64),
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Missing => write!(f, "there is no leaf certificate yet"),
            Reason::Unreadable(e) => write!(f, "the leaf certificate cannot be read ({e})"),
            Reason::OtherIssuer => write!(f, "the leaf certificate is not signed by the committed CA"),
            Reason::Uncovered(names) => write!(f, "the leaf certificate does not cover {}", names.join(", ")),
            Reason::Expiring(t) => write!(f, "the leaf certificate expires on {}", date(*t)),
        }
    }
}

/// Keep the committed leaf byte for byte, or issue a new one, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Keep,
    Issue(Reason),
}

/// The renewal decision: a new leaf is needed when it is missing or unreadable, not signed by
/// the CA, does not cover every wanted name, or expires within `renew_before_days` of `now`.
pub fn decide(leaf_pem: Option<&str>, ca_pem: &str, wanted: &[String], now: i64, renew_before_days: u32) -> Decision {
    let Some(leaf_pem) = leaf_pem else { return Decision::Issue(Reason::Missing) };
    let checked = with_cert(ca_pem, |ca| {
        with_cert(leaf_pem, |leaf| {
            if !signed_by(leaf, ca) {
                return Decision::Issue(Reason::OtherIssuer);
            }
            let sans = dns_sans(leaf);
            let uncovered: Vec<String> = wanted.iter().filter(|h| !covers(&sans, h)).cloned().collect();
            if !uncovered.is_empty() {
                return Decision::Issue(Reason::Uncovered(uncovered));
            }
            let not_after = leaf.validity().not_after.timestamp();
            if not_after - now <= i64::from(renew_before_days) * DAY {
                return Decision::Issue(Reason::Expiring(not_after));
            }
            Decision::Keep
        })
    });
    match checked {
        Ok(Ok(d)) => d,
        Ok(Err(e)) | Err(e) => Decision::Issue(Reason::Unreadable(format!("{e:#}"))),
    }
}

/// Everything wrong with the committed certificates, one sentence each, for `check` (which has
/// no key and writes nothing). Empty when TLS is off or all is well.
pub fn audit(stack: &Stack, now: i64) -> Vec<String> {
    let tls = &stack.tls;
    if !tls.enabled {
        return Vec::new();
    }
    let dir = &tls.certs_dir;
    let mut out = Vec::new();
    let Some(ca_pem) = tls.certs.ca.as_deref() else {
        out.push(format!("{dir}/ca.crt: missing; run `cargo xtask certs init`, then `cargo xtask gen`"));
        return out;
    };
    out = audit_ca_pem(ca_pem, &stack.domain, now, tls.renew_before_days, dir);
    if out.iter().any(|p| p.starts_with(&format!("{dir}/ca.crt: not a PEM")) || p.starts_with(&format!("{dir}/ca.crt: not an X.509"))) {
        return out;
    }
    let Some(leaf_pem) = tls.certs.leaf.as_deref() else {
        out.push(format!("{dir}/leaf.crt: missing; run `cargo xtask gen` where the CA key ({}) is", tls.ca_key));
        return out;
    };
    let wanted = wanted_names(stack);
    let leaf_ok = with_cert(ca_pem, |ca| with_cert(leaf_pem, |leaf| audit_leaf(leaf, ca, &wanted, now, tls.renew_before_days, dir, &mut out)));
    if let Ok(Err(e)) | Err(e) = leaf_ok {
        out.push(format!("{dir}/leaf.crt: {e:#}"));
    }
    if let Some(last) = out.last_mut().filter(|p| p.contains("/leaf.crt:")) {
        last.push_str(&format!("\n  hint: run `cargo xtask gen` where the CA key ({}) is, and commit {dir}/ and generated/", tls.ca_key));
    }
    out
}

/// Everything wrong with the committed CA certificate for this stack, one sentence each: what
/// `check` reports and what gen refuses to issue under (a CA for another domain would sign a leaf
/// that no client accepts). Every one of them is fixed by `cargo xtask certs init --force`.
pub fn audit_ca_pem(ca_pem: &str, domain: &str, now: i64, renew_before_days: u32, dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Err(e) = with_cert(ca_pem, |ca| audit_ca(ca, domain, now, renew_before_days, dir, &mut out)) {
        out.push(format!("{dir}/ca.crt: {e:#}"));
    }
    out
}

fn audit_ca(ca: &X509Certificate<'_>, domain: &str, now: i64, renew_before_days: u32, dir: &str, out: &mut Vec<String>) {
    let at = format!("{dir}/ca.crt");
    match ca.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => {}
        _ => out.push(format!("{at}: not a CA certificate (basicConstraints CA:TRUE is missing)")),
    }
    if ca.verify_signature(None).is_err() {
        out.push(format!("{at}: not self-signed (its signature does not verify with its own key)"));
    }
    match ca.name_constraints() {
        Ok(Some(nc)) => {
            let permitted: Vec<String> = nc
                .value
                .permitted_subtrees
                .iter()
                .flatten()
                .filter_map(|s| match &s.base {
                    GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
                    _ => None,
                })
                .collect();
            if permitted != [domain.to_ascii_lowercase()] {
                out.push(format!(
                    "{at}: its name constraints permit DNS {} instead of exactly `{domain}` (the stack's domain); make a new CA with `cargo xtask certs init --force`",
                    if permitted.is_empty() { "anything".to_string() } else { permitted.join(", ") }
                ));
            }
        }
        _ => out.push(format!(
            "{at}: has no name constraints, so its key could mint a certificate for any site; make a new CA with `cargo xtask certs init --force`"
        )),
    }
    let not_after = ca.validity().not_after.timestamp();
    if not_after <= now {
        out.push(format!("{at}: expired on {}; make a new CA with `cargo xtask certs init --force`", date(not_after)));
    } else if not_after - now <= i64::from(renew_before_days) * DAY {
        out.push(format!(
            "{at}: expires on {}, within tls.renew_before_days; make a new CA with `cargo xtask certs init --force` and import it everywhere",
            date(not_after)
        ));
    }
}

fn audit_leaf(leaf: &X509Certificate<'_>, ca: &X509Certificate<'_>, wanted: &[String], now: i64, renew_before_days: u32, dir: &str, out: &mut Vec<String>) {
    let at = format!("{dir}/leaf.crt");
    if !signed_by(leaf, ca) {
        out.push(format!("{at}: does not chain to {dir}/ca.crt (issuer or signature does not match)"));
    }
    let sans = dns_sans(leaf);
    let uncovered: Vec<&str> = wanted.iter().filter(|h| !covers(&sans, h)).map(String::as_str).collect();
    if !uncovered.is_empty() {
        out.push(format!("{at}: does not cover the routed host(s) {}", uncovered.join(", ")));
    }
    let (not_before, not_after) = (leaf.validity().not_before.timestamp(), leaf.validity().not_after.timestamp());
    if not_after <= now {
        out.push(format!("{at}: expired on {}", date(not_after)));
    } else if not_after - now <= i64::from(renew_before_days) * DAY {
        out.push(format!("{at}: expires on {}, within tls.renew_before_days ({renew_before_days} days)", date(not_after)));
    }
    if not_after - not_before > MAX_LEAF_DAYS * DAY {
        out.push(format!("{at}: valid for {} days, more than browsers accept ({MAX_LEAF_DAYS})", (not_after - not_before) / DAY));
    }
}

/// `YYYY-MM-DD` (UTC) of Unix seconds.
pub fn date(unix: i64) -> String {
    crate::dates::utc_date(unix)
}

/// Whether a PEM private key is the one whose public half `cert_pem` carries.
pub fn key_matches(cert_pem: &str, key_pem: &str) -> bool {
    let Ok(key) = KeyPair::from_pem(key_pem) else { return false };
    with_cert(cert_pem, |c| c.public_key().subject_public_key.data.as_ref() == key.public_key_raw()).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_737_600; // 2026-11-27

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn ca() -> Issued {
        new_ca("home.lan", NOW).unwrap()
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(NOW), "2026-11-27");
        assert_eq!(date(951_782_400), "2000-02-29");
    }

    #[test]
    fn a_missing_leaf_is_issued() {
        assert_eq!(decide(None, &ca().cert_pem, &names(&["a.home.lan"]), NOW, 30), Decision::Issue(Reason::Missing));
    }

    #[test]
    fn a_fine_leaf_is_kept() {
        let ca = ca();
        let want = names(&["a.home.lan", "b.home.lan"]);
        let leaf = issue_leaf(&ca.cert_pem, &ca.key_pem, &want, NOW, 397).unwrap();
        assert_eq!(decide(Some(&leaf.cert_pem), &ca.cert_pem, &want, NOW, 30), Decision::Keep);
        // A subset of the names is still covered.
        assert_eq!(decide(Some(&leaf.cert_pem), &ca.cert_pem, &want[..1], NOW + 300 * DAY, 30), Decision::Keep);
    }

    #[test]
    fn an_uncovered_name_is_issued() {
        let ca = ca();
        let leaf = issue_leaf(&ca.cert_pem, &ca.key_pem, &names(&["a.home.lan"]), NOW, 397).unwrap();
        let want = names(&["a.home.lan", "wiki.home.lan"]);
        assert_eq!(decide(Some(&leaf.cert_pem), &ca.cert_pem, &want, NOW, 30), Decision::Issue(Reason::Uncovered(names(&["wiki.home.lan"]))));
    }

    #[test]
    fn an_expiring_leaf_is_issued() {
        let ca = ca();
        let want = names(&["a.home.lan"]);
        let leaf = issue_leaf(&ca.cert_pem, &ca.key_pem, &want, NOW, 397).unwrap();
        let expiry = NOW + 397 * DAY;
        assert_eq!(decide(Some(&leaf.cert_pem), &ca.cert_pem, &want, expiry - 31 * DAY, 30), Decision::Keep);
        assert_eq!(decide(Some(&leaf.cert_pem), &ca.cert_pem, &want, expiry - 30 * DAY, 30), Decision::Issue(Reason::Expiring(expiry)));
        assert_eq!(decide(Some(&leaf.cert_pem), &ca.cert_pem, &want, expiry + DAY, 30), Decision::Issue(Reason::Expiring(expiry)));
    }

    #[test]
    fn a_leaf_of_another_ca_or_garbage_is_issued() {
        let (a, b) = (ca(), ca());
        let want = names(&["a.home.lan"]);
        let leaf = issue_leaf(&a.cert_pem, &a.key_pem, &want, NOW, 397).unwrap();
        assert_eq!(decide(Some(&leaf.cert_pem), &b.cert_pem, &want, NOW, 30), Decision::Issue(Reason::OtherIssuer));
        assert!(matches!(decide(Some("junk\n"), &a.cert_pem, &want, NOW, 30), Decision::Issue(Reason::Unreadable(_))));
    }

    #[test]
    fn a_foreign_ca_key_is_refused() {
        let (a, b) = (ca(), ca());
        let err = issue_leaf(&a.cert_pem, &b.key_pem, &names(&["a.home.lan"]), NOW, 397).err().unwrap();
        assert!(format!("{err:#}").contains("does not belong"), "{err:#}");
    }

    #[test]
    fn wildcards_cover_one_label() {
        let sans = names(&["*.home.lan"]);
        assert!(covers(&sans, "grafana.home.lan"));
        assert!(!covers(&sans, "home.lan"));
        assert!(!covers(&sans, "a.b.home.lan"));
        assert!(covers(&names(&["grafana.home.lan"]), "Grafana.home.lan"));
    }

    #[test]
    fn keys_match_their_certificate_only() {
        let ca = ca();
        let leaf = issue_leaf(&ca.cert_pem, &ca.key_pem, &names(&["a.home.lan"]), NOW, 397).unwrap();
        assert!(key_matches(&leaf.cert_pem, &leaf.key_pem));
        assert!(!key_matches(&leaf.cert_pem, &ca.key_pem));
    }
}
