# Shared helpers for the zkCli / cli_mt conformance checks: start a standalone server
# (keeper, or Apache ZooKeeper with MODE=reference) on a loopback port with a temp
# dataDir, wait for it with a bounded `ruok` poll, and always stop it on exit.
# Sourced, not run. Callers set MODE (keeper|reference) and PORT, and may set EXTRA_CFG
# (zoo.cfg lines appended after the defaults, so they override them) and ZK_JAVA_OPTS
# (extra JVM options for Apache ZooKeeper). With FOLLOWER=1 (keeper only) start_server
# starts a 3-member keeper ensemble instead, in which PORT is the client port of a member
# that follows (server 1; equal histories elect the highest id), and waits until it says
# `Mode: follower`: the same scripted session then runs through a follower.

conf_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$conf_dir/../.." && pwd)"
server_pid=""
member_pids=()
work_dir="$(mktemp -d)"

stop_server() {
  for pid in "${member_pids[@]+"${member_pids[@]}"}" $server_pid; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work_dir"
}
trap stop_server EXIT

# A free TCP port on loopback (asked of the kernel).
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_ensemble() {
  : "${KEEPER_BIN:=$repo_root/target/release/keeper}"
  [ -x "$KEEPER_BIN" ] || { echo "KEEPER_BIN=$KEEPER_BIN is not executable" >&2; exit 2; }
  local servers="" id client
  for id in 1 2 3; do servers+="server.$id=127.0.0.1:$(free_port):$(free_port)"$'\n'; done
  for id in 1 2 3; do
    if [ "$id" = 1 ]; then client=$PORT; else client=$(free_port); fi
    mkdir -p "$work_dir/m$id/data"
    echo "$id" > "$work_dir/m$id/data/myid"
    cat > "$work_dir/m$id/zoo.cfg" <<CFG
tickTime=500
initLimit=10
syncLimit=5
dataDir=$work_dir/m$id/data
clientPort=$client
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=*
$servers
${EXTRA_CFG:-}
CFG
    "$KEEPER_BIN" server "$work_dir/m$id/zoo.cfg" > "$work_dir/m$id/server.log" 2>&1 &
    member_pids+=($!)
  done
  # Bounded wait: up to 30 s for server 1 to follow an elected leader.
  for _ in $(seq 150); do
    if printf srvr | nc -w 1 127.0.0.1 "$PORT" 2>/dev/null | grep -q '^Mode: follower'; then
      return 0
    fi
    sleep 0.2
  done
  echo "keeper ensemble: server 1 (port $PORT) did not become a follower; its log:" >&2
  tail -30 "$work_dir/m1/server.log" >&2
  exit 2
}

start_server() {
  if [ "${FOLLOWER:-0}" = 1 ]; then
    [ "$MODE" = keeper ] || { echo "--follower runs keeper only" >&2; exit 2; }
    start_ensemble
    return 0
  fi
  mkdir -p "$work_dir/data"
  cat > "$work_dir/zoo.cfg" <<CFG
tickTime=2000
dataDir=$work_dir/data
clientPort=$PORT
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=*
${EXTRA_CFG:-}
CFG
  if [ "$MODE" = reference ]; then
    # servlet-api.jar: without it Jetty cannot load and the AdminServer silently stays off.
    # shellcheck disable=SC2086 # ZK_JAVA_OPTS holds several -D options, split on purpose.
    java ${ZK_JAVA_OPTS:-} -cp "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/servlet-api.jar" \
      -Dzookeeper.log.dir="$work_dir" -Dzookeeper.root.logger=WARN,CONSOLE \
      org.apache.zookeeper.server.ZooKeeperServerMain "$work_dir/zoo.cfg" \
      > "$work_dir/server.log" 2>&1 &
  else
    : "${KEEPER_BIN:=$repo_root/target/release/keeper}"
    [ -x "$KEEPER_BIN" ] || { echo "KEEPER_BIN=$KEEPER_BIN is not executable" >&2; exit 2; }
    "$KEEPER_BIN" server "$work_dir/zoo.cfg" > "$work_dir/server.log" 2>&1 &
  fi
  server_pid=$!
  # Bounded wait: up to 30 s for `imok` and a `srvr` with a Mode: line.
  for _ in $(seq 150); do
    # ruok answers imok before the server serves requests; srvr says Mode: once it does.
    if [ "$(printf ruok | nc -w 1 127.0.0.1 "$PORT" 2>/dev/null)" = imok ] &&
       printf srvr | nc -w 1 127.0.0.1 "$PORT" 2>/dev/null | grep -q '^Mode:'; then
      return 0
    fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "server ($MODE) did not answer ruok on port $PORT; its log:" >&2
  tail -30 "$work_dir/server.log" >&2
  exit 2
}

# Replace volatile fields (zxids, times, session ids, versions of the JVM client) with
# placeholders so outputs from different runs and servers compare equal.
normalise() {
  sed -E \
    -e 's/(cZxid|mZxid|pZxid) = 0x[0-9a-f]+/\1 = ZXID/' \
    -e 's/(ctime|mtime) = .*/\1 = TIME/' \
    -e 's/ephemeralOwner = 0x[0-9a-f]*[1-9a-f][0-9a-f]*/ephemeralOwner = OWNER/' \
    -e 's/0x[0-9a-f]{8,16}/HEX/g' \
    -e 's/(czxid|mzxid|pzxid)[:=] *-?[0-9a-fx]+/\1=ZXID/gI' \
    -e 's/(ctime|mtime)[:=] *[^ ,]+( [^ ,]+)*/\1=TIME/g' \
    -e 's/(session|sessionId|Session ID)[ :=]+(0x)?[0-9a-f]+/\1 SESSION/gI' \
    -e 's/[0-9]+ ms/N ms/g' \
    -e 's/time = [0-9]+ msec/time = N msec/g'
}

# Compare $1 (actual, already normalised) with expected/$2; RECORD=1 writes it instead.
compare() {
  local actual="$1" name="$2" exp="$conf_dir/expected/$2"
  if [ "${RECORD:-0}" = 1 ]; then
    cp "$actual" "$exp"; echo "recorded $exp"; return 0
  fi
  if diff -u "$exp" "$actual"; then echo "$name: same as Apache ZooKeeper"; return 0; fi
  echo "$name: DIFFERS from Apache ZooKeeper (above: - expected, + $MODE)" >&2
  return 1
}
