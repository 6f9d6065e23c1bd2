//! `cargo xtask gen` and `check` end to end, on a temporary copy of the repository.

mod common;

use std::fs;
use std::time::SystemTime;

use common::{repo_copy, text, xtask};

fn mtimes(dir: &std::path::Path) -> Vec<(String, SystemTime)> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.unwrap();
        if e.file_type().is_file() {
            out.push((e.path().display().to_string(), e.metadata().unwrap().modified().unwrap()));
        }
    }
    out
}

fn snapshot(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.unwrap();
        if e.file_type().is_file() {
            out.push((e.path().display().to_string(), fs::read(e.path()).unwrap()));
        }
    }
    out
}

#[test]
fn check_passes_on_the_committed_tree() {
    let root = repo_copy("fresh");
    let out = xtask(&root, &["check"]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
}

#[test]
fn gen_twice_changes_nothing_the_second_time() {
    let root = repo_copy("twice");
    fs::remove_dir_all(root.join("generated")).unwrap();
    let first = xtask(&root, &["gen"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let (bytes, times) = (snapshot(&root.join("generated")), mtimes(&root.join("generated")));
    std::thread::sleep(std::time::Duration::from_millis(20));
    let second = xtask(&root, &["gen"]);
    assert!(second.status.success());
    assert!(text(&second.stdout).contains("0 created, 0 updated, 0 removed"), "{}", text(&second.stdout));
    assert_eq!(snapshot(&root.join("generated")), bytes);
    assert_eq!(mtimes(&root.join("generated")), times);
}

#[test]
fn check_names_hand_edited_missing_and_extra_files() {
    let root = repo_copy("drift");
    let g = root.join("generated");
    let edited = g.join("compose/prometheus/prometheus.yml");
    let mut s = fs::read_to_string(&edited).unwrap();
    s.push_str("# my tweak\n");
    fs::write(&edited, s).unwrap();
    fs::remove_file(g.join("compose/alertmanager/alertmanager.yml")).unwrap();
    fs::write(g.join("compose/notes.txt"), "mine\n").unwrap();
    let out = xtask(&root, &["check"]);
    let stdout = text(&out.stdout);
    assert!(!out.status.success());
    assert!(stdout.contains("hand-edited                            generated/compose/prometheus/prometheus.yml"), "{stdout}");
    assert!(stdout.contains("missing                                generated/compose/alertmanager/alertmanager.yml"), "{stdout}");
    assert!(stdout.contains("extra (not generated, gen keeps it)    generated/compose/notes.txt"), "{stdout}");
    assert!(stdout.contains("-# my tweak"), "the diff shows the edit: {stdout}");
    assert!(text(&out.stderr).contains("hint: run `cargo xtask gen`"));
}

#[test]
fn check_says_changed_when_stack_toml_changed() {
    let root = repo_copy("changed");
    let stack = fs::read_to_string(root.join("stack.toml")).unwrap().replace("retention_days = 15", "retention_days = 30");
    fs::write(root.join("stack.toml"), stack).unwrap();
    let before = snapshot(&root.join("generated"));
    let out = xtask(&root, &["check"]);
    assert!(!out.status.success());
    let stdout = text(&out.stdout);
    assert!(stdout.contains("changed                                generated/compose/docker-compose.yml"), "{stdout}");
    assert!(stdout.contains("+      - \"--storage.tsdb.retention.time=30d\""), "{stdout}");
    assert_eq!(snapshot(&root.join("generated")), before, "check never writes");
}

#[test]
fn terraform_state_and_foreign_files_survive_gen() {
    let root = repo_copy("survive");
    let g = root.join("generated");
    let env_dir = g.join("compose/.terraform/providers");
    fs::create_dir_all(&env_dir).unwrap();
    fs::write(env_dir.join("x"), "provider").unwrap();
    fs::write(g.join("compose/terraform.tfstate"), "{}").unwrap();
    fs::write(g.join("compose/.terraform.lock.hcl"), "# lock").unwrap();
    fs::write(g.join("NOTES.md"), "my notes").unwrap();
    let stack = fs::read_to_string(root.join("stack.toml")).unwrap().replace("retention_days = 15", "retention_days = 30");
    fs::write(root.join("stack.toml"), stack).unwrap();
    let out = xtask(&root, &["gen"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for kept in ["compose/.terraform/providers/x", "compose/terraform.tfstate", "compose/.terraform.lock.hcl", "NOTES.md"] {
        assert!(g.join(kept).exists(), "{kept} was lost");
    }
}

#[test]
fn removing_a_vm_removes_exactly_its_files() {
    let root = repo_copy("remove-vm");
    let before: Vec<String> = snapshot(&root.join("generated")).into_iter().map(|(p, _)| p).collect();
    let stack = fs::read_to_string(root.join("stack.toml")).unwrap();
    let start = stack.find("[vms.prod-blog-the]").unwrap();
    let end = start + stack[start..].find("\n\n").unwrap() + 2;
    fs::write(root.join("stack.toml"), format!("{}{}", &stack[..start], &stack[end..])).unwrap();
    let out = xtask(&root, &["gen"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after: Vec<String> = snapshot(&root.join("generated")).into_iter().map(|(p, _)| p).collect();
    let removed: Vec<&String> = before.iter().filter(|p| !after.contains(p)).collect();
    assert!(removed.iter().all(|p| p.contains("prod-blog-the")), "removed more than the VM's files: {removed:?}");
    assert!(after.iter().all(|p| !p.contains("prod-blog-the")), "files of the VM remain: {after:?}");
    let check = xtask(&root, &["check"]);
    assert!(check.status.success(), "{}", text(&check.stdout));
    let prom = fs::read_to_string(root.join("generated/compose/prometheus/prometheus.yml")).unwrap();
    assert!(!prom.contains("192.168.1.103"), "the VM is still scraped");
}

#[test]
fn a_bad_stack_writes_nothing_and_exits_non_zero() {
    let root = repo_copy("bad");
    let stack = fs::read_to_string(root.join("stack.toml")).unwrap().replace("ip = \"192.168.1.102\"", "ip = \"192.168.9.102\"");
    fs::write(root.join("stack.toml"), stack).unwrap();
    let before = snapshot(&root.join("generated"));
    let out = xtask(&root, &["gen"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("stack.toml:"), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("vms.prod-alloc-ia.ip: 192.168.9.102 is outside the network 192.168.1.0/24"));
    assert_eq!(snapshot(&root.join("generated")), before);
}

#[test]
fn a_stale_file_is_removed_but_a_hand_edited_stale_file_is_kept() {
    let root = repo_copy("stale");
    let g = root.join("generated");
    // Pretend an earlier gen made two more files: one untouched, one edited since.
    let manifest = fs::read_to_string(g.join(".manifest.sha256")).unwrap();
    fs::write(g.join("old.yml"), "a: 1\n").unwrap();
    fs::write(g.join("old-edited.yml"), "a: 2\n").unwrap();
    let line = |p: &str, c: &str| format!("{}  {p}\n", xtask::tree::sha256_hex(c.as_bytes()));
    fs::write(g.join(".manifest.sha256"), format!("{manifest}{}{}", line("old.yml", "a: 1\n"), line("old-edited.yml", "a: 1\n"))).unwrap();
    let check = xtask(&root, &["check"]);
    assert!(text(&check.stdout).contains("extra (stale, gen removes it)          generated/old.yml"), "{}", text(&check.stdout));
    let out = xtask(&root, &["gen"]);
    assert!(out.status.success());
    assert!(!g.join("old.yml").exists());
    assert!(g.join("old-edited.yml").exists());
    assert!(text(&out.stdout).contains("kept     generated/old-edited.yml"), "{}", text(&out.stdout));
}
