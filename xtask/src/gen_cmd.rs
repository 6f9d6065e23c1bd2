//! `cargo xtask gen`: render, then write only what changed under generated/.

use anyhow::Result;

use crate::cli::Flags;
use crate::project::Project;
use crate::tree;

pub fn run(flags: &Flags) -> Result<()> {
    let project = Project::from_flags(flags);
    let mut stack = project.load()?;
    for note in crate::certs_cmd::renew_leaf(&project.root, &mut stack, crate::certs_cmd::now())? {
        println!("{note}");
    }
    let expected = project.render(&stack)?;
    let summary = tree::write(&expected, &project.generated())?;
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
    for warning in crate::targets::terraform::warnings(&stack) {
        println!("warning: {warning}");
    }
    if stack.logging.uses_promtail {
        println!(
            "warning: Promtail reached end of life on 2026-03-02 (pinned {}); set log_agent = \"alloy\" to move to Grafana Alloy",
            stack.logging.promtail_version
        );
    }
    Ok(())
}
