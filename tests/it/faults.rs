//! Faults around generated/, where tree.rs is the only code that writes: a gen that fails
//! halfway, a generated/ that cannot be written, two gens at once, a manifest edited or deleted
//! by hand. In every case nothing foreign is lost and the next gen repairs the tree.

use crate::common;

use std::fs;
use std::io;
use std::path::Path;
use std::sync::{Arc, Barrier};

use common::{repo_copy, text, xtask};
use xtask::tree::{self, Class, Tree};

fn example() -> Tree {
    common::render_path(&common::repo_root().join("stack.toml"))
}

/// The example with a changed retention: the same files, some with other bytes.
fn changed() -> Tree {
    let src = fs::read_to_string(common::repo_root().join("stack.toml")).unwrap().replace("retention_days = 15", "retention_days = 30");
    common::render(&common::project().parse("stack.toml", src.as_bytes()).unwrap())
}

/// `tree` plus one file that a later tree no longer makes.
fn with_old_file(tree: &Tree) -> Tree {
    let mut t = tree.clone();
    t.insert("compose/old/stale.yml", "a: 1\n").unwrap();
    t
}

/// Every file under `dir`, relative, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.unwrap();
        if e.file_type().is_file() {
            out.push((e.path().strip_prefix(dir).unwrap().to_string_lossy().into_owned(), fs::read(e.path()).unwrap()));
        }
    }
    out
}

fn put_real(path: &Path, bytes: &[u8]) -> io::Result<()> {
    fs::write(path, bytes)
}

#[test]
fn a_gen_that_fails_after_n_files_is_repaired_by_the_next_and_keeps_foreign_files() {
    let (old, new) = (with_old_file(&example()), changed());
    // How many files a complete write of `new` over `old` puts: the bound of the loop.
    let calls = {
        let dir = common::temp_dir("count");
        tree::write(&old, &dir).unwrap();
        let mut n = 0;
        tree::write_with(&new, &dir, &mut |p, b| {
            n += 1;
            put_real(p, b)
        })
        .unwrap();
        n
    };
    assert!(calls >= 3, "the change touches too few files ({calls}) to test anything");
    for fail_at in 0..calls {
        let dir = common::temp_dir(&format!("halfway-{fail_at}"));
        tree::write(&old, &dir).unwrap();
        fs::write(dir.join("NOTES.md"), "mine").unwrap();
        fs::create_dir_all(dir.join("compose/old")).unwrap();
        fs::write(dir.join("compose/old/keep-me.txt"), "mine too").unwrap();
        let mut n = 0;
        let err = tree::write_with(&new, &dir, &mut |p, b| {
            n += 1;
            if n > fail_at { Err(io::Error::other("disk full (simulated)")) } else { put_real(p, b) }
        })
        .expect_err("the write was told to fail");
        let msg = format!("{err:#}");
        assert!(msg.contains("cannot write") && msg.contains("disk full (simulated)"), "fail_at {fail_at}: {msg}");
        // Halfway: every file is an old or a new version, never something else.
        for (path, bytes) in files(&dir) {
            let known = old.get(&path) == Some(&bytes[..]) || new.get(&path) == Some(&bytes[..]) || path == tree::MANIFEST || tree::is_working_file(&path);
            assert!(known || path == "NOTES.md" || path == "compose/old/keep-me.txt", "fail_at {fail_at}: {path} is neither old nor new");
        }
        // check sees the damage; it does not error.
        assert!(!tree::drift(&new, &dir).unwrap().is_empty() || fail_at + 1 >= calls);
        // The next gen repairs everything and removes the stale file, and only that.
        tree::write(&new, &dir).unwrap();
        let drift = tree::drift(&new, &dir).unwrap();
        let extra: Vec<&str> = drift.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(extra, ["NOTES.md", "compose/old/keep-me.txt"], "fail_at {fail_at}");
        assert!(drift.iter().all(|d| d.class == Class::Extra));
        assert_eq!(fs::read_to_string(dir.join("NOTES.md")).unwrap(), "mine");
        assert_eq!(fs::read_to_string(dir.join("compose/old/keep-me.txt")).unwrap(), "mine too");
        assert!(!dir.join("compose/old/stale.yml").exists(), "fail_at {fail_at}: the stale file survived the repair");
    }
}

#[test]
fn a_generated_path_that_is_a_file_is_named_in_the_error() {
    let dir = common::temp_dir("not-a-dir");
    let generated = dir.join("generated");
    fs::write(&generated, "not a directory").unwrap();
    for err in [tree::write(&example(), &generated).unwrap_err(), tree::drift(&example(), &generated).unwrap_err()] {
        let msg = format!("{err:#}");
        assert!(msg.contains(&generated.display().to_string()) && msg.contains("is not a directory"), "{msg}");
    }
    assert_eq!(fs::read_to_string(&generated).unwrap(), "not a directory", "the file was touched");
}

#[test]
fn an_unwritable_generated_dir_is_named_in_the_error() {
    // Root ignores permission bits, so use places no one can write: under /proc, and a
    // directory whose sub-path is a regular file.
    let under_proc = Path::new("/proc/xtask-no-such-dir/generated");
    let msg = format!("{:#}", tree::write(&example(), under_proc).unwrap_err());
    assert!(msg.contains("/proc/xtask-no-such-dir/generated") && msg.contains("cannot create"), "{msg}");

    let dir = common::temp_dir("blocked");
    fs::write(dir.join("compose"), "a file where gen wants a directory").unwrap();
    let msg = format!("{:#}", tree::write(&example(), &dir).unwrap_err());
    assert!(msg.contains(&dir.join("compose").display().to_string()), "{msg}");
    assert_eq!(fs::read_to_string(dir.join("compose")).unwrap(), "a file where gen wants a directory");
}

#[test]
fn the_binary_names_a_generated_file_in_gen_and_check() {
    let root = repo_copy("gen-file");
    fs::remove_dir_all(root.join("generated")).unwrap();
    fs::write(root.join("generated"), "oops").unwrap();
    for cmd in ["gen", "check"] {
        let out = xtask(&root, &[cmd]);
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(err.contains(&root.join("generated").display().to_string()) && err.contains("is not a directory"), "{cmd}: {err}");
    }
}

#[test]
fn a_held_lock_stops_gen_with_a_clear_message() {
    let dir = common::temp_dir("held");
    tree::write(&example(), &dir).unwrap();
    let lock = fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(".xtask.lock")).unwrap();
    lock.try_lock().unwrap();
    let before = files(&dir);
    let msg = format!("{:#}", tree::write(&changed(), &dir).unwrap_err());
    assert!(msg.contains("another `cargo xtask gen` is running"), "{msg}");
    assert_eq!(files(&dir), before, "a refused gen wrote something");
    drop(lock);
    tree::write(&changed(), &dir).unwrap();
    assert!(tree::drift(&changed(), &dir).unwrap().is_empty());
}

#[test]
fn a_held_lock_stops_the_binary_too() {
    let root = repo_copy("held-bin");
    let lock = fs::OpenOptions::new().create(true).truncate(false).write(true).open(root.join("generated/.xtask.lock")).unwrap();
    lock.try_lock().unwrap();
    let out = xtask(&root, &["gen"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("another `cargo xtask gen` is running"), "{}", text(&out.stderr));
    // check ignores the lock file, so it still passes.
    assert!(xtask(&root, &["check"]).status.success());
}

#[test]
fn concurrent_gens_never_corrupt_the_tree() {
    let trees = Arc::new([with_old_file(&example()), changed(), example()]);
    let dir = common::temp_dir("concurrent");
    let mut refused = 0;
    for round in 0..15 {
        let barrier = Arc::new(Barrier::new(4));
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let (trees, dir, barrier) = (trees.clone(), dir.to_path_buf(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let which = (round + t) % trees.len();
                    (which, tree::write(&trees[which], &dir).map_err(|e| format!("{e:#}")))
                })
            })
            .collect();
        let results: Vec<(usize, Result<tree::Summary, String>)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        for (_, r) in &results {
            if let Err(e) = r {
                assert!(e.contains("another `cargo xtask gen` is running"), "round {round}: {e}");
                refused += 1;
            }
        }
        assert!(results.iter().any(|(_, r)| r.is_ok()), "round {round}: every gen failed");
        // The tree on disk is exactly one of the trees that was written, manifest included.
        let consistent = results.iter().filter(|(_, r)| r.is_ok()).any(|(w, _)| tree::drift(&trees[*w], &dir).unwrap().is_empty());
        assert!(consistent, "round {round}: the tree on disk is none of the written trees");
    }
    eprintln!("concurrent gens: {refused} of 60 refused by the lock");
}

#[test]
fn concurrent_binaries_never_corrupt_the_tree() {
    let root = repo_copy("concurrent-bin");
    fs::remove_dir_all(root.join("generated")).unwrap();
    let spawn = || std::process::Command::new(env!("CARGO_BIN_EXE_xtask")).args(["gen", "--root"]).arg(&root).output();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = s.spawn(spawn);
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    for out in [&a, &b] {
        assert!(out.status.success() || text(&out.stderr).contains("another `cargo xtask gen` is running"), "{}", text(&out.stderr));
    }
    assert!(a.status.success() || b.status.success());
    let check = xtask(&root, &["check"]);
    assert!(check.status.success(), "{}{}", text(&check.stdout), text(&check.stderr));
}

#[test]
fn a_deleted_manifest_makes_gen_keep_what_it_no_longer_knows_it_owns() {
    let dir = common::temp_dir("no-manifest");
    tree::write(&with_old_file(&example()), &dir).unwrap();
    fs::remove_file(dir.join(tree::MANIFEST)).unwrap();
    tree::write(&changed(), &dir).unwrap();
    assert!(dir.join("compose/old/stale.yml").exists(), "gen deleted a file it no longer knew it owned");
    let drift = tree::drift(&changed(), &dir).unwrap();
    assert_eq!(drift.len(), 1, "{:?}", drift.iter().map(|d| &d.path).collect::<Vec<_>>());
    assert_eq!((drift[0].path.as_str(), drift[0].class), ("compose/old/stale.yml", Class::Extra));
}

#[test]
fn a_mangled_manifest_never_deletes_outside_or_foreign_files() {
    let parent = common::temp_dir("mangled");
    let dir = parent.join("generated");
    tree::write(&with_old_file(&example()), &dir).unwrap();
    let outside = parent.join("outside");
    fs::write(&outside, "precious\n").unwrap();
    let abs = parent.join("abs.txt");
    fs::write(&abs, "precious\n").unwrap();
    fs::write(dir.join("foreign.txt"), "mine\n").unwrap();
    let hash = tree::sha256_hex(b"precious\n");
    let mine = tree::sha256_hex(b"mine\n");
    let mut manifest = fs::read_to_string(dir.join(tree::MANIFEST)).unwrap();
    manifest.push_str(&format!(
        "{hash}  ../outside\n{hash}  {}\n{hash}  compose/../../outside\nnot a manifest line\n{mine} foreign.txt\nzz{}  foreign.txt\n\n",
        abs.display(),
        &mine[2..]
    ));
    fs::write(dir.join(tree::MANIFEST), manifest).unwrap();
    let read = tree::read_manifest(&dir);
    assert!(read.keys().all(|p| tree::check_relative(p).is_ok() && p != "foreign.txt"), "{:?}", read.keys().collect::<Vec<_>>());
    tree::write(&changed(), &dir).unwrap();
    assert_eq!(fs::read_to_string(&outside).unwrap(), "precious\n");
    assert_eq!(fs::read_to_string(&abs).unwrap(), "precious\n");
    assert_eq!(fs::read_to_string(dir.join("foreign.txt")).unwrap(), "mine\n");
    assert!(!dir.join("compose/old/stale.yml").exists(), "the well-formed lines still own the stale file");
    let drift = tree::drift(&changed(), &dir).unwrap();
    assert_eq!(drift.iter().map(|d| (d.path.as_str(), d.class)).collect::<Vec<_>>(), [("foreign.txt", Class::Extra)]);
}

/// A disk that loses power at the first sync of written files: every put lands, the sync fails.
struct PowerCut {
    events: Vec<String>,
}

impl tree::Writer for PowerCut {
    fn put(&mut self, path: &Path, contents: &[u8]) -> io::Result<()> {
        self.events.push(format!("put {}", path.file_name().unwrap().to_string_lossy()));
        put_real(path, contents)
    }

    fn sync(&mut self, _root: &Path, written: &[std::path::PathBuf]) -> io::Result<()> {
        if written.iter().any(|p| !p.ends_with(tree::MANIFEST)) {
            self.events.push("sync files (fails)".into());
            return Err(io::Error::other("power lost (simulated)"));
        }
        self.events.push("sync manifest".into());
        Ok(())
    }
}

#[test]
fn a_crash_between_the_files_and_the_manifest_leaves_no_manifest_vouching_for_them() {
    for (name, old) in [("over-old", Some(with_old_file(&example()))), ("into-empty", None)] {
        let new = changed();
        let dir = common::temp_dir(&format!("power-cut-{name}"));
        if let Some(old) = &old {
            tree::write(old, &dir).unwrap();
        }
        let mut disk = PowerCut { events: Vec::new() };
        let msg = format!("{:#}", tree::write_io(&new, &dir, &mut disk).unwrap_err());
        assert!(msg.contains("cannot make the written files durable") && msg.contains("power lost (simulated)"), "{name}: {msg}");
        // The order: intent manifest (synced), the files, the failed sync, and no manifest after.
        let manifest = format!("put {}", tree::MANIFEST);
        assert_eq!(disk.events[..2], [manifest.clone(), "sync manifest".to_string()], "{name}: {:?}", disk.events);
        assert_eq!(disk.events.last().unwrap(), "sync files (fails)", "{name}: {:?}", disk.events);
        assert_eq!(disk.events.iter().filter(|e| **e == manifest).count(), 1, "{name}: the final manifest was written: {:?}", disk.events);
        // Every hash the manifest on disk records is that of the bytes on disk; what was being
        // written is listed as in flight, owned and vouched for by nothing.
        let recorded = tree::read_manifest(&dir);
        let mut in_flight = 0;
        for (path, hash) in &recorded {
            if hash == tree::IN_FLIGHT {
                in_flight += 1;
                assert!(old.as_ref().and_then(|o| o.get(path)) != new.get(path), "{name}: {path} was not written, yet in flight");
                continue;
            }
            if new.get(path).is_none() && !dir.join(path).exists() {
                continue; // a stale file, removed: owned until the final manifest, vouched by none
            }
            let bytes = fs::read(dir.join(path)).unwrap_or_else(|e| panic!("{name}: {path}: {e}"));
            assert_eq!(&tree::sha256_hex(&bytes), hash, "{name}: the manifest vouches for bytes of {path} that are not on disk");
        }
        assert!(in_flight > 0, "{name}: nothing was in flight");
        // So check does not pass, the parse-back skips none of the written files, and the next
        // gen repairs the tree.
        let on_disk = tree::OnDisk::read(&new, &dir).unwrap();
        assert!(on_disk.vouched(&new).values().all(|h| h != tree::IN_FLIGHT), "{name}");
        assert!(!on_disk.drift(&new).is_empty(), "{name}: check passed after a crash before the manifest");
        tree::write(&new, &dir).unwrap();
        assert!(tree::drift(&new, &dir).unwrap().is_empty(), "{name}: the next gen did not repair the tree");
        assert!(!dir.join("compose/old/stale.yml").exists(), "{name}: the stale file survived the repair");
    }
}

/// Records what a gen puts and syncs, on the real disk.
struct Recorder {
    events: Vec<String>,
}

impl tree::Writer for Recorder {
    fn put(&mut self, path: &Path, contents: &[u8]) -> io::Result<()> {
        self.events.push(format!("put {}", path.file_name().unwrap().to_string_lossy()));
        put_real(path, contents)
    }

    fn sync(&mut self, root: &Path, written: &[std::path::PathBuf]) -> io::Result<()> {
        let mut names: Vec<String> = written.iter().map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned()).collect();
        names.sort();
        self.events.push(format!("sync {}", names.join(" ")));
        Ok(())
    }

    fn sync_manifest(&mut self, _root: &Path, path: &Path) -> io::Result<()> {
        self.events.push(format!("sync manifest {}", path.file_name().unwrap().to_string_lossy()));
        Ok(())
    }
}

/// The files a gen that stopped before its sync left on disk are right, so the next gen does not
/// write them; its final manifest vouches for them anew, so it syncs them first (one sync per
/// gen, the manifests fsynced on their own).
#[test]
fn files_left_unsynced_by_a_stopped_gen_are_synced_before_a_manifest_vouches_for_them() {
    let (old, new) = (with_old_file(&example()), changed());
    let dir = common::temp_dir("unsynced-then-repaired");
    tree::write(&old, &dir).unwrap();
    assert!(tree::write_io(&new, &dir, &mut PowerCut { events: Vec::new() }).is_err());
    let in_flight: Vec<String> = tree::read_manifest(&dir).into_iter().filter(|(_, h)| h == tree::IN_FLIGHT).map(|(p, _)| p).collect();
    assert!(!in_flight.is_empty());
    let mut disk = Recorder { events: Vec::new() };
    let summary = tree::write_io(&new, &dir, &mut disk).unwrap();
    assert!(summary.created.is_empty() && summary.updated.is_empty(), "the files were already right: {summary:?}");
    let manifest = format!("put {}", tree::MANIFEST);
    let last_put = disk.events.iter().rposition(|e| *e == manifest).expect("the final manifest is written");
    let synced = disk.events[..last_put]
        .iter()
        .find(|e| e.starts_with("sync ") && !e.starts_with("sync manifest"))
        .unwrap_or_else(|| panic!("no sync before the manifest: {:?}", disk.events));
    for path in &in_flight {
        assert!(synced.split(' ').any(|p| p == path), "{path} is vouched for without a sync: {:?}", disk.events);
    }
    assert_eq!(disk.events.last().unwrap(), &format!("sync manifest {}", tree::MANIFEST), "{:?}", disk.events);
    assert!(tree::drift(&new, &dir).unwrap().is_empty());
}
