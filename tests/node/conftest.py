"""The real-node tier: rendered objects run as real pods on a real kubelet (tests/cluster/realnode.py), with images
built here from Debian packages (tests/node/images.py, README.md). What kwok cannot show: init containers, probes,
restarts, volumes that lose or keep data, NetworkPolicies enforced, `kubectl exec`.

Run with: python -m pytest -q --real-node tests/node (root; after tools/build-toolchain.sh everything and the node's
Debian packages: .ci/run, docs/node.md).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

from tests.cluster import realnode
from tests.cluster.controlplane import BIN, STORAGE_CLASS, LocalCluster
from tests.conftest import TEST_SECRETS, party, render
from tests.node import images

NAME_LABEL = "app.kubernetes.io/name"


# what each node of the session took (RealNode.timings), printed at the end of the run (docs/node.md's figures)
TIMINGS: list[tuple[str, dict[str, float]]] = []


def record_timings(what: str, cluster: LocalCluster, started: float) -> None:
    if cluster.node is not None and cluster.node.timings:
        TIMINGS.append((what, {"control plane and node started": started, **cluster.node.timings}))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for what, timings in TIMINGS:
        terminalreporter.write_line(f"real node, {what}: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """tests/node/test_host.py first: it starts and stops a node of its own, which cannot run beside the session's
    (one real node per host)."""
    items.sort(key=lambda item: 0 if item.fspath.basename == "test_host.py" else 1)


def require_node() -> None:
    missing = realnode.missing_tools()
    if missing:  # the tier was asked for: a missing part is a failure, never a skip
        raise RuntimeError("the real node needs " + ", ".join(missing) + " (.ci/run installs them; docs/node.md)")


@pytest.fixture(scope="session")
def archives() -> list[Path]:
    """Every test image but the sandbox one (the node loads that itself), built or taken from the cache."""
    return [images.build(i)[0] for name, i in images.IMAGES.items() if name != images.PAUSE]


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory, archives: list[Path]) -> Iterator[Node]:
    require_node()
    cluster = LocalCluster(tmp_path_factory.mktemp("real-node"), nodes=0, volumes=12, real_node=True)
    started = 0.0
    try:
        start = time.time()
        cluster.start()
        started = time.time() - start
        assert cluster.node is not None
        start = time.time()
        cluster.node.load(archives)
        cluster.node.timings["images"] = time.time() - start
        yield Node(cluster)
    finally:
        cluster.stop()
        record_timings("the session's", cluster, started)
    assert cluster.node is not None and not cluster.node.residue, cluster.node.residue


class Node:
    """The session's cluster with its real node, and what the tests do with it: kubectl, rendered objects."""

    def __init__(self, cluster: LocalCluster):
        self.cluster = cluster
        assert cluster.node is not None
        self.real = cluster.node

    def kubectl(self, *args: str, input: Optional[str] = None, check: bool = True,
                timeout: float = 120) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(BIN / "kubectl"), f"--kubeconfig={self.cluster.kubeconfig}", *args], input=input,
                              capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def apply(self, objects: list[dict]) -> None:
        """Server-side apply, as the Pulumi provider does."""
        self.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=fate-tests", "-f", "-",
                     input=yaml.safe_dump_all(objects))

    def pods(self, ns: str, app: str) -> list[dict]:
        items = json.loads(self.kubectl("get", "pods", "-n", ns, "-l", f"{NAME_LABEL}={app}", "-o", "json").stdout)
        return [p for p in items["items"] if not p["metadata"].get("deletionTimestamp")]

    def ready_pod(self, ns: str, app: str, timeout: float = 240, other_than: str = "") -> dict:
        """The one ready pod of a module (a replacement when `other_than` names the pod it replaces)."""
        found: dict[str, Any] = {}

        def ready() -> bool:
            for p in self.pods(ns, app):
                conditions = p.get("status", {}).get("conditions", [])
                if p["metadata"]["uid"] != other_than and any(
                        c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                    found["pod"] = p
                    return True
            return False

        try:
            self.cluster.wait(lambda: self.real.ready() and ready(), f"a ready pod of {ns}/{app}", timeout=timeout)
        except TimeoutError:
            raise AssertionError(f"no ready pod of {ns}/{app} within {timeout} s:\n" + self.describe(ns)) from None
        return found["pod"]

    def describe(self, ns: str) -> str:
        out = self.kubectl("describe", "pods", "-n", ns, check=False).stdout[-6000:]
        logs = self.kubectl("logs", "-n", ns, "--all-containers", "--prefix", "-l", "app.kubernetes.io/part-of",
                            "--tail=40", check=False)
        return out + "\n" + logs.stdout[-4000:] + logs.stderr[-500:]

    def exec(self, ns: str, pod: str, container: str, script: str, check: bool = True,
             input: Optional[str] = None) -> subprocess.CompletedProcess:
        """`sh -c script` in a container, through the API server and the kubelet (what `kubectl exec` does)."""
        return self.kubectl("exec", "-i", "-n", ns, pod, "-c", container, "--", "sh", "-c", script, input=input,
                            check=check)

    def sql(self, ns: str, pod: str, statement: str) -> list[list[str]]:
        """A statement as the container's MYSQL_USER (its environment's password: as fate-pulumi backup logs in)."""
        out = self.exec(ns, pod, "mysql", 'MYSQL_PWD="$MYSQL_PASSWORD" exec mariadb -u"$MYSQL_USER" -N -B '
                                          '"$MYSQL_DATABASE"', input=statement).stdout
        return [line.split("\t") for line in out.splitlines()]

    def restarts(self, pod: dict, container: str) -> int:
        live = json.loads(self.kubectl("get", "pod", "-n", pod["metadata"]["namespace"], pod["metadata"]["name"],
                                       "-o", "json").stdout)
        return next(s["restartCount"] for s in live["status"]["containerStatuses"] if s["name"] == container)


def container_id(pod: dict, container: str) -> str:
    return next(s["containerID"] for s in pod["status"]["containerStatuses"] if s["name"] == container)


def party_objects(party_id: int, apps: tuple[str, ...], **values: Any) -> list[dict]:
    """The objects a party stack renders (its namespace and the modules `apps`, by app.kubernetes.io/name), images
    from the local registry, claims from the node's StorageClass."""
    cfg = party(partyId=party_id, registry=images.REGISTRY, **values)
    cfg.setdefault("mysql", {}).setdefault("storage", {})["storageClass"] = STORAGE_CLASS
    rendered = render(cfg)
    return [o for o in rendered.raw_objects
            if o["kind"] == "Namespace" or o["metadata"].get("labels", {}).get(NAME_LABEL) in apps]


def client_pod(ns: str, name: str, labels: dict[str, str]) -> dict:
    """A busybox pod that waits: a stand-in client with a FATE module's labels (the NetworkPolicy selects on them)."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                "name": "client", "image": images.local_name(images.BUSYBOX_IMAGE), "imagePullPolicy": "Never",
                "command": ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]}]}}


__all__ = ["TEST_SECRETS", "Node", "client_pod", "container_id", "party_objects"]
