//! Deterministic mutation fuzzing of parse + validate + render: thousands of stack.toml variants
//! (bytes deleted, inserted or duplicated, lines swapped, numbers changed, values replaced by
//! random TOML values) must never panic; a refused stack is a located report; an accepted one
//! renders, and the tree gen writes passes check right away (empty drift). Every accepted
//! variant also goes through the whole of gen (certificate renewal included, with a CA of the
//! base's domain) and then the whole of check: after any successful gen, check passes.
//!
//! Seeded xorshift, so a failure is reproducible: the panicking input is printed and saved.
//! `FUZZ_ITERATIONS` and `FUZZ_SEED` change the run (e.g. `FUZZ_ITERATIONS=100000`); without
//! them, 500 mutations, or 2,500 with `XTASK_EXHAUSTIVE=1`.

use crate::common;

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

/// `FUZZ_ITERATIONS`, else 2,500 with `XTASK_EXHAUSTIVE=1` (.ci/run) and a sample of 500 without.
fn iterations() -> usize {
    let all = 2_500;
    let default = if common::exhaustive() { all } else { 500 };
    std::env::var("FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
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

/// A repository-relative path that stays inside the temporary root.
fn inside(path: &str) -> bool {
    !path.is_empty() && !Path::new(path).is_absolute() && !path.split('/').any(|c| c == "..")
}

/// The whole of `cargo xtask gen` on a fresh temporary root (the CA of the base's domain and
/// its key in place, no leaf yet), then the whole of `check` on what it left. Ok(true) when gen
/// succeeded and check passed, Ok(false) when gen refused, Err when gen succeeded and check did
/// not: the property "after any successful gen, check passes".
/// `on_disk` writes generated/ and compares with drift, as the commands do; without it the two
/// renders are compared in memory (the disk round trip is what the every-10th write tests).
fn gen_then_check(src: &str, ca: &(String, xtask::tls::Issued), templates: &Path, on_disk: bool) -> Result<bool, String> {
    let root = common::temp_dir("fuzz-full");
    // Where this stack wants its certificates and keys, so that they are put there before the load.
    let wanted = stack::from_str("stack.toml", src).map_err(|e| format!("accepted once, refused now: {e}"))?;
    let t = &wanted.tls;
    if t.enabled {
        if !(inside(&t.certs_dir) && inside(&t.ca_key) && inside(&t.leaf_key)) {
            return Ok(false);
        }
        let certs = root.join(&t.certs_dir);
        std::fs::create_dir_all(&certs).unwrap();
        std::fs::write(certs.join("ca.crt"), &ca.1.cert_pem).unwrap();
        xtask::certs_cmd::write_private(&root.join(&t.ca_key), &ca.1.key_pem).unwrap();
    }
    let now = xtask::certs_cmd::now();
    let project = xtask::project::Project::new(root.path(), "stack.toml");
    let mut stack = project.parse("stack.toml", src.as_bytes()).unwrap();
    if xtask::certs_cmd::renew_leaf(&root, &mut stack, now).is_err() {
        let _ = std::fs::remove_dir_all(&root);
        return Ok(false);
    }
    let tree = xtask::targets::generate(&stack, templates).map_err(|e| format!("gen: {e:#}"))?;
    let generated = root.join("generated");
    if on_disk {
        xtask::tree::write(&tree, &generated).map_err(|e| format!("gen: {e:#}"))?;
    }
    // check: a fresh load of the same files, render, drift and the certificate audit.
    let again = project.parse("stack.toml", src.as_bytes()).unwrap();
    let expected = xtask::targets::generate(&again, templates).map_err(|e| format!("check: {e:#}"))?;
    let drift: Vec<String> = if on_disk {
        xtask::tree::drift(&expected, &generated).unwrap().iter().map(|d| format!("{} {:?}", d.path, d.class)).collect()
    } else if expected != tree {
        vec!["the tree check renders differs from the one gen wrote".to_string()]
    } else {
        Vec::new()
    };
    let audit = xtask::tls::audit(&again, now);
    let _ = std::fs::remove_dir_all(&root);
    if !drift.is_empty() || !audit.is_empty() {
        return Err(format!("gen succeeded but check fails: drift {drift:?}, TLS {audit:?} (CA of {})", ca.0));
    }
    Ok(true)
}

#[test]
fn mutated_stacks_never_panic_and_valid_ones_pass_check_after_gen() {
    let templates = common::repo_root().join("infrastructure/templates");
    let bases = bases();
    let mut rng = Rng(seed());
    let (mut refused, mut rendered, mut checked) = (0, 0, 0);
    let dir = common::temp_dir("fuzz-gen");
    // Each base gets a CA of its own domain, with its key: gen can issue, and must refuse what
    // that CA cannot vouch for (a mutated domain).
    let cas: Vec<(String, xtask::tls::Issued)> = bases
        .iter()
        .map(|b| {
            let domain = stack::from_str("stack.toml", b).unwrap().domain;
            let ca = xtask::tls::new_ca(&domain, xtask::certs_cmd::now()).unwrap();
            (domain, ca)
        })
        .collect();
    let (mut gen_ok, mut gen_refused) = (0, 0);
    common::sampled("mutations", iterations(), 2_500);
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
                // Every accepted variant: the whole of gen, then the whole of check.
                match gen_then_check(&src, &cas[i % bases.len()], &templates, rendered % 10 == 1) {
                    Ok(true) => gen_ok += 1,
                    Ok(false) => gen_refused += 1,
                    Err(e) => panic!("iteration {i}: {e}\n--- input ---\n{src}"),
                }
            }
        }
    }
    eprintln!("fuzz: {refused} refused, {rendered} rendered, {checked} written and checked; full gen: {gen_ok} passed check, {gen_refused} refused");
    assert!(gen_ok >= 5, "too few variants ({gen_ok}) went through the full gen (certificates included) and check");
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

#[test]
fn the_changes_that_need_a_new_leaf_keep_gen_and_check_in_agreement() {
    // The edits that once made gen issue a leaf that check then refused: a new domain (outside
    // the CA's name constraint) and a new route (a new name on the leaf).
    let templates = common::repo_root().join("infrastructure/templates");
    for base in bases() {
        let domain = stack::from_str("stack.toml", &base).unwrap().domain;
        let ca = (domain.clone(), xtask::tls::new_ca(&domain, xtask::certs_cmd::now()).unwrap());
        let moved = base.replacen(&format!("domain = \"{domain}\""), "domain = \"elsewhere.lan\"", 1);
        assert_ne!(moved, base);
        assert_eq!(gen_then_check(&moved, &ca, &templates, true), Ok(false), "gen must refuse a leaf outside the CA's domain");
        let vm = stack::from_str("stack.toml", &base).unwrap().vms.iter().map(|v| v.name.clone()).next().unwrap();
        let routed = format!("{base}\n[routes.fuzzwiki]\nvm = \"{vm}\"\nport = 8080\n");
        assert_eq!(gen_then_check(&routed, &ca, &templates, true), Ok(true), "a new route with the CA key is one gen, then check passes");
    }
}
