"""The deployment-wide sections of a stack's config: ingress, istio, networkPolicy, podSecurity, tls, persistence,
kubernetes, cloud, the passwords, and the pieces a deployment's config is extended with from the registry."""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional, TypeVar, Union

import pulumi
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, create_model, field_validator

from components import registry
from components.settings import Cidr, Host, IngressRoute, K8sName, Model
from stacks.clouds import CloudName
from stacks.config.tables import SECRET_KEYS

M = TypeVar("M", bound=BaseModel)


def extend(name: str, base: type[M], fields: dict[str, Any], module: str) -> type[M]:
    """`base` with fields the registry decides (pydantic's create_model), e.g. one Ingress route per web UI."""
    model: type[M] = create_model(name, __base__=base, __module__=module, **fields)
    return model


# one fate:driftIgnore entry: Kind/name:field, globs allowed (fate_pulumi/drift.py applies them)
DRIFT_IGNORE_PATTERN = r"^([^/:\s]+)/([^:\s]+):(\S+)$"


def _drift_ignore(value: str) -> str:
    if not re.match(DRIFT_IGNORE_PATTERN, value):
        raise ValueError(f"{value!r} is not Kind/name:field (e.g. Deployment/*:spec.replicas)")
    return value


DriftIgnore = Annotated[str, AfterValidator(_drift_ignore)]


class _IngressBase(Model):
    """Ingresses are created for a module only when it has hosts (KubeFATE always rendered example.com hosts)."""

    class_name: Optional[str] = Field(default=None, description="default: the cloud profile's ingress class")
    await_address: bool = Field(
        default=False, description="`pulumi up` waits (10 min at most) until the ingress controller publishes each "
                                   "Ingress's address; off: an Ingress is done once created, as with Helm")


class IngressRoutes:
    """The Ingress routes of IngressConfig as the type checker sees them: at run time IngressConfig has one per web UI
    of the registry (`ui=True`, fate:ingress.<module>); tests/config/test_static_types.py fails when the two differ."""

    fateboard: IngressRoute
    client: IngressRoute
    spark: IngressRoute
    rabbitmq: IngressRoute
    pulsar: IngressRoute
    serving_proxy: IngressRoute
    serving_admin: IngressRoute


if TYPE_CHECKING:
    class IngressConfig(_IngressBase, IngressRoutes):
        pass
else:
    IngressConfig = extend("IngressConfig", _IngressBase, {
        m.attr: (IngressRoute, Field(default_factory=IngressRoute)) for m in registry.MODULES if m.ui}, __name__)


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


class SecretValues:
    """The passwords of Secrets as the type checker sees them: at run time Secrets has one per key of SECRET_KEYS (the
    registry's passwords and three more); tests/config/test_static_types.py fails when the two differ."""

    mysql_password: Optional[Union[SecretStr, pulumi.Output]]
    fateboard_password: Optional[Union[SecretStr, pulumi.Output]]
    notebook_hashed_password: Optional[Union[SecretStr, pulumi.Output]]
    rabbitmq_password: Optional[Union[SecretStr, pulumi.Output]]
    serving_redis_password: Optional[Union[SecretStr, pulumi.Output]]
    serving_admin_password: Optional[Union[SecretStr, pulumi.Output]]
    hive_password: Optional[Union[SecretStr, pulumi.Output]]
    zookeeper_password: Optional[Union[SecretStr, pulumi.Output]]
    tls_ca_key: Optional[Union[SecretStr, pulumi.Output]]


if TYPE_CHECKING:
    class Secrets(_SecretsBase, SecretValues):
        pass
else:
    Secrets = extend("Secrets", _SecretsBase,
                     {registry.snake(key): (Optional[Union[SecretStr, pulumi.Output]], None) for key in SECRET_KEYS},
                     __name__)
