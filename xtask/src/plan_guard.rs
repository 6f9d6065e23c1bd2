//! The plan guard: reads `terraform show -json` of a saved plan, lists one line per resource
//! action (replacements and deletions first), and refuses a plan that replaces or deletes a
//! Proxmox VM (and so its disk) that stack.toml's `[terraform] acknowledge_recreate` does not
//! name. Pure: JSON text in, lines and a verdict out.

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Resource types whose replacement or deletion loses a VM's disk.
pub const GUARDED_TYPES: &[&str] = &["proxmox_virtual_environment_vm"];

/// What the plan does to one resource, the most destructive first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Replace,
    Delete,
    Create,
    Update,
    Forget,
}

impl Action {
    fn word(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Create => "create",
            Action::Update => "update",
            Action::Forget => "forget",
        }
    }
}

/// One resource the plan changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub action: Action,
    pub address: String,
    pub kind: String,
    /// For a guarded resource: the VM's name (its `name` before the change, else derived from
    /// the module address).
    pub vm: Option<String>,
    /// Terraform's `action_reason`, when it gives one (e.g. `replace_because_cannot_update`).
    pub reason: Option<String>,
}

/// The resource changes of a plan, sorted: replacements, deletions, creations, updates; by
/// address within each. No-ops and reads are left out.
pub fn changes(show_json: &str, guarded: &[&str]) -> Result<Vec<Change>> {
    let doc: Value = serde_json::from_str(show_json).context("terraform show -json: not JSON")?;
    let Some(list) = doc.get("resource_changes") else {
        if doc.get("format_version").is_some() {
            return Ok(Vec::new());
        }
        bail!("terraform show -json: no `format_version`: this is not a plan");
    };
    let list = list.as_array().context("terraform show -json: `resource_changes` is not a list")?;
    let mut out = Vec::new();
    for rc in list {
        let address = rc["address"].as_str().context("terraform show -json: a resource change without an address")?.to_string();
        let actions: Vec<&str> = rc["change"]["actions"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        let action = match actions.as_slice() {
            ["delete", "create"] | ["create", "delete"] => Action::Replace,
            ["delete"] => Action::Delete,
            ["create"] => Action::Create,
            ["update"] => Action::Update,
            ["forget"] => Action::Forget,
            ["no-op"] | ["read"] => continue,
            other => bail!("terraform show -json: {address}: unknown actions {other:?}"),
        };
        let kind = rc["type"].as_str().unwrap_or_default().to_string();
        let vm = guarded.contains(&kind.as_str()).then(|| vm_name(rc, &address));
        let reason = rc["action_reason"].as_str().map(str::to_string);
        out.push(Change { action, address, kind, vm, reason });
    }
    out.sort_by(|a, b| (a.action, &a.address).cmp(&(b.action, &b.address)));
    Ok(out)
}

/// The VM's name: `name` in its prior state, else the module it is in (`module.prod_app` is the
/// VM `prod-app`; the monitoring VM is `module.monitoring.module.vm`, named in its state).
fn vm_name(rc: &Value, address: &str) -> String {
    if let Some(name) = rc["change"]["before"]["name"].as_str().or_else(|| rc["change"]["after"]["name"].as_str()) {
        return name.to_string();
    }
    let module = address.strip_prefix("module.").and_then(|rest| rest.split('.').next()).unwrap_or(address);
    module.split('[').next().unwrap_or(module).replace('_', "-")
}

/// One line per change: `replace  <address>  (VM name; reason)`.
pub fn table(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .map(|c| {
            let mut notes = Vec::new();
            if let Some(vm) = &c.vm {
                notes.push(format!("VM {vm}"));
            }
            if let Some(reason) = &c.reason {
                notes.push(reason.clone());
            }
            let notes = if notes.is_empty() { String::new() } else { format!("  ({})", notes.join("; ")) };
            format!("{:<8} {}{notes}", c.action.word(), c.address)
        })
        .collect()
}

/// The VMs the plan replaces or deletes that `acknowledged` does not name, as (VM, action).
pub fn unacknowledged<'c>(changes: &'c [Change], acknowledged: &[String]) -> Vec<(&'c str, Action)> {
    changes
        .iter()
        .filter(|c| matches!(c.action, Action::Replace | Action::Delete))
        .filter_map(|c| c.vm.as_deref().map(|vm| (vm, c.action)))
        .filter(|(vm, _)| !acknowledged.iter().any(|a| a == vm))
        .collect()
}

/// The refusal, or `Ok` when every destroyed VM is acknowledged.
pub fn verdict(verb: &str, changes: &[Change], acknowledged: &[String]) -> Result<()> {
    let bad = unacknowledged(changes, acknowledged);
    if bad.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = bad.iter().map(|(vm, a)| format!("`{vm}` ({})", a.word())).collect();
    let names: Vec<String> = bad.iter().map(|(vm, _)| format!("\"{vm}\"")).collect();
    bail!(
        "{verb}: refused: the plan destroys {} and stack.toml does not acknowledge it (its disk would be lost)\n  hint: if that is intended, add `acknowledge_recreate = [{}]` to [terraform] in stack.toml, commit it with the change, and remove it after the apply",
        list.join(", "),
        names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"{"format_version":"1.2","resource_changes":[
      {"address":"module.prod_app.terraform_data.log_agent[0]","type":"terraform_data","change":{"actions":["create"]}},
      {"address":"module.prod_app.proxmox_virtual_environment_vm.this","type":"proxmox_virtual_environment_vm","action_reason":"replace_because_cannot_update","change":{"actions":["delete","create"],"before":{"name":"prod-app"}}},
      {"address":"module.prod_db.proxmox_virtual_environment_vm.this","type":"proxmox_virtual_environment_vm","change":{"actions":["update"],"before":{"name":"prod-db"}}},
      {"address":"module.old.proxmox_virtual_environment_vm.this","type":"proxmox_virtual_environment_vm","change":{"actions":["delete"],"before":null}},
      {"address":"proxmox_download_file.cloud_image[\"pve\"]","type":"proxmox_download_file","change":{"actions":["no-op"]}}
    ]}"#;

    #[test]
    fn replacements_and_deletions_come_first() {
        let c = changes(PLAN, GUARDED_TYPES).unwrap();
        let t = table(&c);
        assert_eq!(
            t,
            [
                "replace  module.prod_app.proxmox_virtual_environment_vm.this  (VM prod-app; replace_because_cannot_update)",
                "delete   module.old.proxmox_virtual_environment_vm.this  (VM old)",
                "create   module.prod_app.terraform_data.log_agent[0]",
                "update   module.prod_db.proxmox_virtual_environment_vm.this  (VM prod-db)",
            ]
        );
    }

    #[test]
    fn only_acknowledged_vms_may_be_destroyed() {
        let c = changes(PLAN, GUARDED_TYPES).unwrap();
        let err = verdict("plan", &c, &[]).unwrap_err().to_string();
        assert!(err.contains("destroys `prod-app` (replace), `old` (delete)"), "{err}");
        assert!(err.contains("acknowledge_recreate = [\"prod-app\", \"old\"]"), "{err}");
        let err = verdict("plan", &c, &["prod-app".to_string()]).unwrap_err().to_string();
        assert!(err.contains("`old` (delete)") && !err.contains("prod-app"), "{err}");
        verdict("plan", &c, &["old".to_string(), "prod-app".to_string()]).unwrap();
    }

    #[test]
    fn an_empty_plan_and_garbage() {
        assert!(changes(r#"{"format_version":"1.2"}"#, GUARDED_TYPES).unwrap().is_empty());
        assert!(changes("{}", GUARDED_TYPES).is_err());
        assert!(changes("not json", GUARDED_TYPES).is_err());
    }
}
