#!/usr/bin/env bash
# ARM64 (aarch64-unknown-linux-gnu, what the Phytium servers run): cross-build with Debian's
# gcc-aarch64-linux-gnu as linker (.cargo/config.toml), run the core and simulator tests
# under qemu-aarch64 (Debian qemu-user; the same config makes it cargo's runner), and check
# that `keeper sim run --seed 42` prints the same trace hash under qemu as natively.
# Needs: tests/conformance/install-deps.sh run first; rustup (adds the target if missing).
# Builds with the `sim` profile (optimised, assertions on): tests under qemu run several
# times faster than debug builds, with every assert still checked.
#   tests/arm64/run.sh        (KEEPER_BIN=native keeper, default target/release/keeper)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
target=aarch64-unknown-linux-gnu
sysroot=/usr/aarch64-linux-gnu
for tool in aarch64-linux-gnu-gcc qemu-aarch64; do
  command -v "$tool" > /dev/null || { echo "arm64: $tool missing (install-deps.sh installs it)" >&2; exit 2; }
done
if ! rustup target list --installed | grep -qx "$target"; then
  rustup target add "$target" || { echo "arm64: cannot install the $target standard library" >&2; exit 2; }
fi
target_dir="${CARGO_TARGET_DIR:-target}"
: "${KEEPER_BIN:=$target_dir/release/keeper}"
[ -x "$KEEPER_BIN" ] || { echo "arm64: KEEPER_BIN=$KEEPER_BIN is not executable" >&2; exit 2; }

echo "=== arm64: core and simulator tests under qemu-aarch64"
cargo test --profile sim --target "$target" -p keeper-core -p keeper-sim
echo "=== arm64: keeper binary"
cargo build --profile sim --target "$target" -p keeper-cli
arm_bin="$target_dir/$target/sim/keeper"
file_info="$(od -An -tx1 -j18 -N2 "$arm_bin" | tr -d ' ')"
[ "$file_info" = b700 ] || { echo "arm64: $arm_bin is not an AArch64 ELF (e_machine $file_info)" >&2; exit 1; }
for seed in 42 7; do
  native="$("$KEEPER_BIN" sim run --seed "$seed" | sed -n 's/^trace hash *//p')"
  arm="$(qemu-aarch64 -L "$sysroot" "$arm_bin" sim run --seed "$seed" | sed -n 's/^trace hash *//p')"
  [ -n "$native" ] || { echo "arm64: no trace hash from $KEEPER_BIN" >&2; exit 1; }
  if [ "$native" != "$arm" ]; then
    echo "arm64: seed $seed: trace hash $native on $(uname -m), $arm on aarch64" >&2; exit 1
  fi
  echo "arm64: seed $seed: trace hash $native on $(uname -m) and on aarch64 (qemu)"
done
