"""trafficServer: Apache Traffic Server, the SNI proxy of a Pulsar exchange (star of Pulsar parties)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

import pulumi
from pydantic import Field

from . import endpoints
from .context import Context
from .files import to_yaml
from .kube import Module, Site, node_port_outputs, tcp_probes
from .outputs import OrOutput
from .routing import Route, Sections
from .settings import ExposedModule, Host, HostPort, K8sName, Model

# --------------------------------------------------------------------------------------------------------------
# Config section
# --------------------------------------------------------------------------------------------------------------


# Beyond the root image set of components/kube.py: traffic_manager binds 443 (registry `capabilities`).
CAPABILITIES = ("NET_BIND_SERVICE",)


class SniRoute(Model):
    fqdn: Host
    tunnel_route: HostPort = Field(description="host:port of the party's pulsar TLS endpoint")


class TrafficServerConfig(ExposedModule):
    replicas: int = Field(default=1, ge=1, le=100)
    image_tag: str = Field(default="latest", description="federatedai/trafficserver publishes no versioned tag")
    sni_routes: list[SniRoute] = Field(default_factory=list)
    cert_secret_name: K8sName = Field(
        default="traffic-server-cert", description="Secret with proxy.cert.pem, proxy.key.pem, ca.cert.pem")


CONFIG_MAP = "traffic-server-config"
SNI_CONFIG_MAP = "traffic-server-sni"
CERT_DIR = "/opt/proxy"
# Traffic Server built with --prefix=/opt/trafficserver (KubeFATE starts /opt/trafficserver/bin/traffic_manager):
# its default layout reads records.config, ssl_multicert.config and sni.yaml from PREFIX/etc/trafficserver.
# KubeFATE mounted two of them under /etc/trafficserver, which works only where the image links the two.
PREFIX = "/opt/trafficserver"
ETC = f"{PREFIX}/etc/trafficserver"
CERT_FILES = ("proxy.cert.pem", "proxy.key.pem", "ca.cert.pem")
DEFAULT_RESOURCES = {"requests": {"cpu": "250m", "memory": "512Mi"}}


def records_config() -> list[tuple[str, str, str]]:
    """records.config: a forward CONNECT tunnel on 443 (TLS) routed by SNI; no caching, no remapping."""
    tls = endpoints.TRAFFIC_SERVER.port("tls")
    http = endpoints.TRAFFIC_SERVER_HTTP_PORT
    return [
        ("INT", "proxy.config.http.cache.http", "0"),
        ("INT", "proxy.config.reverse_proxy.enabled", "0"),
        ("INT", "proxy.config.url_remap.remap_required", "0"),
        ("INT", "proxy.config.url_remap.pristine_host_hdr", "0"),
        ("INT", "proxy.config.http.response_server_enabled", "0"),
        ("STRING", "proxy.config.http.server_ports", f"{http} {http}:ipv6 {tls}:ssl"),
        # pulsar brokers: 6650-6700 in-cluster, 30000-33000 through NodePorts
        ("STRING", "proxy.config.http.connect_ports", f"{tls} 6650-6700 30000-33000"),
        ("STRING", "proxy.config.ssl.CA.cert.filename", "ca.cert.pem"),
        ("STRING", "proxy.config.ssl.CA.cert.path", CERT_DIR),
        ("STRING", "proxy.config.ssl.server.cert.path", CERT_DIR),
        # ssl_multicert's key is looked up here; its default is the sysconfdir Traffic Server was compiled with,
        # which is why KubeFATE also mounted the key there
        ("STRING", "proxy.config.ssl.server.private_key.path", CERT_DIR),
        ("STRING", "proxy.config.ssl.servername.filename", "sni/sni.yaml"),
    ]


def render_records(entries: Sequence[tuple[str, str, str]]) -> str:
    return "".join(f"CONFIG {name} {kind} {value}\n" for kind, name, value in entries)


def sni_yaml(routes: Sequence[SniRoute]) -> dict[str, Any]:
    return {"sni": [{"fqdn": r.fqdn, "tunnel_route": r.tunnel_route} for r in routes]}


class TrafficServer(Module):
    """Deployment and Service `traffic-server` (443), ConfigMaps `traffic-server-config` and `traffic-server-sni`;
    mounts the user's Secret with the proxy certificate."""

    TYPE = "fate:trafficserver:TrafficServer"
    APP = "traffic-server"
    COMPONENT = "federation"
    PEER_FACING = True

    def __init__(self, name: str, site: Site, section: TrafficServerConfig,
                 cert_material: Optional[OrOutput[Mapping[str, str]]] = None,
                 opts: Optional[pulumi.ResourceOptions] = None):
        """`cert_material`: the proxy certificate the stack issues, created as Secret certSecretName (else the
        user's Secret of that name is mounted)."""
        super().__init__(name, site, opts)
        self.sni = sni_yaml(section.sni_routes)
        self.config_map(CONFIG_MAP, {
            "records.config": render_records(records_config()),
            "ssl_multicert.config": "dest_ip=* ssl_cert_name=proxy.cert.pem ssl_key_name=proxy.key.pem\n",
        })
        self.config_map(SNI_CONFIG_MAP, {"sni.yaml": to_yaml(self.sni)})
        if cert_material is not None:
            self.secret(section.cert_secret_name, cert_material)
        tls = endpoints.TRAFFIC_SERVER.port("tls")
        container = self.container(
            "traffic-server",
            site.images.fate("trafficserver", section.image_tag),
            section,
            DEFAULT_RESOURCES,
            command=[f"{PREFIX}/bin/traffic_manager"],
            # traffic_manager binds 443 as root and hands the socket to traffic_server, which runs as
            # proxy.config.admin.user_id (nobody); with ALL dropped, a port below 1024 needs this capability
            securityContext={"capabilities": {"add": list(CAPABILITIES)}},
            ports=[
                {"name": "http", "containerPort": endpoints.TRAFFIC_SERVER_HTTP_PORT},
                {"name": "tls", "containerPort": tls},
            ],
            volumeMounts=[
                {"name": "traffic-server-confs", "mountPath": f"{ETC}/records.config", "subPath": "records.config"},
                {
                    "name": "traffic-server-confs",
                    "mountPath": f"{ETC}/ssl_multicert.config",
                    "subPath": "ssl_multicert.config",
                },
                {"name": "traffic-server-sni", "mountPath": f"{ETC}/sni", "readOnly": True},
                {"name": "traffic-server-cert", "mountPath": CERT_DIR, "readOnly": True},
            ],
            **tcp_probes(tls),
        )
        pod = self.pod_spec([container], section, [
            {"name": "traffic-server-confs", "configMap": {"name": CONFIG_MAP}},
            {"name": "traffic-server-sni", "configMap": {"name": SNI_CONFIG_MAP}},
            {"name": "traffic-server-cert", "secret": {"secretName": section.cert_secret_name}},
        ])
        self.service_obj = self.service(endpoints.TRAFFIC_SERVER.name, endpoints.TRAFFIC_SERVER.ports, section.service)
        self.deployment("traffic-server", section.replicas, pod)
        self.node_ports = node_port_outputs(self.service_obj)
        self.done({"endpoint": endpoints.TRAFFIC_SERVER.address("tls"), "nodePorts": self.node_ports,
                   "sniRoutes": [f"{r.fqdn} -> {r.tunnel_route}" for r in section.sni_routes]})


def routes(of: Sections) -> list[Route]:
    """The parties' Pulsar brokers (TLS) the SNI routes tunnel to."""
    out = []
    for sni in of.section(TrafficServerConfig).sni_routes:
        host, _, port = sni.tunnel_route.rpartition(":")
        out.append(Route(host, int(port), sni.fqdn, True))
    return out


def build(ctx: Context) -> TrafficServer:
    cert = ctx.tls.traffic_server_cert(ctx.tls.domain, ctx.public_hosts) if ctx.tls else None
    return TrafficServer("traffic-server", ctx.site, ctx.section(TrafficServerConfig), cert, ctx.opts)
