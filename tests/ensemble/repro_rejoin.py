#!/usr/bin/python3
"""Reproduces a slow rejoin found by the fault test (see README.md, "Known issue").

Sequence, on the same 5-member ensemble as fault.py (no client load needed): the leader
(5) is isolated so that 4 leads; healed; 4 is killed with SIGKILL, so 1, 2, 3 and 5 elect
5 while their votes to 4 are kept by the shell; 4 is restarted. The restarted member hears
the kept (stale) LOOKING votes for 5 from 1, 2, 3 on the links it dials itself, decides to
follow 5 after finalizeWait, and sends LearnerInfo before 5's dialer has reconnected to it:
the message is dropped ("no link; message dropped ... learnerinfo" at debug level) and never
resent, so the member waits out initLimit (5 s here) before it looks again.

  tests/ensemble/repro_rejoin.py --keeper BIN [--rounds 10] [--base-port 41500]

Prints each rejoin time and exits 1 when any took longer than SLOW_S.
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Ensemble  # noqa: E402

SLOW_S = 2.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keeper", default=os.environ.get("KEEPER_BIN"))
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--base-port", type=int, default=41500)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="keeper-rejoin-")
    ens = Ensemble(work, a.base_port, a.keeper)
    slow = []
    try:
        ens.start_all()
        for r in range(a.rounds):
            first = ens.wait_formed(ens.ids, 30)
            ens.partition({first})
            second = ens.wait_formed([i for i in ens.ids if i != first], 30)
            ens.heal()
            ens.wait_formed(ens.ids, 30)
            ens.members[second].kill9()
            ens.wait_formed([i for i in ens.ids if i != second], 30)
            t = time.monotonic()
            ens.members[second].start()
            ens.wait_formed(ens.ids, 30)
            dt = time.monotonic() - t
            print(f"round {r}: leader {first} isolated, {second} led, killed, restarted: "
                  f"rejoined in {dt:.2f}s", flush=True)
            if dt > SLOW_S:
                slow.append(dt)
    finally:
        ens.stop_all()
    print(f"{len(slow)} of {a.rounds} rejoins took longer than {SLOW_S}s (logs in {work})")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
