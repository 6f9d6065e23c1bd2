//! `[terraform] acknowledge_recreate`: the VMs a reviewed change may re-create or delete. Names
//! are checked as VM names (a VM that is being removed is no longer in stack.toml, so they are
//! not required to name a VM of the stack).

use super::diag::Problems;

const KEY: &str = "terraform.acknowledge_recreate";

/// The acknowledged names, sorted and deduplicated; a name that cannot be a VM's is a problem.
pub fn names(p: &mut Problems, raw: Option<&[String]>) -> Vec<String> {
    let mut out = Vec::new();
    for name in raw.unwrap_or_default() {
        let label = !name.is_empty()
            && name.len() <= 63
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        if label {
            out.push(name.clone());
        } else {
            p.add(
                KEY,
                format!("`{}` is not a VM name", name.escape_debug()),
                "list the names of the VMs (the `[vms.<name>]` keys, or monitoring.name) the plan may re-create",
            );
        }
    }
    out.sort();
    out.dedup();
    out
}
