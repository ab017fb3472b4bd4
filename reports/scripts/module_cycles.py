#!/usr/bin/env python3
"""Module import graph of reports/src (crate:: references; lib.rs `mod` lines are not imports) and its cycles."""
import os, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else "reports/src"
mods = {}
for d, _, fs in os.walk(root):
    for f in fs:
        if not f.endswith(".rs"): continue
        p = os.path.join(d, f); rel = os.path.relpath(p, root)[:-3]
        parts = rel.split(os.sep)
        if parts[-1] in ("mod", "lib"): parts = parts[:-1]
        mods["::".join(parts) or "lib"] = open(p).read()
names = set(mods)
def strip_tests(src):
    """Drops `#[cfg(test)] mod … { … }` blocks: unit tests are not part of the library graph."""
    while True:
        m = re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", src)
        if not m: return src
        depth, i = 1, m.end()
        while depth and i < len(src):
            depth += {"{": 1, "}": -1}.get(src[i], 0); i += 1
        src = src[:m.start()] + src[i:]
def top(m): return m.split("::")[0]
graph = {}
for m, src in mods.items():
    if m == "lib": continue
    src = strip_tests(re.sub(r"//.*", "", src))
    deps = set()
    for path in re.findall(r"crate::((?:[a-z_][a-z0-9_]*)(?:::[a-z_][a-z0-9_]*)*)", src):
        segs = path.split("::")
        # longest known module prefix
        for i in range(len(segs), 0, -1):
            cand = "::".join(segs[:i])
            if cand in names: deps.add(cand); break
    # `use crate::{a, b::c}` groups
    for grp in re.findall(r"use crate::\{([^;]*)\};", src, re.S):
        for item in re.split(r",", grp):
            item = item.strip().split("::")[0].strip("{} \n")
            if item in names: deps.add(item)
    # `super::x` in a file of a directory module (`html::section`) names `html::x` or `html`
    # itself; `self::x` in a directory module's mod.rs names its child `x`
    parent = "::".join(m.split("::")[:-1])
    for kw, base in (("super", parent), ("self", m)):
        for path in re.findall(kw + r"::((?:[a-z_][a-z0-9_]*)(?:::[a-z_][a-z0-9_]*)*|\{[^}]*\}|\*)", src):
            for seg in re.split(r"[{},\s]+", path):
                seg = seg.split("::")[0]
                cand = f"{base}::{seg}" if base else seg
                deps.add(cand if cand in names else (base or "lib"))
    # `mod x; use x::…` in a directory module's mod.rs: plain `x::` paths to its children
    for child in [n for n in names if n.startswith(m + "::") and n.count("::") == m.count("::") + 1]:
        if re.search(r"\b" + child.split("::")[-1] + r"::", src): deps.add(child)
    deps.discard(m); deps.discard("lib")
    graph[m] = sorted(deps)
# file graph edges
for m in sorted(graph): print(f"{m} -> {', '.join(graph[m]) or '-'}")
# cycles via Tarjan SCC
idx, low, st, on, sccs, c = {}, {}, [], set(), [], [0]
def sc(v):
    idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in graph.get(v, []):
        if w not in graph: continue
        if w not in idx: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in graph:
    if v not in idx: sc(v)
print("cycles:", sccs if sccs else "none")
sys.exit(1 if sccs else 0)
