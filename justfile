# The loops we run every day.
test:
    cargo test --workspace
sim seed="42":
    cargo run --release -p keeper-cli -- sim run --seed {{seed}}
tidy:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets
# keeper vs Apache ZooKeeper, same run, same zoo.cfg (docs/performance.md); e.g. `just compare --znodes 100000`
compare *args:
    bench/compare {{args}}
