//! Golden snapshots of the whole generated tree, for the example stack and every fixture stack.

use crate::common;

#[test]
fn generated_trees_match_their_snapshots() {
    for (name, path) in common::fixture_stacks() {
        let tree = common::render_path(&path);
        assert_snapshot!(format!("tree-{name}"), common::flatten(&tree));
    }
}

#[test]
fn rendering_is_deterministic() {
    for (_, path) in common::fixture_stacks() {
        assert_eq!(common::render_path(&path), common::render_path(&path));
    }
}

#[test]
fn nothing_of_the_example_lab_is_hard_coded_in_templates() {
    let templates = common::repo_root().join("infrastructure/templates");
    for entry in walkdir::WalkDir::new(&templates) {
        let entry = entry.unwrap();
        if !entry.file_type().is_file() {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        for needle in ["home.lan", "192.168.", "pve-mon", "prod-alloc", "prod-blog", "-1001234567890"] {
            assert!(!text.contains(needle), "{} hard-codes `{needle}`", entry.path().display());
        }
    }
}
