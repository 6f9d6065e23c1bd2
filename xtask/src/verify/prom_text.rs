//! The few lines of the Prometheus text exposition format that verify reads
//! (`alertmanager_notifications_*_total`, Uptime Kuma's `monitor_status`).

use std::collections::BTreeMap;

/// Every sample of `metric`: its labels and value. Malformed lines are skipped.
pub fn samples(text: &str, metric: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(metric) else { continue };
        let (labels, value) = if let Some(body) = rest.strip_prefix('{') {
            let Some(end) = closing_brace(body) else { continue };
            (parse_labels(&body[..end]), body[end + 1..].trim())
        } else if rest.starts_with(' ') {
            (BTreeMap::new(), rest.trim())
        } else {
            continue;
        };
        let value = value.split_whitespace().next().unwrap_or("");
        if let Ok(v) = value.parse::<f64>() {
            out.push((labels, v));
        }
    }
    out
}

/// The sum of `metric` over the samples whose `label` is `value`.
pub fn sum_where(text: &str, metric: &str, label: &str, value: &str) -> Option<f64> {
    let s: Vec<f64> = samples(text, metric).into_iter().filter(|(l, _)| l.get(label).map(String::as_str) == Some(value)).map(|(_, v)| v).collect();
    if s.is_empty() { None } else { Some(s.iter().sum()) }
}

/// The index of the `}` that closes the label set, outside quoted values.
fn closing_brace(body: &str) -> Option<usize> {
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match (in_str, escaped, c) {
            (true, false, '\\') => escaped = true,
            (true, true, _) => escaped = false,
            (true, false, '"') => in_str = false,
            (false, _, '"') => in_str = true,
            (false, _, '}') => return Some(i),
            _ => {}
        }
    }
    None
}

fn parse_labels(body: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = body;
    while let Some((key, after)) = rest.split_once("=\"") {
        let key = key.trim_start_matches([',', ' ']).trim().to_string();
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, other)) => value.push(other),
                    None => {}
                },
                '"' => {
                    end = i + 1;
                    break;
                }
                _ => value.push(c),
            }
        }
        out.insert(key, value);
        rest = &after[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_labels_values_and_escapes() {
        let text = "# HELP x\nalertmanager_notifications_failed_total{integration=\"telegram\",reason=\"other\"} 2\n\
                    alertmanager_notifications_failed_total{integration=\"email\"} 5\n\
                    monitor_status{monitor_name=\"a \\\"b\\\" {c}\",monitor_type=\"http\"} 1\nmonitor_status_x 3\n";
        assert_eq!(sum_where(text, "alertmanager_notifications_failed_total", "integration", "telegram"), Some(2.0));
        let m = samples(text, "monitor_status");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].0["monitor_name"], "a \"b\" {c}");
        assert_eq!(m[0].1, 1.0);
    }
}
