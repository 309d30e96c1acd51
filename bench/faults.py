"""Faults survived, nothing lost: every fault scenario of tests/cluster/faults.py, several trials each, on one local
control plane; prints a line per trial and the table of docs/faults.md.

    python -m bench.faults [--trials 3] [--seed 1] [--backend eggroll spark_pulsar serving] [--scenario NAME ...]

A persistent deployment of each kind (eggroll: two nodemanagers; spark_pulsar: two HDFS datanodes; FATE-Serving) is
deployed by the real engine and marker files are written into its volumes' backing directories; each trial injects
its fault at a point drawn from the seeded generator, runs the recovery the README documents, then checks: no
pending operation, every object once, none missing, no orphan in the namespace, every workload ready, `pulumi
preview --expect-no-changes` clean, every marker in the volume still bound to its claim. Needs
`tools/build-toolchain.sh everything`. Exit 1 when a trial did not converge.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from tests.cluster.faults import PARTIES, RECOVERY, SCENARIOS, Outcome, deploy, run


def table(outcomes: list[tuple[str, Outcome]]) -> str:
    head = ("party", "scenario", "trials", "converged", "duplicated", "orphaned", "missing", "markers lost",
            "recovery")
    rows = []
    for backend, scenario in dict.fromkeys((b, o.scenario) for b, o in outcomes):
        mine = [o for b, o in outcomes if (b, o.scenario) == (backend, scenario)]
        rows.append((backend, scenario, str(len(mine)), str(sum(o.converged for o in mine)),
                     str(sum(o.duplicated for o in mine)), str(sum(o.orphaned for o in mine)),
                     str(sum(o.missing for o in mine)), str(sum(o.markers_lost for o in mine)), RECOVERY[scenario]))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--backend", nargs="+", choices=list(PARTIES), default=list(PARTIES))
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS), help="only these (repeatable)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="fate-faults-"))
    t0 = time.time()
    outcomes: list[tuple[str, Outcome]] = []
    for backend in args.backend:
        cluster, party = deploy(workdir / backend, backend)
        try:
            for trial in range(1, args.trials + 1):
                for scenario in args.scenario or SCENARIOS:
                    outcome = run(party, scenario, rng)
                    outcomes.append((backend, outcome))
                    verdict = "converged" if outcome.converged else "NOT CONVERGED: " + "; ".join(outcome.problems)
                    print(f"[{time.time() - t0:6.0f}s] {backend} trial {trial} {scenario} ({outcome.fault}): "
                          f"{verdict}, {outcome.seconds:.1f} s", flush=True)
        finally:
            cluster.stop()
        if cluster.restarts:
            print(f"  {backend}: the control plane's supervisor restarted " +
                  ", ".join(f"{name} {n}x" for name, n in cluster.restarts.items()), flush=True)
    print()
    print(table(outcomes))
    print(f"\n{len(outcomes)} trials, seed {args.seed}, {time.time() - t0:.0f} s; work directory {workdir}")
    return 0 if all(o.converged for _, o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
