# wirebench recipes (install just with `cargo install just`).

# Run the embedded default suite (or the given scenarios).
run *ARGS:
    cargo run --release -- run {{ARGS}}

# The tests, as CI runs them.
test:
    cargo test --release --workspace

# Regenerate a report from a results file.
report RESULTS:
    cargo run --release -- report {{RESULTS}}

# criterion micro-benchmarks: codec (frames, length prefixes, SSE, long-poll, histograms) and the
# link emulator core. Extra arguments go to criterion, e.g. `just bench -- frame`.
bench *ARGS:
    cargo bench -p wirebench -p wirebench-netem {{ARGS}}

# Proof that A/B regression detection works: A/A false positives and injected-delay detections
# (bench/perf-proof.sh; about 20 minutes; RUNS=5 for a quick look).
perf-proof:
    cargo build --release -p wirebench
    bash bench/perf-proof.sh

# Everything CI does.
ci:
    bash .ci/run

# wirebench's own overhead against sockperf and iperf3 (needs both installed).
calibrate:
    cargo build --release -p wirebench
    bash bench/calibrate.sh

# Connection-count calibration: the idle workload stepped up (1k, 2k, 5k, 10k clients) per
# transport on loopback; prints the largest count held, RSS per connection and why it stopped
# (bench/scale.sh; TRANSPORTS=… STEPS=… to narrow).
scale:
    cargo build --release -p wirebench
    bash bench/scale.sh

# Fuzz every parser a peer or a file feeds (frame header, length-prefixed reader, SSE parser,
# scenario and profile files, the server's SDP offer path) for SECS seconds each, with
# libFuzzer under AddressSanitizer (needs a nightly toolchain and `cargo install cargo-fuzz`).
# A crash leaves its input in fuzz/artifacts/<target>/; make it a regression test.
fuzz SECS="60":
    cd fuzz && for t in frame_header length_prefixed sse_parser scenario profiles sdp_offer; do \
        cargo +nightly fuzz run -O "$t" -- -max_total_time={{SECS}} -rss_limit_mb=4096 || exit 1; done
