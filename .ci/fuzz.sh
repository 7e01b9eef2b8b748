#!/usr/bin/env bash
# The `fuzz` CI step: install cargo-fuzz, build every target in fuzz/, and run each for an
# equal share of the time left in FUZZ_BUDGET_SECONDS (default 500; .ci/run gives the step
# 600 s). Works on stable Rust: `-s none` builds without -Zsanitizer (libFuzzer's coverage
# instrumentation needs only stable -C flags), so no nightly and no RUSTC_BOOTSTRAP.
# Each run starts from the seeds in fuzz/seeds/<target> and writes what it finds to a temp
# corpus, never into the repository. A crash fails the step and prints the input as hex, to
# become a regression test in core/tests/decode_hostile.rs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"
budget=${FUZZ_BUDGET_SECONDS:-500}
start=$SECONDS
cargo install cargo-fuzz --locked
cargo fuzz build -s none
mapfile -t targets < <(cargo fuzz list)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# One equal share each, decided once the tools are built; 5 s per target is left for
# cargo's own start-up. The step's timeout (600 s) leaves room over the budget.
per=$(( (budget - (SECONDS - start)) / ${#targets[@]} - 5 ))
[ "$per" -gt 60 ] && per=60
[ "$per" -lt 5 ] && per=5
rc=0
for t in "${targets[@]}"; do
  mkdir -p "$work/$t"
  echo "--- fuzz $t for ${per}s"
  # malloc_limit: no single allocation over 64 MiB from inputs of at most 4 KiB.
  if ! cargo fuzz run -s none "$t" "$work/$t" "seeds/$t" -- \
      -max_total_time="$per" -rss_limit_mb=1024 -malloc_limit_mb=64 \
      -artifact_prefix="$work/crash-$t-" -print_final_stats=0 2>"$work/$t.log"; then
    tail -n 40 "$work/$t.log"
    for f in "$work"/crash-"$t"-*; do [ -f "$f" ] && { echo "$f:"; od -An -tx1 "$f" | head -n 40; }; done
    rc=1
  fi
  grep -E '^(#[0-9]+ +DONE|Done)' "$work/$t.log" | tail -n 1 || true
done
echo "fuzz: ${#targets[@]} targets in $(( SECONDS - start ))s"
exit $rc
