//! The certificates Traefik serves (`generated/compose/tls/`): copies of the committed CA and
//! leaf from `tls.certs_dir`, byte for byte. Issuing them is gen's renewal step, not rendering.

use anyhow::Result;

use super::Outputs;
use crate::stack::Stack;

pub fn render(stack: &Stack, out: &mut Outputs) -> Result<()> {
    if !stack.tls.enabled {
        return Ok(());
    }
    // A missing input is not an error here: gen's renewal step has already stopped with its fix,
    // and check's TLS audit names it.
    if let Some(ca) = &stack.tls.certs.ca {
        out.add("compose/tls/ca.crt", ca)?;
    }
    if let Some(leaf) = &stack.tls.certs.leaf {
        out.add("compose/tls/leaf.crt", leaf)?;
    }
    Ok(())
}
