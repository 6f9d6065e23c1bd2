output "vm_id" {
  description = "Proxmox id of the VM."
  value       = proxmox_virtual_environment_vm.this.vm_id
}

output "name" {
  description = "Name (and hostname) of the VM."
  value       = proxmox_virtual_environment_vm.this.name
}

output "node_name" {
  description = "Proxmox node the VM runs on."
  value       = proxmox_virtual_environment_vm.this.node_name
}

output "instance" {
  description = "Changes with every new VM (its generated MAC address): what provisioners key on to run again on a re-created VM."
  value       = local.instance
}

output "ip_address" {
  description = "Static IPv4 address of the VM."
  value       = var.ip_address
}

output "log_agent" {
  description = "Log shipping agent installed on the VM (promtail, alloy or none)."
  value       = var.log_agent
}

output "firewall_rule_count" {
  description = "Number of inbound rules in the VM firewall; everything else is dropped."
  value       = length(var.firewall_rules)
}
