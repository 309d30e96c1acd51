"""Adopting a KubeFATE deployment: what Kubernetes will not change in place must be exactly KubeFATE's."""

from __future__ import annotations

import yaml

from fate_pulumi.importer import import_cluster
from tests.cli.test_importer import fixture_file
from tests.conftest import render

# KubeFATE's selectors (reference 2: matchLabels = fateMoudle + name + partyId), by workload
WORKLOAD_APP = {
    ("Deployment", "rollsite"): "rollsite", ("Deployment", "clustermanager"): "clustermanager",
    ("StatefulSet", "nodemanager"): "nodemanager", ("StatefulSet", "python"): "python",
    ("StatefulSet", "mysql"): "mysql", ("StatefulSet", "client"): "client", ("Deployment", "fateboard"): "fateboard",
    ("Deployment", "spark-master"): "spark-master", ("Deployment", "spark-worker"): "spark-worker",
    ("StatefulSet", "namenode"): "namenode", ("StatefulSet", "datanode"): "datanode", ("Deployment", "nginx"): "nginx",
    ("StatefulSet", "pulsar"): "pulsar", ("Deployment", "serving-proxy"): "serving-proxy",
    ("Deployment", "serving-server"): "serving-server", ("Deployment", "serving-redis"): "serving-redis",
    ("Deployment", "serving-admin"): "serving-admin", ("StatefulSet", "serving-zookeeper"): "serving-zookeeper",
}


def _adopted(example: str, **extra):
    """Import one of the KubeFATE cluster file fixtures (tests/fixtures/kubefate) for adoption and render it."""
    data = yaml.safe_load(fixture_file(example).read_text())
    data.update(extra)
    res = import_cluster(data)
    values = {**res.config, "adoptKubefate": True, "development": True}
    return data, render(values)


def _check(data, r, chart: str):
    name, party = data["name"], str(data["partyId"])
    workloads = [o for o in r.objects if o["kind"] in ("Deployment", "StatefulSet")]
    assert workloads
    for obj in workloads:
        app = WORKLOAD_APP[(obj["kind"], obj["metadata"]["name"])]
        assert obj["spec"]["selector"]["matchLabels"] == {"fateMoudle": app, "name": name, "partyId": party}
        assert obj["spec"]["selector"]["matchLabels"].items() <= obj["spec"]["template"]["metadata"]["labels"].items()
        assert obj["metadata"]["labels"]["owner"] == "kubefate" and obj["metadata"]["labels"]["cluster"] == chart
        if obj["kind"] == "StatefulSet":
            assert "podManagementPolicy" not in obj["spec"] or obj["metadata"]["name"] == "serving-zookeeper"
            for claim in obj["spec"].get("volumeClaimTemplates", []):
                labels = claim["metadata"]["labels"]
                expected = {"fateMoudle": app, "name": name, "partyId": party, "owner": "kubefate", "cluster": chart}
                if chart != "fate-serving":
                    expected.update(heritage="Helm", release=name, chart=chart)
                assert labels == expected
    for obj in r.objects:
        if obj["kind"] == "Service" and obj["metadata"]["name"] not in ("serving-zookeeper-headless",):
            assert obj["spec"]["selector"]["name"] == name


def test_adopting_an_eggroll_party_keeps_selectors_and_claims():
    data, r = _adopted("party-9999-eggroll", persistence=True)
    _check(data, r, "fate")
    assert [c["metadata"]["name"] for c in r.get("StatefulSet", "mysql")["spec"]["volumeClaimTemplates"]] == ["data"]
    provider = next(x for x in r.resources if x.type == "pulumi:providers:kubernetes")
    # the pinned provider (4.25) applies over KubeFATE's objects on server-side create (pulumi-kubernetes #4278);
    # tests/engine/test_adopt_helm.py shows it against a real API server
    assert provider.inputs["enableServerSideApply"] == "true"


def test_adopting_spark_and_serving():
    data, r = _adopted("party-9999-spark-pulsar", persistence=True)
    _check(data, r, "fate")
    data, r = _adopted("party-9999-serving", persistence=True)
    _check(data, r, "fate-serving")


def test_fresh_deployments_use_recommended_selectors():
    r = render({"partyId": 9999, "development": True})
    sel = r.get("StatefulSet", "python")["spec"]["selector"]["matchLabels"]
    assert sel == {"app.kubernetes.io/name": "python", "app.kubernetes.io/instance": "fate-9999"}
    assert "fateMoudle" not in r.get("StatefulSet", "python")["metadata"]["labels"]
    assert r.get("StatefulSet", "nodemanager")["spec"]["podManagementPolicy"] == "Parallel"
