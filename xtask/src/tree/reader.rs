//! Reads many files of one tree with few system calls: each file is opened relative to its
//! directory, which stays open while the files asked for are in it (callers read in walk order;
//! a directory is opened at its third file),
//! read into one buffer that the reader keeps (no allocation, no page faults per file), with no
//! `stat` (the caller knows the size to expect). One directory open at a time: a table of
//! thousands of descriptors would make the kernel grow it, which a threaded process pays dearly
//! for. On other systems than Unix it reads as `std::fs::read` does.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

/// A reader of files under `root`, for one thread.
pub struct Reader {
    root: PathBuf,
    /// The directory of the last file read (relative to `root`, "" is root), how many of its
    /// files were asked for in a row, and the directory itself from the third one on.
    #[cfg(unix)]
    dir: Option<(String, usize, Option<File>)>,
    buf: Vec<u8>,
}

impl Reader {
    pub fn new(root: &Path) -> Reader {
        Reader {
            root: root.to_path_buf(),
            #[cfg(unix)]
            dir: None,
            buf: Vec::new(),
        }
    }

    /// The bytes of the file at `rel` (`/`-separated), `None` when there is none; `expected` is
    /// the size it probably has (any size is read whole, in more reads when it is larger). The
    /// bytes live until the next read.
    pub fn read(&mut self, rel: &str, expected: usize) -> std::io::Result<Option<&[u8]>> {
        let Some(mut file) = self.open(rel)? else { return Ok(None) };
        // Room for one byte more than expected (and at least 16 KiB, which costs nothing once
        // the buffer is that large): a read that fills it is not at the end yet.
        let mut filled = 0;
        let mut want = (expected + 1).max(16 << 10);
        loop {
            if self.buf.len() < want {
                self.buf.resize(want, 0);
            }
            match file.read(&mut self.buf[filled..want]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            if filled == want {
                want = want * 2 + 4096;
            }
        }
        Ok(Some(&self.buf[..filled]))
    }

    /// The file at `rel`: the first two files of a directory are opened by their whole path;
    /// from the third one on, the directory is opened and each file relative to it (a directory
    /// of one or two files, `agents/<vm>/`, is not worth an open of its own).
    #[cfg(unix)]
    fn open(&mut self, rel: &str) -> std::io::Result<Option<File>> {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        let by_path = |root: &Path| match File::open(root.join(rel)) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        };
        let seen = match &self.dir {
            Some((same, seen, _)) if same == dir => *seen,
            _ => 0,
        };
        if seen < 2 {
            self.dir = Some((dir.to_string(), seen + 1, None));
            return by_path(&self.root);
        }
        if let Some((_, _, opened @ None)) = &mut self.dir {
            match File::open(self.root.join(dir)) {
                Ok(d) => *opened = Some(d),
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        let Some((_, _, Some(dir_fd))) = &self.dir else { return by_path(&self.root) };
        let name = std::ffi::CString::new(name).map_err(|e| std::io::Error::new(ErrorKind::InvalidInput, e))?;
        let fd = loop {
            // SAFETY: openat with a directory descriptor we own and a NUL-terminated name; the
            // returned descriptor, when valid, is owned by nobody else.
            let fd = unsafe { libc::openat(dir_fd.as_raw_fd(), name.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
            if fd >= 0 {
                break fd;
            }
            let err = std::io::Error::last_os_error();
            match err.kind() {
                ErrorKind::Interrupted => continue,
                ErrorKind::NotFound => return Ok(None),
                _ => return Err(err),
            }
        };
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        Ok(Some(File::from(unsafe { OwnedFd::from_raw_fd(fd) })))
    }

    #[cfg(not(unix))]
    fn open(&mut self, rel: &str) -> std::io::Result<Option<File>> {
        match File::open(self.root.join(rel)) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_whole_files_of_any_size_and_none_for_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.path().join("a/b/big"), &big).unwrap();
        std::fs::write(dir.path().join("top"), b"top").unwrap();
        let mut r = Reader::new(dir.path());
        for expected in [0, 10, 99_999, 100_000, 100_001, 1_000_000] {
            assert_eq!(r.read("a/b/big", expected).unwrap(), Some(big.as_slice()), "expected {expected}");
        }
        assert_eq!(r.read("top", 3).unwrap(), Some(&b"top"[..]));
        assert_eq!(r.read("top", 0).unwrap(), Some(&b"top"[..]), "shorter than the buffer left by a bigger file");
        assert_eq!(r.read("a/b/missing", 3).unwrap(), None);
        assert_eq!(r.read("nowhere/x", 3).unwrap(), None);
        assert!(r.read("a", 3).is_err(), "a directory is not a file");
    }
}
