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
