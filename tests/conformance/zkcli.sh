#!/usr/bin/env bash
# Scripted zkCli.sh (Debian zookeeper) against keeper (default) or Apache ZooKeeper
# (--reference): create, ls, get -s, set, delete and a few errors; the normalised output
# must equal tests/conformance/expected/zkcli.out, recorded from Apache ZooKeeper 3.8.
#   tests/conformance/zkcli.sh [--reference] [--record] [--follower]
# --follower: through a follower of a 3-member keeper ensemble (same expected output).
set -euo pipefail
MODE=keeper; RECORD=0
FOLLOWER=0
for a in "$@"; do case "$a" in --reference) MODE=reference ;; --record) RECORD=1; MODE=reference ;; --follower) FOLLOWER=1 ;; *) echo "usage: $0 [--reference] [--record] [--follower]" >&2; exit 2 ;; esac; done
PORT="${ZKCLI_PORT:-21810}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ZKCLI="${ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}"
start_server

out="$work_dir/zkcli.raw"
run() {
  echo "### $*" >> "$out"
  # One JVM per command (non-interactive mode); keep stdout+stderr, drop log4j lines.
  timeout 60 "$ZKCLI" -server "127.0.0.1:$PORT" "$@" 2>&1 </dev/null \
    | grep -vE '^[0-9]{4}-[0-9]{2}-[0-9]{2} |^log4j|^SLF4J|^WATCHER::|^WatchedEvent|^Connecting to|^$' >> "$out" || true
}
: > "$out"
run create /a hello
run create /a again
run create /a/b child
run create -s /a/seq- x
run ls /
run ls /a
run get /a
run get -s /a
run set /a world
run get -s /a
run set -v 7 /a bad
run delete /a
run delete /a/b
run get /nope
run ls /nope
run delete /nope
run stat /a
normalise < "$out" > "$work_dir/zkcli.out"
compare "$work_dir/zkcli.out" zkcli.out
