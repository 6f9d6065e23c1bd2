//! The stack running: the real Traefik, Prometheus, Alertmanager and node exporter started on
//! the generated files of every fixture stack, each test inside its own network namespace
//! (tests/it/lab), with stub backends for the services that need Docker images.

use crate::common;
use crate::lab;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use lab::{Lab, curl, stubs, wait_until};
use serde_norway::Value;
use xtask::stack::Stack;

/// A fake token of the real shape (`<digits>:<35 chars>`); it must never reach a shipped log.
const TOKEN: &str = "123456789:AAFakeLiveTestToken_abcdefghijklmnop";
/// The image's user for Prometheus and Alertmanager (`nobody`).
const NOBODY: u32 = 65534;

fn yaml(path: &Path) -> Value {
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn version(bin: &Path, args: &[&str]) -> String {
    let out = Command::new(bin).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    text.lines().find(|l| l.contains("ersion")).unwrap_or("?").trim().to_string()
}

/// The rendered tree of a stack, with a fresh CA and leaf (the lab needs the leaf's key, which
/// never enters git): (stack, directory holding compose/ and agents/, the leaf key).
fn render_with_fresh_leaf(path: &Path, name: &str) -> (Stack, common::Scratch, String) {
    let mut stack = common::load(path);
    let now = xtask::certs_cmd::now();
    let ca = xtask::tls::new_ca(&stack.domain, now).unwrap();
    let leaf = xtask::tls::issue_leaf(&ca.cert_pem, &ca.key_pem, &xtask::tls::wanted_names(&stack), now - 60, 30).unwrap();
    stack.tls.certs.ca = Some(ca.cert_pem);
    stack.tls.certs.leaf = Some(leaf.cert_pem);
    let tree = common::render(&stack);
    (stack, common::materialize(&tree, &format!("live-{name}")), leaf.key_pem)
}

/// What a live run found wrong: each check adds a line; empty means the stack runs.
#[derive(Default)]
struct Findings(Vec<String>);

impl Findings {
    fn check(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            self.0.push(what.into());
        }
    }
}

/// Everything is started and checked; `mutate` may break the rendered files first.
fn run_stack(stack_path: &Path, name: &str, mutate: impl FnOnce(&Path)) -> Findings {
    let bins = ["traefik", "prometheus", "prometheus-alertmanager", "prometheus-node-exporter", "setpriv", "ip", "curl"];
    let found: Vec<Option<PathBuf>> = bins.iter().map(|b| lab::tool(b)).collect();
    if found.iter().any(Option::is_none) {
        return Findings::default();
    }
    let bin = |b: &str| found[bins.iter().position(|x| *x == b).unwrap()].clone().unwrap();
    let (stack, root, leaf_key) = render_with_fresh_leaf(stack_path, name);
    mutate(&root);
    let compose_dir = root.join("compose");
    let compose_doc = yaml(&compose_dir.join("docker-compose.yml"));
    let image = |s: &str| compose_doc["services"][s]["image"].as_str().unwrap_or("-").to_string();
    println!(
        "versions: traefik {} (stack pins {}), prometheus {} (pins {}), alertmanager {} (pins {}), node exporter {} (pins {}): keep to features both have",
        version(&bin("traefik"), &["version"]),
        image("traefik"),
        version(&bin("prometheus"), &["--version"]),
        image("prometheus"),
        version(&bin("prometheus-alertmanager"), &["--version"]),
        image("alertmanager"),
        version(&bin("prometheus-node-exporter"), &["--version"]),
        image("node-exporter"),
    );
    let dns = xtask::dns_cmd::lines(&stack);
    let vm_ips: Vec<Ipv4Addr> = stack.vms.iter().map(|v| v.ip).collect();
    let mut lab = Lab::start(&compose_dir, stack.monitoring.vm.ip, &vm_ips, &dns.names);
    let mut f = Findings::default();

    // Inputs Terraform writes on the VM: the leaf key and the bot token.
    let private = lab.compose.mounts("traefik").into_iter().find(|(c, _)| c == "/etc/traefik/private").expect("traefik mounts its private dir").1;
    std::fs::create_dir_all(&private).unwrap();
    std::fs::write(private.join("leaf.key"), &leaf_key).unwrap();
    let token_src = lab.compose.secret_source("telegram_bot_token");
    std::fs::create_dir_all(token_src.parent().unwrap()).unwrap();
    std::fs::write(&token_src, TOKEN).unwrap();
    lab.install_secrets("alertmanager", NOBODY);
    // Traefik's dashboard users, where the stack has a dashboard: htpasswd `admin` / `live`.
    if lab.compose.secrets("traefik").iter().any(|s| s == "traefik_dashboard_users") {
        let src = lab.compose.secret_source("traefik_dashboard_users");
        std::fs::create_dir_all(src.parent().unwrap()).unwrap();
        std::fs::write(&src, "admin:$apr1$livetest$SCbOeYWScTIJh.Wf7NbDb1\n").unwrap();
        lab.install_secrets("traefik", 0);
    }
    // Prometheus's remote-write credentials, where the stack has remote write: made-up values
    // (the endpoints are unreachable here; Prometheus must start and run its queues anyway).
    let prometheus_secrets = lab.compose.secrets("prometheus");
    for name in &prometheus_secrets {
        let src = lab.compose.secret_source(name);
        std::fs::create_dir_all(src.parent().unwrap()).unwrap();
        std::fs::write(&src, format!("live-{name}\n")).unwrap();
    }
    if !prometheus_secrets.is_empty() {
        lab.install_secrets("prometheus", NOBODY);
    }
    for s in ["traefik", "prometheus", "alertmanager"] {
        lab.compose.remap_files(s);
    }
    for (_, dir) in lab.compose.mounts("prometheus").into_iter().chain(lab.compose.mounts("alertmanager")) {
        if dir.starts_with(lab.work.join("volumes")) {
            std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
        }
    }
    assert!(!lab.compose.mounts("traefik").iter().any(|(c, _)| c == "/var/run/docker.sock"), "traefik mounts the Docker socket");

    // Stub backends for every routed service that is not started for real.
    let routes = yaml(&compose_dir.join("traefik/dynamic/routes.yml"));
    let real = ["prometheus", "alertmanager", "traefik"];
    let mut stubbed = Vec::new();
    let mut https_backends: Vec<(String, String)> = Vec::new();
    for (svc, def) in routes["http"]["services"].as_mapping().into_iter().flatten() {
        let url = def["loadBalancer"]["servers"][0]["url"].as_str().unwrap();
        let hostport = url.split("://").nth(1).unwrap().trim_end_matches('/');
        let (host, port) = hostport.rsplit_once(':').unwrap();
        if real.contains(&host) || host == "api@internal" {
            continue;
        }
        let ip: Ipv4Addr = host.parse().unwrap_or_else(|_| lab.addr(host));
        if url.starts_with("https://") {
            https_backends.push((svc.as_str().unwrap().to_string(), format!("{ip}:{port}")));
            continue;
        }
        stubs::http_backend(svc.as_str().unwrap(), SocketAddr::from((ip, port.parse().unwrap())));
        stubbed.push(svc.as_str().unwrap().to_string());
    }

    // https backends: openssl s_server with the lab's leaf (which covers every routed host).
    for (svc, addr) in &https_backends {
        let Some(openssl) = lab::tool("openssl") else { return Findings(vec!["openssl is missing".into()]) };
        lab.spawn(
            &format!("https-{svc}"),
            Command::new(openssl)
                .args(["s_server", "-quiet", "-www", "-accept", addr, "-cert"])
                .arg(compose_dir.join("tls/leaf.crt"))
                .arg("-key")
                .arg(private.join("leaf.key")),
        );
    }

    // The services, as compose starts them (the image's entry point + the compose command).
    let ne_args: Vec<String> =
        lab.command("node-exporter").into_iter().map(|a| if a.starts_with("--path.rootfs=") { "--path.rootfs=/".into() } else { a }).collect();
    println!("lab: node-exporter: --path.rootfs=/ (the container mounts the VM's / at /host; here the machine is the host)");
    lab.spawn("node-exporter", Command::new(bin("prometheus-node-exporter")).args(&ne_args));
    let traefik_yml = lab.compose.remap("traefik", "/etc/traefik/traefik.yml");
    println!("lab: traefik: --configFile={traefik_yml} (the image reads /etc/traefik/traefik.yml)");
    lab.spawn("traefik", Command::new(bin("traefik")).arg(format!("--configFile={traefik_yml}")));
    let am_args = lab.command("alertmanager");
    lab.spawn(
        "alertmanager",
        Command::new(bin("setpriv")).args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(bin("prometheus-alertmanager")).args(&am_args),
    );
    let prom_args = lab.command("prometheus");
    lab.spawn("prometheus", Command::new(bin("setpriv")).args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(bin("prometheus")).args(&prom_args));

    let up = |lab: &mut Lab, name: &str, url: String| -> bool {
        let ok = wait_until(Duration::from_secs(20), || curl(&["-f", "-o", "/dev/null", &url]).2);
        if !ok {
            println!("{name} log:\n{}", lab.log(name));
        }
        ok && lab.running(name)
    };
    let am_up = {
        let u = lab.url("alertmanager", 9093, "/-/ready");
        up(&mut lab, "alertmanager", u)
    };
    f.check(am_up, "alertmanager did not become ready");
    let t_up = {
        let u = lab.url("traefik", 8082, "/ping");
        up(&mut lab, "traefik", u)
    };
    f.check(t_up, "traefik did not answer /ping on the metrics entry point");
    let p_up = {
        let u = lab.url("prometheus", 9090, "/-/ready");
        up(&mut lab, "prometheus", u)
    };
    f.check(p_up, "prometheus did not become ready");
    let n_up = up(&mut lab, "node-exporter", format!("http://{}:9100/metrics", stack.monitoring.vm.ip));
    f.check(n_up, "node exporter did not answer");
    if !f.0.is_empty() {
        return f;
    }

    check_traefik(&mut lab, &stack, &root, &bin("traefik"), &traefik_yml, &stubbed, &mut f);
    check_alertmanager(&mut lab, &root, &mut f);
    check_prometheus(&mut lab, &stack, &mut f);
    check_healthchecks(&mut lab, &mut f);
    f
}

fn check_traefik(lab: &mut Lab, stack: &Stack, root: &Path, traefik: &Path, cfg: &str, stubbed: &[String], f: &mut Findings) {
    let ip = stack.monitoring.vm.ip;
    let ca = root.join("compose/tls/ca.crt");
    let ca = ca.to_str().unwrap();
    for route in &stack.routes {
        let host = &route.host;
        // The route's health path: what Uptime Kuma requests (the dashboard's is /dashboard/).
        let https = format!("https://{host}{}", xtask::targets::traefik::health_path(route));
        let resolve = format!("{host}:443:{ip}");
        let mut last = (String::new(), String::new(), false);
        let wait = if route.name.starts_with("mismatch") { 3 } else { 20 };
        let answered = wait_until(Duration::from_secs(wait), || {
            last = curl(&["--cacert", ca, "--resolve", &resolve, "-u", "admin:live", "-w", "\n%{http_code}", &https]);
            last.2 && !last.0.ends_with("\n404") && !last.0.ends_with("\n502") && !last.0.ends_with("\n503")
        });
        if route.name.starts_with("mismatch") {
            // A backend whose certificate does not carry server_name: Traefik must refuse it.
            f.check(last.0.ends_with("\n500") || last.0.ends_with("\n502"), format!("{host}: a backend with the wrong name was accepted: {}", last.0));
            continue;
        }
        f.check(answered, format!("{host}: no answer over HTTPS verified by the lab's CA: {} {}", last.0, last.1));
        if stubbed.contains(&route.name) {
            f.check(last.0.contains(&format!("host={host} ")), format!("{host}: the backend did not get Host: {host}: {}", last.0));
        }
        if route.service() == Some("loki") {
            // Loki's route is read-only: queries reach Loki, a push or an admin call does not.
            let (out, _, _) = curl(&["--cacert", ca, "--resolve", &resolve, &format!("https://{host}/loki/api/v1/labels")]);
            f.check(out.contains("path=/loki/api/v1/labels"), format!("{host}: a Loki query does not reach Loki: {out}"));
            for (method, path) in
                [("POST", "/loki/api/v1/push"), ("GET", "/loki/api/v1/push"), ("POST", "/flush"), ("GET", "/config"), ("POST", "/loki/api/v1/delete")]
            {
                let (code, _, _) =
                    curl(&["--cacert", ca, "--resolve", &resolve, "-X", method, "-o", "/dev/null", "-w", "%{http_code}", &format!("https://{host}{path}")]);
                f.check(code == "404", format!("{host}: {method} {path} answered {code} through the read-only Loki route"));
            }
        }
        let (out, err, _) =
            curl(&["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "--resolve", &format!("{host}:80:{ip}"), &format!("http://{host}/x")]);
        f.check(out.starts_with("30") && out.ends_with(&format!("https://{host}/x")), format!("{host}: http:// does not redirect to https://: {out} {err}"));
    }
    // TLS one version below tls.min_version is refused by the server, the minimum is accepted.
    let (below, at) = match stack.tls.min_version.as_str() {
        "VersionTLS13" => ("1.2", "1.3"),
        _ => ("1.1", "1.2"),
    };
    if let Some(route) = stack.routes.first() {
        let host = &route.host;
        let resolve = format!("{host}:443:{ip}");
        let url = format!("https://{host}/");
        let (_, err, ok) = curl(&[
            "--cacert",
            ca,
            "--resolve",
            &resolve,
            "--ciphers",
            "DEFAULT@SECLEVEL=0",
            &format!("--tlsv{below}"),
            "--tls-max",
            below,
            "-o",
            "/dev/null",
            &url,
        ]);
        f.check(!ok && err.contains("alert"), format!("TLS {below} (below tls.min_version) was not refused by Traefik: ok={ok} {err}"));
        let (_, err, ok) = curl(&["--cacert", ca, "--resolve", &resolve, &format!("--tlsv{at}"), "--tls-max", at, "-o", "/dev/null", &url]);
        f.check(ok, format!("TLS {at} (tls.min_version) refused: {err}"));
        println!("live: TLS {below} refused, TLS {at} accepted on {host}");
    }
    let hc = Command::new(traefik).args(["healthcheck", "--ping", &format!("--configFile={cfg}")]).output().unwrap();
    f.check(hc.status.success(), format!("traefik healthcheck --ping failed: {}", String::from_utf8_lossy(&hc.stdout)));
    let (metrics, _, ok) = curl(&[&lab.url("traefik", 8082, "/metrics")]);
    f.check(ok && metrics.contains("traefik_entrypoint_requests_total"), "traefik metrics endpoint does not answer with traefik_ metrics");
    // No error or warning that the configuration causes. Traefik logs JSON lines. Two advisories
    // that Traefik 3.6+ prints for every configuration that leaves a new option at its default
    // (encoded characters, header aliases) are tolerated, and printed: they are not config errors.
    let log = lab.log("traefik");
    let advisory = |l: &str| l.contains("can reject some encoded characters") || l.contains("aliasHeadersStrategy is not configured");
    // The refusal the https test provokes on purpose (route `mismatch`), and only that one.
    let expected = |l: &str| l.contains("failed to verify certificate") && l.contains(", not not-in-the-leaf.");
    for l in log.lines().filter(|l| advisory(l)) {
        println!("live: tolerated Traefik advisory (an option left at its default): {}", &l[..l.len().min(160)]);
    }
    let bad: Vec<&str> =
        log.lines().filter(|l| (l.contains("\"level\":\"error\"") || l.contains("\"level\":\"warn\"")) && !advisory(l) && !expected(l)).collect();
    f.check(bad.is_empty(), format!("traefik logged errors or warnings:\n{}", bad.join("\n")));
}

fn check_alertmanager(lab: &mut Lab, root: &Path, f: &mut Findings) {
    let alert = r#"[{"labels":{"alertname":"LiveTest","severity":"critical","instance":"live"},"annotations":{"summary":"live test"}}]"#;
    let url = lab.url("alertmanager", 9093, "/api/v2/alerts");
    let (out, err, ok) = curl(&["-f", "-H", "Content-Type: application/json", "-d", alert, &url]);
    f.check(ok, format!("alertmanager refused a test alert: {out} {err}"));
    // group_wait passes, then the Telegram receiver tries api.telegram.org, which cannot resolve here.
    let mut line = String::new();
    let tried = wait_until(Duration::from_secs(40), || {
        // The attempt itself: a POST to the Bot API, which cannot resolve here.
        line = lab.log("alertmanager").lines().find(|l| l.contains("telegram") && l.contains("api.telegram.org/bot")).unwrap_or("").to_string();
        !line.is_empty()
    });
    f.check(tried, format!("alertmanager made no attempt to send to Telegram; log:\n{}", lab.log("alertmanager")));
    if !tried {
        return;
    }
    println!("live: alertmanager's failed Telegram send, as logged: {}", line.replace(TOKEN, "<TOKEN>"));
    // Alertmanager itself logs the token (notify/telegram returns the client error unredacted):
    // the agents' redaction below is what keeps it out of Loki.
    f.check(line.contains(TOKEN), "alertmanager's failed send does not carry the token read from bot_token_file");
    let (metrics, _, _) = curl(&[&lab.url("alertmanager", 9093, "/metrics")]);
    let failed = metrics.lines().any(|l| {
        (l.starts_with("alertmanager_notification_requests_total") || l.starts_with("alertmanager_notification_latency_seconds_count"))
            && l.contains("integration=\"telegram\"")
            && !l.ends_with(" 0")
    });
    let telegram: Vec<&str> = metrics.lines().filter(|l| l.contains("telegram") && !l.starts_with('#')).collect();
    f.check(failed, format!("{telegram:?}: alertmanager_notification_requests_total{{integration=\"telegram\"}} did not count the attempt"));
    // The line as the log agents ship it: every generated Promtail and Alloy pipeline redacts it.
    for (file, redacted) in redactions(root, &line) {
        println!("live: {file} redacts it to: {redacted}");
        f.check(
            !redacted.contains(TOKEN) && !redacted.contains(TOKEN.split(':').nth(1).unwrap()),
            format!("{file}: the bot token survives the log pipeline: {redacted}"),
        );
    }
}

/// The line after each generated log agent's token redaction: Promtail's `replace` stage and
/// Alloy's `stage.replace`, applied with the regex and replacement from the generated file
/// (Promtail and Alloy are not installed here; the regex is taken as the agent would).
fn redactions(root: &Path, line: &str) -> Vec<(String, String)> {
    println!("live: Promtail and Alloy are not installed here: the test applies each generated redaction regex itself");
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(root).into_iter().filter_map(Result::ok).filter(|e| e.file_type().is_file()) {
        let p = entry.path();
        let name = p.strip_prefix(root).unwrap().display().to_string();
        let text = std::fs::read_to_string(p).unwrap_or_default();
        if name.ends_with("promtail-config.yml") || name.ends_with("promtail.yml") || name.ends_with(".alloy") {
            let redacted = apply_token_redaction(&text, line).unwrap_or_else(|| line.to_string());
            out.push((name, redacted));
        }
    }
    assert!(!out.is_empty(), "no log agent configuration in the rendered tree");
    // Every pipeline redacts: one stage per Promtail job; Alloy sources all go through it.
    for entry in walkdir::WalkDir::new(root).into_iter().filter_map(Result::ok).filter(|e| e.file_type().is_file()) {
        let name = entry.path().display().to_string();
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        if name.ends_with("promtail-config.yml") || name.ends_with("promtail.yml") {
            assert_eq!(
                text.matches("job_name:").count(),
                text.matches("(bot[0-9]+:[A-Za-z0-9_-]+)").count(),
                "{name}: a Promtail job without the token redaction"
            );
        }
        if name.ends_with(".alloy") {
            let sources = text.matches("loki.source.").count();
            assert!(
                sources > 0
                    && text.matches("forward_to    = [loki.process.redact.receiver]").count()
                        + text.matches("forward_to = [loki.process.redact.receiver]").count()
                        == sources,
                "{name}: an Alloy source bypasses loki.process.redact"
            );
        }
    }
    out
}

/// Applies the generated token redaction, if the file has one: its regex must be exactly the
/// token pattern this test knows how to apply, `bot[0-9]+:[A-Za-z0-9_-]+`.
fn apply_token_redaction(config: &str, line: &str) -> Option<String> {
    const PATTERN: &str = r"bot[0-9]+:[A-Za-z0-9_-]+";
    let at = config.find(PATTERN)?;
    let after = &config[at..];
    let rep_key = after.find("replace")?;
    let rest = &after[rep_key..];
    let q1 = rest.find('"')?;
    let q2 = rest[q1 + 1..].find('"')?;
    let replacement = &rest[q1 + 1..q1 + 1 + q2];
    // bot<digits>:<[A-Za-z0-9_-]+>, hand-matched (no regex crate in this workspace).
    let mut out = String::new();
    let mut i = 0;
    let b = line.as_bytes();
    while i < b.len() {
        if line[i..].starts_with("bot") {
            let mut j = i + 3;
            let d0 = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j > d0 && j < b.len() && b[j] == b':' {
                let t0 = j + 1;
                let mut k = t0;
                while k < b.len() && (b[k].is_ascii_alphanumeric() || b[k] == b'_' || b[k] == b'-') {
                    k += 1;
                }
                if k > t0 {
                    out.push_str(replacement);
                    i = k;
                    continue;
                }
            }
        }
        out.push(b[i] as char);
        i += 1;
    }
    Some(out)
}

fn check_prometheus(lab: &mut Lab, stack: &Stack, f: &mut Findings) {
    let api = |path: &str| -> Value {
        let (out, _, _) = curl(&[&format!("http://prometheus:9090{path}")]);
        serde_norway::from_str(&out).unwrap_or(Value::Null)
    };
    // Every rule file loaded and every rule evaluated healthy (the first evaluation comes within
    // one evaluation_interval).
    let mut last = Value::Null;
    let healthy = wait_until(Duration::from_secs(45), || {
        last = api("/api/v1/rules");
        let groups = last["data"]["groups"].as_sequence().cloned().unwrap_or_default();
        !groups.is_empty() && groups.iter().all(|g| g["rules"].as_sequence().is_some_and(|r| r.iter().all(|r| r["health"].as_str() == Some("ok"))))
    });
    f.check(healthy, format!("prometheus rules are not all health ok: {}", serde_norway::to_string(&last).unwrap_or_default()));
    let files: std::collections::BTreeSet<String> = last["data"]["groups"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|g| g["file"].as_str())
        .map(|p| Path::new(p).file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let on_disk: std::collections::BTreeSet<String> =
        std::fs::read_dir(lab.compose_dir.join("prometheus/rules")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    f.check(files == on_disk, format!("prometheus loaded rule files {files:?}, generated {on_disk:?}"));
    let found_am =
        wait_until(Duration::from_secs(20), || api("/api/v1/alertmanagers")["data"]["activeAlertmanagers"].as_sequence().is_some_and(|s| !s.is_empty()));
    f.check(found_am, "prometheus found no active Alertmanager");
    let node = format!("{}:9100", stack.monitoring.vm.ip);
    let mut targets = Value::Null;
    let want = |t: &Value, job: &str, instance: Option<&str>| {
        t["data"]["activeTargets"].as_sequence().into_iter().flatten().any(|x| {
            x["labels"]["job"].as_str() == Some(job)
                && x["health"].as_str() == Some("up")
                && instance.is_none_or(|i| x["labels"]["instance"].as_str() == Some(i))
        })
    };
    let scraped = wait_until(Duration::from_secs(45), || {
        targets = api("/api/v1/targets");
        want(&targets, "prometheus", None) && want(&targets, "traefik", None) && want(&targets, "node", Some(&node)) && want(&targets, "alertmanager", None)
    });
    f.check(
        scraped,
        format!(
            "prometheus does not scrape itself, traefik, alertmanager and the node exporter at {node}: {}",
            serde_norway::to_string(&targets["data"]["activeTargets"]).unwrap_or_default()
        ),
    );
    // Each remote-write endpoint has its queue, sized as stack.toml says (the endpoints are
    // unreachable: sends fail and are retried, which must not stop Prometheus).
    for rw in &stack.services.prometheus.remote_write {
        let labels = format!("{{remote_name=\"{}\",url=\"{}\"}}", rw.name, rw.url);
        let want = [
            format!("prometheus_remote_storage_shards_max{labels} {}", rw.max_shards),
            format!("prometheus_remote_storage_shard_capacity{labels} {}", rw.capacity),
        ];
        let mut metrics = String::new();
        let queued = wait_until(Duration::from_secs(30), || {
            metrics = curl(&["http://prometheus:9090/metrics"]).0;
            want.iter().all(|w| metrics.lines().any(|l| l == w))
        });
        let found: Vec<&str> = metrics.lines().filter(|l| l.starts_with("prometheus_remote_storage_shard")).collect();
        f.check(queued, format!("remote write {}: no queue with {want:?}; found {found:?}", rw.name));
    }
    let log = lab.log("prometheus");
    let bad: Vec<&str> = log.lines().filter(|l| l.contains("level=error") || l.contains("level=ERROR")).collect();
    f.check(bad.is_empty(), format!("prometheus logged errors:\n{}", bad.join("\n")));
}

/// The compose healthcheck commands, run as written (wget and traefik are on this machine; a
/// container's `localhost` is the service itself, here every service listens on all addresses).
fn check_healthchecks(lab: &mut Lab, f: &mut Findings) {
    for service in ["prometheus", "alertmanager", "node-exporter"] {
        let cmd = lab.compose.healthcheck(service);
        let out = Command::new(&cmd[0]).args(&cmd[1..]).output();
        let ok = matches!(&out, Ok(o) if o.status.success());
        f.check(ok, format!("{service}: compose healthcheck `{}` failed", cmd.join(" ")));
    }
}

fn assert_runs(test: &str, fixture: &str) {
    if !lab::enter(test) {
        return;
    }
    let (_, path) = common::fixture_stacks().into_iter().find(|(n, _)| n == fixture).unwrap();
    let findings = run_stack(&path, fixture, |_| {});
    assert!(findings.0.is_empty(), "{fixture}: the stack does not run:\n- {}", findings.0.join("\n- "));
}

#[test]
fn the_example_stack_runs() {
    assert_runs("the_example_stack_runs", "example");
}

#[test]
fn the_other_lab_stack_runs() {
    assert_runs("the_other_lab_stack_runs", "other-lab");
}

#[test]
fn the_scale_lab_stack_runs() {
    assert_runs("the_scale_lab_stack_runs", "scale-lab");
}

/// `scheme = "https"` routes: Traefik verifies the backend against the lab's CA under the route's
/// host (default), skips verification only when told, and refuses a certificate without
/// `server_name` (the route named `mismatch...`).
#[test]
fn https_backends_are_verified_through_their_servers_transport() {
    if !lab::enter("https_backends_are_verified_through_their_servers_transport") {
        return;
    }
    let src = std::fs::read_to_string(common::repo_root().join("tests/stacks/other-lab/stack.toml")).unwrap();
    let extra = "\n[routes.files]\nvm = \"web-2\"\nport = 8443\nscheme = \"https\"\n\n[routes.nas]\nvm = \"web-2\"\nport = 8444\nscheme = \"https\"\ninsecure_skip_verify = true\n\n[routes.mismatch]\nvm = \"web-2\"\nport = 8445\nscheme = \"https\"\nserver_name = \"not-in-the-leaf.lab.internal\"\n";
    let dir = common::temp_dir("live-https");
    let path = dir.join("stack.toml");
    std::fs::write(&path, format!("{src}{extra}")).unwrap();
    let findings = run_stack(&path, "https", |_| {});
    assert!(findings.0.is_empty(), "https backends:\n- {}", findings.0.join("\n- "));
}

/// The live check can fail: a bot_token_file that names no secret stops Alertmanager, which
/// amtool check-config does not see.
#[test]
fn a_wrong_bot_token_file_fails_the_live_check() {
    if !lab::enter("a_wrong_bot_token_file_fails_the_live_check") {
        return;
    }
    let path = common::repo_root().join("stack.toml");
    let findings = run_stack(&path, "broken", |root| {
        let p = root.join("compose/alertmanager/alertmanager.yml");
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("/run/secrets/telegram_bot_token"));
        std::fs::write(&p, text.replace("/run/secrets/telegram_bot_token", "/run/secrets/telegram_token")).unwrap();
        println!("live: broke alertmanager.yml: bot_token_file -> /run/secrets/telegram_token");
    });
    if lab::tool("prometheus-alertmanager").is_none() {
        return;
    }
    println!("live: findings with the broken file: {:?}", findings.0);
    assert!(findings.0.iter().any(|l| l.contains("alertmanager")), "a wrong bot_token_file passed the live check");
}
