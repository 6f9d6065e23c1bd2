//! The generated docker-compose.yml as the live tests use it: each service's command, volumes
//! and healthcheck, with container paths remapped to the lab's directories (said in the output).
use std::path::{Path, PathBuf};

use serde_norway::Value;

pub struct Compose {
    pub doc: Value,
    dir: PathBuf,
    work: PathBuf,
}

impl Compose {
    pub fn read(compose_dir: &Path, work: &Path) -> Compose {
        let text = std::fs::read_to_string(compose_dir.join("docker-compose.yml")).unwrap();
        Compose { doc: serde_norway::from_str(&text).unwrap(), dir: compose_dir.to_path_buf(), work: work.to_path_buf() }
    }

    fn service(&self, name: &str) -> &Value {
        let s = &self.doc["services"][name];
        assert!(s.is_mapping(), "compose has no service `{name}`");
        s
    }

    /// Services on the compose network (not `network_mode: host`), sorted.
    pub fn networked_services(&self) -> Vec<String> {
        let mut out: Vec<String> = self.doc["services"]
            .as_mapping()
            .unwrap()
            .iter()
            .filter(|(_, s)| s["network_mode"].as_str() != Some("host"))
            .map(|(k, _)| k.as_str().unwrap().to_string())
            .collect();
        out.sort();
        out
    }

    /// (container path, lab path) for each volume of the service, longest container path first:
    /// `./x` is the compose directory's `x`, an absolute host path lives under `<work>/host`, a
    /// named volume under `<work>/volumes`.
    pub fn mounts(&self, service: &str) -> Vec<(String, PathBuf)> {
        let mut out = Vec::new();
        for v in self.service(service)["volumes"].as_sequence().into_iter().flatten() {
            let v = v.as_str().unwrap();
            let mut parts = v.split(':');
            let (host, container) = (parts.next().unwrap(), parts.next().unwrap());
            let local = if let Some(rel) = host.strip_prefix("./") {
                self.dir.join(rel)
            } else if let Some(abs) = host.strip_prefix('/') {
                self.work.join("host").join(abs)
            } else {
                let p = self.work.join("volumes").join(host);
                std::fs::create_dir_all(&p).unwrap();
                p
            };
            out.push((container.to_string(), local));
        }
        out.sort_by_key(|(c, _)| std::cmp::Reverse(c.len()));
        out
    }

    /// `text` with the service's container paths replaced by the lab's.
    pub fn remap(&self, service: &str, text: &str) -> String {
        let mounts = self.mounts(service);
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        'outer: while !rest.is_empty() {
            for (container, local) in &mounts {
                if let Some(after) = rest.strip_prefix(container.as_str())
                    && (after.is_empty() || after.starts_with(['/', '"', '\'', ' ', '\n', '*']))
                {
                    out.push_str(&local.display().to_string());
                    rest = after;
                    continue 'outer;
                }
            }
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
        out
    }

    /// Rewrites, in place, every YAML file the service mounts from the compose directory, and
    /// prints each line that changed (the only edits the lab makes to a generated file).
    pub fn remap_files(&self, service: &str) {
        for (_, local) in self.mounts(service) {
            if !local.starts_with(&self.dir) {
                continue;
            }
            for entry in walkdir::WalkDir::new(&local).into_iter().filter_map(Result::ok) {
                let p = entry.path();
                if !entry.file_type().is_file() || !matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
                    continue;
                }
                let text = std::fs::read_to_string(p).unwrap();
                let new = self.remap(service, &text);
                if new != text {
                    for (a, b) in text.lines().zip(new.lines()).filter(|(a, b)| a != b) {
                        println!("lab: {service}: remapped in {}: `{}` -> `{}`", p.file_name().unwrap().to_string_lossy(), a.trim(), b.trim());
                    }
                    std::fs::write(p, new).unwrap();
                }
            }
        }
    }

    /// The service's `command:` with container paths remapped.
    pub fn command(&self, service: &str) -> Vec<String> {
        let args: Vec<String> =
            self.service(service)["command"].as_sequence().into_iter().flatten().map(|a| self.remap(service, a.as_str().unwrap())).collect();
        println!("lab: {service}: compose command, remapped: {}", args.join(" "));
        args
    }

    /// The service's healthcheck `test`, without the leading `CMD`.
    pub fn healthcheck(&self, service: &str) -> Vec<String> {
        let test = self.service(service)["healthcheck"]["test"].as_sequence().unwrap_or_else(|| panic!("{service}: no healthcheck"));
        let mut v: Vec<String> = test.iter().map(|a| a.as_str().unwrap().to_string()).collect();
        assert_eq!(v.remove(0), "CMD", "{service}: healthcheck form");
        v
    }

    /// The host path compose reads a secret from, remapped under `<work>/host`.
    pub fn secret_source(&self, name: &str) -> PathBuf {
        let file = self.doc["secrets"][name]["file"].as_str().unwrap_or_else(|| panic!("compose has no secret `{name}`"));
        self.work.join("host").join(file.trim_start_matches('/'))
    }

    /// The secrets a service gets at /run/secrets/<name>.
    pub fn secrets(&self, service: &str) -> Vec<String> {
        self.service(service)["secrets"].as_sequence().into_iter().flatten().map(|s| s.as_str().unwrap().to_string()).collect()
    }
}
