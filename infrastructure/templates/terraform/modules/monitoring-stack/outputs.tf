output "vm_id" {
  description = "Proxmox id of the monitoring VM."
  value       = module.vm.vm_id
}

output "ip_address" {
  description = "Static IPv4 address of the monitoring VM."
  value       = module.vm.ip_address
}

output "stack_dir" {
  description = "Directory on the VM that holds the delivered compose stack."
  value       = var.stack_dir
}

output "delivered_files" {
  description = "Files of the compose tree delivered to stack_dir, relative to it."
  value       = keys(local.compose_files)
}

output "secret_files" {
  description = "Secret files written under secrets_dir (names only, never values)."
  value       = keys(local.secret_owners)
}
