//! Bad stack.toml files get every problem at once, each located as `stack.toml:LINE:COL: key:`
//! with what was expected and a hint. Each case edits `tests/bad/base.toml` in one spot; the
//! exact report is a snapshot, so its wording is reviewed too.

use crate::common;

use xtask::stack;

fn base() -> String {
    std::fs::read_to_string(common::repo_root().join("tests/bad/base.toml")).unwrap()
}

/// Applies `(from, to)` replacements to the base, each of which must match.
fn edit(edits: &[(&str, &str)]) -> String {
    let mut src = base();
    for (from, to) in edits {
        assert!(src.contains(from), "case edit `{from}` does not match the base");
        src = src.replacen(from, to, 1);
    }
    src
}

fn report(src: &str) -> String {
    match stack::from_str("stack.toml", src) {
        Ok(_) => panic!("the stack was accepted"),
        Err(report) => {
            common::record_rules(&report);
            report.to_string()
        }
    }
}

/// One case: a name, the edits, and a snapshot of the report.
fn check(name: &str, edits: &[(&str, &str)]) {
    let out = report(&edit(edits));
    assert_snapshot!(name, out);
}

#[test]
fn the_base_is_valid() {
    stack::from_str("stack.toml", &base()).unwrap();
}

#[test]
fn syntax_error() {
    check("syntax_error", &[("cores = 4", "cores = = 4")]);
}

#[test]
fn truncated_file() {
    let src = base();
    let cut = &src[..src.find("[vms.prod-alloc-ia]").unwrap() + 10];
    assert_snapshot!("truncated_file", report(cut));
}

#[test]
fn unknown_key_with_did_you_mean() {
    check("unknown_key", &[("disk_gb = 40", "disk_gbb = 40")]);
}

#[test]
fn unknown_section() {
    check("unknown_section", &[("[alerting]\n", "[alertting]\n")]);
}

#[test]
fn unknown_service() {
    check("unknown_service", &[("[services.alertmanager]", "[services.alertmanger]")]);
}

#[test]
fn key_the_service_does_not_take() {
    check("service_key", &[("admin_user = \"admin\"", "admin_user = \"admin\"\nretention_days = 3")]);
}

#[test]
fn wrong_types() {
    check("wrong_types", &[("cores = 4", "cores = \"four\""), ("enabled = true", "enabled = \"yes\"")]);
}

#[test]
fn missing_key() {
    check("missing_key", &[("vm_id = 103\n", "")]);
}

#[test]
fn invalid_ip_and_cidr() {
    check("invalid_ip_cidr", &[("ip = \"192.168.1.102\"", "ip = \"192.168.1.300\""), ("cidr = \"192.168.1.0/24\"", "cidr = \"192.168.1.0/33\"")]);
}

#[test]
fn ip_outside_network_and_gateway() {
    check("ip_outside", &[("ip = \"192.168.1.102\"", "ip = \"192.168.2.102\""), ("ip = \"192.168.1.103\"", "ip = \"192.168.1.1\"")]);
}

#[test]
fn duplicate_vm_ids_and_ips() {
    check("duplicates", &[("vm_id = 102", "vm_id = 101"), ("ip = \"192.168.1.103\"", "ip = \"192.168.1.51\"")]);
}

#[test]
fn duplicate_vm_name_is_a_toml_error() {
    check("duplicate_name", &[("[vms.prod-blog-the]", "[vms.prod-alloc-ia]")]);
}

#[test]
fn monitoring_name_reused_by_a_vm() {
    check("name_reused", &[("[vms.prod-blog-the]", "[vms.pve-mon]")]);
}

#[test]
fn names_that_are_not_dns_labels() {
    check("bad_names", &[("[vms.prod-blog-the]", "[vms.\"../../etc\"]"), ("[vms.prod-alloc-ia]", "[vms.Prod_IA]")]);
}

#[test]
fn vm_name_starting_with_a_digit() {
    check("digit_name", &[("[vms.prod-blog-the]", "[vms.1blog]")]);
}

#[test]
fn duplicate_host_ports() {
    check("host_ports", &[("host_port = 3100", "host_port = 443")]);
}

#[test]
fn image_without_tag_or_latest() {
    check("images", &[("\"grafana/grafana:13.3.0\"", "\"grafana/grafana\""), ("\"prom/alertmanager:v0.34.0\"", "\"prom/alertmanager:latest\"")]);
}

#[test]
fn secret_given_as_a_literal() {
    check("literal_secret", &[("bot_token = { env = \"TELEGRAM_BOT_TOKEN\" }", "bot_token = \"123456:ABC-DEF\"")]);
}

#[test]
fn secret_reference_with_a_bad_name() {
    check("bad_secret_ref", &[("{ env = \"GRAFANA_ADMIN_PASSWORD\" }", "{ env = \"grafana password\" }")]);
}

#[test]
fn retention_shorter_than_the_target() {
    check("retention", &[("retention_days = 7\nhost_port", "retention_days = 3\nhost_port")]);
}

#[test]
fn memory_limits_exceed_the_vm() {
    check("memory", &[("memory_mb = 4096", "memory_mb = 2048")]);
}

#[test]
fn additions_exceed_the_memory_target() {
    check("memory_target", &[("memory_reservation_mb = 160", "memory_reservation_mb = 400")]);
}

#[test]
fn detection_above_the_target() {
    check("detection", &[("retries = 2", "retries = 5")]);
}

#[test]
fn prometheus_detection_above_the_target() {
    check("prometheus_detection", &[("instance_down_for_seconds = 30", "instance_down_for_seconds = 300")]);
}

/// `for` holds for whole rule evaluations (every scrape interval, 30 s here): 31 s is 60 s, so
/// a down host is seen after 145 s, not 116 s (measured with Prometheus: a `for` of 45 s
/// evaluated every 25 s went from pending to firing in 50.8 s).
#[test]
fn prometheus_detection_counts_for_in_whole_evaluations() {
    check("prometheus_detection_rounded", &[("instance_down_for_seconds = 30", "instance_down_for_seconds = 31")]);
    let worst = |for_s: &str| {
        let src = edit(&[("instance_down_for_seconds = 30", &format!("instance_down_for_seconds = {for_s}"))]);
        stack::from_str("stack.toml", &src).unwrap().alerting.worst_case_detection_seconds
    };
    assert_eq!(worst("30"), 30 + 10 + 30 + 30 + 15);
    assert_eq!(worst("16"), worst("30"), "16 s of `for` is one whole evaluation of 30 s");
}

#[test]
fn schema_version_and_domain() {
    check("schema_domain", &[("schema_version = 1", "schema_version = 2"), ("domain = \"home.lan\"", "domain = \"Home LAN\"")]);
}

#[test]
fn log_agents_without_a_loki_port() {
    check("loki_port", &[("host_port = 3100", "host_port = 0")]);
}

#[test]
fn unknown_log_agent() {
    check("log_agent", &[("default_agent = \"promtail\"", "default_agent = \"fluentd\"")]);
}

#[test]
fn state_and_keys_inside_generated() {
    check(
        "paths_in_generated",
        &[("state_dir = \".state\"", "state_dir = \"generated/state\""), ("ca_key = \".secrets/ca.key\"", "ca_key = \"generated/tls/ca.key\"")],
    );
}

#[test]
fn tls_certs_dir_under_generated() {
    check("tls_certs_dir", &[("min_version = \"1.2\"", "min_version = \"1.2\"\ncerts_dir = \"generated/compose/tls\"")]);
}

#[test]
fn tls_settings() {
    check("tls", &[("leaf_validity_days = 397", "leaf_validity_days = 825"), ("min_version = \"1.2\"", "min_version = \"1.0\"")]);
}

#[test]
fn endpoint_and_environment() {
    check(
        "endpoint_env",
        &[
            ("endpoint = \"https://192.168.1.10:8006/\"", "endpoint = \"http://pve:8006/api2/json\""),
            ("environment = \"prod\"\ncores = 1", "environment = \"monitoring\"\ncores = 1"),
        ],
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let out = report(&edit(&[
        ("cores = 4", "cores = \"four\""),
        ("ip = \"192.168.1.103\"", "ip = \"10.0.0.1\""),
        ("retention_days = 7\nhost_port", "retention_days = 1\nhost_port"),
    ]));
    assert!(out.ends_with("3 problems in stack.toml"), "{out}");
}

/// A `[routes.NAME]` table added before `[logging]` of the base.
fn with_route(name: &str, vm: &str, port: u16) -> String {
    format!("[routes.{name}]\nvm = \"{vm}\"\nport = {port}\n\n[logging]\n")
}

#[test]
fn route_to_a_vm_that_does_not_exist() {
    check("route_unknown_vm", &[("[logging]\n", &with_route("wiki", "prod-blog-th", 8080))]);
}

#[test]
fn route_whose_name_a_service_already_routes() {
    check("route_name_clash", &[("[logging]\n", &with_route("grafana", "prod-blog-the", 8080))]);
}

#[test]
fn route_to_traefik_itself_on_the_monitoring_vm() {
    check("route_loop", &[("[logging]\n", &with_route("proxy", "pve-mon", 443))]);
}

#[test]
fn route_to_a_published_port_of_the_monitoring_stack() {
    check("route_published_port", &[("[logging]\n", &with_route("logs", "pve-mon", 3100))]);
}

#[test]
fn route_to_a_compose_service_port_by_the_vm_address() {
    check("route_internal_port", &[("[logging]\n", &with_route("dash", "pve-mon", 3000))]);
}

#[test]
fn route_to_the_monitoring_vm_on_a_free_port_is_accepted() {
    stack::from_str("stack.toml", &edit(&[("[logging]\n", &with_route("backup", "pve-mon", 8007))])).unwrap();
}

#[test]
fn routed_host_longer_than_a_domain_name() {
    let label = "a".repeat(60);
    let domain = format!("domain = \"{label}.{label}.{label}.{label}\"");
    check("route_host_too_long", &[("domain = \"home.lan\"", &domain)]);
}

#[test]
fn detection_exactly_at_the_target_is_accepted() {
    // 30 + 3 × 30 = 120 s, the target itself.
    let stack = stack::from_str("stack.toml", &edit(&[("retries = 2", "retries = 3")])).unwrap();
    assert_eq!(stack.services.uptime_kuma.worst_case_detection_seconds, stack.targets.failure_detection_seconds);
}

#[test]
fn route_health_path_that_is_not_a_path() {
    let route = format!("{}health_path = \"healthz\"\n\n[logging]\n", with_route("wiki", "prod-blog-the", 8080).trim_end_matches("\n[logging]\n"));
    check("route_health_path", &[("[logging]\n", &route)]);
}

#[test]
fn bad_default_user() {
    check(
        "default_user",
        &[("file_name = \"debian-13-genericcloud-amd64.qcow2\"\n", "file_name = \"debian-13-genericcloud-amd64.qcow2\"\ndefault_user = \"Deb Ian\"\n")],
    );
}

#[test]
fn provider_version() {
    check("provider_version", &[("state_dir = \".state\"", "state_dir = \".state\"\nprovider_version = \"~> 0.111\"")]);
}

/// The report of the edited base, which must be exactly `expected` (lines joined by `\n`).
fn exact(edits: &[(&str, &str)], expected: &[&str]) {
    assert_eq!(report(&edit(edits)), expected.join("\n"));
}

#[test]
fn a_local_domain_is_refused_for_mdns() {
    exact(
        &[("domain = \"home.lan\"", "domain = \"home.local\"")],
        &[
            "stack.toml:6:10: domain: `home.local` is under .local, which devices resolve with multicast DNS (RFC 6762), not with your DNS server: the routed names would not resolve",
            "  hint: use `home.arpa` (RFC 8375, for home networks) or a name such as `home.lan`",
            "1 problem in stack.toml",
        ],
    );
}

#[test]
fn domain_messages_name_the_rule() {
    let rule = |d: &str| {
        let out = report(&edit(&[("domain = \"home.lan\"", &format!("domain = \"{d}\""))]));
        out.lines().next().unwrap().strip_prefix("stack.toml:6:10: domain: ").unwrap().to_string()
    };
    assert_eq!(rule("lan"), "`lan` is a single label: a domain needs at least two, e.g. `home.lan`");
    assert_eq!(rule("Home.LAN"), "`Home.LAN` has uppercase letters: write `home.lan` (names are compared in lowercase)");
    assert_eq!(
        rule("home.lan."),
        "`home.lan.` ends with a dot: write `home.lan` (URLs, certificates and Traefik's Host rules name hosts without the trailing dot)"
    );
    assert_eq!(rule("a..lan"), "`a..lan` has an empty label (two dots in a row, or a leading dot)");
    assert_eq!(rule("my_lab.lan"), "`my_lab.lan` has '_' in the label `my_lab`: only letters, digits and inner hyphens");
}

#[test]
fn a_vm_on_the_proxmox_node_address() {
    exact(
        &[("ip = \"192.168.1.101\"", "ip = \"192.168.1.10\"")],
        &[
            "stack.toml:56:6: vms.prod-alloc-budget.ip: 192.168.1.10 is the Proxmox node's own address (proxmox.endpoint)",
            "  hint: give the VM a free address of network.cidr",
            "1 problem in stack.toml",
        ],
    );
}

#[test]
fn the_gateway_as_the_network_address() {
    exact(
        &[("gateway = \"192.168.1.1\"", "gateway = \"192.168.1.0\"")],
        &[
            "stack.toml:33:11: network.gateway: 192.168.1.0 is the network address of 192.168.1.0/24, not a host",
            "  hint: the gateway is your router's address, e.g. the .1 of the network",
            "1 problem in stack.toml",
        ],
    );
}

#[test]
fn an_endpoint_port_out_of_range() {
    for port in ["0", "70000", "x"] {
        let out = report(&edit(&[("https://192.168.1.10:8006/", &format!("https://192.168.1.10:{port}/"))]));
        assert!(
            out.starts_with(&format!("stack.toml:18:12: proxmox.endpoint: port `{port}` of `https://192.168.1.10:{port}/` is not a TCP port (1 to 65535)\n")),
            "{out}"
        );
    }
}

#[test]
fn a_malformed_digest() {
    exact(
        &[("image = \"grafana/loki:3.7.6\"", "image = \"grafana/loki:3.7.6@sha256:abc123\"")],
        &[
            "stack.toml:134:9: services.loki.image: digest `sha256:abc123` of `grafana/loki:3.7.6@sha256:abc123` is malformed: a digest is `sha256:` and 64 lowercase hex digits",
            "  hint: copy it from `docker buildx imagetools inspect IMAGE`, or drop `@...` and pin the tag only",
            "1 problem in stack.toml",
        ],
    );
    let good = format!("image = \"grafana/loki:3.7.6@sha256:{}\"", "0123456789abcdef".repeat(4));
    stack::from_str("stack.toml", &edit(&[("image = \"grafana/loki:3.7.6\"", &good)])).unwrap();
}

#[test]
fn uptime_kuma_1_with_autokuma_2() {
    exact(
        &[("louislam/uptime-kuma:2.5.3", "louislam/uptime-kuma:1.23.16")],
        &[
            "stack.toml:146:9: services.uptime_kuma.image: `louislam/uptime-kuma:1.23.16` is Uptime Kuma 1, but `ghcr.io/bigboot/autokuma:2.0.0` is AutoKuma 2, which only talks to Uptime Kuma 2",
            "  hint: use Uptime Kuma 2 (e.g. `louislam/uptime-kuma:2.5.3`), or AutoKuma's `uptime-kuma-v1-latest` image",
            "1 problem in stack.toml",
        ],
    );
}

#[test]
fn ports_the_stack_already_uses_on_a_vm() {
    let mut src = edit(&[("host_port = 3100", "host_port = 22")]);
    src.push_str("\n[routes.nodex]\nvm = \"prod-blog-the\"\nport = 9100\n\n[routes.agent]\nvm = \"prod-alloc-ia\"\nport = 9080\n");
    assert_eq!(
        report(&src),
        [
            "stack.toml:136:13: services.loki.host_port: host port 22 of the monitoring VM is SSH, which Terraform's provisioners and you log in with",
            "  hint: pick a port that nothing on the monitoring VM uses",
            "stack.toml:166:8: routes.nodex.port: port 9100 of `prod-blog-the` is already used by node exporter, which runs on every VM: the route would expose that instead of the application",
            "  hint: route to the port the application itself listens on",
            "stack.toml:170:8: routes.agent.port: port 9080 of `prod-alloc-ia` is already used by the Promtail agent's metrics: the route would expose that instead of the application",
            "  hint: route to the port the application itself listens on",
            "3 problems in stack.toml",
        ]
        .join("\n")
    );
}

#[test]
fn an_unknown_key_hides_no_later_problem() {
    exact(
        &[("bridge = \"vmbr0\"", "bridge = \"vmbr0\"\nmtu = 9000"), ("ip = \"192.168.1.102\"", "ip = \"10.0.0.5\""), ("vm_id = 103", "vm_id = 102")],
        &[
            "stack.toml:36:1: network.mtu: unknown key `mtu`",
            "  hint: the keys here are: cidr, gateway, dns, bridge, vlan_id, admin_cidr, search_domain",
            "stack.toml:65:6: vms.prod-alloc-ia.ip: 10.0.0.5 is outside the network 192.168.1.0/24",
            "  hint: pick an address of network.cidr",
            "stack.toml:72:9: vms.prod-blog-the.vm_id: vm_id 102 is already used by vms.prod-alloc-ia",
            "  hint: Proxmox VM ids must be unique",
            "3 problems in stack.toml",
        ],
    );
}

#[test]
fn integer_overflow_says_out_of_range() {
    exact(
        &[("vm_id = 101", "vm_id = 99999999999999999999")],
        &[
            "stack.toml:55:9: vms.prod-alloc-budget.vm_id: 99999999999999999999 is out of range: stack.toml integers are 64-bit",
            "  hint: write a number between -9223372036854775808 and 9223372036854775807 (and within this key's own range)",
            "1 problem in stack.toml",
        ],
    );
}

#[test]
fn an_unquoted_ip_is_not_an_invalid_float() {
    exact(
        &[("ip = \"192.168.1.101\"", "ip = 192.168.1.101")],
        &[
            "stack.toml:56:13: invalid TOML: `192.168.1.101` is not a number: an address is a string",
            "  hint: quote it: \"192.168.1.101\"",
            "1 problem in stack.toml",
        ],
    );
}

#[test]
fn a_misspelt_section_is_not_reported_as_missing_keys_elsewhere() {
    exact(
        &[("[proxmox]\n", "[proxmx]\n")],
        &[
            "stack.toml:17:2: proxmx: unknown section `proxmx`",
            "  hint: did you mean `proxmox`? rename [proxmx] (and its sub-tables) to [proxmox]",
            "1 problem in stack.toml",
        ],
    );
}

#[test]
fn a_file_that_is_not_utf8_is_located() {
    let mut bytes = base().into_bytes();
    let at = bytes.windows(8).position(|w| w == b"home.lan").unwrap();
    bytes[at] = 0xe9;
    let err = stack::from_bytes("stack.toml", &bytes).err().unwrap().to_string();
    assert_eq!(
        err,
        "stack.toml:6:11: not UTF-8 text: byte 0xe9 is not valid UTF-8 (TOML files are UTF-8)\n  hint: save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 stack.toml > stack.utf8.toml` and move it back\n1 problem in stack.toml"
    );
}

// A Proxmox cluster (`proxmox.nodes`) and HA (`ha`, `ha_nodes`): README, "A Proxmox cluster with HA".
const NODES: (&str, &str) = ("node = \"pve\"\n", "node = \"pve\"\nnodes = [\"pve\", \"pve2\", \"pve3\"]\n");

#[test]
fn a_vm_node_not_in_the_cluster_nodes() {
    check("cluster_node_not_in_nodes", &[NODES, ("disk_gb = 40\n", "disk_gb = 40\nnode = \"pve4\"\n")]);
}

#[test]
fn a_vm_node_misspelt_gets_a_did_you_mean() {
    check("cluster_node_did_you_mean", &[NODES, ("disk_gb = 40\n", "disk_gb = 40\nnode = \"pev2\"\n")]);
}

#[test]
fn the_provider_node_not_in_the_cluster_nodes() {
    check("cluster_provider_node_not_in_nodes", &[("node = \"pve\"\n", "node = \"pve\"\nnodes = [\"pve2\", \"pve3\"]\n")]);
}

#[test]
fn a_node_listed_twice() {
    check("cluster_duplicate_node", &[("node = \"pve\"\n", "node = \"pve\"\nnodes = [\"pve\", \"pve2\", \"pve\"]\n")]);
}

#[test]
fn an_empty_node_list() {
    check("cluster_empty_nodes", &[("node = \"pve\"\n", "node = \"pve\"\nnodes = []\n")]);
}

#[test]
fn ha_nodes_without_the_cluster_nodes() {
    check("cluster_ha_nodes_without_nodes", &[("disk_gb = 40\n", "disk_gb = 40\nha = true\nha_nodes = [\"pve\", \"pve2\"]\n")]);
}

#[test]
fn ha_without_the_cluster_nodes() {
    check("cluster_ha_without_nodes", &[("disk_gb = 40\n", "disk_gb = 40\nha = true\n")]);
}

#[test]
fn ha_nodes_naming_an_unknown_node() {
    check("cluster_ha_nodes_unknown_node", &[NODES, ("disk_gb = 40\n", "disk_gb = 40\nha = true\nha_nodes = [\"pve\", \"pve5\"]\n")]);
}

#[test]
fn ha_nodes_empty() {
    check("cluster_ha_nodes_empty", &[NODES, ("disk_gb = 40\n", "disk_gb = 40\nha = true\nha_nodes = []\n")]);
}

#[test]
fn ha_nodes_without_the_own_node_twice_or_without_ha() {
    check(
        "cluster_ha_nodes_own_node_twice_without_ha",
        &[
            NODES,
            ("disk_gb = 32\n", "disk_gb = 32\nha = true\nha_nodes = [\"pve2\", \"pve3\"]\n"),
            ("disk_gb = 20\n", "disk_gb = 20\nha = true\nha_nodes = [\"pve\", \"pve\"]\n"),
            ("disk_gb = 40\n", "disk_gb = 40\nha_nodes = [\"pve2\"]\n"),
        ],
    );
}

/// `[[services.prometheus.remote_write]]` tables, put after `[services.prometheus]` of the base.
fn remote_write(tables: &str) -> String {
    edit(&[("memory_reservation_mb = 512\n\n[services.grafana]", &format!("memory_reservation_mb = 512\n\n{tables}\n[services.grafana]"))])
}

fn check_remote_write(name: &str, tables: &str) {
    assert_snapshot!(name, report(&remote_write(tables)));
}

#[test]
fn remote_write_endpoints_that_are_valid_are_accepted() {
    let src = remote_write(
        "[[services.prometheus.remote_write]]\nname = \"mimir\"\nurl = \"https://mimir.home.lan/api/v1/push\"\nusername = \"lab\"\npassword = { env = \"MIMIR_PASSWORD\" }\ndrop_series = [\"go_gc_.*\"]\n\n[[services.prometheus.remote_write]]\nname = \"vm\"\nurl = \"http://192.168.1.60:8428/api/v1/write\"\nallow_insecure_http = true\nbearer_token = { env = \"VM_TOKEN\" }\n",
    );
    let stack = stack::from_str("stack.toml", &src).unwrap_or_else(|e| panic!("{e}"));
    let rw = &stack.services.prometheus.remote_write;
    assert_eq!(rw.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["mimir", "vm"]);
    assert_eq!(rw[0].password_file.as_deref(), Some("remote_write_mimir_password"));
    assert_eq!(rw[1].bearer_token_file.as_deref(), Some("remote_write_vm_token"));
    // The queues' memory is inside Prometheus's limit, so the VM's budget counts it.
    // Remote write is inside Prometheus's limit, so the VM's budget counts it: a quarter of the
    // limit for the series cache, and each queue.
    let added = 1024 / 4 + rw[0].queue_memory_mb + rw[1].queue_memory_mb;
    assert_eq!(stack.services.prometheus.container.memory_limit_mb, 1024 + added);
    assert_eq!(stack.memory.remote_write_mb, added);
    assert_eq!(stack.memory.limits_mb, 3200 + added, "the base's limits, plus remote write");
}

#[test]
fn remote_write_urls_that_cannot_work() {
    check_remote_write(
        "remote_write_bad_url",
        "[[services.prometheus.remote_write]]\nname = \"a\"\nurl = \"mimir.home.lan/api/v1/push\"\n\n[[services.prometheus.remote_write]]\nname = \"b\"\nurl = \"https://lab:hunter2@mimir.home.lan/push\"\n\n[[services.prometheus.remote_write]]\nname = \"c\"\nurl = \"https://mimir.home.lan:99999/push\"\n\n[[services.prometheus.remote_write]]\nname = \"d\"\nurl = \"https:///push\"\n",
    );
}

#[test]
fn remote_write_over_plain_http_needs_an_explicit_opt_in() {
    check_remote_write("remote_write_plain_http", "[[services.prometheus.remote_write]]\nname = \"vm\"\nurl = \"http://192.168.1.60:8428/api/v1/write\"\n");
}

#[test]
fn remote_write_with_two_kinds_of_auth_or_half_of_one() {
    check_remote_write(
        "remote_write_auth",
        "[[services.prometheus.remote_write]]\nname = \"both\"\nurl = \"https://mimir.home.lan/push\"\nusername = \"lab\"\npassword = { env = \"MIMIR_PASSWORD\" }\nbearer_token = { env = \"MIMIR_TOKEN\" }\n\n[[services.prometheus.remote_write]]\nname = \"half\"\nurl = \"https://vm.home.lan/push\"\nusername = \"lab\"\n\n[[services.prometheus.remote_write]]\nname = \"other-half\"\nurl = \"https://vm.home.lan/push\"\npassword = { env = \"VM_PASSWORD\" }\n\n[[services.prometheus.remote_write]]\nname = \"nobody\"\nurl = \"https://vm.home.lan/push\"\nusername = \"\"\npassword = { env = \"VM_PASSWORD\" }\n",
    );
}

#[test]
fn remote_write_credentials_given_as_literals() {
    check_remote_write(
        "remote_write_literal_secret",
        "[[services.prometheus.remote_write]]\nname = \"mimir\"\nurl = \"https://mimir.home.lan/push\"\nusername = \"lab\"\npassword = \"hunter2\"\n\n[[services.prometheus.remote_write]]\nname = \"vm\"\nurl = \"https://vm.home.lan/push\"\nbearer_token = { env = \"vm-token\" }\n",
    );
}

#[test]
fn remote_write_names_are_labels_and_unique() {
    check_remote_write(
        "remote_write_names",
        "[[services.prometheus.remote_write]]\nname = \"mimir\"\nurl = \"https://mimir.home.lan/push\"\n\n[[services.prometheus.remote_write]]\nname = \"mimir\"\nurl = \"https://mimir2.home.lan/push\"\n\n[[services.prometheus.remote_write]]\nname = \"Long Term\"\nurl = \"https://vm.home.lan/push\"\n",
    );
}

#[test]
fn remote_write_drop_series_must_be_re2_regexes() {
    check_remote_write(
        "remote_write_bad_regex",
        "[[services.prometheus.remote_write]]\nname = \"mimir\"\nurl = \"https://mimir.home.lan/push\"\ndrop_series = [\"go_gc_.*\", \"go_(memstats\", \"node_(?!cpu).*\", \"\"]\n",
    );
}

#[test]
fn remote_write_queues_out_of_range_or_unknown_keys() {
    check_remote_write(
        "remote_write_queue",
        "[[services.prometheus.remote_write]]\nname = \"mimir\"\nurl = \"https://mimir.home.lan/push\"\ntimeout = 30\n\n[services.prometheus.remote_write.queue]\nmax_shards = 0\ncapacity = 100\nmax_samples_per_send = 500\n",
    );
}

#[test]
fn local_retention_shorter_than_what_the_rules_look_back() {
    check("retention_below_rules", &[("retention_days = 15\nscrape", "retention_hours = 1\nscrape")]);
    check("retention_days_and_hours", &[("retention_days = 15\nscrape", "retention_days = 15\nretention_hours = 2\nscrape")]);
}

// Loki on S3-compatible object storage (`[services.loki] storage = "s3"`, stack/loki_storage.rs).

const LOKI: &str = "memory_reservation_mb = 160\n";

/// The base with `storage = "s3"` and an `[services.loki.s3]` section of `s3_keys`.
fn with_s3(s3_keys: &str) -> String {
    edit(&[(LOKI, &format!("{LOKI}storage = \"s3\"\n\n[services.loki.s3]\n{s3_keys}"))])
}

const S3: &str = "endpoint = \"s3.nas.lan:9000\"\nbucket = \"loki\"\nregion = \"us-east-1\"\naccess_key_id = { env = \"LOKI_S3_ACCESS_KEY_ID\" }\nsecret_access_key = { env = \"LOKI_S3_SECRET_ACCESS_KEY\" }\nfrom = \"2027-06-01\"\n";

fn s3_report(s3_keys: &str) -> String {
    report(&with_s3(s3_keys))
}

#[test]
fn loki_s3_is_accepted_with_a_complete_section() {
    let stack = stack::from_str("stack.toml", &with_s3(S3)).unwrap();
    let periods: Vec<(String, String)> = stack.services.loki.storage.periods.iter().map(|p| (p.from.clone(), p.object_store.clone())).collect();
    assert_eq!(periods, [("2024-04-01".to_string(), "filesystem".to_string()), ("2027-06-01".to_string(), "s3".to_string())]);
    let s3 = stack.services.loki.storage.s3.unwrap();
    assert!(s3.path_style && !s3.insecure, "path-style on and TLS on by default");
}

#[test]
fn loki_s3_without_its_section() {
    check("loki_s3_without_section", &[(LOKI, &format!("{LOKI}storage = \"s3\"\n"))]);
}

#[test]
fn loki_unknown_storage_and_a_section_without_s3() {
    check("loki_unknown_storage", &[(LOKI, &format!("{LOKI}storage = \"disk\"\n"))]);
    check("loki_s3_section_with_filesystem", &[(LOKI, &format!("{LOKI}\n[services.loki.s3]\n{S3}"))]);
}

#[test]
fn loki_s3_missing_keys() {
    assert_snapshot!("loki_s3_missing_keys", s3_report("access_key_id = { env = \"LOKI_S3_ACCESS_KEY_ID\" }\n"));
}

#[test]
fn loki_s3_plain_http_endpoint_is_refused_unless_insecure() {
    let http = S3.replace("\"s3.nas.lan:9000\"", "\"http://s3.nas.lan:9000\"");
    assert_snapshot!("loki_s3_http_endpoint", s3_report(&http));
    // Even with insecure = true the scheme is not written: Loki adds it.
    assert_snapshot!("loki_s3_http_endpoint_insecure", s3_report(&format!("{http}insecure = true\n")));
    assert_snapshot!("loki_s3_https_scheme", s3_report(&S3.replace("\"s3.nas.lan:9000\"", "\"https://s3.nas.lan:9000/\"")));
    assert_snapshot!(
        "loki_s3_bad_endpoint_and_bucket",
        s3_report(&S3.replace("\"s3.nas.lan:9000\"", "\"s3.nas.lan:99999/x\"").replace("\"loki\"", "\"Loki_Logs\""))
    );
    let plain = stack::from_str("stack.toml", &with_s3(&format!("{}insecure = true\n", S3))).unwrap();
    assert!(plain.services.loki.storage.s3.unwrap().insecure);
}

#[test]
fn loki_s3_literal_key_instead_of_a_reference() {
    let literal = S3.replace("{ env = \"LOKI_S3_SECRET_ACCESS_KEY\" }", "\"wJalrXUtnFEMI/K7MDENG\"");
    assert_snapshot!("loki_s3_literal_key", s3_report(&literal));
}

#[test]
fn loki_s3_bad_dates() {
    assert_snapshot!("loki_s3_bad_date", s3_report(&S3.replace("2027-06-01", "2027-02-30")));
    assert_snapshot!("loki_s3_date_before_the_disk_period", s3_report(&S3.replace("2027-06-01", "2023-01-01")));
}

#[test]
fn loki_s3_caches_must_fit_in_its_memory_limit() {
    let src = with_s3(S3).replace("memory_limit_mb = 768\nmemory_reservation_mb = 160", "memory_limit_mb = 512\nmemory_reservation_mb = 160");
    assert_snapshot!("loki_s3_caches_do_not_fit", report(&src));
}

/// The day-2 guard against what gen last wrote, at an injected date.
fn guarded(src: &str, today: &str, before: &[(&str, &str)]) -> Result<stack::Stack, String> {
    let before = stack::loki_storage::Before {
        today: today.to_string(),
        periods: before.iter().map(|(from, store)| stack::model::SchemaPeriod { from: from.to_string(), object_store: store.to_string() }).collect(),
        roots: Vec::new(),
    };
    stack::from_str_before("stack.toml", src, Some(&before)).map_err(|r| r.to_string())
}

const DISK: (&str, &str) = ("2024-04-01", "filesystem");
const BUCKET: (&str, &str) = ("2027-06-01", "s3");

#[test]
fn loki_s3_period_must_begin_after_today_when_it_is_introduced() {
    let src = with_s3(S3);
    // Introduced on the day before: accepted.
    guarded(&src, "2027-05-31", &[DISK]).unwrap();
    // Introduced on its first day or later: refused.
    assert_snapshot!("loki_s3_period_not_in_the_future", guarded(&src, "2027-06-01", &[DISK]).unwrap_err());
    // With no Loki config under generated/ (none yet, or deleted), the hint says how gen sees
    // a period it wrote before.
    assert_snapshot!("loki_s3_period_not_in_the_future_no_config", guarded(&src, "2027-06-02", &[]).unwrap_err());
    // Written by an earlier gen, it is no longer new: past its first day it stays accepted, so
    // the output depends on stack.toml alone once the period is written.
    guarded(&src, "2030-01-01", &[DISK, BUCKET]).unwrap();
}

#[test]
fn loki_s3_a_period_that_has_begun_is_never_rewritten() {
    let moved = with_s3(&S3.replace("2027-06-01", "2027-07-01"));
    assert_snapshot!("loki_s3_begun_period_moved", guarded(&moved, "2027-06-15", &[DISK, BUCKET]).unwrap_err());
    // Back to the disk (storage and section removed) after the bucket's period began.
    assert_snapshot!("loki_s3_begun_period_removed", guarded(&base(), "2027-06-15", &[DISK, BUCKET]).unwrap_err());
    // Only storage = "filesystem" with the section gone, before the period began: nothing was
    // stored under it, so the edit is accepted; so is moving it to another future day.
    guarded(&base(), "2027-05-31", &[DISK, BUCKET]).unwrap();
    guarded(&moved, "2027-05-31", &[DISK, BUCKET]).unwrap();
}
