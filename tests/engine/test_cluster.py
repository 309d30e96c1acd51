"""`pulumi up`, drift detection and the federation driver against a real API server: the local control plane of
tests/cluster/controlplane.py (etcd, kube-apiserver, controller-manager, scheduler, kwok nodes).

Tests run in file order and build on each other: a party is deployed, left alone, changed, drifted, repaired and
destroyed. Run with: python -m pytest -q --engine tests/engine/test_cluster.py
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.config import FATE_IMAGE_TAG
from tests.cluster.controlplane import STORAGE_CLASS, LocalCluster
from tests.conftest import ROOT, TEST_SECRETS
from tests.engine.harness import Engine

PARTY_SECRETS = {k: TEST_SECRETS[k] for k in ("mysqlPassword", "fateboardPassword", "notebookHashedPassword")}
PERSISTENT = {"persistence": {"enabled": True}, "cloud": {"storageClass": STORAGE_CLASS}}

# stack -> (namespace, fate:* values, secrets); NodePorts are left to the API server so outputs must be read back
DEPLOYMENTS: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
    "party-9999-eggroll": ("fate-9999", {
        "partyId": 9999, "backend": "eggroll", **PERSISTENT, "nodemanager": {"replicas": 2},
        "rollsite": {"partyList": [{"partyId": 10000, "host": "192.0.2.20", "port": 30091}]},
    }, PARTY_SECRETS),
    "party-10000-spark-pulsar": ("fate-10000", {
        "partyId": 10000, "backend": "spark_pulsar", **PERSISTENT, "spark": {"worker": {"replicas": 2}},
        "pulsar": {"routeTable": {9999: {"host": "192.0.2.10", "port": 30094, "sslPort": 30099}}},
    }, PARTY_SECRETS),
    "exchange-rollsite": ("fate-exchange", {
        "kind": "exchange", "partyId": 1, "backend": "eggroll",
        "rollsite": {"partyList": [{"partyId": 9999, "host": "192.0.2.10", "port": 30091}]},
    }, {}),
}
# what "change the image tag / a party list" means per stack
UPDATES: dict[str, dict[str, Any]] = {
    "party-9999-eggroll": {
        "imageTag": "1.11.2-release-patch1",
        "rollsite": {
            "partyList": [
                {"partyId": 10000, "host": "192.0.2.21", "port": 30091},
                {"partyId": 10001, "host": "192.0.2.30", "port": 30091},
            ]
        },
    },
    "party-10000-spark-pulsar": {
        "imageTag": "1.11.2-release-patch1",
        "pulsar": {
            "routeTable": {
                9999: {"host": "192.0.2.11", "port": 30094, "sslPort": 30099},
                10001: {"host": "192.0.2.30", "port": 30094, "sslPort": 30099},
            }
        },
    },
    "exchange-rollsite": {
        "imageTag": "1.11.2-release-patch1",
        "rollsite": {
            "partyList": [
                {"partyId": 9999, "host": "192.0.2.10", "port": 30091},
                {"partyId": 10000, "host": "192.0.2.20", "port": 30091},
            ]
        },
    },
}
REPLACE_OPS = {"replace", "create-replacement", "delete-replaced", "discard-replaced"}


@pytest.fixture(scope="module")
def kube(cluster: LocalCluster, tmp_path_factory) -> Engine:
    engine = Engine(tmp_path_factory.mktemp("kube-engine"))
    engine.env["KUBECONFIG"] = str(cluster.kubeconfig)
    for name, (_, values, secrets) in DEPLOYMENTS.items():
        engine.stack(name, values, secrets)
    return engine


def _uids(cluster: LocalCluster, ns: str) -> dict[str, str]:
    return {f"{kind}/{o['metadata']['name']}": o["metadata"]["uid"]
            for kind in ("statefulsets", "persistentvolumeclaims", "deployments") for o in cluster.items(ns, kind)}


def _outputs(kube: Engine, stack: str) -> dict:
    res = kube.run("stack", "output", "--json", "--show-secrets", "--stack", stack)
    assert res.rc == 0, res.output
    return res.json()


def _drift(kube: Engine, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fate_pulumi.drift", *args, "--work-dir", str(kube.project)],
                          env={**kube.env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("stack", DEPLOYMENTS)
def test_up_makes_every_workload_ready_and_exports_the_real_node_ports(cluster, kube, stack):
    ns = DEPLOYMENTS[stack][0]
    res = kube.run("up", "--yes", "--skip-preview", "--stack", stack, timeout=900)
    assert res.rc == 0, res.output
    workloads = cluster.workloads(ns)
    assert workloads, f"nothing deployed in {ns}"
    assert cluster.not_ready(ns) == []
    # entry points whose Service is ClusterIP export no port
    node_ports = {k: v for k, v in _outputs(kube, stack)["connect"]["nodePorts"].items() if v}
    assert node_ports, "the stack exports no NodePort"
    live = {svc["metadata"]["name"]: {p["name"]: p.get("nodePort") for p in svc["spec"]["ports"]}
            for svc in cluster.items(ns, "services")}
    for entry, ports in node_ports.items():
        # NodePorts are unique in a cluster: the exported ones must be exactly those of one live Service
        owners = [name for name, svc_ports in live.items() if ports.items() <= svc_ports.items()]
        assert len(owners) == 1, f"{entry}: exported {ports}, live Services: {live}"
        assert all(30000 <= n <= 32767 for n in ports.values())


@pytest.mark.parametrize("stack", DEPLOYMENTS)
def test_second_up_changes_nothing(kube, stack):
    res = kube.run("up", "--yes", "--skip-preview", "--expect-no-changes", "--stack", stack, timeout=900)
    assert res.rc == 0, res.output


def _images(cluster: LocalCluster, ns: str) -> dict[tuple[str, str], str]:
    return {(w["metadata"]["name"], c["name"]): c["image"] for w in cluster.workloads(ns)
            for c in w["spec"]["template"]["spec"]["containers"]}


@pytest.mark.parametrize("stack", DEPLOYMENTS)
def test_image_tag_and_party_list_change_updates_in_place(cluster, kube, stack):
    ns = DEPLOYMENTS[stack][0]
    before, images_before = _uids(cluster, ns), _images(cluster, ns)
    kube.set_values(stack, UPDATES[stack])
    preview = kube.run("preview", "--json", "--stack", stack)
    assert preview.rc == 0, preview.output
    ops = {(s["op"], s["urn"].rsplit("::", 1)[-1]) for s in preview.json()["steps"]}
    assert not {o for o in ops if o[0] in REPLACE_OPS}, ops
    assert any(op == "update" for op, _ in ops), ops
    res = kube.run("up", "--yes", "--skip-preview", "--stack", stack, timeout=900)
    assert res.rc == 0, res.output
    after = _uids(cluster, ns)
    kept = {k for k in before if k.startswith(("statefulsets/", "persistentvolumeclaims/"))}
    assert {k: after.get(k) for k in kept} == {k: before[k] for k in kept}
    # every container that ran FATE's release tag now runs the new tag; the others (mysql, redis ...) are untouched
    fate = {k for k, image in images_before.items() if image.endswith(":" + FATE_IMAGE_TAG)}
    assert fate
    new_tag = UPDATES[stack]["imageTag"]
    assert {k: image.rsplit(":", 1)[-1] for k, image in _images(cluster, ns).items() if k in fate} == dict.fromkeys(
        fate, new_tag
    )
    assert {k: i for k, i in _images(cluster, ns).items() if k not in fate} == {
        k: i for k, i in images_before.items() if k not in fate
    }
    assert cluster.not_ready(ns) == []


def test_drift_is_detected_and_repaired_by_up_refresh(cluster, kube):
    stack, ns = "party-9999-eggroll", DEPLOYMENTS["party-9999-eggroll"][0]
    assert _drift(kube, "--stack", stack).returncode == 0
    config_map = cluster.get(f"/api/v1/namespaces/{ns}/configmaps/rollsite-config")
    cluster.patch(f"/apis/apps/v1/namespaces/{ns}/deployments/fateboard/scale", {"spec": {"replicas": 3}},
                  manager="kubectl-scale")
    cluster.patch(f"/api/v1/namespaces/{ns}/configmaps/rollsite-config", {"data": {"route_table.json": "{}"}},
                  manager="kubectl-edit")
    cluster.delete(f"/api/v1/namespaces/{ns}/services/fateboard")

    found = _drift(kube, "--stack", stack)
    assert found.returncode == 3, found.stdout + found.stderr
    report = found.stdout
    # "  Kind/name  changed: fields" lines, each followed by its URN
    blocks = {line.split()[0]: line for line in report.splitlines()
              if line.startswith("  ") and not line.strip().startswith("urn:")}
    assert "Deployment/fateboard" in blocks and "replicas" in blocks["Deployment/fateboard"], report
    assert "ConfigMap/rollsite-config" in blocks and "data" in blocks["ConfigMap/rollsite-config"], report
    assert "Service/fateboard" in blocks and "deleted" in blocks["Service/fateboard"], report
    # who changed what: the field managers that own the fields now
    assert "(by kubectl-scale (Update, " in blocks["Deployment/fateboard"], report
    assert "(by kubectl-edit (Update, " in blocks["ConfigMap/rollsite-config"], report

    # fields the stack says a controller owns (an autoscaler's replicas) are not drift
    kube.set_values(stack, {"driftIgnore": ["Deployment/*:spec.replicas"]})
    quieter = _drift(kube, "--stack", stack).stdout
    assert "Deployment/fateboard" not in quieter and "ConfigMap/rollsite-config" in quieter, quieter
    kube.set_values(stack, {"driftIgnore": []})

    res = kube.run("up", "--yes", "--skip-preview", "--refresh", "--stack", stack, timeout=900)
    assert res.rc == 0, res.output
    clean = _drift(kube, "--stack", stack)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    live = cluster.get(f"/apis/apps/v1/namespaces/{ns}/deployments/fateboard")
    assert live["spec"]["replicas"] == 1
    assert cluster.get(f"/api/v1/namespaces/{ns}/configmaps/rollsite-config")["data"] == config_map["data"]
    assert cluster.get(f"/api/v1/namespaces/{ns}/services/fateboard") is not None


def test_drift_all_checks_every_stack(kube):
    res = _drift(kube, "--all")
    assert res.returncode == 0, res.stdout + res.stderr
    assert {line.split(":")[0] for line in res.stdout.splitlines() if line.endswith("no drift")} >= set(DEPLOYMENTS)


@pytest.mark.parametrize("stack", ["party-9999-eggroll", "party-10000-spark-pulsar"])
def test_destroy_is_refused_while_protected_then_keeps_persistent_volume_claims(cluster, kube, stack):
    ns = DEPLOYMENTS[stack][0]
    claims = {c["metadata"]["name"]: c["metadata"]["uid"] for c in cluster.items(ns, "persistentvolumeclaims")}
    assert claims, "the persistent party has no PVC"
    # a persistent party's MySQL is protected: destroy stops before deleting anything
    refused = kube.run("destroy", "--yes", "--skip-preview", "--stack", stack, timeout=900)
    assert refused.rc != 0 and "protected" in refused.output, refused.output[-2000:]
    assert cluster.items(ns, "statefulsets")
    # lifting the protection is a setting like any other: applied by `up`, then destroy goes through
    kube.set_values(stack, {"persistence": {**DEPLOYMENTS[stack][1].get("persistence", {}), "protect": False}})
    res = kube.run("up", "--yes", "--skip-preview", "--stack", stack, timeout=900)
    assert res.rc == 0, res.output[-2000:]
    res = kube.run("destroy", "--yes", "--skip-preview", "--stack", stack, timeout=900)
    assert res.rc == 0, res.output
    assert cluster.workloads(ns) == []
    assert {c["metadata"]["name"]: c["metadata"]["uid"] for c in cluster.items(ns, "persistentvolumeclaims")} == claims


# ---------------------------------------------------------------------------------------------- federation driver

TOPOLOGY: dict[str, Any] = {
    "name": "fed",
    "exchange": {"backend": "eggroll", "address": "127.0.0.1", "namespace": "fed-exchange"},
    "parties": [
        {"partyId": 9999, "backend": "eggroll", "address": "127.0.0.1", "namespace": "fed-9999",
         "secrets": {k: f"env:FED_A_{k.upper()}" for k in PARTY_SECRETS}, "config": PERSISTENT},
        {"partyId": 10000, "backend": "eggroll", "address": "127.0.0.1", "namespace": "fed-10000",
         "secrets": {k: f"env:FED_B_{k.upper()}" for k in PARTY_SECRETS}, "config": PERSISTENT},
    ],
}


def _federation(kube: Engine, command: str, topology: Path, *options: str) -> subprocess.CompletedProcess:
    env = {**kube.env, "PYTHONPATH": str(ROOT)}
    for party in TOPOLOGY["parties"]:
        for key, ref in party["secrets"].items():
            env[ref.removeprefix("env:")] = PARTY_SECRETS[key]
    return subprocess.run([sys.executable, "-m", "fate_pulumi.federation", command, str(topology),
                           "--work-dir", str(kube.project), *options],
                          env=env, capture_output=True, text=True, timeout=1800)


def _rows(stdout: str, stacks: int = 3) -> list[list[str]]:
    """The federation table's rows (stack, kind, party, result, time, detail...), checking its summary line."""
    lines = stdout.splitlines()
    assert lines[0].split() == ["stack", "kind", "party", "result", "time", "detail"], stdout
    summary = rf"{stacks} stacks in [0-9.]+s, [0-9.]+s per stack \(median\)(, [0-9]+ at a time)?"
    assert re.fullmatch(summary, lines[-1]), stdout
    rows = [line.split() for line in lines[1:-1]]
    assert all(re.fullmatch(r"[0-9]+\.[0-9]s", r[4]) for r in rows), stdout
    return rows


def _route(cluster: LocalCluster, ns: str, party: str) -> tuple[str, int]:
    table = json.loads(cluster.get(f"/api/v1/namespaces/{ns}/configmaps/rollsite-config")["data"]["route_table.json"])
    hop = table["route_table"][party]["default"][0]
    return hop["ip"], hop["port"]


def _rollsite_node_port(cluster: LocalCluster, ns: str) -> int:
    return cluster.get(f"/api/v1/namespaces/{ns}/services/rollsite")["spec"]["ports"][0]["nodePort"]


def test_federation_driver_deploys_exchange_and_parties_wired_to_each_other(cluster, kube, tmp_path):
    topology = tmp_path / "federation.yaml"
    topology.write_text(yaml.safe_dump(TOPOLOGY))
    # two stacks at once, whatever the machine's default (one per core); the drift test below runs one at a time
    preview = _federation(kube, "preview", topology, "--parallel", "2")
    assert preview.returncode == 0, preview.stdout + preview.stderr
    assert preview.stdout.splitlines()[-1].endswith(", 2 at a time"), preview.stdout
    planned = _rows(preview.stdout)
    assert [(r[0], r[3]) for r in planned] == [("fed-exchange", "ok"), ("fed-party-9999", "ok"),
                                               ("fed-party-10000", "ok")], preview.stdout
    assert all("create" in " ".join(r[5:]) for r in planned), preview.stdout
    assert all(cluster.get(f"/api/v1/namespaces/{ns}") is None for ns in ("fed-exchange", "fed-9999", "fed-10000"))

    res = _federation(kube, "up", topology, "--parallel", "2")
    assert res.returncode == 0, res.stdout + res.stderr
    rows = _rows(res.stdout)
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("fed-exchange", "exchange", "succeeded"), ("fed-party-9999", "party", "succeeded"),
        ("fed-party-10000", "party", "succeeded"),
        # the route 9999 <-> 10000 verified by FATE's toy test from 9999; kwok completes the job's pod without
        # running it, so no outcome is recorded: the table says so instead of claiming the route works
        ("fed-party-9999", "verify", "unverified")], res.stdout
    assert " ".join(rows[3][5:]) == "toy 9999 -> 10000: not run", res.stdout
    [toy] = [j for j in cluster.get("/apis/batch/v1/namespaces/fed-9999/jobs")["items"]
             if j["metadata"]["name"].startswith("fate-job-toy-10000-")]
    assert toy["status"].get("succeeded") == 1
    exchange_port = _rollsite_node_port(cluster, "fed-exchange")
    for party in TOPOLOGY["parties"]:
        ns = party["namespace"]
        assert cluster.not_ready(ns) == []
        # the exchange reaches the party on the party's live rollsite NodePort, the party defaults to the exchange
        assert _route(cluster, "fed-exchange", str(party["partyId"])) == ("127.0.0.1", _rollsite_node_port(cluster, ns))
        assert _route(cluster, ns, "default") == ("127.0.0.1", exchange_port)

    drift = _federation(kube, "drift", topology, "--parallel", "2")
    assert drift.returncode == 0, drift.stdout + drift.stderr
    assert [r[3] for r in _rows(drift.stdout)] == ["clean"] * 3


def test_federation_driver_reports_drift_of_any_party(cluster, kube, tmp_path):
    topology = tmp_path / "federation.yaml"
    topology.write_text(yaml.safe_dump(TOPOLOGY))
    cluster.patch("/apis/apps/v1/namespaces/fed-10000/deployments/fateboard/scale", {"spec": {"replicas": 2}})
    res = _federation(kube, "drift", topology, "--parallel", "1")
    assert res.returncode == 3, res.stdout + res.stderr
    assert res.stdout.splitlines()[-1].endswith("(median)"), res.stdout
    results = {r[0]: r[3] for r in _rows(res.stdout)}
    assert results == {"fed-exchange": "clean", "fed-party-9999": "clean", "fed-party-10000": "drift"}


def _stack_config(kube: Engine, stack: str) -> dict[str, Any]:
    return yaml.safe_load((kube.project / f"Pulumi.{stack}.yaml").read_text())["config"]


def test_federation_driver_makes_each_stacks_config_what_the_topology_derives(cluster, kube, tmp_path):
    """A setting deleted from the topology leaves the stack; a `fate:` key set on the stack by hand is named: preview
    warns and goes on, up refuses before touching anything."""
    import copy

    from fate_pulumi import federation

    topology = tmp_path / "federation.yaml"
    grown = copy.deepcopy(TOPOLOGY)
    grown["parties"][1]["config"]["driftIgnore"] = ["Deployment/*:spec.replicas"]
    topology.write_text(yaml.safe_dump(grown))
    res = _federation(kube, "preview", topology)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "fate:driftIgnore" in _stack_config(kube, "fed-party-10000")

    topology.write_text(yaml.safe_dump(TOPOLOGY))  # the setting deleted from the topology
    res = _federation(kube, "preview", topology)
    assert res.returncode == 0, res.stdout + res.stderr
    config = _stack_config(kube, "fed-party-10000")
    assert "fate:driftIgnore" not in config
    # the driver's record of what it wrote: the stack's fate: keys, no more, no less
    assert set(json.loads(config[federation.OWNED])) == {k.split(":", 1)[1] for k in config if k.startswith("fate:")}
    # the reader of the driver's stack files against the file the CLI wrote: the NodePorts up set, which each keeps
    topo = federation.Topology.model_validate(TOPOLOGY)
    assert federation.recorded_node_ports(topo, kube.project)["fed-party-10000"]["rollsite"] == \
        _rollsite_node_port(cluster, "fed-10000")

    set_by_hand = kube.run("config", "set", "--path", "fate:driftIgnore[0]", "Deployment/*:spec.replicas",
                           "--stack", "fed-party-10000")
    assert set_by_hand.rc == 0, set_by_hand.output
    stack_file = kube.project / "Pulumi.fed-party-10000.yaml"
    before = stack_file.read_text()
    refused = _federation(kube, "up", topology)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    [line] = refused.stderr.splitlines()
    assert line.startswith(f"error: {stack_file}: fate:driftIgnore: in the stack but not from the topology"), line
    assert line.endswith("pulumi config rm fate:driftIgnore --stack fed-party-10000"), line
    assert refused.stdout == "" and stack_file.read_text() == before
    res = _federation(kube, "preview", topology)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"warning: {stack_file}: fate:driftIgnore:" in res.stderr
    assert "fate:driftIgnore" in _stack_config(kube, "fed-party-10000")  # reported, not dropped
    removed = kube.run("config", "rm", "fate:driftIgnore", "--stack", "fed-party-10000")
    assert removed.rc == 0, removed.output
    res = _federation(kube, "preview", topology)
    assert res.returncode == 0 and res.stderr == "", res.stdout + res.stderr


def test_federation_driver_reordered_and_grown_topology_changes_no_running_party(cluster, kube, tmp_path):
    """The parties listed the other way round, and a new party 9998 at the top: the running parties' previews are
    unchanged (same ports, same routes, nothing to roll out); only the exchange gains the route to 9998."""
    newcomer = {**TOPOLOGY["parties"][0], "partyId": 9998, "namespace": "fed-9998"}
    topology = tmp_path / "federation.yaml"
    topology.write_text(yaml.safe_dump({**TOPOLOGY, "parties": [newcomer, *TOPOLOGY["parties"][::-1]]}))
    res = _federation(kube, "preview", topology)
    assert res.returncode == 0, res.stdout + res.stderr
    # "N op" per kind of step; a read (a FATE job's recorded outcome) changes nothing
    ops = {r[0]: set(re.findall(r"[0-9]+ ([a-z-]+)", " ".join(r[5:]))) for r in _rows(res.stdout, stacks=4)}
    assert ops["fed-party-9999"] <= {"same", "read"} and ops["fed-party-10000"] <= {"same", "read"}, res.stdout
    assert "update" in ops["fed-exchange"] and "create" in ops["fed-party-9998"], res.stdout
    exchange = _rollsite_node_port(cluster, "fed-exchange")
    assert _route(cluster, "fed-9999", "default") == ("127.0.0.1", exchange)  # (preview touched nothing)


def test_federation_up_refuses_to_move_a_running_partys_node_ports_when_its_stack_file_is_missing(cluster, kube,
                                                                                                    tmp_path):
    """Run from a project without party 10000's stack file (which keeps its ports) and a plan that gives it other
    NodePorts: `up` refuses before any stack is touched, naming the ports it runs with."""
    stack_file = kube.project / "Pulumi.fed-party-10000.yaml"
    aside = tmp_path / stack_file.name
    running = _rollsite_node_port(cluster, "fed-10000")
    moved = {**TOPOLOGY, "parties": [TOPOLOGY["parties"][0], {**TOPOLOGY["parties"][1], "nodePortBase": 30500}]}
    topology = tmp_path / "federation.yaml"
    topology.write_text(yaml.safe_dump(moved))
    stack_file.rename(aside)
    try:
        res = _federation(kube, "up", topology)
    finally:
        aside.rename(stack_file)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "the stack runs with NodePorts" in res.stderr and str(running) in res.stderr, res.stderr
    assert "Pulumi.fed-party-10000.yaml, which keeps them" in res.stderr, res.stderr
    assert res.stdout == ""  # no stack ran
    assert _rollsite_node_port(cluster, "fed-10000") == running
    assert not (kube.project / "Pulumi.fed-party-10000.yaml").read_text().count("30500")
