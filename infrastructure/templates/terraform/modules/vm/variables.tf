variable "name" {
  description = "Name of the VM in Proxmox, also its hostname (a DNS label)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.name))
    error_message = "The VM name must be a DNS label: 1 to 63 lowercase letters, digits and inner hyphens."
  }
}

variable "vm_id" {
  description = "Proxmox VM id. Changing it creates a new VM."
  type        = number

  validation {
    condition     = var.vm_id >= 100 && var.vm_id == floor(var.vm_id)
    error_message = "The VM id must be a whole number of at least 100, as Proxmox requires."
  }
}

variable "node_name" {
  description = "Proxmox node the VM runs on. Changing it migrates the VM."
  type        = string
}

variable "description" {
  description = "Free text shown in the Proxmox UI."
  type        = string
  default     = "Managed by Terraform, generated from stack.toml."
}

variable "tags" {
  description = "Proxmox tags, sorted as Proxmox sorts them so that plans stay empty."
  type        = list(string)
  default     = []

  validation {
    condition     = var.tags == sort(var.tags)
    error_message = "The tags must be sorted, because Proxmox sorts them and an unsorted list would show a change on every plan."
  }
}

variable "cores" {
  description = "Virtual CPU cores."
  type        = number
  default     = 1

  validation {
    condition     = var.cores >= 1 && var.cores == floor(var.cores)
    error_message = "The VM needs at least one whole CPU core."
  }
}

variable "memory_mb" {
  description = "Dedicated memory in MiB."
  type        = number

  validation {
    condition     = var.memory_mb >= 512
    error_message = "The VM needs at least 512 MiB of memory to boot a cloud image."
  }
}

variable "disk_gb" {
  description = "Size of the boot disk in GiB; it may grow, never shrink."
  type        = number

  validation {
    condition     = var.disk_gb >= 8
    error_message = "The boot disk needs at least 8 GiB to hold the cloud image."
  }
}

variable "vm_datastore_id" {
  description = "Datastore of the boot disk and the cloud-init drive."
  type        = string
}

variable "snippets_datastore_id" {
  description = "Datastore, with the Snippets content type enabled, that receives the cloud-init user data."
  type        = string
}

variable "image_file_id" {
  description = "Cloud image to import as the boot disk, as `<datastore>:import/<file>.qcow2`."
  type        = string

  validation {
    condition     = can(regex("^[^:]+:import/.+\\.qcow2$", var.image_file_id))
    error_message = "The image must be a file id of the form `<datastore>:import/<file>.qcow2`."
  }
}

variable "ip_address" {
  description = "Static IPv4 address of the VM, without prefix length."
  type        = string

  validation {
    condition     = can(cidrhost("${var.ip_address}/32", 0))
    error_message = "The IP address must be an IPv4 address such as 10.0.0.21, without a prefix length."
  }
}

variable "prefix_length" {
  description = "Prefix length of the network, e.g. 24."
  type        = number

  validation {
    condition     = var.prefix_length >= 1 && var.prefix_length <= 32
    error_message = "The prefix length must be between 1 and 32."
  }
}

variable "gateway" {
  description = "IPv4 default gateway."
  type        = string
}

variable "dns_servers" {
  description = "DNS resolvers, in order."
  type        = list(string)

  validation {
    condition     = length(var.dns_servers) > 0
    error_message = "At least one DNS server is needed."
  }
}

variable "dns_domain" {
  description = "DNS search domain, or null for none."
  type        = string
  default     = null
}

variable "bridge" {
  description = "Proxmox bridge of the network device."
  type        = string
  default     = "vmbr0"
}

variable "vlan_id" {
  description = "VLAN tag of the network device, or null for an untagged port."
  type        = number
  default     = null

  validation {
    condition     = var.vlan_id == null ? true : var.vlan_id >= 1 && var.vlan_id <= 4094
    error_message = "The VLAN id must be between 1 and 4094, or null."
  }
}

variable "cloud_init_file" {
  description = "Path of the cloud-init user data (generated/cloud-init/<vm>.yaml), used on first boot only."
  type        = string
}

variable "log_agent" {
  description = "Log shipping agent on the VM: promtail, alloy or none."
  type        = string
  default     = "none"

  validation {
    condition     = contains(["promtail", "alloy", "none"], var.log_agent)
    error_message = "The log agent must be one of: promtail, alloy, none."
  }
}

variable "agent_removal" {
  description = "With log_agent = none: log in over SSH once per VM and remove any log agent it ran before (needs an authorized key)."
  type        = bool
  default     = false
}

variable "loki_url" {
  description = "Loki push URL the agent ships to; passed to install-agent.sh as LOKI_URL."
  type        = string
  default     = ""

  validation {
    condition     = var.loki_url == "" || can(regex("^https?://", var.loki_url))
    error_message = "The Loki URL must start with http:// or https://, or be empty when no agent runs."
  }
}

variable "agent_dir" {
  description = "Directory of the agent files (generated/agents/<vm>/), holding install-agent.sh and the agent config."
  type        = string
  default     = ""
}

variable "ssh_user" {
  description = "Account the provisioners log in as over SSH (keys from the local ssh-agent); sudo is used unless it is root."
  type        = string
}

variable "firewall_rules" {
  description = "Inbound rules of the VM firewall, whose input policy is DROP. Each rule accepts or drops one protocol from one source."
  type = list(object({
    type    = string
    action  = string
    proto   = string
    dport   = optional(string)
    source  = string
    comment = string
  }))
  default = []

  validation {
    condition     = alltrue([for r in var.firewall_rules : contains(["in", "out"], r.type) && contains(["ACCEPT", "DROP", "REJECT"], r.action)])
    error_message = "Each firewall rule needs a type of in or out and an action of ACCEPT, DROP or REJECT."
  }
}
