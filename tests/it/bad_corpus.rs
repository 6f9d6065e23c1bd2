//! The bad-input corpus: every case of `tests/bad/cases.toml` is `tests/bad/base.toml` broken in
//! one way (syntax, a wrong type per section, each semantic rule of stack/validate/) by a few
//! text edits. Each must be refused with every problem located as `stack.toml:LINE:COL:`, and
//! the exact report is a snapshot. Also: the example cut at many points never panics, and every
//! rule of stack/validate/ (by the rule id each problem carries) is hit by a case of the corpus
//! or of tests/it/bad_input.rs.

use crate::common;

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use xtask::stack;
use xtask::stack::diag::Report;

/// Every line of a report is a located problem, a hint, or the final count.
fn assert_located(name: &str, report: &str) {
    let lines: Vec<&str> = report.lines().collect();
    assert!(lines.len() >= 2, "{name}: no problem in the report:\n{report}");
    let (last, problems) = lines.split_last().unwrap();
    assert!(last.ends_with(" in stack.toml") && last.contains(" problem"), "{name}: no count line:\n{report}");
    for line in problems {
        if line.starts_with("  hint: ") {
            continue;
        }
        let rest = line.strip_prefix("stack.toml:").unwrap_or_else(|| panic!("{name}: unlocated line `{line}`"));
        let mut parts = rest.splitn(3, ':');
        let (l, c) = (parts.next().unwrap(), parts.next().unwrap_or(""));
        assert!(l.parse::<usize>().is_ok_and(|l| l >= 1) && c.parse::<usize>().is_ok_and(|c| c >= 1), "{name}: bad location in `{line}`");
    }
}

fn problems(name: &str, src: &str) -> Report {
    match stack::from_str("stack.toml", src) {
        Ok(_) => panic!("{name}: the stack was accepted"),
        Err(report) => report,
    }
}

fn report(name: &str, src: &str) -> String {
    problems(name, src).to_string()
}

/// One case of tests/bad/cases.toml.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// `NN-name`; the snapshot is `bad_corpus__corpus@NN-name.toml.snap`.
    name: String,
    /// What is broken: the case's first line says it.
    about: String,
    /// `[from, to]` text replacements, applied in order; each `from` occurs exactly once.
    edits: Vec<(String, String)>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Cases {
    case: Vec<Case>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(common::repo_root().join("tests/bad/cases.toml")).unwrap();
    toml::from_str::<Cases>(&text).unwrap_or_else(|e| panic!("tests/bad/cases.toml: {e}")).case
}

/// The stack.toml of a case: the base, its first two lines replaced by the case's header, then
/// the case's edits.
fn source(case: &Case) -> String {
    let base = std::fs::read_to_string(common::repo_root().join("tests/bad/base.toml")).unwrap();
    let rest = base.splitn(3, '\n').nth(2).unwrap();
    let mut src = format!(
        "# Bad input {}: {}\n# A copy of tests/bad/base.toml with that one thing broken; tests/it/bad_corpus.rs snapshots the report.\n{rest}",
        case.name, case.about
    );
    for (from, to) in &case.edits {
        let n = src.matches(from.as_str()).count();
        assert!(n == 1, "{}: the edit `{from}` matches {n} times (it must match once: add a line of context)", case.name);
        src = src.replacen(from.as_str(), to, 1);
    }
    src
}

#[test]
fn corpus() {
    for case in cases() {
        let out = report(&case.name, &source(&case));
        assert_located(&case.name, &out);
        assert_snapshot!(format!("corpus@{}.toml", case.name), out);
    }
}

#[test]
fn the_corpus_is_large_enough_and_named_in_order() {
    let names: Vec<String> = cases().into_iter().map(|c| c.name).collect();
    assert!(names.len() >= 40, "only {} cases", names.len());
    for (i, name) in names.iter().enumerate() {
        assert!(name.starts_with(&format!("{:02}-", i + 1)), "{name}: cases are NN-name, in order, numbered from 01 without gaps");
    }
}

/// A rule id as the coverage check compares them: the file relative to the repository, and the
/// line.
fn rule_id(problem: &stack::diag::Problem) -> String {
    format!("{}:{}", problem.rule.file().replace('\\', "/"), problem.rule.line())
}

/// The rules: each `.add(` / `.add_missing(` call (a problem pushed by `Problems::add`, which
/// records its caller as the problem's rule) of every module of `stack/validate/` and of
/// `workable.rs`, as `xtask/src/stack/<file>:<line>`, with the text of that line.
fn rules() -> Vec<(String, String)> {
    let root = common::repo_root();
    let mut files: Vec<_> = walkdir::WalkDir::new(root.join("xtask/src/stack/validate"))
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.push(root.join("xtask/src/stack/workable.rs"));
    let mut rules = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&root).unwrap().display().to_string();
        let src = std::fs::read_to_string(&file).unwrap();
        for (i, line) in src.lines().enumerate() {
            if line.contains(".add(") || line.contains(".add_missing(") {
                rules.push((format!("{rel}:{}", i + 1), line.trim().to_string()));
            }
        }
    }
    rules
}

/// The rules hit by the cases of tests/it/bad_input.rs: this binary runs them again, with
/// `XTASK_RULES_HIT` naming a file where their `report` writes the rule of each problem.
fn rules_hit_by_bad_input() -> BTreeSet<String> {
    let dir = common::temp_dir("rules-hit");
    let file = dir.join("rules");
    let out =
        std::process::Command::new(std::env::current_exe().unwrap()).args(["bad_input::", "--test-threads=2"]).env("XTASK_RULES_HIT", &file).output().unwrap();
    assert!(out.status.success(), "the cases of tests/it/bad_input.rs failed:\n{}{}", common::text(&out.stdout), common::text(&out.stderr));
    std::fs::read_to_string(&file).unwrap_or_default().lines().map(str::to_string).collect()
}

#[test]
fn every_rule_of_validate_rs_is_hit_by_the_corpus() {
    let rules = rules();
    assert!(rules.len() >= 60, "found only {} rules: the scan of stack/validate/ is broken", rules.len());
    let mut hit: BTreeSet<String> = BTreeSet::new();
    for case in cases() {
        hit.extend(problems(&case.name, &source(&case)).lines.iter().map(|(_, _, p)| rule_id(p)));
    }
    hit.extend(rules_hit_by_bad_input());
    let known: BTreeSet<&str> = rules.iter().map(|(id, _)| id.as_str()).collect();
    // The ids must meet: most rules are hit (else the scan and the recorded ids disagree).
    let met = hit.iter().filter(|h| known.contains(h.as_str())).count();
    assert!(met * 2 > rules.len(), "only {met} of {} rules were recognised: do the rule ids still name the `.add(` lines?", rules.len());
    let missed: Vec<String> = rules.iter().filter(|(id, _)| !hit.contains(id)).map(|(id, line)| format!("{id}: {line}")).collect();
    assert!(missed.is_empty(), "rules of stack/validate/ that no case hits (add a case to tests/it/bad_input.rs):\n{}", missed.join("\n"));
}

/// Cuts each fixture stack after every byte (on character boundaries): never a panic; an error
/// is a located report; a prefix is accepted only when it is a valid stack, which renders.
#[test]
fn truncations_of_the_fixture_stacks_never_panic() {
    let templates = common::repo_root().join("infrastructure/templates");
    for (name, path) in common::fixture_stacks() {
        let src = std::fs::read_to_string(path).unwrap();
        let (mut ok, mut err) = (0, 0);
        let all: Vec<usize> = (0..=src.len()).filter(|&i| src.is_char_boundary(i)).collect();
        // The sample without XTASK_EXHAUSTIVE=1: every line end (where the valid prefixes are)
        // and every 5th other cut.
        let cuts: Vec<usize> = all.iter().copied().filter(|&i| common::exhaustive() || i % 5 == 0 || src[..i].ends_with('\n') || i == src.len()).collect();
        common::sampled(&format!("{name} truncations"), cuts.len(), all.len());
        for &cut in &cuts {
            let prefix = &src[..cut];
            let result = catch_unwind(AssertUnwindSafe(|| match stack::from_str("stack.toml", prefix) {
                Ok(stack) => xtask::targets::generate(&stack, &templates).map(|_| true).map_err(|e| format!("{e:#}")),
                Err(report) => {
                    assert_located(&format!("{name} cut at {cut}"), &report.to_string());
                    Ok(false)
                }
            }));
            match result {
                Err(_) => panic!("panicked on {name} cut at byte {cut}:\n{prefix}"),
                Ok(Err(e)) => panic!("a valid prefix of {name} (cut at {cut}) failed to render: {e}"),
                Ok(Ok(true)) => ok += 1,
                Ok(Ok(false)) => err += 1,
            }
        }
        assert!(err > 1000.min(cuts.len() / 2), "{name}: only {err} truncations were refused");
        // The sections after [alerting] are optional, so some prefixes are whole stacks.
        assert!(ok > 0, "{name}: no prefix was a valid stack: the Ok path was never exercised");
        eprintln!("{name} truncations: {err} refused, {ok} valid prefixes rendered");
    }
}
