//! `[proxmox]`: the API endpoint, node (and the cluster's nodes: `stack::cluster`), datastores
//! and cloud image.

use super::*;

impl Validator<'_> {
    pub(super) fn proxmox(&mut self, x: &RawProxmox) -> Proxmox {
        let p = &mut *self.p;
        if !(x.endpoint.starts_with("https://") && x.endpoint.len() > "https://".len()) {
            p.add("proxmox.endpoint", format!("`{}` is not an https URL", crate::url::redacted(&x.endpoint)), "write e.g. https://192.168.1.10:8006/");
        } else if x.endpoint.contains("/api2/") {
            p.add("proxmox.endpoint", "the endpoint must not include the API path", "write https://HOST:8006/ without /api2/json");
        }
        check_label(p, "proxmox.node", "node name", &x.node);
        let datastore = |p: &mut Problems, key: &str, v: &Option<String>, default: &str| {
            let v = v.clone().unwrap_or_else(|| default.to_string());
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                p.add(key, format!("`{v}` is not a Proxmox datastore id"), "e.g. local-lvm");
            }
            v
        };
        let vm_datastore = datastore(p, "proxmox.vm_datastore", &x.vm_datastore, "local-lvm");
        let snippets_datastore = datastore(p, "proxmox.snippets_datastore", &x.snippets_datastore, "local");
        let image_datastore = datastore(p, "proxmox.image_datastore", &x.image_datastore, "local");
        let img = &x.cloud_image;
        if !(img.url.starts_with("https://") || img.url.starts_with("http://")) {
            p.add("proxmox.cloud_image.url", format!("`{}` is not an http(s) URL", img.url), "the Proxmox download API fetches it");
        }
        if !img.file_name.ends_with(".qcow2") || img.file_name.contains('/') || img.file_name.starts_with('.') {
            p.add(
                "proxmox.cloud_image.file_name",
                format!("`{}` must be a plain file name ending in .qcow2, with a name before it", img.file_name),
                "Proxmox imports only *.qcow2 names",
            );
        }
        const ALGOS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];
        if let Some(a) = &img.checksum_algorithm
            && !ALGOS.contains(&a.as_str())
        {
            p.add("proxmox.cloud_image.checksum_algorithm", format!("unknown algorithm `{a}`"), &format!("one of: {}", ALGOS.join(", ")));
        }
        let hex_len = match img.checksum_algorithm.as_deref() {
            Some("md5") => Some(32),
            Some("sha1") => Some(40),
            Some("sha224") => Some(56),
            Some("sha256") => Some(64),
            Some("sha384") => Some(96),
            Some("sha512") => Some(128),
            _ => None,
        };
        if let (Some(sum), Some(want)) = (&img.checksum, hex_len)
            && (sum.len() != want || !sum.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            p.add(
                "proxmox.cloud_image.checksum",
                format!("`{}` is not a {} checksum ({want} hex digits)", sum.escape_debug(), img.checksum_algorithm.as_deref().unwrap_or_default()),
                "copy it from the image's published SHA512SUMS (or the file of the algorithm you chose)",
            );
        }
        if img.checksum.is_some() != img.checksum_algorithm.is_some() {
            p.add("proxmox.cloud_image", "`checksum` and `checksum_algorithm` go together", "set both or neither");
        }
        let default_user = img.default_user.clone().unwrap_or_else(|| "debian".to_string());
        let user_ok = !default_user.is_empty()
            && default_user.len() <= 32
            && default_user.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            && default_user.as_bytes()[0].is_ascii_lowercase();
        if !user_ok {
            p.add(
                "proxmox.cloud_image.default_user",
                format!("`{default_user}` is not a Linux user name"),
                "the image's default account, e.g. `debian` or `ubuntu`",
            );
        }
        let ssh_user = x.ssh_user.clone().unwrap_or_else(|| "root".to_string());
        let ca_file = crate::stack::day2::ca_file(p, x.ca_file.as_deref(), x.insecure.unwrap_or(false));
        Proxmox {
            endpoint: x.endpoint.clone(),
            insecure: x.insecure.unwrap_or(false),
            ca_file,
            node: x.node.clone(),
            nodes: crate::stack::cluster::nodes(p, x.nodes.as_deref(), &x.node),
            ssh_user,
            api_token: secret(p, "proxmox.api_token", x.api_token.as_ref(), "PROXMOX_VE_API_TOKEN"),
            vm_datastore,
            snippets_datastore,
            image_datastore,
            cloud_image: CloudImage {
                url: img.url.clone(),
                file_name: img.file_name.clone(),
                checksum: img.checksum.clone(),
                checksum_algorithm: img.checksum_algorithm.clone(),
                default_user,
            },
        }
    }
}
