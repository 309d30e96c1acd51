"""Cloud profiles: the defaults a party needs to fit AWS, Google Cloud, Azure or an on-premises cluster.

Each default has its reason next to it. Everything here is a default: a value the stack sets explicitly wins.
Pure data, read by stacks/config/ (checks, effective settings); no Pulumi imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Optional

CloudName = Literal["aws", "gcp", "azure", "onprem"]

@dataclass(frozen=True)
class IngressController:
    """Where an ingress class's traffic to the web UIs comes from, for their NetworkPolicy."""

    namespaces: tuple[str, ...] = ()  # an in-cluster controller's namespaces
    cidrs: tuple[str, ...] = ()  # a cloud L7 balancer that reaches pod IPs directly


# Known ingress classes; another class needs networkPolicy.ingressNamespaces or networkPolicy.ingressSources.
INGRESS_CONTROLLERS: dict[str, IngressController] = {
    "nginx": IngressController(namespaces=("ingress-nginx",)),  # the ingress-nginx chart and manifests
    # Traefik's own chart installs into `traefik`; k3s runs it in kube-system
    "traefik": IngressController(namespaces=("traefik", "kube-system")),
    # the AKS application routing add-on runs its nginx in app-routing-system
    "webapprouting.kubernetes.azure.com": IngressController(namespaces=("app-routing-system",)),
    # the AWS Load Balancer Controller's ALB sends to pod IPs (or nodes) from the VPC's subnets, private ranges
    # (RFC 1918, plus 100.64.0.0/10 of EKS custom networking); narrow it to the VPC's CIDR with ingressSources
    "alb": IngressController(cidrs=("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")),
    # GKE container-native load balancing: Google Front Ends and health checks come from these two ranges
    "gce": IngressController(cidrs=("130.211.0.0/22", "35.191.0.0/16")),
}


@dataclass(frozen=True)
class CloudProfile:
    name: str
    entry_point_type: str  # Service type of the federation entry points
    external_annotations: dict[str, str]  # on every entry-point LoadBalancer
    internal_annotations: dict[str, str]  # with cloud.loadBalancer.internal
    storage_class: Optional[str]  # for every persistent module (None = the cluster's default class)
    ingress_class: str
    gpu_node_selector: dict[str, str] = field(default_factory=dict)
    gpu_tolerations: tuple[dict[str, Any], ...] = ()
    # how a requested static address is expressed; None = the cloud cannot pin a LoadBalancer address this way
    static_ip_annotation: Optional[str] = None
    static_ip_in_spec: bool = False
    eip_allocations_annotation: Optional[str] = None
    supports_internal: bool = True


PROFILES: dict[str, CloudProfile] = {
    "aws": CloudProfile(
        name="aws",
        # Federation traffic is long-lived gRPC/TLS: an L4 Network Load Balancer (AWS Load Balancer Controller)
        # passes it through untouched; the legacy Classic ELB cuts idle streams after 60 s.
        entry_point_type="LoadBalancer",
        external_annotations={
            "service.beta.kubernetes.io/aws-load-balancer-type": "external",
            "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
            "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
        },
        internal_annotations={
            "service.beta.kubernetes.io/aws-load-balancer-type": "external",
            "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
            "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
        },
        # gp3: the EBS CSI class EKS documents (cheaper, faster baseline than gp2)
        storage_class="gp3",
        ingress_class="alb",
        # NVIDIA GPU Feature Discovery labels GPU nodes; EKS GPU node groups are tainted nvidia.com/gpu
        gpu_node_selector={"nvidia.com/gpu.present": "true"},
        gpu_tolerations=({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},),
        # an NLB has no requested IP: a fixed public address is an Elastic IP allocation per subnet
        eip_allocations_annotation="service.beta.kubernetes.io/aws-load-balancer-eip-allocations",
    ),
    "gcp": CloudProfile(
        name="gcp",
        # GKE's L4 load balancer is pass-through; a reserved regional IP goes in spec.loadBalancerIP
        entry_point_type="LoadBalancer",
        external_annotations={},
        internal_annotations={"networking.gke.io/load-balancer-type": "Internal"},
        # standard-rwo: GKE's default PD-balanced CSI class
        storage_class="standard-rwo",
        ingress_class="gce",
        # GKE taints GPU nodes nvidia.com/gpu=present:NoSchedule; the GPU request itself selects the node pool
        gpu_tolerations=({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},),
        static_ip_in_spec=True,
    ),
    "azure": CloudProfile(
        name="azure",
        entry_point_type="LoadBalancer",
        external_annotations={},
        internal_annotations={"service.beta.kubernetes.io/azure-load-balancer-internal": "true"},
        # managed-csi: AKS's default Azure Disk CSI class
        storage_class="managed-csi",
        # the AKS application routing add-on
        ingress_class="webapprouting.kubernetes.azure.com",
        # AKS labels GPU nodes accelerator=nvidia; its docs taint GPU pools sku=gpu:NoSchedule
        gpu_node_selector={"accelerator": "nvidia"},
        gpu_tolerations=({"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},),
        # spec.loadBalancerIP is deprecated on AKS; the annotation names the (pre-created) public or private IP
        static_ip_annotation="service.beta.kubernetes.io/azure-load-balancer-ipv4",
    ),
    "onprem": CloudProfile(
        name="onprem",
        # no cloud load balancer: peers reach the entry points on a node's address and a NodePort
        entry_point_type="NodePort",
        external_annotations={},
        internal_annotations={},
        storage_class=None,
        ingress_class="nginx",
        gpu_tolerations=({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},),
        # MetalLB and similar honour spec.loadBalancerIP when the cluster has them
        static_ip_in_spec=True,
        supports_internal=False,
    ),
}
