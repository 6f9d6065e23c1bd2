//! `cargo xtask verify` against the real Traefik, Prometheus and Alertmanager, started on the
//! example stack's generated files inside their own network namespace (tests/it/lab: `lo` only,
//! the lab's addresses on it, a private /etc/hosts; nothing leaves the machine), with the real
//! `curl` transport. Grafana and Uptime Kuma get the harness's stub backends here (their
//! routes and certificates are checked, their APIs are not: tests/it/verify.rs does that against
//! recorded answers). The scrape targets kept are those the lab runs: Prometheus, Alertmanager,
//! Traefik and the node exporter on the monitoring VM's address.

use crate::common;
use crate::lab;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use lab::{Lab, stubs, wait_until};
use xtask::stack::Stack;
use xtask::verify::expect::{self, Expectations};
use xtask::verify::http::Curl;
use xtask::verify::report::{Report, Status};
use xtask::verify::{self, Ctx, Options, Secrets};

const TOKEN: &str = "123456789:AAFakeVerifyLiveToken_abcdefghijklmno";
const NOBODY: u32 = 65534;

/// A running lab and what verify expects of it.
struct Running {
    /// Kept alive: dropping it kills every started process.
    _lab: Lab,
    /// The rendered files the services read; removed after they are killed (fields drop in order).
    _root: common::Scratch,
    exp: Expectations,
    ca_file: PathBuf,
}

/// What to break before the services start.
#[derive(Default)]
struct Breakage {
    node_exporter_off: bool,
    /// Serve another leaf from the same CA than the one the stack commits.
    other_leaf: bool,
    mutate: Option<fn(&Path)>,
}

fn start(name: &str, broken: Breakage) -> Option<Running> {
    let bins = ["traefik", "prometheus", "prometheus-alertmanager", "prometheus-node-exporter", "setpriv", "ip", "curl"];
    let found: Vec<Option<PathBuf>> = bins.iter().map(|b| lab::tool(b)).collect();
    if found.iter().any(Option::is_none) {
        return None;
    }
    let bin = |b: &str| found[bins.iter().position(|x| *x == b).unwrap()].clone().unwrap();
    // The stack with a fresh CA and leaf: the leaf's key never enters git, the lab needs it.
    let mut stack: Stack = common::load(&common::repo_root().join("stack.toml"));
    let now = xtask::certs_cmd::now();
    let ca = xtask::tls::new_ca(&stack.domain, now).unwrap();
    let names = xtask::tls::wanted_names(&stack);
    let leaf = xtask::tls::issue_leaf(&ca.cert_pem, &ca.key_pem, &names, now - 60, 30).unwrap();
    stack.tls.certs.ca = Some(ca.cert_pem.clone());
    stack.tls.certs.leaf = Some(leaf.cert_pem.clone());
    let tree = common::render(&stack);
    let exp = expect::derive(&stack, &tree, None).unwrap();
    let root = common::materialize(&tree, &format!("verify-live-{name}"));
    let mut served_key = leaf.key_pem.clone();
    if broken.other_leaf {
        let other = xtask::tls::issue_leaf(&ca.cert_pem, &ca.key_pem, &names, now - 120, 30).unwrap();
        std::fs::write(root.join("compose/tls/leaf.crt"), &other.cert_pem).unwrap();
        served_key = other.key_pem;
        println!("verify-live: Traefik serves another leaf of the same CA");
    }
    if let Some(mutate) = broken.mutate {
        mutate(&root);
    }
    let ca_file = root.join("ca.crt");
    std::fs::write(&ca_file, &ca.cert_pem).unwrap();

    let compose_dir = root.join("compose");
    let dns = xtask::dns_cmd::lines(&stack);
    let vm_ips: Vec<Ipv4Addr> = stack.vms.iter().map(|v| v.ip).collect();
    let mut lab = Lab::start(&compose_dir, stack.monitoring.vm.ip, &vm_ips, &dns.names);
    // What Terraform writes on the VM: the leaf key and the bot token.
    let private = lab.compose.mounts("traefik").into_iter().find(|(c, _)| c == "/etc/traefik/private").unwrap().1;
    std::fs::create_dir_all(&private).unwrap();
    std::fs::write(private.join("leaf.key"), &served_key).unwrap();
    let token_src = lab.compose.secret_source("telegram_bot_token");
    std::fs::create_dir_all(token_src.parent().unwrap()).unwrap();
    std::fs::write(&token_src, TOKEN).unwrap();
    lab.install_secrets("alertmanager", NOBODY);
    for s in ["traefik", "prometheus", "alertmanager"] {
        lab.compose.remap_files(s);
    }
    for (_, dir) in lab.compose.mounts("prometheus").into_iter().chain(lab.compose.mounts("alertmanager")) {
        if dir.starts_with(lab.work.join("volumes")) {
            std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
        }
    }
    assert!(!lab.compose.mounts("traefik").iter().any(|(c, _)| c == "/var/run/docker.sock"), "traefik mounts the Docker socket");
    // Stub backends for the routed services that need Docker images (Grafana, Uptime Kuma).
    let routes: serde_norway::Value = serde_norway::from_str(&std::fs::read_to_string(compose_dir.join("traefik/dynamic/routes.yml")).unwrap()).unwrap();
    for (svc, def) in routes["http"]["services"].as_mapping().into_iter().flatten() {
        let url = def["loadBalancer"]["servers"][0]["url"].as_str().unwrap();
        let (host, port) = url.split("://").nth(1).unwrap().trim_end_matches('/').rsplit_once(':').unwrap();
        if ["prometheus", "alertmanager", "traefik"].contains(&host) {
            continue;
        }
        let ip: Ipv4Addr = host.parse().unwrap_or_else(|_| lab.addr(host));
        stubs::http_backend(svc.as_str().unwrap(), SocketAddr::from((ip, port.parse().unwrap())));
    }
    if !broken.node_exporter_off {
        let args: Vec<String> =
            lab.command("node-exporter").into_iter().map(|a| if a.starts_with("--path.rootfs=") { "--path.rootfs=/".into() } else { a }).collect();
        lab.spawn("node-exporter", Command::new(bin("prometheus-node-exporter")).args(&args));
    }
    let traefik_yml = lab.compose.remap("traefik", "/etc/traefik/traefik.yml");
    lab.spawn("traefik", Command::new(bin("traefik")).arg(format!("--configFile={traefik_yml}")));
    let nobody = ["--reuid=65534", "--regid=65534", "--clear-groups"];
    let am_args = lab.command("alertmanager");
    lab.spawn("alertmanager", Command::new(bin("setpriv")).args(nobody).arg(bin("prometheus-alertmanager")).args(&am_args));
    let prom_args = lab.command("prometheus");
    lab.spawn("prometheus", Command::new(bin("setpriv")).args(nobody).arg(bin("prometheus")).args(&prom_args));
    for (svc, port, path) in [("alertmanager", 9093, "/-/ready"), ("traefik", 8082, "/ping"), ("prometheus", 9090, "/-/ready")] {
        let url = lab.url(svc, port, path);
        lab.wait_http(svc, &url, 200);
    }
    // Only the targets this lab runs; every other expectation is the stack's as derived.
    let mon_node = format!("{}:9100", stack.monitoring.vm.ip);
    let mut exp = exp;
    exp.scrape_targets.retain(|(job, instance)| ["prometheus", "alertmanager", "traefik"].contains(&job.as_str()) || *instance == mon_node);
    Some(Running { _lab: lab, _root: root, exp, ca_file })
}

/// Routes, Prometheus and Alertmanager through the real curl transport.
fn verify(run: &Running, send_test_alert: bool) -> Report {
    let opts = Options { send_test_alert, timeout: Duration::from_secs(5), ..Options::default() };
    let curl = Curl { timeout: opts.timeout };
    let ctx = Ctx { exp: &run.exp, http: &curl, ca_file: Some(run.ca_file.clone()), opts: &opts, secrets: Secrets::default() };
    let mut report = Report::default();
    verify::routes::check(&ctx, &mut report);
    verify::prometheus::check(&ctx, &mut report);
    let before = verify::alertmanager::check(&ctx, &mut report);
    verify::alertmanager::failed_not_grown(&ctx, &mut report, before);
    report
}

/// Verifies until `done` holds of the report (Prometheus scrapes within its interval), bounded.
fn verify_until(run: &Running, done: impl Fn(&Report) -> bool) -> Report {
    let mut last = Report::default();
    wait_until(Duration::from_secs(60), || {
        last = verify(run, false);
        done(&last)
    });
    last
}

fn status(report: &Report, name: &str) -> (Status, String) {
    let c = report.checks.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no line `{name}`:\n{}", report.text()));
    (c.status, c.detail.clone())
}

#[test]
fn a_healthy_lab_passes_and_an_unreachable_telegram_fails_the_test_alert() {
    if !lab::enter("a_healthy_lab_passes_and_an_unreachable_telegram_fails_the_test_alert") {
        return;
    }
    let Some(run) = start("healthy", Breakage::default()) else { return };
    let report = verify_until(&run, Report::ok);
    println!("verify-live: healthy lab:\n{}", report.text());
    assert!(report.ok(), "a healthy lab fails verify:\n{}", report.text());
    let routed = run.exp.routes.len();
    assert!(report.summary().passed >= 4 * routed + run.exp.scrape_targets.len() + run.exp.rule_groups.len() + 2, "{}", report.text());
    // The 30-day leaf is within tls.renew_before_days (30): the leaf lines pass with their days
    // left, and renewal is one `info` line, not an `ok` line that says "due".
    for route in &run.exp.routes {
        assert_eq!(status(&report, &format!("{} serves the committed leaf", route.host)), (Status::Pass, "29 days left".to_string()), "{}", report.text());
    }
    let (s, detail) = status(&report, "leaf renewal due");
    assert!(s == Status::Info && detail.starts_with("the served leaf has 29 days left, within tls.renew_before_days (30)"), "{}", report.text());
    assert_eq!(report.summary().info, 1, "{}", report.text());
    // api.telegram.org does not resolve in the namespace: the test alert's notification fails.
    let report = verify(&run, true);
    println!("verify-live: --send-test-alert without Telegram:\n{}", report.text());
    let (s, detail) = status(&report, "test alert reaches telegram");
    assert_eq!(
        (s, detail.as_str()),
        (Status::Fail, "Telegram refused it or is unreachable (alertmanager_notification_requests_failed_total grew; see Alertmanager's log)"),
        "{}",
        report.text()
    );
    assert_eq!(status(&report, "test alert resolved").0, Status::Pass);
    assert_eq!(status(&report, "telegram notifications failed").0, Status::Fail, "{}", report.text());
}

fn break_files(root: &Path) {
    // A missing route: Traefik loses the grafana router.
    let p = root.join("compose/traefik/dynamic/routes.yml");
    let text = std::fs::read_to_string(&p).unwrap();
    let start = text.find("    \"grafana\":\n      rule:").unwrap();
    let end = start + text[start..].find("tls: {}\n").unwrap() + "tls: {}\n".len();
    std::fs::write(&p, format!("{}{}", &text[..start], &text[end..])).unwrap();
    // A missing rule file.
    std::fs::remove_file(root.join("compose/prometheus/rules/logs.yml")).unwrap();
    // The Telegram receiver removed (renamed: the route still needs a receiver).
    let p = root.join("compose/alertmanager/alertmanager.yml");
    let text = std::fs::read_to_string(&p).unwrap().replace("receiver: telegram", "receiver: elsewhere").replace("- name: telegram", "- name: elsewhere");
    std::fs::write(&p, text).unwrap();
    println!("verify-live: removed the grafana router, rules/logs.yml and the telegram receiver");
}

#[test]
fn each_breakage_fails_its_own_line() {
    if !lab::enter("each_breakage_fails_its_own_line") {
        return;
    }
    let Some(run) = start("broken", Breakage { node_exporter_off: true, other_leaf: true, mutate: Some(break_files) }) else { return };
    let node = run.exp.scrape_targets.iter().find(|(job, _)| job == "node").unwrap().1.clone();
    // Wait until Prometheus has scraped every target once.
    let report = verify_until(&run, |r| {
        let targets: Vec<_> = r.checks.iter().filter(|c| c.name.starts_with("target ")).collect();
        !targets.is_empty() && targets.iter().all(|c| c.detail == "up" || c.detail.starts_with("down: "))
    });
    println!("verify-live: broken lab:\n{}", report.text());
    let failed = |name: &str, starts: &str| {
        let (s, detail) = status(&report, name);
        assert!(s == Status::Fail && detail.starts_with(starts), "`{name}`: {s:?} {detail}\n{}", report.text());
    };
    failed("grafana.home.lan answers over HTTPS", "HTTP 404 from Traefik: no router for this host");
    for route in &run.exp.routes {
        failed(&format!("{} serves the committed leaf", route.host), "served ");
    }
    failed(&format!("target node {node}"), "down: ");
    for (file, group) in run.exp.rule_groups.iter().filter(|(f, _)| f == "logs.yml") {
        failed(&format!("rule group {group} ({file})"), "not loaded: is rules/logs.yml on the VM?");
    }
    failed("telegram receiver telegram", "not in the running configuration");
    // Everything else still passes: the failures are exactly those.
    assert_eq!(status(&report, "prometheus.home.lan answers over HTTPS").0, Status::Pass);
    assert_eq!(status(&report, "target traefik traefik:8082").0, Status::Pass, "{}", report.text());
    let expected = 1 + run.exp.routes.len() + 1 + run.exp.rule_groups.iter().filter(|(f, _)| f == "logs.yml").count() + 1;
    assert_eq!(report.summary().failed, expected, "{}", report.text());
}
