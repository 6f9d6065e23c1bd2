//! Directory walks: every file under a folder as a `/`-separated relative path, depth first,
//! each directory's entries sorted by name (byte order), one `read_dir` per directory. The file
//! types come from the directory entries; only a symlink followed on purpose costs a `stat`.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

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

/// A file found by a walk.
pub struct Entry {
    /// Relative to the root, `/`-separated, each name as lossy UTF-8 (what the tree calls it).
    pub rel: String,
    /// The file itself (its real name, UTF-8 or not).
    pub path: PathBuf,
}

/// Every file under `root` (a directory), relative to it, in walk order.
pub fn files(root: &Path, links: Links) -> Result<Vec<String>> {
    Ok(entries(root, links)?.into_iter().map(|e| e.rel).collect())
}

/// [`files`], with each file's real path.
pub fn entries(root: &Path, links: Links) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    // The real directories on the way down, when links are followed: a link to one of them is a
    // loop (however many links it takes to come back).
    let mut above = Vec::new();
    if links == Links::Follow {
        above.push(fs::canonicalize(root).with_context(|| format!("{}: cannot resolve", root.display()))?);
    }
    walk(root, "", links, &mut above, &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, rel: &str, links: Links, above: &mut Vec<PathBuf>, out: &mut Vec<Entry>) -> Result<()> {
    let listed = || format!("{}: cannot list", dir.display());
    let mut entries: Vec<(OsString, fs::FileType)> = Vec::new();
    for entry in fs::read_dir(dir).with_context(listed)? {
        let entry = entry.with_context(listed)?;
        let kind = entry.file_type().with_context(listed)?;
        entries.push((entry.file_name(), kind));
    }
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (name, kind) in entries {
        // As walkdir's paths were: lossy UTF-8, `\\` read as a separator.
        let text = name.to_string_lossy().replace('\\', "/");
        let path = if rel.is_empty() { text } else { format!("{rel}/{text}") };
        let full = dir.join(&name);
        // What the entry is for this walk: (a file to list, a directory to enter). Anything
        // else (a socket, a fifo) is not a file anybody wrote.
        let (file, is_dir) = match (kind.is_symlink(), links) {
            (true, Links::List) => (true, false),
            (true, Links::Follow) => {
                let target = fs::metadata(&full).with_context(|| format!("{}: cannot follow the link", full.display()))?;
                (target.is_file(), target.is_dir())
            }
            (false, _) => (kind.is_file(), kind.is_dir()),
        };
        if file {
            out.push(Entry { rel: path, path: full });
            continue;
        }
        if !is_dir {
            continue;
        }
        if links == Links::Follow {
            let real = if kind.is_symlink() {
                let target = fs::canonicalize(&full).with_context(|| format!("{}: cannot resolve", full.display()))?;
                if above.contains(&target) {
                    bail!("{}: a link back into the folder being walked ({})", full.display(), target.display());
                }
                target
            } else {
                above.last().map_or_else(|| full.clone(), |parent| parent.join(&name))
            };
            above.push(real);
            walk(&full, &path, links, above, out)?;
            above.pop();
        } else {
            walk(&full, &path, links, above, out)?;
        }
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
        assert!(err.contains("dangling: cannot follow the link"), "{err}");
        fs::remove_file(root.join("dangling")).unwrap();
        // Two links that lead into each other's directory: a loop too.
        std::os::unix::fs::symlink("../a", root.join("b/to_a")).unwrap();
        std::os::unix::fs::symlink("../b", root.join("a/to_b")).unwrap();
        let err = format!("{:#}", files(root, Links::Follow).unwrap_err());
        assert!(err.contains("a link back into the folder being walked"), "{err}");
    }
}
