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

# Everything CI does.
ci:
    bash .ci/run
