//! `cargo xtask gen`: render, then write only what changed under generated/.

use std::path::Path;

use anyhow::Result;

use crate::cli::Flags;
use crate::project::Project;
use crate::targets;
use crate::tree::{self, Summary, Tree, Writer};

pub fn run(flags: &Flags) -> Result<()> {
    let project = Project::from_flags(flags);
    let mut stack = project.load()?;
    for note in crate::certs_cmd::renew_leaf(&project.root, &mut stack, crate::certs_cmd::now())? {
        println!("{note}");
    }
    let expected = project.render_unparsed(&stack)?;
    let summary = write_generated(&expected, &project.generated(), &mut tree::RealDisk)?;
    for path in &summary.created {
        println!("  created  generated/{path}");
    }
    for path in &summary.updated {
        println!("  updated  generated/{path}");
    }
    for path in &summary.removed {
        println!("  removed  generated/{path}");
    }
    for path in &summary.kept_edited {
        println!("  kept     generated/{path} (no longer generated, but edited by hand: remove it yourself)");
    }
    println!("gen: {} created, {} updated, {} removed, {} unchanged", summary.created.len(), summary.updated.len(), summary.removed.len(), summary.unchanged);
    let m = &stack.memory;
    println!(
        "memory of {}: container limits {} MB + OS {} MB of {} MB; the plan's additions reserve {} MB (target {} MB)",
        stack.monitoring.vm.name, m.limits_mb, m.os_reserve_mb, m.vm_mb, m.additions_reserved_mb, m.additions_target_mb
    );
    if stack.logging.uses_promtail {
        println!(
            "warning: Promtail reached end of life on 2026-03-02 (pinned {}); set log_agent = \"alloy\" to move to Grafana Alloy",
            stack.logging.promtail_version
        );
    }
    Ok(())
}

/// Gen's core once the tree is rendered (not yet parsed back): take the lock, read generated/
/// once, parse back every output that generated/ does not vouch for, then write what changed.
pub fn write_generated(expected: &Tree, root: &Path, io: &mut dyn Writer) -> Result<Summary> {
    let lock = tree::Lock::take(root)?;
    let read = tree::OnDisk::read(expected, root).and_then(|disk| targets::parse_back(expected, &disk.vouched(expected)).map(|()| disk));
    match read {
        Ok(disk) => tree::write_locked(lock, expected, &disk, root, io),
        Err(e) => {
            lock.release();
            Err(e)
        }
    }
}
