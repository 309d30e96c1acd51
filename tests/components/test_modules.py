"""One module at a time under mocks: its objects, labels, mounts and outputs."""

from __future__ import annotations

from components.eggroll import NodeManagerConfig
from components.kube import Images, Site
from components.mysql import Mysql, MysqlConfig
from components.nodemanager import NodeManager
from components.rollsite import Rollsite, RollsiteArgs, RollsiteConfig
from tests.conftest import container, objects_by, run_component

SITE = Site(name="fate-9999", namespace="fate-9999", party_id=9999, kind="party",
            images=Images(registry=None, tag="1.11.2-release"), persistence=True)


def test_rollsite_alone():
    section = RollsiteConfig.model_validate({
        "service": {"type": "NodePort", "nodePorts": {"rollsite": 30091}},
        "partyList": [{"partyId": 10000, "host": "10.0.10.1", "port": 30101}], "tls": {"enabled": True}})
    r = run_component(
        lambda: Rollsite("rollsite", SITE, section, RollsiteArgs(image="federatedai/eggroll:1.11.2-release"))
    )
    kinds = r.kinds_names()
    assert kinds == {("ConfigMap", "rollsite-config"), ("Service", "rollsite"), ("Deployment", "rollsite")}
    dep = r.get("Deployment", "rollsite")
    labels = dep["spec"]["template"]["metadata"]["labels"]
    for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component",
                "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by"):
        assert key in labels
    assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
    svc = r.get("Service", "rollsite")
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    # with certificates rollsite also serves mutual TLS on 9380 (eggroll.rollsite.secure.port); its NodePort is the
    # API server's choice unless configured
    assert svc["spec"]["ports"] == [
        {"name": "tcp-rollsite", "port": 9370, "targetPort": 9370, "protocol": "TCP", "nodePort": 30091},
        {"name": "tcp-rollsite-tls", "port": 9380, "targetPort": 9380, "protocol": "TCP"},
    ]
    c = container(dep, "rollsite")
    assert {"name": "eggroll-certs", "mountPath": "/data/projects/fate/eggroll/conf/cert", "readOnly": True} in c[
        "volumeMounts"
    ]
    assert "startupProbe" in c and "livenessProbe" in c and "readinessProbe" in c
    assert dep["spec"]["template"]["spec"]["hostAliases"] == [{"ip": "127.0.0.1", "hostnames": ["rollsite"]}]


def test_nodemanager_claims_one_volume_per_replica():
    section = NodeManagerConfig.model_validate({
        "replicas": 3, "storage": {"storageClass": "fast", "size": "50Gi"}, "resources": {"requests": {"cpu": "8"}}})
    r = run_component(lambda: NodeManager("nodemanager", SITE, section, "eggroll"))
    sts = r.get("StatefulSet", "nodemanager")
    assert sts["spec"]["replicas"] == 3
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"] == {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "50Gi"}}, "storageClassName": "fast"}
    assert container(sts, "nodemanager")["resources"] == {"requests": {"cpu": "8"}}
    sidecar = container(sts, "nodemanager-eggrollpair")
    assert sidecar["image"] == "fluent/fluent-bit:2.1.4"
    conf = r.get("ConfigMap", "fluentd-config")["data"]["fluent-bit.conf"]
    assert "[INPUT]" in conf and "Name             tail" in conf


def test_mysql_without_persistence_and_random_root_password():
    site = Site(**{**SITE.__dict__, "persistence": False})
    r = run_component(lambda: Mysql("mysql", site, MysqlConfig(), "pw", eggroll_tables=False))
    sts = r.get("StatefulSet", "mysql")
    assert "volumeClaimTemplates" not in sts["spec"]
    assert {"name": "data", "emptyDir": {}} in sts["spec"]["template"]["spec"]["volumes"]
    env = {e["name"]: e for e in container(sts, "mysql")["env"]}
    assert env["MYSQL_RANDOM_ROOT_PASSWORD"]["value"] == "yes" and "MYSQL_ALLOW_EMPTY_PASSWORD" not in env
    assert env["MYSQL_PASSWORD"]["valueFrom"] == {"secretKeyRef": {"name": "mysql-secret", "key": "mysql-password"}}
    assert r.get("ConfigMap", "mysql-config").get("data", {}) == {}
    assert objects_by(r, "Secret")["mysql-secret"]["stringData"] == {"mysql-password": "<redacted>"}
