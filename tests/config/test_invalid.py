"""Bad configurations are rejected before any resource exists, with a message that names the key and the fix."""

from __future__ import annotations

import pulumi
import pytest

from fate_pulumi.mocks import Rendered
from stacks.config import ConfigError, load_config
from tests.conftest import TEST_SECRETS, party, render

BAD = {
    # id: (config, key the message must name, words the message must contain)
    "unknown-top-level-key": (party(partyID=9999), "fate:partyID", "unknown key"),
    "unknown-nested-key": (party(rollsite={"nodeport": 30091}), "fate:rollsite.nodeport", "allowed here:"),
    "unknown-deep-key": (party(python={"spark": {"coresPerNod": 4}}), "fate:python.spark.coresPerNod", "coresPerNode"),
    "secure-route-without-certificates": (
        party(rollsite={"partyList": [{"partyId": 10000, "host": "10.0.0.1", "port": 30100, "secure": True}]}),
        "fate:rollsite.partyList[0].secure",
        "set rollsite.tls.enabled",
    ),
    "tls-node-port-without-tls": (
        party(rollsite={"service": {"type": "NodePort", "nodePorts": {"rollsiteTls": 30090}}}),
        "fate:rollsite.service.nodePorts.rollsiteTls",
        "only with rollsite.tls.enabled",
    ),
    "baseline-refuses-mysql-and-nodemanager": (
        party(podSecurity={"admission": "baseline"}),
        "fate:podSecurity.admission",
        "mysql (SYS_NICE), nodemanager (SYS_PTRACE)",
    ),
    "missing-party-id": ({"development": True}, "fate:partyId", "required"),
    "party-id-not-a-number": (party(partyId="ninety"), "fate:partyId", "integer"),
    "bad-backend": (party(backend="spark_kafka"), "fate:backend", "spark_pulsar"),
    "node-port-out-of-range": (
        party(rollsite={"service": {"type": "NodePort", "nodePorts": {"rollsite": 9370}}}),
        "fate:rollsite.service.nodePorts.rollsite",
        "30000",
    ),
    "node-port-duplicate": (
        party(
            rollsite={"service": {"type": "NodePort", "nodePorts": {"rollsite": 30091}}},
            python={"service": {"type": "NodePort", "nodePorts": {"http": 30091}}},
        ),
        "fate:python.service.nodePorts.http",
        "already used by rollsite",
    ),
    "node-port-unknown-port-name": (
        party(python={"service": {"type": "NodePort", "nodePorts": {"web": 30097}}}),
        "fate:python.service.nodePorts.web",
        "ports: grpc, http",
    ),
    "node-port-with-cluster-ip": (
        party(python={"service": {"nodePorts": {"http": 30097}}}),
        "fate:python.service.nodePorts.http",
        "type NodePort or LoadBalancer (type is ClusterIP)",
    ),
    "module-not-in-backend": (
        party(modules=["rollsite", "clustermanager", "nodemanager", "mysql", "python", "pulsar"]),
        "fate:modules[5]",
        "not part of backend eggroll",
    ),
    "backend-needs-module": (
        party(backend="spark_pulsar", modules=["mysql", "python", "nginx", "pulsar", "hdfs"]),
        "fate:modules",
        "needs module 'spark'",
    ),
    "engine-contradicts-backend": (
        party(backend="spark_pulsar", federation="RabbitMQ"),
        "fate:federation",
        "contradicts",
    ),
    "party-lists-itself": (
        party(rollsite={"partyList": [{"partyId": 9999, "host": "10.0.0.1", "port": 30091}]}),
        "fate:rollsite.partyList",
        "lists this party itself",
    ),
    "duplicate-party-ids": (
        party(
            rollsite={
                "partyList": [
                    {"partyId": 10000, "host": "10.0.0.1", "port": 30101},
                    {"partyId": 10000, "host": "10.0.0.2", "port": 30101},
                ]
            }
        ),
        "fate:rollsite.partyList",
        "listed more than once",
    ),
    "route-table-lists-itself": (
        party(backend="spark_pulsar", pulsar={"routeTable": {9999: {"host": "pulsar", "port": 6650, "sslPort": 6651}}}),
        "fate:pulsar.routeTable.9999",
        "own route is generated",
    ),
    "exchange-on-spark-rabbitmq": (
        {"kind": "exchange", "partyId": 1, "backend": "spark_rabbitmq"},
        "fate:backend",
        "no exchange",
    ),
    "password-missing": ({"partyId": 9999}, "fate:mysqlPassword", "pulumi config set --secret fate:mysqlPassword"),
    "password-in-plain-text": (party(), "fate:mysqlPassword", "plain text"),
    "pod-security-policy": (
        party(podSecurityPolicy={"enabled": True}),
        "fate:podSecurityPolicy",
        "removed in Kubernetes 1.25",
    ),
    "section-of-another-kind": (party(servingProxy={"partyList": []}), "fate:servingProxy", "kind serving"),
    "bad-host": (
        party(rollsite={"exchange": {"host": "http://exchange:9370", "port": 30000}}),
        "fate:rollsite.exchange.host",
        "not an IP address or DNS name",
    ),
    "bad-quantity": (
        party(python={"resources": {"requests": {"memory": "4 GB"}}}),
        "fate:python.resources.requests.memory",
        "Kubernetes quantity",
    ),
    "ingress-without-module": (
        party(backend="eggroll", ingress={"spark": {"hosts": [{"name": "spark.bank.example"}]}}),
        "fate:ingress.spark",
        "not deployed",
    ),
    "shared-claim-for-replicas": (
        party(nodemanager={"replicas": 3, "storage": {"existingClaim": "nm-data"}}),
        "fate:nodemanager.storage.existingClaim",
        "ReadWriteOnce",
    ),
    "render-dir-with-context": (
        party(kubernetes={"renderYamlToDirectory": "out", "context": "prod"}),
        "fate:kubernetes.renderYamlToDirectory",
        "without a cluster",
    ),
    "polling-client-without-server": (
        party(rollsite={"polling": {"enabled": True, "type": "client"}}),
        "fate:rollsite.polling.server",
        "server's host and port",
    ),
    "polling-client-server-beside-an-exchange": (  # eggroll polls the default route: the exchange (Polling.scala)
        party(rollsite={"exchange": {"host": "192.0.2.1", "port": 30001},
                        "polling": {"enabled": True, "type": "client",
                                    "server": {"host": "192.0.2.2", "port": 30001}}}),
        "fate:rollsite.polling.server",
        "unused: a polling client polls its default route, which is rollsite.exchange",
    ),
    "algorithm-device-unsupported": (party(algorithm="ALL", device="CPU"), "fate:algorithm", "GPU with NN/ALL"),
    "istio-with-spark": (party(backend="spark_pulsar", istio={"enabled": True}), "fate:istio.enabled", "eggroll"),
    "serving-without-fateflow": (
        {
            "kind": "serving",
            "partyId": 9999,
            "servingRedisPassword": TEST_SECRETS["servingRedisPassword"],
            "servingAdminPassword": TEST_SECRETS["servingAdminPassword"],
        },
        "fate:servingServer.fateflow",
        "required",
    ),
    "external-and-module": (
        party(
            mysql={"external": {"host": "db.bank.example"}},
            modules=["rollsite", "clustermanager", "nodemanager", "mysql", "python"],
        ),
        "fate:modules[3]",
        "external service",
    ),
    "bad-service-type": (party(python={"service": {"type": "External"}}), "fate:python.service.type", "LoadBalancer"),
    "empty-modules": (party(modules=[]), "fate:modules", "empty module list"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_rejected_with_keyed_message_before_any_resource(case):
    values, key, words = BAD[case]
    plain = case == "password-in-plain-text"
    registered = Rendered()
    with pytest.raises(pulumi.RunError) as err:
        render(values, secret=not plain, into=registered)
    message = str(err.value)
    assert f"  {key}:" in message, message
    assert words in message, message
    assert registered.resources == [], [r.name for r in registered.resources]


def test_there_are_at_least_twenty_cases():
    assert len(BAD) >= 20


def test_all_problems_are_reported_at_once():
    values = party(backend="spark_kafka", rollsite={"nodeport": 1}, python={"replicas": 0})
    with pytest.raises(ConfigError) as err:
        load_config({k: v for k, v in values.items()}, secret_keys=[k for k in values if k in TEST_SECRETS])
    assert {"fate:backend", "fate:rollsite.nodeport", "fate:python.replicas"} <= set(err.value.keys)


def test_development_stack_accepts_missing_passwords():
    cfg = load_config({"partyId": 9999, "development": True})
    assert cfg.development
