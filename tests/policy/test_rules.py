"""The policy pack's checks, run on rendered stacks (the engine runs the same functions in `--policy-pack policy`)."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import ROOT, party, render, render_file, stack_config
from tests.stacks.variants import VARIANTS

# the pack's rules module, loaded from its file as the policy pack loads it (policy/ is no package of this repo)
_spec = importlib.util.spec_from_file_location("rules", ROOT / "policy" / "rules.py")
assert _spec is not None and _spec.loader is not None
rules = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rules)


def violations(rendered, registry=None) -> list[str]:
    found = []
    for obj in rendered.objects:
        found += rules.image_violations(obj, registry) + rules.resource_violations(obj)
        found += rules.password_violations(obj) + rules.retention_violations(obj)
    found += rules.node_port_violations([o for o in rendered.objects if o["kind"] == "Service"])
    return found


def test_every_stack_file_complies(stack_file):
    registry = stack_config(stack_file).get("registry")
    assert violations(render_file(stack_file), registry) == []


# this variant turns retention off on purpose (see test_dropping_retention_is_caught)
@pytest.mark.parametrize("name", sorted(set(VARIANTS) - {"eggroll-persistence-tls-polling-server"}))
def test_variants_comply(name):
    values = VARIANTS[name]
    assert violations(render(values), values.get("registry")) == []


def test_dropping_retention_is_caught():
    found = violations(render(VARIANTS["eggroll-persistence-tls-polling-server"]))
    assert any("deletes its PVCs" in v and "retainOnDestroy" in v for v in found)
    serving = render(
        {
            "kind": "serving",
            "partyId": 9999,
            "development": True,
            "persistence": {"retainOnDestroy": False},
            "servingServer": {"fateflow": {"host": "10.0.0.1", "port": 30097}},
        }
    )
    assert any(v.startswith("PVC serving-redis-data is deleted on destroy") for v in violations(serving))


def test_foreign_image_is_caught():
    r = render(party(registry="harbor.bank.example/fate", backend="spark_pulsar",
                     spark={"master": {"image": "docker.io/someone/spark-master"}}))
    found = violations(r, "harbor.bank.example/fate")
    assert found == ["container spark-master pulls 'docker.io/someone/spark-master:1.11.2-release', not from "
                     "harbor.bank.example/fate; set fate:registry and mirror the image there"]


def test_password_checks():
    cm = {"kind": "ConfigMap", "metadata": {"name": "x"},
          "data": {"a.properties": "user=fate\nredis.password=hunter2\n", "b.yaml": "passwd: ''\n"}}
    assert rules.password_violations(cm) == [
        "ConfigMap key a.properties holds a password in clear (redis.password); move it to a Secret"
    ]
    dep = {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [
        {"name": "c", "env": [{"name": "MYSQL_PASSWORD", "value": "x"}, {"name": "DB_PASSWORD", "valueFrom": {}}]}]}}}}
    assert rules.password_violations(dep) == ["container c sets MYSQL_PASSWORD in clear; use valueFrom.secretKeyRef"]


def test_node_port_checks():
    svcs = [{"metadata": {"name": "a"}, "spec": {"ports": [{"nodePort": 30001}, {"nodePort": 8080}]}},
            {"metadata": {"name": "b"}, "spec": {"ports": [{"nodePort": 30001}]}}]
    assert rules.node_port_violations(svcs) == ["Service a: NodePort 8080 is outside 30000-32767",
                                                "Service b: NodePort 30001 is also used by Service a"]


def test_missing_requests_are_caught():
    dep = {
        "kind": "StatefulSet",
        "spec": {"template": {"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]}}},
    }
    assert rules.resource_violations(dep) == ["container c has no memory request; set resources or resourcesPreset"]
