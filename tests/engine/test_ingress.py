"""Ingresses on a real API server (the local control plane) with no ingress controller, as on a bare-metal cluster
whose controller sits behind NodePorts and publishes no address: `pulumi up` of a party with Ingress hosts does not
wait for one (the provider's Ingress await is 10 minutes), unless `fate:ingress.awaitAddress` asks for it; then it
waits, and fails when no address comes. An interrupted program prints one line, no traceback.

Tests run in file order and build on each other. Run with: python -m pytest -q --engine tests/engine/test_ingress.py
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from typing import Any

import pytest

from stacks.program import INTERRUPTED
from tests.cluster.controlplane import LocalCluster
from tests.conftest import TEST_SECRETS
from tests.engine.harness import Engine

NS = "fate-9999"
STACK = "party-9999-ingress"
SECRETS = {k: TEST_SECRETS[k] for k in ("mysqlPassword", "fateboardPassword", "notebookHashedPassword")}
HOSTS = {"fateboard": {"hosts": [{"name": "fateboard.9999.fate.example"}]},
         "client": {"hosts": [{"name": "notebook.9999.fate.example"}]}}
VALUES: dict[str, Any] = {
    "partyId": 9999, "backend": "eggroll", "persistence": {"enabled": False},
    "modules": ["mysql", "python", "rollsite", "clustermanager", "nodemanager", "fateboard", "client"],
    "rollsite": {"partyList": [{"partyId": 10000, "host": "192.0.2.20", "port": 30091}]},
    "ingress": HOSTS,
}
# the provider's own Ingress await, when it runs (provider/pkg/await/ingress.go)
NO_ADDRESS = "Ingress .status.loadBalancer field was not updated with a hostname/IP address"
AWAITING = "Waiting for update of .status.loadBalancer"  # its status while it waits
# well under the provider's 10 minutes: a party on the local control plane is up in well under a minute
QUICK = 300
SHORT_AWAIT = 20  # seconds: pulumi.com/timeoutSeconds on the awaited Ingresses


def _awaited(timeout: int | None) -> dict[str, Any]:
    """Ingress config that asks for the address, with the provider's await shortened to `timeout` seconds."""
    annotations = {"pulumi.com/timeoutSeconds": str(timeout)} if timeout else {}
    return {"awaitAddress": True, **{ui: {**route, "annotations": annotations} for ui, route in HOSTS.items()}}


@pytest.fixture(scope="module")
def kube(cluster: LocalCluster, tmp_path_factory) -> Engine:
    engine = Engine(tmp_path_factory.mktemp("ingress-engine"))
    engine.env["KUBECONFIG"] = str(cluster.kubeconfig)
    engine.stack(STACK, VALUES, SECRETS)
    return engine


def _ingresses(cluster: LocalCluster) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in cluster.items(NS, "ingresses")}


def _up(kube: Engine, timeout: int) -> tuple[Any, float]:
    started = time.monotonic()
    res = kube.run("up", "--yes", "--skip-preview", "--stack", STACK, timeout=timeout)
    return res, time.monotonic() - started


def test_up_with_ingress_hosts_does_not_wait_for_an_address(cluster, kube):
    res, took = _up(kube, QUICK)
    assert res.rc == 0, res.output[-4000:]
    assert took < QUICK
    ingresses = _ingresses(cluster)
    assert set(ingresses) == {"fateboard", "client"}
    # no controller: no address, and `up` did not need one
    assert all(not o.get("status", {}).get("loadBalancer", {}).get("ingress") for o in ingresses.values())
    assert cluster.not_ready(NS) == []


def test_asked_for_the_address_up_waits_and_fails_without_one_and_no_traceback(cluster, kube):
    kube.set_values(STACK, {"ingress": _awaited(SHORT_AWAIT)})
    res, took = _up(kube, QUICK)
    assert res.rc != 0, res.output[-4000:]
    assert NO_ADDRESS in res.output, res.output[-4000:]
    assert took >= SHORT_AWAIT
    assert "Traceback" not in res.output and "KeyboardInterrupt" not in res.output, res.output[-4000:]


def test_asked_for_the_address_up_succeeds_once_the_controller_publishes_it(cluster, kube):
    """What a controller does, done by hand (no ingress controller runs here): the address in the Ingress status."""
    for name in _ingresses(cluster):
        cluster.patch(f"/apis/networking.k8s.io/v1/namespaces/{NS}/ingresses/{name}/status",
                      {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.80"}]}}}, manager="test-controller")
    res, _ = _up(kube, QUICK)
    assert res.rc == 0, res.output[-4000:]
    for name in _ingresses(cluster):
        cluster.patch(f"/apis/networking.k8s.io/v1/namespaces/{NS}/ingresses/{name}/status",
                      {"status": {"loadBalancer": {"ingress": None}}}, manager="test-controller")


def test_an_interrupted_up_prints_one_line_and_no_traceback(kube):
    """SIGINT to `pulumi up` (Ctrl-C, a cancelled CI job) while the provider awaits an Ingress address: the engine
    cancels the update and closes the language host, the program with it."""
    kube.set_values(STACK, {"ingress": _awaited(None)})  # the provider's own 10 minutes
    proc = subprocess.Popen(["pulumi", "up", "--yes", "--skip-preview", "--non-interactive", "--stack", STACK],
                            cwd=kube.project, env=kube.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines: list[str] = []
    awaiting = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if AWAITING in line:
                awaiting.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert awaiting.wait(QUICK), "".join(lines)[-4000:]
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=QUICK)
        reader.join(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = "".join(lines)
    assert proc.returncode != 0, output[-4000:]
    assert "^C received; cancelling" in output, output[-4000:]
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output[-4000:]
    assert INTERRUPTED in output, output[-4000:]


def test_not_asked_again_up_succeeds_without_an_address(cluster, kube):
    """The take-over's case: existing Ingresses updated (skipAwait back) with no controller."""
    kube.set_values(STACK, {"ingress": HOSTS})
    res, took = _up(kube, QUICK)
    assert res.rc == 0, res.output[-4000:]
    assert took < QUICK
    res = kube.run("up", "--yes", "--skip-preview", "--expect-no-changes", "--stack", STACK, timeout=QUICK)
    assert res.rc == 0, res.output[-4000:]


def test_destroy(kube):
    res = kube.run("destroy", "--yes", "--skip-preview", "--stack", STACK, timeout=900)
    assert res.rc == 0, res.output[-4000:]
