"""Performance of the offline render at scale. Prints medians over several runs of whole processes.

    python -m bench.bench [--runs 5] [--helm PATH --kubefate-charts DIR]

(a) every example stack, and the floor of a render (bench/floor.py: the same objects registered raw under the same
mocks) for a party and for the 1,000-party exchange; (b) an exchange routing 10, 100 and 1,000 parties; (c) a party
with 1, 10 and 100 nodemanagers and with 1, 10 and 100 Spark workers; optionally (d) Helm's render of the same
KubeFATE cluster files (KubeFATE's two steps: values-template, then the chart).
Targets: a render within 1.3x of its floor; a 1,000-party exchange under 1 s; growth linear (printed as the time
per added party).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml

from bench.measure import Measurement, measure, measure_pair

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def render_cmd(stack_file: Path, out: Path) -> list[str]:
    return [PY, "-m", "fate_pulumi.render", str(stack_file), str(out)]


def write_stack(directory: Path, name: str, config: dict) -> Path:
    path = directory / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump({"config": {f"fate:{k}": v for k, v in config.items()}}))
    return path


def exchange(n: int) -> dict:
    parties = [{"partyId": 10000 + i, "host": f"10.{i // 250}.{i % 250}.1", "port": 30091} for i in range(n)]
    return {"kind": "exchange", "partyId": 1, "backend": "eggroll",
            "rollsite": {"service": {"type": "NodePort", "nodePorts": {"rollsite": 30000}}, "partyList": parties}}


def party(nodemanagers: int = 2, workers: int = 2, backend: str = "eggroll") -> dict:
    return {"partyId": 9999, "development": True, "backend": backend,
            "nodemanager": {"replicas": nodemanagers}, "spark": {"worker": {"replicas": workers}},
            "hdfs": {"datanode": {"replicas": 3}}} if backend != "eggroll" else \
        {"partyId": 9999, "development": True, "nodemanager": {"replicas": nodemanagers}}


def row(label: str, m: Measurement) -> None:
    print(f"{label:<52} {m.wall_s:8.3f} s {m.peak_rss_mb:9.1f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--helm", help="a helm binary, to compare with KubeFATE's render")
    parser.add_argument("--kubefate-charts", type=Path, help="KubeFATE v1.11.2 helm-charts/ directory")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fate-bench-"))
    print(f"{'what':<52} {'wall (median)':>10} {'peak RSS':>12}   runs={args.runs}")

    print("(a) offline render of the example stacks")
    for stack in [ROOT / "Pulumi.dev.yaml", *sorted((ROOT / "examples").glob("Pulumi.*.yaml"))]:
        row(f"  {stack.name}", measure(render_cmd(stack, tmp / stack.name), args.runs, str(ROOT)))

    print("(a') a render against its floor: the same objects registered raw under the same mocks (bench/floor.py)")
    floors = {"Pulumi.dev.yaml (a party)": ROOT / "Pulumi.dev.yaml",
              "exchange routing 1,000 parties": write_stack(tmp, "exchange-1000", exchange(1000))}
    for label, stack in floors.items():
        out = tmp / f"floor-src-{stack.stem}"
        floor_cmd = [PY, "-m", "bench.floor", str(out), str(tmp / "floor")]
        render_m, floor_m = measure_pair(render_cmd(stack, out), floor_cmd, args.runs, str(ROOT))
        row(f"  {label}: fate-pulumi render", render_m)
        row(f"  {label}: floor", floor_m)
        ratio = render_m.wall_s / floor_m.wall_s
        print(f"  ratio {ratio:.2f}x: {'meets' if ratio <= 1.3 else 'MISSES'} the 1.3x goal")

    print("(b) exchange routing N parties")
    walls = {}
    for n in (10, 100, 1000):
        m = measure(render_cmd(write_stack(tmp, f"exchange-{n}", exchange(n)), tmp / f"x{n}"), args.runs, str(ROOT))
        walls[n] = m.wall_s
        row(f"  {n} parties", m)
    print(f"  per added party: {(walls[1000] - walls[100]) / 900 * 1000:.3f} ms (100->1000), "
          f"{(walls[100] - walls[10]) / 90 * 1000:.3f} ms (10->100); 1,000 parties "
          f"{'meets' if walls[1000] < 1 else 'MISSES'} the 1 s goal")

    print("(c) party size")
    for n in (1, 10, 100):
        row(
            f"  eggroll, {n} nodemanagers",
            measure(
                render_cmd(write_stack(tmp, f"nm-{n}", party(nodemanagers=n)), tmp / f"nm{n}"), args.runs, str(ROOT)
            ),
        )
    for n in (1, 10, 100):
        row(f"  spark_pulsar, {n} spark workers",
            measure(render_cmd(write_stack(tmp, f"sw-{n}", party(workers=n, backend="spark_pulsar")), tmp / f"sw{n}"),
                    args.runs, str(ROOT)))

    if args.helm and args.kubefate_charts:
        print("(d) KubeFATE: helm template of the same cluster files (values-template, then the chart)")
        examples = ROOT.parent / "shared" / "kubefate-examples"
        for name, chart in (("party-9999-cluster", "FATE"), ("party-9999-cluster-spark-pulsar", "FATE"),
                            ("party-9999-cluster-serving", "FATE-Serving")):
            cluster = examples / name / "cluster.yaml"
            helm_m = measure(
                [
                    "bash",
                    str(ROOT / "bench" / "helm_render.sh"),
                    args.helm,
                    str(args.kubefate_charts / chart),
                    str(cluster),
                    str(tmp / f"helm-{name}"),
                ],
                args.runs,
            )
            ours = ["bash", "-c", f"{PY} -m fate_pulumi.importer {cluster} > {tmp}/imp-{name}.yaml && "
                                  f"{PY} -m fate_pulumi.render {tmp}/imp-{name}.yaml {tmp}/ours-{name} --development"]
            ours_m = measure(ours, args.runs, str(ROOT))
            row(f"  helm: {name}", helm_m)
            row(f"  fate-pulumi (import + render): {name}", ours_m)
            print(f"  ratio {ours_m.wall_s / helm_m.wall_s:.2f}x (target 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
