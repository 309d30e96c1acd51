"""`fate:release: "2.2"` under mocks: what a 2.2 party renders, and that it keeps the render's invariants (objects valid
against the Kubernetes schema, passwords only in Secrets). That FATE 2.2 itself reads these files the way they are
written is the real-FATE tier's (tests/fate/test_fate22.py)."""

from __future__ import annotations

import yaml

from tests.conftest import TEST_SECRETS, container, objects_by, party, render
from tests.k8s_schema import validate

PEER = 10000
VALUES = {
    **party(release="2.2", backend="spark_rabbitmq"),
    "nginx": {"routeTable": {PEER: {"fateflow": [{"host": "192.0.2.10", "httpPort": 30300, "grpcPort": 30310}]}}},
    "rabbitmq": {"routeTable": {PEER: {"host": "192.0.2.10", "port": 30672}}},
}
for unused in ("fateboardPassword", "notebookHashedPassword"):
    VALUES.pop(unused)


def test_a_22_party_runs_fate_flow_22_with_its_modules_only():
    rendered = render(VALUES)
    workloads = {o["metadata"]["name"] for o in rendered.objects if o["kind"] in ("Deployment", "StatefulSet")}
    assert workloads == {"mysql", "python", "nginx", "rabbitmq"}
    flow = container(objects_by(rendered, "StatefulSet")["python"], "fateflow")
    assert flow["image"] == "federatedai/fateflow:2.2.0-release"
    assert flow["readinessProbe"]["httpGet"] == {"path": "/v2/server/fateflow", "port": 9380}
    mounts = {m["mountPath"]: m for m in flow["volumeMounts"]}
    assert mounts["/data/projects/fate/fate_flow/conf/rabbitmq_route_table.yaml"]["subPath"] == \
        "rabbitmq_route_table.yaml"
    assert "pulsar-route-table" not in objects_by(rendered, "ConfigMap")
    assert rendered.outputs["fateVersion"] == "2.2.0"
    routes = yaml.safe_load(objects_by(rendered, "ConfigMap")["rabbitmq-route-table"]["data"][
        "rabbitmq_route_table.yaml"])
    assert routes == {"9999": {"host": "rabbitmq", "port": 5672}, "10000": {"host": "192.0.2.10", "port": 30672}}


def test_a_22_party_keeps_its_passwords_in_secrets_and_its_objects_valid():
    rendered = render(VALUES)
    for obj in rendered.objects:
        validate(obj)
    conf = yaml.safe_load(objects_by(rendered, "ConfigMap")["python-config"]["data"]["service_conf.yaml"])
    assert conf["database"]["mysql"]["passwd"] == "" and conf["federation"]["rabbitmq"]["password"] == ""
    for obj in rendered.raw_objects:
        if obj["kind"] != "Secret":
            text = yaml.safe_dump(obj)
            assert not any(TEST_SECRETS[k] in text for k in ("mysqlPassword", "rabbitmqPassword")), obj["metadata"]
    secret = next(o for o in rendered.raw_objects if o["kind"] == "Secret" and o["metadata"]["name"] == "python-secret")
    full = yaml.safe_load({**secret.get("data", {}), **secret.get("stringData", {})}["service_conf.yaml"])
    assert full["database"]["mysql"]["passwd"] == TEST_SECRETS["mysqlPassword"]
    assert full["federation"]["rabbitmq"]["password"] == TEST_SECRETS["rabbitmqPassword"]
