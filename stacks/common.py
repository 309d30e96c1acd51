"""What every composition shares: the cluster target, the namespace, and turning config sections into the typed
settings components take."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Optional

from cryptography import x509

import pulumi
import pulumi_kubernetes as k8s

from components import endpoints, kube
from components.rollsite import Route
from components.tls import Authority, TlsPlan, renewing_start
from components.settings import IngressRoute, ModuleBase, ServiceSettings, StorageSettings
from stacks.config import SECRET_KEYS, DeploymentConfig, _snake


def site_of(cfg: DeploymentConfig) -> kube.Site:
    return kube.Site(
        name=cfg.deployment_name,
        namespace=cfg.target_namespace,
        party_id=cfg.party_id,
        kind=cfg.kind,
        images=kube.Images(
            registry=cfg.registry,
            tag=cfg.fate_image_tag,
            pull_policy=cfg.pull_policy,
            pull_secrets=tuple(cfg.image_pull_secrets),
        ),
        persistence=cfg.persistence.enabled,
        retain_volumes=cfg.persistence.retain_on_destroy,
        istio=cfg.istio.enabled,
        adopt_kubefate=cfg.adopt_kubefate,
        hardened=cfg.pod_security.enabled,
        network=kube.NetworkSettings(
            # with Istio the UIs are reached from its ingress gateway
            ingress_namespaces=tuple(cfg.network_policy.ingress_namespaces or ()) + (("istio-system",) if cfg.istio.enabled else ()),
            ingress_sources=tuple(cfg.network_policy.ingress_sources or ()),
            entry_point_sources=tuple(cfg.network_policy.entry_point_sources),
            allow_namespaces=tuple(cfg.network_policy.allow_namespaces),
            peer_namespaces=peer_namespaces(cfg),
        ) if cfg.network_policy.enabled else None,
    )


def peer_namespaces(cfg: DeploymentConfig) -> tuple[str, ...]:
    """Namespaces of this cluster that the stack's routes name (`rollsite.fate-exchange`, `serving-zookeeper.fate-
    serving-9999:2181`, `x.ns.svc.cluster.local`): peers there connect back to this deployment's peer-facing modules."""
    hosts: list[str] = []
    rs, py = cfg.rollsite, cfg.python
    hosts += [r.host for r in (*rs.party_list, *rs.exchange_list, rs.exchange, rs.polling.server) if r is not None]
    hosts += [h.host for route in cfg.nginx.route_table.values() for h in (*route.proxy, *route.fateflow)]
    hosts += [e.host for e in (cfg.nginx.exchange, cfg.pulsar.exchange) if e is not None]
    hosts += [r.host for r in (*cfg.pulsar.route_table.values(), *cfg.rabbitmq.route_table.values())]
    hosts += [r.tunnel_route.rpartition(":")[0] for r in cfg.traffic_server.sni_routes]
    hosts += [cfg.serving.host or ""] + [h.rpartition(":")[0] for h in (cfg.serving.zookeeper.hosts if cfg.serving.zookeeper else [])]
    hosts += [r.host for r in (*cfg.serving_proxy.party_list, cfg.serving_proxy.exchange, cfg.serving_server.fateflow) if r is not None]
    hosts += [h for h in (py.rabbitmq.host, py.pulsar.host, py.nginx.host) if h]
    found = (endpoints.namespace_of(h) for h in hosts)
    return tuple(sorted({ns for ns in found if ns and ns != cfg.target_namespace}))


def placement_of(section: ModuleBase) -> kube.Placement:
    resources = None
    if section.resources is not None:
        resources = {k: dict(v) for k, v in (("requests", section.resources.requests),
                                             ("limits", section.resources.limits)) if v}
    spread = getattr(section, "spread", None)
    return kube.Placement(
        node_selector=dict(section.node_selector),
        tolerations=tuple(section.tolerations),
        affinity=dict(section.affinity),
        resources=resources,
        spread=spread.model_dump(by_alias=True) if spread is not None else None,
    )


def exposure_of(svc: ServiceSettings) -> kube.Exposure:
    return kube.Exposure(
        type=svc.type,
        node_ports=dict(svc.node_ports),
        load_balancer_ip=svc.load_balancer_ip,
        load_balancer_source_ranges=tuple(svc.load_balancer_source_ranges),
        annotations=dict(svc.annotations),
    )


def volume_of(storage: StorageSettings) -> kube.Volume:
    return kube.Volume(
        storage_class=storage.storage_class,
        size=storage.size,
        access_mode=storage.access_mode,
        existing_claim=storage.existing_claim,
        sub_path=storage.sub_path,
    )


def ingress_of(route: IngressRoute) -> kube.IngressRoute:
    return kube.IngressRoute(
        hosts=tuple((h.name, h.path) for h in route.hosts),
        tls=tuple((t.secret_name, tuple(t.hosts)) for t in route.tls),
        annotations=dict(route.annotations),
    )


def secret(cfg: DeploymentConfig, key: str) -> str:
    """A password from secret config; a development stack falls back to the KubeFATE default, with a warning."""
    value = getattr(cfg.secrets, _snake(key))
    if value is not None:
        return value.get_secret_value()
    fallback = SECRET_KEYS[key][1]
    pulumi.log.warn(f"fate:{key} is not set; development stack uses {'an empty value' if not fallback else 'a default'}. "
                    f"Set it with: pulumi config set --secret fate:{key} '<value>'")
    return fallback


def tls_plan(cfg: DeploymentConfig, today: Optional[dt.date] = None) -> Optional[TlsPlan]:
    """The certificates this stack issues itself (tls.generate), from its CA; without a fixed tls.validFrom they
    renew (components/tls.py renewing_start)."""
    if not cfg.tls.generate:
        return None
    t = cfg.tls
    start = t.valid_from or renewing_start(today or dt.date.today(), t.valid_days, t.renew_before_days)
    return TlsPlan(ca=Authority(t.ca_certificate, cfg.secrets.tls_ca_key.get_secret_value()),
                   trusted=tuple(t.trusted_ca_certificates), valid_from=start, days=t.valid_days)


EXPIRY_WARNING_DAYS = 30


def expiry_warnings(cfg: DeploymentConfig, today: Optional[dt.date] = None) -> list[str]:
    """Certificates the stack issues or trusts that expire within 30 days (or have): said in every preview."""
    if not cfg.tls.generate:
        return []
    today = today or dt.date.today()
    out = []
    plan = tls_plan(cfg, today)
    left = (plan.expires - today).days
    if left <= EXPIRY_WARNING_DAYS:
        out.append(f"the certificates this stack issues expire on {plan.expires} ({left} days): set a new "
                   "fate:tls.validFrom, or remove it to let them renew, and run pulumi up")
    for what, pem in [("tls.caCertificate", cfg.tls.ca_certificate),
                      *((f"tls.trustedCaCertificates[{i}]", p) for i, p in enumerate(cfg.tls.trusted_ca_certificates))]:
        not_after = x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc.date()
        if (not_after - today).days <= EXPIRY_WARNING_DAYS:
            out.append(f"fate:{what} expires on {not_after} ({(not_after - today).days} days): rotate the CA (README: "
                       "Rotation)")
    return out


def public_hosts(cfg: DeploymentConfig) -> list[str]:
    return [cfg.public_host] if cfg.public_host else []


def rollsite_federation(cfg: DeploymentConfig, tls: Optional[TlsPlan]) -> dict[str, Any]:
    """The RollsiteArgs a party and an exchange share: routes (secure ones dialled with TLS) and this rollsite's TLS.
    Its server certificate names every address a peer may dial: the public host and the in-cluster Service names."""
    rs = cfg.rollsite
    hosts = [*public_hosts(cfg), *endpoints.cluster_names(endpoints.ROLLSITE.name, cfg.target_namespace)]
    return {
        "exchange": Route(0, rs.exchange.host, rs.exchange.port, rs.exchange.secure) if rs.exchange else None,
        "peers": tuple(Route(p.party_id, p.host, p.port, p.secure) for p in rs.party_list),
        "tls_secret": rs.tls.secret_name if rs.tls.enabled else None,
        "tls_material": tls.eggroll_certs(hosts) if tls and rs.tls.enabled else None,
        "refuse_plaintext": rs.tls.enabled and rs.tls.refuse_plaintext,
    }


def provider(cfg: DeploymentConfig) -> k8s.Provider:
    """The one explicit Kubernetes provider every resource of the stack goes through (no ambient kube context)."""
    t = cfg.kubernetes
    args: dict[str, Any] = {
        "namespace": cfg.target_namespace,
        "enable_server_side_apply": t.enable_server_side_apply,
        # update config objects in place instead of replacing them (pods roll through the checksum annotation)
        "enable_config_map_mutable": True,
        "enable_secret_mutable": True,
    }
    if cfg.adopt_kubefate and _provider_version() >= (4, 29):
        # KubeFATE's objects exist already: apply over them (server-side; `fate-pulumi adopt take-over` handed
        # Helm's fields to the stack's field manager first) instead of failing with "already exists". Before 4.29
        # server-side create always did so (pulumi-kubernetes #4278).
        args["upsert_existing_objects"] = True
        args["enable_patch_force"] = True
    if t.render_yaml_to_directory:
        args["render_yaml_to_directory"] = t.render_yaml_to_directory
        # the SDK would default kubeconfig from $KUBECONFIG, which the provider refuses in render mode
        args["kubeconfig"] = ""
    else:
        args["cluster_identifier"] = t.cluster_identifier or t.context or t.cluster or "default"
        for key in ("kubeconfig", "context", "cluster"):
            value = getattr(t, key)
            if value:
                args[key] = value
        if t.stack_reference is not None:
            # the hand-off from a cluster stack (EKS/GKE/AKS): its kubeconfig output, kept secret
            cluster_stack = pulumi.StackReference(t.stack_reference.stack)
            args["kubeconfig"] = pulumi.Output.secret(cluster_stack.require_output(t.stack_reference.output)).apply(
                lambda kc: kc if isinstance(kc, str) else json.dumps(kc))
    return k8s.Provider("kubernetes", **args)


def _provider_version() -> tuple[int, ...]:
    from importlib.metadata import version

    return tuple(int(p) for p in version("pulumi-kubernetes").split(".")[:2])


def admission_labels(cfg: DeploymentConfig) -> dict[str, str]:
    """Pod Security Admission: enforce the configured level, and warn and audit at it too (kubectl shows why)."""
    level = cfg.pod_security.admission
    return {f"pod-security.kubernetes.io/{mode}": level for mode in ("enforce", "warn", "audit")} if level else {}


def namespace(cfg: DeploymentConfig, k8s_provider: k8s.Provider) -> Optional[pulumi.CustomResource]:
    """The target namespace, when the stack creates it; kept on destroy while persistent data is retained. A namespace
    that exists already (KubeFATE's) only gets the Pod Security Admission labels, by a server-side apply patch."""
    site = site_of(cfg)
    if not cfg.create_namespace:
        if not cfg.pod_security.admission:
            return None
        return k8s.core.v1.NamespacePatch(
            "namespace-pod-security", metadata={"name": site.namespace, "labels": admission_labels(cfg)},
            opts=pulumi.ResourceOptions(provider=k8s_provider))
    retain = cfg.persistence.enabled and cfg.persistence.retain_on_destroy
    return k8s.core.v1.Namespace(
        "namespace",
        metadata={"name": site.namespace, "annotations": {kube.RETAIN_ANNOTATION: str(retain).lower(), **kube.FORCE_ANNOTATIONS},
                  "labels": {
            "app.kubernetes.io/part-of": kube.PART_OF, "app.kubernetes.io/managed-by": kube.MANAGED_BY,
            f"{kube.LABEL_PREFIX}/party-id": str(site.party_id), **admission_labels(cfg)}},
        opts=pulumi.ResourceOptions(provider=k8s_provider, retain_on_delete=retain),
    )


def module_opts(k8s_provider: k8s.Provider, ns: Optional[pulumi.CustomResource]) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(providers={"kubernetes": k8s_provider}, depends_on=[ns] if ns is not None else None)


def connect_info(cfg: DeploymentConfig, node_ports: dict[str, pulumi.Output]) -> dict[str, Any]:
    """What another party needs to reach this deployment: party id, host and the NodePorts of its entry points."""
    return {"partyId": cfg.party_id, "host": cfg.public_host, "nodePorts": node_ports}
