//! `cargo xtask diff --markdown [--base REF]`: the pull-request summary of what this branch does
//! to the lab compared with REF. Reads the stack and the committed generated/ at REF through git;
//! the summary itself is `review::summarize`.

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use crate::cli::Diff;
use crate::project::Project;
use crate::review;
use crate::stack::diag::Report;
use crate::tree::{self, Tree};

pub fn run(project: &Project, args: &Diff) -> Result<()> {
    if !args.markdown {
        bail!("diff: only markdown output exists; pass `--markdown`");
    }
    let base = base_ref(args);
    let sh = Shell::new()?;
    sh.change_dir(&project.root);
    let stack_path = project.stack_name();

    let new = project.load()?;
    let new_tree = project.render(&new)?;

    let old_src = cmd!(sh, "git show {base}:./{stack_path}")
        .quiet()
        .ignore_stderr()
        .read()
        .with_context(|| format!("{stack_path}: cannot read it at `{base}` (is the ref fetched? try `git fetch origin` or pass --base)"))?;
    // Its certificates are taken from the working tree: they are inputs, not derived from stack.toml.
    let old = match project.parse(&format!("{stack_path}@{base}"), old_src.as_bytes()) {
        Ok(old) => old,
        Err(err) if err.is::<Report>() => {
            let report = err;
            // The base itself may predate a schema change; say so instead of failing the review.
            println!("{}\n\nThe stack at `{base}` does not validate with this branch's xtask, so no comparison:\n\n```\n{report}\n```", review::TITLE);
            return Ok(());
        }
        Err(err) => return Err(err),
    };
    let committed = committed_tree(&sh, &base)?;
    // The day-2 guards ran against this branch's generated/; run them against the base's too: a
    // branch made before the bucket's `from` that drops the period would otherwise pass check
    // after that day has come at the base (logs in the bucket since then, lost to Loki), and a
    // branch whose generated/ was regenerated without a root the base has would strand its VMs.
    if !committed.is_empty() {
        let manifest = cmd!(sh, "git show {base}:./generated/.manifest.sha256").quiet().ignore_stderr().read().unwrap_or_default();
        let before = Project::before_of(&committed, &manifest, crate::certs_cmd::now());
        if let Err(err) = project.load_before(&before) {
            if err.is::<Report>() {
                println!("{}\n\nRefused: against generated/ as committed at `{base}`, this change is not safe to apply:\n\n```\n{err}\n```", review::TITLE);
                bail!("diff: refused against generated/ at `{base}`");
            }
            return Err(err);
        }
    }
    // A base without a committed generated/ is compared with its stack rendered by today's templates.
    let old_tree = if !committed.is_empty() { committed } else { project.render(&old)? };
    let workflow = std::fs::read_to_string(project.root.join(crate::review_lab::TERRAFORM_WORKFLOW)).ok();
    print!("{}", review::summarize_with_workflow(&old, &new, &old_tree, &new_tree, workflow.as_deref()));
    Ok(())
}

/// `--base`, else the pull request's base branch on GitHub, else `main`.
fn base_ref(args: &Diff) -> String {
    if let Some(base) = &args.base {
        return base.clone();
    }
    match std::env::var("GITHUB_BASE_REF") {
        Ok(b) if !b.is_empty() => format!("origin/{b}"),
        _ => "main".to_string(),
    }
}

/// The files of generated/ committed at `base`, without the manifest and tool working files.
fn committed_tree(sh: &Shell, base: &str) -> Result<Tree> {
    let listing =
        cmd!(sh, "git ls-tree -r -z --name-only {base} -- generated/").quiet().read().with_context(|| format!("generated/: cannot list it at `{base}`"))?;
    let paths: Vec<&str> = listing
        .split('\0')
        .filter_map(|p| p.strip_prefix("generated/"))
        .filter(|p| !p.is_empty() && *p != tree::MANIFEST && !tree::is_working_file(p))
        .collect();
    let mut out = Tree::default();
    if paths.is_empty() {
        return Ok(out);
    }
    let request: String = paths.iter().map(|p| format!("{base}:./generated/{p}\n")).collect();
    let output = cmd!(sh, "git cat-file --batch").quiet().stdin(request).output().context("git cat-file: cannot read generated/ at the base")?;
    let mut rest = output.stdout.as_slice();
    for path in paths {
        let (contents, tail) = batch_entry(rest).with_context(|| format!("generated/{path}: cannot read it at `{base}`"))?;
        out.insert(path, contents)?;
        rest = tail;
    }
    Ok(out)
}

/// One entry of `git cat-file --batch` output: `<oid> blob <size>\n<bytes>\n`.
fn batch_entry(input: &[u8]) -> Result<(Vec<u8>, &[u8])> {
    let eol = input.iter().position(|&b| b == b'\n').context("truncated git cat-file output")?;
    let header = String::from_utf8_lossy(&input[..eol]);
    let mut parts = header.split(' ');
    let (_, kind, size) = (parts.next(), parts.next(), parts.next());
    if kind != Some("blob") {
        bail!("git cat-file: {header}");
    }
    let size: usize = size.and_then(|s| s.parse().ok()).context("git cat-file: bad size")?;
    let body = &input[eol + 1..];
    if body.len() < size + 1 {
        bail!("truncated git cat-file output");
    }
    Ok((body[..size].to_vec(), &body[size + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_entries_are_split_by_size() {
        let input = b"abc blob 3\nx\ny\nabd blob 0\n\n";
        let (first, rest) = batch_entry(input).unwrap();
        assert_eq!(first, b"x\ny");
        let (second, rest) = batch_entry(rest).unwrap();
        assert!(second.is_empty() && rest.is_empty());
        assert!(batch_entry(b"abc missing\n").is_err());
    }
}
