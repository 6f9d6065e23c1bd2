variable "vm" {
  description = "The monitoring VM, passed to the vm module: see modules/vm/variables.tf for what each attribute means."
  type = object({
    name                  = string
    vm_id                 = number
    node_name             = string
    tags                  = list(string)
    cores                 = number
    memory_mb             = number
    disk_gb               = number
    vm_datastore_id       = string
    snippets_datastore_id = string
    image_file_id         = string
    ip_address            = string
    prefix_length         = number
    gateway               = string
    dns_servers           = list(string)
    dns_domain            = optional(string)
    bridge                = string
    vlan_id               = optional(number)
    cloud_init_file       = string
    log_agent             = string
    loki_url              = string
    agent_dir             = string
    firewall_rules = list(object({
      type    = string
      action  = string
      proto   = string
      dport   = optional(string)
      source  = string
      comment = string
    }))
  })
}

variable "ssh_user" {
  description = "Account the provisioners log in as over SSH (keys from the local ssh-agent); sudo is used unless it is root."
  type        = string
}

variable "compose_dir" {
  description = "Local directory delivered to stack_dir (generated/compose/)."
  type        = string
}

variable "stack_dir" {
  description = "Directory on the VM that holds the compose stack; replaced as a whole on every delivery."
  type        = string

  validation {
    condition     = startswith(var.stack_dir, "/") && length(var.stack_dir) > 1
    error_message = "The stack directory must be an absolute path other than /."
  }
}

variable "secrets_dir" {
  description = "Directory on the VM, outside stack_dir, that holds the secret files (mode 0600)."
  type        = string

  validation {
    condition     = startswith(var.secrets_dir, "/") && length(var.secrets_dir) > 1
    error_message = "The secrets directory must be an absolute path other than /."
  }
}

variable "tls_enabled" {
  description = "Whether Traefik serves HTTPS, in which case tls_leaf_key is written to <secrets_dir>/tls/leaf.key."
  type        = bool
}

variable "traefik_dashboard" {
  description = "Whether the Traefik dashboard is routed, in which case traefik_dashboard_users is written."
  type        = bool
}

variable "telegram_bot_token" {
  description = "Telegram bot token of Alertmanager, written to <secrets_dir>/telegram_bot_token."
  type        = string
  sensitive   = true

  validation {
    condition     = can(regex("^[0-9]+:[A-Za-z0-9_-]+$", var.telegram_bot_token))
    error_message = "The Telegram bot token must look like 123456789:AAE...: digits, a colon, then letters, digits, - or _."
  }
}

variable "grafana_admin_password" {
  description = "Password of the Grafana admin user, written to <secrets_dir>/grafana_admin_password."
  type        = string
  sensitive   = true
}

variable "autokuma_password" {
  description = "Uptime Kuma password AutoKuma logs in with, written to <secrets_dir>/autokuma.env."
  type        = string
  sensitive   = true

  validation {
    condition     = !strcontains(var.autokuma_password, "'") && !strcontains(var.autokuma_password, "\n")
    error_message = "The Uptime Kuma password must not contain a single quote or a newline: it is written single-quoted into an env file."
  }
}

variable "tls_leaf_key" {
  description = "PEM private key of the Traefik leaf certificate, written to <secrets_dir>/tls/leaf.key; null when TLS is off."
  type        = string
  default     = null
  sensitive   = true
}

variable "traefik_dashboard_users" {
  description = "htpasswd lines of the Traefik dashboard users, written to <secrets_dir>/traefik_dashboard_users; null when the dashboard is off."
  type        = string
  default     = null
  sensitive   = true
}
