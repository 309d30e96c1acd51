"""fate-pulumi side by side with what a FATE operator would use instead, on one local control plane, in one run.

    python -m bench.side_by_side --kubefate-charts DIR [--helm DIR] [--runs 3] [--backend eggroll spark_pulsar]

For each party (a KubeFATE cluster file, persistence off), three tools deploy it in turn, run after run:
- fate-pulumi: the cluster file imported (`fate-pulumi import`), then `pulumi preview` of the empty stack, `pulumi up`
  until every workload is ready, a no-op `pulumi up`, the drift check (`python -m fate_pulumi.drift`),
  `pulumi destroy`;
- Helm with KubeFATE v1.11.2's chart and the values KubeFATE renders from the same file (its values-template):
  `helm install --wait`, a no-op `helm upgrade --wait`, `kubectl diff` of the release's manifest (the drift peer),
  `helm uninstall --wait`;
- a Pulumi program deploying the same chart and values through `kubernetes.helm.v4.Chart` (what a Pulumi user would
  write instead of fate-pulumi): preview, up, no-op up, destroy. It needs `skip_await`: the chart's Ingresses for
  example.com hosts (which fate-pulumi does not create) never get a load-balancer address here.
"up until ready" ends when every Deployment and StatefulSet in the namespace is ready, whichever tool awaited it.
Medians, spread (min-max) and the largest process's peak memory per step, then the ratios the performance goals
name. Needs `tools/build-toolchain.sh everything`; helm and kubectl from --helm DIR, or fetched as the engine tests
fetch them (tests/engine/kubefate.py). kwok makes pods Ready at once: the figures are what the tools, the
engine, the provider and the API server cost, not image pulls or JVM start-up.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.cluster.controlplane import LocalCluster
from tests.engine.harness import Engine
from tests.engine.kubefate import SPARK_PULSAR, cluster_file, helm_tools, kubefate_values

ROOT = Path(__file__).resolve().parent.parent
PARTIES = {"eggroll": cluster_file(9999, 30090), "spark_pulsar": SPARK_PULSAR}
TOOLS = ("fate-pulumi", "helm", "helm.v4.Chart")
STEPS = ("preview", "up until ready", "no-op up", "drift check", "destroy")

CHART_PROGRAM = '''\
import pulumi
import pulumi_kubernetes as k8s

ns = k8s.core.v1.Namespace("ns", metadata={"name": "%(ns)s"})
# skip_await: the chart's two example.com Ingresses would otherwise wait for a load-balancer address that no
# ingress controller gives (10 minutes, then failure); readiness is then awaited as after `helm install --wait`
k8s.helm.v4.Chart("%(release)s", chart="%(chart)s", namespace="%(ns)s", skip_await=True,
                  value_yaml_files=[pulumi.FileAsset("%(values)s")], opts=pulumi.ResourceOptions(depends_on=[ns]))
'''


@dataclass
class Samples:
    wall: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)

    def cell(self) -> str:
        if not self.wall:
            return "—"
        spread = f" ({min(self.wall):.1f}–{max(self.wall):.1f})" if len(self.wall) > 1 else ""
        return f"{statistics.median(self.wall):.1f} s{spread}, {statistics.median(self.rss_mb):.0f} MB"

    def median(self) -> float:
        return statistics.median(self.wall)


def timed(cmd: list[str], env: dict[str, str], cwd: Path, ok: Callable[[int], bool] = lambda rc: rc == 0,
          then: Callable[[], None] = lambda: None) -> tuple[float, float]:
    """Wall time of a whole process (and of `then`, e.g. waiting until ready) and the peak memory of the largest
    process of its tree (wait4's ru_maxrss covers the reaped descendants)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    proc.returncode = rc
    if not ok(rc):
        raise SystemExit(f"{' '.join(cmd)} failed ({rc}):\n{out.decode()[-3000:]}")
    then()
    return time.perf_counter() - start, usage.ru_maxrss / 1024.0


class Party:
    """One cluster file, its three deployments, and their samples."""

    def __init__(self, backend: str, cluster: LocalCluster, charts: Path, tools: Path, work: Path):
        self.cluster = cluster
        self.doc = yaml.safe_load(PARTIES[backend].replace("persistence: true", "persistence: false"))
        self.ns, self.release = self.doc["namespace"], self.doc["name"]
        self.chart = charts / "FATE"
        self.work = work / backend
        self.engine = Engine(self.work / "engine")
        self.env = {**self.engine.env, "KUBECONFIG": str(cluster.kubeconfig),
                    "PATH": os.pathsep.join([str(tools), str(ROOT / ".venv" / "bin"), self.engine.env["PATH"]])}
        self.samples = {(tool, step): Samples() for tool in TOOLS for step in STEPS}
        self.cluster_yaml = self.work / "cluster.yaml"
        self.cluster_yaml.write_text(yaml.safe_dump(self.doc))
        self.values = kubefate_values(self.chart, self.cluster_yaml, self.work, self.sh)
        self.stack = f"bench-{backend.replace('_', '-')}"
        self._import()
        self.chart_project = self._chart_program()

    def sh(self, line: str, cwd: Path | None = None) -> str:
        proc = subprocess.run(["bash", "-c", line], cwd=cwd or self.engine.project, env=self.env, capture_output=True,
                              text=True, timeout=1800)
        if proc.returncode != 0:
            raise SystemExit(f"$ {line}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc.stdout

    def _import(self) -> None:
        """The migration path the README gives: the cluster file imported into a stack, its passwords set."""
        project = self.engine.project
        self.sh(f"fate-pulumi import {self.cluster_yaml} --secrets-script {self.work}/set-secrets.sh "
                f"-o Pulumi.{self.stack}.yaml")
        self.sh(f"pulumi stack init {self.stack} --secrets-provider passphrase --non-interactive", project)
        self.sh(f"sh {self.work}/set-secrets.sh", project)
        # the import keeps the namespace KubeFATE's users create by hand; here each tool creates its own (Helm's is
        # made before its timed install), so that a destroy removes everything
        self.sh(f"pulumi config set fate:createNamespace true --stack {self.stack} --non-interactive", project)

    def _chart_program(self) -> Path:
        project = self.work / "chart-program"
        project.mkdir()
        (project / "Pulumi.yaml").write_text(yaml.safe_dump({
            "name": "kubefate-chart", "runtime": {"name": "python", "options": {
                "toolchain": "pip", "virtualenv": str(ROOT / ".venv")}}}))
        (project / "__main__.py").write_text(CHART_PROGRAM % {
            "ns": self.ns, "release": self.release, "chart": self.chart, "values": self.values})
        self.sh("pulumi stack init bench --secrets-provider passphrase --non-interactive", project)
        return project

    # ---------------------------------------------------------------- one lifecycle per tool

    def ready(self) -> None:
        deadline = time.time() + 600
        while not self.cluster.workloads(self.ns) or self.cluster.not_ready(self.ns):
            if time.time() > deadline:
                raise SystemExit(f"{self.ns}: not ready: {self.cluster.not_ready(self.ns)}")
            time.sleep(0.2)

    def gone(self) -> None:
        while self.cluster.get(f"/api/v1/namespaces/{self.ns}") is not None:
            time.sleep(0.3)

    def namespace_gone(self) -> None:
        """Helm leaves the namespace KubeFATE created: delete it too, as the other two tools do."""
        self.sh(f"kubectl delete namespace {self.ns} --wait")
        self.gone()

    def record(self, tool: str, step: str, sample: tuple[float, float]) -> None:
        self.samples[(tool, step)].wall.append(sample[0])
        self.samples[(tool, step)].rss_mb.append(sample[1])

    def fate_pulumi(self) -> None:
        p, env, s = self.engine.project, self.env, ["--stack", self.stack, "--non-interactive"]
        self.record("fate-pulumi", "preview", timed(["pulumi", "preview", *s], env, p))
        self.record("fate-pulumi", "up until ready", timed(["pulumi", "up", "--yes", "--skip-preview", *s], env, p,
                                                           then=self.ready))
        self.record("fate-pulumi", "no-op up", timed(["pulumi", "up", "--yes", "--skip-preview", *s], env, p))
        self.record("fate-pulumi", "drift check", timed(
            [sys.executable, "-m", "fate_pulumi.drift", "--stack", self.stack, "--work-dir", str(p)],
            {**env, "PYTHONPATH": str(ROOT)}, p))
        self.record("fate-pulumi", "destroy", timed(["pulumi", "destroy", "--yes", "--skip-preview", *s], env, p,
                                                    then=self.gone))

    def helm(self) -> None:
        p, env = self.work, self.env
        self.sh(f"kubectl create namespace {self.ns}")
        install = ["helm", "install", self.release, str(self.chart), "-n", self.ns, "-f", str(self.values), "--wait",
                   "--timeout", "10m"]
        self.record("helm", "up until ready", timed(install, env, p, then=self.ready))
        upgrade = ["helm", "upgrade", *install[2:]]
        self.record("helm", "no-op up", timed(upgrade, env, p))
        # kubectl diff: exit 0 no differences, 1 differences; the manifest comes from the release
        self.record("helm", "drift check", timed(
            ["bash", "-c", f"helm get manifest {self.release} -n {self.ns} | kubectl diff -n {self.ns} -f -"],
            env, p, ok=lambda rc: rc in (0, 1)))
        self.record("helm", "destroy", timed(["helm", "uninstall", self.release, "-n", self.ns, "--wait"], env, p,
                                             then=self.namespace_gone))

    def chart_program(self) -> None:
        p, env, s = self.chart_project, self.env, ["--stack", "bench", "--non-interactive"]
        self.record("helm.v4.Chart", "preview", timed(["pulumi", "preview", *s], env, p))
        self.record("helm.v4.Chart", "up until ready", timed(["pulumi", "up", "--yes", "--skip-preview", *s], env, p,
                                                             then=self.ready))
        self.record("helm.v4.Chart", "no-op up", timed(["pulumi", "up", "--yes", "--skip-preview", *s], env, p))
        self.record("helm.v4.Chart", "destroy", timed(["pulumi", "destroy", "--yes", "--skip-preview", *s], env, p,
                                                      then=self.gone))


def ratio(a: Samples, b: Samples) -> str:
    return f"{a.median() / b.median():.2f}" if a.wall and b.wall else "—"


def report(backend: str, party: Party) -> None:
    s = party.samples
    print(f"\n{backend} party (KubeFATE cluster file, persistence off): median (min–max), peak memory of the largest "
          f"process; {len(s[('fate-pulumi', 'preview')].wall)} runs")
    print("| step | fate-pulumi | Helm (KubeFATE chart) | helm.v4.Chart program | fate-pulumi / Helm | "
          "fate-pulumi / Chart program |")
    print("|---|---|---|---|---|---|")
    for step in STEPS:
        fp, helm, chart = (s[(t, step)] for t in TOOLS)
        print(f"| {step} | {fp.cell()} | {helm.cell()} | {chart.cell()} | {ratio(fp, helm)} | {ratio(fp, chart)} |")
    goals = [("up until ready <= 1.5 x helm install --wait", s[("fate-pulumi", "up until ready")],
              s[("helm", "up until ready")], 1.5),
             ("up until ready <= 1.0 x helm.v4.Chart", s[("fate-pulumi", "up until ready")],
              s[("helm.v4.Chart", "up until ready")], 1.0),
             ("preview <= 1.0 x helm.v4.Chart", s[("fate-pulumi", "preview")], s[("helm.v4.Chart", "preview")], 1.0),
             ("drift check <= 1.5 x kubectl diff", s[("fate-pulumi", "drift check")], s[("helm", "drift check")], 1.5)]
    for name, a, b, limit in goals:
        got = a.median() / b.median()
        print(f"goal {name}: {got:.2f} {'met' if got <= limit else 'MISSED'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubefate-charts", type=Path, required=True, help="KubeFATE v1.11.2's helm-charts")
    parser.add_argument("--helm", type=Path, help="a directory with helm and kubectl (default: fetched and cached)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", nargs="+", default=list(PARTIES), choices=list(PARTIES))
    args = parser.parse_args()
    if not (args.kubefate_charts / "FATE" / "values-template.yaml").exists():
        print(f"error: --kubefate-charts {args.kubefate_charts}: no FATE/values-template.yaml; give the directory "
              f"of KubeFATE v1.11.2's charts", file=sys.stderr)
        return 2
    tools = args.helm or helm_tools()
    work = Path(tempfile.mkdtemp(prefix="fate-bench-side-"))
    cluster = LocalCluster(work / "cluster").start()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; local control "
          f"plane (etcd, kube-apiserver/controller-manager/scheduler, kwok)", flush=True)
    try:
        parties = {b: Party(b, cluster, args.kubefate_charts, tools, work) for b in args.backend}
        for run in range(args.runs):
            for backend, party in parties.items():
                # the order rotates run by run, so no tool always runs first on a cold API server
                order = [party.fate_pulumi, party.helm, party.chart_program]
                for lifecycle in order[run % 3:] + order[:run % 3]:
                    lifecycle()
                print(f"run {run + 1}/{args.runs} {backend} done", flush=True)
        for backend, party in parties.items():
            report(backend, party)
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
