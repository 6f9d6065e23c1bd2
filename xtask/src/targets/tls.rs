//! The certificates Traefik serves (`generated/compose/tls/`): copies of the committed CA and
//! leaf from `tls.certs_dir`, byte for byte. Issuing them is gen's renewal step, not rendering.

use anyhow::{Result, bail};

use super::Outputs;
use crate::stack::Stack;

/// Adds one committed certificate, refusing one that carries a private key with it.
fn add_cert(out: &mut Outputs, dir: &str, name: &str, pem: &str) -> Result<()> {
    if pem.contains("PRIVATE KEY") {
        bail!("{dir}/{name}: holds a private key; keys never enter git or generated/ (move it to tls.leaf_key / tls.ca_key)");
    }
    out.add(&format!("compose/tls/{name}"), pem)
}

pub fn render(stack: &Stack, out: &mut Outputs) -> Result<()> {
    if !stack.tls.enabled {
        return Ok(());
    }
    // A missing input is not an error here: gen's renewal step has already stopped with its fix,
    // and check's TLS audit names it.
    let dir = &stack.tls.certs_dir;
    if let Some(ca) = &stack.tls.certs.ca {
        add_cert(out, dir, "ca.crt", ca)?;
    }
    if let Some(leaf) = &stack.tls.certs.leaf {
        add_cert(out, dir, "leaf.crt", leaf)?;
    }
    Ok(())
}
