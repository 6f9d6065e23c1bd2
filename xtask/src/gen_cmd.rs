//! `cargo xtask gen`: render, then write only what changed under generated/.

use std::path::Path;

use anyhow::Result;

use crate::cli::Gen;
use crate::project::Project;
use crate::targets;
use crate::tree::{self, Summary, Tree, Writer};
use crate::ui::Ui;

pub fn run(project: &Project, args: &Gen, ui: &Ui) -> Result<()> {
    let (mut stack, stack_src) = project.load_with_src()?;
    let mut warnings = Vec::new();
    for note in crate::certs_cmd::renew_leaf(&project.root, &mut stack, crate::certs_cmd::now())? {
        match note.strip_prefix("warning: ") {
            Some(warning) => warnings.push(warning.to_string()),
            None => println!("{note}"),
        }
    }
    // The templates are read once: the render uses exactly the bytes the memo's key hashes.
    let templates = project.read_templates()?;
    let expected = targets::render_with(&stack, &templates)?;
    let summary = write_generated(&expected, &project.generated(), &mut tree::RealDisk)?;
    // generated/ is now this tree, every file of it parsed back (now or by the gen that wrote it).
    crate::memo::record(&project.root, &crate::memo::key(&project.stack_name(), &stack_src, &stack, &templates), &expected.manifest());
    for path in &summary.created {
        ui.summary(format_args!("  created  generated/{path}"));
    }
    for path in &summary.updated {
        ui.summary(format_args!("  updated  generated/{path}"));
    }
    for path in &summary.removed {
        ui.summary(format_args!("  removed  generated/{path}"));
    }
    for path in &summary.kept_edited {
        ui.summary(format_args!("  kept     generated/{path} (no longer generated, but edited by hand since gen wrote it)"));
    }
    for path in &summary.foreign {
        ui.summary(format_args!("  kept     generated/{path} (not made by gen)"));
    }
    ui.summary(format_args!(
        "gen: {} created, {} updated, {} removed, {} unchanged",
        summary.created.len(),
        summary.updated.len(),
        summary.removed.len(),
        summary.unchanged
    ));
    let m = &stack.memory;
    let queues = if m.remote_write_mb > 0 { format!(" (Prometheus's includes {} MB for remote write)", m.remote_write_mb) } else { String::new() };
    ui.summary(format_args!(
        "memory of {}: container limits {} MB{queues} + OS {} MB of {} MB; the plan's additions reserve {} MB (target {} MB)",
        stack.monitoring.vm.name, m.limits_mb, m.os_reserve_mb, m.vm_mb, m.additions_reserved_mb, m.additions_target_mb
    ));
    warnings.extend(crate::targets::terraform::warnings(&stack));
    warnings.extend(promtail_warnings(&stack));
    say_warnings(project, &warnings, args.verbose, ui);
    kept_files_fail(&summary)
}

/// Gen never deletes a file it did not make, nor one edited by hand since it made it; but check
/// reports each such file as drift, so gen ends in an error that names them (everything else is
/// written): after a gen that succeeds, check passes.
pub fn kept_files_fail(summary: &Summary) -> Result<()> {
    let kept: Vec<&str> = summary.kept().collect();
    if kept.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "generated/ holds {} file(s) gen keeps but does not make: {}; `cargo xtask check` fails while they are there\n  hint: move them out of generated/ (gen never deletes a file it did not make, nor one edited since it made it), then run `cargo xtask gen` again",
        kept.len(),
        kept.iter().map(|p| format!("generated/{p}")).collect::<Vec<_>>().join(", ")
    )
}

/// Promtail reached end of life: one warning. The advice `log_agent = "alloy"` is given only
/// while a VM's host agent is Promtail (the fix is the operator's to make); the monitoring VM's
/// compose Promtail container is always there and no stack.toml setting replaces it yet.
pub fn promtail_warnings(stack: &crate::stack::Stack) -> Vec<String> {
    let container = &stack.services.promtail.image;
    vec![if stack.uses_promtail() {
        format!(
            "Promtail reached end of life on 2026-03-02 (pinned {}); set log_agent = \"alloy\" to move to Grafana Alloy (the monitoring stack's Promtail container, {container}, stays: no setting replaces it yet)",
            stack.logging.promtail_version
        )
    } else {
        format!(
            "Promtail reached end of life on 2026-03-02: the monitoring stack's Promtail container ({container}) stays, no stack.toml setting replaces it yet"
        )
    }]
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

/// Each warning in full when the set is new here (or `--verbose`); else one note that they hold.
fn say_warnings(project: &Project, warnings: &[String], verbose: bool, ui: &Ui) {
    let new = crate::warnings::remember(&project.root, warnings);
    if new || verbose {
        warnings.iter().for_each(|w| ui.warn(w));
    } else if !warnings.is_empty() {
        ui.note(format_args!("{} warning(s) said on an earlier run still hold; `cargo xtask gen --verbose` repeats them", warnings.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::promtail_warnings;

    const EXAMPLE: &str = include_str!("../../stack.toml");

    fn warnings(src: &str) -> Vec<String> {
        promtail_warnings(&crate::stack::from_str("stack.toml", src).unwrap())
    }

    #[test]
    fn every_vm_on_alloy_gets_no_advice_to_set_log_agent_but_the_monitoring_container_still_counts() {
        let promtail = warnings(EXAMPLE);
        assert!(promtail.iter().any(|w| w.contains("set log_agent = \"alloy\"")), "{promtail:?}");
        let alloy_src = EXAMPLE.replace("default_agent = \"promtail\"", "default_agent = \"alloy\"");
        assert_ne!(alloy_src, EXAMPLE, "the example's default agent moved");
        assert!(!alloy_src.contains("log_agent = \"promtail\""), "a VM of the example names Promtail itself");
        let alloy = warnings(&alloy_src);
        assert!(!alloy.iter().any(|w| w.contains("log_agent")), "{alloy:?}");
        // The monitoring VM's own Promtail container is still there, and still said.
        assert!(alloy.iter().any(|w| w.contains("the monitoring stack's Promtail container (grafana/promtail:")), "{alloy:?}");
        assert_eq!(alloy.len(), 1, "{alloy:?}");
    }

    #[test]
    fn ha_with_a_datastore_named_like_a_nodes_own_disk_is_warned() {
        let cluster = EXAMPLE.replace("node = \"pve\"\n", "node = \"pve\"\nnodes = [\"pve\", \"pve2\", \"pve3\"]\n").replace("# ha = true ", "ha = true ");
        assert_ne!(cluster, EXAMPLE);
        let warn = |src: &str| crate::targets::terraform::warnings(&crate::stack::from_str("stack.toml", src).unwrap());
        let got = warn(&cluster);
        assert!(got.iter().any(|w| w.starts_with("ha = true on prod-alloc-ia with proxmox.vm_datastore = \"local-lvm\"")), "{got:?}");
        let shared = cluster.replace("vm_datastore = \"local-lvm\"", "vm_datastore = \"ceph-vm\"");
        assert!(!warn(&shared).iter().any(|w| w.starts_with("ha = true")));
        assert!(!warn(EXAMPLE).iter().any(|w| w.starts_with("ha = true")), "no HA, no warning");
    }
}
