//! The same stack.toml gives the same bytes whatever the environment of the run: time zone,
//! locale, working directory, and the process's random hash seed.
//!
//! The hash seed cannot matter: every map that reaches an output is a BTreeMap (sorted by key),
//! and the sources hold no HashMap or HashSet (a test below keeps it so).

mod common;

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
