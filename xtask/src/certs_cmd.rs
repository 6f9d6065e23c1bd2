//! `cargo xtask certs init` and gen's renewal step: the only code that reads the CA key and
//! writes keys (mode 0600, outside generated/) and the committed certificates of `tls.certs_dir`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cli::Certs;
use crate::project::Project;
use crate::stack::Stack;
use crate::tls::{self, Decision, Reason};

/// Now, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// `cargo xtask certs init [--force]` (`init`, the only subcommand, is checked by the parser).
pub fn run(project: &Project, args: &Certs) -> Result<()> {
    init(project, args.force)
}

/// Makes the lab's CA: its key at `tls.ca_key` (0600), its certificate at `<certs_dir>/ca.crt`.
fn init(project: &Project, force: bool) -> Result<()> {
    let stack = project.load()?;
    let t = &stack.tls;
    if !t.enabled {
        bail!("stack.toml: tls.enabled is false, so the lab has no CA to make\n  hint: set `[tls] enabled = true` first");
    }
    let key_path = key_file(&project.root, &t.ca_key, &t.leaf_key)?;
    let cert_rel = format!("{}/ca.crt", t.certs_dir);
    if !force {
        if key_path.exists() {
            bail!(
                "{}: a CA key already exists; refusing to replace it\n  hint: `cargo xtask certs init --force` makes a new CA, which every device must then import again",
                t.ca_key
            );
        }
        if t.certs.ca.is_some() {
            bail!(
                "{cert_rel}: the repository already has a CA, but its key is not at {}\n  hint: {}",
                t.ca_key,
                replace_ca_hint(t, "if you have this CA's key, put it there instead")
            );
        }
    }
    let ca = tls::new_ca(&stack.domain, now())?;
    write_private(&key_path, &ca.key_pem)?;
    write_public(&project.root.join(&cert_rel), &ca.cert_pem)?;
    println!(
        "certs: made the CA `{}` (name-constrained to {}): key {} (mode 0600, never commit it), certificate {cert_rel}",
        tls::ca_common_name(&stack.domain),
        stack.domain,
        t.ca_key
    );
    println!(
        "certs: now run `cargo xtask gen` (it issues the leaf), commit {}/ and generated/, and import {cert_rel} on your devices (docs/tls.md)",
        t.certs_dir
    );
    Ok(())
}

/// The one fix when the lab's CA cannot issue what the stack needs (its key is not here, or it
/// vouches for another domain): replace it. On a fresh clone of the example this is the normal
/// first step, since the example's CA key is nobody's; `alternative` says when not to.
fn replace_ca_hint(t: &crate::stack::model::Tls, alternative: &str) -> String {
    format!(
        "run `cargo xtask certs init --force` (it replaces the lab CA with your own: every device must then import the new {}/ca.crt; a fresh clone of the example does this once, the example's CA is not yours), then `cargo xtask gen`; {alternative}",
        t.certs_dir
    )
}

/// Refuses a committed CA that cannot vouch for the stack (another domain, no name constraints,
/// expired or expiring): a leaf it signed would fail `check` and every client.
fn refuse_unfit_ca(stack: &Stack, ca_pem: &str, now: i64) -> Result<()> {
    let t = &stack.tls;
    let problems = tls::audit_ca_pem(ca_pem, &stack.domain, now, t.renew_before_days, &t.certs_dir);
    if problems.is_empty() {
        return Ok(());
    }
    let problems: Vec<&str> = problems.iter().map(|p| p.split("; make a new CA").next().unwrap_or(p)).collect();
    bail!("{}\n  hint: {}", problems.join("\n"), replace_ca_hint(t, &format!("gen issues no leaf the CA cannot vouch for (names under {})", stack.domain)))
}

/// The last step of gen's certificates: what `check` would say about them. Empty by
/// construction after the steps above; kept so that a successful gen is always one `check`
/// accepts.
fn refuse_what_check_refuses(stack: &Stack, now: i64) -> Result<()> {
    let problems = tls::audit(stack, now);
    if problems.is_empty() {
        return Ok(());
    }
    bail!("{}\n  hint: see docs/tls.md", problems.join("\n"))
}

/// Gen's renewal step: issues a new leaf into `<certs_dir>/leaf.crt` (key at `tls.leaf_key`) when
/// [`tls::decide`] says so, and updates `stack` with it; otherwise leaves every file alone.
/// Returns what it did or noticed, one line each.
pub fn renew_leaf(root: &Path, stack: &mut Stack, now: i64) -> Result<Vec<String>> {
    let t = &stack.tls;
    if !t.enabled {
        return Ok(Vec::new());
    }
    let dir = t.certs_dir.clone();
    let Some(ca_pem) = t.certs.ca.clone() else {
        bail!(
            "{dir}/ca.crt: missing; TLS is on and needs the lab's CA\n  hint: run `cargo xtask certs init`, then `cargo xtask gen` again (or set `[tls] enabled = false`)"
        );
    };
    refuse_unfit_ca(stack, &ca_pem, now)?;
    let wanted = tls::wanted_names(stack);
    let reason = match tls::decide(t.certs.leaf.as_deref(), &ca_pem, &wanted, now, t.renew_before_days) {
        Decision::Keep => {
            refuse_what_check_refuses(stack, now)?;
            return Ok(leaf_key_notes(root, stack));
        }
        Decision::Issue(reason) => reason,
    };
    let why = match &reason {
        Reason::Missing => format!("{reason} (for {})", wanted.join(", ")),
        _ => reason.to_string(),
    };
    let ca_key_path = root.join(&t.ca_key);
    let ca_key = match fs::read_to_string(&ca_key_path) {
        Ok(k) => k,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "{dir}/leaf.crt: a new leaf certificate is needed: {why}; issuing it needs the key of {dir}/ca.crt, which is not at {}\n  hint: {}",
            t.ca_key,
            replace_ca_hint(t, &format!("if you have this CA's key, put it at {} and run `cargo xtask gen` instead", t.ca_key))
        ),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read the CA key", t.ca_key)),
    };
    let issued = tls::issue_leaf(&ca_pem, &ca_key, &wanted, now, t.leaf_validity_days).with_context(|| format!("{dir}/leaf.crt: cannot issue"))?;
    // What check will say of the new pair, before anything is written.
    let old_leaf = stack.tls.certs.leaf.replace(issued.cert_pem.clone());
    if let Err(e) = refuse_what_check_refuses(stack, now) {
        stack.tls.certs.leaf = old_leaf;
        return Err(e);
    }
    let t = &stack.tls;
    // The key first: a failure between the two writes leaves the old leaf, which the next run
    // replaces again, never a leaf whose key is lost.
    write_private(&key_file(root, &t.leaf_key, &t.ca_key)?, &issued.key_pem)?;
    write_public(&root.join(&dir).join("leaf.crt"), &issued.cert_pem)?;
    let note = format!(
        "tls: issued {dir}/leaf.crt for {} name(s), valid {} days ({why}); key in {} (mode 0600): commit {dir}/leaf.crt and deliver the key (Terraform reads it)",
        wanted.len(),
        t.leaf_validity_days,
        t.leaf_key
    );
    Ok(vec![note])
}

/// What to do when this machine has no leaf key for the committed leaf (gen's warning and the
/// refusal of plan/apply say the same).
pub fn leaf_key_hint(stack: &Stack) -> String {
    let t = &stack.tls;
    format!(
        "fetch the key that goes with it, or delete {}/leaf.crt and run `cargo xtask gen` where the CA key is to issue a new pair (a clone with no CA key of yours, such as a fresh clone of the example: `cargo xtask certs init --force`, then `cargo xtask gen`; every device then re-imports the new CA)",
        t.certs_dir
    )
}

/// Warnings about the local leaf key when the committed leaf is kept: absent, or not its key.
fn leaf_key_notes(root: &Path, stack: &Stack) -> Vec<String> {
    let t = &stack.tls;
    let Some(leaf) = t.certs.leaf.as_deref() else { return Vec::new() };
    let hint = leaf_key_hint(stack);
    match fs::read_to_string(root.join(&t.leaf_key)) {
        Err(_) => vec![format!("warning: {}: no leaf key here, so this machine cannot deliver it to Traefik; {hint}", t.leaf_key)],
        Ok(key) if !tls::key_matches(leaf, &key) => vec![format!("warning: {}: not the key of {}/leaf.crt; {hint}", t.leaf_key, t.certs_dir)],
        Ok(_) => Vec::new(),
    }
}

/// Where a private key given as `path` ([tls] ca_key or leaf_key) is written, refused unless it
/// is the other key's file by no spelling (`.secrets/./ca.key`, `/repo/.secrets/ca.key`) and, as
/// an absolute path, outside the repository or in its gitignored `.secrets/` (validation sees
/// only the text; this sees where it lands).
pub fn key_file(root: &Path, path: &str, other: &str) -> Result<PathBuf> {
    let root = fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let (file, other_file) = (lexical(&root.join(path)), lexical(&root.join(other)));
    if file == other_file {
        bail!(
            "{path}: is also the other private key's file ({other}): one key would be written over the other\n  hint: give each key its own file in `.secrets/`, e.g. `.secrets/ca.key` and `.secrets/leaf.key`"
        );
    }
    if file.starts_with(&root) && !file.starts_with(root.join(".secrets")) {
        bail!(
            "{path}: is in the repository outside its gitignored `.secrets/` folder, where the key could be committed\n  hint: keep keys in `.secrets/` or at a path outside the repository"
        );
    }
    Ok(file)
}

/// `path` with `.` and empty segments left out and each `..` taking back the segment before it.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Writes a private key: created with mode 0600 (never readable by others, not even for a
/// moment), through a temporary file and a rename; its folder is created with mode 0700.
pub fn write_private(path: &Path, contents: &str) -> Result<()> {
    // Only a key is ever replaced: a path that names any other file (validation keeps key paths
    // in `.secrets/` or outside the repository) is refused, not overwritten.
    if let Ok(old) = fs::read(path)
        && (!old.starts_with(b"-----BEGIN") || !String::from_utf8_lossy(&old).contains("PRIVATE KEY-----"))
    {
        anyhow::bail!(
            "{}: exists and is not a private key; not overwritten\n  hint: point the key path ([tls] ca_key / leaf_key) at a file of its own",
            path.display()
        );
    }
    let dir = path.parent().context("a key path needs a folder")?;
    if !dir.as_os_str().is_empty() && !dir.exists() {
        let mut b = fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.xtask-tmp"));
    let _ = fs::remove_file(&tmp);
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let result = (|| -> std::io::Result<()> {
        let mut f = opts.open(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("{}: cannot write the key", path.display()));
    }
    Ok(())
}

/// Writes a certificate (public) through a temporary file and a rename.
fn write_public(path: &Path, contents: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    }
    let tmp = path.with_extension("crt.xtask-tmp");
    fs::write(&tmp, contents).and_then(|()| fs::rename(&tmp, path)).with_context(|| format!("{}: cannot write", path.display()))
}

#[cfg(test)]
mod tests {
    use super::key_file;

    #[test]
    fn a_key_lands_in_secrets_or_outside_the_repository_and_never_on_the_other_key() {
        let repo = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(repo.path()).unwrap();
        let outside = tempfile::tempdir().unwrap();
        assert_eq!(key_file(&root, ".secrets/leaf.key", ".secrets/ca.key").unwrap(), root.join(".secrets/leaf.key"));
        let away = outside.path().join("ca.key");
        assert_eq!(key_file(&root, away.to_str().unwrap(), ".secrets/leaf.key").unwrap(), away);
        // The CA key by another spelling, relative or absolute.
        let abs_ca = root.join(".secrets/ca.key");
        for same in [".secrets/./ca.key", ".secrets//ca.key", ".secrets/x/../ca.key", abs_ca.to_str().unwrap()] {
            let err = key_file(&root, same, ".secrets/ca.key").unwrap_err().to_string();
            assert!(err.contains("is also the other private key's file"), "{same}: {err}");
        }
        // An absolute path into the checkout outside .secrets/ could be committed.
        let inside = root.join("infrastructure/tls/ca.key");
        let err = key_file(&root, inside.to_str().unwrap(), ".secrets/leaf.key").unwrap_err().to_string();
        assert!(err.contains("outside its gitignored `.secrets/` folder"), "{err}");
    }
}
