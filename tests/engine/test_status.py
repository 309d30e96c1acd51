"""`fate-pulumi status` and `logs` on a real API server (the local control plane) and a stack the real Pulumi engine
brought up: healthy, then a workload scaled to zero, then a crash-looping container, each read back from the
cluster the way an operator would see it.

No FATE runs here: kwok plays the pods. A crash loop is what a kubelet would write into a pod's status — restarts,
the last termination's reason, waiting in CrashLoopBackOff — written here through the pod's status subresource, as
kwok writes the statuses it plays.
Run with: python -m pytest -q --engine tests/engine/test_status.py
"""

from __future__ import annotations

import datetime as dt
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.controlplane import LocalCluster
from tests.conftest import TEST_SECRETS
from tests.engine.harness import Engine, Result

NS = "fate-9999"
STACK = "party-9999-status"
SECRETS = {k: TEST_SECRETS[k] for k in ("mysqlPassword", "fateboardPassword", "notebookHashedPassword")}
VALUES: dict[str, Any] = {
    "partyId": 9999, "backend": "eggroll", "persistence": {"enabled": False}, "publicHost": "192.0.2.10",
    "modules": ["mysql", "python", "rollsite", "clustermanager", "nodemanager"],
    "rollsite": {"partyList": [{"partyId": 10000, "host": "192.0.2.20", "port": 30091, "secure": False}],
                 "service": {"type": "NodePort", "nodePorts": {"rollsite": 30091}}},
}


FATEFLOW_LOG = ["[INFO] fate_flow_server started", "[INFO] grpc server on 9360"]
PREVIOUS_LOG = "[ERROR] fate_flow_server: cannot connect to mysql:3306"


def cri(lines: list[tuple[dt.datetime, str]]) -> str:
    """Lines as a container runtime writes them for the kubelet (CRI log format), which kwok reads too."""
    return "".join(f"{at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')} stdout F {text}\n" for at, text in lines)


# kwok's ClusterLogs: what it serves as the logs of fateflow containers in the party's namespace (current and previous);
# every other container (init containers too: --all-containers asks for them) has empty ones
CLUSTER_LOGS = """\
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata: {name: fateflow-logs}
spec:
  selector: {matchNamespaces: [%(ns)s]}
  logs:
  - {containers: [fateflow], logsFile: %(current)s, previousLogsFile: %(previous)s, follow: true}
  - {logsFile: %(empty)s, previousLogsFile: %(empty)s, follow: false}
"""


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kwok-logs")


@pytest.fixture(scope="module")
def cluster_options(log_dir: Path) -> dict[str, Any]:
    """The module's control plane with kwok serving the kubelet API: container logs from CLUSTER_LOGS."""
    where = log_dir
    now = dt.datetime.now(dt.timezone.utc)
    # the first line two days old, the second from now: --since 1h shows the second alone
    (where / "fateflow.log").write_text(cri([(now - dt.timedelta(days=2), FATEFLOW_LOG[0]), (now, FATEFLOW_LOG[1])]))
    (where / "fateflow-previous.log").write_text(cri([(now - dt.timedelta(hours=3), PREVIOUS_LOG)]))
    (where / "empty.log").write_text("")
    (where / "logs.yaml").write_text(CLUSTER_LOGS % {"ns": NS, "current": where / "fateflow.log",
                                                     "previous": where / "fateflow-previous.log",
                                                     "empty": where / "empty.log"})
    return {"serve": True, "stages": {"cluster-logs": where / "logs.yaml"}}


@pytest.fixture(scope="module")
def kube(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    engine = Engine(tmp_path_factory.mktemp("status-engine"))
    engine.env["KUBECONFIG"] = str(cluster.kubeconfig)
    engine.stack(STACK, VALUES, SECRETS)
    res = engine.run("up", "--yes", "--skip-preview", "--stack", STACK, timeout=900)
    assert res.rc == 0, res.output[-4000:]
    return engine


def fate_pulumi(kube: Engine, *args: str) -> Result:
    """The command as a user runs it in the project (the project's own copy of fate_pulumi)."""
    env = {**kube.env, "PYTHONPATH": str(kube.project)}
    proc = subprocess.run([sys.executable, "-m", "fate_pulumi.cli", *args], cwd=kube.project, env=env,
                          capture_output=True, text=True, timeout=300)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def _status(kube: Engine) -> tuple[Result, dict[str, Any]]:
    res = fate_pulumi(kube, "status", STACK, "--json")
    assert res.rc in (0, 1), res.output
    (report,) = res.json()["stacks"]
    return res, report


def test_a_party_just_up_is_healthy(cluster: LocalCluster, kube: Engine) -> None:
    cluster.wait(lambda: cluster.not_ready(NS) == [], "the party's workloads ready", timeout=120)
    res, report = _status(kube)
    assert res.rc == 0 and report["healthy"], report["problems"]
    assert report["release"] == "1.11.2" and report["partyId"] == 9999
    assert sorted(w["name"] for w in report["workloads"]) == [
        "clustermanager", "mysql", "nodemanager", "python", "rollsite"]
    nodemanager = next(w for w in report["workloads"] if w["name"] == "nodemanager")
    assert (nodemanager["ready"], nodemanager["desired"]) == (2, 2)
    assert {c["tag"] for c in nodemanager["containers"]} == {"1.11.2-release", "2.1.4"}
    assert {"service": "rollsite", "port": "tcp-rollsite", "type": "NodePort", "host": "192.0.2.10",
            "nodePort": 30091} in report["exposed"]
    assert report["routes"] == [{"module": "rollsite", "peer": "10000", "host": "192.0.2.20", "port": 30091,
                                 "secure": False}]
    assert report["drift"] == {"lastCheck": None, "lastResult": None, "due": True}
    table = fate_pulumi(kube, "status", STACK)
    assert table.rc == 0 and "\033[" not in table.stdout  # not a terminal: no colour
    assert f"{STACK}: healthy" in table.stdout and "rollsite 10000 -> 192.0.2.20:30091" in table.stdout


def test_drift_records_its_check_for_status(kube: Engine) -> None:
    res = fate_pulumi(kube, "drift", "--stack", STACK)
    assert res.rc == 0, res.output
    _, report = _status(kube)
    checked = dt.datetime.fromisoformat(report["drift"]["lastCheck"].replace("Z", "+00:00"))
    assert dt.datetime.now(dt.timezone.utc) - checked < dt.timedelta(minutes=10)
    assert report["drift"]["lastResult"] == "clean" and report["drift"]["due"] is False


def test_a_workload_scaled_to_zero_is_degraded(cluster: LocalCluster, kube: Engine) -> None:
    path = f"/apis/apps/v1/namespaces/{NS}/deployments/clustermanager"
    cluster.patch(path, {"spec": {"replicas": 0}}, manager="kubectl-scale")
    try:
        res, report = _status(kube)
        assert res.rc == 1 and not report["healthy"]
        assert "clustermanager: scaled to 0" in report["problems"], report["problems"]
        table = fate_pulumi(kube, "status", STACK)
        assert table.rc == 1 and "! clustermanager: scaled to 0" in table.stdout, table.stdout
    finally:
        cluster.patch(path, {"spec": {"replicas": 1}}, manager="kubectl-scale")
    cluster.wait(lambda: cluster.not_ready(NS) == [], "clustermanager back", timeout=120)
    assert fate_pulumi(kube, "status", STACK).rc == 0


def test_a_crash_looping_container_is_degraded_with_its_restarts_and_reason(cluster: LocalCluster,
                                                                            kube: Engine) -> None:
    pod = cluster.get(f"/api/v1/namespaces/{NS}/pods/python-0")
    (fateflow,) = pod["status"]["containerStatuses"]
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    crashed = {**fateflow, "ready": False, "started": False, "restartCount": 5,
               "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s restarting"}},
               "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": now, "finishedAt": now}}}
    # as a kubelet leaves the pod: its container not ready, so neither is the pod
    conditions = [{**c, "status": "False", "reason": "ContainersNotReady"} if c["type"] in ("Ready", "ContainersReady")
                  else c for c in pod["status"]["conditions"]]
    cluster.patch(f"/api/v1/namespaces/{NS}/pods/python-0/status",
                  {"status": {"containerStatuses": [crashed], "conditions": conditions}})
    cluster.wait(lambda: cluster.not_ready(NS) == ["python: 0/1"], "the StatefulSet counts the pod unready")
    res, report = _status(kube)
    assert res.rc == 1
    assert report["problems"] == [
        "python: 0/1 ready",
        "python: python-0/fateflow: waiting: CrashLoopBackOff, 5 restarts, last terminated: Error"]
    table = fate_pulumi(kube, "status", STACK)
    assert table.rc == 1
    row = next(line for line in table.stdout.splitlines() if line.split()[:1] == ["python"])
    assert row.split()[1:4] == ["0/1", "5", "Error"], row


def test_logs_of_a_workload(kube: Engine) -> None:
    """kwok serves the logs CLUSTER_LOGS names, through the API server, as a kubelet would."""
    res = fate_pulumi(kube, "logs", STACK, "python")
    assert res.rc == 0, res.output
    assert res.stdout.splitlines() == [f"[pod/python-0/fateflow] {line}" for line in FATEFLOW_LOG]
    res = fate_pulumi(kube, "logs", STACK, "python", "--since", "1h")
    assert res.rc == 0 and res.stdout.splitlines() == [f"[pod/python-0/fateflow] {FATEFLOW_LOG[1]}"], res.output
    res = fate_pulumi(kube, "logs", STACK, "python", "--previous", "-c", "fateflow")
    assert res.rc == 0 and res.stdout.splitlines() == [f"[pod/python-0/fateflow] {PREVIOUS_LOG}"], res.output


def test_logs_follow_streams_new_lines(kube: Engine, log_dir: Path) -> None:
    env = {**kube.env, "PYTHONPATH": str(kube.project)}
    follow = subprocess.Popen([sys.executable, "-m", "fate_pulumi.cli", "logs", STACK, "python", "-f", "--tail", "1",
                               "-c", "fateflow"], cwd=kube.project, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert follow.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        def read() -> None:
            for line in follow.stdout or []:
                lines.put(line)

        threading.Thread(target=read, daemon=True).start()
        assert lines.get(timeout=60) == f"[pod/python-0/fateflow] {FATEFLOW_LOG[1]}\n"
        later = "[INFO] job 202612080000000000001 submitted"
        with open(log_dir / "fateflow.log", "a") as log:
            log.write(cri([(dt.datetime.now(dt.timezone.utc), later)]))
        assert lines.get(timeout=60) == f"[pod/python-0/fateflow] {later}\n"
        assert follow.poll() is None  # still following
    finally:
        follow.terminate()
        follow.wait(timeout=30)


def test_logs_refuses_an_unknown_workload(kube: Engine) -> None:
    res = fate_pulumi(kube, "logs", STACK, "fateboard")
    assert res.rc == 2 and res.stderr.count("\n") == 1, res.output
    assert "workload 'fateboard': no pod of it — one of: clustermanager, mysql, nodemanager, python, rollsite" \
        in res.stderr


def test_unknown_stack_is_bad_input(kube: Engine) -> None:
    res = fate_pulumi(kube, "status", "party-1234")
    assert res.rc == 2 and res.stderr.startswith("error: ") and res.stderr.count("\n") == 1, res.output
    assert f"one of: {STACK}" in res.stderr
