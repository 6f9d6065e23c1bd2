//! What a change of stack.toml does to each VM (nothing, files delivered, updated in place, a
//! reboot, refused, re-created), and the one list of the provider's ForceNew attributes that
//! decision relies on, each with its line in the bpg/proxmox source at the pinned version. Pure.

use std::collections::BTreeMap;

use crate::stack::model::Vm;
use crate::stack::{Stack, cluster};
use crate::tree::Tree;

/// A ForceNew attribute (or rule) of bpg/proxmox v0.111.1 that the generated Terraform meets.
pub struct ForceNew {
    /// Resource type and attribute path.
    pub attribute: &'static str,
    /// File and line at tag v0.111.1 of bpg/terraform-provider-proxmox.
    pub source: &'static str,
    /// Which change of stack.toml reaches it, and what the generated Terraform does about it.
    pub effect: &'static str,
}

/// Every ForceNew the generated Terraform relies on (or steers around), in one place.
pub const FORCE_NEW: &[ForceNew] = &[
    ForceNew {
        attribute: "proxmox_virtual_environment_vm.vm_id",
        source: "proxmoxtf/resource/vm/vm.go:1776 (customdiff.ForceNewIf)",
        effect: "a VM's `vm_id`: the VM is re-created",
    },
    ForceNew {
        attribute: "proxmox_virtual_environment_vm.node_name",
        source: "proxmoxtf/resource/vm/vm.go:1781 (ForceNewIf only when `migrate` is false)",
        effect: "a VM's `node`: the module sets `migrate = true`, so the VM migrates",
    },
    ForceNew {
        attribute: "proxmox_virtual_environment_vm.initialization.user_data_file_id",
        source: "proxmoxtf/resource/vm/vm.go:999",
        effect: "the id is `<snippets datastore>:snippets/<name>-user-data.yaml`, known at plan time: only the snippets datastore or the VM's name change it (re-created)",
    },
    ForceNew {
        attribute: "proxmox_virtual_environment_vm.initialization.meta_data_file_id",
        source: "proxmoxtf/resource/vm/vm.go:1023",
        effect: "as user_data_file_id",
    },
    ForceNew {
        attribute: "proxmox_virtual_environment_file.node_name",
        source: "proxmoxtf/resource/file.go:130",
        effect: "a VM's `node`: the snippets are uploaded again to the new node, under the same id, before the VM migrates (Proxmox reads them when it builds the cloud-init drive, and a start fails if one is missing: qemu-server src/PVE/QemuServer/Cloudinit.pm:640-679)",
    },
    ForceNew {
        attribute: "proxmox_virtual_environment_file.datastore_id",
        source: "proxmoxtf/resource/file.go:92",
        effect: "`proxmox.snippets_datastore`: new snippet ids, so every VM is re-created",
    },
    ForceNew {
        attribute: "proxmox_virtual_environment_file.source_raw (data, file_name)",
        source: "proxmoxtf/resource/file.go:193, :203, :209",
        effect: "new user data: the snippet is uploaded again under the same id, the VM is untouched",
    },
    ForceNew {
        attribute: "proxmox_virtual_environment_file id format",
        source: "proxmoxtf/resource/file.go:287 (`%s:%s/%s`: datastore, content type, file name)",
        effect: "what the module's known-at-plan snippet ids are spelled after (a precondition checks it)",
    },
];

/// What the provider does in place, and where the classification below takes it from.
pub const IN_PLACE: &[ForceNew] = &[
    ForceNew {
        attribute: "proxmox_virtual_environment_vm.initialization (ip_config, dns)",
        source: "proxmoxtf/resource/vm/vm.go:6592, :6682 (cloud-init drive rebuilt, reboot required)",
        effect: "IP, gateway, DNS: rebooted with `reboot_after_update` (default true, vm.go:48)",
    },
    ForceNew {
        attribute: "proxmox_virtual_environment_vm.cpu, memory",
        source: "proxmoxtf/resource/vm/vm.go:6476, :6810 (reboot unless hot-plugged; hotplug default network,disk,usb, vm.go:85)",
        effect: "cores, memory_mb: rebooted",
    },
    ForceNew {
        attribute: "proxmox_virtual_environment_vm.agent",
        source: "proxmoxtf/resource/vm/vm.go:6266-6290 (any change of the block: reboot required)",
        effect: "the module's agent timeout and wait_for_ip are in ignore_changes, so existing VMs never reboot for them",
    },
    ForceNew {
        attribute: "proxmox_virtual_environment_vm.disk.size",
        source: "proxmoxtf/resource/vm/vm.go:7299 (shrinking is an error at apply)",
        effect: "a smaller disk_gb: the apply fails; a larger one grows the disk live",
    },
    ForceNew {
        attribute: "proxmox_virtual_environment_vm.initialization.datastore_id",
        source: "proxmoxtf/resource/vm/vm.go:6643 (moving the cloud-init drive needs the VM stopped)",
        effect: "proxmox.vm_datastore: stopped, disks moved, started",
    },
    ForceNew {
        attribute: "proxmox_virtual_environment_vm.node_name of an HA-managed VM",
        source: "proxmoxtf/resource/vm/vm.go:7674-7694 (migrateVM: a running HA VM through the HA manager's migrate, a stopped one out of HA, migrated, put back), :7842-7843 (waits up to 5 minutes for it on the new node)",
        effect: "a node change with `ha = true`: migrated like any VM, never re-created",
    },
    ForceNew {
        attribute: "proxmox_virtual_environment_vm.node_name, read",
        source: "proxmoxtf/resource/vm/vm.go:4306-4318 (vmRead finds the VM's node in the cluster and records it)",
        effect: "after an HA failover the next plan shows the node change and migrates the VM back to its `node`",
    },
    ForceNew {
        attribute: "proxmox_virtual_environment_vm.purge_on_destroy",
        source: "proxmoxtf/resource/vm/vm.go:147 (default true), :7472-7475 (DeleteVM with purge)",
        effect: "a destroyed HA VM leaves no HA entry behind (its HA resource is removed first anyway: it depends on the VM)",
    },
    ForceNew {
        attribute: "proxmox_haresource",
        source: "fwprovider/cluster/ha/resource_haresource.go:169-203, :245-286 (create and delete call only the HA resources API)",
        effect: "`ha = true` on or off: the HA resource is created or destroyed, the VM is untouched (destroying it takes the VM out of HA; it runs on)",
    },
    ForceNew {
        attribute: "proxmox_harule.nodes, resources",
        source: "fwprovider/cluster/ha/resource_harule.go:116-147 (no RequiresReplace), :321 (Update); `rule` and `type` replace it (:81, :95)",
        effect: "`ha_nodes` changed: the rule is updated in place; its id `ha-<name>-<vm_id>` changes only when the VM is re-created",
    },
];

/// What happens to one VM, from the least to the most disruptive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fate {
    Unchanged,
    /// The VM is untouched; files reach it (or its snippet) again.
    Delivered,
    /// Changed in place, running on.
    InPlace,
    /// Changed in place; the provider reboots it (`reboot_after_update`, vm.go:48).
    Reboot,
    /// The apply fails for this VM.
    Refused,
    /// Destroyed and created again: its disk is lost.
    Recreated,
    /// A new VM.
    Created,
    /// The VM is destroyed.
    Destroyed,
}

impl Fate {
    pub fn label(self) -> &'static str {
        match self {
            Fate::Unchanged => "nothing",
            Fate::Delivered => "VM untouched, files delivered again",
            Fate::InPlace => "updated in place",
            Fate::Reboot => "updated in place, then rebooted",
            Fate::Refused => "refused (the apply fails)",
            Fate::Recreated => "re-created (its disk is lost)",
            Fate::Created => "created",
            Fate::Destroyed => "destroyed (its disk is lost)",
        }
    }
}

/// One VM's fate and why: each reason with the fate it alone would cause (sources of the
/// provider's behaviour are in [`FORCE_NEW`] and the module README, not in these lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmFate {
    pub fate: Fate,
    pub reasons: Vec<(Fate, String)>,
}

impl VmFate {
    fn new(fate: Fate, why: String) -> VmFate {
        VmFate { fate, reasons: vec![(fate, why)] }
    }

    /// The reasons that cause `fate`.
    pub fn because(&self, fate: Fate) -> Vec<&str> {
        self.reasons.iter().filter(|(f, _)| *f == fate).map(|(_, why)| why.as_str()).collect()
    }
}

/// Every VM of the lab, monitoring VM included, by name.
fn all_vms(stack: &Stack) -> BTreeMap<&str, &Vm> {
    std::iter::once(&stack.monitoring.vm).chain(&stack.vms).map(|vm| (vm.name.as_str(), vm)).collect()
}

fn files_differ(old: &Tree, new: &Tree, prefix: &str) -> bool {
    let a: Vec<_> = old.files().filter(|(p, _)| p.starts_with(prefix)).collect();
    let b: Vec<_> = new.files().filter(|(p, _)| p.starts_with(prefix)).collect();
    a != b
}

/// A VM re-created in another root: each root has its own state and apply (CI: monitoring first,
/// then by name), so the new one gets the vm_id only once the old root has applied.
fn other_root(from: &str, to: &str, vm_id: u32) -> String {
    format!(
        "moves from the `{from}` root to the `{to}` root: its disk is lost, and the roots apply separately, so apply `{from}` first (`cargo xtask apply {from}`) to free vm_id {vm_id}, or give it another vm_id"
    )
}

/// The fate of every VM of either stack, by name. A VM renamed with its vm_id kept is listed
/// under its old name as re-created, and not again under the new one.
pub fn fates(old: &Stack, new: &Stack, old_tree: &Tree, new_tree: &Tree) -> BTreeMap<String, VmFate> {
    let (a, b) = (all_vms(old), all_vms(new));
    let mut out = BTreeMap::new();
    let mut renamed_to = Vec::new();
    for (name, old_vm) in &a {
        if b.contains_key(name) {
            continue;
        }
        let renamed = b.iter().find(|(n, vm)| !a.contains_key(*n) && vm.vm_id == old_vm.vm_id);
        let f = match renamed {
            Some((new_name, new_vm)) => {
                renamed_to.push(new_name.to_string());
                let why = if *name == old.monitoring.vm.name.as_str() {
                    format!(
                        "VM `{name}` → `{new_name}` (vm_id {}): the monitoring VM's snippets are named after it, and new snippet ids force a new VM",
                        old_vm.vm_id
                    )
                } else if old_vm.environment != new_vm.environment {
                    format!(
                        "VM `{name}` → `{new_name}` (vm_id {}): its snippets are named after it, and new snippet ids force a new VM; it {}",
                        old_vm.vm_id,
                        other_root(&old_vm.environment, &new_vm.environment, old_vm.vm_id)
                    )
                } else {
                    format!(
                        "VM `{name}` → `{new_name}` (vm_id {}): its snippets are named after it, and new snippet ids force a new VM; the old VM is destroyed and the new one created with the same vm_id in one apply, which Proxmox may refuse while the old one exists (apply again, or give the new one another vm_id)",
                        old_vm.vm_id
                    )
                };
                VmFate::new(Fate::Recreated, why)
            }
            None => VmFate::new(Fate::Destroyed, "removed from stack.toml".to_string()),
        };
        out.insert(name.to_string(), f);
    }
    for (name, new_vm) in &b {
        let Some(old_vm) = a.get(name) else {
            if !renamed_to.iter().any(|n| n == name) {
                out.insert(name.to_string(), VmFate::new(Fate::Created, "added to stack.toml".to_string()));
            }
            continue;
        };
        let is_monitoring = *name == new.monitoring.vm.name.as_str();
        out.insert(name.to_string(), one(old, new, old_vm, new_vm, is_monitoring, old_tree, new_tree));
    }
    out
}

fn one(old: &Stack, new: &Stack, a: &Vm, b: &Vm, is_monitoring: bool, old_tree: &Tree, new_tree: &Tree) -> VmFate {
    let mut reasons = Vec::new();
    let mut fate = Fate::Unchanged;
    let mut note = |f: Fate, why: String| {
        fate = fate.max(f);
        reasons.push((f, why));
    };
    if a.vm_id != b.vm_id {
        note(Fate::Recreated, format!("vm_id {} → {}", a.vm_id, b.vm_id));
    }
    if a.environment != b.environment {
        note(Fate::Recreated, other_root(&a.environment, &b.environment, a.vm_id));
    }
    if old.proxmox.snippets_datastore != new.proxmox.snippets_datastore {
        note(
            Fate::Recreated,
            format!("snippets datastore `{}` → `{}`: new snippet ids force a new VM", old.proxmox.snippets_datastore, new.proxmox.snippets_datastore),
        );
    }
    if b.disk_gb < a.disk_gb {
        note(Fate::Refused, format!("disk {} GB → {} GB is refused, Proxmox only grows disks", a.disk_gb, b.disk_gb));
    } else if b.disk_gb > a.disk_gb {
        note(Fate::InPlace, format!("disk {} GB → {} GB (grown live)", a.disk_gb, b.disk_gb));
    }
    if a.node != b.node {
        let how = if a.ha_nodes.is_empty() { "" } else { "; HA-managed: through the HA manager, or out of HA and back for a stopped VM" };
        note(
            Fate::InPlace,
            format!("migrates from node `{}` to `{}` (`migrate = true`; the snippets are uploaded to the new node first{how})", a.node, b.node),
        );
        if !a.ha_nodes.is_empty() && !b.ha_nodes.is_empty() && !a.ha_nodes.contains(&b.node) {
            // The HA manager runs a migrate request to any online node (pve-ha-manager
            // src/PVE/HA/Manager.pm:1402-1420), then places the VM by its rules (:1507).
            note(
                Fate::InPlace,
                format!(
                    "its HA rule allows {} until this apply updates it, after the migration: the HA manager may move the VM back to one of those nodes in between, and the next apply then migrates it again; to avoid it, change `ha_nodes` in one apply and `node` in the next",
                    cluster::list(&a.ha_nodes)
                ),
            );
        }
    }
    match (a.ha_nodes.is_empty(), b.ha_nodes.is_empty()) {
        (true, false) => {
            note(Fate::InPlace, format!("HA on (nodes {}): Terraform creates its HA resource and rule; the VM itself is untouched", cluster::list(&b.ha_nodes)))
        }
        (false, true) => note(
            Fate::InPlace,
            "HA off: Terraform destroys its HA rule and HA resource, which takes the VM out of HA; the VM itself is untouched and runs on".to_string(),
        ),
        (false, false) if a.ha_nodes != b.ha_nodes => note(
            Fate::InPlace,
            format!("HA nodes {} → {}: its HA rule is updated in place; the VM itself is untouched", cluster::list(&a.ha_nodes), cluster::list(&b.ha_nodes)),
        ),
        _ => {}
    }
    if a.cores != b.cores {
        note(Fate::Reboot, format!("cores {} → {} (CPU is not hot-plugged)", a.cores, b.cores));
    }
    if a.memory_mb != b.memory_mb {
        note(Fate::Reboot, format!("memory {} MB → {} MB (memory is not hot-plugged)", a.memory_mb, b.memory_mb));
    }
    let (on, nn) = (&old.network, &new.network);
    let mut net = Vec::new();
    if a.ip != b.ip || on.prefix != nn.prefix {
        net.push(format!("IP {}/{} → {}/{}", a.ip, on.prefix, b.ip, nn.prefix));
    }
    if on.gateway != nn.gateway {
        net.push(format!("gateway {} → {}", on.gateway, nn.gateway));
    }
    if on.dns != nn.dns || on.search_domain != nn.search_domain {
        net.push("DNS".to_string());
    }
    if !net.is_empty() {
        note(
            Fate::Reboot,
            format!(
                "{}: the provider rewrites the cloud-init drive and reboots the VM; the guest applies it at boot (`updates: network: when: [boot]`), except a VM created before that key was in its user data, which keeps its old address until `cloud-init clean --configs network` and a reboot, or a re-creation",
                net.join(", ")
            ),
        );
    }
    if old.proxmox.vm_datastore != new.proxmox.vm_datastore {
        note(
            Fate::Reboot,
            format!("disks move from `{}` to `{}`; moving the cloud-init drive stops the VM", old.proxmox.vm_datastore, new.proxmox.vm_datastore),
        );
    }
    if on.bridge != nn.bridge || on.vlan_id != nn.vlan_id {
        note(Fate::InPlace, "network device (bridge, VLAN) changed (hot-plugged)".to_string());
    }
    if a.tags != b.tags {
        note(Fate::InPlace, "tags changed".to_string());
    }
    if files_differ(old_tree, new_tree, &format!("agents/{}/", b.name)) || (a.agent != b.agent) {
        note(Fate::Delivered, "log agent: install-agent.sh runs again over SSH (or the agent is uninstalled)".to_string());
    }
    if is_monitoring && files_differ(old_tree, new_tree, "compose/") {
        note(Fate::Delivered, "compose tree delivered again; the containers are recreated".to_string());
    }
    if is_monitoring && (old.monitoring.secrets_dir != new.monitoring.secrets_dir) {
        note(Fate::Delivered, format!("secrets written again to `{}`", new.monitoring.secrets_dir));
    }
    let snippet = format!("cloud-init/{}.yaml", b.name);
    if old_tree.get(&snippet) != new_tree.get(&snippet) {
        note(Fate::Delivered, "user data uploaded again; the running VM only read it at its first boot".to_string());
    }
    VmFate { fate, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fates_are_ordered_by_disruption() {
        assert!(Fate::Unchanged < Fate::Delivered && Fate::Delivered < Fate::InPlace && Fate::InPlace < Fate::Reboot);
        assert!(Fate::Reboot < Fate::Refused && Fate::Refused < Fate::Recreated);
    }

    #[test]
    fn every_force_new_names_a_source_line() {
        for f in FORCE_NEW {
            assert!(f.source.contains(".go:"), "{}", f.attribute);
        }
        for f in IN_PLACE {
            assert!(f.source.contains(".go:"), "{}", f.attribute);
        }
    }
}
