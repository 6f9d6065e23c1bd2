//! The first section of the pull-request summary, "To approve on purpose": one test per kind of
//! change an operator must see in the first lines (TLS and URL schemes, CA, leaf, firewall,
//! targets and derived figures, memory budget, agents, secrets folder, Proxmox, HA per VM).

use crate::common;

use std::fs;

use common::{git, render, repo_copy, repo_root, text, xtask};
use xtask::review::{summarize, summarize_with_workflow};
use xtask::stack::Stack;

fn example_src() -> String {
    fs::read_to_string(repo_root().join("stack.toml")).unwrap()
}

/// The stack with its committed certificates, as `cargo xtask diff` loads it.
fn parse(src: &str) -> Stack {
    common::project().parse("stack.toml", src.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

fn edit(src: &str, from: &str, to: &str) -> String {
    assert!(src.contains(from), "the example no longer contains {from:?}");
    src.replacen(from, to, 1)
}

fn summary_of(old: &Stack, new: &Stack) -> String {
    summarize(old, new, &render(old), &render(new))
}

fn summary(old_src: &str, new_src: &str) -> String {
    summary_of(&parse(old_src), &parse(new_src))
}

/// The lines of the first section, which must be "To approve on purpose", right after the title.
fn first_section(out: &str) -> Vec<String> {
    let body = out.strip_prefix("## Stack changes\n\n### To approve on purpose\n\n").unwrap_or_else(|| panic!("not the first section:\n{out}"));
    body.lines().take_while(|l| l.starts_with("- ")).map(|l| l[2..].to_string()).collect()
}

fn assert_first(out: &str, needle: &str) {
    let lines = first_section(out);
    assert!(lines.iter().any(|l| l.contains(needle)), "{needle:?} not in the first section:\n{out}");
}

#[test]
fn no_change_has_no_approval_section() {
    let src = example_src();
    assert!(!summary(&src, &src).contains("To approve on purpose"));
}

#[test]
fn tls_off_names_the_scheme_port_443_and_routes_as_http() {
    let old = example_src();
    let new = edit(&old, "[tls]\nenabled = true", "[tls]\nenabled = false");
    let out = summary(&old, &new);
    assert_first(&out, "**TLS on → off**: every URL goes from `https://` to `http://`");
    assert_first(&out, "**firewall closed** on `pve-mon`: tcp 443 from 192.168.1.0/24 (was Traefik (the routed services) from the LAN)");
    assert!(!out.contains("No change to VMs"), "{out}");
    // A route added while TLS is off is shown with the scheme clients will use.
    let wiki = format!("{new}\n[routes.wiki]\nvm = \"prod-blog-the\"\nport = 8080\n");
    let out = summary(&new, &wiki);
    assert!(out.contains("- added `http://wiki.home.lan` → http://192.168.1.103:8080"), "{out}");
}

#[test]
fn a_replaced_ca_and_a_reissued_leaf() {
    let src = example_src();
    let old = parse(&src);
    let mut new = parse(&src);
    let now = xtask::certs_cmd::now();
    let ca = xtask::tls::new_ca("home.lan", now).unwrap();
    let leaf = xtask::tls::issue_leaf(&ca.cert_pem, &ca.key_pem, &xtask::tls::wanted_names(&new), now, 397).unwrap();
    new.tls.certs.ca = Some(ca.cert_pem.clone());
    new.tls.certs.leaf = Some(leaf.cert_pem);
    let out = summary_of(&old, &new);
    assert_first(&out, "**CA replaced** (`infrastructure/tls/ca.crt`): every device must import the new CA");
    assert_first(&out, "**leaf certificate reissued** (`infrastructure/tls/leaf.crt`, 4 name(s)): apply `monitoring`");
    // A new leaf alone: devices need nothing.
    let mut renewed = parse(&src);
    renewed.tls.certs.leaf = Some(xtask::tls::issue_leaf(&ca.cert_pem, &ca.key_pem, &xtask::tls::wanted_names(&old), now, 397).unwrap().cert_pem);
    let out = summary_of(&old, &renewed);
    assert_first(&out, "leaf certificate reissued");
    assert!(!out.contains("CA replaced"), "{out}");
}

#[test]
fn firewall_rules_opened_and_closed_name_vm_port_and_source() {
    let old = example_src();
    let new = edit(&old, "admin_cidr = \"192.168.1.0/24\"", "admin_cidr = \"192.168.1.0/28\"");
    let out = summary(&old, &new);
    assert_first(&out, "**firewall opened** on `prod-blog-the`: tcp 22 from 192.168.1.0/28 (SSH from the admin network)");
    assert_first(&out, "**firewall closed** on `prod-blog-the`: tcp 22 from 192.168.1.0/24 (was SSH from the admin network)");
    let routed = format!("{old}\n[routes.wiki]\nvm = \"prod-blog-the\"\nport = 8080\n");
    assert_first(&summary(&old, &routed), "**firewall opened** on `prod-blog-the`: tcp 8080 from 192.168.1.51 (route wiki.home.lan from Traefik");
}

#[test]
fn relaxed_targets_and_derived_figures_are_shown_before_and_after() {
    let old = example_src();
    let new = edit(&old, "failure_detection_seconds = 120", "failure_detection_seconds = 600");
    assert_first(&summary(&old, &new), "**targets**: failure detection target 120 s → 600 s");
    let slow = edit(&new, "instance_down_for_seconds = 30", "instance_down_for_seconds = 400");
    let out = summary(&new, &slow);
    assert_first(&out, "InstanceDown `for` 30 s → 400 s");
    assert_first(&out, "**derived figures**: alert worst-case detection ");
    let kept = edit(&old, "retention_days = 7\nhost_port", "retention_days = 14\nhost_port");
    assert_first(&summary(&old, &kept), "Loki retention 7 days → 14 days");
}

#[test]
fn a_shorter_retention_says_which_stored_data_is_deleted() {
    let old = example_src();
    let short = edit(&old, "retention_days = 15\n", "retention_hours = 72\n");
    let out = summary(&old, &short);
    assert_first(
        &out,
        "**stored metrics deleted**: Prometheus keeps 72 h instead of 15 days: when it restarts with this change it deletes the blocks of `pve-mon`'s disk older than 72 h",
    );
    assert_first(&out, "nothing else holds a copy");
    let remote = with_remote_write("[[services.prometheus.remote_write]]\nname = \"victoria\"\nurl = \"https://vm.home.lan/api/v1/write\"\n");
    let out = summary(&remote, &edit(&remote, "retention_days = 15\n", "retention_hours = 72\n"));
    assert_first(&out, "remote write does not send them (it sends only samples newer than Prometheus's start)");
    // Longer is no deletion.
    assert!(!summary(&short, &old).contains("stored metrics deleted"));
    let logs = edit(&old, "retention_days = 7\nhost_port", "retention_days = 14\nhost_port");
    assert_first(
        &summary(&logs, &old),
        "**stored logs deleted**: Loki keeps 7 days instead of 14: its compactor (every 10 minutes) marks the logs older than 7 days",
    );
    assert!(!summary(&old, &logs).contains("stored logs deleted"));
}

#[test]
fn the_memory_budget_before_and_after() {
    let old = example_src();
    let new = edit(&old, "memory_limit_mb = 768", "memory_limit_mb = 640");
    assert_first(&summary(&old, &new), "**memory budget** of `pve-mon`: container limits 3200 MB → 3072 MB");
}

#[test]
fn agents_changed() {
    let old = example_src();
    let new = edit(&old, "default_agent = \"promtail\"", "default_agent = \"alloy\"");
    let out = summary(&old, &new);
    assert_first(
        &out,
        "**log agents**: `prod-alloc-budget` promtail → alloy, `prod-alloc-ia` promtail → alloy, `prod-blog-the` promtail → alloy (a new agent: install-agent.sh runs over SSH and removes the other one;",
    );
    let none = summary(&old, &edit(&old, "default_agent = \"promtail\"", "default_agent = \"none\""));
    assert_first(&none, "`none`: the agent is removed over SSH where stack.toml authorizes a key, else left running)");
    assert_first(&out, "**log agent versions**: default agent promtail → alloy");
}

#[test]
fn the_secrets_folder() {
    let old = example_src();
    let new = edit(&old, "secrets_dir = \"/etc/monitoring-secrets\"", "secrets_dir = \"/srv/secrets\"");
    assert_first(&summary(&old, &new), "**secrets folder** on `pve-mon`: `/etc/monitoring-secrets` → `/srv/secrets`");
}

#[test]
fn the_proxmox_connection() {
    let old = example_src();
    let new = edit(
        &edit(&edit(&old, "endpoint = \"https://192.168.1.10:8006/\"", "endpoint = \"https://192.168.1.11:8006/\""), "node = \"pve\"", "node = \"pve2\""),
        "snippets_datastore = \"local\"",
        "snippets_datastore = \"nfs\"",
    );
    let out = summary(&old, &new);
    assert_first(
        &out,
        "**Proxmox**: endpoint `https://192.168.1.10:8006/` → `https://192.168.1.11:8006/`; node `pve` → `pve2`; snippets datastore `local` → `nfs`",
    );
}

/// The example as a three-node cluster, with HA on `prod-alloc-ia` when `ha`.
fn cluster(ha: &str) -> String {
    let s = edit(&example_src(), "node = \"pve\"\n", "node = \"pve\"\nnodes = [\"pve\", \"pve2\", \"pve3\"]\n");
    edit(&s, "disk_gb = 40\n", &format!("disk_gb = 40\n{ha}"))
}

#[test]
fn ha_on_off_and_its_nodes_per_vm() {
    let on = summary(&cluster(""), &cluster("ha = true\n"));
    assert_first(
        &on,
        "**HA** (Proxmox HA manager; the VMs themselves are untouched, each needs its disks on shared storage to fail over): `prod-alloc-ia` off → on (nodes `pve`, `pve2`, `pve3`)",
    );
    assert!(on.contains("HA on (nodes `pve`, `pve2`, `pve3`): Terraform creates its HA resource and rule; the VM itself is untouched"), "{on}");
    let off = summary(&cluster("ha = true\n"), &cluster(""));
    assert_first(&off, "`prod-alloc-ia` on → off (the VM leaves HA and runs on)");
    let nodes = summary(&cluster("ha = true\n"), &cluster("ha = true\nha_nodes = [\"pve\", \"pve2\"]\n"));
    assert_first(&nodes, "`prod-alloc-ia` nodes `pve`, `pve2`, `pve3` → `pve`, `pve2`");
    let listed = summary(&example_src(), &cluster(""));
    assert_first(&listed, "**Proxmox**: cluster nodes not listed → `pve`, `pve2`, `pve3`");
}

#[test]
fn the_command_puts_tls_off_in_its_first_lines() {
    let root = repo_copy("review-lab-diff");
    common::commit_as_main(&root);
    let src = fs::read_to_string(root.join("stack.toml")).unwrap();
    fs::write(root.join("stack.toml"), edit(&src, "[tls]\nenabled = true", "[tls]\nenabled = false")).unwrap();
    let out = xtask(&root, &["diff", "--markdown", "--base", "main"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let first: Vec<&str> = stdout.lines().take(6).collect();
    assert_eq!(first[..4], ["## Stack changes", "", "### To approve on purpose", ""], "{stdout}");
    assert!(first[4].starts_with("- **TLS on → off**: every URL goes from `https://` to `http://`"), "{stdout}");
    assert!(stdout.contains("- **firewall closed** on `pve-mon`: tcp 443 from 192.168.1.0/24"), "{stdout}");
    assert!(!stdout.contains("No change to VMs"), "{stdout}");
}

/// The example with `tables` after its `[services.prometheus]`.
fn with_remote_write(tables: &str) -> String {
    edit(&example_src(), "memory_reservation_mb = 512\n\n[services.grafana]", &format!("memory_reservation_mb = 512\n\n{tables}\n[services.grafana]"))
}

const MIMIR: &str = "[[services.prometheus.remote_write]]\nname = \"mimir\"\nurl = \"https://mimir.home.lan/api/v1/push\"\nusername = \"lab\"\npassword = { env = \"MIMIR_PASSWORD\" }\ndrop_series = [\"go_gc_.*\"]\n";
const VICTORIA: &str =
    "[[services.prometheus.remote_write]]\nname = \"victoria\"\nurl = \"https://vm.home.lan/api/v1/write\"\nbearer_token = { env = \"VM_TOKEN\" }\n";

#[test]
fn remote_write_endpoints_added_and_removed_are_announced_with_what_stays_behind() {
    let none = example_src();
    let one = with_remote_write(MIMIR);
    let out = summary(&none, &one);
    assert_first(
        &out,
        "**remote write added**: `mimir` → `https://mimir.home.lan/api/v1/push` (basic auth as `lab`, password from `MIMIR_PASSWORD`; 1 series pattern(s) dropped; queue up to 15 MB): Prometheus sends every sample it keeps there from now on",
    );
    assert_first(&out, "remote write (queues and series cache, inside Prometheus's limit) 0 MB → 271 MB");
    let two = with_remote_write(&format!("{MIMIR}\n{VICTORIA}"));
    let out = summary(&one, &two);
    assert_first(&out, "**remote write added**: `victoria` → `https://vm.home.lan/api/v1/write` (bearer token from `VM_TOKEN`;");
    assert!(!out.contains("remote write added**: `mimir`"), "an unchanged endpoint is not announced:\n{out}");
    let out = summary(&two, &none);
    assert_first(
        &out,
        "**remote write removed**: `victoria` (`https://vm.home.lan/api/v1/write`): Prometheus stops sending to it; what it already received stays there; its secret file `/etc/monitoring-secrets/remote_write_victoria_token` stays on the VM until you delete it",
    );
    assert_first(&out, "**remote write removed**: `mimir`");
}

#[test]
fn a_changed_remote_write_endpoint_says_before_and_after() {
    let old = with_remote_write(MIMIR);
    let new = edit(
        &old,
        "drop_series = [\"go_gc_.*\"]\n",
        "drop_series = [\"go_gc_.*\", \"process_.*\"]\n\n[services.prometheus.remote_write.queue]\nmax_shards = 20\n",
    );
    let out = summary(&old, &new);
    assert_first(
        &out,
        "**remote write** `mimir`: dropped series `go_gc_.*` → `go_gc_.*`, `process_.*`; queue 10 shards × 5000 (+1000 per send), 15 MB → 20 shards × 5000 (+1000 per send), 30 MB",
    );
}

/// The example with Loki on a bucket from `from`.
fn on_s3(src: &str, bucket: &str, from: &str) -> String {
    edit(
        src,
        "memory_reservation_mb = 160\n",
        &format!(
            "memory_reservation_mb = 160\nstorage = \"s3\"\n\n[services.loki.s3]\nendpoint = \"s3.home.lan:9000\"\nbucket = \"{bucket}\"\nregion = \"us-east-1\"\nfrom = \"{from}\"\n"
        ),
    )
}

#[test]
fn loki_storage_changes_say_what_happens_to_the_logs_already_stored() {
    let old = example_src();
    let s3 = on_s3(&old, "loki", "2027-06-01");
    assert_first(
        &summary(&old, &s3),
        "**Loki storage filesystem → s3** (bucket `loki` at `s3.home.lan:9000`): from 2027-06-01 (00:00 UTC) new logs go to the bucket; the logs before stay on `pve-mon`'s disk and are read from there until they are 7 days old (retention), then deleted; the keys come from `LOKI_S3_ACCESS_KEY_ID` and `LOKI_S3_SECRET_ACCESS_KEY` where Terraform runs (written to `<secrets_dir>/loki.env`, never to git); create the bucket before this apply: the compactor keeps its delete requests there from Loki's next start",
    );
    assert_first(
        &summary(&s3, &old),
        "**Loki storage s3 → filesystem**: the bucket's period (from 2027-06-01) is dropped, which gen accepts only before that day: no logs are in the bucket yet (only the compactor's delete requests), and logs stay on `pve-mon`'s disk; the bucket's keys file `/etc/monitoring-secrets/loki.env` stays on the VM until you delete it",
    );
    assert_first(&summary(&s3, &on_s3(&old, "loki", "2027-07-01")), "**Loki's bucket period moved** 2027-06-01 → 2027-07-01");
    assert_first(
        &summary(&s3, &on_s3(&old, "loki-2", "2027-06-01")),
        "**Loki's bucket changed** `loki` at `s3.home.lan:9000` → `loki-2` at `s3.home.lan:9000`: Loki reads every day since 2027-06-01 from the new bucket only",
    );
}

#[test]
fn a_new_secret_says_what_ci_needs_and_whether_the_workflow_passes_it() {
    let old = example_src();
    let new = with_remote_write(VICTORIA);
    let (a, b) = (parse(&old), parse(&new));
    let workflow = fs::read_to_string(repo_root().join(".github/workflows/terraform.yml")).unwrap();
    let out = summarize_with_workflow(&a, &b, &render(&a), &render(&b), Some(&workflow));
    assert_first(
        &out,
        "**new secret** `VM_TOKEN`: export it where Terraform runs (`cargo xtask plan` passes it as `TF_VAR_vm_token`); `.github/workflows/terraform.yml` does not pass it yet: add `TF_VAR_vm_token: ${{ secrets.VM_TOKEN }}` to the `env:` of its plan and apply jobs",
    );
    let passed = format!("{workflow}\n      TF_VAR_vm_token: ${{{{ secrets.VM_TOKEN }}}}\n");
    let out = summarize_with_workflow(&a, &b, &render(&a), &render(&b), Some(&passed));
    assert_first(
        &out,
        "`.github/workflows/terraform.yml` passes it (`TF_VAR_vm_token: ${{ secrets.VM_TOKEN }}`): add the repository secret `VM_TOKEN` on GitHub",
    );
    // Only new ones: the example's own secrets, and a secret already there, are not listed.
    assert!(!out.contains("`TELEGRAM_BOT_TOKEN`"), "{out}");
    assert!(!summary(&new, &new).contains("new secret"));
    // Loki's keys, and a renamed API token (it reaches Terraform as PROXMOX_VE_API_TOKEN).
    let s3 = on_s3(&old, "loki", "2027-06-01");
    assert_first(&summary(&old, &s3), "**new secret** `LOKI_S3_SECRET_ACCESS_KEY`");
    let token = edit(&old, "api_token = { env = \"PROXMOX_VE_API_TOKEN\" }", "api_token = { env = \"LAB_PVE_TOKEN\" }");
    assert_first(
        &summary(&old, &token),
        "**new secret** `LAB_PVE_TOKEN`: export it where Terraform runs (`cargo xtask plan` passes it as `PROXMOX_VE_API_TOKEN`); in CI, `PROXMOX_VE_API_TOKEN: ${{ secrets.LAB_PVE_TOKEN }}`",
    );
}

/// A branch made before the bucket's `from` drops the s3 period; by the time it is reviewed the
/// period has begun at the base. Its own generated/ never had the period (check passes), so the
/// review runs the day-2 guard against the Loki config committed at the base and refuses.
#[test]
fn the_review_refuses_a_stale_branch_that_drops_a_period_begun_at_the_base() {
    let root = repo_copy("review-lab-stale-loki");
    common::commit_as_main(&root);
    let example = fs::read_to_string(root.join("stack.toml")).unwrap();
    fs::write(root.join("stack.toml"), on_s3(&example, "loki", "2099-01-01")).unwrap();
    let out = xtask(&root, &["gen", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The day has come at the base: the bucket's period began on 2024-05-01.
    for file in ["stack.toml", "generated/compose/loki/loki-config.yml"] {
        let path = root.join(file);
        let before = fs::read_to_string(&path).unwrap();
        assert!(before.contains("\"2099-01-01\""), "{file}");
        fs::write(&path, before.replace("\"2099-01-01\"", "\"2024-05-01\"")).unwrap();
    }
    git(&root, &["commit", "-q", "-a", "-m", "loki on s3, begun"]);
    // The stale branch: the example's stack.toml and generated/, without the period.
    git(&root, &["checkout", "-q", "HEAD~1", "--", "stack.toml", "generated"]);
    let check = xtask(&root, &["check", "-q", "--no-memo"]);
    assert!(check.status.success(), "its own generated/ agrees: {}", text(&check.stderr));
    let out = xtask(&root, &["diff", "--markdown", "--base", "main"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Refused: against generated/ as committed at `main`, this change is not safe to apply"), "{stdout}");
    assert!(stdout.contains("services.loki.storage: this edit rewrites the schema period that began on 2024-05-01 (object_store s3"), "{stdout}");
    // Against the example itself, the same branch is no change at all.
    let same = xtask(&root, &["diff", "--markdown", "--base", "main~1"]);
    assert!(same.status.success(), "{}", text(&same.stderr));
}

#[test]
fn an_acknowledgement_alone_is_a_change_to_approve() {
    let old = example_src();
    let new = edit(&old, "# acknowledge_recreate = [\"prod-blog-the\"]", "acknowledge_recreate = [\"prod-blog-the\"]");
    let out = summary(&old, &new);
    assert!(!out.contains("No change"), "{out}");
    assert_first(&out, "**acknowledge_recreate** now names `prod-blog-the`: `cargo xtask plan|apply` accept a plan that re-creates or deletes it");
    assert_first(&summary(&new, &old), "**acknowledge_recreate** no longer names `prod-blog-the`: a plan that re-creates or deletes it is refused again");
}

#[test]
fn a_secret_file_a_switch_stops_delivering_is_said_to_stay_on_the_vm() {
    let old = example_src();
    let new = edit(&old, "[tls]\nenabled = true", "[tls]\nenabled = false");
    assert_first(
        &summary(&old, &new),
        "**secret file(s) left on `pve-mon`**: `/etc/monitoring-secrets/tls/leaf.key` is no longer delivered; Terraform does not delete it from the VM",
    );
    assert!(!summary(&new, &old).contains("left on"), "turning TLS on leaves nothing behind");
}

#[test]
fn changed_ssh_keys_are_said_to_reach_no_running_vm() {
    let old = example_src();
    let new = edit(&old, "admin@laptop\"]", "admin@laptop\", \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG5ldy1rZXktb2YtdGhlLXJldmlldy10ZXN0LTMyYnl0 new@laptop\"]");
    let out = summary(&old, &new);
    assert_first(
        &out,
        "**SSH keys** of `prod-alloc-budget`, `prod-alloc-ia`, `prod-blog-the`, `pve-mon` change only in the first-boot user data: the running VM(s) keep the keys they have (a removed key still logs in)",
    );
}
