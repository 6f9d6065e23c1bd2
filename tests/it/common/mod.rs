//! Helpers shared by the integration tests: the repository, fixture stacks, temporary copies
//! and the real validators.
#![allow(dead_code)]

mod provider_stub;

pub use provider_stub::{Provisioners, stub_provider};

use std::path::{Path, PathBuf};
use std::process::Command;

use xtask::project::Project;
use xtask::stack::Stack;
use xtask::tree::Tree;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Every stack the tests render: the example, then each `tests/stacks/*/stack.toml`.
pub fn fixture_stacks() -> Vec<(String, PathBuf)> {
    let root = repo_root();
    let mut out = vec![("example".to_string(), root.join("stack.toml"))];
    let mut dirs: Vec<_> = std::fs::read_dir(root.join("tests/stacks")).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    for dir in dirs {
        out.push((dir.file_name().unwrap().to_string_lossy().into_owned(), dir.join("stack.toml")));
    }
    out
}

/// The repository as the commands see it (its templates and committed certificates).
pub fn project() -> Project {
    Project::new(repo_root(), "stack.toml")
}

/// A fixture stack file, loaded as `cargo xtask gen` loads stack.toml (with the committed
/// certificates).
pub fn load(path: &Path) -> Stack {
    project().parse("stack.toml", &std::fs::read(path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn render(stack: &Stack) -> Tree {
    project().render(stack).unwrap()
}

pub fn render_path(path: &Path) -> Tree {
    render(&load(path))
}

/// The tree as `=== path ===` blocks, for snapshots.
pub fn flatten(tree: &Tree) -> String {
    let mut out = String::new();
    for (path, bytes) in tree.files() {
        out.push_str(&format!("=== {path} ===\n{}\n", String::from_utf8_lossy(bytes)));
    }
    out
}

/// A scratch directory of a test, removed when it is dropped (so nothing is left in /tmp). It
/// reads as the `Path` it is (`dir.join(..)`, `&dir` where a path is wanted).
pub struct Scratch(tempfile::TempDir);

impl Scratch {
    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.path().as_os_str()
    }
}

/// A fresh, empty temporary directory, removed when the returned value is dropped.
pub fn temp_dir(name: &str) -> Scratch {
    Scratch(tempfile::Builder::new().prefix(&format!("xtask-test-{name}-")).tempdir().unwrap())
}

pub fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(from).unwrap();
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// A copy of the parts of the repository that gen reads and writes.
pub fn repo_copy(name: &str) -> Scratch {
    let root = repo_root();
    let dir = temp_dir(name);
    std::fs::copy(root.join("stack.toml"), dir.join("stack.toml")).unwrap();
    copy_dir(&root.join("infrastructure"), &dir.join("infrastructure"));
    copy_dir(&root.join("generated"), &dir.join("generated"));
    dir
}

/// `git args` in `dir`, as a test user that signs nothing; fails the test on an error.
pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
}

/// `dir` made a git repository whose branch `main` holds everything in it, as one commit.
pub fn commit_as_main(dir: &Path) {
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "base"]);
}

/// The xtask binary, run on `root`.
pub fn xtask(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xtask")).args(args).arg("--root").arg(root).output().unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A real validator by name, from PATH or /opt/validators/bin. When it is missing the test says
/// so and skips, unless REQUIRE_VALIDATORS=1, where a missing tool fails the test.
pub fn validator(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    dirs.push(PathBuf::from("/opt/validators/bin"));
    if let Some(found) = dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file()) {
        return Some(found);
    }
    // Terraform comes from no package registry reachable here: .ci/run sets REQUIRE_TERRAFORM=0
    // (and says so) on a machine without it; the GitHub workflow always runs it.
    let required =
        std::env::var("REQUIRE_VALIDATORS").as_deref() == Ok("1") && !(name == "terraform" && std::env::var("REQUIRE_TERRAFORM").as_deref() == Ok("0"));
    if required {
        panic!(
            "{name} is required (REQUIRE_VALIDATORS=1) but not installed: run .ci/install-validators.sh (Debian, as root) or .github/scripts/install-validators.sh (Ubuntu, GitHub runners) and put /opt/validators/bin (or the prefix's bin/) on PATH"
        );
    }
    skipped(&format!("{name} is not installed; this check did not run (set REQUIRE_VALIDATORS=1 to make it fail)"));
    None
}

/// One line on the test process's real stderr, past the harness's capture: `cargo test` shows
/// it even when the test passes (the harness shows `eprintln!` output only for a failure).
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// A check that did not run, said where `cargo test` shows it: `SKIPPED: <test>: <why>`.
pub fn skipped(why: &str) {
    let test = std::thread::current().name().unwrap_or("a test").to_string();
    say(&format!("SKIPPED: {test}: {why}"));
}

/// Whether the exhaustive loops run in full: `XTASK_EXHAUSTIVE=1` (set by .ci/run). Without it
/// they run a bounded sample and say so ([`sampled`]).
pub fn exhaustive() -> bool {
    std::env::var("XTASK_EXHAUSTIVE").as_deref() == Ok("1")
}

/// Says that a loop ran `ran` of its `all` cases, where `cargo test` shows it.
pub fn sampled(what: &str, ran: usize, all: usize) {
    if ran < all {
        let test = std::thread::current().name().unwrap_or("a test").to_string();
        say(&format!("SAMPLED: {test}: {what}: {ran} of {all} (XTASK_EXHAUSTIVE=1 runs them all, as .ci/run does)"));
    }
}

/// Writes a rendered tree into a fresh directory, for validators that read files.
pub fn materialize(tree: &Tree, name: &str) -> Scratch {
    let dir = temp_dir(name);
    for (path, bytes) in tree.files() {
        let dest = dir.join(path);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(dest, bytes).unwrap();
    }
    dir
}

/// Runs a validator; panics with its output when it fails.
pub fn run_ok(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(out.status.success(), "{what} failed:\n{}\n{}", text(&out.stdout), text(&out.stderr));
}

/// With `XTASK_RULES_HIT=<file>` (set by bad_corpus.rs's rule-coverage check when it runs the
/// cases of bad_input.rs), appends the rule id (`file:line`) of each problem of `report` to it.
pub fn record_rules(report: &xtask::stack::diag::Report) {
    use std::io::Write;
    if let Some(path) = std::env::var_os("XTASK_RULES_HIT") {
        let ids: String = report.lines.iter().map(|(_, _, p)| format!("{}:{}\n", p.rule.file().replace('\\', "/"), p.rule.line())).collect();
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        file.write_all(ids.as_bytes()).unwrap();
    }
}
