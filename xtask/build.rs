//! Build-time identity of the tool (`XTASK_BUILD_ID`): a hash of every source file of xtask, its
//! Cargo.toml, the workspace's Cargo.toml and Cargo.lock (which pin every dependency) and the
//! compiler's version. The render memo (src/memo.rs) is keyed on it, so a memo made by one build
//! is never trusted by another.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let here = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut inputs = vec![here.join("build.rs"), here.join("Cargo.toml"), here.join("../Cargo.toml"), here.join("../Cargo.lock")];
    files(&here.join("src"), &mut inputs);
    inputs.sort();
    for path in ["build.rs", "Cargo.toml", "../Cargo.toml", "../Cargo.lock", "src"] {
        println!("cargo:rerun-if-changed={path}");
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = std::process::Command::new(rustc).arg("-vV").output().map(|o| o.stdout).unwrap_or_default();
    // 128 bits from two SipHash states with different prefixes (std's DefaultHasher::new is
    // fixed-keyed): this tells builds apart; it is not a defence against someone who can edit
    // the sources, who owns the tool anyway.
    let mut id = String::new();
    for salt in ["xtask build id: a", "xtask build id: b"] {
        let mut h = std::hash::DefaultHasher::new();
        salt.hash(&mut h);
        version.hash(&mut h);
        for path in &inputs {
            path.strip_prefix(&here).unwrap_or(path).hash(&mut h);
            std::fs::read(path).unwrap_or_default().hash(&mut h);
        }
        id.push_str(&format!("{:016x}", h.finish()));
    }
    println!("cargo:rustc-env=XTASK_BUILD_ID={id}");
}
