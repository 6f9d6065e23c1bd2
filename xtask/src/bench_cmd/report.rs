//! The bench's figures as ratios to the floors of the same rounds, and the targets' verdicts.

use std::fmt::Write as _;
use std::time::Duration;

use super::rounds::{Children, Round, spread};

/// Check ≤ this many times its floor, gen too, at 1,000 VMs.
pub const RATIO_TARGET: f64 = 2.0;
/// From 100 VMs up, the ratio to the floor may grow by at most this factor (linear time).
pub const RATIO_LINEAR_SLACK: f64 = 1.5;
pub const PEAK_TARGET_MIB: f64 = 64.0;
pub const EXAMPLE_CHECK_TARGET: Duration = Duration::from_millis(2);

/// (min, median, max).
pub type Spread = (f64, f64, f64);

/// One stack's figures as ratios to the floors of the same rounds.
#[derive(Debug, Clone)]
pub struct Ratios {
    pub name: String,
    pub vms: usize,
    pub rounds: usize,
    /// Medians, in seconds: the read floor, the write + sync floor, check.
    pub floor_read: f64,
    pub floor_write: f64,
    pub check_s: f64,
    /// check ÷ read floor.
    pub check: Spread,
    /// check on a render-memo hit ÷ read floor, and its median in seconds.
    pub check_memo: Spread,
    pub check_memo_s: f64,
    /// gen into an empty tree ÷ (write + sync floor).
    pub generate: Spread,
    /// gen into an empty tree ÷ the plain write alone (the floor without its sync).
    pub gen_nosync: Spread,
    /// gen over an up-to-date tree ÷ read floor.
    pub gen_same: Spread,
    /// Child processes, (check ÷ read, check --no-memo ÷ read, gen ÷ write + sync): another
    /// build, and this one.
    pub before: Option<(Spread, Spread, Spread)>,
    pub after: Option<(Spread, Spread, Spread)>,
    /// Peak memory of a lone check and a lone gen (KiB).
    pub peak_kib: (u64, u64),
}

impl Ratios {
    pub fn of(name: &str, vms: usize, rs: &[Round], peak_kib: (u64, u64)) -> Ratios {
        let sp = |f: &dyn Fn(&Round) -> f64| spread(rs.iter().map(f).collect());
        let child = |pick: &dyn Fn(&Round) -> Option<Children>| {
            (!rs.is_empty() && rs.iter().all(|r| pick(r).is_some())).then(|| {
                (
                    sp(&|r| pick(r).map_or(f64::NAN, |c| c.0) / r.floor_read),
                    sp(&|r| pick(r).map_or(f64::NAN, |c| c.1) / r.floor_read),
                    sp(&|r| pick(r).map_or(f64::NAN, |c| c.2) / r.write_floor()),
                )
            })
        };
        Ratios {
            name: name.to_string(),
            vms,
            rounds: rs.len(),
            floor_read: sp(&|r| r.floor_read).1,
            floor_write: sp(&|r| r.write_floor()).1,
            check_s: sp(&|r| r.check).1,
            check: sp(&|r| r.check / r.floor_read),
            check_memo: sp(&|r| r.check_memo / r.floor_read),
            check_memo_s: sp(&|r| r.check_memo).1,
            generate: sp(&|r| r.gen_empty / r.write_floor()),
            gen_nosync: sp(&|r| r.gen_empty / r.floor_write),
            gen_same: sp(&|r| r.gen_same / r.floor_read),
            before: child(&|r| r.before),
            after: child(&|r| r.after),
            peak_kib,
        }
    }
}

fn spread_text((lo, mid, hi): Spread) -> String {
    format!("×{lo:.2}/{mid:.2}/{hi:.2}")
}

fn pass(ok: bool) -> &'static str {
    if ok { "PASS" } else { "over" }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The ratios as a table, then the targets' verdicts.
pub fn ratio_table(rows: &[Ratios]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "ratios to the floors measured in the same round, min/median/max (floors: plain read-and-compare; plain write + one sync; write ms includes the sync):"
    );
    let _ = writeln!(
        out,
        "{:<15} {:>5} {:>6} {:>8} {:>9} {:>20} {:>20} {:>20} {:>20} {:>20} {:>8} {:>8}",
        "stack",
        "VMs",
        "rounds",
        "read ms",
        "write ms",
        "check ÷ read",
        "memo hit ÷ read",
        "gen empty ÷ write",
        "(÷ write w/o sync)",
        "gen same ÷ read",
        "chk MiB",
        "gen MiB"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<15} {:>5} {:>6} {:>8.3} {:>9.3} {:>20} {:>20} {:>20} {:>20} {:>20} {:>8.1} {:>8.1}",
            r.name,
            r.vms,
            r.rounds,
            r.floor_read * 1e3,
            r.floor_write * 1e3,
            spread_text(r.check),
            spread_text(r.check_memo),
            spread_text(r.generate),
            spread_text(r.gen_nosync),
            spread_text(r.gen_same),
            mib(r.peak_kib.0),
            mib(r.peak_kib.1)
        );
    }
    if rows.iter().any(|r| r.before.is_some()) {
        let _ = writeln!(out, "\nchild processes (whole command, process start included); before = XTASK_BENCH_BEFORE, after = this build:");
        let _ = writeln!(
            out,
            "{:<15} {:>20} {:>20} {:>22} {:>22} {:>20} {:>20}",
            "stack", "before check ÷ read", "after check ÷ read", "before --no-memo ÷ rd", "after --no-memo ÷ rd", "before gen ÷ write", "after gen ÷ write"
        );
        for r in rows {
            if let (Some(b), Some(a)) = (r.before, r.after) {
                let _ = writeln!(
                    out,
                    "{:<15} {:>20} {:>20} {:>22} {:>22} {:>20} {:>20}",
                    r.name,
                    spread_text(b.0),
                    spread_text(a.0),
                    spread_text(b.1),
                    spread_text(a.1),
                    spread_text(b.2),
                    spread_text(a.2)
                );
            }
        }
    }
    let _ = writeln!(out, "\ntargets:");
    if let Some(ex) = rows.first() {
        let ms = ex.check_s * 1e3;
        let target = EXAMPLE_CHECK_TARGET.as_secs_f64() * 1e3;
        let _ = writeln!(out, "  {} check (full render): median {ms:.3} ms: {} (≤ {target} ms)", ex.name, pass(ms <= target));
        let memo = ex.check_memo_s * 1e3;
        let _ = writeln!(out, "  {} check (render memo hit, after a gen here): median {memo:.3} ms: {} (≤ {target} ms)", ex.name, pass(memo <= target));
    }
    let large = rows.iter().find(|r| r.vms >= 1_000);
    let mid = rows.iter().find(|r| (100..1_000).contains(&r.vms));
    if let Some(l) = large {
        for (how, ratio) in [("full render", l.check.1), ("render memo hit", l.check_memo.1)] {
            let _ = writeln!(out, "  check at {} VMs ({how}): median ×{ratio:.2} of its floor: {} (≤ ×{RATIO_TARGET})", l.vms, pass(ratio <= RATIO_TARGET));
        }
        let _ = writeln!(
            out,
            "  gen at {} VMs, into an empty tree: median ×{:.2} of its floor: {} (≤ ×{RATIO_TARGET})",
            l.vms,
            l.generate.1,
            pass(l.generate.1 <= RATIO_TARGET)
        );
        if let Some(m) = mid {
            let (c, g) = (l.check.1 / m.check.1, l.generate.1 / m.generate.1);
            let ok = c <= RATIO_LINEAR_SLACK && g <= RATIO_LINEAR_SLACK;
            let _ = writeln!(
                out,
                "  linear from {} to {} VMs: the ratio grows ×{c:.2} (check), ×{g:.2} (gen): {} (≤ ×{RATIO_LINEAR_SLACK})",
                m.vms,
                l.vms,
                pass(ok)
            );
        }
        let peak = mib(l.peak_kib.0.max(l.peak_kib.1));
        let _ = writeln!(out, "  peak memory at {} VMs, check or gen alone: {peak:.1} MiB: {} (≤ {PEAK_TARGET_MIB} MiB)", l.vms, pass(peak <= PEAK_TARGET_MIB));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ratios(name: &str, vms: usize, check: f64, generate: f64, check_ms: f64, peak_mib: u64) -> Ratios {
        Ratios {
            name: name.into(),
            vms,
            rounds: 3,
            floor_read: 0.01,
            floor_write: 0.02,
            check_s: check_ms / 1e3,
            check: (check * 0.9, check, check * 1.1),
            check_memo: (1.0, 1.1, 1.2),
            check_memo_s: check_ms / 2e3,
            generate: (generate * 0.9, generate, generate * 1.1),
            gen_nosync: (2.0, 3.0, 4.0),
            gen_same: (1.0, 1.2, 1.4),
            before: None,
            after: None,
            peak_kib: (peak_mib * 1024, peak_mib * 1024),
        }
    }

    #[test]
    fn the_ratio_table_judges_the_targets() {
        let good = ratio_table(&[
            ratios("example", 4, 3.0, 3.0, 1.5, 9),
            ratios("synthetic 100", 101, 1.8, 1.9, 9.0, 12),
            ratios("synthetic 1000", 1001, 1.7, 1.9, 60.0, 40),
        ]);
        assert!(good.contains("example check (full render): median 1.500 ms: PASS (≤ 2 ms)"), "{good}");
        assert!(good.contains("example check (render memo hit, after a gen here): median 0.750 ms: PASS"), "{good}");
        assert!(good.contains("check at 1001 VMs (full render): median ×1.70 of its floor: PASS"), "{good}");
        assert!(good.contains("check at 1001 VMs (render memo hit): median ×1.10 of its floor: PASS"), "{good}");
        assert!(good.contains("gen at 1001 VMs, into an empty tree: median ×1.90 of its floor: PASS"), "{good}");
        assert!(good.contains("linear from 101 to 1001 VMs") && good.contains(": PASS (≤ ×1.5)"), "{good}");
        assert!(good.contains("40.0 MiB: PASS (≤ 64 MiB)"), "{good}");
        assert!(good.contains("×1.53/1.70/1.87"), "min/median/max: {good}");
        let bad = ratio_table(&[
            ratios("example", 4, 3.0, 3.0, 2.5, 9),
            ratios("synthetic 100", 101, 1.5, 1.5, 9.0, 12),
            ratios("synthetic 1000", 1001, 2.5, 2.4, 60.0, 70),
        ]);
        assert!(bad.contains("2.500 ms: over"), "{bad}");
        assert!(bad.contains("median ×2.50 of its floor: over") && bad.contains("median ×2.40 of its floor: over"), "{bad}");
        assert!(bad.contains("×1.67 (check), ×1.60 (gen): over"), "{bad}");
        assert!(bad.contains("70.0 MiB: over"), "{bad}");
    }
}
