"""Wall time of `pulumi preview` per example stack (real engine, no cluster) against the offline render.

    python -m bench.bench_engine [--runs 3]

Needs the toolchain of tools/build-toolchain.sh. Prints medians over the runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.measure import measure
from tests.engine.harness import Engine, stack_file_values

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    engine = Engine(Path(tempfile.mkdtemp(prefix="fate-bench-engine-")))
    print(f"{'stack':<44} {'pulumi preview':>15} {'offline render':>15}   (median of {args.runs})")
    for path in [ROOT / "Pulumi.dev.yaml", *sorted((ROOT / "examples").glob("Pulumi.*.yaml"))]:
        values, secrets = stack_file_values(path)
        if "stackReference" in values.get("kubernetes", {}):
            values["kubernetes"] = {}
        name = engine.stack(path.stem.removeprefix("Pulumi."), values, secrets)
        walls = []
        for _ in range(args.runs):
            start = time.perf_counter()
            res = engine.run("preview", "--stack", name)
            walls.append(time.perf_counter() - start)
            if res.rc != 0:
                print(res.output, file=sys.stderr)
                return 1
        offline = measure(
            [sys.executable, "-m", "fate_pulumi.render", str(path), tempfile.mkdtemp()], args.runs, str(ROOT)
        )
        print(f"{path.name:<44} {statistics.median(walls):13.2f} s {offline.wall_s:13.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
