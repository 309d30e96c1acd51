"""Wall time of `pulumi up` of a party until every workload is ready, of a no-op `pulumi up`, and of a drift
check, against the local control plane (tests/cluster/controlplane.py).

    python -m bench.bench_cluster [--runs 3] [--backend eggroll]

Needs `tools/build-toolchain.sh everything`. Prints every sample and the median over the runs. kwok makes pods
Ready at once, so the figures are what Pulumi and the API server cost, not image pulls or JVM start-up.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.cluster.controlplane import LocalCluster
from tests.conftest import TEST_SECRETS
from tests.engine.harness import Engine

ROOT = Path(__file__).resolve().parent.parent

STACK = "bench-party"


def _timed(what: str, fn: Callable[[], bool]) -> float:
    start = time.perf_counter()
    ok = fn()
    if not ok:
        raise SystemExit(f"{what} failed")
    return time.perf_counter() - start


def _report(name: str, samples: list[float]) -> None:
    shown = " ".join(f"{s:.1f}" for s in samples)
    print(f"{name:<34} {statistics.median(samples):7.1f} s   (runs: {shown})", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", default="eggroll",
                        choices=("eggroll", "spark_rabbitmq", "spark_pulsar", "spark_local_pulsar"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fate-bench-cluster-"))
    cluster = LocalCluster(work / "cluster").start()
    try:
        engine = Engine(work / "engine")
        engine.env["KUBECONFIG"] = str(cluster.kubeconfig)
        ns = "fate-9999"
        secrets = {k: TEST_SECRETS[k] for k in ("mysqlPassword", "fateboardPassword", "notebookHashedPassword",
                                                 "rabbitmqPassword")}
        engine.stack(STACK, {"partyId": 9999, "backend": args.backend, "persistence": {"enabled": False}}, secrets)

        def up(*extra: str) -> bool:
            return engine.run("up", "--yes", "--skip-preview", "--stack", STACK, *extra, timeout=1200).rc == 0

        def up_to_ready() -> bool:
            if not up():
                return False
            while not cluster.workloads(ns) or cluster.not_ready(ns):  # the provider already waited; this confirms it
                time.sleep(0.2)
            return True

        def drift_check() -> bool:
            res = subprocess.run([sys.executable, "-m", "fate_pulumi.drift", "--stack", STACK, "--work-dir",
                                  str(engine.project)], env={**engine.env, "PYTHONPATH": str(ROOT)},
                                 capture_output=True, text=True)
            return res.returncode == 0

        print(f"party {args.backend} on the local control plane, median of {args.runs}")
        first = []
        for i in range(args.runs):
            if i:
                assert engine.run("destroy", "--yes", "--skip-preview", "--stack", STACK, timeout=1200).rc == 0
                while cluster.get(f"/api/v1/namespaces/{ns}") is not None:  # the namespace finishes terminating
                    time.sleep(0.5)
            first.append(_timed("pulumi up", up_to_ready))
        _report("pulumi up to all-ready", first)
        _report("no-op pulumi up", [_timed("no-op up", up) for _ in range(args.runs)])
        _report("drift check (fate_pulumi.drift)", [_timed("drift check", drift_check) for _ in range(args.runs)])
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
