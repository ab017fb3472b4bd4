#!/usr/bin/env bash
# Calibration: wirebench's own overhead against reference tools, measured side by side in one run.
#  1. echo RTT: `tcp` transport (wirebench serve/drive) vs sockperf ping-pong, same rate and size,
#     server pinned to CPU 0 and client to CPU 1, interleaved, repeated.
#  2. bulk goodput: `wirebench run` download per transport vs iperf3 on loopback.
# Needs: sockperf, iperf3 (Debian packages), a release build. Prints figures; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
WB=${WB:-./target/release/wirebench}
REPS=${REPS:-3}
SECS=${SECS:-10}
RATE=${RATE:-1000}
SIZE=${SIZE:-64}
PORT=${PORT:-47311}
for t in sockperf iperf3 taskset; do
  command -v "$t" >/dev/null || { echo "calibrate: $t is not installed (apt-get install sockperf iperf3)"; exit 1; }
done
[ -x "$WB" ] || { echo "calibrate: $WB missing; run cargo build --release"; exit 1; }
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

echo "== echo RTT, ${SIZE} B at ${RATE} msg/s, ${SECS} s, server CPU 0, client CPU 1, ${REPS} interleaved repeats"
taskset -c 0 sockperf server --tcp -i 127.0.0.1 -p "$PORT" >/dev/null 2>&1 & pids+=($!)
log=$(mktemp)
taskset -c 0 "$WB" serve --bind "127.0.0.1:$((PORT + 10))" 2>"$log" & pids+=($!)
sleep 1
hash=$(sed -n 's/.*certificate sha256 \([0-9a-f]*\).*/\1/p' "$log")
[ -n "$hash" ] || { echo "calibrate: wirebench serve did not start: $(cat "$log")"; exit 1; }
sp=(); wb=()
for r in $(seq "$REPS"); do
  out=$(taskset -c 1 sockperf ping-pong --tcp -i 127.0.0.1 -p "$PORT" -t "$SECS" -m "$SIZE" --mps "$RATE" 2>&1)
  # sockperf reports one-way latency (RTT/2) percentiles; the full RTT is twice that.
  p50=$(echo "$out" | awk '/percentile 50.000 =/ {print $NF}')
  sp+=("$(awk -v v="$p50" 'BEGIN{printf "%.1f", v*2}')")
  line=$(taskset -c 1 "$WB" drive --target "https://127.0.0.1:$((PORT + 10))" --cert-sha256 "$hash" \
          --transport tcp --rate "$RATE" --size "$SIZE" --duration-ms "$((SECS * 1000))" --warmup-ms 500 --client-id "$r")
  wb+=("$(echo "$line" | sed -n 's/.* p50 \([0-9]*\) µs.*/\1/p' | head -1)")
  echo "  repeat $r: sockperf RTT p50 ${sp[-1]} µs, wirebench tcp echo p50 ${wb[-1]} µs"
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
msp=$(med "${sp[@]}"); mwb=$(med "${wb[@]}")
echo "  median: sockperf ${msp} µs, wirebench tcp ${mwb} µs, ratio $(awk -v a="$mwb" -v b="$msp" 'BEGIN{printf "%.2f", a/b}')"

echo "== bulk goodput on loopback, ${SECS} s"
taskset -c 0 iperf3 -s -p "$((PORT + 20))" -1 >/dev/null 2>&1 & pids+=($!)
sleep 0.5
ip3=$(taskset -c 1 iperf3 -c 127.0.0.1 -p "$((PORT + 20))" -t "$SECS" -R -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
echo "  iperf3 (reverse, server → client): $(awk -v v="$ip3" 'BEGIN{printf "%.2f Gbit/s", v/1e9}')"
tmp=$(mktemp -d)
cat > "$tmp/download.toml" <<TOML
name = "calibrate"
repeat = $REPS
[[workload]]
kind = "download"
size = 65536
warmup_ms = 500
duration_ms = $((SECS * 1000))
TOML
"$WB" run --pin --quiet --out "$tmp/out" "$tmp/download.toml" >/dev/null || true
python3 - "$tmp/out/results.json" "$ip3" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1])); ip3 = float(sys.argv[2])
by = {}
for c in r["cells"]:
    g = (c.get("throughput") or {}).get("goodput_bps")
    if c["status"] == "ok" and g:
        by.setdefault(c["transport"], []).append(g)
for t, v in by.items():
    m = statistics.median(v)
    print(f"  {t:<10} download goodput {m/1e9:6.2f} Gbit/s  (÷ iperf3 = {m/ip3:.2f}; {len(v)} repeats)")
PY
rm -rf "$tmp"
