#!/usr/bin/env bash
# Migration check for `keeper import-zk`: Debian's Apache ZooKeeper 3.8 builds a varied
# tree on a fresh dataDir (zkCli.sh batches: persistent, sequential, container, deep
# paths, ACLs by auth and digest, several versions, deletes; kazoo adds binary data),
# with a small snapCount so that its dataDir holds several snapshots (written while
# writes go on) and log files. Then ZooKeeper stops, keeper imports the dataDir and
# serves it, and kazoo must read back exactly what ZooKeeper reported before the move:
# every znode's data, full Stat and ACL, the server's last zxid (`srvr`), and the zxid
# the first new write gets.
#   tests/conformance/import-zk.sh      (KEEPER_BIN=path/to/keeper, default target/release)
set -euo pipefail
PORT="${IMPORT_ZK_PORT:-21820}"
MODE=reference
ZK_JAVA_OPTS="-Dzookeeper.snapCount=8"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${KEEPER_BIN:=$repo_root/target/release/keeper}"
ZKCLI="${ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}"
py=/usr/bin/python3   # the Debian python that sees python3-kazoo, not a pyenv shim
fail() { echo "import-zk: FAIL: $*" >&2; exit 1; }

# One zkCli.sh session running the given commands from standard input.
zkcli() {
  printf '%s\n' "$@" quit | timeout 120 "$ZKCLI" -server "127.0.0.1:$PORT" \
    >> "$work_dir/zkcli.log" 2>&1 || fail "zkCli.sh batch failed (see its output above)"
}
srvr_zxid() { printf srvr | nc -w 2 127.0.0.1 "$PORT" | sed -n 's/^Zxid: //p'; }

cat > "$work_dir/kz.py" <<'PY'
"""kazoo helper, one session per run: `binary` creates nodes with binary data; `dump FILE`
writes every znode (data, Stat, ACL) to FILE as sorted JSON; `dump FILE next` then also
creates /after in the same session and prints its czxid."""
import json, sys
from kazoo.client import KazooClient

zk = KazooClient(hosts=sys.argv[1], auth_data=[("digest", "alice:secret"), ("digest", "bob:pw")],
                 timeout=20)
zk.start(timeout=20)
cmd = sys.argv[2]
if cmd == "binary":
    zk.create("/bin", bytes(range(256)))
    zk.create("/bin/empty", b"")
    zk.set("/bin", bytes(range(255, -1, -1)))
else:
    out, stack = {}, ["/"]
    while stack:
        path = stack.pop()
        data, st = zk.get(path)
        acl, _ = zk.get_acls(path)
        out[path] = {
            "data": None if data is None else data.hex(),
            "stat": [st.czxid, st.mzxid, st.pzxid, st.ctime, st.mtime, st.version,
                     st.cversion, st.aversion, st.ephemeralOwner, st.dataLength,
                     st.numChildren],
            "acl": sorted([a.perms, a.id.scheme, a.id.id] for a in acl),
        }
        stack.extend(path.rstrip("/") + "/" + c for c in zk.get_children(path))
    with open(sys.argv[3], "w") as f:
        f.write(json.dumps(out, indent=1, sort_keys=True) + "\n")
    if sys.argv[4:] == ["next"]:
        print(hex(zk.create("/after", b"x", include_data=True)[1].czxid))
zk.stop()
PY
kz() { timeout 120 "$py" "$work_dir/kz.py" "127.0.0.1:$PORT" "$@"; }

bob_digest="$(python3 -c 'import base64,hashlib;print(base64.b64encode(hashlib.sha1(b"bob:pw").digest()).decode())')"

start_server
echo "import-zk: building a tree on Apache ZooKeeper (port $PORT)"
zkcli "create /app config-v1" "create /app/db" "create /app/db/primary host1:5432" \
  "create /app/queue" "create -s /app/queue/job- first" "create -s /app/queue/job- second" \
  "create -s /app/queue/job- third" "delete /app/queue/job-0000000001"
zkcli "set /app config-v2" "set /app config-v3" "setAcl /app/db world:anyone:r" \
  "create /deep" "create /deep/a" "create /deep/a/b" "create /deep/a/b/c" \
  "create /deep/a/b/c/d" "create /deep/a/b/c/d/e" "create /deep/a/b/c/d/e/f 'deep leaf'" \
  "create /text \"two words, héllo ✓\"" "create -c /container" "create /container/child x"
zkcli "addauth digest alice:secret" "create /private hidden auth::cdrwa" \
  "create /digest d digest:bob:$bob_digest:cdrwa" "set /private hidden-v2" \
  "create -s /seq- a" "create -s /seq- b" "delete /deep/a/b/c/d/e/f" "create /deep/a/b/c/d/e/g g"
kz binary > /dev/null
kz dump "$work_dir/before.json"
zk_zxid="$(srvr_zxid)"
[ -n "$zk_zxid" ] || fail "no Zxid from Apache ZooKeeper's srvr"
kill "$server_pid"
for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$server_pid" 2>/dev/null && fail "Apache ZooKeeper did not stop"
server_pid=""
echo "import-zk: ZooKeeper stopped at zxid $zk_zxid; its files:" \
  "$(cd "$work_dir/data/version-2" && echo *)"

mv "$work_dir/data" "$work_dir/zkdata"
mkdir -p "$work_dir/data" && touch "$work_dir/data/occupied"
if "$KEEPER_BIN" import-zk "$work_dir/zkdata" "$work_dir/data" 2> "$work_dir/refusal"; then
  fail "import-zk wrote into a non-empty dataDir"
fi
grep -q "not empty" "$work_dir/refusal" || fail "unclear refusal: $(cat "$work_dir/refusal")"
rm -r "$work_dir/data"
grep -q "\"digest\"" "$work_dir/before.json" && grep -q fffefdfc "$work_dir/before.json" \
  || fail "the tree lacks its ACL'd or binary nodes"
"$KEEPER_BIN" import-zk "$work_dir/zkdata" "$work_dir/data"
for f in "$work_dir"/zkdata/version-2/*; do
  "$KEEPER_BIN" inspect "$f" > /dev/null || fail "keeper inspect cannot read $f"
done

MODE=keeper
start_server
keeper_zxid="$(srvr_zxid)"
[ "$keeper_zxid" = "$zk_zxid" ] || fail "keeper starts at zxid $keeper_zxid, ZooKeeper stopped at $zk_zxid"
# One session: its createSession takes zxid+1, so its first write must get zxid+2, as
# it would have on ZooKeeper.
next="$(kz dump "$work_dir/after.json" next)"
if ! diff -u "$work_dir/before.json" "$work_dir/after.json"; then
  fail "the tree keeper serves differs from ZooKeeper's (above: - ZooKeeper, + keeper)"
fi
want="$(printf '0x%x' $((zk_zxid + 2)))"
[ "$next" = "$want" ] || fail "the first write after the move got czxid $next, expected $want"
nodes="$(python3 -c 'import json,sys;print(len(json.load(open(sys.argv[1]))))' "$work_dir/before.json")"
echo "import-zk: ok: $nodes znodes (data, Stat, ACL) identical, zxid $zk_zxid kept, next write $next"
