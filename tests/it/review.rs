//! The pull-request summary (`cargo xtask diff --markdown`): snapshots of `review::summarize` on
//! edits of the example stack, and the command end to end against a git ref.

use crate::common;

use std::fs;

use common::{render, repo_copy, repo_root, text, xtask};
use xtask::review::summarize;
use xtask::stack::{self, Stack};

fn example_src() -> String {
    fs::read_to_string(repo_root().join("stack.toml")).unwrap()
}

fn parse(src: &str) -> Stack {
    stack::from_str("stack.toml", src).unwrap_or_else(|e| panic!("{e}"))
}

/// Replaces `from` (which must be there) with `to` in the stack text.
fn edit(src: &str, from: &str, to: &str) -> String {
    assert!(src.contains(from), "the example no longer contains {from:?}");
    src.replacen(from, to, 1)
}

/// Sets the tag of `repo`'s image, whatever it is today (Renovate bumps the example's tags).
fn set_tag(src: &str, repo: &str, tag: &str) -> String {
    let start = src.find(&format!("image = \"{repo}:")).unwrap_or_else(|| panic!("no {repo} image in the example"));
    let end = start + src[start..].find('\n').unwrap();
    format!("{}image = \"{repo}:{tag}\"{}", &src[..start], &src[end..])
}

/// The stack text without one `[vms.NAME]` table.
fn without_vm(src: &str, name: &str) -> String {
    let start = src.find(&format!("[vms.{name}]")).unwrap();
    let end = start + src[start..].find("\n\n").unwrap() + 2;
    format!("{}{}", &src[..start], &src[end..])
}

fn summary(old_src: &str, new_src: &str) -> String {
    let (old, new) = (parse(old_src), parse(new_src));
    summarize(&old, &new, &render(&old), &render(&new))
}

#[test]
fn no_change_says_so() {
    let src = example_src();
    let out = summary(&src, &src);
    assert!(out.contains("No change: the stack and every generated file are the same."), "{out}");
}

#[test]
fn an_added_vm() {
    let old = example_src();
    let new = format!("{old}\n[vms.prod-new-app]\nvm_id = 104\nip = \"192.168.1.104\"\nenvironment = \"prod\"\ncores = 2\nmemory_mb = 2048\ndisk_gb = 24\n");
    let out = summary(&old, &new);
    assert!(out.contains("- added `prod-new-app` (prod, node pve, vm_id 104, 2 cores, 2048 MB, 24 GB disk, 192.168.1.104"), "{out}");
    assert_snapshot!("review-added-vm", out);
}

#[test]
fn a_changed_image_tag() {
    let old = set_tag(&example_src(), "grafana/grafana", "13.3.0");
    let new = set_tag(&old, "grafana/grafana", "13.4.1");
    let out = summary(&old, &new);
    assert!(out.contains("- `grafana`: grafana/grafana 13.3.0 → 13.4.1"), "{out}");
    assert!(out.contains("| `compose/` | 0 | 1 | 0 |"), "only the compose file changes: {out}");
    assert_snapshot!("review-image-tag", out);
}

#[test]
fn a_removed_vm_and_a_moved_loki_port() {
    let old = example_src();
    let new = edit(&without_vm(&old, "prod-blog-the"), "host_port = 3100", "host_port = 3110");
    let out = summary(&old, &new);
    assert!(out.contains("- removed `prod-blog-the`"), "{out}");
    assert!(out.contains("- opened `pve-mon:3110/tcp` (loki)") && out.contains("- closed `pve-mon:3100/tcp` (loki)"), "{out}");
    assert_snapshot!("review-removed-vm", out);
}

#[test]
fn a_removed_route() {
    let new = example_src();
    let old = format!("{new}\n[routes.budget]\nvm = \"prod-alloc-budget\"\nport = 8080\n");
    let out = summary(&old, &new);
    assert!(out.contains("- removed `https://budget.home.lan` (was http://192.168.1.101:8080)"), "{out}");
    assert_snapshot!("review-removed-route", out);
}

#[test]
fn changes_that_recreate_a_vm_are_flagged() {
    let old = example_src();
    let new = edit(&edit(&old, "vm_id = 102", "vm_id = 112"), "disk_gb = 40", "disk_gb = 30");
    let out = summary(&old, &new);
    assert!(out.contains("### Terraform will likely re-create\n\n- VM `prod-alloc-ia`: vm_id 102 → 112\n"), "{out}");
    assert!(out.contains("- VM `prod-alloc-ia`: disk 40 GB → 30 GB is refused, Proxmox only grows disks"), "{out}");
    // A rename keeps the vm_id: the old name leaves the state, the new one enters it.
    let renamed = summary(&old, &edit(&old, "[vms.prod-blog-the]", "[vms.prod-blog]"));
    assert!(
        renamed.contains("- VM `prod-blog-the` → `prod-blog` (vm_id 103): its snippets are named after it, and new snippet ids force a new VM"),
        "{renamed}"
    );
    assert!(!renamed.contains("`moved` block to keep"), "a `moved` block cannot keep a renamed VM: {renamed}");
    // Another environment is another root: the summary says which to apply first.
    let moved = summary(
        &old,
        &edit(&old, "vm_id = 102\nip = \"192.168.1.102\"\nenvironment = \"prod\"", "vm_id = 102\nip = \"192.168.1.102\"\nenvironment = \"staging\""),
    );
    assert!(moved.contains("apply `prod` first (`cargo xtask apply prod`) to free vm_id 102"), "{moved}");
    // Growing a disk, adding cores or moving to another node is done in place.
    let grow = summary(&old, &edit(&edit(&old, "disk_gb = 40", "disk_gb = 60"), "cores = 4", "cores = 6\nnode = \"pve2\""));
    assert!(grow.contains("- changed `prod-alloc-ia`: node pve → pve2, cores 4 → 6, disk 40 GB → 60 GB"), "{grow}");
    assert!(grow.contains("- VM `prod-alloc-ia`: migrates from node `pve` to `pve2`"), "{grow}");
    assert!(!grow.contains("re-create"), "{grow}");
}

#[test]
fn diff_compares_with_a_git_ref() {
    let root = repo_copy("diff");
    common::commit_as_main(&root);
    let stack = set_tag(&fs::read_to_string(root.join("stack.toml")).unwrap(), "prom/alertmanager", "v9.9.9");
    fs::write(root.join("stack.toml"), stack).unwrap();
    let out = xtask(&root, &["diff", "--markdown", "--base", "main"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("## Stack changes"), "{stdout}");
    assert!(stdout.contains("- `alertmanager`: prom/alertmanager v") && stdout.contains(" → v9.9.9"), "{stdout}");
    // The base's committed generated/ is the old tree: the compose file is the one that changed.
    assert!(stdout.contains("| `compose/` | 0 | 1 | 0 |"), "{stdout}");

    let missing = xtask(&root, &["diff", "--markdown", "--base", "no-such-ref"]);
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("stack.toml: cannot read it at `no-such-ref`"), "{}", text(&missing.stderr));
}

#[test]
fn diff_explains_a_base_it_cannot_compare_with() {
    let root = repo_copy("diff-bad-base");
    let good = fs::read_to_string(root.join("stack.toml")).unwrap();
    fs::write(root.join("stack.toml"), good.replace("schema_version = 1", "schema_version = 0")).unwrap();
    common::commit_as_main(&root);
    fs::write(root.join("stack.toml"), &good).unwrap();
    let out = xtask(&root, &["diff", "--markdown", "--base", "main"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("The stack at `main` does not validate with this branch's xtask"), "{stdout}");
    assert!(stdout.contains("stack.toml@main:"), "the base's problems are shown: {stdout}");

    let plain = xtask(&root, &["diff", "--base", "main"]);
    assert!(!plain.status.success());
    assert!(text(&plain.stderr).contains("pass `--markdown`"), "{}", text(&plain.stderr));
}
