//! The bad-input corpus: every file of `tests/bad/corpus/` is a whole stack.toml broken in one
//! way (syntax, truncation, a wrong type per section, each semantic rule of stack/validate/). Each must
//! be refused with every problem located as `stack.toml:LINE:COL:`, and the exact report is a
//! snapshot. Also: the example cut at many points never panics, and every rule of stack/validate/ is
//! hit by some case of the corpus.

use crate::common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use xtask::stack;

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

fn report(name: &str, src: &str) -> String {
    match stack::from_str("stack.toml", src) {
        Ok(_) => panic!("{name}: the stack was accepted"),
        Err(report) => report.to_string(),
    }
}

#[test]
fn corpus() {
    let mut paths: Vec<_> = std::fs::read_dir(common::repo_root().join("tests/bad/corpus")).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let src = std::fs::read_to_string(&path).unwrap();
        let out = report(&name, &src);
        assert_located(&name, &out);
        assert_snapshot!(format!("corpus@{name}"), out);
    }
}

#[test]
fn the_corpus_is_large_enough_and_named_in_order() {
    let dir = common::repo_root().join("tests/bad/corpus");
    let mut names: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    // By number: 100 comes after 99.
    names.sort_by_key(|n| (n.split('-').next().and_then(|d| d.parse::<usize>().ok()).unwrap_or(usize::MAX), n.clone()));
    assert!(names.len() >= 40, "only {} cases", names.len());
    for (i, name) in names.iter().enumerate() {
        assert!(name.starts_with(&format!("{:02}-", i + 1)) && name.ends_with(".toml"), "{name}: cases are NN-name.toml, numbered from 01 without gaps");
    }
}

/// The reports of the whole corpus and of the edit cases' base, for the coverage check.
fn all_reports() -> String {
    let dir = common::repo_root().join("tests/bad/corpus");
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let src = std::fs::read_to_string(&path).unwrap();
        out.push_str(&report(&path.display().to_string(), &src));
        out.push('\n');
    }
    out
}

/// The first string literal in `arg`, unescaped (`\"` and `\\`), if any.
fn first_literal(arg: &str) -> Option<String> {
    let start = arg.find('"')?;
    let mut out = String::new();
    let mut chars = arg[start + 1..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return Some(out),
            c => out.push(c),
        }
    }
    None
}

/// The arguments of the call whose `(` is the first character of `s`, split at top-level commas.
fn call_args(s: &str) -> Vec<String> {
    let mut args = vec![String::new()];
    let (mut depth, mut in_str, mut escaped) = (0, false, false);
    for c in s.chars() {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                _ => {}
            }
        } else {
            match c {
                '"' => in_str = true,
                '(' | '[' | '{' => {
                    depth += 1;
                    if depth == 1 {
                        continue;
                    }
                }
                ')' | ']' | '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                ',' if depth == 1 => {
                    args.push(String::new());
                    continue;
                }
                _ => {}
            }
        }
        args.last_mut().unwrap().push(c);
    }
    args
}

/// The fixed text of a format string: the parts between `{...}` placeholders, 6 characters or
/// longer (shorter ones match anything).
fn fixed_parts(format: &str) -> Vec<String> {
    format.split(['{', '}']).step_by(2).map(str::trim).filter(|p| p.chars().count() >= 6).map(str::to_string).collect()
}

/// The sources whose `.add(` calls are the rules: every module of `stack/validate/` and the
/// modules that hold its newer rules. Sorted, so that a message names the same file each run.
fn rule_sources() -> Vec<(String, String)> {
    let dir = common::repo_root().join("xtask/src/stack");
    let mut files: Vec<_> =
        std::fs::read_dir(dir.join("validate")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "rs")).collect();
    files.sort();
    files.push(dir.join("workable.rs"));
    files.iter().map(|f| (f.strip_prefix(&dir).unwrap().display().to_string(), std::fs::read_to_string(f).unwrap())).collect()
}

#[test]
fn every_rule_of_validate_rs_is_hit_by_the_corpus() {
    let sources = rule_sources();
    assert!(sources.len() >= 9, "the modules of stack/validate/ are not found: {}", sources.len());
    let reports = all_reports();
    let mut rules = 0;
    let mut missed = Vec::new();
    for (file, src) in &sources {
        // `add` and `add_missing` (a missing key or section) take the same arguments.
        let calls = src.match_indices(".add(").map(|(at, _)| at + 4).chain(src.match_indices(".add_missing(").map(|(at, _)| at + 12));
        for open in calls {
            let line = src[..open].matches('\n').count() + 1;
            let args = call_args(&src[open..]);
            assert!(args.len() >= 2, "{file}:{line}: cannot read the arguments of this add()");
            rules += 1;
            let message = first_literal(&args[1]).map(|m| fixed_parts(&m)).unwrap_or_default();
            // A message made only of placeholders is recognised by its hint.
            let parts = if message.is_empty() { args.get(2).and_then(|h| first_literal(h)).map(|h| fixed_parts(&h)).unwrap_or_default() } else { message };
            assert!(!parts.is_empty(), "{file}:{line}: no fixed text to recognise this rule by");
            if let Some(part) = parts.iter().find(|p| !reports.contains(p.as_str())) {
                missed.push(format!("{file}:{line}: `{part}`"));
            }
        }
    }
    assert!(rules >= 60, "found only {rules} rules: the scan of stack/validate/ is broken");
    assert!(missed.is_empty(), "rules of stack/validate/ that no case of tests/bad/corpus hits (add a case):\n{}", missed.join("\n"));
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
