//! The command line end to end, through the built binary: `gen` and `check` on a temporary
//! copy of the repository; the checkout found at run time (also with two clones sharing one
//! target dir); per-command help, flags refused per command, did-you-mean, `--version`; output
//! conventions (stderr warnings said once, `-q`, colour, a closed pipe); the stack-file limits.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use common::{repo_root, text};
use tempfile::TempDir;

/// A scratch copy of what gen reads and writes (stack.toml, infrastructure/, generated/),
/// removed when dropped; `.path()` is the root.
fn repo_copy(name: &str) -> TempDir {
    let dir = tempfile::Builder::new().prefix(&format!("xtask-cli-{name}-")).tempdir().unwrap();
    let root = repo_root();
    fs::copy(root.join("stack.toml"), dir.path().join("stack.toml")).unwrap();
    common::copy_dir(&root.join("infrastructure"), &dir.path().join("infrastructure"));
    common::copy_dir(&root.join("generated"), &dir.path().join("generated"));
    dir
}

/// The xtask binary, run on `root`.
fn xtask(root: &Path, args: &[&str]) -> Output {
    bin().args(args).arg("--root").arg(root).output().unwrap()
}

/// The xtask binary with no `--root`, no colour settings and no CARGO_MANIFEST_DIR of the test.
fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.env_remove("CARGO_MANIFEST_DIR").env_remove("NO_COLOR");
    cmd
}

fn both(out: &Output) -> String {
    format!("status {:?}\nstdout:\n{}\nstderr:\n{}", out.status, text(&out.stdout), text(&out.stderr))
}

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
    let tmp = repo_copy("fresh");
    let root = tmp.path();
    let out = xtask(root, &["check"]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
}

#[test]
fn gen_twice_changes_nothing_the_second_time() {
    let tmp = repo_copy("twice");
    let root = tmp.path();
    fs::remove_dir_all(root.join("generated")).unwrap();
    let first = xtask(root, &["gen"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let (bytes, times) = (snapshot(&root.join("generated")), mtimes(&root.join("generated")));
    std::thread::sleep(std::time::Duration::from_millis(20));
    let second = xtask(root, &["gen"]);
    assert!(second.status.success());
    assert!(text(&second.stdout).contains("0 created, 0 updated, 0 removed"), "{}", text(&second.stdout));
    assert_eq!(snapshot(&root.join("generated")), bytes);
    assert_eq!(mtimes(&root.join("generated")), times);
}

#[test]
fn check_names_hand_edited_missing_and_extra_files() {
    let tmp = repo_copy("drift");
    let root = tmp.path();
    let g = root.join("generated");
    let edited = g.join("compose/prometheus/prometheus.yml");
    let mut s = fs::read_to_string(&edited).unwrap();
    s.push_str("# my tweak\n");
    fs::write(&edited, s).unwrap();
    fs::remove_file(g.join("compose/alertmanager/alertmanager.yml")).unwrap();
    fs::write(g.join("compose/notes.txt"), "mine\n").unwrap();
    let out = xtask(root, &["check"]);
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
    let tmp = repo_copy("changed");
    let root = tmp.path();
    let stack = fs::read_to_string(root.join("stack.toml")).unwrap().replace("retention_days = 15", "retention_days = 30");
    fs::write(root.join("stack.toml"), stack).unwrap();
    let before = snapshot(&root.join("generated"));
    let out = xtask(root, &["check"]);
    assert!(!out.status.success());
    let stdout = text(&out.stdout);
    assert!(stdout.contains("changed                                generated/compose/docker-compose.yml"), "{stdout}");
    assert!(stdout.contains("+      - \"--storage.tsdb.retention.time=30d\""), "{stdout}");
    assert_eq!(snapshot(&root.join("generated")), before, "check never writes");
}

#[test]
fn terraform_state_and_foreign_files_survive_gen() {
    let tmp = repo_copy("survive");
    let root = tmp.path();
    let g = root.join("generated");
    let env_dir = g.join("compose/.terraform/providers");
    fs::create_dir_all(&env_dir).unwrap();
    fs::write(env_dir.join("x"), "provider").unwrap();
    fs::write(g.join("compose/terraform.tfstate"), "{}").unwrap();
    fs::write(g.join("compose/.terraform.lock.hcl"), "# lock").unwrap();
    fs::write(g.join("NOTES.md"), "my notes").unwrap();
    let stack = fs::read_to_string(root.join("stack.toml")).unwrap().replace("retention_days = 15", "retention_days = 30");
    fs::write(root.join("stack.toml"), stack).unwrap();
    // The foreign file makes gen fail (check would report it), after it wrote the change.
    let out = xtask(root, &["gen"]);
    assert!(!out.status.success(), "gen succeeded with generated/NOTES.md there");
    assert!(text(&out.stderr).contains("generated/ holds 1 file(s) gen keeps but does not make: generated/NOTES.md;"), "{}", text(&out.stderr));
    assert!(fs::read_to_string(g.join("compose/docker-compose.yml")).unwrap().contains("--storage.tsdb.retention.time=30d"), "the change was not written");
    for kept in ["compose/.terraform/providers/x", "compose/terraform.tfstate", "compose/.terraform.lock.hcl", "NOTES.md"] {
        assert!(g.join(kept).exists(), "{kept} was lost");
    }
    // Terraform's working files are no drift: with the notes moved out, gen succeeds and keeps them.
    fs::rename(g.join("NOTES.md"), root.join("NOTES.md")).unwrap();
    let out = xtask(root, &["gen"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for kept in ["compose/.terraform/providers/x", "compose/terraform.tfstate", "compose/.terraform.lock.hcl"] {
        assert!(g.join(kept).exists(), "{kept} was lost");
    }
    assert!(xtask(root, &["check"]).status.success());
}

#[test]
fn removing_a_vm_removes_exactly_its_files() {
    let tmp = repo_copy("remove-vm");
    let root = tmp.path();
    let before: Vec<String> = snapshot(&root.join("generated")).into_iter().map(|(p, _)| p).collect();
    let stack = fs::read_to_string(root.join("stack.toml")).unwrap();
    let start = stack.find("[vms.prod-blog-the]").unwrap();
    let end = start + stack[start..].find("\n\n").unwrap() + 2;
    fs::write(root.join("stack.toml"), format!("{}{}", &stack[..start], &stack[end..])).unwrap();
    let out = xtask(root, &["gen"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after: Vec<String> = snapshot(&root.join("generated")).into_iter().map(|(p, _)| p).collect();
    let removed: Vec<&String> = before.iter().filter(|p| !after.contains(p)).collect();
    assert!(removed.iter().all(|p| p.contains("prod-blog-the")), "removed more than the VM's files: {removed:?}");
    assert!(after.iter().all(|p| !p.contains("prod-blog-the")), "files of the VM remain: {after:?}");
    let check = xtask(root, &["check"]);
    assert!(check.status.success(), "{}", text(&check.stdout));
    let prom = fs::read_to_string(root.join("generated/compose/prometheus/prometheus.yml")).unwrap();
    assert!(!prom.contains("192.168.1.103"), "the VM is still scraped");
}

#[test]
fn a_bad_stack_writes_nothing_and_exits_non_zero() {
    let tmp = repo_copy("bad");
    let root = tmp.path();
    let stack = fs::read_to_string(root.join("stack.toml")).unwrap().replace("ip = \"192.168.1.102\"", "ip = \"192.168.9.102\"");
    fs::write(root.join("stack.toml"), stack).unwrap();
    let before = snapshot(&root.join("generated"));
    let out = xtask(root, &["gen"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("stack.toml:"), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("vms.prod-alloc-ia.ip: 192.168.9.102 is outside the network 192.168.1.0/24"));
    assert_eq!(snapshot(&root.join("generated")), before);
}

#[test]
fn a_stale_file_is_removed_but_a_hand_edited_stale_file_is_kept() {
    let tmp = repo_copy("stale");
    let root = tmp.path();
    let g = root.join("generated");
    // Pretend an earlier gen made two more files: one untouched, one edited since.
    let manifest = fs::read_to_string(g.join(".manifest.sha256")).unwrap();
    fs::write(g.join("old.yml"), "a: 1\n").unwrap();
    fs::write(g.join("old-edited.yml"), "a: 2\n").unwrap();
    let line = |p: &str, c: &str| format!("{}  {p}\n", xtask::tree::sha256_hex(c.as_bytes()));
    fs::write(g.join(".manifest.sha256"), format!("{manifest}{}{}", line("old.yml", "a: 1\n"), line("old-edited.yml", "a: 1\n"))).unwrap();
    let check = xtask(root, &["check"]);
    let said = text(&check.stdout);
    assert!(said.contains("extra (stale, gen removes it)          generated/old.yml"), "{said}");
    assert!(said.contains("extra (stale, edited: gen keeps it)    generated/old-edited.yml"), "check says what gen will do: {said}");
    // Gen removes the untouched one, keeps the edited one, and fails: check would fail after it.
    let out = xtask(root, &["gen"]);
    assert!(!out.status.success(), "gen succeeded with a file check reports");
    assert!(!g.join("old.yml").exists());
    assert!(g.join("old-edited.yml").exists());
    assert!(text(&out.stdout).contains("kept     generated/old-edited.yml"), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("generated/ holds 1 file(s) gen keeps but does not make: generated/old-edited.yml"), "{}", text(&out.stderr));
    assert!(!xtask(root, &["check"]).status.success());
    // Following the hint: moved out, gen succeeds and check passes.
    fs::remove_file(g.join("old-edited.yml")).unwrap();
    assert!(xtask(root, &["gen"]).status.success());
    let check = xtask(root, &["check", "--no-memo"]);
    assert!(check.status.success(), "{}{}", text(&check.stdout), text(&check.stderr));
}

#[test]
fn gen_fails_while_a_file_it_did_not_make_is_in_generated_and_check_would_report_it() {
    let tmp = repo_copy("foreign");
    let root = tmp.path();
    let g = root.join("generated");
    fs::write(g.join("compose/notes.txt"), "mine\n").unwrap();
    let out = xtask(root, &["gen"]);
    assert!(!out.status.success(), "gen succeeded, but check fails on generated/compose/notes.txt");
    assert!(text(&out.stdout).contains("kept     generated/compose/notes.txt (not made by gen)"), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("hint: move them out of generated/"), "{}", text(&out.stderr));
    assert_eq!(fs::read_to_string(g.join("compose/notes.txt")).unwrap(), "mine\n", "gen never deletes a file it did not make");
    fs::rename(g.join("compose/notes.txt"), root.join("notes.txt")).unwrap();
    assert!(xtask(root, &["gen"]).status.success());
    assert!(xtask(root, &["check"]).status.success());
}

// ---- the checkout, found at run time ----

/// A copy of every tracked file of the repository (a second clone), removed when dropped.
fn clone_in(parent: &Path, name: &str) -> PathBuf {
    let dest = parent.join(name);
    let listing =
        Command::new("git").arg("-C").arg(repo_root()).args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"]).output().expect("git runs");
    assert!(listing.status.success(), "git ls-files: {}", both(&listing));
    for rel in text(&listing.stdout).split('\0').filter(|p| !p.is_empty()) {
        let from = repo_root().join(rel);
        if !from.is_file() {
            continue; // deleted in the working tree
        }
        let to = dest.join(rel);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(&from, &to).unwrap();
    }
    dest
}

/// Makes generated/ of a checkout drift: one hand edit.
fn drift(root: &Path) -> &'static str {
    let rel = "compose/prometheus/prometheus.yml";
    let path = root.join("generated").join(rel);
    let mut s = fs::read_to_string(&path).unwrap();
    s.push_str("# drift\n");
    fs::write(&path, s).unwrap();
    rel
}

#[test]
fn without_root_the_checkout_is_found_from_the_current_directory() {
    let tmp = tempfile::Builder::new().prefix("xtask-cli-cwd-").tempdir().unwrap();
    let a = clone_in(tmp.path(), "a");
    let edited = drift(&a);
    let out = bin().arg("check").current_dir(a.join("infrastructure/templates")).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(text(&out.stdout).contains(&format!("generated/{edited}")), "{}", both(&out));

    // CARGO_MANIFEST_DIR, as `cargo run` sets it, wins over the current directory.
    let out = bin().arg("check").env("CARGO_MANIFEST_DIR", a.join("xtask")).current_dir(repo_root()).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "checked the current directory, not the manifest's checkout: {}", both(&out));

    let out = bin().arg("check").current_dir(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let err = text(&out.stderr);
    assert!(
        err.contains("not inside a checkout of this repository") && err.contains("hint: run `cargo xtask` inside the checkout, or pass `--root DIR`"),
        "{err}"
    );
}

/// Issue 13 item 1: two clones, one CARGO_TARGET_DIR. Cargo's hash of a workspace member does not
/// depend on where the checkout is, so after a build in clone B, cargo judges clone A (whose
/// sources are older) fresh and runs B's binary: that binary must work on A. The shared target
/// dir is a hard-linked copy of this build's own, so only xtask is compiled, once.
#[test]
fn two_clones_sharing_one_target_dir_each_work_on_their_own_checkout() {
    let own_target = Path::new(env!("CARGO_BIN_EXE_xtask")).parent().unwrap().parent().unwrap().to_path_buf();
    let profile = Path::new(env!("CARGO_BIN_EXE_xtask")).parent().unwrap().file_name().unwrap().to_owned();
    // Inside the target dir: the same file system (hard links), and never committed.
    let tmp = tempfile::Builder::new().prefix("two-clones-").tempdir_in(&own_target).unwrap();
    let shared = tmp.path().join("target");
    for part in ["deps", "build", ".fingerprint"] {
        link_tree(&own_target.join(&profile).join(part), &shared.join(&profile).join(part));
    }
    let (a, b) = (clone_in(tmp.path(), "a"), clone_in(tmp.path(), "b"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let run = |dir: &Path, args: &[&str]| {
        let mut cmd = Command::new(&cargo);
        cmd.args(args).current_dir(dir).env("CARGO_TARGET_DIR", &shared).env("CARGO_INCREMENTAL", "0").env_remove("CARGO_MANIFEST_DIR");
        if profile != "debug" {
            cmd.arg("--profile").arg(&profile);
        }
        cmd.output().unwrap()
    };
    let out = run(&b, &["build", "--quiet", "--package", "xtask", "--bin", "xtask"]);
    assert!(out.status.success(), "cargo build in B: {}", both(&out));
    let linked = shared.join(&profile).join("xtask");
    let built_in_b = fs::metadata(&linked).unwrap().modified().unwrap();
    let edited = drift(&a);
    let out = run(&a, &["xtask", "check"]);
    // Whether cargo reuses B's binary for A depends on its freshness check (mtimes): on a loaded
    // machine it was seen to rebuild. Either way the binary that ran must have checked A; the
    // case of B's binary is the one the bug needed, so say when it was not reproduced.
    if fs::metadata(&linked).unwrap().modified().unwrap() != built_in_b {
        eprintln!("note: cargo rebuilt xtask in A this run, so B's binary did not serve A; the checks below still hold");
    }
    assert_eq!(out.status.code(), Some(1), "check in A did not see A's drift: {}", both(&out));
    assert!(text(&out.stdout).contains(&format!("hand-edited                            generated/{edited}")), "{}", both(&out));
    let out = run(&a, &["xtask", "gen", "-q"]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(!fs::read_to_string(a.join("generated").join(edited)).unwrap().contains("# drift"), "gen wrote A");
    let out = run(&b, &["xtask", "check", "-q"]);
    assert!(out.status.success(), "B untouched: {}", both(&out));
}

/// Hard-links the dependencies' build outputs of `from` into `to` (cargo does not rewrite a fresh
/// unit's files). xtask's own units are left out: cargo writes those, and some in place.
fn link_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from).min_depth(1) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(from).unwrap();
        if rel.components().next().is_some_and(|c| c.as_os_str().to_string_lossy().contains("xtask")) {
            continue;
        }
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            fs::create_dir_all(&dest).unwrap();
        } else {
            fs::create_dir_all(dest.parent().unwrap()).unwrap();
            fs::hard_link(entry.path(), &dest).unwrap();
        }
    }
}

// ---- per-command help, flags and arguments ----

#[test]
fn help_is_printed_per_command_and_runs_nothing() {
    let nowhere = Path::new("/nonexistent-xtask-root");
    for args in [&["gen", "--help"][..], &["gen", "-h"], &["help", "gen"]] {
        let out = bin().arg("--root").arg(nowhere).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", both(&out));
        let stdout = text(&out.stdout);
        assert!(stdout.starts_with("cargo xtask gen: render generated/"), "{args:?}: {stdout}");
        assert!(stdout.contains("usage: cargo xtask gen [OPTIONS]") && stdout.contains("-v, --verbose"), "{stdout}");
        assert!(!stdout.contains("--auto-approve"), "gen's help lists only its flags: {stdout}");
    }
    for (command, flag) in [("apply", "--auto-approve"), ("diff", "--base REF"), ("certs", "--force"), ("plan", "<ENV>")] {
        let out = xtask(nowhere, &[command, "--help"]);
        assert!(out.status.success() && text(&out.stdout).contains(flag), "{command}: {}", both(&out));
    }
    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    for command in ["gen", "check", "dns", "certs", "plan", "apply", "diff", "bench", "help"] {
        assert!(text(&out.stdout).contains(&format!("\n  {command} ")), "{command} missing: {}", text(&out.stdout));
    }
}

#[test]
fn version_is_printed() {
    for flag in ["--version", "-V"] {
        let out = bin().arg(flag).output().unwrap();
        assert!(out.status.success());
        assert_eq!(text(&out.stdout), format!("xtask {}\n", env!("CARGO_PKG_VERSION")));
    }
}

/// Runs a command line that must be refused: exit 2, nothing on stdout, the message and the
/// command's usage line on stderr.
fn refused(args: &[&str], message: &str, usage: &str) -> String {
    let tmp = repo_copy("refused");
    let before = fs::read_dir(tmp.path().join("generated")).unwrap().count();
    // `--root` first: a value flag at the end (`--base`) must find no value.
    let out = bin().arg("--root").arg(tmp.path()).args(args).output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", both(&out));
    assert!(out.stdout.is_empty(), "{args:?} ran: {}", both(&out));
    assert!(err.starts_with(&format!("error: {message}")), "{args:?}: {err}");
    assert!(err.contains(&format!("\n{usage}\n")), "{args:?}: no usage line `{usage}`: {err}");
    assert_eq!(fs::read_dir(tmp.path().join("generated")).unwrap().count(), before);
    err
}

#[test]
fn unknown_flags_and_stray_arguments_are_refused_per_command() {
    refused(&["gen", "extra-arg"], "gen: unexpected argument `extra-arg`", "usage: cargo xtask gen [OPTIONS]");
    refused(&["check", "x"], "check: unexpected argument `x`", "usage: cargo xtask check [OPTIONS]");
    refused(&["gen", "--frobnicate"], "gen: unknown flag `--frobnicate`", "usage: cargo xtask gen [OPTIONS]");
    refused(&["dns", "-x"], "dns: unknown flag `-x`", "usage: cargo xtask dns [OPTIONS]");
    let err = refused(&["check", "--force"], "check: unknown flag `--force`", "usage: cargo xtask check [OPTIONS]");
    assert!(err.contains("hint: `--force` is a flag of `cargo xtask certs`"), "{err}");
    refused(&["gen", "--verbose=yes"], "gen: `--verbose` takes no value", "usage: cargo xtask gen [OPTIONS]");
    refused(&["diff", "--markdown", "--base"], "diff: `--base` needs a value", "usage: cargo xtask diff [OPTIONS]");
    refused(&["plan", "prod", "monitoring"], "plan: takes one environment; `monitoring` is one too many", "usage: cargo xtask plan <ENV> [OPTIONS]");
    refused(&["certs"], "certs: needs a subcommand: `init`", "usage: cargo xtask certs init [OPTIONS]");
    refused(&["certs", "init", "now"], "certs: unexpected argument `now` after `init`", "usage: cargo xtask certs init [OPTIONS]");
}

#[test]
fn a_flag_before_any_command_is_an_unknown_flag_not_an_unknown_command() {
    let err = refused(&["--frobnicate"], "unknown flag `--frobnicate`", "usage: cargo xtask <COMMAND> [OPTIONS]");
    assert!(!err.contains("unknown command"), "{err}");
}

#[test]
fn typos_get_a_did_you_mean() {
    let err = refused(&["gne"], "unknown command `gne`", "usage: cargo xtask <COMMAND> [OPTIONS]");
    assert!(err.contains("hint: did you mean `gen`?"), "{err}");
    let err = refused(&["chekc"], "unknown command `chekc`", "usage: cargo xtask <COMMAND> [OPTIONS]");
    assert!(err.contains("hint: did you mean `check`?"), "{err}");
    let err = refused(&["gen", "--verbos"], "gen: unknown flag `--verbos`", "usage: cargo xtask gen [OPTIONS]");
    assert!(err.contains("hint: did you mean `--verbose`?"), "{err}");
    let err = refused(&["apply", "prod", "--auto-aprove"], "apply: unknown flag `--auto-aprove`", "usage: cargo xtask apply <ENV> [OPTIONS]");
    assert!(err.contains("hint: did you mean `--auto-approve`?"), "{err}");
    let err = refused(&["check", "--quite"], "check: unknown flag `--quite`", "usage: cargo xtask check [OPTIONS]");
    assert!(err.contains("hint: did you mean `--quiet`?"), "{err}");
    let err = refused(&["certs", "iint"], "certs: unknown subcommand `iint`; did you mean `init`?", "usage: cargo xtask certs init [OPTIONS]");
    assert!(!err.contains("hint:"), "{err}");
    let err = refused(&["frobnicate"], "unknown command `frobnicate`", "usage: cargo xtask <COMMAND> [OPTIONS]");
    assert!(err.contains("hint: `cargo xtask --help` lists the commands"), "{err}");
}

#[test]
fn plan_refuses_auto_approve_because_it_never_applies() {
    let err = refused(
        &["plan", "prod", "--auto-approve"],
        "plan: `--auto-approve` is not a flag of `plan`: plan never applies",
        "usage: cargo xtask plan <ENV> [OPTIONS]",
    );
    assert!(err.contains("`cargo xtask apply <ENV> --auto-approve` applies"), "{err}");
    // `apply --auto-approve` reaching Terraform is tests/it/plan_apply.rs's.
}

// ---- output conventions ----

#[test]
fn warnings_go_to_stderr_once_per_distinct_set() {
    let tmp = repo_copy("warnings");
    let root = tmp.path();
    let first = xtask(root, &["gen"]);
    assert!(first.status.success(), "{}", both(&first));
    let (out, err) = (text(&first.stdout), text(&first.stderr));
    assert!(!out.contains("warning"), "warnings on stdout: {out}");
    assert!(err.contains("warning: .secrets/leaf.key: no leaf key here"), "{err}");
    assert!(err.contains("warning: Promtail reached end of life"), "{err}");
    assert!(err.contains("warning: proxmox.cloud_image has no checksum"), "{err}");
    assert!(root.join(".xtask/warnings").is_file());

    let second = xtask(root, &["gen"]);
    let err = text(&second.stderr);
    assert_eq!(err, "note: 3 warning(s) said on an earlier run still hold; `cargo xtask gen --verbose` repeats them\n", "{}", both(&second));

    let verbose = xtask(root, &["gen", "--verbose"]);
    let err = text(&verbose.stderr);
    assert!(err.contains("warning: .secrets/leaf.key") && err.contains("warning: Promtail"), "{err}");

    // Another set (the key is there, but not the leaf's) is news: said in full.
    fs::create_dir_all(root.join(".secrets")).unwrap();
    fs::write(root.join(".secrets/leaf.key"), "not a key").unwrap();
    let changed = xtask(root, &["gen"]);
    let err = text(&changed.stderr);
    assert!(err.contains("warning: .secrets/leaf.key: not the key of infrastructure/tls/leaf.crt"), "{err}");
    assert!(err.contains("warning: Promtail"), "the whole new set is said: {err}");
}

#[test]
fn quiet_silences_the_summary() {
    let tmp = repo_copy("quiet");
    let root = tmp.path();
    assert!(xtask(root, &["gen"]).status.success());
    let out = xtask(root, &["gen", "-q"]);
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!((text(&out.stdout), text(&out.stderr)), (String::new(), String::new()));
    let out = xtask(root, &["check", "--quiet"]);
    assert!(out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(), "{}", both(&out));
    // Drift is no summary: it is still shown.
    drift(root);
    let out = xtask(root, &["check", "-q"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("hand-edited") && text(&out.stderr).contains("error: generated/ is out of date"), "{}", both(&out));
}

#[test]
fn a_closed_pipe_ends_quietly() {
    for args in [&["dns"][..], &["check"], &["--help"], &["gen", "--help"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = bin().args(args).arg("--root").arg(repo_root()).stdout(writer).output().unwrap();
        let err = text(&out.stderr);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert!(out.status.success() || out.status.signal() == Some(13), "{args:?}: {:?}", out.status);
        }
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}

/// Colour needs a terminal: `script` gives the command one.
fn on_a_terminal(args: &str, no_color: bool) -> Option<String> {
    let script = ["/usr/bin/script", "/bin/script"].into_iter().find(|p| Path::new(p).is_file());
    let Some(script) = script else {
        assert_ne!(std::env::var("REQUIRE_VALIDATORS").as_deref(), Ok("1"), "`script` (util-linux) is required (REQUIRE_VALIDATORS=1)");
        common::skipped("`script` (util-linux) is not installed; colour on a terminal was not tested");
        return None;
    };
    let line = format!("{} {args}", env!("CARGO_BIN_EXE_xtask"));
    let mut cmd = Command::new(script);
    cmd.args(["-qec", &line, "/dev/null"]).env_remove("CARGO_MANIFEST_DIR").env_remove("NO_COLOR").env("TERM", "xterm");
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    Some(text(&cmd.output().unwrap().stdout))
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let piped = bin().args(["gen", "extra"]).output().unwrap();
    assert!(text(&piped.stderr).starts_with("error: gen:"), "no colour into a pipe: {}", both(&piped));
    if let Some(tty) = on_a_terminal("gen extra", false) {
        assert!(tty.contains("\x1b[1;31merror\x1b[0m: gen:"), "colour on a terminal: {tty:?}");
    }
    if let Some(tty) = on_a_terminal("gen extra", true) {
        assert!(tty.contains("error: gen:") && !tty.contains('\x1b'), "NO_COLOR: {tty:?}");
    }
}

// ---- the stack file ----

#[test]
fn a_stack_path_that_is_no_regular_file_or_too_large_is_refused_before_reading() {
    let started = std::time::Instant::now();
    let out = xtask(&repo_root(), &["check", "--stack", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(text(&out.stderr).contains("error: /dev/zero: not a regular file\n  hint: "), "{}", both(&out));
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "it read /dev/zero");

    let tmp = TempDir::new().unwrap();
    let big = tmp.path().join("big.toml");
    fs::write(&big, "#".repeat(2 * 1024 * 1024)).unwrap();
    let out = xtask(&repo_root(), &["check", "--stack", big.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("big.toml: larger than 1024 KiB, too large for a stack file\n  hint: "), "{}", both(&out));

    let out = xtask(&repo_root(), &["dns", "--stack", tmp.path().to_str().unwrap()]);
    assert!(text(&out.stderr).contains(": not a regular file"), "a directory: {}", both(&out));
}

#[test]
fn a_stack_file_that_is_not_utf8_gets_a_located_message_with_a_hint() {
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("latin1.toml");
    fs::write(&file, b"schema_version = 1\ndomain = \"caf\xe9.lan\"\n").unwrap();
    let out = xtask(&repo_root(), &["check", "--stack", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("latin1.toml:2:14: not UTF-8 text: byte 0xe9 is not valid UTF-8 (TOML files are UTF-8)\n  hint: save the file as UTF-8"), "{err}");
}

/// The stack of `root` with Loki moved to a bucket from `from`.
fn loki_on_s3(root: &Path, from: &str) {
    let s3 = format!(
        "memory_reservation_mb = 160\nstorage = \"s3\"\n\n[services.loki.s3]\nendpoint = \"s3.home.lan:9000\"\nbucket = \"loki\"\nregion = \"us-east-1\"\nfrom = \"{from}\"\n"
    );
    let src = fs::read_to_string(root.join("stack.toml")).unwrap();
    let (head, tail) = src.split_once("[services.loki]\n").unwrap();
    let (loki, rest) = tail.split_once("memory_reservation_mb = 160\n").unwrap();
    fs::write(root.join("stack.toml"), format!("{head}[services.loki]\n{loki}{s3}{rest}")).unwrap();
}

#[test]
fn gen_refuses_a_loki_bucket_period_that_is_not_in_the_future_and_writes_nothing() {
    let tmp = repo_copy("loki-past");
    let root = tmp.path();
    loki_on_s3(root, "2025-01-01");
    let before = snapshot(&root.join("generated"));
    let out = xtask(root, &["gen"]);
    assert!(!out.status.success(), "{}", both(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("services.loki.s3.from: the bucket's period would begin on 2025-01-01, which is not after today"), "{stderr}");
    assert!(stderr.contains("hint: pick a date after today"), "{stderr}");
    assert_eq!(snapshot(&root.join("generated")), before, "a refused gen writes nothing");
    // A day far ahead is accepted; the second gen, which reads it back from generated/, too.
    loki_on_s3(&repo_copy_stack_reset(root), "2999-01-01");
    let first = xtask(root, &["gen"]);
    assert!(first.status.success(), "{}", both(&first));
    let config = fs::read_to_string(root.join("generated/compose/loki/loki-config.yml")).unwrap();
    assert!(config.contains("- from: \"2024-04-01\"") && config.contains("- from: \"2999-01-01\"\n      store: tsdb\n      object_store: s3"), "{config}");
    let check = xtask(root, &["check"]);
    assert!(check.status.success(), "{}", both(&check));
}

/// Puts the repository's stack.toml back into `root`, for another edit.
fn repo_copy_stack_reset(root: &Path) -> PathBuf {
    fs::copy(repo_root().join("stack.toml"), root.join("stack.toml")).unwrap();
    root.to_path_buf()
}

/// A copy of the repository after a gen there, with the render memo that gen recorded.
fn after_gen(name: &str) -> TempDir {
    let tmp = repo_copy(name);
    let out = xtask(tmp.path(), &["gen"]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(tmp.path().join(xtask::memo::FILE).is_file(), "gen records the render memo");
    let out = xtask(tmp.path(), &["check"]);
    assert!(out.status.success() && text(&out.stdout).contains("same inputs as the last gen, not rendered again"), "the memo hits: {}", both(&out));
    tmp
}

fn append(path: &Path, line: &str) {
    let mut s = fs::read_to_string(path).unwrap();
    s.push_str(line);
    fs::write(path, s).unwrap();
}

#[test]
fn with_the_render_memo_present_every_kind_of_change_is_still_found() {
    type Edit = fn(&Path);
    let cases: [(&str, Edit, &[&str]); 6] = [
        (
            "stack",
            |root| {
                let stack = fs::read_to_string(root.join("stack.toml")).unwrap().replace("retention_days = 15", "retention_days = 30");
                fs::write(root.join("stack.toml"), stack).unwrap();
            },
            &["changed                                generated/compose/docker-compose.yml", "+      - \"--storage.tsdb.retention.time=30d\""],
        ),
        (
            "template",
            |root| append(&root.join("infrastructure/templates/compose/prometheus/prometheus.yml.j2"), "# a template edit\n"),
            &["changed                                generated/compose/prometheus/prometheus.yml", "+# a template edit"],
        ),
        ("cert", |root| append(&root.join("infrastructure/tls/leaf.crt"), "\n"), &["changed                                generated/compose/tls/leaf.crt"]),
        (
            "hand-edit",
            |root| append(&root.join("generated/compose/prometheus/prometheus.yml"), "# my tweak\n"),
            &["hand-edited                            generated/compose/prometheus/prometheus.yml", "-# my tweak"],
        ),
        (
            "deleted",
            |root| fs::remove_file(root.join("generated/compose/alertmanager/alertmanager.yml")).unwrap(),
            &["missing                                generated/compose/alertmanager/alertmanager.yml"],
        ),
        (
            "extra",
            |root| fs::write(root.join("generated/compose/notes.txt"), "mine\n").unwrap(),
            &["extra (not generated, gen keeps it)    generated/compose/notes.txt"],
        ),
    ];
    for (name, edit, said) in cases {
        let tmp = after_gen(&format!("memo-{name}"));
        let root = tmp.path();
        let memo = fs::read(root.join(xtask::memo::FILE)).unwrap();
        edit(root);
        let out = xtask(root, &["check"]);
        let stdout = text(&out.stdout);
        assert!(!out.status.success(), "{name}: {}", both(&out));
        for line in said {
            assert!(stdout.contains(line), "{name}: {line:?} not in {stdout}");
        }
        assert_eq!(fs::read(root.join(xtask::memo::FILE)).unwrap(), memo, "{name}: check never writes the memo");
    }
}

/// A tree forged by hand together with its manifest (a file edited and its hash recorded), which
/// only a render tells from gen's: the memo is trusted for this build's key alone.
#[test]
fn a_memo_of_another_build_or_other_inputs_is_not_trusted_and_no_memo_always_renders() {
    let tmp = after_gen("memo-build");
    let root = tmp.path();
    let g = root.join("generated");
    let edited = "compose/prometheus/prometheus.yml";
    append(&g.join(edited), "# forged\n");
    let manifest = fs::read_to_string(g.join(xtask::tree::MANIFEST)).unwrap();
    let hash = xtask::tree::sha256_hex(&fs::read(g.join(edited)).unwrap());
    let forged: String = manifest.lines().map(|l| if l.ends_with(&format!("  {edited}")) { format!("{hash}  {edited}\n") } else { format!("{l}\n") }).collect();
    assert_ne!(forged, manifest);
    fs::write(g.join(xtask::tree::MANIFEST), &forged).unwrap();
    let project = xtask::project::Project::new(root, "stack.toml");
    let (stack, src) = project.load_with_src().unwrap();
    let templates = project.read_templates().unwrap();
    let this_build = xtask::memo::key("stack.toml", &src, &stack, &templates);
    let other_build = xtask::memo::key_of_build("another build of xtask", "stack.toml", &src, &stack, &templates);
    assert_ne!(this_build, other_build);
    let other_stack = xtask::memo::key("stack.toml", b"# another stack file\n", &stack, &templates);
    for key in [&other_build, &other_stack] {
        fs::write(root.join(xtask::memo::FILE), xtask::memo::text(key, &forged)).unwrap();
        let out = xtask(root, &["check"]);
        assert!(!out.status.success(), "a memo of another key is not used: {}", both(&out));
        assert!(text(&out.stdout).contains(&format!("changed                                generated/{edited}")), "{}", both(&out));
    }
    // The control: the same memo under this build's key is believed (as a forged manifest is),
    // which is what the key protects; --no-memo renders whatever the memo says.
    fs::write(root.join(xtask::memo::FILE), xtask::memo::text(&this_build, &forged)).unwrap();
    let out = xtask(root, &["check"]);
    assert!(out.status.success() && text(&out.stdout).contains("not rendered again"), "{}", both(&out));
    let out = xtask(root, &["check", "--no-memo"]);
    assert!(!out.status.success() && text(&out.stdout).contains(&format!("generated/{edited}")), "{}", both(&out));
    // A fresh clone has no memo: check renders, and writes none.
    let fresh = repo_copy("memo-fresh");
    let out = xtask(fresh.path(), &["check"]);
    assert!(out.status.success() && !text(&out.stdout).contains("not rendered again"), "{}", both(&out));
    assert!(!fresh.path().join(".xtask").exists(), "check writes no memo");
}
