"""Production hardening: probes, start order, least privilege, NetworkPolicies, disruption budgets, presets."""

from __future__ import annotations

from typing import Optional

import pytest

from tests.conftest import container, objects_by, party, render, render_file
from tests.stacks.variants import VARIANTS


def _workloads(r):
    return [o for o in r.objects if o["kind"] in ("Deployment", "StatefulSet")]


def test_every_container_is_probed_and_least_privileged(stack_file):
    r = render_file(stack_file)
    for obj in _workloads(r):
        spec = obj["spec"]["template"]["spec"]
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, obj["metadata"]["name"]
        for c in spec["containers"]:
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                assert probe in c, (obj["metadata"]["name"], c["name"], probe)
        for c in spec["containers"] + spec.get("initContainers", []):
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"], c["name"]
            assert "NET_RAW" not in sc["capabilities"].get("add", [])
            assert not sc.get("privileged")


def test_a_container_listening_below_1024_may_bind_it(stack_file):
    """With every capability dropped, binding a port below 1024 needs NET_BIND_SERVICE wherever the runtime keeps
    the kernel's default unprivileged-port floor (1024): Traffic Server's 443 on the Pulsar exchange."""
    r = render_file(stack_file)
    for obj in _workloads(r):
        for c in obj["spec"]["template"]["spec"]["containers"]:
            low = [p["containerPort"] for p in c.get("ports", []) if p["containerPort"] < 1024]
            if low:
                assert "NET_BIND_SERVICE" in c["securityContext"]["capabilities"].get("add", []), (c["name"], low)


def test_capabilities_per_image():
    r = render(party())
    assert "SYS_NICE" in container(r.get("StatefulSet", "mysql"), "mysql")["securityContext"]["capabilities"]["add"]
    assert (
        "SYS_PTRACE"
        in container(r.get("StatefulSet", "nodemanager"), "nodemanager")["securityContext"]["capabilities"]["add"]
    )
    serving = render({"kind": "serving", "partyId": 9999, "development": True,
                      "servingServer": {"fateflow": {"host": "10.0.0.1", "port": 30097}}})
    zk = container(serving.get("StatefulSet", "serving-zookeeper"), "zookeeper")["securityContext"]
    assert zk["runAsNonRoot"] is True and "add" not in zk["capabilities"]
    # Pulsar 2.10 runs as uid 10000 in group 0: its data volume must be group 0's to be writable
    pulsar = render(party(backend="spark_pulsar")).get("StatefulSet", "pulsar")
    sc = container(pulsar, "pulsar")["securityContext"]
    assert (sc["runAsUser"], sc["runAsGroup"], sc["runAsNonRoot"]) == (10000, 0, True) and "add" not in sc[
        "capabilities"
    ]
    assert pulsar["spec"]["template"]["spec"]["securityContext"]["fsGroup"] == 0


def test_start_order_init_containers():
    r = render(party(backend="spark_pulsar"))
    assert container(r.get("Deployment", "spark-worker"), "wait-master")["command"][-1].startswith(
        "until nc -z -w 2 spark-master 7077"
    )
    assert container(r.get("StatefulSet", "python"), "ping-mysql")
    egg = render(party())
    assert (
        "clustermanager 4670" in container(egg.get("StatefulSet", "nodemanager"), "wait-clustermanager")["command"][-1]
    )
    assert "mysql 3306" in container(egg.get("Deployment", "clustermanager"), "wait-mysql")["command"][-1]
    istio = render(VARIANTS["eggroll-istio"])
    assert "initContainers" not in istio.get("StatefulSet", "nodemanager")["spec"]["template"]["spec"]


def _policies(r):
    return objects_by(r, "NetworkPolicy")


def test_network_policies_entry_points_internals_and_mysql():
    r = render(party(rollsite={"service": {"type": "NodePort", "nodePorts": {"rollsite": 30091}}},
                     python={"service": {"type": "ClusterIP"}},
                     ingress={"fateboard": {"hosts": [{"name": "board.bank.example"}]}},
                     networkPolicy={"entryPointSources": ["203.0.113.0/24"]}))
    pols = _policies(r)
    # every workload's pods are selected by a policy of their own app
    for obj in _workloads(r):
        sel = obj["spec"]["selector"]["matchLabels"]
        assert any(p["spec"]["podSelector"]["matchLabels"] == sel for p in pols.values()), obj["metadata"]["name"]
    rollsite = pols["rollsite"]["spec"]["ingress"]
    assert {"ports": [{"protocol": "TCP", "port": 9370}], "from": [{"ipBlock": {"cidr": "203.0.113.0/24"}}]} in rollsite
    mysql = pols["mysql"]["spec"]["ingress"]
    assert mysql == [
        {
            "from": [
                {
                    "podSelector": {
                        "matchLabels": {"app.kubernetes.io/instance": "fate-9999", "app.kubernetes.io/name": "python"}
                    }
                },
                {
                    "podSelector": {
                        "matchLabels": {
                            "app.kubernetes.io/instance": "fate-9999",
                            "app.kubernetes.io/name": "clustermanager",
                        }
                    }
                },
            ]
        }
    ]
    board = pols["fateboard"]["spec"]["ingress"]
    assert {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}],
            "ports": [{"protocol": "TCP", "port": 8080}]} in board
    internal = pols["clustermanager"]["spec"]["ingress"]
    assert internal == [{"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "fate-9999"}}}]}]
    assert all(p["spec"]["policyTypes"] == ["Ingress"] for p in pols.values())


def test_rollsite_tls_port_is_an_entry_point_and_plaintext_can_be_refused():
    exposed = {"type": "NodePort", "nodePorts": {"rollsite": 30091, "rollsiteTls": 30090}}
    r = render(party(rollsite={"service": exposed, "tls": {"enabled": True}}))
    public = [rule for rule in _policies(r)["rollsite"]["spec"]["ingress"] if "ports" in rule]
    assert public == [{"ports": [{"protocol": "TCP", "port": 9370}, {"protocol": "TCP", "port": 9380}]}]
    assert {p["port"]: p["nodePort"] for p in r.get("Service", "rollsite")["spec"]["ports"]} == {
        9370: 30091,
        9380: 30090,
    }
    strict = render(party(rollsite={"service": exposed, "tls": {"enabled": True, "refusePlaintext": True}}))
    rules = _policies(strict)["rollsite"]["spec"]["ingress"]
    # 9370 only from the deployment's own pods (FATE Flow's eggroll client is plaintext); peers only on 9380
    assert [rule for rule in rules if "ports" in rule] == [{"ports": [{"protocol": "TCP", "port": 9380}]}]
    assert {"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "fate-9999"}}}]} in rules


def test_network_policies_can_be_turned_off():
    assert not _policies(render(party(networkPolicy={"enabled": False})))


def test_disruption_budgets_for_replicated_modules_only():
    r = render(VARIANTS["eggroll-persistence-tls-polling-server"])  # 3 nodemanagers, 2 FATE Flow
    pdbs = objects_by(r, "PodDisruptionBudget")
    assert set(pdbs) == {"nodemanager", "python"}
    assert pdbs["nodemanager"]["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": r.get("StatefulSet", "nodemanager")["spec"]["selector"]["matchLabels"]},
    }
    single = render(party(nodemanager={"replicas": 1}))
    assert not objects_by(single, "PodDisruptionBudget")


def test_spread_and_presets():
    r = render(
        party(
            backend="spark_pulsar",
            spark={"worker": {"replicas": 4, "spread": {"topologyKey": "topology.kubernetes.io/zone"}}},
            python={"resourcesPreset": "large"},
            nginx={"resourcesPreset": "small"},
        )
    )
    spec = r.get("Deployment", "spark-worker")["spec"]["template"]["spec"]
    assert spec["topologySpreadConstraints"] == [
        {
            "topologyKey": "topology.kubernetes.io/zone",
            "maxSkew": 1,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": r.get("Deployment", "spark-worker")["spec"]["selector"]["matchLabels"]},
        }
    ]
    assert container(r.get("StatefulSet", "python"), "fateflow")["resources"] == {
        "requests": {"cpu": "8", "memory": "16Gi"}, "limits": {"memory": "24Gi"}}
    assert container(r.get("Deployment", "nginx"), "nginx")["resources"]["limits"] == {"memory": "1536Mi"}


def test_preset_and_resources_together_are_refused():
    import pulumi
    with pytest.raises(pulumi.RunError, match=r"fate:python.resourcesPreset: set either resources or resourcesPreset"):
        render(party(python={"resourcesPreset": "small", "resources": {"requests": {"cpu": "1"}}}))


def test_pod_security_can_be_turned_off():
    r = render(party(podSecurity={"enabled": False}))
    for obj in _workloads(r):
        assert (
            "securityContext" not in obj["spec"]["template"]["spec"] or obj["metadata"]["name"] == "serving-zookeeper"
        )
    assert container(r.get("StatefulSet", "mysql"), "mysql")["securityContext"] == {
        "capabilities": {"add": ["SYS_NICE"]}
    }


def _peer_rule(r, policy: str) -> tuple[set[str], set[int]]:
    """(namespaces, ports) admitted by the rule of one NetworkPolicy that names namespaces other than the ingress
    controller's."""
    for rule in _policies(r)[policy]["spec"]["ingress"]:
        names = {f["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                 for f in rule.get("from", []) if "namespaceSelector" in f}
        if "ports" in rule and names and names != {"ingress-nginx"}:
            return names, {p["port"] for p in rule["ports"]}
    return set(), set()


def test_in_cluster_serving_and_party_admit_each_other():
    """KubeFATE's default layout: FATE Flow registers with serving-zookeeper.<serving namespace> and publishes to
    serving-server; serving-server fetches models from the party's FATE Flow. Both stacks derive the other's namespace
    from the address they were given."""
    r = render(party(serving={"host": "serving-server.fate-serving-9999", "port": 8000, "useRegistry": True,
                              "zookeeper": {"hosts": ["serving-zookeeper.fate-serving-9999:2181"]}}))
    assert _peer_rule(r, "python") == ({"fate-serving-9999"}, {9360, 9380})
    assert _peer_rule(r, "mysql") == (set(), set())  # internals stay closed
    serving = render({"kind": "serving", "partyId": 9999, "servingAdminPassword": "a", "servingRedisPassword": "b",
                      "servingServer": {"fateflow": {"host": "fateflow-client.fate-9999", "port": 9380}}})
    assert _peer_rule(serving, "serving-zookeeper") == ({"fate-9999"}, {2181, 2888, 3888})
    assert _peer_rule(serving, "serving-server") == ({"fate-9999"}, {8000})
    assert _peer_rule(serving, "serving-redis") == (set(), set())


def test_party_and_exchange_in_one_cluster_reach_each_others_cluster_ip_entry_points():
    r = render(party(rollsite={"exchange": {"host": "rollsite.fate-exchange", "port": 9370}}))
    assert _peer_rule(r, "rollsite") == ({"fate-exchange"}, {9370})
    exchange = render({"kind": "exchange", "partyId": 1, "rollsite": {"partyList": [
        {"partyId": 9999, "host": "rollsite.fate-9999.svc.cluster.local", "port": 9370},
        {"partyId": 10000, "host": "198.51.100.20", "port": 30101}]}})
    assert _peer_rule(exchange, "rollsite") == ({"fate-9999"}, {9370})
    pulsar = render(
        party(
            backend="spark_local_pulsar",
            pulsar={"exchange": {"host": "traffic-server.fate-exchange", "port": 443}},
            nginx={"exchange": {"host": "nginx.fate-exchange", "httpPort": 9300, "grpcPort": 9310}},
        )
    )
    assert _peer_rule(pulsar, "pulsar")[0] == _peer_rule(pulsar, "nginx")[0] == {"fate-exchange"}
    ats = render({"kind": "exchange", "partyId": 1, "backend": "spark_pulsar",
                  "trafficServer": {"sniRoutes": [{"fqdn": "9999.fate.org", "tunnelRoute": "pulsar.fate-9999:6651"}]}})
    assert _peer_rule(ats, "traffic-server") == ({"fate-9999"}, {443})


def test_only_load_balancers_keep_the_providers_service_await():
    """The provider's Service await adds >= 10 s per Service (components/kube.py SKIP_AWAIT_ANNOTATIONS); only a
    LoadBalancer's await says something the workloads' own awaits do not (its address)."""
    from tests.conftest import party, render

    rendered = render(party(rollsite={"service": {"type": "LoadBalancer"}},
                            fateboard={"service": {"type": "NodePort"}}))
    awaited = {s["metadata"]["name"]: "pulumi.com/skipAwait" not in s["metadata"].get("annotations", {})
               for s in rendered.objects if s["kind"] == "Service"}
    assert awaited["rollsite"] is True
    assert {name for name, waits in awaited.items() if waits} == {"rollsite"}, awaited
    assert {"fateboard", "mysql", "fateflow", "notebook"} <= set(awaited)


def test_ingresses_are_not_awaited_unless_the_stack_asks_for_their_address():
    """The provider awaits an Ingress until its controller publishes an address (10 min), which bare-metal
    controllers never do; `ingress.awaitAddress` brings that await back, and a UI's own annotations still win."""
    board = {"hosts": [{"name": "board.fate.example"}]}
    notebook = {"hosts": [{"name": "notebook.fate.example"}], "annotations": {"pulumi.com/skipAwait": "true"}}

    def skipped(values: dict) -> dict[str, Optional[str]]:
        return {o["metadata"]["name"]: o["metadata"]["annotations"].get("pulumi.com/skipAwait")
                for o in render(values).objects if o["kind"] == "Ingress"}

    assert skipped(party(ingress={"fateboard": board})) == {"fateboard": "true"}
    assert skipped(party(ingress={"awaitAddress": True, "fateboard": board, "client": notebook})) == {
        "fateboard": None, "client": "true"}
