#!/usr/bin/env bash
# Connection-count calibration: steps the `idle` workload up per transport on loopback
# (1,000, 2,000, 5,000, 10,000 clients by default) until a step fails, and prints, per
# transport (and WebRTC implementation), the largest count that held, the server's and the
# client's RSS per connection at that count, and why the next step failed.
#
# Each step is one `wirebench run` of an idle scenario: every client connects (from 16 loopback
# source addresses, so ephemeral ports don't run out; listen-only HTTP clients hold one
# connection), a short quiet window, then one notification that must reach every client (so a
# count "holds" only if every connection is alive and delivers). The agents raise their
# open-file limit (soft → hard; the limit they got is printed).
#
#   bash bench/scale.sh                       # every transport, default steps
#   TRANSPORTS="websocket sse" STEPS="1000 20000" bash bench/scale.sh
#   WEBRTC_STEPS="250 500 1000 2000" bash bench/scale.sh
#
# Environment: WB (binary, default target/release/wirebench), OUT (output directory),
# TRANSPORTS, STEPS, WEBRTC_STEPS (WebRTC peer connections are far heavier: finer steps),
# QUIET_MS (quiet window per step, default 5000), NICE (default 10).
set -euo pipefail

cd "$(dirname "$0")/.."
WB=${WB:-target/release/wirebench}
if [[ -n "${CARGO_TARGET_DIR:-}" && ! -x "$WB" ]]; then
    WB="$CARGO_TARGET_DIR/release/wirebench"
fi
[[ -x "$WB" ]] || { echo "scale.sh: no wirebench binary at $WB (cargo build --release)" >&2; exit 1; }
OUT=${OUT:-wirebench-out/scale-$(date -u +%Y%m%dT%H%M%SZ)}
TRANSPORTS=${TRANSPORTS:-"tcp websocket sse long-poll poll webtransport webrtc"}
STEPS=${STEPS:-"1000 2000 5000 10000"}
WEBRTC_STEPS=${WEBRTC_STEPS:-"250 500 1000 2000 5000 10000"}
QUIET_MS=${QUIET_MS:-5000}
NICE=${NICE:-10}
mkdir -p "$OUT"

# One step: runs the idle workload with $2 clients over transport $1; the results land in
# $OUT/$1-$2/results.json (one cell per implementation).
step() {
    local t=$1 n=$2 dir="$OUT/$1-$2"
    mkdir -p "$dir"
    cat > "$dir/scale.toml" <<EOF
name = "scale"
description = "idle connections held open: $n over $t"
repeat = 1
transports = ["$t"]
profiles = ["loopback"]
[[workload]]
kind = "idle"
clients = $n
size = 64
warmup_ms = 2000
quiet_ms = $QUIET_MS
duration_ms = 1000
notify_interval_ms = 1000
EOF
    nice -n "$NICE" "$WB" run --quiet --out "$dir" "$dir/scale.toml" > "$dir/run.log" 2>&1 || true
}

# Prints "impl status connections rss_server rss_client nofile error" per cell of a step.
cells() {
    python3 - "$1" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"- failed 0 - - - no results ({e})")
    sys.exit(0)
for c in r["cells"]:
    i = c.get("idle") or {}
    fmt = lambda v: "-" if v is None else f"{v:.0f}"
    err = (c.get("error") or "").replace("\n", " ")
    print(c.get("impl") or "-", c["status"], i.get("connections", 0),
          fmt(i.get("server_rss_per_connection_bytes")),
          fmt(i.get("client_rss_per_connection_bytes")),
          f'{i.get("server_nofile_limit")}/{i.get("client_nofile_limit")}', err)
EOF
}

declare -A best reason
keys=()
for t in $TRANSPORTS; do
    steps=$STEPS
    [[ $t == webrtc* ]] && steps=$WEBRTC_STEPS
    declare -A stopped=()
    for n in $steps; do
        echo "== $t: $n clients" >&2
        step "$t" "$n"
        any_ok=0
        while read -r imp status conns rss_s rss_c nofile err; do
            key="$t"
            [[ $imp != "-" ]] && key="$t ($imp)"
            [[ -n ${stopped[$key]:-} ]] && continue
            [[ -z ${best[$key]:-} ]] && { best[$key]="0 - - -"; keys+=("$key"); }
            if [[ $status == ok ]]; then
                best[$key]="$conns $rss_s $rss_c $nofile"
                reason[$key]="reached the largest step"
                any_ok=1
            else
                stopped[$key]=1
                reason[$key]="at $n: ${err:-$status}"
            fi
            echo "   $key: $status, $conns connected, server RSS/conn $rss_s B, client RSS/conn $rss_c B ${err:+($err)}" >&2
        done < <(cells "$OUT/$t-$n/results.json")
        [[ $any_ok == 1 ]] || break
    done
    unset stopped
done

printf '\n%-22s %10s %18s %18s %12s  %s\n' transport largest "server B/conn" "client B/conn" nofile "why it stopped"
for key in "${keys[@]}"; do
    read -r n rs rc nofile <<< "${best[$key]}"
    printf '%-22s %10s %18s %18s %12s  %s\n' "$key" "$n" "$rs" "$rc" "$nofile" "${reason[$key]}"
done
echo "results: $OUT/<transport>-<count>/results.json" >&2
