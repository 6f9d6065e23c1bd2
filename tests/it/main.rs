//! The integration tests, in one binary so that the library links once: one module per family
//! (each was its own test binary before; `cargo test --test it <module>::` runs one family),
//! the shared helpers in `common` and the live-test harness in `lab`.
//!
//! Snapshots keep the file names of that layout, `tests/snapshots/<module>__<name>.snap`: use
//! [`assert_snapshot!`] (below), never `insta::assert_snapshot!` directly (insta would name the
//! file `it__<module>__<name>.snap`; `every_snapshot_is_named_after_its_module` checks it).

/// `insta::assert_snapshot!(name, value)` with the snapshot file
/// `tests/snapshots/<module>__<name>.snap`, `<module>` being the calling module of this binary.
macro_rules! assert_snapshot {
    ($name:expr, $value:expr) => {{
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path($crate::common::repo_root().join("tests/snapshots"));
        settings.set_prepend_module_to_snapshot(false);
        let module = module_path!().rsplit("::").next().unwrap();
        let name = format!("{module}__{}", $name);
        settings.bind(|| insta::assert_snapshot!(name, $value));
    }};
}

mod common;
mod lab;

mod bad_corpus;
mod bad_input;
mod change_matrix;
mod cli;
mod determinism;
mod faults;
mod fuzz;
mod live;
mod logs;
mod plan_apply;
mod retired;
mod review;
mod review_lab;
mod security;
mod snapshots;
mod terraform;
mod tls;
mod tls_flow;
mod traefik;
mod uptime_kuma;
mod validators;
mod verify;
mod verify_live;
mod verify_tftest;
mod workflows;

/// Every snapshot goes through [`assert_snapshot!`], so that its file keeps its name.
#[test]
fn every_snapshot_is_named_after_its_module() {
    let root = common::repo_root();
    for entry in walkdir::WalkDir::new(root.join("tests/it")).sort_by_file_name() {
        let path = entry.unwrap().into_path();
        if path.extension().is_some_and(|x| x == "rs") && !path.ends_with("tests/it/main.rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(!text.contains(concat!("insta::", "assert_snapshot!")), "{}: use the binary's assert_snapshot! (tests/it/main.rs)", path.display());
        }
    }
    for entry in std::fs::read_dir(root.join("tests/snapshots")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with("it__"), "tests/snapshots/{name}: written by insta::assert_snapshot!; use the binary's assert_snapshot!");
    }
}
