"""pulsar: the federation message broker of FATE on Spark with Pulsar (a standalone broker per party)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
from pydantic import Field

from . import endpoints
from .context import Context
from .files import properties
from .kube import Module, Site, node_port_outputs, tcp_probes
from .outputs import OrOutput
from .pulsar_standalone import CERT_DIR, standalone_conf
from .routing import Route, Sections
from .settings import ExposedModule, Host, IngressRoute, K8sName, Model, PartyId, Port, ServiceSettings, StorageSettings

# --------------------------------------------------------------------------------------------------------------
# Config section
# --------------------------------------------------------------------------------------------------------------


class PulsarRoute(Model):
    host: Host
    port: Port
    ssl_port: Port
    proxy: str = ""


class PulsarExchange(Model):
    host: Host
    port: Port
    domain: Host = "fate.org"


class PulsarClient(Model):  # FATE Flow's settings of Pulsar (python.pulsar): an external one
    host: Optional[Host] = Field(default=None, description="External Pulsar; unset = the pulsar module")
    port: Optional[Port] = Field(default=None, description="default: the pulsar module's broker port")
    mng_port: Optional[Port] = Field(default=None, description="default: the pulsar module's admin port")
    topic_ttl: int = Field(default=3, ge=0)
    cluster: str = "standalone"
    tenant: str = "fl-tenant"


class PulsarConfs(Model):
    backlog_quota_default_limit_gb: int = Field(default=10, ge=0, alias="backlogQuotaDefaultLimitGB")
    broker_delete_inactive_topics_frequency_seconds: int = Field(default=60, ge=1)


class PublicLoadBalancer(Model):
    enabled: bool = False


class PulsarTls(Model):
    """Secret with broker.cert.pem, broker.key-pk8.pem, ca.cert.pem; used when an exchange is set."""

    secret_name: K8sName = "pulsar-cert"


class PulsarConfig(ExposedModule):
    env: list[dict[str, Any]] = Field(default_factory=list, description="Extra container env, e.g. PULSAR_MEM")
    confs: PulsarConfs = Field(default_factory=PulsarConfs)
    public_lb: PublicLoadBalancer = Field(default_factory=PublicLoadBalancer, alias="publicLB")
    exchange: Optional[PulsarExchange] = Field(
        default=None, description="Route unknown parties via an ATS exchange (TLS)"
    )
    tls: PulsarTls = Field(default_factory=PulsarTls)
    route_table: dict[PartyId, PulsarRoute] = Field(default_factory=dict, description="Peers, keyed by party id")
    storage: StorageSettings = Field(default_factory=StorageSettings)


IMAGE_TAG = "2.10.1"
IMAGE_UID = 10000
CONFIG_MAP = "pulsar-config"
DEFAULT_RESOURCES = {"requests": {"cpu": "500m", "memory": "1Gi"}}


@dataclass(frozen=True)
class PulsarArgs:
    # the broker's certificate when the party federates through an ATS exchange and the stack issues it (else the
    # Secret tls.secretName is the user's)
    tls_material: Optional[OrOutput[Mapping[str, str]]] = None
    ingress: IngressRoute = IngressRoute()


class Pulsar(Module):
    """StatefulSet and Service `pulsar` (6650, TLS 6651, admin 8080/8081), ConfigMap `pulsar-config`,
    optional Service `pulsar-public-tls`, Ingress `pulsar`; PVC `pulsar-data-pulsar-0`."""

    TYPE = "fate:pulsar:Pulsar"
    APP = "pulsar"
    COMPONENT = "federation"
    PEER_FACING = True

    def __init__(self, name: str, site: Site, section: PulsarConfig, args: PulsarArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        p = endpoints.PULSAR
        tls = section.exchange is not None  # TLS between brokers goes through the exchange's SNI proxy
        self.standalone = standalone_conf(tls, section.confs.backlog_quota_default_limit_gb,
                                          section.confs.broker_delete_inactive_topics_frequency_seconds,
                                          p.port("broker"), p.port("brokerTls"), p.port("web"), p.port("webTls"))
        self.config_map(CONFIG_MAP, {"standalone.conf": properties(self.standalone)})
        if tls and args.tls_material is not None:
            self.secret(section.tls.secret_name, args.tls_material)
        data_volume, claim = self.data_volume("pulsar-data", section.storage)
        mounts: list[dict[str, Any]] = [
            {"name": "pulsar-confs", "mountPath": "/pulsar/conf/standalone.conf", "subPath": "standalone.conf"},
            {"name": "pulsar-data", "mountPath": "/pulsar/data"},
        ]
        volumes: list[dict[str, Any]] = [{"name": "pulsar-confs", "configMap": {"name": CONFIG_MAP}}]
        if tls:  # KubeFATE mounted the Secret even without TLS, so a party without it never started
            mounts.append({"name": "pulsar-cert", "mountPath": CERT_DIR, "readOnly": True})
            volumes.append({"name": "pulsar-cert", "secret": {"secretName": section.tls.secret_name}})
        if data_volume:
            volumes.append(data_volume)
        admin_port = p.port("webTls") if tls else p.port("web")
        container = self.container(
            "pulsar", site.images.fate("pulsar", IMAGE_TAG), section, DEFAULT_RESOURCES,
            command=["/bin/bash", "-c", "exec bin/pulsar standalone -nss"],
            # the image's user since Pulsar 2.10 (apache/pulsar #13376): uid 10000 in group 0, which owns /pulsar's
            # writable directories
            securityContext={"runAsUser": IMAGE_UID, "runAsGroup": 0},
            env=list(section.env) or None,
            ports=[{"name": f"port-{q.port}", "containerPort": q.port} for q in p.ports],
            volumeMounts=mounts,
            **tcp_probes(admin_port),
        )
        self.service_obj = self.service(p.name, p.ports, section.service)
        if section.public_lb.enabled:
            self.service(
                endpoints.PULSAR_PUBLIC_TLS.name,
                endpoints.PULSAR_PUBLIC_TLS.ports,
                ServiceSettings(type="LoadBalancer"),
            )
        # fsGroup 0: the data volume becomes group 0's, writable for the broker
        pod = self.pod_spec([container], section, volumes, securityContext={"fsGroup": 0})
        self.stateful_set("pulsar", p.name, 1, pod, claim_templates=[claim] if claim else [])
        self.ingress("pulsar", args.ingress, p.name, p.port("web"))
        self.node_ports = node_port_outputs(self.service_obj)
        self.done({"endpoint": p.address("broker"), "nodePorts": self.node_ports, "tls": tls})


def build(ctx: Context) -> Pulsar:
    section = ctx.section(PulsarConfig)
    tls = ctx.tls.pulsar_cert(ctx.site.party_id, section.exchange.domain, ctx.public_hosts) \
        if ctx.tls and section.exchange else None
    return Pulsar("pulsar", ctx.site, section, PulsarArgs(tls_material=tls, ingress=ctx.ingress("pulsar")), ctx.opts)


def routes(of: Sections) -> list[Route]:
    """The exchange's Traffic Server, and the peers' brokers (on their TLS port behind an exchange)."""
    pulsar = of.section(PulsarConfig)
    tls = pulsar.exchange is not None
    out = [Route(pulsar.exchange.host, pulsar.exchange.port, "exchange", True)] if pulsar.exchange else []
    return out + [Route(t.host, t.ssl_port if tls else t.port, str(party), tls)
                  for party, t in pulsar.route_table.items()]


def fateflow_link(ctx: Context, client: PulsarClient) -> dict[str, Any]:
    """service_conf.yaml `fate_on_spark.pulsar`: the broker FATE Flow federates through (python.pulsar names an
    external one); its route table is FATE Flow's pulsar-route-table."""
    return {
        "host": client.host or endpoints.PULSAR.name,
        "port": client.port or endpoints.PULSAR.port("broker"),
        "mng_port": client.mng_port or endpoints.PULSAR.port("web"),
        "topic_ttl": client.topic_ttl,
        "cluster": client.cluster,
        "tenant": client.tenant,
        "route_table": "conf/pulsar_route_table/pulsar_route_table.yaml",
        "mode": "replication",
        "max_message_size": 1048576,
    }
