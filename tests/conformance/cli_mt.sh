#!/usr/bin/env bash
# Scripted cli_mt (Debian zookeeper-bin, the C client's shell) against keeper (default)
# or Apache ZooKeeper (--reference), one batch command per connection; the normalised
# output must equal tests/conformance/expected/cli_mt.out, recorded from ZooKeeper 3.8.
#   tests/conformance/cli_mt.sh [--reference] [--record] [--follower]
# --follower: through a follower of a 3-member keeper ensemble (same expected output).
set -euo pipefail
MODE=keeper; RECORD=0
FOLLOWER=0
for a in "$@"; do case "$a" in --reference) MODE=reference ;; --record) RECORD=1; MODE=reference ;; --follower) FOLLOWER=1 ;; *) echo "usage: $0 [--reference] [--record] [--follower]" >&2; exit 2 ;; esac; done
PORT="${CLI_MT_PORT:-21811}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CLI_MT="${CLI_MT:-/usr/lib/zookeeper/bin/cli_mt}"
start_server

out="$work_dir/cli_mt.raw"
: > "$out"
run() {
  echo "### $1" >> "$out"
  # Drop the C client's log lines (ZOO_*), keep everything it prints for the command.
  timeout 30 "$CLI_MT" -h "127.0.0.1:$PORT" -c "$1" 2>&1 </dev/null \
    | grep -vE 'ZOO_(INFO|DEBUG|WARN|ERROR)@|^$' >> "$out" || true
}
run "create /a"
run "create /a"
run "create /a/b"
run "create +s /a/s-"
run "ls /"
run "ls /a"
run "get /a"
run "set /a world"
run "get /a"
run "exists /a"
run "delete /a"
run "delete /a/b"
run "get /nope"
run "delete /nope"
normalise < "$out" > "$work_dir/cli_mt.out"
compare "$work_dir/cli_mt.out" cli_mt.out
