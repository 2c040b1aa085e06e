//! `fuzz-loop TARGET SECONDS [SEED]`: runs a fuzz target on stable Rust as a seeded
//! mutation loop, for machines where libFuzzer cannot be built (it needs cargo-fuzz
//! and a C++ compiler for libFuzzer). Built with `--features mutation-loop`
//! (`cargo xtask fuzz` does it when libFuzzer does not build).
//!
//! No coverage feedback: each case is a seed from `fuzz/corpus/TARGET/` put through
//! 1 to 8 random mutations (bit flips, byte and token insertions, deletions, splices
//! with another seed, duplicated runs, large numbers, multibyte characters). A case
//! that panics is saved to `fuzz/artifacts/TARGET/` and the run ends non-zero, after
//! printing how many cases ran.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Tokens the parsers care about, inserted whole.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b":",
    b"-",
    b"/",
    b"=>",
    b"=",
    b"$",
    b"$.",
    b"$[",
    b"\n",
    b"\\",
    b"\xc3\xa9",
    b"\xe2\x82\xac",
    b"\xf0\x9f\x98\x80",
    b"\xff",
    b"18446744073709551615",
    b"18446744073709551616",
    b"4294967295",
    b"99999999999999999999",
    b"1e308",
    b"1e-300",
    b"-0",
    b"NaN",
    b"null",
    b"true",
    b"0",
    b"4",
    b"42",
    b"451-",
    b"\"_placeholder\":true,\"num\":0",
    b"\"_binary\":\"AQI=\"",
    b"\"loop\":{\"count\":4294967295,\"steps\":[]}",
    b"\"think\":{\"max_ms\":18446744073709551615,\"min_ms\":0}",
    b"\"_webSocketMessages\":[",
    b"\"opcode\":2",
    b"\"type\":\"receive\"",
    b"\"time\":1e300",
];

/// xorshift64*: small, seeded, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    let rounds = 1 + rng.below(8);
    for _ in 0..rounds {
        let at = rng.below(input.len() + 1);
        match rng.below(8) {
            0 if !input.is_empty() => {
                let i = rng.below(input.len());
                input[i] ^= 1 << rng.below(8);
            }
            1 => {
                let byte = (rng.next() & 0xff) as u8;
                input.insert(at, byte);
            }
            2 if !input.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(input.len());
                let start = at.min(end);
                input.drain(start..end);
            }
            3 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                input.splice(at..at, t.iter().copied());
            }
            4 if !corpus.is_empty() => {
                let other = &corpus[rng.below(corpus.len())];
                let from = rng.below(other.len() + 1);
                let to = (from + rng.below(64)).min(other.len());
                input.splice(at..at, other[from..to].iter().copied());
            }
            5 if !input.is_empty() => {
                // Repeat a run: deep nesting, long strings.
                let start = rng.below(input.len());
                let end = (start + 1 + rng.below(8)).min(input.len());
                let run: Vec<u8> = input[start..end].to_vec();
                for _ in 0..1 + rng.below(64) {
                    input.splice(start..start, run.iter().copied());
                }
            }
            6 if !input.is_empty() => {
                // Replace a digit run with a big number.
                let i = rng.below(input.len());
                if input[i].is_ascii_digit() {
                    let t = TOKENS[20 + rng.below(4)];
                    input.splice(i..i + 1, t.iter().copied());
                }
            }
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())];
                input.extend_from_slice(t);
            }
        }
    }
    input.truncate(64 * 1024);
}

fn load_corpus(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: fuzz-loop TARGET SECONDS [SEED]";
    let Some(target) = args.first() else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let Some((name, run)) = sockscope_fuzz::TARGETS
        .iter()
        .find(|(n, _)| n == target)
        .copied()
    else {
        eprintln!("unknown target {target:?}; {usage}");
        return ExitCode::from(2);
    };
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let seed: u64 = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()) | 1);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let corpus = load_corpus(&root.join("corpus").join(name));
    let mut rng = Rng(seed.max(1));
    // Panics are the findings: report them once, not with a backtrace per case.
    std::panic::set_hook(Box::new(|_| {}));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut cases: u64 = 0;
    // Every seed as it is first.
    let mut queue: Vec<Vec<u8>> = corpus.clone();
    loop {
        let input = match queue.pop() {
            Some(seedcase) => seedcase,
            None => {
                if Instant::now() >= deadline {
                    break;
                }
                let mut input = if corpus.is_empty() {
                    Vec::new()
                } else {
                    corpus[rng.below(corpus.len())].clone()
                };
                mutate(&mut rng, &mut input, &corpus);
                input
            }
        };
        cases += 1;
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| run(&input))) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "panic".to_owned());
            let dir = root.join("artifacts").join(name);
            let _ = std::fs::create_dir_all(&dir);
            let file = dir.join(format!("crash-{seed}-{cases}"));
            let _ = std::fs::write(&file, &input);
            println!(
                "fuzz-loop {name}: FOUND after {cases} cases (seed {seed}): {message}; input saved to {}",
                file.display()
            );
            return ExitCode::FAILURE;
        }
    }
    println!(
        "fuzz-loop {name}: {cases} cases in {secs}s (seed {seed}, {} seeds), no panic",
        corpus.len()
    );
    ExitCode::SUCCESS
}
