//! The first section of the pull-request summary, "To approve on purpose": one test per kind of
//! change an operator must see in the first lines (TLS and URL schemes, CA, leaf, firewall,
//! targets and derived figures, memory budget, agents, secrets folder, Proxmox).

use crate::common;

use std::fs;

use common::{render, repo_copy, repo_root, text, xtask};
use xtask::review::summarize;
use xtask::stack::{self, Stack};

fn example_src() -> String {
    fs::read_to_string(repo_root().join("stack.toml")).unwrap()
}

/// The stack with its committed certificates, as `cargo xtask diff` loads it.
fn parse(src: &str) -> Stack {
    let mut s = stack::from_str("stack.toml", src).unwrap_or_else(|e| panic!("{e}"));
    xtask::project::load_certs(&mut s, &repo_root()).unwrap();
    s
}

fn edit(src: &str, from: &str, to: &str) -> String {
    assert!(src.contains(from), "the example no longer contains {from:?}");
    src.replacen(from, to, 1)
}

fn summary_of(old: &Stack, new: &Stack) -> String {
    summarize(old, new, &render(old), &render(new))
}

fn summary(old_src: &str, new_src: &str) -> String {
    summary_of(&parse(old_src), &parse(new_src))
}

/// The lines of the first section, which must be "To approve on purpose", right after the title.
fn first_section(out: &str) -> Vec<String> {
    let body = out.strip_prefix("## Stack changes\n\n### To approve on purpose\n\n").unwrap_or_else(|| panic!("not the first section:\n{out}"));
    body.lines().take_while(|l| l.starts_with("- ")).map(|l| l[2..].to_string()).collect()
}

fn assert_first(out: &str, needle: &str) {
    let lines = first_section(out);
    assert!(lines.iter().any(|l| l.contains(needle)), "{needle:?} not in the first section:\n{out}");
}

#[test]
fn no_change_has_no_approval_section() {
    let src = example_src();
    assert!(!summary(&src, &src).contains("To approve on purpose"));
}

#[test]
fn tls_off_names_the_scheme_port_443_and_routes_as_http() {
    let old = example_src();
    let new = edit(&old, "[tls]\nenabled = true", "[tls]\nenabled = false");
    let out = summary(&old, &new);
    assert_first(&out, "**TLS on → off**: every URL goes from `https://` to `http://`");
    assert_first(&out, "**firewall closed** on `pve-mon`: tcp 443 from 192.168.1.0/24 (was Traefik (the routed services) from the LAN)");
    assert!(!out.contains("No change to VMs"), "{out}");
    // A route added while TLS is off is shown with the scheme clients will use.
    let wiki = format!("{new}\n[routes.wiki]\nvm = \"prod-blog-the\"\nport = 8080\n");
    let out = summary(&new, &wiki);
    assert!(out.contains("- added `http://wiki.home.lan` → http://192.168.1.103:8080"), "{out}");
}

#[test]
fn a_replaced_ca_and_a_reissued_leaf() {
    let src = example_src();
    let old = parse(&src);
    let mut new = parse(&src);
    let now = xtask::certs_cmd::now();
    let ca = xtask::tls::new_ca("home.lan", now).unwrap();
    let leaf = xtask::tls::issue_leaf(&ca.cert_pem, &ca.key_pem, &xtask::tls::wanted_names(&new), now, 397).unwrap();
    new.tls.certs.ca = Some(ca.cert_pem.clone());
    new.tls.certs.leaf = Some(leaf.cert_pem);
    let out = summary_of(&old, &new);
    assert_first(&out, "**CA replaced** (`infrastructure/tls/ca.crt`): every device must import the new CA");
    assert_first(&out, "**leaf certificate reissued** (`infrastructure/tls/leaf.crt`, 4 name(s)): apply `monitoring`");
    // A new leaf alone: devices need nothing.
    let mut renewed = parse(&src);
    renewed.tls.certs.leaf = Some(xtask::tls::issue_leaf(&ca.cert_pem, &ca.key_pem, &xtask::tls::wanted_names(&old), now, 397).unwrap().cert_pem);
    let out = summary_of(&old, &renewed);
    assert_first(&out, "leaf certificate reissued");
    assert!(!out.contains("CA replaced"), "{out}");
}

#[test]
fn firewall_rules_opened_and_closed_name_vm_port_and_source() {
    let old = example_src();
    let new = edit(&old, "admin_cidr = \"192.168.1.0/24\"", "admin_cidr = \"192.168.1.0/28\"");
    let out = summary(&old, &new);
    assert_first(&out, "**firewall opened** on `prod-blog-the`: tcp 22 from 192.168.1.0/28 (SSH from the admin network)");
    assert_first(&out, "**firewall closed** on `prod-blog-the`: tcp 22 from 192.168.1.0/24 (was SSH from the admin network)");
    let routed = format!("{old}\n[routes.wiki]\nvm = \"prod-blog-the\"\nport = 8080\n");
    assert_first(&summary(&old, &routed), "**firewall opened** on `prod-blog-the`: tcp 8080 from 192.168.1.51 (route wiki.home.lan from Traefik");
}

#[test]
fn relaxed_targets_and_derived_figures_are_shown_before_and_after() {
    let old = example_src();
    let new = edit(&old, "failure_detection_seconds = 120", "failure_detection_seconds = 600");
    assert_first(&summary(&old, &new), "**targets**: failure detection target 120 s → 600 s");
    let slow = edit(&new, "instance_down_for_seconds = 30", "instance_down_for_seconds = 400");
    let out = summary(&new, &slow);
    assert_first(&out, "InstanceDown `for` 30 s → 400 s");
    assert_first(&out, "**derived figures**: alert worst-case detection ");
    let kept = edit(&old, "retention_days = 7\nhost_port", "retention_days = 14\nhost_port");
    assert_first(&summary(&old, &kept), "Loki retention 7 days → 14 days");
}

#[test]
fn the_memory_budget_before_and_after() {
    let old = example_src();
    let new = edit(&old, "memory_limit_mb = 768", "memory_limit_mb = 640");
    assert_first(&summary(&old, &new), "**memory budget** of `pve-mon`: container limits 3200 MB → 3072 MB");
}

#[test]
fn agents_changed() {
    let old = example_src();
    let new = edit(&old, "default_agent = \"promtail\"", "default_agent = \"alloy\"");
    let out = summary(&old, &new);
    assert_first(
        &out,
        "**log agents**: `prod-alloc-budget` promtail → alloy, `prod-alloc-ia` promtail → alloy, `prod-blog-the` promtail → alloy (a new agent: install-agent.sh runs over SSH and removes the other one;",
    );
    let none = summary(&old, &edit(&old, "default_agent = \"promtail\"", "default_agent = \"none\""));
    assert_first(&none, "`none`: the agent is removed over SSH where stack.toml authorizes a key, else left running)");
    assert_first(&out, "**log agent versions**: default agent promtail → alloy");
}

#[test]
fn the_secrets_folder() {
    let old = example_src();
    let new = edit(&old, "secrets_dir = \"/etc/monitoring-secrets\"", "secrets_dir = \"/srv/secrets\"");
    assert_first(&summary(&old, &new), "**secrets folder** on `pve-mon`: `/etc/monitoring-secrets` → `/srv/secrets`");
}

#[test]
fn the_proxmox_connection() {
    let old = example_src();
    let new = edit(
        &edit(&edit(&old, "endpoint = \"https://192.168.1.10:8006/\"", "endpoint = \"https://192.168.1.11:8006/\""), "node = \"pve\"", "node = \"pve2\""),
        "snippets_datastore = \"local\"",
        "snippets_datastore = \"nfs\"",
    );
    let out = summary(&old, &new);
    assert_first(
        &out,
        "**Proxmox**: endpoint `https://192.168.1.10:8006/` → `https://192.168.1.11:8006/`; node `pve` → `pve2`; snippets datastore `local` → `nfs`",
    );
}

fn git(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args(["-c", "user.name=test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
}

#[test]
fn the_command_puts_tls_off_in_its_first_lines() {
    let root = repo_copy("review-lab-diff");
    git(&root, &["init", "-q", "-b", "main"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "base"]);
    let src = fs::read_to_string(root.join("stack.toml")).unwrap();
    fs::write(root.join("stack.toml"), edit(&src, "[tls]\nenabled = true", "[tls]\nenabled = false")).unwrap();
    let out = xtask(&root, &["diff", "--markdown", "--base", "main"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let first: Vec<&str> = stdout.lines().take(6).collect();
    assert_eq!(first[..4], ["## Stack changes", "", "### To approve on purpose", ""], "{stdout}");
    assert!(first[4].starts_with("- **TLS on → off**: every URL goes from `https://` to `http://`"), "{stdout}");
    assert!(stdout.contains("- **firewall closed** on `pve-mon`: tcp 443 from 192.168.1.0/24"), "{stdout}");
    assert!(!stdout.contains("No change to VMs"), "{stdout}");
}
