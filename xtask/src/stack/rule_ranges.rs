//! How far back each alert rule looks: its longest `[range]` plus its `for`, read from rule text.
//!
//! Local retention must cover that look-back, or the alert evaluates on missing data (a remote
//! write lab is where retention gets shortened). The one source of truth is the rule files
//! Prometheus loads: validation scans the rule templates compiled into xtask (`TEMPLATES`, the
//! files of `infrastructure/templates/compose/prometheus/rules/`), and a test scans the rendered
//! rules of every fixture with the same `look_backs` and checks that both agree.

/// The rule templates, as (rendered file name, template text). `remote_write.yml` is rendered
/// only when the stack has a remote-write endpoint.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("alerts.yml", include_str!("../../../infrastructure/templates/compose/prometheus/rules/alerts.yml.j2")),
    ("logs.yml", include_str!("../../../infrastructure/templates/compose/prometheus/rules/logs.yml.j2")),
    ("traefik.yml", include_str!("../../../infrastructure/templates/compose/prometheus/rules/traefik.yml.j2")),
    ("remote_write.yml", include_str!("../../../infrastructure/templates/compose/prometheus/rules/remote_write.yml.j2")),
];

/// One rule's look-back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookBack {
    /// The alert (or recorded series) name.
    pub rule: String,
    pub file: String,
    /// The longest range selector or subquery range of its expression, in seconds.
    pub range_seconds: u64,
    /// Its `for`, in seconds (0 without one).
    pub for_seconds: u64,
}

impl LookBack {
    pub fn seconds(&self) -> u64 {
        self.range_seconds + self.for_seconds
    }
}

/// Every rule of a rule file with its look-back. A `for:` that is not a literal duration (a
/// template expression: InstanceDown's and TraefikBackendDown's come from
/// `alerting.instance_down_for_seconds`) counts as `templated_for` seconds.
pub fn look_backs(file: &str, text: &str, templated_for: u64) -> Vec<LookBack> {
    let mut out: Vec<LookBack> = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        let t = t.strip_prefix("- ").unwrap_or(t);
        if let Some(name) = t.strip_prefix("alert:").or_else(|| t.strip_prefix("record:")) {
            let rule = name.trim().trim_matches('"').to_string();
            out.push(LookBack { rule, file: file.to_string(), range_seconds: 0, for_seconds: 0 });
            continue;
        }
        let Some(current) = out.last_mut() else { continue };
        if t.starts_with('#') {
            continue;
        }
        if let Some(value) = t.strip_prefix("for:") {
            let value = value.trim().trim_matches('"');
            current.for_seconds = duration_seconds(value).unwrap_or(templated_for);
            continue;
        }
        for range in ranges(t) {
            current.range_seconds = current.range_seconds.max(range);
        }
    }
    out
}

/// The rule that looks back furthest among the rule templates Prometheus loads for this stack.
pub fn longest_in_templates(remote_write: bool, templated_for: u64) -> Option<LookBack> {
    let files = TEMPLATES.iter().filter(|(file, _)| remote_write || *file != "remote_write.yml");
    longest(files.flat_map(|(file, text)| look_backs(file, text, templated_for)))
}

/// The one with the largest look-back; the first of equals.
pub fn longest(rules: impl IntoIterator<Item = LookBack>) -> Option<LookBack> {
    rules.into_iter().fold(None, |best: Option<LookBack>, r| match best {
        Some(b) if b.seconds() >= r.seconds() => Some(b),
        _ => Some(r),
    })
}

/// The ranges of the `[...]` selectors and subqueries (`[1h]`, `[30m:1m]`) of one line.
fn ranges(line: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(open) = rest.find('[') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find(']') else { break };
        let inner = &rest[..close];
        let range = inner.split(':').next().unwrap_or_default().trim();
        if let Some(s) = duration_seconds(range) {
            out.push(s);
        }
        rest = &rest[close..];
    }
    out
}

/// A Prometheus duration (`90s`, `1h30m`, `2d`) in seconds; milliseconds round down.
pub fn duration_seconds(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut total_ms: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let ms = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            _ => return None,
        };
        total_ms = total_ms.checked_add(n.checked_mul(ms)?)?;
        rest = &rest[unit_len..];
    }
    Some(total_ms / 1_000)
}

/// Seconds as the shortest exact reading: `75 min`, `2 h`, `90 s`.
pub fn human(seconds: u64) -> String {
    match seconds {
        s if s >= 3_600 && s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_prometheus_reads_them() {
        assert_eq!(duration_seconds("5m"), Some(300));
        assert_eq!(duration_seconds("1h30m"), Some(5_400));
        assert_eq!(duration_seconds("2d"), Some(172_800));
        assert_eq!(duration_seconds("1500ms"), Some(1));
        assert_eq!(duration_seconds("5"), None);
        assert_eq!(duration_seconds("m5"), None);
        assert_eq!(duration_seconds("{{ x }}"), None);
    }

    #[test]
    fn a_rule_looks_back_its_longest_range_plus_its_for() {
        let text = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: rate(x[5m]) > 0 and rate(y[1h:1m]) > 0\n        for: 15m\n      - alert: B\n        # [2d] in a comment counts for nothing\n        expr: up == 0\n        for: {{ x }}\n";
        let rules = look_backs("r.yml", text, 60);
        assert_eq!(rules.iter().map(|r| (r.rule.as_str(), r.range_seconds, r.for_seconds)).collect::<Vec<_>>(), [("A", 3_600, 900), ("B", 0, 60)]);
        assert_eq!(longest(rules).unwrap().rule, "A");
    }

    #[test]
    fn the_remote_write_rules_count_only_with_remote_write() {
        let without = longest_in_templates(false, 60).unwrap();
        assert!(without.file != "remote_write.yml");
        assert!(without.seconds() >= 3_600, "{without:?}");
        assert!(longest_in_templates(true, 60).unwrap().seconds() >= without.seconds());
    }
}
