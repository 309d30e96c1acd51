"""Cloud profiles: each profile's defaults land on the right objects, explicit settings win, bad options are refused."""

from __future__ import annotations

import pulumi
import pytest

from components import registry
from fate_pulumi.mocks import Rendered
from stacks.clouds import PROFILES
from tests.conftest import ROOT, container, party, render, render_file

# modules other deployments connect to: the cloud profile exposes them (their first Service)
ENTRY_SERVICES = {m.name: m.services[0][1].name for m in registry.MODULES if m.entry_point}


def _cloud_annotations(obj) -> dict:
    """A Service's annotations without the provider's own (pulumi.com/*: patchForce on every object, skipAwait on
    every Service but a LoadBalancer)."""
    return {k: v for k, v in obj["metadata"].get("annotations", {}).items() if not k.startswith("pulumi.com/")}


def test_entry_points_are_the_modules_peers_dial():
    assert set(ENTRY_SERVICES) == {"rollsite", "nginx", "pulsar", "rabbitmq", "trafficServer", "servingProxy"}
    assert ENTRY_SERVICES["trafficServer"] == "traffic-server"


@pytest.mark.parametrize("cloud", sorted(PROFILES))
def test_profile_defaults_on_entry_points_storage_and_ingress(cloud):
    prof = PROFILES[cloud]
    r = render(party(backend="spark_pulsar", cloud={"provider": cloud},
                     ingress={"fateboard": {"hosts": [{"name": "board.bank.example"}]}}))
    for module in ("nginx", "pulsar"):
        svc = r.get("Service", ENTRY_SERVICES[module])
        assert svc["spec"]["type"] == prof.entry_point_type
        assert _cloud_annotations(svc) == (prof.external_annotations if prof.entry_point_type == "LoadBalancer" else {})
    for name in ("fateflow-client", "fateboard", "mysql"):  # not federation entry points: stay inside
        assert r.get("Service", name)["spec"]["type"] == "ClusterIP"
    for name in ("mysql", "python", "pulsar", "namenode", "datanode", "client"):
        template = r.get("StatefulSet", name)["spec"]["volumeClaimTemplates"][0]["spec"]
        assert template.get("storageClassName") == prof.storage_class
    assert r.get("Ingress", "fateboard")["spec"]["ingressClassName"] == prof.ingress_class


@pytest.mark.parametrize("cloud", sorted(PROFILES))
def test_gpu_pool_placement(cloud):
    prof = PROFILES[cloud]
    spec = render(party(cloud={"provider": cloud}, algorithm="NN", device="GPU")).get("StatefulSet", "python")["spec"][
        "template"
    ]["spec"]
    assert spec.get("nodeSelector", {}) == prof.gpu_node_selector
    assert spec["tolerations"] == [dict(t) for t in prof.gpu_tolerations]
    cpu = render(party(cloud={"provider": cloud})).get("StatefulSet", "python")["spec"]["template"]["spec"]
    assert "tolerations" not in cpu and "nodeSelector" not in cpu


def test_internal_load_balancers():
    r = render(party(cloud={"provider": "azure", "loadBalancer": {"internal": True, "sourceRanges": ["10.0.0.0/8"]}}))
    svc = r.get("Service", "rollsite")
    assert _cloud_annotations(svc) == {"service.beta.kubernetes.io/azure-load-balancer-internal": "true"}
    assert svc["spec"]["loadBalancerSourceRanges"] == ["10.0.0.0/8"]
    aws = render(party(cloud={"provider": "aws"}, rollsite={"service": {"internal": True}})).get("Service", "rollsite")
    assert aws["metadata"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internal"
    gcp = render(party(cloud={"provider": "gcp", "loadBalancer": {"internal": True}})).get("Service", "rollsite")
    assert _cloud_annotations(gcp) == {"networking.gke.io/load-balancer-type": "Internal"}


def test_static_addresses_per_cloud():
    gcp = render(party(cloud={"provider": "gcp"}, rollsite={"service": {"loadBalancerIP": "192.0.2.30"}})).get(
        "Service", "rollsite"
    )
    assert gcp["spec"]["loadBalancerIP"] == "192.0.2.30"
    azure = render(party(cloud={"provider": "azure"}, rollsite={"service": {"loadBalancerIP": "198.51.100.20"}})).get(
        "Service", "rollsite"
    )
    assert "loadBalancerIP" not in azure["spec"]  # deprecated on AKS
    assert azure["metadata"]["annotations"]["service.beta.kubernetes.io/azure-load-balancer-ipv4"] == "198.51.100.20"
    aws = render(
        party(cloud={"provider": "aws"}, rollsite={"service": {"eipAllocations": ["eipalloc-1", "eipalloc-2"]}})
    )
    annotations = aws.get("Service", "rollsite")["metadata"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-eip-allocations"] == "eipalloc-1,eipalloc-2"


def test_user_settings_win_over_the_profile():
    r = render(party(
        backend="spark_pulsar",
        cloud={"provider": "aws", "storageClass": "io2", "ingressClass": "nginx-internal"},
        nginx={"service": {"type": "ClusterIP"}},
        pulsar={"service": {"annotations": {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}},
                "storage": {"storageClass": "gp2"}},
        ingress={"fateboard": {"hosts": [{"name": "board.bank.example"}]}},
        networkPolicy={"ingressNamespaces": ["ingress-internal"]}))
    assert r.get("Service", "nginx")["spec"]["type"] == "ClusterIP"
    pulsar = r.get("Service", "pulsar")["metadata"]["annotations"]
    assert pulsar["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internal"
    assert pulsar["service.beta.kubernetes.io/aws-load-balancer-type"] == "external"
    assert r.get("StatefulSet", "pulsar")["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "gp2"
    assert r.get("StatefulSet", "mysql")["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "io2"
    assert r.get("Ingress", "fateboard")["spec"]["ingressClassName"] == "nginx-internal"
    gpu = render(
        party(
            cloud={"provider": "azure", "gpu": {"nodeSelector": {"pool": "a100"}}},
            algorithm="NN",
            device="GPU",
            python={"tolerations": [{"key": "dedicated", "operator": "Exists"}]},
        )
    )
    spec = gpu.get("StatefulSet", "python")["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"pool": "a100"} and spec["tolerations"] == [
        {"key": "dedicated", "operator": "Exists"}
    ]


def _ui_sources(r) -> list[dict]:
    """Who may reach the fateboard UI port in its NetworkPolicy."""
    rules = r.get("NetworkPolicy", "fateboard")["spec"]["ingress"]
    return [src for rule in rules if rule.get("ports") == [{"protocol": "TCP", "port": 8080}] for src in rule["from"]]


@pytest.mark.parametrize(
    "provider, ingress_class, sources",
    [
        ("onprem", "nginx", [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]),
        (
            "onprem",
            "traefik",
            [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}
                for ns in ("traefik", "kube-system")
            ],
        ),
        (
            "azure",
            None,
            [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "app-routing-system"}}}],
        ),
        # cloud L7 balancers reach pod IPs from outside the cluster: address ranges, not namespaces
        (
            "aws",
            None,
            [{"ipBlock": {"cidr": c}} for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")],
        ),
        ("gcp", None, [{"ipBlock": {"cidr": c}} for c in ("130.211.0.0/22", "35.191.0.0/16")]),
    ],
)
def test_ui_network_policy_admits_the_ingress_classs_controller(provider, ingress_class, sources):
    cloud = {"provider": provider, **({"ingressClass": ingress_class} if ingress_class else {})}
    r = render(party(cloud=cloud, ingress={"fateboard": {"hosts": [{"name": "board.bank.example"}]}}))
    assert _ui_sources(r) == sources
    vpc = render(party(cloud=cloud, networkPolicy={"ingressSources": ["10.20.0.0/16"]},
                       ingress={"fateboard": {"hosts": [{"name": "board.bank.example"}]}}))
    assert _ui_sources(vpc) == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]  # explicit settings replace the derived ones


REFUSED = {
    "ingress-class-unknown-to-network-policy": (
        party(ingress={"className": "haproxy", "fateboard": {"hosts": [{"name": "board.bank.example"}]}}),
        "fate:networkPolicy.ingressNamespaces",
        "name its namespace here",
    ),
    "unknown-profile": (
        party(cloud={"provider": "oracle"}),
        "fate:cloud.provider",
        "'aws', 'gcp', 'azure' or 'onprem'",
    ),
    "eip-on-gcp": (
        party(cloud={"provider": "gcp"}, rollsite={"service": {"eipAllocations": ["eipalloc-1"]}}),
        "fate:rollsite.service.eipAllocations",
        "only on aws",
    ),
    "ip-on-aws": (
        party(cloud={"provider": "aws"}, rollsite={"service": {"loadBalancerIP": "203.0.113.9"}}),
        "fate:rollsite.service.loadBalancerIP",
        "use service.eipAllocations",
    ),
    "internal-onprem": (
        party(cloud={"loadBalancer": {"internal": True}}),
        "fate:cloud.loadBalancer.internal",
        "no cloud load balancer",
    ),
    "internal-with-eip": (
        party(cloud={"provider": "aws"}, rollsite={"service": {"internal": True, "eipAllocations": ["e"]}}),
        "fate:rollsite.service.eipAllocations",
        "internet-facing",
    ),
    "lb-option-on-nodeport": (
        party(cloud={"provider": "aws"}, rollsite={"service": {"type": "NodePort", "internal": True}}),
        "fate:rollsite.service.internal",
        "only used with service type LoadBalancer",
    ),
    "stack-reference-and-kubeconfig": (
        party(kubernetes={"stackReference": {"stack": "acme/eks/prod"}, "kubeconfig": "~/.kube/config"}),
        "fate:kubernetes.stackReference",
        "comes from the referenced stack",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_cloud_options(case):
    values, key, words = REFUSED[case]
    registered = Rendered()
    with pytest.raises(pulumi.RunError) as err:
        render(values, into=registered)
    assert f"  {key}:" in str(err.value) and words in str(err.value), str(err.value)
    assert registered.resources == []


def test_cluster_hand_off_by_stack_reference():
    path = ROOT / "examples" / "Pulumi.multicloud-party-9999-aws.yaml"
    provider = next(r for r in render_file(path).resources if r.type == "pulumi:providers:kubernetes")
    assert "offline render: output kubeconfig of stack acme/eks-cluster/prod" in str(provider.inputs["kubeconfig"])
    assert "4dabf18193072939515e22adb298388d" in str(provider.inputs["kubeconfig"])  # kept secret


@pytest.mark.parametrize(
    "name,cloud",
    [
        ("multicloud-party-9999-aws", "aws"),
        ("multicloud-party-10000-azure", "azure"),
        ("multicloud-party-10001-gcp", "gcp"),
        ("multicloud-party-10002-onprem", "onprem"),
    ],
)
def test_multicloud_examples_show_their_profile(name, cloud):
    r = render_file(ROOT / "examples" / f"Pulumi.{name}.yaml")
    prof = PROFILES[cloud]
    svc = r.get("Service", "rollsite")
    assert svc["spec"]["type"] == prof.entry_point_type
    for key, value in prof.external_annotations.items():
        assert svc["metadata"]["annotations"][key] == value
    expected_class = "ceph-rbd" if cloud == "onprem" else prof.storage_class
    assert (
        r.get("StatefulSet", "mysql")["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == expected_class
    )
    if cloud == "gcp":
        assert container(r.get("StatefulSet", "python"), "fateflow")["resources"]["limits"]["nvidia.com/gpu"] == "1"
