#!/usr/bin/env bash
# The AdminServer's JSON against Apache ZooKeeper 3.8's: a kazoo client builds the same
# small state (/a "hello", /a/b "x", an ephemeral /e, watches on /a and /nope), every
# command is fetched, and each body is reduced to its shape (key paths and JSON types;
# session ids, paths and times as map keys become "*") plus the values both servers must
# agree on for that state. The reference's shapes are recorded in expected/admin.json;
# keeper must match them command by command, except where docs/compatibility.md says
# otherwise (monitor: keeper's keys are a subset plus two of its own; system_properties:
# a subset of the JVM's keys).
#   tests/conformance/admin.sh [--reference] [--record]
set -euo pipefail
MODE=keeper; RECORD=0
for a in "$@"; do case "$a" in --reference) MODE=reference ;; --record) RECORD=1; MODE=reference ;; *) echo "usage: $0 [--reference] [--record]" >&2; exit 2 ;; esac; done
PORT="${ADMIN_CLIENT_PORT:-21812}"
ADMIN_PORT="${ADMIN_HTTP_PORT:-21813}"
EXTRA_CFG="admin.enableServer=true
admin.serverAddress=127.0.0.1
admin.serverPort=$ADMIN_PORT"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_server

# kazoo comes from Debian's python3-kazoo: use the system interpreter.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
timeout 60 "$PY" - "$PORT" "$ADMIN_PORT" "$work_dir/shapes.json" <<'PY'
import json, sys, time, urllib.request
from kazoo.client import KazooClient

port, admin_port, out = sys.argv[1], sys.argv[2], sys.argv[3]
zk = KazooClient(hosts=f"127.0.0.1:{port}", timeout=10)
zk.start(timeout=15)
zk.create("/a", b"hello"); zk.create("/a/b", b"x"); zk.create("/e", b"", ephemeral=True)
zk.get("/a", watch=lambda e: None); zk.get_children("/a", watch=lambda e: None)
zk.exists("/nope", watch=lambda e: None)

def fetch(name):
    deadline = time.time() + 20
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/commands/{name}", timeout=5) as r:
                return json.load(r)
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)

def shape(v, path, acc):
    if isinstance(v, dict):
        acc.add((path, "object"))
        for k, x in v.items():
            key = "*" if path.split(".")[-1] in VARIABLE_KEYS else k
            shape(x, f"{path}.{key}", acc)
    elif isinstance(v, list):
        acc.add((path, "array"))
        for x in v:
            shape(x, path + "[]", acc)
    else:
        kind = {bool: "bool", int: "number", float: "number", str: "string", type(None): "null"}[type(v)]
        acc.add((path, kind))
    return acc

# Objects whose keys are data (session ids, paths, expiry times, server ids).
VARIABLE_KEYS = {"expiry_time_to_session_ids", "session_id_to_ephemeral_paths",
                 "session_id_to_watched_paths", "path_to_session_ids", "current_config"}
COMMANDS = ["configuration", "connection_stat_reset", "connections", "dirs", "dump",
            "environment", "get_trace_mask", "initial_configuration", "is_read_only",
            "last_snapshot", "leader", "monitor", "observers", "ruok", "server_stats",
            "stats", "stat_reset", "system_properties", "voting_view", "watch_summary",
            "watches", "watches_by_path", "zabstate", "nope"]
result = {}
for name in COMMANDS:
    body = fetch(name)
    result[name] = sorted(f"{p} {k}" for p, k in shape(body, "", set()))
mntr, srvr = fetch("monitor"), fetch("server_stats")
wchs, isro, leader = fetch("watch_summary"), fetch("is_read_only"), fetch("leader")
result["values"] = {
    "znode_count": mntr["znode_count"], "watch_count": mntr["watch_count"],
    "ephemerals_count": mntr["ephemerals_count"],
    "approximate_data_size": mntr["approximate_data_size"],
    "node_count": srvr["node_count"], "watch_summary": [wchs["num_connections"],
    wchs["num_paths"], wchs["num_total_watches"]], "read_only": isro["read_only"],
    "leader_error": leader["error"], "unknown": fetch("nope"),
}
json.dump(result, open(out, "w"), indent=1, sort_keys=True)
zk.stop()
PY

exp="$conf_dir/expected/admin.json"
if [ "$RECORD" = 1 ]; then cp "$work_dir/shapes.json" "$exp"; echo "recorded $exp"; exit 0; fi
[ "$MODE" = reference ] && { echo "admin: reference answered every command"; exit 0; }
"$PY" - "$exp" "$work_dir/shapes.json" <<'PY'
import json, sys
ref, got = (json.load(open(p)) for p in sys.argv[1:3])
# Differences docs/compatibility.md states: keeper's monitor has the figures it measures
# (a subset) plus two of its own; its system_properties are the process facts that have a
# JVM property name (a subset of the JVM's).
EXTRA = {"monitor": {".fsync_threshold_exceed_count number", ".last_processed_zxid number"}}
SUBSET = {"monitor", "system_properties"}
bad = 0
for name, shape in ref.items():
    if name == "values":
        continue
    r, g = set(shape), set(got.get(name, []))
    missing, extra = r - g, g - r - EXTRA.get(name, set())
    if name in SUBSET:
        missing = set()
    if missing or extra:
        bad += 1
        print(f"{name}: DIFFERS from Apache ZooKeeper")
        for m in sorted(missing): print(f"  - {m}")
        for e in sorted(extra): print(f"  + {e}")
if ref["values"] != got["values"]:
    bad += 1
    print(f"values: DIFFER\n  - {ref['values']}\n  + {got['values']}")
n = len(ref) - 1
print(f"admin: {bad} difference(s) from Apache ZooKeeper" if bad
      else f"admin: all {n} command shapes and the shared values as Apache ZooKeeper's")
sys.exit(1 if bad else 0)
PY
