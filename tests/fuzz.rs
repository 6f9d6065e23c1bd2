//! Deterministic mutation fuzzing of parse + validate + render: thousands of stack.toml variants
//! (bytes deleted, inserted or duplicated, lines swapped, numbers changed, values replaced by
//! random TOML values) must never panic; a refused stack is a located report; an accepted one
//! renders, and the tree gen writes passes check right away (empty drift).
//!
//! Seeded xorshift, so a failure is reproducible: the panicking input is printed and saved.
//! `FUZZ_ITERATIONS` and `FUZZ_SEED` change the run (e.g. `FUZZ_ITERATIONS=100000`).

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use xtask::stack;

/// xorshift64*: small, fast, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const VALUES: &[&str] = &[
    "true",
    "false",
    "0",
    "-1",
    "1",
    "65536",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "1.5",
    "nan",
    "inf",
    "1e400",
    "\"\"",
    "\"x\"",
    "\"latest\"",
    "\"../../etc\"",
    "\"generated/x\"",
    "\"10.0.0.1\"",
    "\"192.168.1.0/24\"",
    "\"https://\"",
    "\"é\u{202e}\"",
    "[]",
    "[1, \"a\"]",
    "[\"ssh-ed25519 AAAA\"]",
    "{}",
    "{ env = \"\" }",
    "{ env = \"X\" }",
    "{ env = 1 }",
    "1979-05-27T07:32:00Z",
    "'''multi'''",
];
const SNIPPETS: &[&str] = &["[", "]", "=", "\"", "'", "{", "}", ",", "\n", "#", ".", "[vms.x]\nvm_id = 1\n", "[[services]]\n", "\\", "\u{0}", "\t", "é"];

fn mutate(rng: &mut Rng, src: &str) -> String {
    let mut bytes = src.as_bytes().to_vec();
    for _ in 0..=rng.below(3) {
        let len = bytes.len();
        let at = rng.below(len + 1);
        match rng.below(8) {
            0 => {
                let n = 1 + rng.below(16);
                bytes.drain(at..(at + n).min(len));
            }
            1 => {
                let s = rng.pick(SNIPPETS).as_bytes();
                bytes.splice(at..at, s.iter().copied());
            }
            2 => {
                let n = 1 + rng.below(32);
                let chunk: Vec<u8> = bytes[at..(at + n).min(len)].to_vec();
                bytes.splice(at..at, chunk);
            }
            3 | 4 => bytes = line_edit(rng, &String::from_utf8_lossy(&bytes)).into_bytes(),
            5 => bytes = change_number(rng, &String::from_utf8_lossy(&bytes)).into_bytes(),
            _ => bytes = replace_value(rng, &String::from_utf8_lossy(&bytes)).into_bytes(),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Swaps, deletes or duplicates whole lines.
fn line_edit(rng: &mut Rng, src: &str) -> String {
    let mut lines: Vec<&str> = src.lines().collect();
    if lines.is_empty() {
        return src.to_string();
    }
    let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
    match rng.below(3) {
        0 => lines.swap(a, b),
        1 => {
            lines.remove(a);
        }
        _ => lines.insert(b, lines[a]),
    }
    lines.join("\n") + "\n"
}

/// Replaces one run of digits by another number, small, large, zero or negative.
fn change_number(rng: &mut Rng, src: &str) -> String {
    let runs: Vec<(usize, usize)> = {
        let b = src.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_digit() {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                out.push((start, i));
            } else {
                i += 1;
            }
        }
        out
    };
    if runs.is_empty() {
        return src.to_string();
    }
    let (s, e) = *rng.pick(&runs);
    let n = match rng.below(5) {
        0 => "0".to_string(),
        1 => (rng.next() % 10).to_string(),
        2 => (rng.next() % 100_000).to_string(),
        3 => rng.next().to_string(),
        _ => format!("-{}", rng.next() % 1000),
    };
    format!("{}{n}{}", &src[..s], &src[e..])
}

/// Replaces the value of one `key = value` line by a random TOML value.
fn replace_value(rng: &mut Rng, src: &str) -> String {
    let mut lines: Vec<String> = src.lines().map(str::to_string).collect();
    let assignments: Vec<usize> = lines.iter().enumerate().filter(|(_, l)| !l.trim_start().starts_with('#') && l.contains(" = ")).map(|(i, _)| i).collect();
    if assignments.is_empty() {
        return src.to_string();
    }
    let i = *rng.pick(&assignments);
    let key = lines[i].split(" = ").next().unwrap().to_string();
    lines[i] = format!("{key} = {}", rng.pick(VALUES));
    lines.join("\n") + "\n"
}

fn iterations() -> usize {
    std::env::var("FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(2_500)
}

fn seed() -> u64 {
    std::env::var("FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed_cafe_f00d_0001)
}

fn bases() -> Vec<String> {
    let root = common::repo_root();
    let mut out: Vec<String> = common::fixture_stacks().iter().map(|(_, p)| std::fs::read_to_string(p).unwrap()).collect();
    out.push(std::fs::read_to_string(root.join("tests/bad/base.toml")).unwrap());
    out
}

/// What one input did.
enum Outcome {
    Refused,
    Rendered(xtask::tree::Tree),
}

fn run_one(src: &str, templates: &Path) -> Result<Outcome, String> {
    match stack::from_str("stack.toml", src) {
        Err(report) => {
            let text = report.to_string();
            for line in text.lines() {
                let ok = line.starts_with("stack.toml:") || line.starts_with("  hint: ") || line.ends_with(" in stack.toml");
                if !ok {
                    return Err(format!("unlocated report line `{line}` in:\n{text}"));
                }
            }
            Ok(Outcome::Refused)
        }
        Ok(stack) => xtask::targets::generate(&stack, templates).map(Outcome::Rendered).map_err(|e| format!("a valid stack failed to render: {e:#}")),
    }
}

#[test]
fn mutated_stacks_never_panic_and_valid_ones_pass_check_after_gen() {
    let templates = common::repo_root().join("infrastructure/templates");
    let bases = bases();
    let mut rng = Rng(seed());
    let (mut refused, mut rendered, mut checked) = (0, 0, 0);
    let dir = common::temp_dir("fuzz-gen");
    for i in 0..iterations() {
        let base = &bases[i % bases.len()];
        let src = mutate(&mut rng, base);
        let result = catch_unwind(AssertUnwindSafe(|| run_one(&src, &templates)));
        let outcome = match result {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => panic!("iteration {i} (seed {:#x}): {e}\n--- input ---\n{src}", seed()),
            Err(_) => {
                let saved = std::env::temp_dir().join(format!("xtask-fuzz-panic-{i}.toml"));
                let _ = std::fs::write(&saved, &src);
                panic!("iteration {i} (seed {:#x}) panicked; input saved to {}:\n{src}", seed(), saved.display());
            }
        };
        match outcome {
            Outcome::Refused => refused += 1,
            Outcome::Rendered(tree) => {
                rendered += 1;
                // Writing is the slow part: gen + check on every 10th accepted variant.
                if rendered % 10 == 1 {
                    xtask::tree::write(&tree, &dir).unwrap_or_else(|e| panic!("iteration {i}: gen failed: {e:#}\n{src}"));
                    let drift = xtask::tree::drift(&tree, &dir).unwrap();
                    assert!(
                        drift.is_empty(),
                        "iteration {i}: check right after gen found {:?}\n{src}",
                        drift.iter().map(|d| (&d.path, d.class)).collect::<Vec<_>>()
                    );
                    checked += 1;
                }
            }
        }
    }
    eprintln!("fuzz: {refused} refused, {rendered} rendered, {checked} written and checked");
    assert!(refused > iterations() / 10, "too few refusals: the mutations do not break anything");
    assert!(checked >= 5, "too few valid variants ({rendered}) to test gen then check");
}

#[test]
fn the_mutations_are_deterministic() {
    let base = &bases()[0];
    let run = || {
        let mut rng = Rng(seed());
        (0..50).map(|_| mutate(&mut rng, base)).collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}
