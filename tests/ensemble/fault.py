#!/usr/bin/python3
"""Fault test on real processes: a 5-member keeper ensemble on loopback with a TCP proxy on
every peer link, a concurrent kazoo workload, and a fault schedule of kill -9 (leader and
followers), restarts, minority partitions and an isolated leader; then a phase of quick
kill -9/restart rounds of a random member. Every operation is recorded as a JSON line; at
the end, with every member up and healed, each member's tree is read after a sync and
`keeper sim check-history` judges the history (session order, acknowledged writes present
on every member, counter versions accounted for, members agree).

  tests/ensemble/fault.py --keeper BIN [--base-port 41000] [--seconds 200] [--seed N]
                          [--work DIR] [--keep]

Exit status 0 when every check passed, 1 when one failed, 2 when the run itself broke.
"""

import argparse
import atexit
import logging
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster import Ensemble, INIT_LIMIT, SYNC_LIMIT, TICK_MS, now_ms  # noqa: E402
import workload  # noqa: E402

# A new leader must serve writes within this bound after each leader kill or isolation:
# followers notice a dead link at once (and a silent leader within syncLimit ticks), the
# election decides at once or after a 200 ms finalize wait, the new leader syncs a quorum within
# initLimit ticks, and a kazoo client reconnects within its 0.5 s retry cap.
FAILOVER_BOUND_S = (SYNC_LIMIT + INIT_LIMIT) * TICK_MS / 1000 + 5.0  # 12.5 s
# A failover slower than this (a loud kill or cut is normally under 0.5 s, a silent cut
# about syncLimit) passes, but every member's log lines of that window are printed, so a
# slow round in CI can be understood from CI's output alone.
SLOW_FAILOVER_S = SYNC_LIMIT * TICK_MS / 1000 + 2.0  # 4.5 s
# How long the whole ensemble may take to be back (all up, one leader) after a fault ends.
FORM_BOUND_S = 30.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keeper", default=os.environ.get("KEEPER_BIN"))
    ap.add_argument("--base-port", type=int, default=41000)
    ap.add_argument("--seconds", type=float, default=200.0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--workers", type=int, default=7)
    ap.add_argument("--work", default=None)
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    a = ap.parse_args()
    if not a.keeper or not os.access(a.keeper, os.X_OK):
        print(f"fault: keeper binary {a.keeper!r} is not executable (--keeper or KEEPER_BIN)")
        return 2
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1 << 32)
    rng = random.Random(seed)
    work = a.work or tempfile.mkdtemp(prefix="keeper-fault-")
    os.makedirs(work, exist_ok=True)
    print(f"fault: seed={seed} work={work} base-port={a.base_port} budget={a.seconds:.0f}s "
          f"failover-bound={FAILOVER_BOUND_S:.1f}s", flush=True)

    ens = Ensemble(work, a.base_port, a.keeper)
    stop = threading.Event()
    state = {"probe": None, "workers": []}

    def cleanup():
        stop.set()
        ens.stop_all()
        if not a.keep and a.work is None and state.get("passed"):
            shutil.rmtree(work, ignore_errors=True)

    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))

    t_start = time.monotonic()
    ens.start_all()
    leader = ens.wait_formed(ens.ids, FORM_BOUND_S)
    print(f"fault: ensemble formed in {time.monotonic() - t_start:.2f}s, leader {leader}",
          flush=True)
    # kazoo logs every dropped connection; the report says what matters.
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    workload.hook_kazoo()
    hosts_all = ",".join(f"127.0.0.1:{m.client_port}" for m in ens.members.values())
    workload.setup_tree(hosts_all, a.workers)

    t0 = time.monotonic()
    hist_path = os.path.join(work, "history.jsonl")
    hist = workload.History(hist_path)
    probe = workload.Probe(ens)
    state["probe"] = probe
    workers = []
    for k in range(a.workers):
        # The first five are pinned to one member each; the rest get the whole list.
        if k < len(ens.ids):
            hosts = f"127.0.0.1:{ens.members[ens.ids[k]].client_port}"
        else:
            order = ens.ids[k % len(ens.ids):] + ens.ids[:k % len(ens.ids)]
            hosts = ",".join(f"127.0.0.1:{ens.members[i].client_port}" for i in order)
        workers.append(workload.Worker(k, hosts, a.base_port, t0, hist, stop,
                                       random.Random(rng.getrandbits(64))))
    state["workers"] = workers
    for w in workers:
        w.start()

    failovers, problems = [], []
    kinds = ["kill-leader", "kill-follower", "isolate-leader", "isolate-leader-silent",
             "minority", "minority-silent"]
    counts = {k: 0 for k in kinds + ["quick", "quick-leader"]}
    budget_end = t_start + a.seconds
    # Time for the final read and the checks at the end; 40 % mixed faults, 60 % quick rounds.
    chaos_end = t0 + (budget_end - t0 - 25) * 0.4
    quick_end = budget_end - 25
    schedule = []

    def fault(what):
        hist.write(dict(type="fault", t_ms=now_ms(t0), what=what))

    def measure(kind, exclude, t_fault):
        ft, via = probe.failover(exclude, t_fault, FAILOVER_BOUND_S)
        if ft is None:
            problems.append(f"{kind}: no write acknowledged within {FAILOVER_BOUND_S:.1f}s "
                            f"(excluded {sorted(exclude)}): modes {ens.modes()}")
        else:
            failovers.append((kind, ft))
        if ft is None or ft > SLOW_FAILOVER_S:
            wall = time.time() - (time.monotonic() - t_fault)
            took = "none" if ft is None else f"{ft:.3f}s"
            print(f"fault: slow failover ({kind}, {took}); member logs of that window:", flush=True)
            for m in ens.members.values():
                lines = m.lines_between(wall - 0.5, wall + (ft or FAILOVER_BOUND_S) + 0.5)
                print(f"--- member {m.id}\n{lines}", end="" if lines.endswith("\n") else "\n",
                      flush=True)
        return ft

    def formed():
        return ens.wait_formed(ens.ids, FORM_BOUND_S)

    # Phase 1: mixed faults at random moments of the load.
    while time.monotonic() < chaos_end and not problems:
        stop.wait(rng.uniform(0.1, 1.0))  # a random moment of the write load
        if not schedule:  # every kind once per cycle, in a random order
            schedule = rng.sample(kinds, len(kinds))
        kind = schedule.pop()
        leader = ens.leader()
        if leader is None:
            leader = formed()
        counts[kind] += 1
        if kind == "kill-leader":
            t = time.monotonic()
            ens.members[leader].kill9()
            fault(f"kill9 leader {leader}")
            measure(kind, {leader}, t)
            ens.members[leader].start()
        elif kind == "kill-follower":
            f = ens.random_other(rng, {leader})
            ens.members[f].kill9()
            fault(f"kill9 follower {f}")
            stop.wait(rng.uniform(0.0, 1.0))
            ens.members[f].start()
        elif kind.startswith("isolate-leader"):
            silent = kind.endswith("silent")
            t = time.monotonic()
            ens.partition({leader}, silent)
            fault(f"isolate leader {leader}{' silently' if silent else ''}")
            measure(kind, {leader}, t)
            ens.heal()
        else:
            silent = kind.endswith("silent")
            side = set(rng.sample(ens.ids, 2))
            t = time.monotonic()
            ens.partition(side, silent)
            fault(f"partition {sorted(side)} | rest (leader {leader}){' silently' if silent else ''}")
            if leader in side:
                measure(kind + "-leader", side, t)
            stop.wait(rng.uniform(0.3, 1.5))
            ens.heal()
        fault("healed")
        formed()

    t_chaos = time.monotonic() - t0
    # Phase 2: many quick rounds: kill -9 one random member at a random moment, restart it,
    # wait until the ensemble is whole again.
    while time.monotonic() < quick_end and not problems:
        stop.wait(rng.uniform(0.0, 0.3))
        victim = rng.choice(ens.ids)
        was_leader = ens.members[victim].srvr()
        t = time.monotonic()
        ens.members[victim].kill9()
        fault(f"quick kill9 {victim}")
        counts["quick"] += 1
        ens.members[victim].start()
        if was_leader and was_leader[0] == "leader":
            counts["quick-leader"] += 1
            measure("quick-leader", {victim}, t)
        formed()
        fault("healed")

    # End: every member up, every link healed; the load runs a little longer, then stops.
    ens.heal()
    formed()
    t_heal = time.monotonic()
    ok_after = probe.failover(set(), t_heal, FAILOVER_BOUND_S)[0]
    stop.set()
    for w in workers:
        w.join(timeout=workload.OP_TIMEOUT + 10)
    probe.close()
    errors = [f"worker {w.k}: {w.error}" for w in workers if w.error]
    errors += [f"worker {w.k} did not stop" for w in workers if w.is_alive()]
    t_quick = time.monotonic() - t0 - t_chaos
    t_read = time.monotonic()
    read = workload.final_state(ens, hist, workers)
    hist.close()
    t_read = time.monotonic() - t_read

    # Report.
    wall = time.monotonic() - t_start
    print(f"fault: wall {wall:.1f}s (mixed faults {t_chaos:.0f}s, quick rounds {t_quick:.0f}s, "
          f"final read {t_read:.1f}s), history {hist.ops} ops in {hist_path}")
    print("fault: rounds " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    print(f"fault: member starts " + ", ".join(f"m{i}={m.starts}" for i, m in ens.members.items()))
    errs = {}
    for w in workers:
        for e, n in w.counts.items():
            errs[e] = errs.get(e, 0) + n
    print("fault: op outcomes by err code " + ", ".join(f"{k}:{v}" for k, v in sorted(errs.items())))
    print(f"fault: final read per member {read}")
    if failovers:
        ts = sorted(t for _, t in failovers)
        print(f"fault: failover (kill -9 / isolation to first acked write elsewhere) n={len(ts)} "
              f"min={ts[0]:.3f}s median={statistics.median(ts):.3f}s max={ts[-1]:.3f}s "
              f"bound={FAILOVER_BOUND_S:.1f}s")
        for kind in sorted({k for k, _ in failovers}):
            ks = sorted(t for k, t in failovers if k == kind)
            print(f"fault:   {kind:16} n={len(ks):3} min={ks[0]:.3f}s "
                  f"median={statistics.median(ks):.3f}s max={ks[-1]:.3f}s")
    if ok_after is None:
        problems.append("no write acknowledged after the final heal")
    problems += errors
    check = subprocess.run([a.keeper, "sim", "check-history", hist_path],
                           capture_output=True, text=True)
    print(check.stdout, end="")
    if check.stderr:
        print(check.stderr, end="")
    if check.returncode != 0:
        problems.append(f"check-history exited {check.returncode}")
    for p in problems:
        print(f"fault: FAILED: {p}")
    if problems:
        print(f"fault: FAIL (seed {seed}; logs and history kept in {work})")
        for i, m in ens.members.items():
            print(f"--- m{i} log tail\n{m.tail(15)}")
        return 1
    state["passed"] = True
    print("fault: PASS")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as e:
        print(f"fault: FAILED: {e}")
        sys.exit(1)
