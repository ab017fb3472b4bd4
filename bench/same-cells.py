#!/usr/bin/env python3
"""Checks that two results.json files hold the same cells: the same keys, params and statuses.

Used to prove a change has no behaviour change on a suite (figures differ run to run; what a
cell is, what it records about itself and whether it ran must not):

    python3 bench/same-cells.py BEFORE/results.json AFTER/results.json

Exits 1 and lists the differences when there are any.
"""
import json
import sys

KEY = ("scenario", "workload", "label", "transport", "impl", "profile", "repeat")


def cells(path):
    with open(path) as f:
        r = json.load(f)
    out = {}
    for c in r["cells"]:
        client = (c.get("client") or "rust").split(" ")[0]
        out[tuple(c.get(k) for k in KEY) + (client,)] = c
    return r, out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    (ra, a), (rb, b) = cells(sys.argv[1]), cells(sys.argv[2])
    problems = []
    for k in sorted(set(a) | set(b), key=str):
        if k not in a or k not in b:
            problems.append(f"{k}: only in {'before' if k in a else 'after'}")
            continue
        ca, cb = a[k], b[k]
        if ca["status"] != cb["status"]:
            problems.append(f"{k}: status {ca['status']} -> {cb['status']} ({cb.get('error')})")
        if ca["params"] != cb["params"]:
            keys = sorted(set(ca["params"]) | set(cb["params"]))
            diff = [p for p in keys if ca["params"].get(p) != cb["params"].get(p)]
            problems.append(f"{k}: params differ in {diff}")
        fields_a = sorted(x for x, v in ca.items() if v is not None)
        fields_b = sorted(x for x, v in cb.items() if v is not None)
        if fields_a != fields_b:
            problems.append(f"{k}: fields {sorted(set(fields_a) ^ set(fields_b))} set in one only")
    for field in ("schema", "netem_backend"):
        if ra.get(field) != rb.get(field):
            problems.append(f"top level {field}: {ra.get(field)} -> {rb.get(field)}")
    print(f"{len(a)} cells before, {len(b)} after; {len(problems)} difference(s)")
    for p in problems:
        print("  " + p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
