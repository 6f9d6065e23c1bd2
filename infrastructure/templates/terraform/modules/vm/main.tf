# One VM from a cloud image: the user data goes up as a snippet for the first boot only; the log
# agent is (re)installed over SSH whenever its files change, so the VM is never replaced for it.

locals {
  # Commands that need root run through sudo unless the provisioners log in as root.
  sudo = var.ssh_user == "root" ? "" : "sudo -n "

  # The agent files by path, with their hashes: a change to any of them re-runs install-agent.sh.
  agent_files = var.log_agent == "none" ? {} : {
    for f in sort(tolist(fileset(var.agent_dir, "**"))) : f => filesha256("${var.agent_dir}/${f}")
  }

  # Where the agent files are staged on the VM before install-agent.sh runs.
  agent_stage = "/tmp/log-agent-${var.name}"

  # Removes every log agent install-agent.sh may have installed (see log_agent_removal).
  agent_removal_script = <<-EOT
    #!/usr/bin/env bash
    set -euo pipefail
    export DEBIAN_FRONTEND=noninteractive
    for agent in promtail alloy; do
      systemctl disable --now "$agent" >/dev/null 2>&1 || true
      if dpkg-query -W -f='$${Status}' "$agent" 2>/dev/null | grep -q 'ok installed'; then
        apt-mark unhold "$agent" >/dev/null
        apt-get purge -y -q -o DPkg::Lock::Timeout=600 "$agent"
      fi
      rm -rf "/etc/systemd/system/$${agent:?}.service" "/etc/$${agent:?}" "/var/lib/$${agent:?}"
    done
    rm -f /etc/default/alloy
    systemctl daemon-reload
    echo "log agent removal: no log agent on $(hostname)"
  EOT

  # What changes with every new VM, even one re-created with the same vm_id (a replacement,
  # `-replace`, a taint): the MAC address Proxmox generates for it (`network_device.mac_address`
  # is optional and computed, provider proxmoxtf/resource/vm/network/schema.go:108 at v0.111.1).
  # The provisioners key on it so that a new VM gets its files again.
  instance = proxmox_virtual_environment_vm.this.network_device[0].mac_address

  # The snippets' volume ids, spelled as the provider makes them (`<datastore>:snippets/<file>`,
  # proxmoxtf/resource/file.go:287). Known at plan time, so a snippet uploaded again (new content,
  # or the same file on another node) leaves the VM alone: `meta_data_file_id` and
  # `user_data_file_id` force a new VM when their value changes (vm/vm.go:999, :1023), and an
  # id only known after apply counts as a change. They do change, and re-create the VM, with the
  # snippets datastore or the VM's name: see README.md and ForceNew in xtask/src/vm_fate.rs.
  user_data_file_id = "${var.snippets_datastore_id}:snippets/${var.name}-user-data.yaml"
  meta_data_file_id = "${var.snippets_datastore_id}:snippets/${var.name}-meta-data.yaml"
}

resource "proxmox_virtual_environment_file" "user_data" {
  node_name    = var.node_name
  datastore_id = var.snippets_datastore_id
  content_type = "snippets"

  source_raw {
    file_name = "${var.name}-user-data.yaml"
    data      = file(var.cloud_init_file)
  }
}

# A fixed instance id: without one, Proxmox derives it from the user data, and cloud-init would
# take a VM whose user data changed for a new instance at its next boot (new SSH host keys,
# packages and runcmd again).
resource "proxmox_virtual_environment_file" "meta_data" {
  node_name    = var.node_name
  datastore_id = var.snippets_datastore_id
  content_type = "snippets"

  source_raw {
    file_name = "${var.name}-meta-data.yaml"
    data      = "instance-id: ${var.name}-${var.vm_id}\nlocal-hostname: ${var.name}\n"
  }
}

resource "proxmox_virtual_environment_vm" "this" {
  node_name       = var.node_name
  vm_id           = var.vm_id
  name            = var.name
  description     = var.description
  tags            = var.tags
  on_boot         = true
  started         = true
  migrate         = true
  stop_on_destroy = true

  # The guest runs qemu-guest-agent (installed by cloud-init) so that Proxmox shuts it down
  # cleanly. Nothing reads the VM's addresses from the agent (they are static), so the provider
  # does not wait for them, and gives up after 2 minutes instead of the default 15 per VM and per
  # refresh when a first boot failed and the agent never came up.
  agent {
    enabled = true
    timeout = "2m"

    wait_for_ip {
      disabled = true
    }
  }

  cpu {
    cores = var.cores
    type  = "x86-64-v2-AES"
  }

  memory {
    dedicated = var.memory_mb
  }

  disk {
    interface    = "virtio0"
    datastore_id = var.vm_datastore_id
    import_from  = var.image_file_id
    size         = var.disk_gb
    discard      = "on"
  }

  network_device {
    bridge   = var.bridge
    model    = "virtio"
    vlan_id  = var.vlan_id
    firewall = true
  }

  # Debian and Ubuntu cloud images panic on a resized boot disk without a serial console.
  serial_device {}

  operating_system {
    type = "l26"
  }

  initialization {
    datastore_id      = var.vm_datastore_id
    user_data_file_id = local.user_data_file_id
    meta_data_file_id = local.meta_data_file_id

    ip_config {
      ipv4 {
        address = "${var.ip_address}/${var.prefix_length}"
        gateway = var.gateway
      }
    }

    dns {
      domain  = var.dns_domain
      servers = var.dns_servers
    }
  }

  lifecycle {
    # The image only matters when the VM is created: a newer cloud image must not replace a
    # running VM. (New user data keeps its file id, above; the agent reaches existing VMs through
    # terraform_data.log_agent.)
    # The agent's timeout and wait_for_ip are only read by the provider, but any change of the
    # agent block reboots the VM (vm/vm.go:6266-6290): VMs created before they were set keep
    # the provider's defaults rather than reboot for them.
    ignore_changes = [
      disk[0].import_from,
      agent[0].timeout,
      agent[0].wait_for_ip,
    ]

    precondition {
      condition     = proxmox_virtual_environment_file.user_data.id == local.user_data_file_id && proxmox_virtual_environment_file.meta_data.id == local.meta_data_file_id
      error_message = "The snippets' volume ids are not the ones the VM was given: the provider's id format changed; fix local.user_data_file_id in modules/vm."
    }
  }

  depends_on = [
    proxmox_virtual_environment_file.user_data,
    proxmox_virtual_environment_file.meta_data,
  ]
}

resource "proxmox_virtual_environment_firewall_rules" "this" {
  node_name = var.node_name
  vm_id     = proxmox_virtual_environment_vm.this.vm_id

  dynamic "rule" {
    for_each = var.firewall_rules

    content {
      type    = rule.value.type
      action  = rule.value.action
      proto   = rule.value.proto
      dport   = rule.value.dport
      source  = rule.value.source
      comment = rule.value.comment
    }
  }
}

# The DROP policy goes on after the rules, so the SSH rule is in place before anything is denied.
resource "proxmox_virtual_environment_firewall_options" "this" {
  node_name     = var.node_name
  vm_id         = proxmox_virtual_environment_vm.this.vm_id
  enabled       = true
  input_policy  = "DROP"
  output_policy = "ACCEPT"

  depends_on = [proxmox_virtual_environment_firewall_rules.this]
}

# Installs or updates the log agent on a running VM: copies generated/agents/<vm>/ and runs its
# idempotent install-agent.sh. Replaced (so run again) when an agent file, the Loki URL or the VM
# itself is new (a re-created VM has a new MAC address; its vm_id may be the same); never touches
# the VM itself.
resource "terraform_data" "log_agent" {
  count = var.log_agent == "none" ? 0 : 1

  triggers_replace = {
    files    = local.agent_files
    loki_url = var.loki_url
    instance = local.instance
  }

  connection {
    type  = "ssh"
    host  = var.ip_address
    user  = var.ssh_user
    agent = true
  }

  provisioner "remote-exec" {
    inline = [
      "set -eu",
      "cloud-init status --wait >/dev/null 2>&1 || true",
      "rm -rf '${local.agent_stage}'",
      "mkdir -m 0700 '${local.agent_stage}'",
    ]
  }

  provisioner "file" {
    source      = "${var.agent_dir}/"
    destination = local.agent_stage
  }

  provisioner "remote-exec" {
    inline = [
      "set -eu",
      "cd '${local.agent_stage}'",
      "${local.sudo}env LOKI_URL='${var.loki_url}' bash ./install-agent.sh",
      "cd / && rm -rf '${local.agent_stage}'",
    ]
  }

  lifecycle {
    precondition {
      condition     = fileexists("${var.agent_dir}/install-agent.sh")
      error_message = "The log agent is on but install-agent.sh is missing from agent_dir: run `cargo xtask gen`."
    }
  }

  depends_on = [proxmox_virtual_environment_firewall_options.this]
}

# With `log_agent = "none"`, stops, disables and purges whichever agent the VM ran before (a VM
# switched from promtail or alloy), over SSH. Idempotent: on a VM that never had one it only
# finds nothing to remove. Runs once per VM (and again on a new one); only where the stack
# authorizes an SSH key (`agent_removal`), since nothing else needs to log in to such a VM.
resource "terraform_data" "log_agent_removal" {
  count = var.log_agent == "none" && var.agent_removal ? 1 : 0

  triggers_replace = {
    instance = local.instance
  }

  connection {
    type  = "ssh"
    host  = var.ip_address
    user  = var.ssh_user
    agent = true
  }

  provisioner "remote-exec" {
    inline = [
      "set -eu",
      "cloud-init status --wait >/dev/null 2>&1 || true",
    ]
  }

  provisioner "file" {
    content     = local.agent_removal_script
    destination = "${local.agent_stage}-removal.sh"
  }

  provisioner "remote-exec" {
    inline = [
      "set -eu",
      "${local.sudo}bash '${local.agent_stage}-removal.sh'",
      "rm -f '${local.agent_stage}-removal.sh'",
    ]
  }

  depends_on = [proxmox_virtual_environment_firewall_options.this]
}
