//! `cargo xtask bench`: check and gen for the example stack and synthetic labs of 10, 100 and
//! 1,000 VMs, each as a ratio to the floor the disk allows (a plain read-and-compare of the same
//! tree, a plain write of the same files and one sync), measured in the same process and
//! interleaved with them (`rounds.rs`), with the targets' verdicts (`report.rs`): check and gen
//! ≤ 2× their floor at 1,000 VMs, linear from 100 VMs up, peak memory ≤ 64 MiB at 1,000 VMs, the
//! example's check ≤ 2 ms. The absolute medians (example render ≤ 5 ms, 1,000-VM check ≤ 0.5 s)
//! are printed too.

mod report;
mod rounds;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use crate::project::Project;
use crate::stack;
pub use report::{Ratios, ratio_table};

/// Sizes of the synthetic labs, in VMs besides the monitoring VM.
pub const SIZES: &[usize] = &[10, 100, 1_000];
const EXAMPLE_TARGET: Duration = Duration::from_millis(5);
const LARGE_TARGET: Duration = Duration::from_millis(500);
/// Per-VM time of the largest lab may be at most this many times that of the next one.
const LINEAR_SLACK: f64 = 2.0;

/// One measured stack.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    /// VMs of the lab, the monitoring VM included.
    pub vms: usize,
    pub files: usize,
    pub render: Duration,
    pub check: Duration,
    pub peak_kib: Option<u64>,
}

pub fn run(project: &Project) -> Result<()> {
    if let Ok(cmd) = std::env::var(rounds::PEAK_ENV) {
        // A child of the bench: one command alone, then this process's peak memory.
        let ui = crate::ui::Ui::from_env(true);
        match cmd.as_str() {
            "check" => crate::check::run(project, &crate::cli::Check::default(), &ui)?,
            "gen" => crate::gen_cmd::run(project, &crate::cli::Gen::default(), &ui)?,
            other => anyhow::bail!("{}={other}: not a command the bench measures", rounds::PEAK_ENV),
        }
        println!("peak_kib {}", peak_memory_kib().unwrap_or(0));
        return Ok(());
    }
    let example = String::from_utf8(project.read_stack()?)?;
    let before = std::env::var_os("XTASK_BENCH_BEFORE").map(PathBuf::from);
    let dir = rounds::temp_dir("probe");
    println!(
        "bench: {} profile; floors and figures interleaved in each round, under {} (XTASK_BENCH_DIR to change; XTASK_BENCH_BEFORE=<xtask binary> times another build against the same floors)",
        if cfg!(debug_assertions) { "dev (unoptimized xtask)" } else { "release" },
        dir.parent().map_or_else(String::new, |d| d.display().to_string()),
    );
    let mut stacks = vec![("example".to_string(), example.clone(), 20)];
    for (&n, rounds) in SIZES.iter().zip([10, 7, 5]) {
        stacks.push((format!("synthetic {n}"), synthetic(&example, n), rounds));
    }
    let (mut rows, mut ratios) = (Vec::new(), Vec::new());
    for (name, src, count) in &stacks {
        let bench = rounds::Bench { name, src, project, before: before.as_deref(), root_of: Some(&project.root) };
        let (rs, files) = bench.run(*count)?;
        let vms = stack::from_str("stack.toml", src).map(|s| s.vms.len() + 1).unwrap_or(0);
        let peaks = rounds::child_peaks(name, src, &project.root)?;
        rows.push(Row {
            name: name.clone(),
            vms,
            files,
            render: rounds::median(rs.iter().map(|r| r.render)),
            check: rounds::median(rs.iter().map(|r| r.check)),
            peak_kib: Some(peaks.0.max(peaks.1)),
        });
        ratios.push(Ratios::of(name, vms, &rs, peaks));
    }
    println!("absolute medians (this process; peak: check or gen alone in a child):");
    print!("{}", table(&rows));
    println!();
    print!("{}", ratio_table(&ratios));
    Ok(())
}

/// VmHWM of /proc/self/status: the peak resident memory so far, in KiB (Linux only).
pub fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The example stack with its network widened to a /16 and its VMs (and routes) replaced by `n` VMs with
/// unique names, ids and addresses, spread over three environments.
pub fn synthetic(example: &str, n: usize) -> String {
    let mut out = String::new();
    let mut in_vms = false;
    let mut in_network = false;
    for line in example.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            // Routes name VMs of the example, which the synthetic lab does not have.
            in_vms = ["[vms.", "[vms]", "[routes.", "[routes]"].iter().any(|p| trimmed.starts_with(p));
            in_network = trimmed.starts_with("[network]");
        }
        if in_vms {
            continue;
        }
        let key = trimmed.split('=').next().unwrap_or("").trim();
        match key {
            _ if trimmed.starts_with('[') || trimmed.starts_with('#') => out.push_str(line),
            "cidr" | "admin_cidr" if in_network => out.push_str(&format!("{key} = \"10.20.0.0/16\"")),
            "gateway" if in_network => out.push_str("gateway = \"10.20.0.1\""),
            "dns" if in_network => out.push_str("dns = [\"10.20.0.1\"]"),
            "ip" => out.push_str("ip = \"10.20.0.2\""),
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    for i in 0..n {
        let env = ["prod", "staging", "dev"][i % 3];
        let ip = 256 + i;
        let _ = write!(
            out,
            "\n[vms.{env}-vm-{i:04}]\nvm_id = {}\nip = \"10.20.{}.{}\"\nenvironment = \"{env}\"\ncores = 1\nmemory_mb = 1024\ndisk_gb = 10\n",
            10_000 + i,
            ip / 256,
            ip % 256
        );
    }
    out
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

fn verdict(d: Duration, target: Duration) -> String {
    if d <= target { format!("PASS (≤ {} ms)", target.as_millis()) } else { format!("over ({} ms target)", target.as_millis()) }
}

/// The results as a table, with the targets' verdicts.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<15} {:>5} {:>6} {:>11} {:>12} {:>10} {:>12} {:>9}  verdict",
        "stack", "VMs", "files", "render ms", "per VM µs", "check ms", "per VM µs", "peak MiB"
    );
    let per_vm = |d: Duration, n: usize| d.as_secs_f64() * 1e6 / n.max(1) as f64;
    for (i, r) in rows.iter().enumerate() {
        let verdict = if i == 0 {
            format!("render {}", verdict(r.render, EXAMPLE_TARGET))
        } else if i + 1 == rows.len() && r.vms >= 1_000 {
            let prev = &rows[i - 1];
            let ratio = per_vm(r.check, r.vms) / per_vm(prev.check, prev.vms);
            let linear = if ratio <= LINEAR_SLACK { "PASS" } else { "over" };
            format!("check {}; per VM ×{ratio:.2} of the previous row: linear {linear} (≤ ×{LINEAR_SLACK})", verdict(r.check, LARGE_TARGET))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{:<15} {:>5} {:>6} {:>11} {:>12.1} {:>10} {:>12.1} {:>9}  {verdict}",
            r.name,
            r.vms,
            r.files,
            ms(r.render),
            per_vm(r.render, r.vms),
            ms(r.check),
            per_vm(r.check, r.vms),
            r.peak_kib.map_or("?".to_string(), |k| format!("{:.1}", k as f64 / 1024.0)),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_stacks_are_valid_and_have_the_requested_size() {
        let example = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../stack.toml")).unwrap();
        for n in [1, 10, 300] {
            let stack = stack::from_str("stack.toml", &synthetic(&example, n)).unwrap_or_else(|e| panic!("{n} VMs: {e}"));
            assert_eq!(stack.vms.len(), n);
            assert_eq!(stack.environments.len(), n.min(3));
        }
    }

    fn row(name: &str, vms: usize, render_ms: u64, check_ms: u64) -> Row {
        Row { name: name.into(), vms, files: 7, render: Duration::from_millis(render_ms), check: Duration::from_millis(check_ms), peak_kib: Some(2048) }
    }

    #[test]
    fn the_table_judges_the_targets() {
        let fast = table(&[row("example", 4, 3, 4), row("synthetic 100", 101, 20, 20), row("synthetic 1000", 1001, 150, 190)]);
        assert!(fast.contains("render PASS (≤ 5 ms)"), "{fast}");
        assert!(fast.contains("check PASS (≤ 500 ms)") && fast.contains("linear PASS"), "{fast}");
        let slow = table(&[row("example", 4, 9, 9), row("synthetic 100", 101, 20, 20), row("synthetic 1000", 1001, 900, 900)]);
        assert!(slow.contains("render over (5 ms target)"), "{slow}");
        assert!(slow.contains("check over (500 ms target)") && slow.contains("linear over"), "{slow}");
        assert!(slow.contains("2.0"), "peak memory in MiB: {slow}");
    }

    #[test]
    fn peak_memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(peak_memory_kib().is_some_and(|k| k > 0));
        }
    }
}
