//! Derived figures checked against `[targets]`: memory budget, detection time, Loki query split.

use super::*;
use crate::stack::rule_ranges;

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
                &format!("lower memory_reservation_mb of {}", additions_keys(services)),
            );
        }
        MemoryBudget {
            vm_mb,
            os_reserve_mb: monitoring.os_reserve_mb,
            limits_mb: limits,
            additions_reserved_mb: additions,
            additions_target_mb: targets.added_memory_mb,
            remote_write_mb: services.prometheus.remote_write_memory_mb,
        }
    }

    /// Local retention must hold what the alert rules Prometheus loads look back at (their
    /// longest range plus their `for`), read from the rule templates (`rule_ranges`).
    pub(super) fn retention_covers_rules(&mut self, services: &Services, alerting: &Alerting) {
        let p = &services.prometheus;
        let templated_for = u64::from(alerting.instance_down_for_seconds);
        let Some(longest) = super::super::rule_ranges::longest_in_templates(!p.remote_write.is_empty(), templated_for) else { return };
        let retention = u64::from(p.retention_hours) * 3_600;
        if retention < longest.seconds() {
            let (key, set) = if p.retention_days == 0 {
                ("retention_hours", format!("{} h", p.retention_hours))
            } else {
                ("retention_days", format!("{} days", p.retention_days))
            };
            let need_hours = longest.seconds().div_ceil(3_600);
            self.p.add(
                join("services.prometheus", key),
                format!(
                    "local retention of {set} is shorter than the {} the alert {} ({}) looks back: range {} + for {}",
                    rule_ranges::human(longest.seconds()),
                    longest.rule,
                    longest.file,
                    rule_ranges::human(longest.range_seconds),
                    rule_ranges::human(longest.for_seconds),
                ),
                &format!("keep at least {need_hours} h of local data (`retention_hours = {need_hours}` or more): the alerts read Prometheus's local data, never the remote store"),
            );
        }
    }

    /// Prometheus path: a host that stops answering is seen down when a scrape times out, the
    /// next rule evaluation sees `up == 0`, the alert fires at the first evaluation at least
    /// `for` later (so `for` counts in whole evaluation intervals, which are the scrape
    /// interval: a `for` of 45 s evaluated every 25 s holds for 50 s), and Alertmanager waits
    /// `group_wait` before the first message.
    pub(super) fn detection(&mut self, instance_down_for_seconds: u32, group_wait_seconds: u32, services: &Services, targets: &Targets) -> u32 {
        let p = &services.prometheus;
        let (scrape, timeout) = (p.scrape_interval_seconds, p.scrape_timeout_seconds);
        // A scrape interval out of range (0 here) is already reported.
        let held = if scrape == 0 { instance_down_for_seconds } else { instance_down_for_seconds.div_ceil(scrape) * scrape };
        let worst = scrape + timeout + scrape + held + group_wait_seconds;
        if worst > targets.failure_detection_seconds {
            self.p.add(
                "alerting.instance_down_for_seconds",
                format!(
                    "a down host is reported after up to {scrape} + {timeout} + {scrape} + {held} + {} = {worst} s (scrape interval + scrape timeout + rule evaluation + for, in whole evaluations of {scrape} s + group wait), above the target of {} s",
                    group_wait_seconds, targets.failure_detection_seconds
                ),
                "lower instance_down_for_seconds, group_wait_seconds or services.prometheus.scrape_interval_seconds",
            );
        }
        worst
    }
}

/// The stack.toml keys of the plan's additions, as a list in prose (`a, b or c`).
fn additions_keys(services: &Services) -> String {
    let keys: Vec<&str> = services.containers().into_iter().filter(|c| c.plan_addition).map(|c| c.key.as_str()).collect();
    match keys.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => keys.join(""),
    }
}

/// Loki's query split for the log-search target, as (split interval in minutes, max query
/// parallelism): 1 h of logs searched in 5 s on 2 vCPUs, so the window is split and each part
/// runs in parallel.
pub(super) fn loki_query_split(targets: &Targets) -> (u32, u32) {
    let max_query_parallelism = 4;
    ((targets.log_search_window_minutes / max_query_parallelism).clamp(5, 60), max_query_parallelism)
}
