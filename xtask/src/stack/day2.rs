//! Day-2 safety keys of stack.toml: `[terraform] acknowledge_recreate`, the VMs a reviewed change
//! may re-create or delete (checked as VM names; a VM being removed is no longer in stack.toml, so
//! they need not name a VM of the stack), and `proxmox.ca_file`, the CA of the API endpoint.

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

/// `proxmox.ca_file`: a relative path to a PEM file; pointless (so refused) with `insecure`.
pub fn ca_file(p: &mut Problems, raw: Option<&str>, insecure: bool) -> Option<String> {
    let path = raw?;
    if path.is_empty() || path.starts_with('/') || path.split('/').any(|c| c == "..") {
        p.add(
            "proxmox.ca_file",
            format!("`{}` is not a path inside the repository", path.escape_debug()),
            "e.g. `infrastructure/proxmox-ca.pem` (a public certificate, safe to commit)",
        );
        return None;
    }
    if insecure {
        p.add(
            "proxmox.ca_file",
            "set together with `insecure = true`, which skips verification",
            "remove `insecure = true` so the endpoint is verified against this CA",
        );
    }
    Some(path.to_string())
}
