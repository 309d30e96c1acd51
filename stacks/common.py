"""What every composition shares: the cluster target, the namespace, and turning config sections into the typed
settings components take."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from components import endpoints, kube, registry
from components.outputs import OrOutput
from components.registry import snake as _snake
from components.settings import IngressRoute
from stacks.config import SECRET_KEYS, DeploymentConfig, S, password

if TYPE_CHECKING:
    from components.tls import TlsPlan


def site_of(cfg: DeploymentConfig, prefix: str = "") -> kube.Site:
    return kube.Site(
        prefix=prefix,
        name=cfg.deployment_name,
        namespace=cfg.target_namespace,
        party_id=cfg.party_id,
        kind=cfg.kind,
        release=cfg.release,
        images=kube.Images(
            registry=cfg.registry,
            tag=cfg.fate_image_tag,
            pull_policy=cfg.pull_policy,
            pull_secrets=tuple(cfg.image_pull_secrets),
        ),
        persistence=cfg.persistence.enabled,
        retain_volumes=cfg.persistence.retain_on_destroy,
        protect=cfg.persistence.protect if cfg.persistence.protect is not None else cfg.persistence.enabled,
        istio=cfg.istio.enabled,
        adopt_kubefate=cfg.adopt_kubefate,
        hardened=cfg.pod_security.enabled,
        ingress_class=cfg.ingress.class_name,
        ingress_await_address=cfg.ingress.await_address,
        network=kube.NetworkSettings(
            # with Istio the UIs are reached from its ingress gateway
            ingress_namespaces=tuple(cfg.network_policy.ingress_namespaces or ())
            + (("istio-system",) if cfg.istio.enabled else ()),
            ingress_sources=tuple(cfg.network_policy.ingress_sources or ()),
            entry_point_sources=tuple(cfg.network_policy.entry_point_sources),
            allow_namespaces=tuple(cfg.network_policy.allow_namespaces),
            peer_namespaces=peer_namespaces(cfg),
        )
        if cfg.network_policy.enabled
        else None,
    )


def routes(cfg: DeploymentConfig) -> list[tuple[str, str, int]]:
    """(module, host, port) of every address the deployed modules dial, as the stack's config gives them: peers,
    exchanges, FATE-Serving, external services (each module's `routes`, components/routing.py). The NetworkPolicies
    and the federation picture read them."""
    deployed = set(cfg.enabled_modules)
    return [(m.name, host, port) for m in registry.MODULES if m.routes is not None and m.name in deployed
            for host, port in m.routes.of(cfg)]


def peer_namespaces(cfg: DeploymentConfig) -> tuple[str, ...]:
    """Namespaces of this cluster that the stack's routes name (`rollsite.fate-exchange`, `serving-zookeeper.fate-
    serving-9999:2181`, `x.ns.svc.cluster.local`): peers there connect back to this deployment's peer-facing modules."""
    found = (endpoints.namespace_of(host, registry.SERVICE_NAMES) for _module, host, _port in routes(cfg))
    return tuple(sorted({ns for ns in found if ns and ns != cfg.target_namespace}))


class Composition:
    """The deployment a module is built into: the components' `Context` (components/context.py) over the stack's
    config. Module builders read their sections and the deployment-wide facts through it."""

    def __init__(self, cfg: DeploymentConfig, opts: pulumi.ResourceOptions, today: Optional[dt.date] = None,
                 prefix: str = ""):
        self.cfg = cfg
        self.site = site_of(cfg, prefix)
        self.opts = opts
        self.engines = cfg.engines
        self.fateflow_links = registry.FATEFLOW_LINKS
        self.algorithm = cfg.algorithm
        self.device = cfg.device
        self.tls = tls_plan(cfg, today)
        self.public_hosts = tuple(public_hosts(cfg))
        self._modules = set(cfg.enabled_modules)
        self._warned: set[str] = set()
        self.built: dict[str, Any] = {}  # the module components, by FATE name, once compose() made them

    def section(self, model: type[S]) -> S:
        return self.cfg.section(model)

    def enabled(self, module: str) -> bool:
        return module in self._modules

    def secret(self, key: str) -> OrOutput[str]:
        """A password from secret config (or the Output a component was given); a development stack falls back to
        the KubeFATE default, with a warning (once per key)."""
        value = password(self.cfg, key)
        if value is not None:
            return value
        fallback = SECRET_KEYS[key][1]
        if key not in self._warned:
            self._warned.add(key)
            pulumi.log.warn(
                f"fate:{key} is not set; development stack uses {'an empty value' if not fallback else 'a default'}. "
                f"Set it with: pulumi config set --secret fate:{key} '<value>'"
            )
        return fallback

    def ingress(self, module: str) -> IngressRoute:
        route: IngressRoute = getattr(self.cfg.ingress, _snake(module))
        return route


def compose(cfg: DeploymentConfig, opts: pulumi.ResourceOptions, prefix: str = "") -> dict[str, Any]:
    """Build every enabled module of the deployment, in registry order; the modules and their NodePorts by
    their `connect` key (the stack output `connect.nodePorts`). Pulumi names start with `prefix`."""
    ctx = Composition(cfg, opts, prefix=prefix)
    created: dict[str, Any] = {}
    node_ports: dict[str, Any] = {}
    for spec in registry.MODULES:
        if not ctx.enabled(spec.name):
            continue
        module = spec.build(ctx)
        created[spec.name] = ctx.built[spec.name] = module
        if spec.connect is not None:
            if module.node_ports is None:
                raise RuntimeError(f"components/registry.py: {spec.name} has connect, its component no node_ports")
            node_ports[spec.connect] = module.node_ports
    return {"modules": created, "nodePorts": node_ports, "context": ctx}


def tls_plan(cfg: DeploymentConfig, today: Optional[dt.date] = None) -> Optional[TlsPlan]:
    """The certificates this stack issues itself (tls.generate), from its CA; without a fixed tls.validFrom they
    renew (components/tls.py renewing_start)."""
    t = cfg.tls
    key = password(cfg, "tlsCaKey")
    if not t.generate or t.ca_certificate is None or key is None:  # without a CA the config checks refuse generate
        return None
    # cryptography is imported only by stacks that issue certificates (a tenth of a render's imports otherwise)
    from components.tls import TlsPlan, renewing_start

    start = t.valid_from or renewing_start(today or dt.date.today(), t.valid_days, t.renew_before_days)
    return TlsPlan(ca_certificate=t.ca_certificate, ca_key=key,
                   trusted=tuple(t.trusted_ca_certificates), valid_from=start, days=t.valid_days, domain=t.domain)


EXPIRY_WARNING_DAYS = 30


def expiry_warnings(cfg: DeploymentConfig, today: Optional[dt.date] = None) -> list[str]:
    """Certificates the stack issues or trusts that expire within 30 days (or have): said in every preview."""
    today = today or dt.date.today()
    plan = tls_plan(cfg, today)
    if plan is None:
        return []
    from cryptography import x509

    out = []
    left = (plan.expires - today).days
    if left <= EXPIRY_WARNING_DAYS:
        out.append(f"the certificates this stack issues expire on {plan.expires} ({left} days): set a new "
                   "fate:tls.validFrom, or remove it to let them renew, and run pulumi up")
    for what, pem in [("tls.caCertificate", plan.ca_certificate),
                      *((f"tls.trustedCaCertificates[{i}]", p) for i, p in enumerate(plan.trusted))]:
        not_after = x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc.date()
        if (not_after - today).days <= EXPIRY_WARNING_DAYS:
            out.append(f"fate:{what} expires on {not_after} ({(not_after - today).days} days): rotate the CA (README: "
                       "Rotation)")
    return out


def public_hosts(cfg: DeploymentConfig) -> list[str]:
    return [cfg.public_host] if cfg.public_host else []


def provider(cfg: DeploymentConfig, parent: Optional[pulumi.Resource] = None, prefix: str = "") -> k8s.Provider:
    """The one explicit Kubernetes provider every resource of the deployment goes through (no ambient kube
    context); earlier releases made it under the stack, as `kubernetes`."""
    t = cfg.kubernetes
    args: dict[str, Any] = {
        "namespace": cfg.target_namespace,
        "enable_server_side_apply": t.enable_server_side_apply,
        # update config objects in place instead of replacing them (pods roll through the checksum annotation)
        "enable_config_map_mutable": True,
        "enable_secret_mutable": True,
    }
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
    site = site_of(cfg, prefix)
    return k8s.Provider(site.pulumi_name("kubernetes"), **args, opts=pulumi.ResourceOptions(
        parent=parent, aliases=site.renamed("kubernetes", None)))


def admission_labels(cfg: DeploymentConfig) -> dict[str, str]:
    """Pod Security Admission: enforce the configured level, and warn and audit at it too (kubectl shows why)."""
    level = cfg.pod_security.admission
    return {f"pod-security.kubernetes.io/{mode}": level for mode in ("enforce", "warn", "audit")} if level else {}


def namespace(cfg: DeploymentConfig, k8s_provider: pulumi.ProviderResource, parent: Optional[pulumi.Resource] = None,
              prefix: str = "") -> Optional[pulumi.CustomResource]:
    """The target namespace, when the stack creates it; kept on destroy while persistent data is retained. A namespace
    that exists already (KubeFATE's) only gets the Pod Security Admission labels, by a server-side apply patch."""
    site = site_of(cfg, prefix)

    def opts(name: str, **more: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(provider=k8s_provider, parent=parent, aliases=site.renamed(name, None), **more)

    if not cfg.create_namespace:
        if not cfg.pod_security.admission:
            return None
        return k8s.core.v1.NamespacePatch(
            site.pulumi_name("namespace-pod-security"),
            metadata={"name": site.namespace, "labels": admission_labels(cfg)}, opts=opts("namespace-pod-security"))
    retain = retains_namespace(cfg)
    return k8s.core.v1.Namespace(
        site.pulumi_name("namespace"),
        metadata={
            "name": site.namespace,
            "annotations": {kube.RETAIN_ANNOTATION: str(retain).lower(), **kube.FORCE_ANNOTATIONS},
            "labels": {
                "app.kubernetes.io/part-of": kube.PART_OF,
                "app.kubernetes.io/managed-by": kube.MANAGED_BY,
                f"{kube.LABEL_PREFIX}/party-id": str(site.party_id),
                **admission_labels(cfg),
            },
        },
        opts=opts("namespace", retain_on_delete=retain),
    )


def retains_namespace(cfg: DeploymentConfig) -> bool:
    """A namespace the stack created outlives it while it holds retained volumes."""
    return cfg.persistence.enabled and cfg.persistence.retain_on_destroy


def module_opts(k8s_provider: pulumi.ProviderResource, ns: Optional[pulumi.CustomResource]) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(providers={"kubernetes": k8s_provider}, depends_on=[ns] if ns is not None else None)


def connect_info(cfg: DeploymentConfig, node_ports: dict[str, pulumi.Output]) -> dict[str, Any]:
    """What another party needs to reach this deployment: party id, host and the NodePorts of its entry points."""
    return {"partyId": cfg.party_id, "host": cfg.public_host, "nodePorts": node_ports}


def route_info(cfg: DeploymentConfig) -> list[dict[str, Any]]:
    """The stack output `routes`: {module, peer, host, port, secure} of every address the modules dial (each
    module's `routes`, components/routing.py: a Route says which peer and whether TLS, a bare address neither)."""
    deployed = set(cfg.enabled_modules)
    return [{"module": m.name, "peer": getattr(r, "peer", ""), "host": host, "port": port,
             "secure": getattr(r, "secure", False)}
            for m in registry.MODULES if m.routes is not None and m.name in deployed
            for r in m.routes.of(cfg) for host, port in [r]]
