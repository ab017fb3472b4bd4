#!/usr/bin/env bash
# Connection-count scale: steps the `idle` workload up per transport on loopback (10,000,
# 25,000, 50,000, 100,000 clients by default) until a step fails, and prints, per transport
# (and WebRTC implementation), the largest count that held with the server's and the client's
# RSS per connection, the setup rate, the notification latency p50/p99, and why the next step
# failed (docs/scale.md).
#
# Each step is one `wirebench run` of an idle scenario: every client connects (spread over 16
# loopback source addresses, so ephemeral ports don't run out; listen-only HTTP clients hold
# one connection), a short quiet window, then one notification that must reach every client
# (so a count "holds" only if every connection is alive and delivers).
#
# Kernel and process limits (root): the script raises what a step needs and puts back on exit
# (also on Ctrl-C) every sysctl it changed:
#   fs.nr_open, fs.file-max            descriptors: one per connection per side
#   net.ipv4.ip_local_port_range       widened only if 16 sources × the range < the count
#   net.ipv4.tcp_tw_reuse              1 if it was 0 (TIME_WAIT ports reused between steps)
#   net.core.somaxconn, tcp_max_syn_backlog   at least 4096
#   net.netfilter.nf_conntrack_max     at least 3 × the largest step, if conntrack is loaded
#   net.ipv4.tcp_mem                   at least 4× the page count of 16 KiB per connection
# and the hard RLIMIT_NOFILE (needs CAP_SYS_RESOURCE; where it is missing — this VM drops it
# from the bounding set — the hard limit stays, the runner shares the clients out over several
# client agents, and the server agent's limit is the ceiling: said in the table).
#
#   sudo bash bench/scale.sh                                   # every transport
#   TRANSPORTS="webtransport" STEPS="10000 50000 100000" bash bench/scale.sh
#   WEBRTC_STEPS="2500 5000 10000 20000" TRANSPORTS=webrtc bash bench/scale.sh
#
# Environment: WB (binary, default target/release/wirebench; copy it first for long runs),
# OUT (output directory), TRANSPORTS, STEPS, WEBRTC_STEPS (WebRTC peer connections are heavier),
# QUIET_MS (quiet window per step, default 5000), NICE (default 10), MEM_BUDGET_GIB (default
# 18: a step projected or seen above it is stopped and reported, not run into the OOM killer).
set -euo pipefail

cd "$(dirname "$0")/.."
WB=${WB:-target/release/wirebench}
if [[ -n "${CARGO_TARGET_DIR:-}" && ! -x "$WB" ]]; then
    WB="$CARGO_TARGET_DIR/release/wirebench"
fi
[[ -x "$WB" ]] || { echo "scale.sh: no wirebench binary at $WB (cargo build --release)" >&2; exit 1; }
OUT=${OUT:-wirebench-out/scale-$(date -u +%Y%m%dT%H%M%SZ)}
TRANSPORTS=${TRANSPORTS:-"tcp websocket sse long-poll poll webtransport webrtc"}
STEPS=${STEPS:-"10000 25000 50000 100000"}
WEBRTC_STEPS=${WEBRTC_STEPS:-"2500 5000 10000 20000 50000 100000"}
QUIET_MS=${QUIET_MS:-5000}
NICE=${NICE:-10}
MEM_BUDGET_GIB=${MEM_BUDGET_GIB:-18}
SOURCES=16 # loopback source addresses the idle clients use (workload::idle::LOOPBACK_SOURCES)
mkdir -p "$OUT"

# ---- kernel settings: raised as needed, restored on exit ------------------------------------
declare -A saved=()
max_n=0
for n in $STEPS $WEBRTC_STEPS; do ((n > max_n)) && max_n=$n; done

# Sets sysctl $1 to $2 (remembering the old value) if it differs.
set_sysctl() {
    local key=$1 want=$2 path="/proc/sys/${1//.//}" cur
    [[ -w $path ]] || { echo "scale.sh: cannot set $key (not root, or absent): left as is" >&2; return 0; }
    cur=$(tr -s '\t ' ' ' < "$path")
    [[ $cur == "$want" ]] && return 0
    [[ -z ${saved[$key]+x} ]] && saved[$key]=$cur
    if echo "$want" > "$path" 2>/dev/null; then
        echo "scale.sh: $key: $cur -> $want" >&2
    else
        echo "scale.sh: $key: could not set $want (kept $cur)" >&2
    fi
}
# Raises sysctl $1 (a single number) to at least $2.
at_least() {
    local path="/proc/sys/${1//.//}"
    [[ -r $path ]] || return 0
    local cur; cur=$(cat "$path")
    ((cur < $2)) && set_sysctl "$1" "$2"
    return 0
}
restore() {
    local key
    for key in "${!saved[@]}"; do
        echo "${saved[$key]}" > "/proc/sys/${key//.//}" 2>/dev/null \
            && echo "scale.sh: $key restored to ${saved[$key]}" >&2 \
            || echo "scale.sh: could not restore $key to ${saved[$key]}" >&2
    done
    saved=()
}
cleanup() {
    local rc=$?
    set +e # a failing stop must not skip the restore
    if [[ -n ${run_pid:-} ]]; then
        # The runner tears its agents and namespaces down on SIGINT (SIGTERM as a fallback).
        kill -INT "$run_pid" 2>/dev/null
        for _ in $(seq 60); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.5; done
        kill -TERM "$run_pid" 2>/dev/null
        wait "$run_pid" 2>/dev/null
    fi
    [[ -n ${sampler_pid:-} ]] && kill "$sampler_pid" 2>/dev/null
    restore
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nofile_want=$((max_n * 2 + 65536))
((nofile_want < 1048576)) && nofile_want=1048576
at_least fs.nr_open "$nofile_want"
at_least fs.file-max $((max_n * 4 + 262144))
read -r lo hi < /proc/sys/net/ipv4/ip_local_port_range
if (((hi - lo + 1) * SOURCES < max_n * 12 / 10)); then
    set_sysctl net.ipv4.ip_local_port_range "1024 65535"
fi
[[ $(cat /proc/sys/net/ipv4/tcp_tw_reuse) == 0 ]] && set_sysctl net.ipv4.tcp_tw_reuse 1
at_least net.core.somaxconn 4096
at_least net.ipv4.tcp_max_syn_backlog 4096
at_least net.netfilter.nf_conntrack_max $((max_n * 3))
read -r m1 m2 m3 < /proc/sys/net/ipv4/tcp_mem
pages=$((max_n * 2 * 4 * 4)) # 16 KiB per socket, both ends, ×4 headroom, in 4 KiB pages
((m3 < pages)) && set_sysctl net.ipv4.tcp_mem "$m1 $((m2 > pages / 2 ? m2 : pages / 2)) $pages"
# The hard open-file limit of this shell (inherited by the runner and its agents).
if ! ulimit -Hn "$nofile_want" 2>/dev/null; then
    why="no CAP_SYS_RESOURCE"
    grep -q '^CapBnd:' /proc/self/status && why="$why (CapBnd $(awk '/^CapBnd/{print $2}' /proc/self/status): absent from the bounding set, so no process here can raise it)"
    echo "scale.sh: hard RLIMIT_NOFILE stays $(ulimit -Hn): $why; clients are shared out over client agents of $(ulimit -Hn) descriptors each, the server agent holds at most that many" >&2
fi
ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -Hn)

# ---- one step -------------------------------------------------------------------------------
# Samples /proc/net/sockstat and /proc/meminfo every 0.25 s while a step runs: the setup window
# (sockets in use from 1 % to 99 % of their rise), peak memory in use, and stops the run
# (SIGINT to the runner) when memory in use goes over the budget.
sampler() {
    python3 - "$1" "$2" "$3" "$MEM_BUDGET_GIB" <<'EOF'
import json, os, signal, sys, time
out, pid, n, budget = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
def socks():
    s = {}
    for line in open("/proc/net/sockstat"):
        k, _, rest = line.partition(":")
        f = rest.split()
        s[k] = {f[i]: int(f[i + 1]) for i in range(0, len(f) - 1, 2)}
    return s["TCP"]["inuse"] + s["UDP"]["inuse"], s["TCP"].get("mem", 0)
def used():
    m = {l.split(":")[0]: int(l.split()[1]) for l in open("/proc/meminfo")}
    return (m["MemTotal"] - m["MemAvailable"]) * 1024
base_socks, _ = socks(); base_mem = used()
samples = []; peak_mem = base_mem; peak_tcp_pages = 0; over = None
while True:
    try:
        os.kill(pid, 0)
    except OSError:
        break
    t = time.monotonic(); s, tcp_pages = socks(); m = used()
    samples.append((t, s)); peak_mem = max(peak_mem, m); peak_tcp_pages = max(peak_tcp_pages, tcp_pages)
    if m > budget * 2**30 and over is None:
        over = m
        os.kill(pid, signal.SIGINT)
    time.sleep(0.25)
top = max((s for _, s in samples), default=base_socks) - base_socks
rise = lambda f: next((t for t, s in samples if s - base_socks >= f * top), None)
t1, t99 = rise(0.01), rise(0.99)
json.dump({
    "sockets_peak": top,
    "setup_s": (t99 - t1) if t1 is not None and t99 is not None and top > 0 else None,
    "mem_peak_gib": peak_mem / 2**30, "mem_base_gib": base_mem / 2**30,
    "tcp_mem_peak_pages": peak_tcp_pages,
    "stopped_over_budget_gib": None if over is None else over / 2**30,
}, open(out, "w"))
EOF
}

# Runs the idle workload with $2 clients over transport $1; the results land in
# $OUT/$1-$2/results.json (one cell per implementation), the sampler's in sampler.json.
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
    nice -n "$NICE" "$WB" run --quiet --force --out "$dir" "$dir/scale.toml" > "$dir/run.log" 2>&1 &
    run_pid=$!
    sampler "$dir/sampler.json" "$run_pid" "$n" &
    sampler_pid=$!
    wait "$run_pid" || true
    run_pid=
    wait "$sampler_pid" || true
    sampler_pid=
    # Let the closed connections' sockets go before the next step.
    for _ in $(seq 60); do
        (($(awk '/^TCP:/{print $3}' /proc/net/sockstat) < 2000)) && break
        sleep 0.5
    done
}

# Prints, per cell of a step: impl status connections rss_server rss_client p50_ms p99_ms
# setup_rate nofile error.
cells() {
    python3 - "$1/results.json" "$1/sampler.json" <<'EOF'
import json, sys
try:
    s = json.load(open(sys.argv[2]))
except Exception:
    s = {}
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    why = f"no results ({e})"
    if s.get("stopped_over_budget_gib"):
        why = f"stopped: memory in use {s['stopped_over_budget_gib']:.1f} GiB over the budget"
    print(f"- failed 0 - - - - - - {why}")
    sys.exit(0)
for c in r["cells"]:
    i = c.get("idle") or {}
    lat = c.get("latency_us") or {}
    fmt = lambda v, k=1: "-" if v is None else f"{v / k:.0f}"
    err = (c.get("error") or "").replace("\n", " ")
    if s.get("stopped_over_budget_gib"):
        err = f"stopped: memory in use {s['stopped_over_budget_gib']:.1f} GiB over the budget; {err}"
    n = i.get("connections", 0)
    rate = "-" if not s.get("setup_s") or not n else f"{n / s['setup_s']:.0f}"
    print(c.get("impl") or "-", c["status"], n,
          fmt(i.get("server_rss_per_connection_bytes")),
          fmt(i.get("client_rss_per_connection_bytes")),
          fmt(lat.get("p50"), 1000), fmt(lat.get("p99"), 1000), rate,
          f'{i.get("server_nofile_limit")}/{i.get("client_nofile_limit")}', err)
EOF
}

# Whether a step of $2 clients fits the memory budget, from bytes per connection $1 measured
# at a smaller step (×1.5 for what setup and the notification take on top).
fits() {
    python3 -c "
import sys
per, n, budget = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
avail = int([l for l in open('/proc/meminfo') if l.startswith('MemAvailable')][0].split()[1]) * 1024
used = int([l for l in open('/proc/meminfo') if l.startswith('MemTotal')][0].split()[1]) * 1024 - avail
need = per * n * 1.5
sys.exit(0 if used + need <= budget * 2**30 else 1)" "$1" "$2" "$MEM_BUDGET_GIB"
}

declare -A best reason
keys=()
for t in $TRANSPORTS; do
    steps=$STEPS
    [[ $t == webrtc* ]] && steps=$WEBRTC_STEPS
    declare -A stopped=()
    per_conn=0
    for n in $steps; do
        if ((per_conn > 0)) && ! fits "$per_conn" "$n"; then
            for key in "${keys[@]}"; do
                [[ $key == "$t" || $key == "$t ("* ]] || continue
                [[ -n ${stopped[$key]:-} ]] || reason[$key]="at $n: not run, ~$((per_conn * n * 3 / 2 >> 30)) GiB projected (${per_conn} B/conn both sides) over the ${MEM_BUDGET_GIB} GiB budget"
            done
            echo "== $t: $n clients: skipped, over the memory budget" >&2
            break
        fi
        echo "== $t: $n clients ($(date -u +%T))" >&2
        step "$t" "$n"
        any_ok=0
        while read -r imp status conns rss_s rss_c p50 p99 rate nofile err; do
            key="$t"
            [[ $imp != "-" ]] && key="$t ($imp)"
            [[ -n ${stopped[$key]:-} ]] && continue
            [[ -z ${best[$key]:-} ]] && { best[$key]="0 - - - - - -"; keys+=("$key"); }
            if [[ $status == ok ]]; then
                best[$key]="$conns $rss_s $rss_c $rate $p50 $p99 $nofile"
                reason[$key]="held the largest step"
                any_ok=1
                [[ $rss_s != - && $rss_c != - ]] \
                    && per_conn=$(((rss_s + rss_c) > per_conn ? rss_s + rss_c : per_conn))
            else
                stopped[$key]=1
                reason[$key]="at $n: ${err:-$status}"
            fi
            echo "   $key: $status, $conns connected, server $rss_s B/conn, client $rss_c B/conn, setup $rate conn/s, notification p50 $p50 ms p99 $p99 ms ${err:+($err)}" >&2
        done < <(cells "$OUT/$t-$n")
        [[ $any_ok == 1 ]] || break
    done
    unset stopped
done

printf '\n%-22s %8s %9s %9s %9s %8s %8s %12s  %s\n' transport largest "srv B/c" "cli B/c" "conn/s" "p50 ms" "p99 ms" nofile "why it stopped"
for key in "${keys[@]}"; do
    read -r n rs rc rate p50 p99 nofile <<< "${best[$key]}"
    printf '%-22s %8s %9s %9s %9s %8s %8s %12s  %s\n' "$key" "$n" "$rs" "$rc" "$rate" "$p50" "$p99" "$nofile" "${reason[$key]}"
done
echo "results: $OUT/<transport>-<count>/{results.json,sampler.json}; hard RLIMIT_NOFILE $NOFILE" >&2
