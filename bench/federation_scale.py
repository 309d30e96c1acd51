"""`fate-pulumi federation preview` of a large federation: an exchange and N parties (default 50), each its own stack,
previewed by the real engine (no cluster: the provider previews offline). Prints the driver's table — the time of
every stack's preview — and the whole run's wall time.

    python -m bench.federation_scale [--parties 50] [--backend eggroll|spark_pulsar] [--parallel N]

Needs `tools/build-toolchain.sh` (the pulumi CLI and the kubernetes plugin).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from tests.engine.harness import Engine

ROOT = Path(__file__).resolve().parent.parent


def topology(parties: int, backend: str) -> dict:
    """A star: every party reaches the others through the exchange (documentation addresses, RFC 5737)."""
    return {
        "name": "scale",
        "development": True,  # default passwords: nothing to set per party
        "exchange": {"backend": "eggroll" if backend == "eggroll" else "spark_pulsar", "address": "203.0.113.1"},
        "parties": [{"partyId": 10000 + i, "backend": backend, "address": f"198.51.100.{i + 1}"}
                    for i in range(parties)],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parties", type=int, default=50)
    parser.add_argument("--backend", default="eggroll", choices=("eggroll", "spark_pulsar"))
    parser.add_argument("--parallel", help="the driver's --parallel (default: its own)")
    args = parser.parse_args()
    if not 1 <= args.parties <= 250:
        parser.error("--parties: 1 to 250 (one documentation address each)")
    engine = Engine(Path(tempfile.mkdtemp(prefix="fate-bench-federation-")))
    path = engine.root / "federation.yaml"
    path.write_text(yaml.safe_dump(topology(args.parties, args.backend)))
    start = time.perf_counter()
    parallel = ["--parallel", args.parallel] if args.parallel else []
    proc = subprocess.run([sys.executable, "-m", "fate_pulumi.federation", "preview", str(path),
                           "--work-dir", str(engine.project), *parallel],
                          env={**engine.env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    wall = time.perf_counter() - start
    print(proc.stdout, end="")
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return 1
    print(f"federation preview of an exchange and {args.parties} {args.backend} parties: {wall:.1f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
