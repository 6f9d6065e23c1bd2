# The monitoring VM and its compose stack: the VM comes from the vm module; generated/compose/ is
# copied to stack_dir, the secret files are written from sensitive variables, and
# `docker compose up` runs again whenever a delivered file or a secret changes.

module "vm" {
  source = "../vm"

  name                  = var.vm.name
  vm_id                 = var.vm.vm_id
  node_name             = var.vm.node_name
  tags                  = var.vm.tags
  cores                 = var.vm.cores
  memory_mb             = var.vm.memory_mb
  disk_gb               = var.vm.disk_gb
  vm_datastore_id       = var.vm.vm_datastore_id
  snippets_datastore_id = var.vm.snippets_datastore_id
  image_file_id         = var.vm.image_file_id
  ip_address            = var.vm.ip_address
  prefix_length         = var.vm.prefix_length
  gateway               = var.vm.gateway
  dns_servers           = var.vm.dns_servers
  dns_domain            = var.vm.dns_domain
  bridge                = var.vm.bridge
  vlan_id               = var.vm.vlan_id
  cloud_init_file       = var.vm.cloud_init_file
  log_agent             = var.vm.log_agent
  loki_url              = var.vm.loki_url
  agent_dir             = var.vm.agent_dir
  ssh_user              = var.ssh_user
  firewall_rules        = var.vm.firewall_rules
}

locals {
  # Commands that need root run through sudo unless the provisioners log in as root.
  sudo = var.ssh_user == "root" ? "" : "sudo -n "

  # Every delivered file with its hash: a change to any of them delivers the tree again.
  compose_files = {
    for f in sort(tolist(fileset(var.compose_dir, "**"))) : f => filesha256("${var.compose_dir}/${f}")
  }

  # Each secret file, by path under secrets_dir: owner uid:gid of the container that reads it
  # (Grafana runs as 472, Alertmanager as nobody 65534, the rest as root). Only names and owners
  # here, so that for_each never sees a sensitive value.
  secret_owners = merge(
    {
      "telegram_bot_token"     = "65534:65534"
      "grafana_admin_password" = "472:0"
      "autokuma.env"           = "0:0"
    },
    var.tls_enabled ? { "tls/leaf.key" = "0:0" } : {},
    var.traefik_dashboard ? { "traefik_dashboard_users" = "0:0" } : {},
  )

  # AutoKuma reads its Telegram notification's token from AUTOKUMA__ENV__* (its templates only
  # see variables with that prefix). Single quotes: Compose takes the values literally (no `$`
  # interpolation, no ` #` comment); the variables refuse a quote or a newline.
  secret_contents = {
    "telegram_bot_token"      = var.telegram_bot_token
    "grafana_admin_password"  = var.grafana_admin_password
    "autokuma.env"            = "AUTOKUMA__KUMA__PASSWORD='${var.autokuma_password}'\nAUTOKUMA__ENV__TELEGRAM_BOT_TOKEN='${var.telegram_bot_token}'\n"
    "tls/leaf.key"            = var.tls_leaf_key
    "traefik_dashboard_users" = var.traefik_dashboard_users
  }

  # Staging directories of the provisioners' SSH user, emptied after each run.
  compose_stage = "/tmp/monitoring-stack"
  secrets_stage = "/tmp/monitoring-secrets"

  # Where the VM remembers the stack_dir it runs the stack from, so a move can stop the old one.
  stack_dir_marker = "/var/lib/monitoring-stack/stack_dir"
}

# One secret file on the VM, mode 0600, owned by the container that reads it. Written again when
# its value, its place (secrets_dir) or its owner changes, or the VM is new (module.vm.instance
# changes with every new VM); the value only travels over SSH, never into generated/.
resource "terraform_data" "secret" {
  for_each = local.secret_owners

  triggers_replace = {
    content     = sha256(local.secret_contents[each.key])
    owner       = each.value
    secrets_dir = var.secrets_dir
    instance    = module.vm.instance
  }

  connection {
    type  = "ssh"
    host  = module.vm.ip_address
    user  = var.ssh_user
    agent = true
  }

  provisioner "remote-exec" {
    inline = [
      "set -eu",
      "mkdir -p -m 0700 '${local.secrets_stage}'",
    ]
  }

  provisioner "file" {
    content     = local.secret_contents[each.key]
    destination = "${local.secrets_stage}/${replace(each.key, "/", "_")}"
  }

  provisioner "remote-exec" {
    inline = [
      "set -eu",
      "${local.sudo}install -d -m 0700 -o 0 -g 0 '${var.secrets_dir}' '${dirname("${var.secrets_dir}/${each.key}")}'",
      "${local.sudo}install -m 0600 -o ${split(":", each.value)[0]} -g ${split(":", each.value)[1]} '${local.secrets_stage}/${replace(each.key, "/", "_")}' '${var.secrets_dir}/${each.key}'",
      "rm -f '${local.secrets_stage}/${replace(each.key, "/", "_")}'",
    ]
  }

  depends_on = [module.vm]
}

# Delivers generated/compose/ to stack_dir (the old tree is swapped out whole, so a file removed
# from generated/ leaves the VM too) and recreates the containers so that they read the new
# configs and secrets.
resource "terraform_data" "compose" {
  triggers_replace = {
    files     = local.compose_files
    secrets   = [for k in sort(keys(terraform_data.secret)) : terraform_data.secret[k].id]
    stack_dir = var.stack_dir
    instance  = module.vm.instance
  }

  connection {
    type  = "ssh"
    host  = module.vm.ip_address
    user  = var.ssh_user
    agent = true
  }

  provisioner "remote-exec" {
    inline = [
      "set -eu",
      "cloud-init status --wait >/dev/null 2>&1 || true",
      "rm -rf '${local.compose_stage}'",
      "mkdir -m 0700 '${local.compose_stage}'",
    ]
  }

  provisioner "file" {
    source      = "${var.compose_dir}/"
    destination = local.compose_stage
  }

  provisioner "remote-exec" {
    inline = [
      "set -eu",
      "${local.sudo}rm -rf '${var.stack_dir}.next' '${var.stack_dir}.previous'",
      "${local.sudo}cp -R '${local.compose_stage}' '${var.stack_dir}.next'",
      "${local.sudo}chown -R 0:0 '${var.stack_dir}.next'",
      # Modes set explicitly, whatever the umask of the machine that ran Terraform: every
      # container (Grafana 472, Loki 10001, nobody...) reads its config; nothing is secret here.
      "${local.sudo}find '${var.stack_dir}.next' -type d -exec chmod 0755 {} +",
      "${local.sudo}find '${var.stack_dir}.next' -type f -exec chmod 0644 {} +",
      "if [ -d '${var.stack_dir}' ]; then ${local.sudo}mv '${var.stack_dir}' '${var.stack_dir}.previous'; fi",
      "${local.sudo}mv '${var.stack_dir}.next' '${var.stack_dir}'",
      # A stack delivered before to another stack_dir is stopped first (it holds ports 80/443).
      "previous=$(cat '${local.stack_dir_marker}' 2>/dev/null || true)",
      "if [ -n \"$previous\" ] && [ \"$previous\" != '${var.stack_dir}' ] && [ -f \"$previous/docker-compose.yml\" ]; then cd \"$previous\" && ${local.sudo}docker compose down --remove-orphans; fi",
      "cd '${var.stack_dir}'",
      "${local.sudo}docker compose up -d --remove-orphans --force-recreate",
      "${local.sudo}install -d -m 0755 '${dirname(local.stack_dir_marker)}'",
      "printf '%s\\n' '${var.stack_dir}' | ${local.sudo}tee '${local.stack_dir_marker}' >/dev/null",
      "${local.sudo}rm -rf '${var.stack_dir}.previous'",
      "rm -rf '${local.compose_stage}'",
    ]
  }

  depends_on = [module.vm, terraform_data.secret]
}
