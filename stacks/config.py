"""The stack configuration: every option of a fate-pulumi deployment, its default, its meaning and its checks.

A stack is configured under the ``fate`` namespace of ``Pulumi.<stack>.yaml`` (``fate:partyId``, ``fate:rollsite`` ...).
`load_config` turns those keys into one validated `DeploymentConfig` or raises `ConfigError`, which names every
offending key and what is allowed, before any resource is registered.

This module is the single place where an option exists. Nothing downstream re-validates or re-defaults; it imports
nothing from pulumi_kubernetes.
"""

from __future__ import annotations

import json
import re
import types
import typing
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional, TypeVar, Union

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    create_model,
    field_validator,
)

from components import registry
from components.fateflow import ServingLink
from components.fatejob import FateJobConfig, VerifyConfig, toy_job
from components.outputs import OrOutput, output_path
from components.registry import BACKEND_ENGINES
from components.security import beyond_baseline
from components.settings import (
    NODE_PORT_RANGE,
    RESOURCE_PRESETS,
    Cidr,
    Host,
    IngressRoute,
    K8sName,
    Model,
    PartyId,
    Resources,
    ServiceSettings,
    StorageSettings,
)
from stacks.clouds import INGRESS_CONTROLLERS, PROFILES, CloudName

S = TypeVar("S", bound=BaseModel)

# one fate:driftIgnore entry: Kind/name:field, globs allowed (fate_pulumi/drift.py applies them)
DRIFT_IGNORE_PATTERN = r"^([^/:\s]+)/([^:\s]+):(\S+)$"


def _drift_ignore(value: str) -> str:
    if not re.match(DRIFT_IGNORE_PATTERN, value):
        raise ValueError(f"{value!r} is not Kind/name:field (e.g. Deployment/*:spec.replicas)")
    return value

NAMESPACE = "fate"  # the Pulumi config namespace (= project name in Pulumi.yaml)

FATE_VERSION = "1.11.2"
FATE_IMAGE_TAG = "1.11.2-release"
SERVING_IMAGE_TAG = "2.1.6-release"


Kind = Literal["party", "exchange", "serving"]
Backend = Literal["eggroll", "spark_rabbitmq", "spark_pulsar", "spark_local_pulsar"]
Computing = Literal["Eggroll", "Spark", "Spark_local"]
Federation = Literal["Eggroll", "Pulsar", "RabbitMQ"]
StorageEngine = Literal["Eggroll", "HDFS", "LocalFS"]
Algorithm = Literal["Basic", "NN", "ALL"]
Device = Literal["CPU", "IPCL", "GPU"]
PullPolicy = Literal["Always", "IfNotPresent", "Never"]

# The modules of each kind of deployment, and of each backend (components/registry.py says which is which).
PARTY_MODULES = registry.of_kind("party")
EXCHANGE_MODULES = registry.of_kind("exchange")
SERVING_MODULES = registry.of_kind("serving")

# Party modules per backend: those the backend cannot run without, and those it may add.
# mysql, spark, hdfs, rabbitmq and pulsar may instead be external services (see `external_services`).
BACKEND_MODULES: dict[str, dict[str, tuple[str, ...]]] = {
    b: {"required": registry.party_backend(b, "required"), "optional": registry.party_backend(b, "optional")}
    for b in BACKEND_ENGINES
}
EXCHANGE_BACKEND_MODULES: dict[str, tuple[str, ...]] = {
    b: registry.exchange_backend(b) for b in BACKEND_ENGINES if registry.exchange_backend(b)
}

# Keys only one kind of deployment takes (the others take every deployment-wide key).
KIND_SECTIONS: dict[str, set[str]] = {
    "party": set(PARTY_MODULES) | {"serving", "computing", "federation", "storage", "algorithm", "device", "jobs",
                                   "verify"},
    "exchange": set(EXCHANGE_MODULES),
    "serving": set(SERVING_MODULES),
}

# Passwords: one top-level secret key each, set with `pulumi config set --secret fate:<key>`.
# value = (which modules need it, the development-only fallback, what it is)
SECRET_KEYS: dict[str, tuple[tuple[str, ...], str, str]] = {
    **registry.PASSWORDS,
    "hivePassword": ((), "", "password of an external Hive (only when python.hive is set)"),
    "zookeeperPassword": ((), "", "password of the FATE-Serving ZooKeeper ACL (only when serving.zookeeper.useAcl)"),
    "tlsCaKey": ((), "", "PEM private key of the stack's CA (only when tls.generate)"),
}

_DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_IMAGE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/:]*[A-Za-z0-9]$|^[A-Za-z0-9]$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


# --------------------------------------------------------------------------------------------------------------
# Field types with their checks
# --------------------------------------------------------------------------------------------------------------














# --------------------------------------------------------------------------------------------------------------
# Building blocks shared by modules
# --------------------------------------------------------------------------------------------------------------


















# --------------------------------------------------------------------------------------------------------------
# Party modules
# --------------------------------------------------------------------------------------------------------------
















































































# --------------------------------------------------------------------------------------------------------------
# Exchange modules
# --------------------------------------------------------------------------------------------------------------






# --------------------------------------------------------------------------------------------------------------
# Serving modules
# --------------------------------------------------------------------------------------------------------------














# --------------------------------------------------------------------------------------------------------------
# Deployment-wide sections
# --------------------------------------------------------------------------------------------------------------








class _IngressBase(Model):
    """Ingresses are created for a module only when it has hosts (KubeFATE always rendered example.com hosts)."""

    class_name: Optional[str] = Field(default=None, description="default: the cloud profile's ingress class")
    await_address: bool = Field(
        default=False, description="`pulumi up` waits (10 min at most) until the ingress controller publishes each "
                                   "Ingress's address; off: an Ingress is done once created, as with Helm")


M = TypeVar("M", bound=BaseModel)


def _extend(name: str, base: type[M], fields: dict[str, Any]) -> type[M]:
    """`base` with fields the registry decides (pydantic's create_model), e.g. one Ingress route per web UI."""
    model: type[M] = create_model(name, __base__=base, __module__=__name__, **fields)
    return model


if TYPE_CHECKING:
    class IngressConfig(_IngressBase):
        def __getattr__(self, name: str) -> IngressRoute: ...
else:
    # one IngressRoute per web UI of the registry (fate:ingress.<module>)
    IngressConfig = _extend("IngressConfig", _IngressBase, {
        m.attr: (IngressRoute, Field(default_factory=IngressRoute)) for m in registry.MODULES if m.ui})


class IstioConfig(Model):
    enabled: bool = False


class NetworkPolicyConfig(Model):
    """Per-module NetworkPolicies: entry points open, internals only to their own deployment, MySQL to its clients."""

    enabled: bool = True
    ingress_namespaces: Optional[list[K8sName]] = Field(
        default=None, description="Namespaces of the ingress controller that may reach the web UIs; default: derived "
                                  "from the ingress class (nginx: ingress-nginx, traefik, webapprouting ...)")
    ingress_sources: Optional[list[Cidr]] = Field(
        default=None, description="CIDRs a cloud L7 balancer reaches the web UIs from; default: derived from the "
                                  "ingress class (alb: private ranges, gce: Google's front-end ranges)")
    entry_point_sources: list[Cidr] = Field(
        default_factory=list, description="CIDRs allowed to reach exposed entry points; empty = anywhere")
    allow_namespaces: list[K8sName] = Field(
        default_factory=list, description="Other namespaces (e.g. an in-cluster exchange) allowed to reach every module"
    )


class PodSecurityConfig(Model):
    """Least privilege FATE's images tolerate: seccomp RuntimeDefault, no privilege escalation, capabilities
    dropped to what each image needs, non-root where the image runs as a user."""

    enabled: bool = True
    admission: Optional[Literal["baseline", "privileged"]] = Field(
        default=None, description="Pod Security Admission level enforced on the namespace (labels "
                                  "pod-security.kubernetes.io/enforce, warn, audit); baseline refuses mysql (SYS_NICE) "
                                  "and nodemanager (SYS_PTRACE); FATE's images run as root, so never restricted")


class TlsConfig(Model):
    """Certificates the stack issues itself (rollsite mutual TLS, Pulsar broker, Traffic Server proxy) from its CA.
    Without `generate` the Secrets (eggroll-certs, pulsar-cert, traffic-server-cert) are expected to exist."""

    generate: bool = False
    ca_certificate: Optional[str] = Field(
        default=None, description="PEM of this stack's CA (its key: secret fate:tlsCaKey); `fate-pulumi ca`")
    trusted_ca_certificates: list[str] = Field(default_factory=list, description="PEMs of the peers' CAs")
    valid_from: Optional[date] = Field(
        default=None,
        description="Fixed start of validity (set a new one to rotate by hand); unset: renewing — the "
        "start moves every validDays - renewBeforeDays, so `pulumi up` issues new certificates "
        "before the old ones expire",
    )
    valid_days: int = Field(default=365, ge=2, le=3650)
    renew_before_days: int = Field(default=30, ge=1, le=3649, description="With a renewing start: how long before "
                                                                          "expiry the next `pulumi up` renews")
    domain: Host = Field(default="fate.org", description="Domain of the SNI names (<partyId>.<domain>, proxy.<domain>)")

    @field_validator("ca_certificate", "trusted_ca_certificates")
    @classmethod
    def _pem(cls, v: Any) -> Any:
        from cryptography import x509

        for pem in ([v] if isinstance(v, str) else v or []):
            try:
                x509.load_pem_x509_certificate(pem.encode())
            except ValueError:  # cryptography's reason is for programmers (ASN.1 tags, an FAQ link)
                raise ValueError("not a PEM certificate (-----BEGIN CERTIFICATE----- ...); give the whole ca.pem "
                                 "file `fate-pulumi ca` wrote") from None
        return v


class PersistenceConfig(Model):
    enabled: bool = Field(
        default=True, description="PVCs for mysql, fateflow, notebook, nodemanager, hdfs, pulsar, serving"
    )
    retain_on_destroy: bool = Field(
        default=True, description="Keep PVCs (and a namespace we created) on pulumi destroy")
    protect: Optional[bool] = Field(
        default=None, description="Pulumi protect on MySQL and the volume claims the stack creates: `pulumi destroy` "
                                  "(or a change that would replace them) is refused until this is set false and "
                                  "applied; default: on with persistence")


class StackKubeconfig(Model):
    """The kubeconfig a cluster stack exports (pulumi-eks, -gcp, -azure-native ...), read by a StackReference."""

    stack: str = Field(
        pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}$", description="org/project/stack of the cluster stack"
    )
    output: str = Field(default="kubeconfig", min_length=1)


class KubernetesTarget(Model):
    """Which cluster the stack deploys to; one explicit provider serves every resource."""

    kubeconfig: Optional[str] = Field(default=None, description="Path to a kubeconfig file (or its content)")
    stack_reference: Optional[StackKubeconfig] = Field(
        default=None, description="Take the kubeconfig from another stack's output (cluster hand-off)")
    context: Optional[str] = None
    cluster: Optional[str] = None
    render_yaml_to_directory: Optional[str] = Field(
        default=None, description="Write manifests on `pulumi up` instead of applying them (GitOps)")
    enable_server_side_apply: bool = True
    cluster_identifier: Optional[str] = Field(
        default=None,
        description="Stable cluster id: only its change replaces the provider (default: context or 'default')",
    )


class CloudLoadBalancer(Model):
    internal: bool = Field(default=False, description="Entry points on internal (VPC-only) load balancers")
    source_ranges: list[Cidr] = Field(default_factory=list, description="CIDRs allowed to reach the entry points")


class GpuPlacement(Model):
    node_selector: Optional[dict[str, str]] = None
    tolerations: Optional[list[dict[str, Any]]] = None


class CloudConfig(Model):
    """Cloud profile: defaults for entry-point Services, storage and ingress classes, GPU pools (stacks/clouds.py)."""

    provider: CloudName = "onprem"
    load_balancer: CloudLoadBalancer = Field(default_factory=CloudLoadBalancer)
    storage_class: Optional[str] = Field(
        default=None, description="StorageClass for every persistent module (overrides the profile)"
    )
    ingress_class: Optional[str] = Field(default=None, description="Ingress class (overrides the profile)")
    gpu: GpuPlacement = Field(default_factory=GpuPlacement)


class _SecretsBase(Model):
    """Passwords, from `pulumi config set --secret fate:<key>`; never written to a ConfigMap. Kept exactly as set:
    a blank at either end is part of the password (MySQL's data keeps the password it was created with). A
    component's password may be an Output another resource computes (`password`): set, its text unknown here."""

    model_config = ConfigDict(**{**Model.model_config, "str_strip_whitespace": False,
                                 "arbitrary_types_allowed": True})


if TYPE_CHECKING:
    class Secrets(_SecretsBase):
        def __getattr__(self, name: str) -> Optional[Union[SecretStr, pulumi.Output[str]]]: ...
else:
    # one optional secret per password key
    Secrets = _extend("Secrets", _SecretsBase,
                      {registry.snake(key): (Optional[Union[SecretStr, pulumi.Output]], None) for key in SECRET_KEYS})


_snake = registry.snake


class DeploymentBase(Model):
    """One deployment: a FATE party, an exchange or a FATE-Serving cluster. The modules' sections (rollsite,
    python ...) are added from the registry (`DeploymentConfig`)."""

    kind: Kind = "party"
    party_id: PartyId = Field(description="FATE party id (an exchange conventionally uses 1)")
    name: Optional[K8sName] = Field(
        default=None,
        description="Deployment name (KubeFATE cluster name); "
                    "default fate-<partyId>, fate-exchange, fate-serving-<partyId>",
    )
    namespace: Optional[K8sName] = Field(default=None, description="Target namespace; default = name")
    create_namespace: bool = True
    development: bool = Field(default=False, description="Allow development fallbacks for unset passwords (warns)")
    public_host: Optional[Host] = Field(
        default=None, description="Address other parties use to reach this deployment's NodePorts/LoadBalancers")
    kubernetes: KubernetesTarget = Field(default_factory=KubernetesTarget)
    adopt_kubefate: bool = Field(
        default=False, description="Take over a running KubeFATE deployment in place (its selectors and volume claims)")
    cloud: CloudConfig = Field(default_factory=CloudConfig)

    registry: Optional[str] = Field(
        default=None, description="Image registry prefix for every image, e.g. harbor.bank.example/federatedai")
    image_tag: Optional[str] = Field(
        default=None, description="FATE image tag; default 1.11.2-release (serving 2.1.6-release)"
    )
    pull_policy: PullPolicy = "IfNotPresent"
    image_pull_secrets: list[K8sName] = Field(default_factory=list)
    persistence: PersistenceConfig = Field(default_factory=PersistenceConfig)
    ingress: IngressConfig = Field(default_factory=IngressConfig)
    istio: IstioConfig = Field(default_factory=IstioConfig)
    network_policy: NetworkPolicyConfig = Field(default_factory=NetworkPolicyConfig)
    tls: TlsConfig = Field(default_factory=TlsConfig)
    pod_security: PodSecurityConfig = Field(default_factory=PodSecurityConfig)
    drift_ignore: list[Annotated[str, AfterValidator(_drift_ignore)]] = Field(
        default_factory=list, description="Fields `fate-pulumi drift` does not report, as Kind/name:field (`*` "
                                          "matches any), e.g. Deployment/*:spec.replicas under an autoscaler",
        examples=[["Deployment/*:spec.replicas"]])

    backend: Backend = "eggroll"
    computing: Optional[Computing] = None
    federation: Optional[Federation] = None
    storage: Optional[StorageEngine] = None
    algorithm: Algorithm = "Basic"
    device: Device = "CPU"
    modules: Optional[list[str]] = Field(default=None, description="Modules to deploy; default = all of the backend",
                                         examples=[["rollsite", "clustermanager", "nodemanager", "mysql", "python"]])

    serving: ServingLink = Field(default_factory=ServingLink)

    jobs: list[FateJobConfig] = Field(
        default_factory=list, description="FATE jobs `pulumi up` runs on this party once it is up "
                                          "(components/fatejob.py)")
    verify: VerifyConfig = Field(default_factory=VerifyConfig)

    secrets: Secrets = Field(default_factory=Secrets, exclude=True)

    # ---- derived facts (computed once, used by the compositions) ----

    @property
    def deployment_name(self) -> str:
        if self.name:
            return self.name
        return {
            "party": f"fate-{self.party_id}",
            "exchange": "fate-exchange",
            "serving": f"fate-serving-{self.party_id}",
        }[self.kind]

    @property
    def target_namespace(self) -> str:
        return self.namespace or self.deployment_name

    @property
    def engines(self) -> tuple[str, str, str]:
        """(computing, federation, storage) in FATE's words."""
        return BACKEND_ENGINES[self.backend]

    @property
    def fate_image_tag(self) -> str:
        return self.image_tag or (SERVING_IMAGE_TAG if self.kind == "serving" else FATE_IMAGE_TAG)

    @property
    def enabled_modules(self) -> tuple[str, ...]:
        """Modules that are deployed, in a stable order."""
        if self.kind == "exchange":
            chosen = self.modules if self.modules is not None else EXCHANGE_BACKEND_MODULES.get(self.backend, ())
            return tuple(m for m in EXCHANGE_MODULES if m in chosen)
        if self.kind == "serving":
            chosen = self.modules if self.modules is not None else SERVING_MODULES
            return tuple(m for m in SERVING_MODULES if m in chosen)
        spec = BACKEND_MODULES[self.backend]
        if self.modules is not None:
            party = set(self.modules)
        else:
            party = (set(spec["required"]) | set(spec["optional"])) - self.external_services
        return tuple(m for m in PARTY_MODULES if m in party)

    @property
    def fate_jobs(self) -> list[FateJobConfig]:
        """The jobs `pulumi up` runs: the toy tests of `verify`, then `jobs`."""
        return [toy_job(self.party_id, peer, self.verify.timeout) for peer in self.verify.toy] + list(self.jobs)

    @property
    def external_services(self) -> set[str]:
        """Party modules replaced by an external service the user configured."""
        return {
            m.name for m in registry.MODULES if m.external is not None and section_at(self, m.external.key) is not None
        }

    def module(self, name: str) -> Any:
        """The config section of a module, by its FATE name (e.g. 'trafficServer')."""
        return getattr(self, _snake(name))

    def section(self, model: type[S]) -> S:
        """The top-level section of this model type (the one Context.section of the components means)."""
        name = _SECTION_OF.get(model)
        if name is None:
            raise KeyError(f"no config section of type {model.__name__}")
        value = getattr(self, name)
        assert isinstance(value, model)
        return value


if TYPE_CHECKING:
    class DeploymentConfig(DeploymentBase):
        """DeploymentBase with every module's section (typed loosely for the checker; pydantic checks the values)."""

        def __getattr__(self, name: str) -> Any: ...
else:
    # the module sections, in registry order
    DeploymentConfig = _extend("DeploymentConfig", DeploymentBase, {
        m.attr: (m.section, Field(default_factory=m.section)) for m in registry.MODULES})

_SECTION_OF: dict[type, str] = {m.section: m.attr for m in registry.MODULES}
_SECTION_OF.update({info.annotation: name for name, info in DeploymentBase.model_fields.items()
                    if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)})


# --------------------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    key: str  # full key path, e.g. fate:rollsite.service.nodePorts.rollsite
    message: str  # what is wrong and what is allowed / how to fix it


class ConfigError(Exception):
    """The stack configuration is invalid; every problem names its key."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        lines = [f"  {p.key}: {p.message}" for p in self.problems]
        super().__init__("invalid stack configuration:\n" + "\n".join(lines))

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.problems]


def _key(path: Iterable[Any]) -> str:
    text = f"{NAMESPACE}:"
    first = True
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("" if first else ".") + str(part)
        first = False
    return text


def _allowed_keys(loc: tuple[Any, ...], root: Any = None) -> Optional[list[str]]:
    """Keys allowed at the parent of `loc` (for 'unknown key' errors)."""
    model = _model_of(_annotation_at(root or DeploymentConfig, loc[:-1]))
    if model is None:
        return None
    return _keys(model)


def _keys(model: Any) -> list[str]:
    return sorted(f.alias or n for n, f in model.model_fields.items() if not f.exclude)


def _core(annotation: Any) -> Any:
    """Optional[X] / Annotated[X, ...] as X."""
    while True:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        origin = typing.get_origin(annotation)
        if origin is Annotated or (origin in (typing.Union, types.UnionType) and len(args) == 1):
            annotation = args[0]
        else:
            return annotation


def _annotation_at(root: Any, loc: Iterable[Any]) -> Any:
    """The type of the value at `loc` (field aliases, list indices, mapping keys) below the model `root`; None when
    the path leaves the models."""
    annotation = root
    for part in loc:
        annotation = _core(annotation)
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields = {(f.alias or n): f for n, f in annotation.model_fields.items()}
            field = fields.get(part)
            if field is None:
                return None
            annotation = field.annotation
        elif origin in (list, tuple, set, frozenset) and args and isinstance(part, int):
            annotation = args[0]
        elif origin is dict and len(args) == 2:
            annotation = args[1]
        else:
            return None
    return annotation


def _example(annotation: Any, depth: int = 0) -> str:
    """A value of this type, as YAML in flow style: a mapping of settings shows its required keys (placeholders, or
    the shape of a required list or mapping) or else one key with its default."""
    annotation = _core(annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = [(f.alias or n, f) for n, f in annotation.model_fields.items() if not f.exclude]
        required = [(alias, f) for alias, f in fields if f.is_required()]
        if required:
            def value(alias: str, f: Any) -> str:
                structured = _model_of(f.annotation) or typing.get_origin(_core(f.annotation)) in (list, dict)
                return _example(f.annotation, depth + 1) if structured and depth < 2 else f"<{alias}>"

            return "{" + ", ".join(f"{alias}: {value(alias, f)}" for alias, f in required) + "}"
        for alias, f in fields:
            if isinstance(f.default, (bool, int, str)) and f.default != "":
                return "{" + f"{alias}: {_scalar(f.default)}" + "}"
            if f.examples:
                return "{" + f"{alias}: {_flow(f.examples[0])}" + "}"
            if typing.get_origin(_core(f.annotation)) is Literal:
                return "{" + f"{alias}: {_example(f.annotation)}" + "}"
        return "{" + f"{fields[0][0]}: ..." + "}" if fields else "{}"
    if origin in (list, tuple, set, frozenset):
        return f"[{_example(args[0], depth) if args else '...'}]"
    if origin is dict:
        return "{<name>: " + (_example(args[1], depth) if len(args) == 2 else "<value>") + "}"
    if origin is Literal:
        return _scalar(args[0])
    return {str: "<text>", int: "<number>", bool: "true"}.get(annotation, "<value>")


def _flow(value: Any) -> str:
    """A value as YAML in flow style."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return text if re.fullmatch(r"[A-Za-z0-9_./-]+", text) else json.dumps(text)


def _shown(value: Any) -> str:
    """A value the user gave, short, as they wrote it (None as YAML's null)."""
    text = "null" if value is None else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# pydantic's error types for a value of the wrong shape: a scalar where settings (a mapping) or a list belong
_SHAPES = {"model_type": "a mapping of settings", "model_attributes_type": "a mapping of settings",
           "dict_type": "a mapping", "list_type": "a list", "tuple_type": "a list", "set_type": "a list"}


def shape_message(error: Any, root: Any) -> Optional[str]:
    """For a pydantic error (an item of ValidationError.errors()) about a value of the wrong shape — `true` or a
    string where a section's mapping of settings or a list belongs — what is expected, with an example and the keys
    of the section, instead of pydantic's "instance of PersistenceConfig"; None for any other error. `root` is the
    model validated (DeploymentConfig for a stack, the topology model for a topology)."""
    shape = _SHAPES.get(error["type"])
    if shape is None:
        return None
    loc = _real_loc(error["loc"])
    annotation = _annotation_at(root, loc)
    got = f", not {_shown(error['input'])}" if "input" in error else ""
    if annotation is None:
        return f"expects {shape}{got}"
    parent = _model_of(_core(_annotation_at(root, loc[:-1]))) if loc else None
    field = None
    if parent is not None:
        field = next((f for n, f in parent.model_fields.items() if (f.alias or n) == loc[-1]), None)
    example = _flow(field.examples[0]) if field is not None and field.examples else _example(annotation)
    message = f"expects {shape}{got} — e.g. {example}"
    model = _model_of(_core(annotation)) if shape == "a mapping of settings" else None
    if model is not None:
        message += "; its keys: " + ", ".join(_keys(model))
    return message


def _real_loc(loc: Iterable[Any]) -> tuple[Any, ...]:
    """pydantic puts the union/validator name into loc for some errors; keep only real path parts."""
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))


def _model_of(annotation: Any) -> Any:
    """The BaseModel class inside an annotation like Optional[X] / list[X] / dict[K, X]."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _from_validation_error(err: ValidationError) -> list[Problem]:
    problems = []
    for e in err.errors():
        loc = _real_loc(e["loc"])
        shape = shape_message(e, DeploymentConfig)
        if shape is not None:
            msg = shape
        elif e["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc)
            msg = "unknown key"
            if allowed is not None:
                msg += "; allowed here: " + ", ".join(allowed)
        elif e["type"] == "literal_error":
            msg = f"{e['input']!r} is not allowed; {e['msg'].replace('Input should be', 'use')}"
        else:
            # a validator's own message (ValueError) already names the value
            msg = e["msg"].removeprefix("Value error, ")
            if e["type"].startswith("date"):
                msg += "; write a date as YYYY-MM-DD"
            if e["type"] not in ("missing",) and "input" in e and not isinstance(e["input"], (dict, list)) \
                    and repr(e["input"]) not in msg:
                msg += f" (got {_shown(e['input'])})"
        problems.append(Problem(_key(loc), msg))
    return problems


# --------------------------------------------------------------------------------------------------------------
# Cross-field checks (run after parsing; each problem names its key)
# --------------------------------------------------------------------------------------------------------------


def _check(cfg: DeploymentConfig, set_keys: set[str]) -> list[Problem]:
    p: list[Problem] = []
    kind = cfg.kind
    modules = set(cfg.enabled_modules)

    # Sections that belong to another kind of deployment.
    kind_sections = KIND_SECTIONS
    all_sections = set().union(*kind_sections.values())
    for key in sorted(set_keys & (all_sections - kind_sections[kind])):
        p.append(
            Problem(
                _key([key]),
                f"not used by a deployment of kind {kind}; remove it "
                f"(it belongs to kind {', '.join(k for k, s in kind_sections.items() if key in s)})",
            )
        )

    if cfg.modules is not None:
        allowed = {"party": PARTY_MODULES, "exchange": EXCHANGE_MODULES, "serving": SERVING_MODULES}[kind]
        for i, m in enumerate(cfg.modules):
            if m not in allowed:
                p.append(
                    Problem(
                        _key(["modules", i]), f"unknown module {m!r} for kind {kind}; allowed: {', '.join(allowed)}"
                    )
                )
        for m, n in Counter(cfg.modules).items():
            if n > 1:
                p.append(Problem(_key(["modules"]), f"module {m!r} is listed {n} times"))
        if not cfg.modules:  # the one problem: what each backend then misses would only repeat it
            return p + [Problem(_key(["modules"]), "empty module list; omit the key to deploy the backend's modules")]

    if kind == "party":
        p += _check_party(cfg, modules)
        p += _check_jobs(cfg, modules)
    elif kind == "exchange":
        if cfg.rollsite.exchange_list:
            p.append(
                Problem(
                    _key(["rollsite", "exchangeList"]),
                    "an exchange chains to one upstream exchange: use rollsite.exchange",
                )
            )
        if cfg.backend == "spark_rabbitmq":
            p.append(
                Problem(
                    _key(["backend"]),
                    "spark_rabbitmq has no exchange (RabbitMQ federates peer to peer); "
                    "use eggroll (rollsite) or spark_pulsar / spark_local_pulsar (trafficServer + nginx)",
                )
            )
        if "backend" in set_keys and cfg.modules is not None:
            for i, m in enumerate(cfg.modules):
                if cfg.backend in EXCHANGE_BACKEND_MODULES and m not in EXCHANGE_BACKEND_MODULES[cfg.backend]:
                    p.append(Problem(_key(["modules", i]), f"{m!r} does not serve backend {cfg.backend}; allowed: "
                                                           f"{', '.join(EXCHANGE_BACKEND_MODULES[cfg.backend])}"))
    else:
        p += _check_serving(cfg, modules)

    p += _check_routes(cfg, modules)
    p += _check_services(cfg, modules)
    p += _check_storage(cfg, modules)
    p += _check_secrets(cfg, modules)
    p += _check_target(cfg)
    p += _check_tls(cfg)
    if cfg.registry is not None and not _IMAGE_REF.match(cfg.registry.rstrip("/")):
        p.append(
            Problem(
                _key(["registry"]), f"{cfg.registry!r} is not a registry prefix like harbor.example.org/federatedai"
            )
        )
    if cfg.image_tag is not None and not _TAG.match(cfg.image_tag):
        p.append(Problem(_key(["imageTag"]), f"{cfg.image_tag!r} is not a valid image tag"))
    return p


def _check_party(cfg: DeploymentConfig, modules: set[str]) -> list[Problem]:
    p: list[Problem] = []
    computing, federation, storage = cfg.engines
    for key, given, implied in (("computing", cfg.computing, computing), ("federation", cfg.federation, federation),
                                ("storage", cfg.storage, storage)):
        if given is not None and given != implied:
            p.append(Problem(_key([key]), f"{given!r} contradicts backend {cfg.backend} ({key} {implied}); "
                                          f"set backend to the combination you want or remove {key}"))
    spec = BACKEND_MODULES[cfg.backend]
    external = cfg.external_services
    if cfg.modules is not None:
        for i, m in enumerate(cfg.modules):
            if m in PARTY_MODULES and m not in spec["required"] and m not in spec["optional"]:
                p.append(Problem(_key(["modules", i]), f"{m!r} is not part of backend {cfg.backend}; modules allowed: "
                                                       f"{', '.join(spec['required'] + spec['optional'])}"))
            if m in external:
                p.append(Problem(_key(["modules", i]), f"{m!r} is configured as an external service; remove it from "
                                                       f"modules or remove the external setting"))
        for m in spec["required"]:
            if m not in modules and m not in external:
                ext = registry.BY_NAME[m].external
                hint = f" or {ext.hint}" if ext else ""
                p.append(Problem(_key(["modules"]), f"backend {cfg.backend} needs module {m!r}; add it{hint}"))
    if cfg.algorithm == "ALL" and cfg.device == "CPU" or cfg.device == "IPCL" and cfg.algorithm != "Basic" \
            or cfg.device == "GPU" and cfg.algorithm == "Basic":
        p.append(
            Problem(
                _key(["algorithm"]),
                f"FATE {FATE_VERSION} ships no image for algorithm {cfg.algorithm} on device "
                f"{cfg.device}; supported: CPU with Basic/NN, IPCL with Basic, GPU with NN/ALL",
            )
        )
    if cfg.python.gpu_count is not None and cfg.device != "GPU":
        p.append(Problem(_key(["python", "gpuCount"]), "only used with device GPU"))
    if cfg.istio.enabled and computing != "Eggroll":
        p.append(
            Problem(
                _key(["istio", "enabled"]),
                "Istio mode is only supported with the eggroll backend (KubeFATE docs: not compatible with Spark)",
            )
        )
    sp = cfg.python.spark
    if sp.port_max_retries is not None and (sp.driver_start_port is None or sp.block_manager_start_port is None):
        p.append(Problem(_key(["python", "spark", "portMaxRetries"]),
                         "needs python.spark.driverStartPort and python.spark.blockManagerStartPort"))
    if sp.driver_host_type is not None and sp.port_max_retries is None:
        p.append(
            Problem(
                _key(["python", "spark", "driverHostType"]),
                "needs python.spark.portMaxRetries (the driver ports to expose)",
            )
        )
    if cfg.serving.use_registry and cfg.serving.zookeeper is None:
        p.append(
            Problem(
                _key(["serving", "zookeeper"]),
                "serving.useRegistry needs serving.zookeeper.hosts (the FATE-Serving ZooKeeper)",
            )
        )
    if (cfg.serving.host is None) != (cfg.serving.port is None):
        p.append(
            Problem(
                _key(["serving"]), "set both serving.host and serving.port (the serving-server endpoint) or neither"
            )
        )
    if cfg.pulsar.exchange is not None and "pulsar" not in modules:
        p.append(Problem(_key(["pulsar", "exchange"]), "needs the pulsar module"))
    polling = cfg.rollsite.polling
    if cfg.rollsite.exchange_list and cfg.rollsite.exchange is not None:
        p.append(
            Problem(
                _key(["rollsite", "exchangeList"]),
                "use either rollsite.exchange (one exchange) or "
                "rollsite.exchangeList (load-balanced exchanges), not both",
            )
        )
    # eggroll 2.5.1 (and 2.5.3): a polling client polls its default route (Polling.scala L81, Router.query("default"))
    # and sends by its route table like any rollsite (EggSiteServicer.scala L80, Push.scala L430): partyList peers
    # directly, every other party over the default route — the exchange(s) when set, else polling.server
    exchange = ("exchange" if cfg.rollsite.exchange is not None
                else "exchangeList" if cfg.rollsite.exchange_list else None)
    if polling.enabled:
        if polling.type is None:
            p.append(
                Problem(_key(["rollsite", "polling", "type"]), "required when polling is enabled: client or server")
            )
        if polling.type == "client" and polling.server is None and exchange is None:
            p.append(Problem(_key(["rollsite", "polling", "server"]),
                             "a polling client needs the server's host and port (or an exchange: it polls its "
                             "default route)"))
        if polling.type == "client" and polling.server is not None and exchange is not None:
            p.append(Problem(_key(["rollsite", "polling", "server"]),
                             f"unused: a polling client polls its default route, which is rollsite.{exchange}; "
                             "remove one of them"))
        if polling.type == "server" and not polling.client_list:
            p.append(
                Problem(
                    _key(["rollsite", "polling", "clientList"]), "a polling server needs the party ids of its clients"
                )
            )
    p += _check_rollsite_tls(cfg, modules)
    return p


def reachable_parties(cfg: DeploymentConfig) -> Optional[set[int]]:
    """The party ids this party's routes reach (itself included); None when a default route (an exchange) leads
    anywhere."""
    modules = set(cfg.enabled_modules)
    if any(m in modules and getattr(cfg.module(m), "exchange", None) for m in ("rollsite", "nginx", "pulsar")):
        return None
    ids = {cfg.party_id}
    if "rollsite" in modules:
        ids |= {peer.party_id for peer in cfg.rollsite.party_list}
        if cfg.rollsite.exchange_list:
            return None
    for m in ("nginx", "pulsar", "rabbitmq"):
        if m in modules:
            ids |= set(cfg.module(m).route_table)
    return ids


def _check_jobs(cfg: DeploymentConfig, modules: set[str]) -> list[Problem]:
    """FATE jobs go to this party's FATE Flow, as their initiator, towards parties its routes reach."""
    p: list[Problem] = []
    if not cfg.jobs and not cfg.verify.toy:
        return p
    if "python" not in modules:
        p.append(Problem(_key(["jobs" if cfg.jobs else "verify"]), "FATE jobs run on FATE Flow: needs module python"))
    names = Counter(j.name for j in cfg.fate_jobs)
    reachable = reachable_parties(cfg)
    for i, job in enumerate(cfg.jobs):
        if names[job.name] > 1:
            clash = " (verify.toy names its tests toy-<peer>)" if job.name.startswith("toy-") else ""
            p.append(Problem(_key(["jobs", i, "name"]), f"{job.name!r} names more than one job{clash}; rename one"))
        initiator = job.initiator
        if initiator is not None and initiator.party_id != cfg.party_id:
            p.append(Problem(_key(["jobs", i, "conf", "initiator", "party_id"]),
                             f"the job is submitted to this party's FATE Flow, so this party ({cfg.party_id}) "
                             f"initiates it, not {initiator.party_id}"))
        unknown = sorted(job.parties - reachable) if reachable is not None else []
        if unknown:
            p.append(Problem(_key(["jobs", i, "conf", "role"]),
                             f"no route of this party leads to {', '.join(map(str, unknown))}: add them to the "
                             f"routes (rollsite.partyList, the route tables) or route through an exchange"))
    for i, peer in enumerate(cfg.verify.toy):
        if reachable is not None and peer not in reachable:
            p.append(Problem(_key(["verify", "toy", i]), f"no route of this party leads to {peer}: add it to the "
                                                         f"routes or route through an exchange"))
    for peer, n in Counter(cfg.verify.toy).items():
        if n > 1:
            p.append(Problem(_key(["verify", "toy"]), f"party {peer} is listed {n} times"))
    return p


def _check_rollsite_tls(cfg: DeploymentConfig, modules: set[str]) -> list[Problem]:
    """A secure route needs this rollsite's client certificate; a certificate the stack issues must name the address
    peers dial (grpc-java checks the server certificate against the route's host)."""
    rs = cfg.rollsite
    if "rollsite" not in modules:
        return []
    p: list[Problem] = []
    secure = [(["rollsite", "partyList", i, "secure"]) for i, r in enumerate(rs.party_list) if r.secure]
    if rs.exchange is not None and rs.exchange.secure:
        secure.append(["rollsite", "exchange", "secure"])
    if not rs.tls.enabled:
        if "rollsiteTls" in rs.service.node_ports:
            p.append(Problem(_key(["rollsite", "service", "nodePorts", "rollsiteTls"]),
                             "rollsite serves TLS only with rollsite.tls.enabled"))
        p += [
            Problem(
                _key(path),
                "dialling with TLS needs this rollsite's client certificate; set rollsite.tls.enabled "
                "(Secret " + rs.tls.secret_name + ")",
            )
            for path in secure
        ]
        if rs.tls.refuse_plaintext:
            p.append(Problem(_key(["rollsite", "tls", "refusePlaintext"]), "needs rollsite.tls.enabled"))
    elif cfg.tls.generate and cfg.public_host is None and rs.service.type in ("NodePort", "LoadBalancer"):
        p.append(Problem(_key(["publicHost"]), "peers verify the issued rollsite certificate against the address they "
                                               "dial; set publicHost to it"))
    return p


def _check_serving(cfg: DeploymentConfig, modules: set[str]) -> list[Problem]:
    p: list[Problem] = []
    if "servingServer" in modules and cfg.serving_server.fateflow is None:
        p.append(
            Problem(
                _key(["servingServer", "fateflow"]),
                "required: the FATE Flow HTTP endpoint of this party (host: fateflow node/LB address, port: its "
                "http NodePort) "
                "for model transfer",
            )
        )
    if cfg.serving_server.cache_type == "redis" and "servingRedis" not in modules and cfg.serving_server.redis is None:
        p.append(
            Problem(
                _key(["servingServer", "cacheType"]), "redis cache needs the servingRedis module or servingServer.redis"
            )
        )
    if cfg.serving_server.redis is not None and "servingRedis" in modules:
        p.append(
            Problem(
                _key(["servingServer", "redis"]),
                "an external Redis replaces the servingRedis module; remove one of them",
            )
        )
    return p


def _duplicates(ids: Iterable[int]) -> list[int]:
    return sorted(i for i, n in Counter(ids).items() if n > 1)


def _check_routes(cfg: DeploymentConfig, modules: set[str]) -> list[Problem]:
    """Party lists and route tables: no duplicates, and a party never lists itself (its own route is generated)."""
    p: list[Problem] = []
    own = cfg.party_id
    lists = {
        "rollsite.partyList": [r.party_id for r in cfg.rollsite.party_list],
        "servingProxy.partyList": [r.party_id for r in cfg.serving_proxy.party_list],
    }
    for key, ids in lists.items():
        for dup in _duplicates(ids):
            p.append(Problem(_key(key.split(".")), f"party {dup} is listed more than once; keep one entry per party"))
        if own in ids:
            p.append(
                Problem(
                    _key(key.split(".")),
                    f"lists this party itself ({own}); its own route is generated, remove the entry",
                )
            )
    tables = {"nginx.routeTable": cfg.nginx.route_table, "rabbitmq.routeTable": cfg.rabbitmq.route_table,
              "pulsar.routeTable": cfg.pulsar.route_table}
    for key, table in tables.items():
        if own in table and not (cfg.kind == "exchange" and key == "nginx.routeTable"):
            p.append(
                Problem(
                    _key(key.split(".") + [str(own)]),
                    f"route for this party itself ({own}); its own route is generated from the local service, "
                    "remove the entry",
                )
            )
    polling = cfg.rollsite.polling
    if polling.enabled and polling.type == "server":
        for dup in _duplicates(polling.client_list):
            p.append(Problem(_key(["rollsite", "polling", "clientList"]), f"party {dup} is listed more than once"))
        clash = set(polling.client_list) & set(lists["rollsite.partyList"])
        for pid in sorted(clash):
            p.append(Problem(_key(["rollsite", "polling", "clientList"]),
                             f"party {pid} is both a polling client and in rollsite.partyList; keep one"))
    fqdns = [r.fqdn for r in cfg.traffic_server.sni_routes]
    for fqdn, n in Counter(fqdns).items():
        if n > 1:
            p.append(Problem(_key(["trafficServer", "sniRoutes"]), f"fqdn {fqdn} is routed {n} times"))
    return p


# Config sections that own a Service: (module name, config path).
# Config sections that own a Service: (module name, config path, the Service).
_EXPOSED = registry.EXPOSED


def section_at(cfg: BaseModel, path: tuple[str, ...]) -> Any:
    """The section at a config path (config keys, e.g. ("hdfs", "namenode"))."""
    obj: Any = cfg
    for part in path:
        obj = getattr(obj, _snake(part))
    return obj


def _check_services(cfg: DeploymentConfig, modules: set[str]) -> list[Problem]:
    p: list[Problem] = []
    seen: dict[int, str] = {}
    for module, path, service in _EXPOSED:
        section = section_at(cfg, path)
        svc: ServiceSettings = section.service
        base = list(path) + ["service"]
        for name, port in svc.node_ports.items():
            key = _key(base + ["nodePorts", name])
            if name not in service.keys:
                p.append(Problem(key, f"{module} has no port {name!r}; ports: {', '.join(service.keys)}"))
            if svc.type == "ClusterIP":
                p.append(
                    Problem(
                        key,
                        f"a NodePort needs {'.'.join(path)}.service.type NodePort or LoadBalancer (type is ClusterIP)",
                    )
                )
            if module in modules:
                if port in seen:
                    p.append(
                        Problem(
                            key,
                            f"NodePort {port} is already used by {seen[port]}; NodePorts must be unique in the stack",
                        )
                    )
                else:
                    seen[port] = ".".join(base + ["nodePorts", name])
        if svc.load_balancer_ip and svc.type != "LoadBalancer":
            p.append(Problem(_key(base + ["loadBalancerIP"]), "only used with service type LoadBalancer"))
        if svc.load_balancer_source_ranges and svc.type != "LoadBalancer":
            p.append(Problem(_key(base + ["loadBalancerSourceRanges"]), "only used with service type LoadBalancer"))
    driver = cfg.python.spark
    if driver.driver_host_type in ("NodePort", "LoadBalancer") and driver.port_max_retries:
        for start, what in (
            (driver.driver_start_port, "driverStartPort"),
            (driver.block_manager_start_port, "blockManagerStartPort"),
        ):
            if start is None:
                continue
            for port in range(start, start + driver.port_max_retries):
                key = _key(["python", "spark", what])
                if not NODE_PORT_RANGE[0] <= port <= NODE_PORT_RANGE[1]:
                    p.append(
                        Problem(
                            key,
                            f"driver port {port} is exposed as a NodePort and must be within "
                            f"{NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]}",
                        )
                    )
                    break
                if port in seen:
                    p.append(Problem(key, f"driver port {port} collides with NodePort of {seen[port]}"))
                seen[port] = f"python.spark.{what}"
    for route in (m.name for m in registry.MODULES if m.ui):
        ing: IngressRoute = getattr(cfg.ingress, _snake(route))
        hosts = [h.name for h in ing.hosts]
        for host, n in Counter(hosts).items():
            if n > 1:
                p.append(Problem(_key(["ingress", route, "hosts"]), f"host {host} is listed {n} times"))
        if (ing.hosts or ing.tls) and route not in modules:
            p.append(
                Problem(
                    _key(["ingress", route]), f"module {route} is not deployed; remove its ingress or add the module"
                )
            )
        if ing.tls and not ing.hosts:
            p.append(Problem(_key(["ingress", route, "tls"]), "TLS without hosts; add ingress hosts"))
    if cfg.istio.enabled and cfg.kind == "exchange":
        p.append(Problem(_key(["istio"]), "not used by an exchange"))
    return p


# Config sections with a volume: (module name, config path).
_STORAGE_SECTIONS = registry.STORAGE_SECTIONS


def _check_storage(cfg: DeploymentConfig, modules: set[str]) -> list[Problem]:
    p: list[Problem] = []
    for _module, path in _STORAGE_SECTIONS:
        st: StorageSettings = section_at(cfg, path).storage
        replicas = getattr(section_at(cfg, path), "replicas", 1)
        if st.existing_claim and replicas > 1 and st.access_mode == "ReadWriteOnce":
            p.append(
                Problem(
                    _key(list(path) + ["storage", "existingClaim"]),
                    f"{replicas} replicas cannot share one ReadWriteOnce claim; use ReadWriteMany or drop "
                    "existingClaim "
                    f"(each replica then gets its own volume)",
                )
            )
    return p


# Every config section that is a module (takes scheduling, resources and a preset).
_MODULE_SECTIONS = tuple(path for _module, path in registry.MODULE_SECTIONS)


def _replace(model: BaseModel, path: tuple[str, ...], value: Any) -> Any:
    """A copy of `model` with the section at `path` (config aliases) replaced."""
    attr = _snake(path[0])
    if len(path) == 1:
        return model.model_copy(update={attr: value})
    return model.model_copy(update={attr: _replace(getattr(model, attr), path[1:], value)})


def _resolve_cloud(cfg: DeploymentConfig) -> DeploymentConfig:
    """Fill what the stack left unset from its cloud profile (stacks/clouds.py): explicit settings always win."""
    prof = PROFILES[cfg.cloud.provider]
    lb = cfg.cloud.load_balancer
    for module, path, _service in _EXPOSED:
        section = section_at(cfg, path)
        svc: ServiceSettings = section.service
        entry = registry.BY_NAME[module].entry_point
        svc_type = svc.type or (prof.entry_point_type if entry else "ClusterIP")
        update: dict[str, Any] = {"type": svc_type}
        if svc_type == "LoadBalancer":
            internal = svc.internal if svc.internal is not None else lb.internal
            annotations = dict(prof.internal_annotations if internal else prof.external_annotations) if entry else {}
            if svc.load_balancer_ip and prof.static_ip_annotation:
                annotations[prof.static_ip_annotation] = svc.load_balancer_ip
                update["load_balancer_ip"] = None
            if svc.eip_allocations and prof.eip_allocations_annotation:
                annotations[prof.eip_allocations_annotation] = ",".join(svc.eip_allocations)
            update["annotations"] = {**annotations, **svc.annotations}
            if entry and not svc.load_balancer_source_ranges and lb.source_ranges:
                update["load_balancer_source_ranges"] = list(lb.source_ranges)
        cfg = _replace(cfg, path + ("service",), svc.model_copy(update=update))
    storage_class = cfg.cloud.storage_class or prof.storage_class
    if storage_class:
        for _module, path in _STORAGE_SECTIONS:
            st: StorageSettings = section_at(cfg, path).storage
            if st.storage_class is None:
                cfg = _replace(cfg, path + ("storage",), st.model_copy(update={"storage_class": storage_class}))
    if cfg.ingress.class_name is None:
        cfg = _replace(
            cfg,
            ("ingress",),
            cfg.ingress.model_copy(update={"class_name": cfg.cloud.ingress_class or prof.ingress_class}),
        )
    net = cfg.network_policy
    controller = INGRESS_CONTROLLERS.get(cfg.ingress.class_name or "")
    if net.ingress_namespaces is None and net.ingress_sources is None and controller is not None:
        cfg = _replace(cfg, ("networkPolicy",), net.model_copy(update={
            "ingress_namespaces": list(controller.namespaces), "ingress_sources": list(controller.cidrs)}))
    for path in _MODULE_SECTIONS:
        section = section_at(cfg, path)
        if section.resources is None and section.resources_preset is not None:
            preset = Resources.model_validate(RESOURCE_PRESETS[section.resources_preset])
            cfg = _replace(cfg, path, section.model_copy(update={"resources": preset}))
    if cfg.device == "GPU":
        py = cfg.python
        gpu = cfg.cloud.gpu
        update = {}
        if not py.node_selector:
            update["node_selector"] = (
                gpu.node_selector if gpu.node_selector is not None else dict(prof.gpu_node_selector)
            )
        if not py.tolerations:
            update["tolerations"] = (
                gpu.tolerations if gpu.tolerations is not None else [dict(t) for t in prof.gpu_tolerations]
            )
        cfg = _replace(cfg, ("python",), py.model_copy(update=update))
    return cfg


def _check_ingress_sources(cfg: DeploymentConfig) -> list[Problem]:
    """An Ingress whose controller's traffic the NetworkPolicies cannot place would be cut off."""
    net = cfg.network_policy
    if not net.enabled or net.ingress_namespaces is not None or net.ingress_sources is not None:
        return []
    routed = [name for name, route in cfg.ingress if isinstance(route, IngressRoute) and route.hosts]
    if not routed:
        return []
    return [Problem(_key(["networkPolicy", "ingressNamespaces"]),
                    f"the UIs' NetworkPolicies must admit the ingress controller of class {cfg.ingress.class_name!r} "
                    f"(ingress.{routed[0]}.hosts is set): name its namespace here, or the CIDRs its traffic comes "
                    f"from in networkPolicy.ingressSources (known classes: {', '.join(INGRESS_CONTROLLERS)})")]


def _check_admission(cfg: DeploymentConfig) -> list[Problem]:
    if cfg.pod_security.admission != "baseline":
        return []
    refused = beyond_baseline(set(cfg.enabled_modules))
    if not refused:
        return []
    why = ", ".join(f"{m} ({'/'.join(caps)})" for m, caps in refused.items())
    return [Problem(_key(["podSecurity", "admission"]),
                    f"the baseline level refuses {why}: use privileged, or leave those modules out")]


def _check_presets(cfg: DeploymentConfig) -> list[Problem]:
    return [Problem(_key(list(path) + ["resourcesPreset"]), "set either resources or resourcesPreset, not both")
            for path in _MODULE_SECTIONS
            if section_at(cfg, path).resources is not None and section_at(cfg, path).resources_preset is not None]


def _check_cloud(cfg: DeploymentConfig) -> list[Problem]:
    """Load-balancer options the chosen cloud cannot honour (checked on the stack's own settings)."""
    p: list[Problem] = []
    name = cfg.cloud.provider
    prof = PROFILES[name]
    if cfg.cloud.load_balancer.internal and not prof.supports_internal:
        p.append(Problem(_key(["cloud", "loadBalancer", "internal"]),
                         f"{name} has no cloud load balancer to make internal; remove it (entry points use NodePorts)"))
    for _module, path, _service in _EXPOSED:
        svc: ServiceSettings = section_at(cfg, path).service
        base = list(path) + ["service"]
        if svc.eip_allocations and prof.eip_allocations_annotation is None:
            p.append(Problem(_key(base + ["eipAllocations"]),
                             f"Elastic IP allocations exist only on aws (cloud.provider is {name}); "
                             "use service.loadBalancerIP for a static address"))
        if svc.load_balancer_ip and not (prof.static_ip_annotation or prof.static_ip_in_spec):
            p.append(Problem(_key(base + ["loadBalancerIP"]),
                             f"{name} load balancers take no requested IP; use service.eipAllocations (Elastic IPs)"))
        if svc.internal and not prof.supports_internal:
            p.append(Problem(_key(base + ["internal"]), f"{name} has no cloud load balancer to make internal"))
        internal = svc.internal if svc.internal is not None else cfg.cloud.load_balancer.internal
        if svc.eip_allocations and internal:
            p.append(Problem(_key(base + ["eipAllocations"]), "Elastic IPs need an internet-facing load balancer; "
                                                               "set service.internal false"))
    return p


def _check_lb_type(cfg: DeploymentConfig) -> list[Problem]:
    """LoadBalancer-only options on a Service that (after defaults) is not a LoadBalancer."""
    p: list[Problem] = []
    for _module, path, _service in _EXPOSED:
        svc: ServiceSettings = section_at(cfg, path).service
        if svc.type == "LoadBalancer":
            continue
        for key, value in (("eipAllocations", svc.eip_allocations), ("internal", svc.internal)):
            if value:
                p.append(Problem(_key(list(path) + ["service", key]),
                                 f"only used with service type LoadBalancer (type is {svc.type})"))
    return p


def _check_tls(cfg: DeploymentConfig) -> list[Problem]:
    t = cfg.tls
    if not t.generate:
        return []
    if t.renew_before_days >= t.valid_days:
        return [Problem(_key(["tls", "renewBeforeDays"]), f"must be below tls.validDays ({t.valid_days})")]
    if t.ca_certificate is None:
        return [
            Problem(
                _key(["tls", "caCertificate"]),
                "tls.generate needs the stack's CA certificate; create one with "
                "`fate-pulumi ca --cn '<name>' --out <dir>`",
            )
        ]
    key = password(cfg, "tlsCaKey")
    if key is None:  # also in development: there is no fallback for a CA key
        return [Problem(f"{NAMESPACE}:tlsCaKey", f"tls.generate needs the CA's private key; run: pulumi config set "
                                                 f"--secret {NAMESPACE}:tlsCaKey -- \"$(cat ca.key)\"")]
    if isinstance(key, pulumi.Output):  # checked once known, where the certificates are issued (stacks/common.py)
        return []
    from components.tls import key_problem

    problem = key_problem(t.ca_certificate, key)
    return [Problem(f"{NAMESPACE}:tlsCaKey", problem)] if problem else []


def _check_target(cfg: DeploymentConfig) -> list[Problem]:
    t = cfg.kubernetes
    if t.stack_reference is not None and (t.kubeconfig or t.render_yaml_to_directory):
        return [
            Problem(
                _key(["kubernetes", "stackReference"]),
                "the kubeconfig comes from the referenced stack; remove kubernetes.kubeconfig / renderYamlToDirectory",
            )
        ]
    if t.render_yaml_to_directory and (t.kubeconfig or t.context or t.cluster):
        return [
            Problem(
                _key(["kubernetes", "renderYamlToDirectory"]),
                "the Kubernetes provider renders without a cluster; remove kubernetes.kubeconfig/context/cluster",
            )
        ]
    return []


def required_secrets(cfg: DeploymentConfig) -> list[str]:
    """Secret keys this deployment needs, by the modules it deploys."""
    modules = set(cfg.enabled_modules)
    needed = []
    for key, (users, _default, _what) in SECRET_KEYS.items():
        if modules & set(users):
            needed.append(key)
    if (
        cfg.kind == "party"
        and "python" in modules
        and cfg.backend == "spark_rabbitmq"
        and "rabbitmqPassword" not in needed
    ):
        needed.append("rabbitmqPassword")  # fateflow logs in to an external RabbitMQ too
    if cfg.kind == "party" and "python" in modules and cfg.python.hive is not None:
        needed.append("hivePassword")
    if cfg.kind == "party" and cfg.serving.zookeeper is not None and cfg.serving.zookeeper.use_acl:
        needed.append("zookeeperPassword")
    if cfg.tls.generate:
        needed.append("tlsCaKey")
    if cfg.kind == "serving" and "servingServer" in modules and cfg.serving_server.redis is not None \
            and "servingRedisPassword" not in needed:
        needed.append("servingRedisPassword")
    # optional passwords: the notebook may run without a password only in development
    return needed


def password(cfg: DeploymentConfig, key: str) -> Optional[OrOutput[str]]:
    """A password as the deployment was given it: its text, or the Output another resource computes it as (a
    component's input: components/outputs.py); None when unset."""
    value = getattr(cfg.secrets, _snake(key))
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _check_secrets(cfg: DeploymentConfig, modules: set[str]) -> list[Problem]:
    p: list[Problem] = []
    if cfg.development:
        return p
    for key in required_secrets(cfg):
        if getattr(cfg.secrets, _snake(key)) is None:
            users = SECRET_KEYS[key][0]
            p.append(
                Problem(
                    f"{NAMESPACE}:{key}",
                    f"not set ({SECRET_KEYS[key][2]}, needed by "
                    f"{', '.join(u for u in users if u in modules) or 'this deployment'}); "
                    f"run: pulumi config set --secret {NAMESPACE}:{key} '<value>'  "
                    f"(or set {NAMESPACE}:development true for a throw-away stack)",
                )
            )
    return p


# --------------------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------------------


def _computed(plain: dict[str, Any]) -> list[Problem]:
    """Settings other than passwords given as Outputs (a component's inputs that other resources compute): they
    decide which objects the deployment has and what they hold, so they must be known when the program runs."""
    problems = []
    for key, value in plain.items():
        path = output_path(value)
        if path is None:
            continue
        fix = "give it as a plain value (only the passwords may be Outputs)"
        if key == "kubernetes":
            fix = ("give the component a Kubernetes provider made from it instead (opts: providers: {kubernetes: "
                   "...}); only the passwords may be Outputs")
        problems.append(Problem(_key([key, *path]), "is a value another resource computes (a Pulumi Output): the "
                                "settings decide which objects the deployment creates, and are read when the "
                                f"program runs, before such a value is known; {fix}"))
    return problems


def load_config(values: dict[str, Any], secret_keys: Iterable[str] = ()) -> DeploymentConfig:
    """Validate the ``fate:*`` config of a stack.

    `values` maps keys without the namespace (``partyId``) to already-parsed values. `secret_keys` are the keys the
    stack stores encrypted; a password given in plain text is rejected (it would sit in Pulumi.<stack>.yaml). A
    password may be a Pulumi Output (a component's input): it counts as set, and is checked once known where it is
    read; any other setting that is one is refused.
    """
    secret_keys = set(secret_keys)
    problems: list[Problem] = []
    plain: dict[str, Any] = {}
    secret_values: dict[str, Any] = {}
    for key, value in values.items():
        if key in SECRET_KEYS:
            if key not in secret_keys and value not in (None, ""):
                problems.append(
                    Problem(
                        f"{NAMESPACE}:{key}",
                        "is stored in plain text; store it encrypted with: "
                        f"pulumi config set --secret {NAMESPACE}:{key} '<value>'",
                    )
                )
            secret_values[_snake(key)] = value if value not in (None, "") else None
        elif key == "secrets":
            problems.append(
                Problem(
                    f"{NAMESPACE}:secrets",
                    "unknown key; passwords are top-level secret keys: " + ", ".join(SECRET_KEYS),
                )
            )
        elif key == "podSecurityPolicy":
            problems.append(
                Problem(
                    f"{NAMESPACE}:podSecurityPolicy",
                    "PodSecurityPolicy was removed in Kubernetes 1.25; "
                    "use podSecurity.admission (Pod Security Admission namespace labels) instead",
                )
            )
        else:
            plain[key] = value
    computed = _computed(plain)
    if computed:  # the rest cannot be checked without those values
        raise ConfigError(problems + computed)
    try:
        secrets = Secrets.model_validate(secret_values)
        cfg = DeploymentConfig.model_validate({**plain, "secrets": secrets})
    except ValidationError as err:
        raise ConfigError(problems + _from_validation_error(err)) from None
    problems += _check_cloud(cfg) + _check_presets(cfg)
    cfg = _resolve_cloud(cfg)
    problems += _check(cfg, set(plain)) + _check_lb_type(cfg) + _check_ingress_sources(cfg) + _check_admission(cfg)
    if problems:
        raise ConfigError(problems)
    return cfg


def model_keys() -> list[str]:
    """Every top-level key a stack may set (for docs and tests)."""
    keys = [f.alias or n for n, f in DeploymentConfig.model_fields.items() if not f.exclude]
    return sorted(keys + list(SECRET_KEYS))


__all__ = [
    "ConfigError", "DeploymentConfig", "Problem", "load_config", "password", "required_secrets",
    "SECRET_KEYS", "NAMESPACE", "BACKEND_MODULES", "PARTY_MODULES", "EXCHANGE_MODULES", "SERVING_MODULES",
    "model_keys",
]
