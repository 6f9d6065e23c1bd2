//! Security properties of the generated compose stack, for the example and every fixture stack
//! (see SECURITY.md): no privileged container, the Docker socket only read-only, host ports only
//! for Traefik and what stack.toml publishes, Grafana without anonymous access, no secret value
//! in any environment, secret files outside the delivered tree, nothing secret-shaped anywhere.

use crate::common;

use std::collections::BTreeSet;

use serde_norway::Value;

fn compose(tree: &xtask::tree::Tree) -> Value {
    let text = tree.get("compose/docker-compose.yml").expect("the compose file is generated");
    serde_norway::from_slice(text).unwrap()
}

fn services(doc: &Value) -> Vec<(String, &Value)> {
    doc["services"].as_mapping().unwrap().iter().map(|(k, v)| (k.as_str().unwrap().to_string(), v)).collect()
}

/// Environment entries of a service, from the map form or the `KEY=value` list form.
fn environment(service: &Value) -> Vec<(String, String)> {
    match &service["environment"] {
        Value::Mapping(m) => m
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => serde_norway::to_string(other).unwrap().trim().to_string(),
                };
                (k.as_str().unwrap().to_string(), v)
            })
            .collect(),
        Value::Sequence(items) => items
            .iter()
            .map(|i| {
                let s = i.as_str().unwrap();
                let (k, v) = s.split_once('=').unwrap_or((s, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn for_each_fixture(mut f: impl FnMut(&str, &xtask::stack::Stack, &xtask::tree::Tree)) {
    for (name, path) in common::fixture_stacks() {
        let stack = common::load(&path);
        let tree = common::render(&stack);
        f(&name, &stack, &tree);
    }
}

#[test]
fn no_container_is_privileged_or_shares_the_host_network() {
    for_each_fixture(|name, _, tree| {
        for (svc, s) in services(&compose(tree)) {
            assert_ne!(s["privileged"].as_bool(), Some(true), "{name}: {svc} is privileged");
            // The node exporter alone shares the VM's network, to report the VM's own NICs (its
            // port stays closed to the LAN by the VM firewall).
            if svc != "node-exporter" {
                assert_ne!(s["network_mode"].as_str(), Some("host"), "{name}: {svc} uses the host network");
            }
            assert!(s["cap_add"].is_null(), "{name}: {svc} adds capabilities");
        }
    });
}

#[test]
fn the_docker_socket_is_only_mounted_read_only() {
    for_each_fixture(|name, _, tree| {
        let mut mounts = 0;
        for (svc, s) in services(&compose(tree)) {
            for v in s["volumes"].as_sequence().into_iter().flatten() {
                match v {
                    Value::String(m) if m.contains("docker.sock") => {
                        mounts += 1;
                        assert_ne!(svc, "traefik", "{name}: Traefik mounts the Docker socket, but every route comes from the file provider");
                        assert!(m.ends_with(":ro"), "{name}: {svc} mounts the Docker socket writable: {m}");
                    }
                    Value::Mapping(_) if v["source"].as_str().is_some_and(|s| s.contains("docker.sock")) => {
                        mounts += 1;
                        assert_ne!(svc, "traefik", "{name}: Traefik mounts the Docker socket");
                        assert_eq!(v["read_only"].as_bool(), Some(true), "{name}: {svc} mounts the Docker socket writable");
                    }
                    _ => {}
                }
            }
        }
        assert!(mounts >= 1, "{name}: no socket mount found; this test would prove nothing");
    });
}

#[test]
fn only_traefik_and_published_services_have_host_ports() {
    for_each_fixture(|name, stack, tree| {
        let mut allowed: BTreeSet<String> = BTreeSet::from(["traefik".to_string()]);
        for c in stack.services.containers() {
            if c.host_port.is_some() {
                allowed.insert(c.name.clone());
            }
        }
        for (svc, s) in services(&compose(tree)) {
            if !s["ports"].is_null() {
                assert!(allowed.contains(&svc), "{name}: {svc} publishes {:?} but is behind Traefik", s["ports"]);
            }
            if let Some(c) = stack.services.containers().iter().find(|c| c.name == svc)
                && c.host.is_some()
                && c.host_port.is_none()
                && svc != "traefik"
            {
                assert!(s["ports"].is_null(), "{name}: {svc} is routed by Traefik and still publishes a port");
            }
        }
    });
}

#[test]
fn grafana_has_no_anonymous_access_and_no_sign_up() {
    for_each_fixture(|name, _, tree| {
        let doc = compose(tree);
        let env: Vec<(String, String)> = environment(&doc["services"]["grafana"]);
        let get = |k: &str| env.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("GF_AUTH_ANONYMOUS_ENABLED"), Some("false"), "{name}");
        assert_eq!(get("GF_USERS_ALLOW_SIGN_UP"), Some("false"), "{name}");
        assert_eq!(get("GF_SECURITY_ADMIN_PASSWORD"), None, "{name}: the admin password must come from a file");
        assert_eq!(get("GF_SECURITY_ADMIN_PASSWORD__FILE"), Some("/run/secrets/grafana_admin_password"), "{name}");
    });
}

#[test]
fn no_environment_variable_holds_a_plaintext_secret() {
    for_each_fixture(|name, _, tree| {
        for (svc, s) in services(&compose(tree)) {
            for (key, value) in environment(s) {
                let secret_like = ["PASSWORD", "TOKEN", "SECRET", "API_KEY", "PRIVATE_KEY"].iter().any(|w| key.to_ascii_uppercase().contains(w));
                if !secret_like || value.is_empty() {
                    continue;
                }
                let by_reference = key.ends_with("_FILE") || value.starts_with("/run/secrets/") || value.starts_with("${");
                assert!(by_reference, "{name}: {svc}: {key} holds a value in plain text");
            }
        }
    });
}

#[test]
fn secret_files_live_in_the_secrets_dir_outside_the_delivered_tree() {
    for_each_fixture(|name, stack, tree| {
        let doc = compose(tree);
        let dir = format!("{}/", stack.monitoring.secrets_dir);
        for (key, s) in doc["secrets"].as_mapping().into_iter().flatten() {
            let file = s["file"].as_str().unwrap_or_default();
            assert!(file.starts_with(&dir), "{name}: secret {key:?} is read from {file}, outside {dir}");
        }
        for (svc, s) in services(&doc) {
            for e in s["env_file"].as_sequence().into_iter().flatten() {
                let path = e.as_str().or_else(|| e["path"].as_str()).unwrap_or_default();
                assert!(path.starts_with(&dir), "{name}: {svc} reads env file {path} from the delivered tree");
            }
        }
    });
}

#[test]
fn nothing_secret_shaped_is_generated_or_in_the_stacks() {
    for_each_fixture(|name, _, tree| {
        let findings = xtask::secrets::scan(tree.files(), &[]);
        assert!(findings.is_empty(), "{name}: {findings:?}");
        assert!(tree.files().all(|(p, _)| !p.ends_with(".key")), "{name}: a key file is generated");
    });
    for (name, path) in common::fixture_stacks() {
        let src = std::fs::read(&path).unwrap();
        let findings = xtask::secrets::scan([("stack.toml", &src[..])], &[]);
        assert!(findings.is_empty(), "{name}: {findings:?}");
    }
}

#[test]
fn the_secret_scan_knows_every_secret_of_each_stack() {
    for_each_fixture(|name, stack, _| {
        let refs = xtask::secrets::referenced(stack);
        let envs: Vec<&str> = refs.iter().map(|r| r.env.as_str()).collect();
        // The four secrets every stack has, whatever their variables are called.
        for secret in [&stack.proxmox.api_token, &stack.alerting.telegram_bot_token, &stack.services.grafana.admin_password, &stack.services.autokuma.password]
        {
            assert!(envs.contains(&secret.env.as_str()), "{name}: {} is not scanned for: {envs:?}", secret.env);
        }
        if let Some(users) = &stack.services.traefik.dashboard_users {
            assert!(envs.contains(&users.env.as_str()), "{name}");
        }
    });
}

#[test]
fn the_references_found_are_those_of_the_stack_as_json() {
    // The walk over serde's calls must find what a walk over the JSON form of the same stack
    // finds: every object of exactly `env` and `tf_var`.
    fn walk(v: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::Object(map) => {
                if let (2, Some(serde_json::Value::String(env)), Some(serde_json::Value::String(tf_var))) = (map.len(), map.get("env"), map.get("tf_var")) {
                    out.push((env.clone(), tf_var.clone()));
                }
                map.values().for_each(|v| walk(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    for_each_fixture(|name, stack, _| {
        let mut want = Vec::new();
        walk(&serde_json::to_value(stack).unwrap(), &mut want);
        want.sort();
        want.dedup();
        let got: Vec<(String, String)> = xtask::secrets::referenced(stack).into_iter().map(|r| (r.env, r.tf_var)).collect();
        assert!(got.len() >= 4, "{name}: {got:?}");
        assert_eq!(got, want, "{name}");
    });
}

fn check_with_env(root: &std::path::Path, env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(["check", "--root"]).arg(root);
    for var in ["PROXMOX_VE_API_TOKEN", "TELEGRAM_BOT_TOKEN", "GRAFANA_ADMIN_PASSWORD", "UPTIME_KUMA_PASSWORD"] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied()).output().unwrap()
}

#[test]
fn check_fails_when_a_secret_value_is_in_stack_toml() {
    let root = common::repo_copy("secret-value");
    let stack = std::fs::read_to_string(root.join("stack.toml")).unwrap();
    std::fs::write(root.join("stack.toml"), format!("{stack}# the token is Zq9-not-so-secret\n")).unwrap();
    let line = stack.lines().count() + 1;
    // Unset, or set to another value: nothing to find, the tree is up to date.
    assert!(check_with_env(&root, &[]).status.success());
    assert!(check_with_env(&root, &[("TELEGRAM_BOT_TOKEN", "another-value")]).status.success());
    let out = check_with_env(&root, &[("TELEGRAM_BOT_TOKEN", "Zq9-not-so-secret")]);
    let (stdout, stderr) = (common::text(&out.stdout), common::text(&out.stderr));
    assert!(!out.status.success());
    assert!(stdout.contains(&format!("secret  stack.toml:{line}: the value of $TELEGRAM_BOT_TOKEN")), "{stdout}");
    assert!(stderr.contains("1 possible secret(s)"), "{stderr}");
    assert!(!stdout.contains("Zq9-not-so-secret") && !stderr.contains("Zq9-not-so-secret"), "check repeated the secret");
}

#[test]
fn check_fails_on_a_private_key_or_token_under_generated() {
    let root = common::repo_copy("secret-file");
    let g = root.join("generated");
    std::fs::write(g.join("compose/leaf.pem"), "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n").unwrap();
    let token = format!("ghp_{}", "x1".repeat(18));
    let compose = std::fs::read_to_string(g.join("compose/docker-compose.yml")).unwrap();
    std::fs::write(g.join("compose/docker-compose.yml"), format!("{compose}# {token}\n")).unwrap();
    let out = check_with_env(&root, &[]);
    let stdout = common::text(&out.stdout);
    assert!(!out.status.success());
    assert!(stdout.contains("secret  generated/compose/leaf.pem:1: a PEM private key"), "{stdout}");
    let last = compose.lines().count() + 1;
    assert!(stdout.contains(&format!("secret  generated/compose/docker-compose.yml:{last}: a GitHub token")), "{stdout}");
    assert!(common::text(&out.stderr).contains("; 2 possible secret(s)"), "{}", common::text(&out.stderr));
    // The drift is listed, but the diff of a file with a secret in it is not printed.
    assert!(stdout.contains("--- generated/compose/docker-compose.yml: diff withheld, it holds a possible secret"), "{stdout}");
    assert!(!stdout.contains(&token) && !stdout.contains("MHcCAQEE"), "check printed the secret it found:\n{stdout}");
}
