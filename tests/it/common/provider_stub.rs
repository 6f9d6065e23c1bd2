//! The generated Terraform with the bpg/proxmox provider taken out, so that real Terraform can
//! evaluate everything else offline (tests/it/terraform.rs plans every root, tests/it/change_matrix.rs
//! applies and re-plans): variables and their validations, the for_each over secrets, the file
//! hashes, preconditions and the module wiring. Each Proxmox resource is replaced by what the
//! rest reads from it: `terraform_data.vm_stub` stands for each VM (its id for the MAC address,
//! which changes when it is replaced).

use std::path::Path;

/// Whether the provisioners and their connections stay (a plan) or go (an offline apply, which
/// could not reach the VMs).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Provisioners {
    Keep,
    Drop,
}

/// Drops every block that starts with one of `heads` (up to its closing `}` line, or `  }` for
/// heads indented by two).
fn drop_blocks(src: &str, heads: &[&str]) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in src.lines() {
        if !skipping && heads.iter().any(|h| line.starts_with(h)) {
            skipping = true;
        }
        if skipping {
            if line == "}" || (line == "  }" && heads.iter().any(|h| h.starts_with("  "))) {
                skipping = false;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Rewrites every `.tf` file under `tf_dir` in place, without the provider.
pub fn stub_provider(tf_dir: &Path, provisioners: Provisioners) {
    for entry in walkdir::WalkDir::new(tf_dir).into_iter().map(|e| e.unwrap()).filter(|e| e.path().extension().is_some_and(|x| x == "tf")) {
        let path = entry.path();
        let mut src = std::fs::read_to_string(path).unwrap();
        if path.ends_with("versions.tf") {
            src = drop_blocks(&src, &["  required_providers {"]);
        }
        src = drop_blocks(&src, &["provider \"proxmox\"", "resource \"proxmox_"]);
        if provisioners == Provisioners::Drop {
            src = drop_blocks(&src, &["  provisioner ", "  connection {"]);
        }
        src = src.lines().filter(|l| !l.trim_start().starts_with("depends_on = [proxmox_")).map(|l| format!("{l}\n")).collect();
        while let Some(start) = src.find("proxmox_download_file.cloud_image[") {
            let end = start + src[start..].find("].id").unwrap() + 4;
            src.replace_range(start..end, "\"local:import/stub.qcow2\"");
        }
        src = src
            .replace("proxmox_virtual_environment_vm.this.network_device[0].mac_address", "terraform_data.vm_stub.id")
            .replace("proxmox_virtual_environment_vm.this.vm_id", "terraform_data.vm_stub.output")
            .replace("proxmox_virtual_environment_vm.this.name", "var.name")
            .replace("proxmox_virtual_environment_vm.this.node_name", "var.node_name");
        if path.ends_with("modules/vm/main.tf") {
            src.push_str("\nresource \"terraform_data\" \"vm_stub\" {\n  input = var.vm_id\n}\n");
        }
        assert!(!src.contains("proxmox_"), "{}: still refers to the provider", path.display());
        std::fs::write(path, src).unwrap();
    }
}
