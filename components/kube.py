"""Shared builders for FATE modules: labels, images, Services, config objects with rollout checksums, workloads.

Every module component builds its Kubernetes objects through these helpers, so labels, image naming, NodePort
handling, volume persistence and the "a changed config rolls its pods" rule are defined once.

Manifests are written as plain dicts in Kubernetes' own camelCase, exactly as they would appear in YAML.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from .outputs import OrOutput, lift
from .settings import IngressRoute, ModuleBase, ServiceSettings, StorageSettings

PART_OF = "fate"
MANAGED_BY = "pulumi"
LABEL_PREFIX = "fate.federatedai.io"
CHECKSUM_ANNOTATION = f"{LABEL_PREFIX}/config-checksum"
# set on what `pulumi destroy` leaves in place (PVCs, a created namespace), so reviews and policies can see it
RETAIN_ANNOTATION = f"{LABEL_PREFIX}/retain-on-destroy"
# The stack is the source of truth: `pulumi up` (--refresh) takes back fields someone changed by hand (kubectl edit,
# scale) instead of failing with a server-side apply conflict.
FORCE_ANNOTATIONS = {"pulumi.com/patchForce": "true"}
# When adopting KubeFATE's objects every object is applied by one known server-side apply field manager (the provider
# otherwise draws a random one per resource), so `fate-pulumi adopt take-over` can hand Helm's fields to it
# before the first preview: then the first apply prunes what KubeFATE set and fate-pulumi no longer does.
ADOPT_FIELD_MANAGER = "fate-pulumi"
ADOPT_ANNOTATIONS = {"pulumi.com/patchFieldManager": ADOPT_FIELD_MANAGER}
# The Kubernetes provider's await for a Service with a selector returns no sooner than 10 s after the last change of
# its Endpoints (pulumi-kubernetes provider/pkg/await/service.go, the "settled" timer), and each module's Services
# wait in parallel: ~10 s of a 14 s `pulumi up` (docs/performance.md). The pods behind them are awaited by their
# Deployment or StatefulSet; a ClusterIP or NodePort Service is usable once created (its NodePorts are in the
# create response). A LoadBalancer keeps its await: it waits for the cloud's address, as `helm --wait` does.
SKIP_AWAIT_ANNOTATIONS = {"pulumi.com/skipAwait": "true"}
# An Ingress is awaited until its controller publishes an address in .status.loadBalancer.ingress (10 min by default,
# provider/pkg/await/ingress.go); bare-metal controllers behind NodePorts, or none yet, never do, and `helm install`
# never waits for it. The web UIs' pods are awaited by their workloads: the same annotation unless the stack asks
# for the address (`fate:ingress.awaitAddress`).

# Third-party images, by role: (Docker Hub name, pinned tag). FATE-built ones live under the FATE registry.
MYSQL_IMAGE = ("mysql", "8.0.28")
NGINX_IMAGE = (
    "nginx",
    "1.27",
)  # gRPC load balancer of lbrollsite (KubeFATE: <registry>/nginx:1.17, a tag FATE never published)
FLUENT_BIT_IMAGE = ("fluent/fluent-bit", "2.1.4")
BUSYBOX_IMAGE = ("busybox", "1.36")  # KubeFATE pulled an unpinned busybox
REDIS_IMAGE = ("redis", "5")
ZOOKEEPER_IMAGE = ("bitnami/zookeeper", "3.7.0")
FATE_REGISTRY = "federatedai"

# FATE's images (and the mysql, redis, rabbitmq images) start as root, own their files and switch users: they keep
# the file and user capabilities of Docker's default set, without raw sockets, mknod, audit, setpcap/setfcap, chroot
# or low ports (added where needed).
ROOT_IMAGE_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID")


# --------------------------------------------------------------------------------------------------------------
# Typed settings passed from the compositions to the components
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Images:
    """How image names are formed: one registry prefix for all images (KubeFATE #397 left some out)."""

    registry: Optional[str]
    tag: str
    pull_policy: str = "IfNotPresent"
    pull_secrets: tuple[str, ...] = ()

    def fate(self, name: str, tag: Optional[str] = None) -> str:
        """A FATE image (federatedai/<name>) under the configured registry."""
        return f"{(self.registry or FATE_REGISTRY).rstrip('/')}/{name}:{tag or self.tag}"

    def third_party(self, image: tuple[str, str]) -> str:
        """A third-party image: Docker Hub by default, `<registry>/<basename>` when a registry is configured."""
        hub_name, tag = image
        if self.registry:
            return f"{self.registry.rstrip('/')}/{hub_name.rsplit('/', 1)[-1]}:{tag}"
        return f"{hub_name}:{tag}"


@dataclass(frozen=True)
class Site:
    """Facts every module of one deployment shares."""

    name: str  # deployment name (KubeFATE's cluster name), e.g. fate-9999
    namespace: str
    party_id: int
    kind: str  # party | exchange | serving
    images: Images
    release: str = "1.11.2"  # the FATE release (`fate:release`): 1.11.2 or 2.2
    persistence: bool = True
    retain_volumes: bool = True
    protect: bool = False  # Pulumi protect on the data that must not go by accident (MySQL, volume claims)
    istio: bool = False
    # take over a KubeFATE-made deployment in place: KubeFATE's selectors and claim-template labels (immutable)
    adopt_kubefate: bool = False
    hardened: bool = True  # pod/container securityContext with least privilege
    network: Optional[NetworkSettings] = None  # None = no NetworkPolicies
    ingress_class: Optional[str] = None  # ingressClassName of the web UIs' Ingresses
    ingress_await_address: bool = False  # `pulumi up` waits for each Ingress's load-balancer address
    # Pulumi names of the deployment's resources start with this (the Party/Exchange/Serving component's name and a
    # dash), so that several deployments live in one program; Kubernetes names never change
    prefix: str = ""

    def pulumi_name(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def renamed(self, name: str, old_parent: Optional[str]) -> list[Any]:
        """What a resource was called before the deployment's resources were named after it: `name` under
        `old_parent` (a URN; None: the stack itself). Stacks made by earlier releases keep every resource."""
        if not self.prefix:
            return []
        return [pulumi.Alias(name=name, parent=old_parent if old_parent is not None else pulumi.ROOT_STACK_RESOURCE)]


@dataclass(frozen=True)
class NetworkSettings:
    ingress_namespaces: tuple[str, ...] = ("ingress-nginx",)  # where the ingress controller's pods run
    ingress_sources: tuple[str, ...] = ()  # CIDRs a cloud L7 balancer reaches pods from
    entry_point_sources: tuple[str, ...] = ()  # CIDRs; empty = anywhere
    allow_namespaces: tuple[str, ...] = ()
    # namespaces of this cluster that hold peers (an exchange, the party's FATE-Serving): they reach the
    # peer-facing modules' Service ports even where those Services are ClusterIP
    peer_namespaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServicePort:
    """One port of a Service: `key` is the name users give NodePorts by (config `service.nodePorts.<key>`)."""

    key: str
    name: str  # the Service port name (KubeFATE's, for compatibility)
    port: int
    node_port: Optional[int] = None  # a fixed NodePort, used when the Service is exposed and config gives none


# --------------------------------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------------------------------


KUBEFATE_CHART = {"party": "fate", "exchange": "fate-exchange", "serving": "fate-serving"}


def kubefate_labels(site: Site, app: str, helm: bool = True) -> dict[str, str]:
    """The labels KubeFATE's charts put on objects (`fateMoudle` sic); `helm` adds heritage/release/chart."""
    out = {"fateMoudle": app, "name": site.name, "partyId": str(site.party_id), "owner": "kubefate",
           "cluster": KUBEFATE_CHART[site.kind]}
    if helm:
        out.update(heritage="Helm", release=site.name, chart=KUBEFATE_CHART[site.kind])
    return out


def selector(site: Site, app: str) -> dict[str, str]:
    """Immutable selector of a workload: which app of which deployment (KubeFATE's, when adopting its objects)."""
    if site.adopt_kubefate:
        return {"fateMoudle": app, "name": site.name, "partyId": str(site.party_id)}
    return {"app.kubernetes.io/name": app, "app.kubernetes.io/instance": site.name}


def labels(site: Site, app: str, component: str) -> dict[str, str]:
    """Kubernetes recommended labels plus the FATE party id (plus KubeFATE's labels when adopting)."""
    kubefate = kubefate_labels(site, app) if site.adopt_kubefate else {}
    return {
        **kubefate,
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/instance": site.name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        f"{LABEL_PREFIX}/party-id": str(site.party_id),
        f"{LABEL_PREFIX}/kind": site.kind,
    }


def meta(site: Site, name: str, app: str, component: str, annotations: Optional[Mapping[str, str]] = None) -> dict:
    return {
        "name": name,
        "namespace": site.namespace,
        "labels": labels(site, app, component),
        "annotations": {
            **FORCE_ANNOTATIONS,
            **(ADOPT_ANNOTATIONS if site.adopt_kubefate else {}),
            **(annotations or {}),
        },
    }


# --------------------------------------------------------------------------------------------------------------
# Module base class
# --------------------------------------------------------------------------------------------------------------


class Module(pulumi.ComponentResource):
    """Base of every FATE module component: owns its objects, names them, and builds them with shared helpers.

    Subclasses set APP (the app label), COMPONENT (the recommended-label component) and TYPE (fate:<module>:<Type>).
    The builder is order-independent: config objects, Services and Ingresses are created as they are declared;
    workloads (with the checksum of every config object the module declared or uses), their disruption budgets and
    the NetworkPolicies are created once, in `done()`, from everything declared.
    """

    TYPE = "fate:index:Module"
    APP = "fate"
    COMPONENT = "fate"
    PEER_FACING = False  # other deployments (parties, an exchange, FATE-Serving) connect to its Services

    def __init__(self, name: str, site: Site, opts: Optional[pulumi.ResourceOptions] = None):
        # earlier releases put the modules right under the stack, under their bare names
        renamed = pulumi.ResourceOptions(aliases=site.renamed(name, None))
        super().__init__(self.TYPE, site.pulumi_name(name), None, pulumi.ResourceOptions.merge(opts, renamed))
        self.site = site
        self._old_urn = f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{self.TYPE}::{name}"
        # children die with the namespace when the deployment deletes it (one delete instead of one per object)
        self._deleted_with = opts.deleted_with if opts is not None else None
        # digests of the config objects the pods mount, in declaration order (of a Secret holding an Output: one)
        self._checksums: list[OrOutput[str]] = []
        # created in done(), given the pod annotations
        self._workloads: list[Callable[[dict[str, OrOutput[str]]], Any]] = []
        # per app: ports reachable from outside (exposed Services), from ingress controllers (UIs), all Service ports
        self._public_ports: dict[str, set[int]] = {}
        self._ui_ports: dict[str, set[int]] = {}
        self._service_ports: dict[str, set[int]] = {}
        # the NodePorts the cluster assigned to the Service other deployments reach (registry `connect`)
        self.node_ports: Optional[pulumi.Output[dict[str, int]]] = None

    def meta(self, name: str, annotations: Optional[Mapping[str, str]] = None, app: Optional[str] = None) -> dict:
        return meta(self.site, name, app or self.APP, self.COMPONENT, annotations)

    def child(self, name: str, **opts: Any) -> tuple[str, pulumi.ResourceOptions]:
        """The Pulumi name and options of a child resource called `name` (its Kubernetes name)."""
        return self.site.pulumi_name(name), pulumi.ResourceOptions(
            parent=self, aliases=self.site.renamed(name, self._old_urn), deleted_with=self._deleted_with, **opts)

    # -- configuration objects --

    def config_map(self, name: str, data: Mapping[str, str]) -> k8s.core.v1.ConfigMap:
        """A ConfigMap whose content, when it changes, rolls the pods of this module."""
        self._checksums.append(_digest(name, data))
        return k8s.core.v1.ConfigMap(*self.child(name), metadata=self.meta(name), data=dict(data))

    def secret(self, name: str, data: OrOutput[Mapping[str, OrOutput[str]]]) -> k8s.core.v1.Secret:
        """A Secret from values that are Pulumi secrets (encrypted in state, masked in output). Its values (or the
        whole `data`) may be Outputs, a password another resource computes: the Secret is created now all the same.

        Its change rolls the pods too; the checksum is a slow salted hash so it reveals nothing usable (of Outputs:
        computed in their apply, components/outputs.py).
        """
        salt = f"{self.site.namespace}/{name}"
        self._checksums.append(lift(lambda values: _digest(name, values, secret_salt=salt), data))
        string_data: OrOutput[Mapping[str, OrOutput[str]]] = pulumi.Output.secret(data) \
            if isinstance(data, pulumi.Output) else {k: pulumi.Output.secret(v) for k, v in data.items()}
        return k8s.core.v1.Secret(*self.child(name), metadata=self.meta(name), type="Opaque", string_data=string_data)

    def uses_config(self, checksum: str) -> None:
        """Roll this module's pods also when another module's config object it mounts changes
        (`config_checksum` of that object's name and data)."""
        self._checksums.append(checksum)

    # -- Services --

    def service(
        self,
        name: str,
        ports: Sequence[ServicePort],
        settings: Optional[ServiceSettings] = None,
        app: Optional[str] = None,
        headless: bool = False,
        internal_ports: Sequence[int] = (),
    ) -> k8s.core.v1.Service:
        """A Service; an exposed one (`settings.type` NodePort or LoadBalancer) opens its ports to the outside in
        the app's NetworkPolicy, except `internal_ports`, which stay reachable only from inside the deployment."""
        settings = settings or ServiceSettings()
        svc_type = settings.type or "ClusterIP"
        external = svc_type in ("NodePort", "LoadBalancer")
        spec: dict[str, Any] = {"type": svc_type, "selector": selector(self.site, app or self.APP), "ports": []}
        for p in ports:
            entry: dict[str, Any] = {"name": p.name, "port": p.port, "targetPort": p.port, "protocol": "TCP"}
            node_port = settings.node_ports.get(p.key, p.node_port)
            if external and node_port is not None:
                entry["nodePort"] = node_port
            spec["ports"].append(entry)
        if headless:
            spec["clusterIP"] = "None"
        self._service_ports.setdefault(app or self.APP, set()).update(
            p.port for p in ports if p.port not in internal_ports
        )
        if external:
            self._public_ports.setdefault(app or self.APP, set()).update(
                p.port for p in ports if p.port not in internal_ports
            )
        if svc_type == "LoadBalancer":
            if settings.load_balancer_ip:
                spec["loadBalancerIP"] = settings.load_balancer_ip
            if settings.load_balancer_source_ranges:
                spec["loadBalancerSourceRanges"] = list(settings.load_balancer_source_ranges)
        annotations = {**(SKIP_AWAIT_ANNOTATIONS if svc_type != "LoadBalancer" else {}), **settings.annotations}
        return k8s.core.v1.Service(*self.child(name), metadata=self.meta(name, annotations, app=app), spec=spec)

    # -- workloads --

    def pod_spec(
        self,
        containers: Sequence[dict],
        section: Optional[ModuleBase] = None,
        volumes: Sequence[dict] = (),
        init_containers: Sequence[dict] = (),
        service_account: Optional[str] = None,
        app: Optional[str] = None,
        **extra: Any,
    ) -> dict:
        """A pod spec with the section's scheduling (nodeSelector, tolerations, affinity, spread)."""
        spec: dict[str, Any] = {"containers": list(containers), "restartPolicy": "Always"}
        spread = getattr(section, "spread", None)
        if spread is not None:
            spec["topologySpreadConstraints"] = [
                {
                    **spread.model_dump(by_alias=True),
                    "labelSelector": {"matchLabels": selector(self.site, app or self.APP)},
                }
            ]
        if init_containers:
            spec["initContainers"] = list(init_containers)
        if volumes:
            spec["volumes"] = list(volumes)
        if section is not None and section.node_selector:
            spec["nodeSelector"] = dict(section.node_selector)
        if section is not None and section.tolerations:
            spec["tolerations"] = [dict(t) for t in section.tolerations]
        if section is not None and section.affinity:
            spec["affinity"] = dict(section.affinity)
        if self.site.images.pull_secrets:
            spec["imagePullSecrets"] = [{"name": s} for s in self.site.images.pull_secrets]
        if service_account:
            spec["serviceAccountName"] = service_account
        if self.site.hardened:
            extra["securityContext"] = {
                "seccompProfile": {"type": "RuntimeDefault"},
                **extra.get("securityContext", {}),
            }
        spec.update(extra)
        return spec

    def wait_for(self, name: str, host: str, port: int) -> list[dict]:
        """An init container that waits until host:port accepts connections (start order without crash loops).
        None with Istio: an init container has no network before the sidecar starts."""
        if self.site.istio:
            return []
        return [self.container(
            name, self.site.images.third_party(BUSYBOX_IMAGE), None,
            {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}},
            command=["sh", "-c", f'until nc -z -w 2 {host} {port}; do echo "waiting for {host}:{port}"; sleep 2; done'],
        )]

    def assembled_file(self, volume: str, target: str, parts: Sequence[tuple[str, str, str]]) -> AssembledFile:
        """A config file the program reads at `target`, concatenated before it starts from ConfigMap and Secret
        parts (`(kind, object name, key)`, kind `configMap` or `secret`; in .properties later keys win) into an
        in-memory volume. A password thus sits in the very file its reader opens (FATE-Board and FATE-Serving
        read their passwords from files, not from the environment: docs/config-contract.md), never in a ConfigMap,
        and the image keeps its own start command."""
        filename = target.rsplit("/", 1)[-1]
        out = f"/assembled/{filename}"
        mounts: list[dict[str, Any]] = [{"name": volume, "mountPath": "/assembled"}]
        volumes: list[dict[str, Any]] = []
        sources: list[str] = []
        for i, (kind, obj, key) in enumerate(parts):
            part = f"{volume}-part{i}"
            ref = {"name": obj} if kind == "configMap" else {"secretName": obj}
            volumes.append({"name": part, kind: {**ref, "items": [{"key": key, "path": key}]}})
            mounts.append({"name": part, "mountPath": f"/parts/{i}", "readOnly": True})
            sources.append(f"/parts/{i}/{key}")
        volumes.append({"name": volume, "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}})
        init = self.container(
            f"assemble-{volume}", self.site.images.third_party(BUSYBOX_IMAGE), None,
            {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}},
            command=["sh", "-c", f"set -e; cat {' '.join(sources)} > {out}; chmod 0644 {out}"],
            volumeMounts=mounts,
        )
        return AssembledFile(
            init, {"name": volume, "mountPath": target, "subPath": filename, "readOnly": True}, volumes
        )

    def ui_port(self, port: int, app: Optional[str] = None) -> None:
        """A web UI port that ingress controllers (or the Istio gateway) may reach."""
        self._ui_ports.setdefault(app or self.APP, set()).add(port)

    def container(
        self,
        name: str,
        image: str,
        section: Optional[ModuleBase] = None,
        default_resources: Optional[Mapping[str, Any]] = None,
        **fields: Any,
    ) -> dict:
        """A container with the deployment's pull policy and the section's resources (config wins over default)."""
        c: dict[str, Any] = {"name": name, "image": image, "imagePullPolicy": self.site.images.pull_policy}
        resources = (
            resources_of(section) if section is not None and section.resources is not None else default_resources
        )
        if resources:
            c["resources"] = {k: dict(v) for k, v in resources.items() if v}
        c.update({k: v for k, v in fields.items() if v is not None and v != []})
        if self.site.hardened:
            c["securityContext"] = hardened_security_context(c.get("securityContext", {}))
        return c

    def deployment(self, name: str, replicas: int, pod: dict, pod_annotations: Optional[Mapping[str, str]] = None,
                   app: Optional[str] = None) -> None:
        """A Deployment, created in done() (its pods' checksum covers every config object of the module)."""
        app = app or self.APP

        def create(checksums: dict[str, OrOutput[str]]) -> k8s.apps.v1.Deployment:
            self.disruption_budget(name, replicas, app)
            return k8s.apps.v1.Deployment(
                *self.child(name),
                metadata=self.meta(name, app=app),
                spec={
                    "replicas": replicas,
                    # Recreate: FATE modules hold fixed ports and volumes a second pod could not share.
                    "strategy": {"type": "Recreate"},
                    "selector": {"matchLabels": selector(self.site, app)},
                    "template": {
                        "metadata": self._template_meta(app, {**(pod_annotations or {}), **checksums}),
                        "spec": pod,
                    },
                },
            )

        self._workloads.append(create)

    def stateful_set(
        self,
        name: str,
        service_name: str,
        replicas: int,
        pod: dict,
        claim_templates: Sequence[dict] = (),
        pod_annotations: Optional[Mapping[str, str]] = None,
        app: Optional[str] = None,
        protect: bool = False,
        **extra_spec: Any,
    ) -> None:
        """A StatefulSet, created in done() like a Deployment; its claims outlive it unless the stack says otherwise.
        `protect`: Pulumi refuses to delete or replace it (the deployment's protect setting decides)."""
        app = app or self.APP

        def create(checksums: dict[str, OrOutput[str]]) -> k8s.apps.v1.StatefulSet:
            self.disruption_budget(name, replicas, app)
            spec: dict[str, Any] = {
                "serviceName": service_name,
                "replicas": replicas,
                "selector": {"matchLabels": selector(self.site, app)},
                "template": {
                    "metadata": self._template_meta(app, {**(pod_annotations or {}), **checksums}),
                    "spec": pod,
                },
                **extra_spec,
            }
            if claim_templates:
                spec["volumeClaimTemplates"] = list(claim_templates)
                policy = "Retain" if self.site.retain_volumes else "Delete"
                spec["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": policy, "whenScaled": "Retain"}
            return k8s.apps.v1.StatefulSet(*self.child(name, protect=protect), metadata=self.meta(name, app=app),
                                           spec=spec)

        self._workloads.append(create)

    def disruption_budget(self, name: str, replicas: int, app: Optional[str] = None) -> None:
        """Voluntary disruptions (node drains) take at most one replica of a replicated module at a time."""
        if replicas < 2:
            return
        k8s.policy.v1.PodDisruptionBudget(
            *self.child(name), metadata=self.meta(name, app=app),
            spec={"maxUnavailable": 1, "selector": {"matchLabels": selector(self.site, app or self.APP)}})

    def _template_meta(self, app: str, annotations: Mapping[str, OrOutput[str]]) -> dict:
        m: dict[str, Any] = {"labels": labels(self.site, app, self.COMPONENT)}
        if annotations:
            m["annotations"] = dict(annotations)
        return m

    def done(self, outputs: Mapping[str, Any], clients: Optional[Mapping[str, Sequence[str]]] = None,
             apps: Sequence[str] = ()) -> None:
        """Finish the module from everything it declared: its workloads (pods annotated with the checksum of every
        config object, so a changed one rolls them), a NetworkPolicy per app, then its outputs.
        `clients` limits who inside the deployment may connect to an app (e.g. MySQL)."""
        checksums = {CHECKSUM_ANNOTATION: self._checksum()} if self._checksums else {}
        for create in self._workloads:
            create(checksums)
        for app in dict.fromkeys([*apps, *self._public_ports, *self._ui_ports, self.APP]):
            self.network_policy(app, self._public_ports.get(app, ()), self._ui_ports.get(app, ()),
                                (clients or {}).get(app), app=app,
                                peer_ports=self._service_ports.get(app, ()) if self.PEER_FACING else ())
        self.register_outputs(dict(outputs))

    def _checksum(self) -> OrOutput[str]:
        """The pods' checksum annotation: of every config object they mount; an Output when a password is one (not
        secret: the Secrets' digests in it are salted and slow)."""
        value = lift(lambda digests: hashlib.sha256("".join(digests).encode()).hexdigest(), self._checksums)
        return pulumi.Output.unsecret(value) if isinstance(value, pulumi.Output) else value

    def network_policy(self, name: str, public_ports: Collection[int] = (), ui_ports: Collection[int] = (),
                       clients: Optional[Sequence[str]] = None, app: Optional[str] = None,
                       peer_ports: Collection[int] = ()) -> None:
        """Ingress to one app's pods: every port from the pods of this deployment (or only from `clients`, on the
        app's ports), `public_ports` from anywhere or the configured CIDRs, `ui_ports` from the ingress controllers,
        `peer_ports` from the namespaces of in-cluster peers, and everything from namespaces the stack allows.
        Egress stays open: parties must reach each other."""
        net = self.site.network
        if net is None:
            return
        instance = {"app.kubernetes.io/instance": self.site.name}

        def port_list(values: Collection[int]) -> list[dict[str, Any]]:
            return [{"protocol": "TCP", "port": p} for p in sorted(set(values))]

        rules: list[dict] = []
        if clients is None:  # the deployment's own pods, on any port (HDFS, Spark and eggroll use many)
            rules.append({"from": [{"podSelector": {"matchLabels": instance}}]})
        else:
            rules.append(
                {"from": [{"podSelector": {"matchLabels": {**instance, "app.kubernetes.io/name": c}}} for c in clients]}
            )
        if net.allow_namespaces:
            rules.append({"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}
                                   for ns in net.allow_namespaces]})
        if public_ports:
            public: dict[str, Any] = {"ports": port_list(public_ports)}
            if net.entry_point_sources:
                public["from"] = [{"ipBlock": {"cidr": c}} for c in net.entry_point_sources]
            rules.append(public)
        if ui_ports and (net.ingress_namespaces or net.ingress_sources):
            rules.append(
                {
                    "from": [
                        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}
                        for ns in net.ingress_namespaces
                    ]
                    + [{"ipBlock": {"cidr": c}} for c in net.ingress_sources],
                    "ports": port_list(ui_ports),
                }
            )
        if peer_ports and net.peer_namespaces:
            rules.append({"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}
                                   for ns in net.peer_namespaces], "ports": port_list(peer_ports)})
        k8s.networking.v1.NetworkPolicy(
            *self.child(name), metadata=self.meta(name, app=app),
            spec={"podSelector": {"matchLabels": selector(self.site, app or self.APP)}, "policyTypes": ["Ingress"],
                  "ingress": rules},
        )

    # -- persistence --

    def data_volume(
        self, volume_name: str, storage: StorageSettings, app: Optional[str] = None
    ) -> tuple[Optional[dict], Optional[dict]]:
        """The pod volume or the StatefulSet claim template for a module's data (exactly one is not None).

        Without persistence: emptyDir. With an existing claim: that PVC (all replicas share it). Otherwise a
        volumeClaimTemplate, so each replica gets its own PVC (KubeFATE #650: datanodes sharing one PVC).
        """
        if not self.site.persistence:
            return {"name": volume_name, "emptyDir": {}}, None
        if storage.existing_claim:
            return {"name": volume_name, "persistentVolumeClaim": {"claimName": storage.existing_claim}}, None
        return None, self.claim_template(volume_name, storage, app)

    def claim_template(self, volume_name: str, storage: StorageSettings, app: Optional[str] = None) -> dict:
        spec: dict[str, Any] = {
            "accessModes": [storage.access_mode],
            "resources": {"requests": {"storage": storage.size}},
        }
        if storage.storage_class is not None:
            spec["storageClassName"] = storage.storage_class
        if self.site.adopt_kubefate:  # claim templates are immutable: exactly KubeFATE's labels
            claim_labels = kubefate_labels(self.site, app or self.APP, helm=self.site.kind != "serving")
        else:
            claim_labels = labels(self.site, app or self.APP, self.COMPONENT)
        return {"metadata": {"name": volume_name, "labels": claim_labels}, "spec": spec}

    def fresh_only(self, **spec: Any) -> dict[str, Any]:
        """StatefulSet settings that are immutable and that KubeFATE did not set: left out when adopting."""
        return {} if self.site.adopt_kubefate else spec

    def claim(self, name: str, storage: StorageSettings) -> k8s.core.v1.PersistentVolumeClaim:
        """A standalone PVC (Deployments' data), kept on destroy unless the stack says otherwise."""
        template = self.claim_template(name, storage)
        return k8s.core.v1.PersistentVolumeClaim(
            *self.child(name, retain_on_delete=self.site.retain_volumes, protect=self.site.protect),
            metadata=self.meta(name, {RETAIN_ANNOTATION: str(self.site.retain_volumes).lower()}),
            spec=template["spec"],
        )

    # -- Ingress --

    def ingress(self, name: str, route: IngressRoute, service_name: str, port: int,
                app: Optional[str] = None) -> Optional[k8s.networking.v1.Ingress]:
        """An Ingress for a web UI; only when hosts are configured (no example.com defaults)."""
        self.ui_port(port, app)
        if not route.hosts:
            return None
        spec: dict[str, Any] = {
            "rules": [
                {
                    "host": host.name,
                    "http": {"paths": [{
                        "path": host.path,
                        "pathType": "Prefix",
                        "backend": {"service": {"name": service_name, "port": {"number": port}}},
                    }]},
                }
                for host in route.hosts
            ]
        }
        if self.site.ingress_class:
            spec["ingressClassName"] = self.site.ingress_class
        if route.tls:
            spec["tls"] = [
                {"secretName": t.secret_name, "hosts": list(t.hosts)} if t.hosts else {"secretName": t.secret_name}
                for t in route.tls
            ]
        annotations = {**({} if self.site.ingress_await_address else SKIP_AWAIT_ANNOTATIONS), **route.annotations}
        return k8s.networking.v1.Ingress(*self.child(name), metadata=self.meta(name, annotations), spec=spec)


@dataclass(frozen=True)
class AssembledFile:
    """What `Module.assembled_file` adds to a pod: the init container that writes the file, the program
    container's mount of it, and the volumes both use."""

    init_container: dict
    mount: dict
    volumes: list[dict]


# --------------------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------------------


def hardened_security_context(given: Mapping[str, Any]) -> dict[str, Any]:
    """Least privilege a container tolerates, keeping what the module asked for (extra capabilities, a user)."""
    sc = dict(given)
    added = list(given.get("capabilities", {}).get("add", []))
    if sc.get("runAsUser", 0) != 0:
        sc["runAsNonRoot"] = True  # an image that runs as a user needs no capability
    else:
        added = list(ROOT_IMAGE_CAPABILITIES) + [c for c in added if c not in ROOT_IMAGE_CAPABILITIES]
    sc["allowPrivilegeEscalation"] = False
    sc["capabilities"] = {"drop": ["ALL"], **({"add": added} if added else {})}
    return sc


def resources_of(section: ModuleBase) -> Optional[dict[str, dict[str, str]]]:
    """A section's container resources (requests / limits that are set), None when it sets none."""
    if section.resources is None:
        return None
    return {
        k: dict(v) for k, v in (("requests", section.resources.requests), ("limits", section.resources.limits)) if v
    }


def config_checksum(name: str, data: Mapping[str, str]) -> str:
    """What a module that mounts another module's config object rolls on (`Module.uses_config`): the checksum the
    owner's pods carry when that object is its only one."""
    return hashlib.sha256(_digest(name, data).encode()).hexdigest()


def _digest(name: str, data: Mapping[str, str], secret_salt: Optional[str] = None) -> str:
    blob = name.encode() + b"\0" + b"\0".join(k.encode() + b"=" + v.encode() for k, v in sorted(data.items()))
    if secret_salt is None:
        return hashlib.sha256(blob).hexdigest()
    return hashlib.pbkdf2_hmac("sha256", blob, secret_salt.encode(), 20_000).hex()


def env(name: str, value: Any) -> dict:
    return {"name": name, "value": str(value)}


def env_from_secret(name: str, secret: str, key: str) -> dict:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def tcp_probes(port: int, liveness_delay: int = 1, readiness_delay: int = 1, timeout: int = 3,
               startup_failures: int = 12) -> dict:
    """Liveness, readiness and startup probes on a TCP port (a slow JVM start is covered by the startup probe)."""
    return _probes({"tcpSocket": {"port": port}}, liveness_delay, readiness_delay, timeout, startup_failures)


def http_probes(port: int, path: str = "/", liveness_delay: int = 1, readiness_delay: int = 1, timeout: int = 3,
                startup_failures: int = 12) -> dict:
    return _probes(
        {"httpGet": {"path": path, "port": port}}, liveness_delay, readiness_delay, timeout, startup_failures
    )


def exec_probes(command: Sequence[str], liveness_delay: int = 1, readiness_delay: int = 1, timeout: int = 3,
                startup_failures: int = 12, failure_threshold: int = 3) -> dict:
    return _probes({"exec": {"command": list(command)}}, liveness_delay, readiness_delay, timeout, startup_failures,
                   failure_threshold)


def _probes(handler: dict, liveness_delay: int, readiness_delay: int, timeout: int, startup_failures: int,
            failure_threshold: int = 3) -> dict:
    def probe(delay: int) -> dict:
        return {**handler, "initialDelaySeconds": delay, "periodSeconds": 10, "timeoutSeconds": timeout,
                "successThreshold": 1, "failureThreshold": failure_threshold}

    return {
        "livenessProbe": probe(liveness_delay),
        "readinessProbe": probe(readiness_delay),
        "startupProbe": {
            **handler,
            "periodSeconds": 10,
            "timeoutSeconds": timeout,
            "failureThreshold": startup_failures,
        },
    }


def node_port_outputs(service: k8s.core.v1.Service) -> pulumi.Output[dict[str, int]]:
    """The NodePorts the cluster really assigned, by Service port name (empty for ClusterIP)."""
    def assigned(spec: Any) -> dict[str, int]:
        if spec is None:
            return {}
        return {str(p.name): int(p.node_port) for p in (spec.ports or []) if getattr(p, "node_port", None)}

    return service.spec.apply(assigned)
