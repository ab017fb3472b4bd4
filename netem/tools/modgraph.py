#!/usr/bin/env python3
"""Import graph of a crate's top-level src/*.rs files (`use crate::X` / `crate::X::` paths;
`#[cfg(test)] mod` blocks and comments excluded; `mod X;` declarations are not imports), its
cycles, the non-test line count of each file and the functions over 80 lines.

Usage: python3 netem/tools/modgraph.py netem/src    (exit status 1 when there is a cycle)"""
import os, re, sys

src = sys.argv[1] if len(sys.argv) > 1 else "netem/src"
files = sorted(f for f in os.listdir(src) if f.endswith(".rs"))
mods = {f[:-3] for f in files} - {"lib", "main"}

def strip_tests(text):
    """Drop `#[cfg(test)] mod ... { ... }` blocks (brace matching) and comments."""
    out, i = [], 0
    lines = text.split("\n")
    while i < len(lines):
        if lines[i].strip() == "#[cfg(test)]" and i + 1 < len(lines) and re.match(r"\s*mod \w+", lines[i + 1]):
            depth, j, started = 0, i + 1, False
            while j < len(lines):
                depth += lines[j].count("{") - lines[j].count("}")
                started = started or "{" in lines[j]
                j += 1
                if started and depth <= 0:
                    break
            i = j
            continue
        out.append(lines[i])
        i += 1
    return out

graph, counts = {}, {}
for f in files:
    m = f[:-3]
    code = strip_tests(open(os.path.join(src, f)).read())
    counts[f] = len(code)
    body = "\n".join(l for l in code if not l.strip().startswith("//"))
    deps = set()
    # `use crate::{a, b::c}` and `crate::a::...`/`use crate::a;`
    for grp in re.findall(r"use crate::\{([^;]*)\};", body, re.S):
        deps |= {p.strip().split("::")[0] for p in grp.split(",") if p.strip()}
    deps |= set(re.findall(r"crate::(\w+)", body))
    graph[m] = sorted(d for d in deps if d in mods and d != m)

def cycles():
    found, stack, color = [], [], {}
    def dfs(u):
        color[u] = 1; stack.append(u)
        for v in graph.get(u, []):
            if color.get(v, 0) == 1:
                found.append(stack[stack.index(v):] + [v])
            elif color.get(v, 0) == 0:
                dfs(v)
        stack.pop(); color[u] = 2
    for u in sorted(graph):
        if color.get(u, 0) == 0:
            dfs(u)
    return found

for m in sorted(graph):
    print(f"{m:10} -> {', '.join(graph[m]) or '-'}")
cs = cycles()
print("cycles:", "none" if not cs else "")
for c in cs:
    print("  " + " -> ".join(c))
print("non-test lines per file:")
for f in files:
    flag = "  OVER 700" if counts[f] > 700 else ""
    print(f"  {f:14} {counts[f]:5}{flag}")
print("functions over 80 lines (non-test):")
over = 0
for f in files:
    code = strip_tests(open(os.path.join(src, f)).read())
    for i, l in enumerate(code):
        m = re.match(r"\s*(pub(\([^)]*\))?\s+)?(unsafe\s+)?(extern \"C\"\s+)?fn (\w+)", l)
        if not m:
            continue
        depth, j, started = 0, i, False
        while j < len(code):
            depth += code[j].count("{") - code[j].count("}")
            started = started or "{" in code[j]
            if (started and depth <= 0) or (not started and code[j].rstrip().endswith(";")):
                break
            j += 1
        if j - i + 1 > 80:
            over += 1
            print(f"  {f}:{i + 1} fn {m.group(5)}: {j - i + 1} lines")
if not over:
    print("  none")
sys.exit(1 if cs else 0)
