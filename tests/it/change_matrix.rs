//! The change matrix: one row per kind of day-2 edit of the example stack.toml, validated as gen
//! validates it: with the day-2 guards against the tree gen wrote before the edit (its roots and
//! their VMs, its Loki periods). Each row says
//! whether the edit is refused (with a located error) or, when it renders, what happens to every
//! VM (`xtask::vm_fate`), and checks that gen of the edit over gen of the original leaves a tree
//! that `check` finds up to date and that a second gen does not touch, and that the pull-request
//! summary says the same fate for each VM (and, for the rows that list them, the sentences about
//! what Terraform does around it: `Says`). Real Terraform, with the provider stubbed out, then
//! checks what it can tell: which deliveries a change (or a re-created VM) runs again. The
//! stub has no ForceNew, so VM replacements themselves are not planned here; the plan guard is
//! tested on a real plan in tests/it/plan_apply.rs.

use crate::common;

use std::collections::BTreeMap;
use std::fs;

use common::{repo_root, temp_dir};
use xtask::review::summarize;
use xtask::stack::Stack;
use xtask::tree::{self, Tree};
use xtask::vm_fate::{self, Fate};

const MON: &str = "pve-mon";
const IA: &str = "prod-alloc-ia";
const BLOG: &str = "prod-blog-the";
const BUDGET: &str = "prod-alloc-budget";

fn example() -> String {
    fs::read_to_string(repo_root().join("stack.toml")).unwrap()
}

/// `from` (which must be in the text) replaced by `to`, once.
fn sub(src: &str, from: &str, to: &str) -> String {
    assert!(src.contains(from), "the example no longer contains {from:?}");
    src.replacen(from, to, 1)
}

/// The text of one `[vms.NAME]` table edited: `from` replaced by `to` inside that table only.
fn in_vm(src: &str, vm: &str, from: &str, to: &str) -> String {
    let start = src.find(&format!("[vms.{vm}]")).unwrap();
    let end = start + src[start..].find("\n\n").unwrap();
    let table = &src[start..end];
    assert!(table.contains(from), "[vms.{vm}] has no {from:?}");
    format!("{}{}{}", &src[..start], table.replacen(from, to, 1), &src[end..])
}

/// One more line at the end of a `[vms.NAME]` table.
fn add_to_vm(src: &str, vm: &str, line: &str) -> String {
    let start = src.find(&format!("[vms.{vm}]")).unwrap();
    let end = start + src[start..].find("\n\n").unwrap();
    format!("{}\n{line}{}", &src[..end], &src[end..])
}

/// The example without any of its VMs (all in `prod`).
fn without_every_vm(src: &str) -> String {
    without_vm(&without_vm(&without_vm(src, BUDGET), IA), BLOG)
}

/// `prod` retired, its VMs acknowledged: what the refusal of removing them all asks for.
fn retire_prod(src: &str) -> String {
    sub(src, "[terraform]\n", &format!("[terraform]\nretired_environments = [\"prod\"]\nacknowledge_recreate = [\"{BUDGET}\", \"{IA}\", \"{BLOG}\"]\n"))
}

fn without_vm(src: &str, vm: &str) -> String {
    let start = src.find(&format!("[vms.{vm}]")).unwrap();
    let end = start + src[start..].find("\n\n").unwrap() + 2;
    format!("{}{}", &src[..start], &src[end..])
}

fn parse(src: &str) -> Result<Stack, String> {
    common::project().parse("stack.toml", src.as_bytes()).map_err(|e| e.to_string())
}

/// `src` validated as gen validates an edit: with the day-2 guards against `old`, the tree gen
/// wrote for the stack before the edit (its Loki periods, its roots and their VMs).
fn parse_edit(src: &str, old: &Tree) -> Result<Stack, String> {
    let before = xtask::project::Project::before_of(old, &old.manifest(), xtask::certs_cmd::now());
    common::project().parse_before("stack.toml", src.as_bytes(), Some(&before)).map_err(|e| e.to_string())
}

fn render(stack: &Stack) -> Tree {
    common::render(stack)
}

enum Expect {
    /// Refused by validation with this message, located (`stack.toml:L:C: key: ...`).
    Rejected(&'static str, &'static str),
    /// Renders; these VMs get these fates, every other VM `others`.
    Fates(&'static [(&'static str, Fate)], Fate),
}

struct Row {
    name: &'static str,
    edit: fn(&str) -> String,
    expect: Expect,
}

use Expect::{Fates, Rejected};
use Fate::*;

fn rows() -> Vec<Row> {
    vec![
        Row { name: "nothing", edit: |s| s.to_string(), expect: Fates(&[], Unchanged) },
        Row {
            name: "add a VM",
            edit: |s| {
                format!("{s}\n[vms.prod-new-app]\nvm_id = 104\nip = \"192.168.1.104\"\nenvironment = \"prod\"\ncores = 2\nmemory_mb = 2048\ndisk_gb = 24\n")
            },
            expect: Fates(&[("prod-new-app", Created), (MON, Delivered)], Unchanged),
        },
        Row { name: "remove a VM", edit: |s| without_vm(s, BLOG), expect: Fates(&[(BLOG, Destroyed), (MON, Delivered)], Unchanged) },
        Row {
            name: "rename a VM",
            edit: |s| sub(s, "[vms.prod-blog-the]", "[vms.prod-blog]"),
            expect: Fates(&[(BLOG, Recreated), (MON, Delivered)], Unchanged),
        },
        Row { name: "rename the monitoring VM", edit: |s| sub(s, "name = \"pve-mon\"", "name = \"pve-mon2\""), expect: Fates(&[(MON, Recreated)], Delivered) },
        Row { name: "move a VM to another node", edit: |s| add_to_vm(s, IA, "node = \"pve2\""), expect: Fates(&[(IA, InPlace)], Unchanged) },
        Row {
            name: "move every VM of an environment to another node",
            edit: |s| ["prod-alloc-budget", IA, BLOG].iter().fold(s.to_string(), |s, vm| add_to_vm(&s, vm, "node = \"pve2\"")),
            expect: Fates(&[("prod-alloc-budget", InPlace), (IA, InPlace), (BLOG, InPlace)], Unchanged),
        },
        Row {
            name: "move the monitoring VM to another node",
            edit: |s| sub(s, "[monitoring]\n", "[monitoring]\nnode = \"pve2\"\n"),
            expect: Fates(&[(MON, InPlace)], Unchanged),
        },
        Row {
            name: "change a VM's IP",
            edit: |s| in_vm(s, IA, "ip = \"192.168.1.102\"", "ip = \"192.168.1.112\""),
            expect: Fates(&[(IA, Reboot), (MON, Delivered)], Unchanged),
        },
        Row {
            name: "IP outside the network",
            edit: |s| in_vm(s, IA, "ip = \"192.168.1.102\"", "ip = \"192.168.2.102\""),
            expect: Rejected("vms.prod-alloc-ia.ip", "outside the network"),
        },
        Row { name: "change the gateway", edit: |s| sub(s, "gateway = \"192.168.1.1\"", "gateway = \"192.168.1.254\""), expect: Fates(&[], Reboot) },
        Row { name: "change DNS", edit: |s| sub(s, "dns = [\"192.168.1.1\"]", "dns = [\"192.168.1.53\"]"), expect: Fates(&[], Reboot) },
        Row { name: "grow cores", edit: |s| in_vm(s, IA, "cores = 4", "cores = 6"), expect: Fates(&[(IA, Reboot)], Unchanged) },
        Row { name: "shrink memory", edit: |s| in_vm(s, IA, "memory_mb = 8192", "memory_mb = 4096"), expect: Fates(&[(IA, Reboot)], Unchanged) },
        Row { name: "grow a disk", edit: |s| in_vm(s, IA, "disk_gb = 40", "disk_gb = 60"), expect: Fates(&[(IA, InPlace)], Unchanged) },
        Row { name: "shrink a disk", edit: |s| in_vm(s, IA, "disk_gb = 40", "disk_gb = 30"), expect: Fates(&[(IA, Refused)], Unchanged) },
        Row { name: "change vm_id", edit: |s| in_vm(s, IA, "vm_id = 102", "vm_id = 112"), expect: Fates(&[(IA, Recreated)], Unchanged) },
        Row { name: "vm_id taken by another VM", edit: |s| in_vm(s, IA, "vm_id = 102", "vm_id = 101"), expect: Rejected("vms.prod-alloc-ia.vm_id", "101") },
        // Under its name, both roots' states would manage its snippets (the day-2 guard).
        Row {
            name: "move a VM to another environment",
            edit: |s| in_vm(s, IA, "environment = \"prod\"", "environment = \"staging\""),
            expect: Rejected("vms.prod-alloc-ia.environment", "would be by the `staging` root too under the same name"),
        },
        Row {
            name: "move a VM to another environment under a new name",
            edit: |s| sub(&in_vm(s, IA, "environment = \"prod\"", "environment = \"staging\""), "[vms.prod-alloc-ia]", "[vms.staging-alloc-ia]"),
            expect: Fates(&[(IA, Recreated), (MON, Delivered)], Unchanged),
        },
        Row { name: "remove every VM of an environment", edit: without_every_vm, expect: Rejected("terraform.retired_environments", "still manages") },
        Row {
            name: "retire an environment",
            edit: |s| retire_prod(&without_every_vm(s)),
            expect: Fates(&[(IA, Destroyed), (BLOG, Destroyed), (BUDGET, Destroyed), (MON, Delivered)], Unchanged),
        },
        Row {
            name: "retire an environment that has no root",
            edit: |s| sub(s, "[terraform]\n", "[terraform]\nretired_environments = [\"staging\"]\n"),
            expect: Rejected("terraform.retired_environments", "has no root of that name"),
        },
        Row {
            name: "the monitoring VM takes a VM's name",
            edit: |s| sub(&without_vm(s, BLOG), "name = \"pve-mon\"", "name = \"prod-blog-the\""),
            expect: Rejected("monitoring.name", "is managed by the `prod` root"),
        },
        Row {
            name: "acknowledge a VM",
            edit: |s| sub(s, "# acknowledge_recreate = [\"prod-blog-the\"]", "acknowledge_recreate = [\"prod-blog-the\"]"),
            expect: Fates(&[], Unchanged),
        },
        Row {
            name: "change the SSH keys",
            edit: |s| {
                sub(s, "admin@laptop\"]", "admin@laptop\", \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG5ldy1rZXktb2YtdGhlLXJldmlldy10ZXN0LTMyYnl0 new@laptop\"]")
            },
            expect: Fates(&[], Delivered),
        },
        Row {
            name: "agent promtail → alloy",
            edit: |s| add_to_vm(s, IA, "log_agent = \"alloy\""),
            expect: Fates(&[(IA, Delivered), (MON, Delivered)], Unchanged),
        },
        Row { name: "agent → none", edit: |s| add_to_vm(s, IA, "log_agent = \"none\""), expect: Fates(&[(IA, Delivered), (MON, Delivered)], Unchanged) },
        Row { name: "docker on", edit: |s| sub(s, "# docker = true ", "docker = true   "), expect: Fates(&[(IA, Delivered)], Unchanged) },
        Row {
            name: "add a route",
            edit: |s| format!("{s}\n[routes.budget]\nvm = \"prod-alloc-budget\"\nport = 8080\n"),
            expect: Fates(&[(MON, Delivered)], Unchanged),
        },
        Row {
            name: "route to a VM that does not exist",
            edit: |s| format!("{s}\n[routes.budget]\nvm = \"prod-nope\"\nport = 8080\n"),
            expect: Rejected("routes.budget.vm", "prod-nope"),
        },
        Row { name: "TLS off", edit: |s| sub(s, "[tls]\nenabled = true", "[tls]\nenabled = false"), expect: Fates(&[(MON, Delivered)], Unchanged) },
        Row {
            name: "Loki retention",
            edit: |s| sub(s, "retention_days = 7\nhost_port", "retention_days = 14\nhost_port"),
            expect: Fates(&[(MON, Delivered)], Unchanged),
        },
        Row {
            name: "Loki retention below the target",
            edit: |s| sub(s, "retention_days = 7\nhost_port", "retention_days = 3\nhost_port"),
            expect: Rejected("services.loki.retention_days", "7"),
        },
        Row {
            name: "add a remote-write endpoint",
            edit: |s| {
                sub(
                    s,
                    "memory_reservation_mb = 512\n\n[services.grafana]",
                    "memory_reservation_mb = 512\n\n[[services.prometheus.remote_write]]\nname = \"mimir\"\nurl = \"https://mimir.home.lan/api/v1/push\"\nbearer_token = { env = \"MIMIR_TOKEN\" }\n\n[services.grafana]",
                )
            },
            expect: Fates(&[(MON, Delivered)], Unchanged),
        },
        Row {
            name: "Loki on an S3 bucket",
            edit: |s| {
                sub(
                    s,
                    "memory_reservation_mb = 160\n",
                    "memory_reservation_mb = 160\nstorage = \"s3\"\n\n[services.loki.s3]\nendpoint = \"s3.home.lan:9000\"\nbucket = \"loki\"\nregion = \"us-east-1\"\nfrom = \"2999-01-01\"\n",
                )
            },
            expect: Fates(&[(MON, Delivered)], Unchanged),
        },
        Row {
            name: "Prometheus retention below the rules' look-back",
            edit: |s| sub(s, "retention_days = 15\nscrape", "retention_hours = 1\nscrape"),
            expect: Rejected("services.prometheus.retention_hours", "LogAgentNotSending"),
        },
        Row {
            name: "Loki on an S3 bucket over plain http",
            edit: |s| {
                sub(
                    s,
                    "memory_reservation_mb = 160\n",
                    "memory_reservation_mb = 160\nstorage = \"s3\"\n\n[services.loki.s3]\nendpoint = \"http://s3.home.lan:9000\"\nbucket = \"loki\"\nregion = \"us-east-1\"\nfrom = \"2999-01-01\"\n",
                )
            },
            expect: Rejected("services.loki.s3.endpoint", "plain http://"),
        },
        Row {
            name: "scrape interval",
            edit: |s| sub(s, "scrape_interval_seconds = 30", "scrape_interval_seconds = 15"),
            expect: Fates(&[(MON, Delivered)], Unchanged),
        },
        Row { name: "alert timing", edit: |s| sub(s, "group_wait_seconds = 15", "group_wait_seconds = 10"), expect: Fates(&[(MON, Delivered)], Unchanged) },
        Row { name: "image bump", edit: |s| sub(s, "grafana/grafana:13.3.0", "grafana/grafana:13.4.0"), expect: Fates(&[(MON, Delivered)], Unchanged) },
        Row { name: "provider bump", edit: |s| sub(s, "provider_version = \"0.111.1\"", "provider_version = \"0.111.2\""), expect: Fates(&[], Unchanged) },
        Row {
            name: "secrets_dir",
            edit: |s| sub(s, "secrets_dir = \"/etc/monitoring-secrets\"", "secrets_dir = \"/etc/mon-secrets\""),
            expect: Fates(&[(MON, Delivered)], Unchanged),
        },
        Row {
            name: "stack_dir",
            edit: |s| sub(s, "stack_dir = \"/opt/monitoring\"", "stack_dir = \"/opt/mon\""),
            expect: Fates(&[(MON, Delivered)], Unchanged),
        },
        Row { name: "snippets datastore", edit: |s| sub(s, "snippets_datastore = \"local\"", "snippets_datastore = \"nfs\""), expect: Fates(&[], Recreated) },
        Row {
            name: "cloud image",
            edit: |s| sub(s, "images/cloud/trixie/latest/debian-13", "images/cloud/trixie/20260901-2222/debian-13"),
            expect: Fates(&[], Unchanged),
        },
        Row { name: "admin_cidr", edit: |s| sub(s, "admin_cidr = \"192.168.1.0/24\"", "admin_cidr = \"192.168.1.0/25\""), expect: Fates(&[], Unchanged) },
        Row {
            name: "Proxmox CA file while insecure",
            edit: |s| sub(s, "insecure = true ", "ca_file = \"infrastructure/pve-ca.pem\"\ninsecure = true "),
            expect: Rejected("proxmox.ca_file", "insecure = true"),
        },
        Row {
            name: "acknowledgement with a bad name",
            edit: |s| sub(s, "# acknowledge_recreate = [\"prod-blog-the\"]", "acknowledge_recreate = [\"Prod Blog\"]"),
            expect: Rejected("terraform.acknowledge_recreate", "is not a VM name"),
        },
    ]
}

/// Gen of `old`, then gen of `new`, into one generated/ directory: check finds it up to date,
/// and gen again touches nothing.
fn gen_then_check(name: &str, old: &Tree, new: &Tree) {
    let dir = temp_dir(&format!("matrix-{}", name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")));
    tree::write(old, &dir).unwrap();
    tree::write(new, &dir).unwrap();
    let drift = tree::drift(new, &dir).unwrap();
    assert!(drift.is_empty(), "{name}: check after gen finds drift: {:?}", drift.iter().map(|d| d.path.clone()).collect::<Vec<_>>());
    let again = tree::write(new, &dir).unwrap();
    assert!(again.created.is_empty() && again.updated.is_empty() && again.removed.is_empty(), "{name}: a second gen wrote files");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn every_kind_of_edit_is_refused_or_says_what_happens_to_each_vm() {
    let rows = rows();
    assert!(rows.len() >= 25, "the matrix has {} kinds of edit", rows.len());
    run_rows(&example(), &rows, NODE_MOVES);
}

/// A node move is a migration; the VM's root downloads the cloud image to the new node when
/// none of its VMs was there, and deletes its copy on a node none of them is left on (each
/// VM's disk was imported from it: `disk[0].import_from` is ignored after creation).
const NODE_MOVES: &Says = &[
    ("move a VM to another environment under a new name", &["moves from the `prod` root to the `staging` root", "apply `prod` first"]),
    (
        "retire an environment",
        &[
            "**root `prod` retired**: kept with no VM, so `cargo xtask apply prod` destroys every VM its state has",
            "**acknowledge_recreate** now names `prod-alloc-budget`, `prod-alloc-ia`, `prod-blog-the`",
            "`prod-blog-the`: **destroyed (its disk is lost)**",
        ],
    ),
    ("acknowledge a VM", &["**acknowledge_recreate** now names `prod-blog-the`"]),
    ("change the SSH keys", &["**SSH keys** of `prod-alloc-budget`, `prod-alloc-ia`, `prod-blog-the`, `pve-mon` change only in the first-boot user data"]),
    ("TLS off", &["**secret file(s) left on `pve-mon`**: `/etc/monitoring-secrets/tls/leaf.key` is no longer delivered"]),
    ("move a VM to another node", &["`prod-alloc-ia`: migrates from node `pve` to `pve2`", "cloud image: root `prod` downloads it to node `pve2` too"]),
    (
        "move every VM of an environment to another node",
        &["cloud image: root `prod` downloads it to node `pve2` too", "cloud image: root `prod` deletes its copy on node `pve`"],
    ),
    (
        "move the monitoring VM to another node",
        &[
            "`pve-mon`: migrates from node `pve` to `pve2`",
            "cloud image: root `monitoring` downloads it to node `pve2` too",
            "cloud image: root `monitoring` deletes its copy on node `pve`",
        ],
    ),
];

/// The second step of a retirement: from the retired, empty `prod` root, the entry removed
/// (after its apply) removes the root; giving the environment a VM again while retired is
/// refused.
#[test]
fn a_retired_root_goes_when_its_entry_does() {
    let retired = retire_prod(&without_every_vm(&example()));
    let rows = [
        Row { name: "retired: the entry removed", edit: |s| sub(s, "retired_environments = [\"prod\"]\n", ""), expect: Fates(&[], Unchanged) },
        Row {
            name: "retired: a VM in the environment again",
            edit: |s| format!("{s}\n[vms.prod-new-app]\nvm_id = 104\nip = \"192.168.1.104\"\nenvironment = \"prod\"\n"),
            expect: Rejected("terraform.retired_environments", "environment `prod` is retired, but VMs are still in it"),
        },
    ];
    let says: &Says = &[("retired: the entry removed", &["**root `prod` removed**: gen deletes generated/terraform/environments/prod/"])];
    run_rows(&retired, &rows, says);
}

/// The example as a three-node cluster (`proxmox.nodes`) with HA on `prod-alloc-ia`: the base
/// of the HA rows.
fn cluster() -> String {
    let s = sub(&example(), "node = \"pve\"\n", "node = \"pve\"\nnodes = [\"pve\", \"pve2\", \"pve3\"]\n");
    add_to_vm(&s, IA, "ha = true")
}

/// Edits of the cluster: the node list, HA on and off, the nodes an HA VM may run on, and a VM
/// moved while HA manages it. HA changes leave the VM itself untouched (in place: only its HA
/// resource and rule change); a node change is a migration, never a re-creation.
fn cluster_rows() -> Vec<Row> {
    vec![
        Row { name: "cluster: nothing", edit: |s| s.to_string(), expect: Fates(&[], Unchanged) },
        Row {
            name: "cluster: a node added to the list",
            edit: |s| sub(s, "nodes = [\"pve\", \"pve2\", \"pve3\"]", "nodes = [\"pve\", \"pve2\", \"pve3\", \"pve4\"]"),
            // The HA VM's default `ha_nodes` is every node: its rule gains pve4.
            expect: Fates(&[(IA, InPlace)], Unchanged),
        },
        Row {
            name: "cluster: a node removed while a VM is on it",
            edit: |s| sub(&in_vm(s, BLOG, "environment = \"prod\"", "environment = \"prod\"\nnode = \"pve3\""), "\"pve2\", \"pve3\"]", "\"pve2\"]"),
            expect: Rejected("vms.prod-blog-the.node", "is not in proxmox.nodes"),
        },
        Row { name: "cluster: HA on", edit: |s| add_to_vm(s, BLOG, "ha = true"), expect: Fates(&[(BLOG, InPlace)], Unchanged) },
        Row { name: "cluster: HA off", edit: |s| in_vm(s, IA, "\nha = true", "\nha = false"), expect: Fates(&[(IA, InPlace)], Unchanged) },
        Row {
            name: "cluster: ha_nodes changed",
            edit: |s| in_vm(s, IA, "\nha = true", "\nha = true\nha_nodes = [\"pve\", \"pve2\"]"),
            expect: Fates(&[(IA, InPlace)], Unchanged),
        },
        Row { name: "cluster: HA VM moved to another node", edit: |s| add_to_vm(s, IA, "node = \"pve2\""), expect: Fates(&[(IA, InPlace)], Unchanged) },
        Row {
            name: "cluster: HA VM moved to a node its HA rule does not allow yet",
            edit: |s| {
                let s = sub(s, "nodes = [\"pve\", \"pve2\", \"pve3\"]", "nodes = [\"pve\", \"pve2\", \"pve3\", \"pve4\"]");
                let s = in_vm(&s, IA, "\nha = true", "\nha = true\nha_nodes = [\"pve3\", \"pve4\"]");
                add_to_vm(&s, IA, "node = \"pve4\"")
            },
            // Migrated, never re-created: the summary says the HA manager may move it back once.
            expect: Fates(&[(IA, InPlace)], Unchanged),
        },
        Row {
            name: "cluster: ha_nodes without the VM's own node",
            edit: |s| in_vm(s, IA, "\nha = true", "\nha = true\nha_nodes = [\"pve2\"]"),
            expect: Rejected("vms.prod-alloc-ia.ha_nodes", "own node `pve`"),
        },
    ]
}

#[test]
fn every_kind_of_cluster_edit_is_refused_or_says_what_happens_to_each_vm() {
    // The HA VM's node change migrates it (through the HA manager) and brings the image along.
    let says: &Says = &[(
        "cluster: HA VM moved to another node",
        &["`prod-alloc-ia`: migrates from node `pve` to `pve2`", "cloud image: root `prod` downloads it to node `pve2` too"],
    )];
    run_rows(&cluster(), &cluster_rows(), says);
}

/// The example grown as README's "Growing the lab" shows: one remote-write endpoint with basic
/// auth and a drop pattern, and Loki on a bucket from a day far ahead. The base of the rows
/// that take those settings back or change them.
fn grown() -> String {
    let s = sub(
        &example(),
        "memory_reservation_mb = 512\n\n[services.grafana]",
        "memory_reservation_mb = 512\n\n[[services.prometheus.remote_write]]\nname = \"mimir\"\nurl = \"https://mimir.home.lan/api/v1/push\"\nusername = \"lab\"\npassword = { env = \"MIMIR_PASSWORD\" }\ndrop_series = [\"go_gc_.*\"]\n\n[services.grafana]",
    );
    sub(
        &s,
        "memory_reservation_mb = 160\n",
        "memory_reservation_mb = 160\nstorage = \"s3\"\n\n[services.loki.s3]\nendpoint = \"s3.home.lan:9000\"\nbucket = \"loki\"\nregion = \"us-east-1\"\nfrom = \"2999-01-01\"\n",
    )
}

/// Edits of the grown lab, each with what the pull-request summary must say beyond the VMs'
/// fates: what happens to the metrics and logs already stored and to the secrets on the VM.
/// Every one only redelivers the monitoring VM's files.
fn grown_rows() -> Vec<(Row, &'static [&'static str])> {
    vec![
        (Row { name: "grown: nothing", edit: |s| s.to_string(), expect: Fates(&[], Unchanged) }, &[]),
        (
            Row {
                name: "grown: remote-write endpoint removed",
                edit: |s| {
                    let start = s.find("[[services.prometheus.remote_write]]").unwrap();
                    let end = start + s[start..].find("\n\n").unwrap() + 2;
                    format!("{}{}", &s[..start], &s[end..])
                },
                expect: Fates(&[(MON, Delivered)], Unchanged),
            },
            &["**remote write removed**: `mimir`", "remote_write_mimir_password"],
        ),
        (
            Row {
                name: "grown: more series dropped before sending",
                edit: |s| sub(s, "drop_series = [\"go_gc_.*\"]", "drop_series = [\"go_gc_.*\", \"process_.*\"]"),
                expect: Fates(&[(MON, Delivered)], Unchanged),
            },
            &["**remote write** `mimir`: dropped series `go_gc_.*` → `go_gc_.*`, `process_.*`"],
        ),
        (
            Row {
                name: "grown: Prometheus keeps 72 hours",
                edit: |s| sub(s, "retention_days = 15\nscrape", "retention_hours = 72\nscrape"),
                expect: Fates(&[(MON, Delivered)], Unchanged),
            },
            &["**stored metrics deleted**"],
        ),
        (
            Row {
                name: "grown: Loki back on the disk before the bucket's day",
                edit: |s| {
                    let start = s.find("storage = \"s3\"").unwrap();
                    let end = s.find("from = \"2999-01-01\"\n").unwrap() + "from = \"2999-01-01\"\n".len();
                    format!("{}{}", &s[..start], &s[end..])
                },
                expect: Fates(&[(MON, Delivered)], Unchanged),
            },
            &["**Loki storage s3 → filesystem**", "loki.env` stays on the VM"],
        ),
        (
            Row {
                name: "grown: Loki's bucket changed",
                edit: |s| sub(s, "bucket = \"loki\"", "bucket = \"loki-2\""),
                expect: Fates(&[(MON, Delivered)], Unchanged),
            },
            &["**Loki's bucket changed** `loki` at `s3.home.lan:9000` → `loki-2`"],
        ),
    ]
}

#[test]
fn every_kind_of_grown_lab_edit_says_what_happens_to_the_data_and_secrets() {
    let (rows, says): (Vec<Row>, Vec<&[&str]>) = grown_rows().into_iter().unzip();
    let says: Vec<(&str, &[&str])> = rows.iter().map(|r| r.name).zip(says).collect();
    run_rows(&grown(), &rows, &says);
}

/// Sentences the pull-request summary of a row must hold besides the VMs' fates (what Terraform
/// does around them: downloads, data, secrets), by row name.
type Says = [(&'static str, &'static [&'static str])];

fn run_rows(src: &str, rows: &[Row], says: &Says) {
    let old = parse(src).unwrap();
    let old_tree = render(&old);
    let mut failures = Vec::new();
    for (name, _) in says {
        assert!(rows.iter().any(|r| r.name == *name), "sentences for a row the matrix does not have: {name}");
    }
    for row in rows {
        let new_src = (row.edit)(src);
        match (&row.expect, parse_edit(&new_src, &old_tree)) {
            (Rejected(key, part), Err(report)) => {
                let located = report.lines().any(|l| {
                    l.starts_with("stack.toml:")
                        && l.split(':').nth(1).is_some_and(|n| n.parse::<u32>().is_ok())
                        && l.contains(&format!(": {key}: "))
                        && l.contains(part)
                });
                if !located {
                    failures.push(format!("{}: expected `stack.toml:L:C: {key}: …{part}…`, got:\n{report}", row.name));
                }
            }
            (Rejected(..), Ok(_)) => failures.push(format!("{}: expected a refusal, but it validates", row.name)),
            (Fates(..), Err(report)) => failures.push(format!("{}: refused:\n{report}", row.name)),
            (Fates(listed, others), Ok(new)) => {
                let new_tree = render(&new);
                gen_then_check(row.name, &old_tree, &new_tree);
                let fates = vm_fate::fates(&old, &new, &old_tree, &new_tree);
                let want: BTreeMap<&str, Fate> =
                    fates.keys().map(|n| (n.as_str(), listed.iter().find(|(l, _)| *l == n).map_or(*others, |(_, f)| *f))).collect();
                for (name, f) in listed.iter() {
                    if !fates.contains_key(*name) {
                        failures.push(format!("{}: no fate for `{name}` (expected {f:?})", row.name));
                    }
                }
                let got: BTreeMap<&str, Fate> = fates.iter().map(|(n, f)| (n.as_str(), f.fate)).collect();
                if got != want {
                    failures.push(format!("{}: fates\n  got  {got:?}\n  want {want:?}\n  why  {fates:?}", row.name));
                }
                // The pull-request summary says it, VM by VM.
                let summary = summarize(&old, &new, &old_tree, &new_tree);
                for (name, f) in &fates {
                    let line = format!("- `{name}`: **{}**", f.fate.label());
                    if (f.fate == Unchanged) == summary.contains(&line) {
                        failures.push(format!("{}: the summary does not say `{line}` right:\n{summary}", row.name));
                    }
                }
                if fates.values().any(|f| f.fate == Recreated) != summary.contains("### Terraform will likely re-create") {
                    failures.push(format!("{}: the re-creation section disagrees with the fates:\n{summary}", row.name));
                }
                let parts = says.iter().filter(|(name, _)| *name == row.name).flat_map(|(_, parts)| parts.iter());
                failures
                    .extend(parts.filter(|part| !summary.contains(**part)).map(|part| format!("{}: the summary does not say {part:?}:\n{summary}", row.name)));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} rows failed:\n\n{}", failures.len(), rows.len(), failures.join("\n\n"));
}

/// Every VM's user data applies the network config at every boot (so an IP, gateway or DNS
/// change reaches the guest), and upgrades packages on first boot as Proxmox's own would.
#[test]
fn user_data_applies_network_config_at_every_boot() {
    let stack = parse(&example()).unwrap();
    let tree = render(&stack);
    let mut seen = 0;
    for (path, bytes) in tree.files().filter(|(p, _)| p.starts_with("cloud-init/")) {
        let doc: serde_norway::Value = serde_norway::from_slice(bytes).unwrap();
        let when: Vec<&str> = doc["updates"]["network"]["when"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{path}: no updates.network.when"))
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(when, ["boot"], "{path}");
        assert_eq!(doc["package_upgrade"].as_bool(), Some(true), "{path}");
        seen += 1;
    }
    assert_eq!(seen, 1 + stack.vms.len());
}

/// The snippet ids the VM is given are the ones the provider makes (`<datastore>:snippets/<file>`,
/// known at plan time), and every delivery is keyed on the VM's MAC address, not its vm_id.
#[test]
fn snippet_ids_are_known_at_plan_time_and_deliveries_follow_the_vm() {
    let tree = render(&parse(&example()).unwrap());
    let vm = String::from_utf8(tree.get("terraform/modules/vm/main.tf").unwrap().to_vec()).unwrap();
    assert!(vm.contains("user_data_file_id = \"${var.snippets_datastore_id}:snippets/${var.name}-user-data.yaml\""), "{vm}");
    assert!(vm.contains("user_data_file_id = local.user_data_file_id") && vm.contains("meta_data_file_id = local.meta_data_file_id"));
    assert!(!vm.contains("initialization[0].user_data_file_id"), "the id is no longer ignored: it is stable");
    assert!(vm.contains("instance = proxmox_virtual_environment_vm.this.network_device[0].mac_address"));
    let mon = String::from_utf8(tree.get("terraform/modules/monitoring-stack/main.tf").unwrap().to_vec()).unwrap();
    assert_eq!(mon.matches("instance    = module.vm.instance").count() + mon.matches("instance  = module.vm.instance").count(), 2, "{mon}");
    assert!(mon.contains("secrets_dir = var.secrets_dir") && mon.contains("stack_dir = var.stack_dir"));
    assert!(!mon.contains("vm_id   = module.vm.vm_id"), "a trigger still keys on the vm_id");
}

/// The agent removal script that runs for `log_agent = "none"` passes shellcheck, as rendered by
/// Terraform (its `$${` escapes undone).
#[test]
fn the_agent_removal_script_passes_shellcheck() {
    let Some(shellcheck) = common::validator("shellcheck") else { return };
    let tree = render(&parse(&example()).unwrap());
    let vm = String::from_utf8(tree.get("terraform/modules/vm/main.tf").unwrap().to_vec()).unwrap();
    let start = vm.find("agent_removal_script = <<-EOT\n").expect("the removal script") + "agent_removal_script = <<-EOT\n".len();
    let body = &vm[start..start + vm[start..].find("\n  EOT\n").unwrap()];
    let script: String = body.lines().map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l).replace("$${", "${"))).collect();
    assert!(script.starts_with("#!/usr/bin/env bash\n") && script.contains("apt-get purge"), "{script}");
    let dir = temp_dir("removal-script");
    let path = dir.join("remove-agent.sh");
    fs::write(&path, &script).unwrap();
    common::run_ok(std::process::Command::new(shellcheck).arg(&path), "shellcheck of the agent removal script");
    common::run_ok(std::process::Command::new("bash").arg("-n").arg(&path), "bash -n of the agent removal script");
}

// ---- Real Terraform on the rendered roots, the bpg/proxmox resources stubbed out ----
//
// The stub (common::stub_provider, as in tests/it/terraform.rs) removes the provider's resources,
// stands `terraform_data.vm_stub` for each VM (its id for the MAC address, which changes when it
// is replaced), and drops provisioners and connections so that an offline apply can make
// a state. What it can tell: which deliveries (agents, secrets, compose) a change makes Terraform
// run again.

/// A lab directory whose generated/ is `tree` with the provider stubbed (the state survives).
fn put_tree(repo: &std::path::Path, tree: &Tree) {
    let _ = fs::remove_dir_all(repo.join("generated"));
    for (path, bytes) in tree.files() {
        let dest = repo.join("generated").join(path);
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::write(dest, bytes).unwrap();
    }
    common::stub_provider(&repo.join("generated/terraform"), common::Provisioners::Drop);
}

/// Applies `old`'s root `env` offline, then plans `new`'s (with `extra` plan arguments), and
/// returns each resource change as `action address`.
fn stub_plan(tf: &std::path::Path, name: &str, old: &Stack, new: &Stack, env: &str, extra: &[&str]) -> Vec<String> {
    let secrets: Vec<(String, String)> = xtask::targets::terraform::monitoring_secrets(new)
        .iter()
        .map(|(role, s)| {
            (format!("TF_VAR_{}", s.tf_var), if *role == "telegram_bot_token" { format!("123456789:{}", "A".repeat(35)) } else { format!("{role}-value") })
        })
        .collect();
    let repo = temp_dir(&format!("stub-plan-{name}"));
    fs::create_dir_all(repo.join(".secrets")).unwrap();
    fs::write(repo.join(&new.tls.leaf_key), "leaf-key").unwrap();
    let root = repo.join("generated/terraform/environments").join(env);
    let run = |args: &[&str]| {
        let out = std::process::Command::new(tf)
            .arg(format!("-chdir={}", root.display()))
            .args(args)
            .envs(secrets.clone())
            .env("TF_IN_AUTOMATION", "1")
            .output()
            .unwrap();
        let all = format!("{}{}", common::text(&out.stdout), common::text(&out.stderr));
        assert!(out.status.success(), "{name}: terraform {args:?}:\n{all}");
        common::text(&out.stdout)
    };
    put_tree(&repo, &render(old));
    run(&["init", "-input=false"]);
    run(&["apply", "-input=false", "-auto-approve"]);
    put_tree(&repo, &render(new));
    run(&["init", "-input=false"]);
    run(&[&["plan", "-input=false", "-out=change.tfplan"][..], extra].concat());
    let json = run(&["show", "-json", "change.tfplan"]);
    let _ = fs::remove_dir_all(&repo);
    let changes = xtask::plan_guard::changes(&json, &[]).unwrap();
    xtask::plan_guard::table(&changes).into_iter().map(|l| l.split("  (").next().unwrap().split_whitespace().collect::<Vec<_>>().join(" ")).collect()
}

#[test]
fn real_terraform_redelivers_what_each_change_needs() {
    let Some(tf) = common::validator("terraform") else { return };
    let src = example();
    let old = parse(&src).unwrap();
    let changed = |from: &str, to: &str| parse(&sub(&src, from, to)).unwrap();
    // Nothing changed: nothing to do.
    assert_eq!(stub_plan(&tf, "nothing", &old, &old, "prod", &[]), Vec::<String>::new());
    // A new secrets_dir: every secret is written again, then the stack is delivered.
    let plan =
        stub_plan(&tf, "secrets-dir", &old, &changed("secrets_dir = \"/etc/monitoring-secrets\"", "secrets_dir = \"/etc/mon-secrets\""), "monitoring", &[]);
    for file in ["autokuma.env", "grafana_admin_password", "telegram_bot_token", "tls/leaf.key"] {
        assert!(plan.contains(&format!("replace module.monitoring.terraform_data.secret[\"{file}\"]")), "{plan:?}");
    }
    assert!(plan.contains(&"replace module.monitoring.terraform_data.compose".to_string()), "{plan:?}");
    // A new stack_dir: the stack is delivered again (to the new directory).
    let plan = stub_plan(&tf, "stack-dir", &old, &changed("stack_dir = \"/opt/monitoring\"", "stack_dir = \"/opt/mon\""), "monitoring", &[]);
    assert_eq!(plan, ["replace module.monitoring.terraform_data.compose"], "{plan:?}");
    // A re-created monitoring VM (here `-replace` of its stand-in): secrets and stack again.
    let plan = stub_plan(&tf, "replace-mon", &old, &old, "monitoring", &["-replace=module.monitoring.module.vm.terraform_data.vm_stub"]);
    assert!(plan.contains(&"replace module.monitoring.module.vm.terraform_data.vm_stub".to_string()), "{plan:?}");
    assert!(plan.contains(&"replace module.monitoring.terraform_data.compose".to_string()), "{plan:?}");
    assert!(plan.contains(&"replace module.monitoring.terraform_data.secret[\"telegram_bot_token\"]".to_string()), "{plan:?}");
    // A re-created VM gets its agent again.
    let plan = stub_plan(&tf, "replace-vm", &old, &old, "prod", &["-replace=module.prod_alloc_ia.terraform_data.vm_stub"]);
    assert_eq!(plan, ["replace module.prod_alloc_ia.terraform_data.log_agent[0]", "replace module.prod_alloc_ia.terraform_data.vm_stub"], "{plan:?}");
    // promtail → alloy: install-agent.sh runs again; → none: the removal runs instead.
    let alloy = parse(&add_to_vm(&src, IA, "log_agent = \"alloy\"")).unwrap();
    let plan = stub_plan(&tf, "alloy", &old, &alloy, "prod", &[]);
    assert_eq!(plan, ["replace module.prod_alloc_ia.terraform_data.log_agent[0]"], "{plan:?}");
    let none = parse(&add_to_vm(&src, IA, "log_agent = \"none\"")).unwrap();
    let plan = stub_plan(&tf, "none", &old, &none, "prod", &[]);
    assert_eq!(
        plan,
        ["delete module.prod_alloc_ia.terraform_data.log_agent[0]", "create module.prod_alloc_ia.terraform_data.log_agent_removal[0]"],
        "{plan:?}"
    );
}
