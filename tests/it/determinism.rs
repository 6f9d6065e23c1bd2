//! The same stack.toml gives the same bytes whatever the environment of the run: time zone,
//! locale, working directory, and the process's random hash seed.
//!
//! The hash seed cannot matter: every map that reaches an output is a BTreeMap (sorted by key),
//! and the sources hold no HashMap or HashSet (a test below keeps it so).

use crate::common;

use std::path::Path;
use std::process::Command;

fn gen_in(root: &Path, envs: &[(&str, &str)], cwd: &Path) -> Vec<(String, Vec<u8>)> {
    let _ = std::fs::remove_dir_all(root.join("generated"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(["gen", "--root"]).arg(root).current_dir(cwd);
    for var in ["TZ", "LC_ALL", "LANG", "LC_TIME", "LC_NUMERIC"] {
        cmd.env_remove(var);
    }
    cmd.envs(envs.iter().copied());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", common::text(&out.stderr));
    let mut files = Vec::new();
    for e in walkdir::WalkDir::new(root.join("generated")).sort_by_file_name() {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e.path().strip_prefix(root).unwrap().to_string_lossy().into_owned();
            files.push((rel, std::fs::read(e.path()).unwrap()));
        }
    }
    files
}

#[test]
fn gen_gives_the_same_bytes_under_other_time_zones_locales_and_working_directories() {
    let (a, b) = (common::repo_copy("det-a"), common::repo_copy("det-b"));
    let first = gen_in(&a, &[("TZ", "UTC"), ("LC_ALL", "C"), ("LANG", "C")], &a);
    let second = gen_in(&b, &[("TZ", "Pacific/Kiritimati"), ("LC_ALL", "tr_TR.UTF-8"), ("LANG", "de_DE.UTF-8"), ("LC_NUMERIC", "fr_FR.UTF-8")], Path::new("/"));
    let third = gen_in(&b, &[("TZ", "America/St_Johns")], &std::env::temp_dir());
    assert!(first.len() > 3, "gen wrote almost nothing");
    let names = |f: &[(String, Vec<u8>)]| f.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    assert_eq!(names(&first), names(&second));
    for ((path, x), (_, y)) in first.iter().zip(&second) {
        assert!(x == y, "{path} differs between the two runs");
    }
    assert_eq!(first, third);
    // And the committed tree is those same bytes.
    let committed: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(common::repo_root().join("generated"))
        .sort_by_file_name()
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file() && !xtask::tree::is_working_file(&e.path().to_string_lossy()))
        .map(|e| (e.path().strip_prefix(common::repo_root()).unwrap().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    assert_eq!(names(&committed), names(&first));
    assert!(committed == first, "the committed generated/ differs from a fresh gen: run `cargo xtask gen`");
}

#[test]
fn no_hash_map_can_reorder_an_output() {
    let src = common::repo_root().join("xtask/src");
    for e in walkdir::WalkDir::new(src) {
        let e = e.unwrap();
        if e.path().extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(e.path()).unwrap();
            for word in ["HashMap", "HashSet"] {
                assert!(!text.contains(word), "{} uses {word}: its iteration order depends on the hash seed; use a BTreeMap/BTreeSet", e.path().display());
            }
        }
    }
}

/// The file-length rule of `cargo xtask tidy`, on the repository: no file of xtask/src is over
/// 600 lines. And the rule itself bites: a file one line over is named, one at the limit is not.
#[test]
fn no_file_of_xtask_src_is_over_600_lines() {
    use xtask::tidy_cmd::{MAX_LINES, long_files};
    let long = long_files(&common::repo_root().join("xtask/src"), MAX_LINES).unwrap();
    assert!(long.is_empty(), "over {MAX_LINES} lines (split them by topic): {long:?}");
    let dir = tempfile::TempDir::new().unwrap();
    std::fs::create_dir_all(dir.path().join("a")).unwrap();
    std::fs::write(dir.path().join("a/over.rs"), "x\n".repeat(MAX_LINES + 1)).unwrap();
    std::fs::write(dir.path().join("at.rs"), "x\n".repeat(MAX_LINES)).unwrap();
    std::fs::write(dir.path().join("not-rust.txt"), "x\n".repeat(MAX_LINES + 1)).unwrap();
    assert_eq!(long_files(dir.path(), MAX_LINES).unwrap(), [("a/over.rs".to_string(), MAX_LINES + 1)]);
}

/// tidy's hash-order rule finds what the test above looks for.
#[test]
fn tidy_names_a_file_with_a_hash_ordered_container() {
    let dir = tempfile::TempDir::new().unwrap();
    std::fs::write(dir.path().join("ok.rs"), "use std::collections::BTreeMap;\n").unwrap();
    std::fs::write(dir.path().join("bad.rs"), format!("use std::collections::{}{};\n", "Hash", "Set")).unwrap();
    let found = xtask::tidy_cmd::hash_ordered(dir.path()).unwrap();
    assert_eq!(found, [("bad.rs".to_string(), concat!("Hash", "Set"))]);
    assert!(xtask::tidy_cmd::hash_ordered(&common::repo_root().join("xtask/src")).unwrap().is_empty());
}

/// check compiles each family's templates while it parses the stack (`Renderers::compile`, from
/// a hint of which family renders which template): for every fixture, the render then has
/// nothing left to compile, and renders what a render compiling on first use renders.
#[test]
fn the_templates_compiled_ahead_are_all_the_render_needs() {
    let project = common::project();
    let templates = project.read_templates().unwrap();
    for (name, path) in common::fixture_stacks() {
        let stack = common::load(&path);
        let renderers = xtask::targets::Renderers::new(&templates);
        renderers.compile(&templates);
        let ahead = renderers.compiled();
        assert!(ahead.iter().all(|family| !family.is_empty()), "{name}: a family compiled nothing: {ahead:?}");
        let tree = xtask::targets::render_prepared(&stack, &renderers).unwrap();
        assert_eq!(renderers.compiled(), ahead, "{name}: the render compiled templates the hint did not give its family");
        assert_eq!(tree, xtask::targets::render_with(&stack, &templates).unwrap(), "{name}");
    }
}
