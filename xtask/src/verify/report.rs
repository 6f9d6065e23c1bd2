//! The outcome of `verify`: one line per check, grouped by service, and a summary; or the same
//! as JSON for CI. A detail never holds a secret: checks only put there what the lab answered.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// Not checked (said why); does not fail the run.
    Skip,
    /// Worth knowing (an alert firing now); does not fail the run.
    Info,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub service: &'static str,
    pub name: String,
    pub status: Status,
    pub detail: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub info: usize,
}

impl Report {
    pub fn push(&mut self, service: &'static str, name: impl Into<String>, status: Status, detail: impl Into<String>) {
        self.checks.push(Check { service, name: name.into(), status, detail: detail.into() });
    }

    pub fn pass(&mut self, service: &'static str, name: impl Into<String>, detail: impl Into<String>) {
        self.push(service, name, Status::Pass, detail);
    }

    pub fn fail(&mut self, service: &'static str, name: impl Into<String>, detail: impl Into<String>) {
        self.push(service, name, Status::Fail, detail);
    }

    pub fn summary(&self) -> Summary {
        let n = |s: Status| self.checks.iter().filter(|c| c.status == s).count();
        Summary { passed: n(Status::Pass), failed: n(Status::Fail), skipped: n(Status::Skip), info: n(Status::Info) }
    }

    pub fn ok(&self) -> bool {
        self.summary().failed == 0
    }

    /// The failed checks, as `service: name: detail` lines.
    pub fn failures(&self) -> Vec<String> {
        self.checks.iter().filter(|c| c.status == Status::Fail).map(|c| format!("{}: {}: {}", c.service, c.name, c.detail)).collect()
    }

    /// The text report: services in the order they were checked, one line per check.
    pub fn text(&self) -> String {
        let mut services: Vec<&str> = Vec::new();
        for c in &self.checks {
            if !services.contains(&c.service) {
                services.push(c.service);
            }
        }
        let mut out = String::new();
        for service in services {
            out.push_str(&format!("{service}\n"));
            for c in self.checks.iter().filter(|c| c.service == service) {
                let tag = match c.status {
                    Status::Pass => "ok  ",
                    Status::Fail => "FAIL",
                    Status::Skip => "skip",
                    Status::Info => "info",
                };
                let detail = if c.detail.is_empty() { String::new() } else { format!(": {}", c.detail) };
                out.push_str(&format!("  {tag} {}{detail}\n", c.name));
            }
        }
        let s = self.summary();
        out.push_str(&format!("verify: {} passed, {} failed, {} skipped, {} info\n", s.passed, s.failed, s.skipped, s.info));
        out
    }

    pub fn json(&self) -> String {
        let value = serde_json::json!({ "ok": self.ok(), "summary": self.summary(), "checks": self.checks });
        format!("{}\n", serde_json::to_string_pretty(&value).unwrap_or_default())
    }
}

/// The first line of a body, shortened, for a detail.
pub fn snippet(body: &str) -> String {
    let line = body.lines().next().unwrap_or("").trim();
    if line.chars().count() > 120 { format!("{}…", line.chars().take(120).collect::<String>()) } else { line.to_string() }
}
