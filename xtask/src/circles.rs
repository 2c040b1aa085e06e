//! No import circles between a crate's top-level modules: a circle means two
//! modules that can only be read (and changed) together, which is what the layout
//! by layer is there to prevent. Cargo already forbids circles between crates; this
//! checks inside each one (`crate::X` paths per top-level module, comments ignored,
//! the crate root not counted), as a test so `cargo test -p xtask` fails on a new one.

#![cfg(test)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Circles tolerated for now: none. An entry would name a circle owned by a change
/// in flight; the test fails if one listed here no longer exists, so the list
/// cannot go stale.
const KNOWN: &[(&str, &str, &str)] = &[];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Top-level module -> the top-level modules it names through `crate::`.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for e in std::fs::read_dir(src).into_iter().flatten().flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "lib.rs" || name == "main.rs" || name == "bin" {
            continue;
        }
        if p.is_dir() {
            let mut fs = Vec::new();
            rust_files(&p, &mut fs);
            files.insert(name, fs);
        } else if let Some(m) = name.strip_suffix(".rs") {
            files.insert(m.to_owned(), vec![p]);
        }
    }
    let mut g = BTreeMap::new();
    for (m, fs) in &files {
        let mut deps = BTreeSet::new();
        for f in fs {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            let code: String = text
                .lines()
                .map(|l| l.split("//").next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n");
            for (i, _) in code.match_indices("crate::") {
                let rest = &code[i + "crate::".len()..];
                // `crate::x` and `crate::{x, y::z}`.
                let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
                    let group = group.split('}').next().unwrap_or_default();
                    group
                        .split(',')
                        .map(|s| s.trim().split("::").next().unwrap_or_default())
                        .collect()
                } else {
                    vec![rest
                        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .next()
                        .unwrap_or_default()]
                };
                for n in names {
                    if n != m && files.contains_key(n) {
                        deps.insert(n.to_owned());
                    }
                }
            }
        }
        g.insert(m.clone(), deps);
    }
    g
}

/// Pairs (a, b), a < b, that reach each other.
fn circles(g: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<(String, String)> {
    let reaches = |from: &str, to: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_owned()];
        while let Some(n) = stack.pop() {
            if n == to {
                return true;
            }
            if seen.insert(n.clone()) {
                stack.extend(g.get(&n).into_iter().flatten().cloned());
            }
        }
        false
    };
    let mut out = BTreeSet::new();
    for (a, deps) in g {
        for b in deps {
            if reaches(b, a) {
                let (x, y) = if a < b { (a, b) } else { (b, a) };
                out.insert((x.clone(), y.clone()));
            }
        }
    }
    out
}

fn sources() -> Vec<String> {
    let root = crate::workspace::root();
    let mut dirs: Vec<String> = std::fs::read_dir(root.join("crates"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| format!("crates/{}/src", e.file_name().to_string_lossy()))
        .collect();
    dirs.extend(["xtask/src", "src-tauri/src", "ui/src"].map(str::to_owned));
    dirs.sort();
    dirs
}

#[test]
fn no_module_imports_another_that_imports_it_back() {
    let root = crate::workspace::root();
    let mut found = BTreeSet::new();
    for dir in sources() {
        for (a, b) in circles(&graph(&root.join(&dir))) {
            found.insert((dir.clone(), a, b));
        }
    }
    let known: BTreeSet<(String, String, String)> = KNOWN
        .iter()
        .map(|(d, a, b)| ((*d).to_owned(), (*a).to_owned(), (*b).to_owned()))
        .collect();
    let new: Vec<_> = found.difference(&known).collect();
    assert!(new.is_empty(), "new import circles: {new:?}");
    let gone: Vec<_> = known.difference(&found).collect();
    assert!(
        gone.is_empty(),
        "circles gone (remove them from KNOWN): {gone:?}"
    );
}

#[test]
fn the_check_sees_a_circle() {
    let dir = sockscope_test_support::temp_dir("xtask-circles", "fixture");
    std::fs::create_dir_all(dir.join("b")).expect("temp dir");
    std::fs::write(dir.join("a.rs"), "use crate::b::X; // crate::c\n").expect("a");
    std::fs::write(dir.join("b/mod.rs"), "pub fn f() { crate::a::g() }\n").expect("b");
    std::fs::write(dir.join("c.rs"), "use crate::{a, b::X};\n").expect("c");
    let found = circles(&graph(&dir));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        found,
        BTreeSet::from([("a".to_owned(), "b".to_owned())]),
        "c only imports, and a's comment does not count"
    );
}
