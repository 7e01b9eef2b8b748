"""A 5-member keeper ensemble on loopback with a userspace TCP proxy on every peer link.

Each member gets its own zoo.cfg: its own server line carries its real quorum and election
ports, every other member's line points at a proxy port for that ordered pair, which
forwards to the other member's real port. keeper's higher id dials the lower id's election
port (one link per pair), so the proxy on (hi -> lo) carries everything between the two;
the other members' quorum ports in a member's zoo.cfg are proxy-range numbers nothing
listens on (keeper never dials a quorum port).

A partition is a set of cut unordered pairs. A cut pair's proxy either closes every
connection it carries and closes new ones at once (a loud partition: both ends see the
link break), or, silently, stops forwarding while keeping every connection open (bytes
wait in the proxy and the kernel, as on a network that drops everything; peers notice only
by their own timeouts), until healed; after a silent cut, healing resumes the held streams
in order, as TCP would deliver them. Members are real
`keeper server` processes; `kill9` is SIGKILL. Every wait polls with a deadline.
"""

import datetime
import os
import socket
import subprocess
import threading
import time

TICK_MS = 500
INIT_LIMIT = 10
SYNC_LIMIT = 5


def now_ms(t0):
    return int((time.monotonic() - t0) * 1000)


def four_letter(port, word, timeout=1.0):
    """Sends a four-letter word to a client port; the answer text, or None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(word.encode())
            chunks = []
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return None


class Proxy:
    """Forwards connections from `listen` to `target` on loopback unless `cut()` says the
    pair is partitioned. Invariant: while cut, no byte crosses and no connection lives."""

    def __init__(self, listen, target, name):
        self.listen, self.target, self.name = listen, target, name
        self.lock = threading.Lock()
        self.is_cut = False
        self.forwarding = threading.Event()
        self.forwarding.set()
        self.conns = set()
        self.stopped = False
        self.accepted = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", listen))
        self.sock.listen(64)
        threading.Thread(target=self._accept, daemon=True, name=f"proxy-{name}").start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                # Held (silent cut): a new connection gets nowhere either.
                refuse = self.is_cut or self.stopped or not self.forwarding.is_set()
            if refuse:
                _close(c)
                continue
            try:
                u = socket.create_connection(("127.0.0.1", self.target), timeout=2.0)
                u.settimeout(None)
            except OSError:
                _close(c)
                continue
            for s in (c, u):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                if self.is_cut or self.stopped:
                    _close(c)
                    _close(u)
                    continue
                self.conns.add((c, u))
                self.accepted += 1
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b, (c, u)), daemon=True).start()

    def _pump(self, src, dst, pair):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                self.forwarding.wait()
                with self.lock:
                    if self.is_cut:
                        break
                dst.sendall(data)
        except OSError:
            pass
        with self.lock:
            self.conns.discard(pair)
        _close(pair[0])
        _close(pair[1])

    def cut(self):
        with self.lock:
            self.is_cut = True
            conns, self.conns = list(self.conns), set()
        self.forwarding.set()
        for c, u in conns:
            _close(c)
            _close(u)

    def hold(self):
        """A silent cut: nothing is forwarded, nothing is closed."""
        self.forwarding.clear()

    def heal(self):
        with self.lock:
            self.is_cut = False
        self.forwarding.set()

    def stop(self):
        self.stopped = True
        self.cut()
        _close(self.sock)


def _close(s):
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass


class Member:
    """One `keeper server` process and its directory; `proc` is None while it is down."""

    def __init__(self, mid, work, client_port, bin_path):
        self.id, self.client_port, self.bin = mid, client_port, bin_path
        self.dir = os.path.join(work, f"m{mid}")
        self.cfg = os.path.join(self.dir, "zoo.cfg")
        self.log = os.path.join(self.dir, "server.log")
        self.proc = None
        self.starts = 0

    def start(self):
        out = open(self.log, "ab")
        env = dict(os.environ, RUST_LOG=os.environ.get("KEEPER_FAULT_LOG", "info"), NO_COLOR="1")
        self.proc = subprocess.Popen([self.bin, "server", self.cfg], stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=subprocess.STDOUT, env=env)
        out.close()
        self.starts += 1

    def kill9(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def up(self):
        return self.proc is not None and self.proc.poll() is None

    def srvr(self):
        """(mode, zxid) from `srvr`, or None when it does not answer with a Mode."""
        text = four_letter(self.client_port, "srvr")
        if not text:
            return None
        mode = zxid = None
        for line in text.splitlines():
            if line.startswith("Mode: "):
                mode = line[6:].strip()
            elif line.startswith("Zxid: "):
                zxid = int(line[6:].strip(), 16)
        return (mode, zxid) if mode else None

    def lines_between(self, t0, t1, limit=80):
        """This member's log lines stamped between wall-clock seconds t0 and t1 (UTC,
        tracing's RFC 3339 stamps), at most `limit` of them (the first ones)."""
        lo = datetime.datetime.fromtimestamp(t0, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
        hi = datetime.datetime.fromtimestamp(t1, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
        out = []
        try:
            with open(self.log, errors="replace") as f:
                for line in f:
                    if lo <= line[:26] <= hi:
                        out.append(line)
                        if len(out) >= limit:
                            break
        except OSError:
            pass
        return "".join(out)

    def tail(self, n=25):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


class Ensemble:
    """Five members, their per-pair proxies, and the partition state.

    Ports (from `base`): client base+1..5, real quorum base+11..15, real election
    base+21..25, the proxy for i's view of j: quorum base+100+10i+j, election
    base+200+10i+j. Invariant: `cut_pairs` is exactly the set of pairs whose proxies are
    cut."""

    def __init__(self, work, base, bin_path, n=5):
        self.work, self.base, self.n = work, base, n
        self.ids = list(range(1, n + 1))
        ports = [base + i for i in self.ids] + [base + 10 + i for i in self.ids] + \
            [base + 20 + i for i in self.ids]
        ports += [base + 200 + 10 * i + j for i in self.ids for j in self.ids if i > j]
        # Ports inside the ephemeral range may be held by an outgoing connection, or by its
        # TIME_WAIT for up to 60 s: poll before giving up.
        end = time.monotonic() + 65
        busy = [p for p in ports if not _port_free(p)]
        while busy and time.monotonic() < end:
            time.sleep(0.2)
            busy = [p for p in busy if not _port_free(p)]
        if busy:
            print(f"fault: ports in use: {busy[:8]} (choose another --base-port)")
            raise SystemExit(2)
        self.members = {i: Member(i, work, base + i, bin_path) for i in self.ids}
        self.proxies = {}
        self.cut_pairs = set()
        for i in self.ids:
            for j in self.ids:
                if i > j:  # i dials j's election port through its own view of j
                    self.proxies[(i, j)] = Proxy(self.eproxy(i, j), base + 20 + j, f"{i}->{j}")
        for m in self.members.values():
            self._write_cfg(m)

    def eproxy(self, i, j):
        return self.base + 200 + 10 * i + j

    def _write_cfg(self, m):
        os.makedirs(os.path.join(m.dir, "data"), exist_ok=True)
        with open(os.path.join(m.dir, "data", "myid"), "w") as f:
            f.write(f"{m.id}\n")
        lines = [f"tickTime={TICK_MS}", f"initLimit={INIT_LIMIT}", f"syncLimit={SYNC_LIMIT}",
                 f"dataDir={os.path.join(m.dir, 'data')}", f"clientPort={m.client_port}",
                 "clientPortAddress=127.0.0.1", "maxClientCnxns=0", "admin.enableServer=false",
                 "4lw.commands.whitelist=*", "forceSync=yes", "preAllocSize=64"]
        for j in self.ids:
            if j == m.id:
                q, e = self.base + 10 + j, self.base + 20 + j
            else:
                q, e = self.base + 100 + 10 * m.id + j, self.eproxy(m.id, j)
            lines.append(f"server.{j}=127.0.0.1:{q}:{e}")
        with open(m.cfg, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start_all(self):
        for m in self.members.values():
            m.start()

    def stop_all(self):
        for m in self.members.values():
            m.kill9()
        for p in self.proxies.values():
            p.stop()

    # ---- partitions
    def partition(self, side, silent=False):
        """Cuts every pair with one end in `side` and the other outside it."""
        side = set(side)
        for (i, j), p in self.proxies.items():
            if (i in side) != (j in side):
                if silent:
                    p.hold()
                else:
                    p.cut()
                self.cut_pairs.add((i, j))

    def heal(self):
        for p in self.proxies.values():
            p.heal()
        self.cut_pairs.clear()

    # ---- status
    def modes(self):
        return {i: (m.srvr() if m.up() else None) for i, m in self.members.items()}

    def leader(self):
        ls = [i for i, s in self.modes().items() if s and s[0] == "leader"]
        return ls[0] if len(ls) == 1 else None

    def wait_formed(self, among, deadline_s):
        """Polls until every member of `among` is up and leader/follower with exactly one
        leader among them; returns the leader id, or raises with the members' log tails."""
        end = time.monotonic() + deadline_s
        last = None
        while time.monotonic() < end:
            dead = [i for i in among if not self.members[i].up()]
            if dead:  # a member that exited on its own: a crash (or its port was taken)
                i = dead[0]
                raise RuntimeError(f"member {i} exited (status {self.members[i].proc.poll() if self.members[i].proc else None}):\n{self.members[i].tail()}")
            st = {i: self.members[i].srvr() for i in among}
            last = st
            modes = [s[0] if s else None for s in st.values()]
            if all(m in ("leader", "follower") for m in modes) and modes.count("leader") == 1:
                return [i for i in among if st[i][0] == "leader"][0]
            time.sleep(0.02)
        tails = "\n".join(f"--- m{i}\n{self.members[i].tail()}" for i in among)
        raise RuntimeError(f"ensemble {sorted(among)} did not form within {deadline_s}s: {last}\n{tails}")

    def random_other(self, rng, exclude):
        """A random member id not in `exclude`."""
        return rng.choice([i for i in self.ids if i not in exclude])


def _port_free(p):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as keeper and the proxies bind
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()


__all__ = ["Ensemble", "Member", "Proxy", "four_letter", "now_ms", "TICK_MS", "INIT_LIMIT",
           "SYNC_LIMIT"]
