//! Directory walks: every file under a folder as a `/`-separated relative path, depth first,
//! each directory's entries sorted by name (byte order), one `read_dir` per directory. The file
//! types come from the directory entries; only a symlink followed on purpose costs a `stat`.

use std::ffi::OsString;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// What a walk does with a symbolic link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Lists it as a file, whatever it points to, and never enters it (generated/).
    List,
    /// Follows it: a link to a file is that file, a link to a directory is walked (the templates
    /// folder, as a path loader would read it); a link that points nowhere, or back into a
    /// directory being walked, is an error.
    Follow,
}

/// Every file under `root` (a directory), relative to it, in walk order.
pub fn files(root: &Path, links: Links) -> Result<Vec<String>> {
    let mut out = Vec::new();
    walk(root, "", links, &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, rel: &str, links: Links, out: &mut Vec<String>) -> Result<()> {
    let listed = || format!("{}: cannot list", dir.display());
    let mut entries: Vec<(OsString, fs::FileType)> = Vec::new();
    for entry in fs::read_dir(dir).with_context(listed)? {
        let entry = entry.with_context(listed)?;
        let kind = entry.file_type().with_context(listed)?;
        entries.push((entry.file_name(), kind));
    }
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (name, kind) in entries {
        let text = name.to_string_lossy();
        let path = if rel.is_empty() { text.into_owned() } else { format!("{rel}/{text}") };
        let full = dir.join(&name);
        // What the entry is for this walk: (a file to list, a directory to enter). Anything
        // else (a socket, a fifo) is not a file anybody wrote.
        let (file, is_dir) = match (kind.is_symlink(), links) {
            (true, Links::List) => (true, false),
            (true, Links::Follow) => {
                let target = fs::metadata(&full).with_context(|| format!("{}: a link that points nowhere", full.display()))?;
                (target.is_file(), target.is_dir())
            }
            (false, _) => (kind.is_file(), kind.is_dir()),
        };
        if file {
            out.push(path);
            continue;
        }
        if !is_dir {
            continue;
        }
        if kind.is_symlink() {
            // A followed link to a directory: refuse one to this directory or above it.
            let resolve = |p: &Path| fs::canonicalize(p).with_context(|| format!("{}: cannot resolve", p.display()));
            let (target, here) = (resolve(&full)?, resolve(dir)?);
            if here.starts_with(&target) {
                bail!("{}: a link back into the folder being walked ({})", full.display(), target.display());
            }
        }
        walk(&full, &path, links, out)?;
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn walks_depth_first_in_name_order_and_lists_or_follows_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in ["b/z.txt", "b/a.txt", "a-c", "a/x", "c"] {
            let p = root.join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, f).unwrap();
        }
        std::os::unix::fs::symlink(root.join("b"), root.join("link")).unwrap();
        // Each level sorted by name, depth first: `a/x` before `a-c` although "a-c" < "a/x".
        assert_eq!(files(root, Links::List).unwrap(), ["a/x", "a-c", "b/a.txt", "b/z.txt", "c", "link"]);
        assert_eq!(files(root, Links::Follow).unwrap(), ["a/x", "a-c", "b/a.txt", "b/z.txt", "c", "link/a.txt", "link/z.txt"]);
        std::os::unix::fs::symlink(root, root.join("b/up")).unwrap();
        let err = format!("{:#}", files(root, Links::Follow).unwrap_err());
        assert!(err.contains("a link back into the folder being walked"), "{err}");
        assert_eq!(files(root, Links::List).unwrap().len(), 7, "a listed link is never entered");
        std::os::unix::fs::symlink(root.join("nowhere"), root.join("dangling")).unwrap();
        fs::remove_file(root.join("b/up")).unwrap();
        let err = format!("{:#}", files(root, Links::Follow).unwrap_err());
        assert!(err.contains("a link that points nowhere"), "{err}");
    }
}
