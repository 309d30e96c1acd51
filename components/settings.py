"""The building blocks of every config section: field types with their checks, the base model (camelCase keys,
unknown keys refused, immutable), and the settings every module takes (scheduling, resources, Service, storage,
Ingress). Pure pydantic, no Pulumi: the stack config (stacks/config/) and the components share them.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

ServiceType = Literal["ClusterIP", "NodePort", "LoadBalancer"]
AccessMode = Literal["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany", "ReadWriteOncePod"]

NODE_PORT_RANGE = (30000, 32767)


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$"
)


_QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+)?$")


def _host(value: str) -> str:
    """A host other parties or pods connect to: an IP address or a DNS name (never a URL, never a port)."""
    value = str(value).strip()
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if not _HOSTNAME.match(value):
        scheme, sep, rest = value.partition("://")
        host, colon, port = (rest if sep else value).split("/")[0].rpartition(":")
        if sep or (colon and port.isdigit() and (_HOSTNAME.match(host) or _is_ip(host))):
            # a URL or host:port where the host alone belongs: the port (and the scheme) have keys of their own
            raise ValueError(f"{value!r} is not an IP address or DNS name — give the host alone, "
                             f"{(host if colon else rest.split('/')[0]) or '<host>'!r}")
        raise ValueError(f"{value!r} is not an IP address or DNS name")
    return value


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def split_host_port(value: str) -> tuple[str, int]:
    """`host:port` as (host, port), the port after the last colon; raises ValueError saying which part is wrong."""
    if "://" in str(value):
        raise ValueError(f"{value!r} is a URL, not host:port — give {str(value).split('://')[1].split('/')[0]!r}")
    host, sep, port = str(value).rpartition(":")
    if not sep:
        raise ValueError(f"{value!r} is not host:port (no port)")
    # ASCII digits only: str.isdigit() also passes '٣' and '²', which a port never is
    if not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not host:port (the port {port!r} is not a number from 1 to 65535)")
    try:
        return _host(host), int(port)
    except ValueError as err:
        raise ValueError(f"{value!r} is not host:port ({err})") from None


def _host_port(value: str) -> str:
    """host:port, as FATE's configs write addresses (Traffic Server's tunnel_route, ZooKeeper hosts)."""
    split_host_port(value)
    return value


def _quantity(value: Any) -> str:
    text = str(value)
    if isinstance(value, bool) or not _QUANTITY.match(text):
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. 500m, 2, 4Gi)")
    return text


def _cidr(value: str) -> str:
    ipaddress.ip_network(value, strict=False)  # raises ValueError naming the bad value
    return value


def _dns_label(value: str) -> str:
    if not _DNS_LABEL.match(value):
        raise ValueError(f"{value!r} is not a valid Kubernetes name (lower-case letters, digits and '-', max 63)")
    return value


Host = Annotated[str, AfterValidator(_host)]


HostPort = Annotated[str, AfterValidator(_host_port)]


Quantity = Annotated[str, BeforeValidator(_quantity)]


K8sName = Annotated[str, AfterValidator(_dns_label)]


Cidr = Annotated[str, AfterValidator(_cidr)]


Port = Annotated[int, Field(ge=1, le=65535)]


NodePort = Annotated[int, Field(ge=NODE_PORT_RANGE[0], le=NODE_PORT_RANGE[1])]


PartyId = Annotated[int, Field(ge=1, le=2**31 - 1)]


Count = Annotated[int, Field(ge=0, le=10_000)]


class Model(BaseModel):
    """Base of every config section: camelCase keys, unknown keys rejected, immutable once validated."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        str_strip_whitespace=True,
    )


class Resources(Model):
    """Container resources, as in a Kubernetes container spec."""

    requests: dict[str, Quantity] = Field(default_factory=dict)
    limits: dict[str, Quantity] = Field(default_factory=dict)


class ServiceSettings(Model):
    """How a module's Service is exposed. nodePorts are keyed by the module's port names (see each module)."""

    type: Optional[ServiceType] = Field(
        default=None, description="default: the cloud profile's type for federation entry points, else ClusterIP")
    node_ports: dict[str, NodePort] = Field(
        default_factory=dict, description="NodePort per port name; only with type NodePort or LoadBalancer")
    load_balancer_ip: Optional[str] = Field(
        default=None, alias="loadBalancerIP", description="Static LoadBalancer address (gcp, azure, onprem MetalLB)")
    eip_allocations: list[str] = Field(
        default_factory=list, description="AWS Elastic IP allocation ids, one per subnet of the NLB")
    internal: Optional[bool] = Field(
        default=None, description="Internal (VPC-only) load balancer; default cloud.loadBalancer.internal"
    )
    load_balancer_source_ranges: list[Cidr] = Field(default_factory=list)
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("load_balancer_ip")
    @classmethod
    def _ip(cls, v: Optional[str]) -> Optional[str]:
        if v is not None:
            ipaddress.ip_address(v)
        return v


class StorageSettings(Model):
    """Persistent volume of a module (used when persistence is enabled)."""

    sub_path: Optional[str] = Field(
        default=None, pattern=r"^[A-Za-z0-9._-]+$", description="Directory inside the volume; default the module name")
    storage_class: Optional[str] = Field(
        default=None, description="StorageClass; unset = the cluster default (KubeFATE defaulted it to the module name)"
    )
    size: Quantity = "1Gi"
    access_mode: AccessMode = "ReadWriteOnce"
    existing_claim: Optional[K8sName] = Field(default=None, description="Mount this existing PVC instead of a new one")

    def path(self, default: str) -> str:
        """The directory inside the volume a module mounts: subPath, else the module's own default."""
        return self.sub_path or default


class Endpoint(Model):
    """A host and port another party or an external service listens on."""

    host: Host
    port: Port


class PartyRoute(Model):
    """One remote party: its id and the address of its entry point."""

    party_id: PartyId
    host: Host
    port: Port


# Resource presets a module may pick instead of explicit resources: memory limits 1.5x the request (a JVM that
# outgrows it is restarted, not the node), no CPU limit (throttled JVMs miss gRPC deadlines).
RESOURCE_PRESETS: dict[str, dict[str, dict[str, str]]] = {
    "small": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "1536Mi"}},
    "medium": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "6Gi"}},
    "large": {"requests": {"cpu": "8", "memory": "16Gi"}, "limits": {"memory": "24Gi"}},
}


class ModuleBase(Model):
    """Scheduling and sizing every module takes."""

    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    affinity: dict[str, Any] = Field(default_factory=dict)
    resources: Optional[Resources] = Field(
        default=None,
        description="Container resources; unset = resourcesPreset, else the module's modest default requests",
    )
    resources_preset: Optional[Literal["small", "medium", "large"]] = Field(
        default=None, description="small / medium / large (RESOURCE_PRESETS); explicit resources win")


class ExposedModule(ModuleBase):
    service: ServiceSettings = Field(default_factory=ServiceSettings)


class TlsSecret(Model):
    enabled: bool = False
    secret_name: K8sName


class Spread(Model):
    """Spread replicas over nodes or zones (topologySpreadConstraints), so one failure does not take them all."""

    topology_key: str = "kubernetes.io/hostname"
    max_skew: int = Field(default=1, ge=1)
    when_unsatisfiable: Literal["ScheduleAnyway", "DoNotSchedule"] = "ScheduleAnyway"


class IngressHost(Model):
    name: Host
    path: str = Field(default="/", pattern=r"^/")


class IngressTls(Model):
    secret_name: K8sName
    hosts: list[Host] = Field(default_factory=list)


class IngressRoute(Model):
    hosts: list[IngressHost] = Field(default_factory=list)
    tls: list[IngressTls] = Field(default_factory=list)
    annotations: dict[str, str] = Field(default_factory=dict)

