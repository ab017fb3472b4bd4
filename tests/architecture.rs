//! The layout rules of `docs/architecture.md`, checked on the sources of every crate:
//!
//! - no import cycle between files (a file's `use crate::…`, `super::…`, `self::…` and paths
//!   into the child modules it declares are its imports; a `mod.rs` only *declaring* a child
//!   is not one);
//! - no file over 700 lines of non-test code;
//! - no function over 80 lines, except the state machines named in [`LONG_FUNCTIONS`].
//!
//! Text-level, like a reader: comments and `#[cfg(test)] mod tests` are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crates' source folders, from the workspace root.
const CRATES: &[&str] = &["harness/src", "netem/src", "reports/src"];

/// Most lines of non-test code in one file.
const MAX_FILE_LINES: usize = 700;

/// Most lines of one function (signature to closing brace).
const MAX_FN_LINES: usize = 80;

/// Functions allowed to be longer, each a state machine or event loop read as one unit:
/// (file, function, why).
const LONG_FUNCTIONS: &[(&str, &str, &str)] = &[(
    "harness/src/workload/flap.rs",
    "client",
    "the flap client's receive loop: receiving, silent, recovering, ended, as one state machine",
)];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Every `.rs` file under `dir` (relative path → text), the binary's `main.rs` left out (it is
/// its own crate root).
fn sources(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p
                    .strip_prefix(dir)
                    .map(|r| r.to_string_lossy().replace('\\', "/"))
                    .unwrap_or_default();
                if rel != "main.rs" {
                    out.insert(rel, std::fs::read_to_string(&p).unwrap_or_default());
                }
            }
        }
    }
    out
}

/// The code a reader counts: the test module and comments left out, strings kept.
fn code_of(src: &str) -> String {
    let end = src.find("#[cfg(test)]\nmod tests").unwrap_or(src.len());
    src[..end]
        .lines()
        .map(|l| match l.find("//") {
            // A `//` inside a string literal (a URL) is rare enough in this code to ignore.
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module path of a file (`transport/mod.rs` → [transport]).
fn module_of(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_string)
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The paths in `code` that start with `crate`, `super` or `self`, as segments (a `{…}` group
/// gives one path per member).
fn paths(code: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let rest: String = bytes[i..bytes.len().min(i + 7)].iter().collect();
        let head = ["crate::", "super::", "self::"]
            .into_iter()
            .find(|h| rest.starts_with(h));
        let prev_ok = i == 0 || !(is_ident(bytes[i - 1]) || bytes[i - 1] == ':');
        if let (Some(h), true) = (head, prev_ok) {
            let root = h.trim_end_matches("::").to_string();
            let mut j = i + h.len();
            let mut segs = Vec::new();
            loop {
                if j < bytes.len() && bytes[j] == '{' {
                    // A group: each member's first segment.
                    let close = bytes[j..]
                        .iter()
                        .position(|&c| c == '}')
                        .map_or(j, |k| j + k);
                    let group: String = bytes[j + 1..close].iter().collect();
                    for m in group.split(',') {
                        let first: String = m.trim().chars().take_while(|&c| is_ident(c)).collect();
                        if !first.is_empty() && first != "self" {
                            let mut s = segs.clone();
                            s.push(first);
                            out.push((root.clone(), s));
                        }
                    }
                    j = close;
                    segs.clear();
                    break;
                }
                let start = j;
                while j < bytes.len() && is_ident(bytes[j]) {
                    j += 1;
                }
                if j > start {
                    segs.push(bytes[start..j].iter().collect::<String>());
                }
                if j + 1 < bytes.len() && bytes[j] == ':' && bytes[j + 1] == ':' {
                    j += 2;
                    continue;
                }
                break;
            }
            if !segs.is_empty() {
                out.push((root, segs));
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// The file-level import graph of one crate.
fn graph(files: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeMap<Vec<String>, String> = files
        .keys()
        .map(|rel| (module_of(rel), rel.clone()))
        .collect();
    // The file of the longest module prefix of a path.
    let resolve = |segs: &[String]| -> Option<&String> {
        (0..=segs.len()).rev().find_map(|n| modules.get(&segs[..n]))
    };
    let mut edges = BTreeMap::new();
    for (rel, src) in files {
        let code = code_of(src);
        let here = module_of(rel);
        let mut to = BTreeSet::new();
        for (root, segs) in paths(&code) {
            let mut full = match root.as_str() {
                "crate" => Vec::new(),
                "self" => here.clone(),
                _ => here[..here.len().saturating_sub(1)].to_vec(),
            };
            full.extend(segs);
            if let Some(t) = resolve(&full) {
                to.insert(t.clone());
            }
        }
        // Bare paths into the children this file declares (`mod x;` … `x::Y`).
        for line in code.lines() {
            let l = line.trim();
            let decl = l.strip_prefix("pub ").unwrap_or(l);
            let decl = decl.strip_prefix("pub(crate) ").unwrap_or(decl);
            if let Some(child) = decl.strip_prefix("mod ").and_then(|m| m.strip_suffix(';')) {
                let needle = format!("{child}::");
                let used = code.match_indices(&needle).any(|(k, _)| {
                    k == 0 || {
                        let c = code[..k].chars().last().unwrap_or(' ');
                        !(is_ident(c) || c == ':')
                    }
                });
                let mut full = here.clone();
                full.push(child.to_string());
                if let (true, Some(t)) = (used, modules.get(&full)) {
                    to.insert(t.clone());
                }
            }
        }
        to.remove(rel);
        edges.insert(rel.clone(), to);
    }
    edges
}

/// Strongly connected components of more than one file (Tarjan).
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let n = t.index.len();
        t.index.insert(v, n);
        t.low.insert(v, n);
        t.stack.push(v);
        t.on.insert(v);
        let g = t.g;
        for w in g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low[v];
                t.low.insert(v, lv.min(lw));
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low[v];
                t.low.insert(v, lv.min(iw));
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn no_import_cycle_between_files() {
    let mut found = Vec::new();
    for krate in CRATES {
        let files = sources(&workspace().join(krate));
        assert!(!files.is_empty(), "no sources under {krate}");
        let g = graph(&files);
        for c in cycles(&g) {
            let arrows: Vec<String> = c
                .iter()
                .map(|f| {
                    let to: Vec<&str> = g[f]
                        .iter()
                        .filter(|t| c.contains(t))
                        .map(String::as_str)
                        .collect();
                    format!("    {krate}/{f} -> {}", to.join(", "))
                })
                .collect();
            found.push(format!("{krate}: {}\n{}", c.join(" "), arrows.join("\n")));
        }
    }
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

#[test]
fn no_file_over_700_lines_of_non_test_code() {
    let mut over = Vec::new();
    for krate in CRATES {
        for (rel, src) in sources(&workspace().join(krate)) {
            let n = code_of(&src)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .count();
            if n > MAX_FILE_LINES {
                over.push(format!("{krate}/{rel}: {n} lines"));
            }
        }
    }
    assert!(
        over.is_empty(),
        "files over {MAX_FILE_LINES} lines of non-test code:\n{}",
        over.join("\n")
    );
}

/// Each function's name and length in lines, signature to closing brace.
fn functions(code: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        let Some(k) = t.find("fn ") else { continue };
        let before = &t[..k];
        let words_ok = before.split_whitespace().all(|w| {
            matches!(w, "pub" | "async" | "const" | "unsafe" | "extern") || w.starts_with("pub(")
        });
        if !words_ok {
            continue;
        }
        let name: String = t[k + 3..].chars().take_while(|&c| is_ident(c)).collect();
        if name.is_empty() {
            continue;
        }
        // From the first `{` after the signature to its match (`;` first: no body).
        let mut depth = 0i32;
        let mut opened = false;
        'scan: for (j, line) in lines.iter().enumerate().skip(i) {
            let mut in_str = false;
            let mut prev = ' ';
            for c in line.chars() {
                match c {
                    '"' if prev != '\\' => in_str = !in_str,
                    '{' if !in_str => {
                        depth += 1;
                        opened = true;
                    }
                    '}' if !in_str => depth -= 1,
                    ';' if !in_str && !opened => break 'scan,
                    _ => {}
                }
                prev = c;
            }
            if opened && depth == 0 {
                out.push((name.clone(), j - i + 1));
                break;
            }
        }
    }
    out
}

#[test]
fn no_function_over_80_lines_but_state_machines() {
    let mut over = Vec::new();
    for krate in CRATES {
        for (rel, src) in sources(&workspace().join(krate)) {
            let path = format!("{krate}/{rel}");
            for (name, n) in functions(&code_of(&src)) {
                let allowed = LONG_FUNCTIONS
                    .iter()
                    .any(|(f, n, _)| *f == path && *n == name);
                if n > MAX_FN_LINES && !allowed {
                    over.push(format!("{path}: {name} ({n} lines)"));
                }
            }
        }
    }
    assert!(
        over.is_empty(),
        "functions over {MAX_FN_LINES} lines:\n{}",
        over.join("\n")
    );
}

/// The checker itself: a cycle through a parent module's re-export is found, a parent that
/// only declares its children is not one.
#[test]
fn the_cycle_check_sees_parent_and_child_imports() {
    let files: BTreeMap<String, String> = [
        ("lib.rs", "pub mod a;\npub mod b;\n"),
        (
            "a/mod.rs",
            "pub mod x;\npub use x::Thing;\npub struct Base;\n",
        ),
        ("a/x.rs", "use super::Base;\npub struct Thing;\n"),
        ("b.rs", "use crate::a::x::Thing;\n"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let c = cycles(&graph(&files));
    assert_eq!(c, vec![vec!["a/mod.rs".to_string(), "a/x.rs".to_string()]]);
    let mut fixed = files.clone();
    fixed.insert(
        "a/x.rs".into(),
        "use super::base::Base;\npub struct Thing;\n".into(),
    );
    fixed.insert("a/base.rs".into(), "pub struct Base;\n".into());
    fixed.insert(
        "a/mod.rs".into(),
        "pub mod base;\npub mod x;\npub use x::Thing;\n".into(),
    );
    assert!(cycles(&graph(&fixed)).is_empty());
    let f = functions("fn a() {\n    1\n}\npub(crate) async fn b(x: u8) -> u8 {\n    if x > 0 { 1 } else { 2 }\n}\nfn c();\n");
    assert_eq!(f, vec![("a".to_string(), 3), ("b".to_string(), 3)]);
}
