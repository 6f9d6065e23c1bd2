//! The certificate flow as a user meets it, on temporary copies of the repository: every hint
//! gen or `certs init` prints names commands that, run in order, lead to a gen and a check that
//! pass. The commands are taken from the printed hint itself, so a hint that drifts from what
//! works fails here.

use crate::common;

use std::fs;
use std::path::Path;

use common::{repo_copy, text, xtask};

const WIKI: &str = "\n[routes.wiki]\nvm = \"prod-blog-the\"\nport = 8080\n";

fn edit_stack(root: &Path, f: impl FnOnce(String) -> String) {
    let s = fs::read_to_string(root.join("stack.toml")).unwrap();
    fs::write(root.join("stack.toml"), f(s)).unwrap();
}

fn certs(root: &Path) -> Vec<Vec<u8>> {
    ["infrastructure/tls/ca.crt", "infrastructure/tls/leaf.crt"].iter().map(|p| fs::read(root.join(p)).unwrap_or_default()).collect()
}

/// The `cargo xtask ...` commands of the `hint:` line of `stderr`, in the order they are named.
fn hinted_commands(stderr: &str) -> Vec<Vec<String>> {
    let hint = stderr.lines().find_map(|l| l.trim_start().strip_prefix("hint: ")).unwrap_or_else(|| panic!("no hint in:\n{stderr}"));
    hint.split('`').skip(1).step_by(2).filter_map(|c| c.strip_prefix("cargo xtask ")).map(|c| c.split_whitespace().map(str::to_string).collect()).collect()
}

/// Runs the first `then` commands of a hint and asserts each succeeds.
fn follow(root: &Path, stderr: &str, expected: &[&str]) {
    let commands = hinted_commands(stderr);
    let shown: Vec<String> = commands.iter().map(|c| c.join(" ")).collect();
    assert_eq!(shown[..expected.len()], *expected, "the hint names other commands:\n{stderr}");
    for c in &commands[..expected.len()] {
        let args: Vec<&str> = c.iter().map(String::as_str).collect();
        let out = xtask(root, &args);
        assert!(out.status.success(), "`cargo xtask {}` from the hint failed:\n{}{}", c.join(" "), text(&out.stdout), text(&out.stderr));
    }
}

fn assert_check_passes(root: &Path) {
    let out = xtask(root, &["check"]);
    assert!(out.status.success(), "check after a successful gen failed:\n{}{}", text(&out.stdout), text(&out.stderr));
}

#[test]
fn a_fresh_clone_adding_a_route_is_led_to_its_own_ca() {
    let root = repo_copy("flow-route");
    assert!(!root.join(".secrets").exists());
    edit_stack(&root, |s| s + WIKI);
    // CI's view first: check names the uncovered host and sends you to gen.
    let out = xtask(&root, &["check"]);
    assert!(!out.status.success());
    assert!(text(&out.stdout).contains("leaf.crt: does not cover the routed host(s) wiki.home.lan"), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("hint: run `cargo xtask gen`"), "{}", text(&out.stdout));
    let out = xtask(&root, &["gen"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("does not cover wiki.home.lan") && err.contains("the example's CA is not yours") && err.contains("every device must then import"),
        "{err}"
    );
    follow(&root, &err, &["certs init --force", "gen"]);
    assert!(fs::read_to_string(root.join("infrastructure/tls/leaf.crt")).is_ok());
    assert_check_passes(&root);
    // A second gen is quiet: no new leaf.
    let out = xtask(&root, &["gen"]);
    assert!(out.status.success() && !text(&out.stdout).contains("issued"), "{}", text(&out.stdout));
}

#[test]
fn certs_init_on_a_fresh_clone_names_the_force_that_works() {
    let root = repo_copy("flow-init");
    let out = xtask(&root, &["certs", "init"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("already has a CA"), "{err}");
    follow(&root, &err, &["certs init --force", "gen"]);
    assert_check_passes(&root);
}

#[test]
fn a_domain_change_is_refused_before_any_leaf_the_ca_cannot_vouch_for() {
    let root = repo_copy("flow-domain");
    // Make the lab's own CA first, as the flow above does: the key is here.
    assert!(xtask(&root, &["certs", "init", "--force"]).status.success());
    assert!(xtask(&root, &["gen"]).status.success());
    let before = certs(&root);
    edit_stack(&root, |s| s.replacen("domain = \"home.lan\"", "domain = \"lab.example\"", 1));
    let out = xtask(&root, &["gen"]);
    assert!(!out.status.success(), "gen issued a leaf outside the CA's name constraint:\n{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.contains("ca.crt: its name constraints permit DNS home.lan instead of exactly `lab.example`"), "{err}");
    assert_eq!(certs(&root), before, "gen wrote a certificate before refusing");
    follow(&root, &err, &["certs init --force", "gen"]);
    assert_check_passes(&root);
}

#[test]
fn a_new_route_with_the_key_needs_one_gen_and_check_agrees() {
    let root = repo_copy("flow-key");
    assert!(xtask(&root, &["certs", "init", "--force"]).status.success());
    assert!(xtask(&root, &["gen"]).status.success());
    edit_stack(&root, |s| s + WIKI);
    let out = xtask(&root, &["gen"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("does not cover wiki.home.lan"), "{}", text(&out.stdout));
    assert_check_passes(&root);
}
