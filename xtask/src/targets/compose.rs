//! The monitoring VM's compose tree (`generated/compose/`): docker-compose.yml and the config
//! of each service in it, delivered to `monitoring.stack_dir` by the monitoring-stack module.

use anyhow::Result;

use super::Outputs;
use crate::stack::Stack;

/// Config files rendered from the template of the same path.
const FILES: &[&str] = &[
    "compose/docker-compose.yml",
    "compose/prometheus/prometheus.yml",
    "compose/prometheus/rules/alerts.yml",
    "compose/alertmanager/alertmanager.yml",
    "compose/grafana/provisioning/datasources/datasources.yml",
    "compose/grafana/provisioning/dashboards/dashboards.yml",
];

/// Rendered only when stack.toml has a `[[services.prometheus.remote_write]]`.
pub const REMOTE_WRITE_RULES: &str = "compose/prometheus/rules/remote_write.yml";

pub fn render(stack: &Stack, out: &mut Outputs) -> Result<()> {
    let ctx = out.stack_ctx();
    for file in FILES {
        out.render(file, ctx.clone())?;
    }
    if !stack.services.prometheus.remote_write.is_empty() {
        out.render(REMOTE_WRITE_RULES, ctx)?;
    }
    Ok(())
}
