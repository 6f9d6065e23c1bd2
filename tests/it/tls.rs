//! TLS end to end: the committed certificates as openssl sees them, the name constraints doing
//! their job, gen keeping or renewing the leaf, check auditing it, and no key ever tracked.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{repo_copy, repo_root, text, xtask};

fn openssl() -> Option<PathBuf> {
    common::validator("openssl").or_else(|| Path::new("/usr/bin/openssl").is_file().then(|| PathBuf::from("/usr/bin/openssl")))
}

fn now() -> i64 {
    xtask::certs_cmd::now()
}

/// `openssl verify -CAfile ca leaf` with extra flags: (success, stdout + stderr).
fn verify(openssl: &Path, ca: &Path, leaf: &Path, extra: &[&str]) -> (bool, String) {
    let out = Command::new(openssl).arg("verify").args(extra).arg("-CAfile").arg(ca).arg(leaf).output().unwrap();
    (out.status.success(), format!("{}{}", text(&out.stdout), text(&out.stderr)))
}

fn ext(openssl: &Path, cert: &Path, name: &str) -> String {
    let out = Command::new(openssl).args(["x509", "-noout", "-ext", name, "-in"]).arg(cert).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn the_committed_example_certificates_verify_with_openssl() {
    let Some(openssl) = openssl() else { return };
    let dir = repo_root().join("infrastructure/tls");
    let (ok, out) = verify(&openssl, &dir.join("ca.crt"), &dir.join("leaf.crt"), &[]);
    assert!(ok, "{out}");
    assert!(out.contains("leaf.crt: OK"), "{out}");
    // generated/ holds the same bytes as the committed inputs.
    for name in ["ca.crt", "leaf.crt"] {
        assert_eq!(fs::read(dir.join(name)).unwrap(), fs::read(repo_root().join("generated/compose/tls").join(name)).unwrap(), "{name}");
    }
}

#[test]
fn the_committed_ca_is_name_constrained_to_the_domain() {
    let Some(openssl) = openssl() else { return };
    let ca = repo_root().join("infrastructure/tls/ca.crt");
    let nc = ext(&openssl, &ca, "nameConstraints");
    assert!(nc.contains("critical"), "{nc}");
    let permitted = nc.split("Excluded:").next().unwrap();
    assert!(permitted.contains("Permitted:") && permitted.contains("DNS:home.lan"), "{nc}");
    assert!(nc.contains("Excluded:") && nc.contains("IP:0.0.0.0/0.0.0.0"), "{nc}");
    let bc = ext(&openssl, &ca, "basicConstraints");
    assert!(bc.contains("CA:TRUE, pathlen:0"), "{bc}");
    let ku = ext(&openssl, &ca, "keyUsage");
    assert!(ku.contains("Certificate Sign, CRL Sign"), "{ku}");
    let subject = Command::new(&openssl).args(["x509", "-noout", "-subject", "-in"]).arg(&ca).output().unwrap();
    assert!(text(&subject.stdout).contains("CN = home.lan homelab CA"), "{}", text(&subject.stdout));
}

#[test]
fn fixture_certificates_chain_to_their_ca() {
    let Some(openssl) = openssl() else { return };
    for (name, path) in common::fixture_stacks() {
        let stack = common::load(&path);
        if !stack.tls.enabled {
            continue;
        }
        let dir = repo_root().join(&stack.tls.certs_dir);
        // Fixtures are never renewed: their snapshot must not depend on today's date.
        let (ok, out) = verify(&openssl, &dir.join("ca.crt"), &dir.join("leaf.crt"), &["-no_check_time"]);
        assert!(ok, "{name}: {out}");
        assert!(ext(&openssl, &dir.join("ca.crt"), "nameConstraints").contains(&format!("DNS:{}", stack.domain)), "{name}");
    }
}

#[test]
fn a_leaf_outside_the_domain_is_refused_by_openssl() {
    let Some(openssl) = openssl() else { return };
    let dir = common::temp_dir("nc");
    // What a stolen CA key could mint: the same code's CA, a leaf for someone else's names.
    let ca = xtask::tls::new_ca("home.lan", now()).unwrap();
    fs::write(dir.join("ca.crt"), &ca.cert_pem).unwrap();
    let issue = |names: &[&str], file: &str| {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let leaf = xtask::tls::issue_leaf(&ca.cert_pem, &ca.key_pem, &names, now(), 397).unwrap();
        fs::write(dir.join(file), leaf.cert_pem).unwrap();
        dir.join(file)
    };
    let (ok, out) = verify(&openssl, &dir.join("ca.crt"), &issue(&["grafana.home.lan"], "inside.crt"), &[]);
    assert!(ok, "control: {out}");
    let (ok, out) = verify(&openssl, &dir.join("ca.crt"), &issue(&["www.mybank.example"], "bank.crt"), &[]);
    assert!(!ok, "{out}");
    assert!(out.contains("error 47 at 0 depth lookup: permitted subtree violation"), "{out}");
    // A look-alike suffix is not inside the domain either.
    let (ok, out) = verify(&openssl, &dir.join("ca.crt"), &issue(&["evilhome.lan"], "suffix.crt"), &[]);
    assert!(!ok && out.contains("permitted subtree violation"), "{out}");
    // Nor is any IP address (the excluded subtrees).
    let (ok, out) = verify(&openssl, &dir.join("ca.crt"), &issue(&["grafana.home.lan", "10.0.0.1"], "ip.crt"), &[]);
    assert!(!ok && out.contains("error 48 at 0 depth lookup: excluded subtree violation"), "{out}");
}

fn certs(root: &Path) -> Vec<(String, Vec<u8>)> {
    ["infrastructure/tls/ca.crt", "infrastructure/tls/leaf.crt", "generated/compose/tls/ca.crt", "generated/compose/tls/leaf.crt"]
        .iter()
        .map(|p| (p.to_string(), fs::read(root.join(p)).unwrap_or_default()))
        .collect()
}

#[test]
fn gen_on_a_fresh_clone_keeps_the_certificates_byte_for_byte() {
    let root = repo_copy("tls-fresh");
    let before = certs(&repo_root());
    for _ in 0..2 {
        let out = xtask(&root, &["gen"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(!text(&out.stdout).contains("issued"), "{}", text(&out.stdout));
        assert_eq!(certs(&root), before);
    }
    assert!(!root.join(".secrets").exists(), "gen made keys without being asked to");
}

const WIKI: &str = "\n[routes.wiki]\nvm = \"prod-blog-the\"\nport = 8080\n";

fn add_route(root: &Path) {
    let mut s = fs::read_to_string(root.join("stack.toml")).unwrap();
    s.push_str(WIKI);
    fs::write(root.join("stack.toml"), s).unwrap();
}

#[test]
fn a_new_route_without_the_ca_key_stops_gen_with_the_fix() {
    let root = repo_copy("tls-nokey");
    add_route(&root);
    let before = certs(&root);
    let out = xtask(&root, &["gen"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("does not cover wiki.home.lan"), "{err}");
    assert!(err.contains("not at .secrets/ca.key") && err.contains("certs init --force"), "{err}");
    assert_eq!(certs(&root), before, "gen wrote certificates without a CA key");
    // check names the uncovered host too (it has no key either, and never needs one).
    let out = xtask(&root, &["check"]);
    assert!(!out.status.success());
    assert!(text(&out.stdout).contains("infrastructure/tls/leaf.crt: does not cover the routed host(s) wiki.home.lan"), "{}", text(&out.stdout));
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn with_the_ca_key_a_new_route_gets_a_new_leaf_and_nothing_else_changes() {
    let Some(openssl) = openssl() else { return };
    let root = repo_copy("tls-key");
    // The repository already has a CA whose key is elsewhere: init refuses to replace it quietly.
    let out = xtask(&root, &["certs", "init"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("already has a CA"), "{}", text(&out.stderr));

    let out = xtask(&root, &["certs", "init", "--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    #[cfg(unix)]
    assert_eq!(mode(&root.join(".secrets/ca.key")), 0o600);
    let out = xtask(&root, &["certs", "init"]);
    assert!(!out.status.success() && text(&out.stderr).contains("a CA key already exists"), "{}", text(&out.stderr));

    // The committed leaf belongs to the old CA: gen replaces it.
    let out = xtask(&root, &["gen"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("not signed by the committed CA"), "{}", text(&out.stdout));
    #[cfg(unix)]
    assert_eq!(mode(&root.join(".secrets/leaf.key")), 0o600);
    let issued = certs(&root);
    let key = fs::read(root.join(".secrets/leaf.key")).unwrap();
    let out = xtask(&root, &["gen"]);
    assert!(out.status.success() && !text(&out.stdout).contains("issued"), "{}", text(&out.stdout));
    assert_eq!(certs(&root), issued);
    assert_eq!(fs::read(root.join(".secrets/leaf.key")).unwrap(), key);

    add_route(&root);
    let out = xtask(&root, &["gen"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("does not cover wiki.home.lan"), "{}", text(&out.stdout));
    let renewed = certs(&root);
    assert_eq!(renewed[0], issued[0], "the CA must not change");
    assert_ne!(renewed[1], issued[1], "the leaf must be new");
    let leaf = root.join("infrastructure/tls/leaf.crt");
    assert!(ext(&openssl, &leaf, "subjectAltName").contains("DNS:wiki.home.lan"));
    let (ok, out) = verify(&openssl, &root.join("infrastructure/tls/ca.crt"), &leaf, &[]);
    assert!(ok, "{out}");
    assert!(xtask::tls::key_matches(&fs::read_to_string(&leaf).unwrap(), &fs::read_to_string(root.join(".secrets/leaf.key")).unwrap()));
    let out = xtask(&root, &["check"]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    // No key ever lands under generated/.
    let needle = ["PRIVATE", " KEY-----"].concat();
    for e in walkdir::WalkDir::new(root.join("generated")) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            assert!(!fs::read_to_string(e.path()).unwrap_or_default().contains(&needle), "{}", e.path().display());
        }
    }
}

#[test]
fn check_names_a_leaf_that_does_not_chain_and_a_ca_without_constraints() {
    let root = repo_copy("tls-audit");
    // Swap in a leaf from another CA, and an unconstrained CA of rcgen's defaults.
    let other = xtask::tls::new_ca("home.lan", now()).unwrap();
    let names = vec!["alertmanager.home.lan".to_string(), "grafana.home.lan".to_string(), "prometheus.home.lan".to_string(), "uptime.home.lan".to_string()];
    let leaf = xtask::tls::issue_leaf(&other.cert_pem, &other.key_pem, &names, now(), 397).unwrap();
    fs::write(root.join("infrastructure/tls/leaf.crt"), leaf.cert_pem).unwrap();
    let out = xtask(&root, &["check"]);
    assert!(!out.status.success());
    assert!(text(&out.stdout).contains("leaf.crt: does not chain to infrastructure/tls/ca.crt"), "{}", text(&out.stdout));

    let root = repo_copy("tls-audit-nc");
    let plain = rcgen::generate_simple_self_signed(vec!["x".to_string()]).unwrap();
    fs::write(root.join("infrastructure/tls/ca.crt"), plain.cert.pem()).unwrap();
    let out = xtask(&root, &["check"]);
    assert!(!out.status.success());
    assert!(text(&out.stdout).contains("ca.crt: has no name constraints"), "{}", text(&out.stdout));
}

#[test]
fn with_tls_off_nothing_of_this_runs() {
    let root = repo_copy("tls-off");
    let s = fs::read_to_string(root.join("stack.toml")).unwrap().replacen("[tls]\nenabled = true", "[tls]\nenabled = false", 1);
    assert!(s.contains("enabled = false"));
    fs::write(root.join("stack.toml"), s).unwrap();
    fs::remove_dir_all(root.join("infrastructure/tls")).unwrap();
    let out = xtask(&root, &["gen"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!root.join("generated/compose/tls").exists());
    assert!(!root.join(".secrets").exists());
    let out = xtask(&root, &["check"]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    let out = xtask(&root, &["certs", "init"]);
    assert!(!out.status.success() && text(&out.stderr).contains("tls.enabled is false"));
}

#[test]
fn a_fresh_clone_without_a_ca_is_told_to_make_one() {
    let root = repo_copy("tls-noca");
    fs::remove_dir_all(root.join("infrastructure/tls")).unwrap();
    let out = xtask(&root, &["gen"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("infrastructure/tls/ca.crt: missing") && text(&out.stderr).contains("cargo xtask certs init"), "{}", text(&out.stderr));
    let out = xtask(&root, &["check"]);
    assert!(!out.status.success());
    assert!(text(&out.stdout).contains("infrastructure/tls/ca.crt: missing"), "{}", text(&out.stdout));
}

#[test]
fn no_private_key_is_tracked() {
    let root = repo_root();
    let out = Command::new("git").arg("-C").arg(&root).args(["ls-files", "-z"]).output().expect("git is needed for this check");
    assert!(out.status.success(), "git ls-files: {}", text(&out.stderr));
    let files: Vec<String> = text(&out.stdout).split('\0').filter(|s| !s.is_empty()).map(str::to_string).collect();
    assert!(files.iter().any(|f| f == "infrastructure/tls/leaf.crt"), "the example leaf is not tracked");
    for file in files {
        let Ok(bytes) = fs::read(root.join(&file)) else { continue };
        assert!(!holds_pem_private_key(&String::from_utf8_lossy(&bytes)), "{file} holds a private key");
    }
    // The scan itself finds a real key (made here, never written) and ignores a bare header,
    // which docs and the secret scanner's own tests mention.
    let key = rcgen::KeyPair::generate().unwrap().serialize_pem();
    assert!(holds_pem_private_key(&format!("notes\n{key}")));
    assert!(!holds_pem_private_key(&["-----BEGIN OPENSSH ", "PRIVATE KEY-----\n"].concat()));
}

/// A PEM private-key block with a body long enough to be a key (a P-256 key is about 160
/// base64 characters), not just its header line.
fn holds_pem_private_key(text: &str) -> bool {
    let header_end = ["PRIVATE", " KEY-----"].concat();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if !(line.contains("-----BEGIN ") && line.trim_end().ends_with(&header_end)) {
            continue;
        }
        let body: usize = lines
            .by_ref()
            .take_while(|l| !l.contains("-----END "))
            .map(|l| l.trim().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/' || *c == '=').count())
            .sum();
        if body >= 64 {
            return true;
        }
    }
    false
}

#[test]
fn a_key_pasted_into_a_committed_certificate_never_reaches_generated() {
    let root = repo_copy("tls-pasted");
    let leaf = root.join("infrastructure/tls/leaf.crt");
    let key = xtask::tls::new_ca("home.lan", now()).unwrap().key_pem;
    let mut pem = fs::read_to_string(&leaf).unwrap();
    pem.push_str(&key);
    fs::write(&leaf, pem).unwrap();
    let before = fs::read(root.join("generated/compose/tls/leaf.crt")).unwrap();
    let out = xtask(&root, &["gen"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("infrastructure/tls/leaf.crt: holds a private key"), "{}", text(&out.stderr));
    assert_eq!(fs::read(root.join("generated/compose/tls/leaf.crt")).unwrap(), before);
}
