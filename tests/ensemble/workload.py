"""The client side of the fault test: kazoo sessions doing writes and reads, each operation
recorded as one JSON line, plus the failover probe and the final read of every member.

Zxids: kazoo does not hand the reply header to the caller, so `hook_kazoo()` wraps its
connection's response reader to keep the last reply header zxid per client. Each worker
has one request outstanding at a time, so after a call returns that zxid is the reply's
(the same number the simulator records). Ops that fail with connection loss, session
expiry, or that the worker gave up waiting for (`abandoned`) are recorded with err -4
(outcome unknown) and no zxid.
"""

import json
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionClosedError, KazooException, ZookeeperError
from kazoo.protocol import connection as kconn

from cluster import now_ms

OP_TIMEOUT = 10.0  # seconds a worker waits for one reply before giving up on the session
SESSION_TIMEOUT = 10.0
RETRY = dict(max_tries=-1, delay=0.05, backoff=1.5, max_delay=0.5, max_jitter=0.05)
COUNTERS = 4
UNKNOWN = -4


def hook_kazoo():
    """Wraps kazoo's response reader so that each client keeps its last reply header zxid."""
    orig = kconn.ConnectionHandler._read_response
    if getattr(orig, "_fault_hooked", False):
        return

    def read_response(self, header, buffer, offset):
        self.client._fault_reply_zxid = header.zxid
        return orig(self, header, buffer, offset)

    read_response._fault_hooked = True
    kconn.ConnectionHandler._read_response = read_response


def client_for(hosts):
    return KazooClient(hosts=hosts, timeout=SESSION_TIMEOUT, randomize_hosts=False,
                       connection_retry=dict(RETRY))


def err_code(e):
    if isinstance(e, ConnectionClosedError):
        return UNKNOWN
    if isinstance(e, ZookeeperError):
        code = getattr(e, "code", UNKNOWN)
        return UNKNOWN if code in (-112, -7) else code  # expiry/timeout: outcome unknown
    return UNKNOWN


class History:
    """Thread-safe JSON-lines sink."""

    def __init__(self, path):
        self.f = open(path, "w")
        self.lock = threading.Lock()
        self.ops = 0

    def write(self, rec):
        line = json.dumps(rec, separators=(",", ":"))
        with self.lock:
            self.f.write(line + "\n")
            if rec.get("type") == "op":
                self.ops += 1

    def close(self):
        with self.lock:
            self.f.close()


class Worker(threading.Thread):
    """One client: a kazoo session on `hosts` running a mix of ops until `stop` is set.
    Invariant: one request outstanding at a time, so the per-session xid order is the
    order of replies."""

    def __init__(self, k, hosts, base, t0, hist, stop, rng):
        super().__init__(daemon=True, name=f"worker-{k}")
        self.k, self.hosts, self.base, self.t0 = k, hosts, base, t0
        self.hist, self.stop, self.rng = hist, stop, rng
        self.c = None
        self.xid = 0
        self.n = 0
        self.mine = []  # paths of this worker's acknowledged creates
        self.error = None
        self.counts = {}

    def connect(self):
        while not self.stop.is_set():
            c = client_for(self.hosts)
            try:
                c.start(timeout=5)
                self.c = c
                return True
            except Exception:
                _dispose(c)
        return False

    def node(self):
        try:
            return self.c._connection._socket.getpeername()[1] - self.base
        except Exception:
            return 0

    def call(self, kind, is_write, path, fn, **extra):
        """Runs `fn` (returning a kazoo async result) and records it; the result or None."""
        self.xid += 1
        rec = dict(type="op", client=self.k, session=self.c._session_id or 0, xid=self.xid,
                   kind=kind, is_write=is_write, node=self.node(), path=path,
                   invoke_ms=now_ms(self.t0))
        rec.update(extra)
        self.c._fault_reply_zxid = None
        res, abandoned = None, False
        try:
            res = fn().get(timeout=OP_TIMEOUT)
            rec["err"] = 0
        except ZookeeperError as e:
            rec["err"] = err_code(e)
        except KazooException as e:
            rec["err"] = err_code(e)
        except Exception as e:  # the handler's timeout: the worker gives up on this session
            if type(e).__name__ != "KazooTimeoutError":
                raise
            rec["err"], abandoned = UNKNOWN, True
            rec["abandoned"] = True
        rec["complete_ms"] = now_ms(self.t0)
        z = self.c._fault_reply_zxid
        rec["zxid"] = z if (rec["err"] != UNKNOWN and z and z > 0) else None
        if rec["err"] == UNKNOWN or rec["session"] == 0:
            rec["session"] = rec["session"] or (self.c._session_id or 0)
        self.counts[rec["err"]] = self.counts.get(rec["err"], 0) + 1
        return rec, res, abandoned

    def run(self):
        try:
            self.loop()
        except Exception as e:  # reported by the harness; the run fails
            self.error = repr(e)

    def loop(self):
        if not self.connect():
            return
        while not self.stop.is_set():
            r = self.rng.random()
            self.n += 1
            payload = f"c{self.k}-{self.n}-{self.rng.getrandbits(32):08x}"
            recs = []
            if r < 0.25:
                path = f"/w/c{self.k}/n{self.n}"
                rec, res, ab = self.call("create", True, path, lambda: self.c.create_async(
                    path, payload.encode(), include_data=True), data=payload)
                if rec["err"] == 0:
                    self.mine.append(path)
                recs.append(rec)
            elif r < 0.40:
                path = f"/s/c{self.k}/q-"
                rec, res, ab = self.call("create_seq", True, path, lambda: self.c.create_async(
                    path, payload.encode(), sequence=True, include_data=True), data=payload)
                if rec["err"] == 0:
                    rec["path"] = res[0]
                recs.append(rec)
            elif r < 0.60:
                path = f"/k/{self.rng.randrange(COUNTERS)}"
                rec, res, ab = self.call("get", False, path, lambda: self.c.get_async(path))
                recs.append(rec)
                if rec["err"] == 0 and not ab:
                    rec["version"] = res[1].version
                    rec["data"] = res[0].decode()
                    v = res[1].version
                    rec, res, ab = self.call("set", True, path, lambda: self.c.set_async(
                        path, payload.encode(), version=v), data=payload, expect=v)
                    if rec["err"] == 0:
                        rec["version"] = res.version
                    recs.append(rec)
            elif r < 0.75:
                path = self.rng.choice(self.mine) if self.mine else "/k/0"
                rec, res, ab = self.call("get", False, path, lambda: self.c.get_async(path))
                if rec["err"] == 0:
                    rec["version"] = res[1].version
                    rec["data"] = res[0].decode()
                recs.append(rec)
            elif r < 0.85:
                path = f"/w/c{self.k}/n{self.rng.randrange(1, self.n + 1)}"
                rec, res, ab = self.call("exists", False, path, lambda: self.c.exists_async(path))
                if rec["err"] == 0:
                    rec["version"] = None if res is None else res.version
                recs.append(rec)
            else:
                rec, res, ab = self.call("sync", False, "/", lambda: self.c.sync_async("/"))
                recs.append(rec)
                if rec["err"] == 0 and not ab:
                    # A counter: other sessions' acknowledged sets must be visible now.
                    path = f"/k/{self.rng.randrange(COUNTERS)}"
                    rec, res, ab = self.call("get", False, path, lambda: self.c.get_async(path))
                    if rec["err"] == 0:
                        rec["version"] = res[1].version
                        rec["data"] = res[0].decode()
                    recs.append(rec)
            for rec in recs:
                self.hist.write(rec)
            if ab:  # gave up on a reply: a new session, so no late reply lands in this one
                _dispose(self.c)
                if not self.connect():
                    return
        _dispose(self.c)


def _dispose(c):
    try:
        c.stop()
        c.close()
    except Exception:
        pass


class Probe:
    """One pinned client per member; `failover(exclude, t_fault)` measures the time from
    `t_fault` to the first write acknowledged through a member not in `exclude`."""

    def __init__(self, ens):
        self.ens = ens
        self.clients = {}
        for i, m in ens.members.items():
            c = client_for(f"127.0.0.1:{m.client_port}")
            c.start_async()
            self.clients[i] = c

    def failover(self, exclude, t_fault, bound_s):
        done = threading.Event()
        result = {}
        lock = threading.Lock()

        def try_member(i):
            c = self.clients[i]
            while not done.is_set():
                try:
                    r = c.create_async("/probe/p-", b"probe", sequence=True)
                    while not done.is_set():
                        try:
                            r.get(timeout=0.2)
                            with lock:
                                if "t" not in result:
                                    result["t"], result["via"] = time.monotonic() - t_fault, i
                            done.set()
                            return
                        except Exception as e:
                            if type(e).__name__ != "KazooTimeoutError":
                                break  # failed: try again with a new request
                except Exception:
                    pass
                if not done.is_set() and time.monotonic() - t_fault > bound_s:
                    return
                done.wait(0.02)

        ts = [threading.Thread(target=try_member, args=(i,), daemon=True)
              for i in self.ens.ids if i not in exclude]
        for t in ts:
            t.start()
        done.wait(bound_s)
        done.set()
        for t in ts:
            t.join(timeout=1.0)
        return result.get("t"), result.get("via")

    def close(self):
        for c in self.clients.values():
            _dispose(c)


def final_state(ens, hist, workers):
    """Reads every workload node through each member after a sync and records them as
    `final` lines; returns the number of nodes read per member."""
    counts = {}
    for i, m in ens.members.items():
        c = client_for(f"127.0.0.1:{m.client_port}")
        c.start(timeout=15)
        try:
            c.sync("/")
            paths = [f"/k/{n}" for n in range(COUNTERS)]
            for w in workers:
                for parent in (f"/w/c{w.k}", f"/s/c{w.k}"):
                    paths += [f"{parent}/{ch}" for ch in c.get_children(parent)]
            got = 0
            for lo in range(0, len(paths), 500):
                batch = [(p, c.get_async(p)) for p in paths[lo:lo + 500]]
                for p, r in batch:
                    data, stat = r.get(timeout=30)
                    hist.write(dict(type="final", node=i, path=p, data=data.decode(),
                                    version=stat.version))
                    got += 1
            counts[i] = got
        finally:
            _dispose(c)
    return counts


def setup_tree(hosts, workers_n):
    c = client_for(hosts)
    c.start(timeout=15)
    try:
        for p in ["/w", "/s", "/k", "/probe"] + [f"/k/{n}" for n in range(COUNTERS)]:
            c.ensure_path(p)
        for k in range(workers_n):
            c.ensure_path(f"/w/c{k}")
            c.ensure_path(f"/s/c{k}")
    finally:
        _dispose(c)
