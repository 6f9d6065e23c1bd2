//! Derived figures checked against `[targets]`: memory budget, detection time, Loki query split.

use super::*;

impl Validator<'_> {
    pub(super) fn memory(&mut self, services: &Services, monitoring: &MonitoringVm, targets: &Targets) -> MemoryBudget {
        let limits: u32 = services.containers().iter().map(|c| c.memory_limit_mb).sum();
        let additions: u32 = services.containers().iter().filter(|c| c.plan_addition).map(|c| c.memory_reservation_mb).sum();
        let loki = &services.loki;
        crate::stack::loki_storage::caches_fit(self.p, &loki.storage, loki.container.memory_limit_mb);
        let vm_mb = monitoring.vm.memory_mb;
        // A memory_mb out of range (0 here) is already reported; comparing with it says nothing.
        if vm_mb > 0 && limits + monitoring.os_reserve_mb > vm_mb {
            let parts: Vec<String> = services.containers().iter().map(|c| format!("{} {}", c.name, c.memory_limit_mb)).collect();
            self.p.add(
                "monitoring.memory_mb",
                format!("container memory limits ({limits} MB) plus the OS reserve ({} MB) exceed the VM's {vm_mb} MB", monitoring.os_reserve_mb),
                &format!("raise monitoring.memory_mb to at least {} or lower memory_limit_mb of: {}", limits + monitoring.os_reserve_mb, parts.join(", ")),
            );
        }
        if additions > targets.added_memory_mb {
            self.p.add(
                "targets.added_memory_mb",
                format!("the plan's additions reserve {additions} MB, above the target of {} MB", targets.added_memory_mb),
                "lower memory_reservation_mb of traefik, loki, promtail, uptime_kuma or autokuma",
            );
        }
        MemoryBudget {
            vm_mb,
            os_reserve_mb: monitoring.os_reserve_mb,
            limits_mb: limits,
            additions_reserved_mb: additions,
            additions_target_mb: targets.added_memory_mb,
        }
    }

    /// Prometheus path: a host that stops answering is seen down when a scrape times out, the
    /// next rule evaluation sees `up == 0`, the alert fires after `for`, and Alertmanager waits
    /// `group_wait` before the first message.
    pub(super) fn detection(&mut self, mut alerting: Alerting, services: &Services, targets: &Targets) -> Alerting {
        let p = &services.prometheus;
        let (scrape, timeout) = (p.scrape_interval_seconds, p.scrape_timeout_seconds);
        let worst = scrape + timeout + scrape + alerting.instance_down_for_seconds + alerting.group_wait_seconds;
        if worst > targets.failure_detection_seconds {
            self.p.add(
                "alerting.instance_down_for_seconds",
                format!(
                    "a down host is reported after up to {scrape} + {timeout} + {scrape} + {} + {} = {worst} s (scrape interval + scrape timeout + rule evaluation + for + group wait), above the target of {} s",
                    alerting.instance_down_for_seconds, alerting.group_wait_seconds, targets.failure_detection_seconds
                ),
                "lower instance_down_for_seconds, group_wait_seconds or services.prometheus.scrape_interval_seconds",
            );
        }
        alerting.worst_case_detection_seconds = worst;
        alerting
    }
}

/// Loki's query split for the log-search target, as (split interval in minutes, max query
/// parallelism): 1 h of logs searched in 5 s on 2 vCPUs, so the window is split and each part
/// runs in parallel.
pub(super) fn loki_query_split(targets: &Targets) -> (u32, u32) {
    let max_query_parallelism = 4;
    ((targets.log_search_window_minutes / max_query_parallelism).clamp(5, 60), max_query_parallelism)
}
