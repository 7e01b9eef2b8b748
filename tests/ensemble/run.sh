#!/usr/bin/env bash
# The real-process fault test (issue 5, and issue 8's kill -9 loop on an ensemble member):
# a 5-member keeper ensemble on loopback with a TCP proxy on every peer link, a kazoo
# workload, kill -9 of leaders and followers, minority partitions and an isolated leader,
# then quick kill -9/restart rounds; the recorded history is judged by
# `keeper sim check-history`. See tests/ensemble/README.md.
#
#   tests/ensemble/run.sh [fault.py ARGS...]   (e.g. --seconds 60 --seed 7 --base-port 41000)
#
# Env: KEEPER_BIN (default target/release/keeper; built when missing).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [ -z "${KEEPER_BIN:-}" ]; then
  KEEPER_BIN="${CARGO_TARGET_DIR:-$root/target}/release/keeper"
  [ -x "$KEEPER_BIN" ] || (cd "$root" && cargo build --release -p keeper-cli)
fi
case "$KEEPER_BIN" in /*) ;; *) KEEPER_BIN="$PWD/$KEEPER_BIN" ;; esac
# The Debian python that sees python3-kazoo (install-deps.sh), not a pyenv shim.
exec /usr/bin/python3 "$here/fault.py" --keeper "$KEEPER_BIN" "$@"
