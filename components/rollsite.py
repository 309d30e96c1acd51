"""rollsite: eggroll's federation gateway, in a party or as the exchange of a rollsite star."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Optional, Union

import pulumi
from pydantic import Field

from . import eggroll, endpoints
from .context import Context
from .files import properties, to_json
from .kube import NGINX_IMAGE, Module, Site, node_port_outputs, tcp_probes
from .nginx import render_nginx
from .outputs import OrOutput
from .routing import Route, Sections
from .settings import Endpoint, ExposedModule, Host, K8sName, Model, PartyId, PartyRoute, Port, TlsSecret

# --------------------------------------------------------------------------------------------------------------
# Config section
# --------------------------------------------------------------------------------------------------------------


class RollsitePolling(Model):
    """Eggroll polling: a party without a reachable port polls a rollsite that acts as server."""

    enabled: bool = False
    type: Optional[Literal["client", "server"]] = None
    server: Optional[Endpoint] = Field(default=None, description="(client) the polling server's rollsite")
    client_list: list[PartyId] = Field(default_factory=list, description="(server) party ids that poll this rollsite")
    concurrency: int = Field(default=50, ge=1, le=10_000)


class RollsiteTls(TlsSecret):
    """Rollsite mutual TLS; the Secret holds ca.pem, server.crt, server.key, client.crt, client.key (PKCS#8 keys).

    eggroll 2.5.1 keeps serving plaintext on 9370 (FATE Flow in the pod's namespace uses it) and adds a TLS listener on
    `eggroll.rollsite.secure.port` (9380) requiring a client certificate; it dials a peer with TLS when the peer's
    route says `secure` (route_table.json `is_secure`)."""

    secret_name: K8sName = "eggroll-certs"
    refuse_plaintext: bool = Field(
        default=False, description="Peers must use TLS: the plaintext port 9370 is closed to everything outside this "
                                   "deployment by its NetworkPolicy (FATE Flow inside still uses it)")


class ExchangeMember(Model):
    host: Host
    port: Port


class RollsiteRoute(PartyRoute):
    """A peer's rollsite; `secure`: dial it with mutual TLS (port = the peer's TLS port, 9380 in its namespace)."""

    secure: bool = False


class RollsiteExchange(Endpoint):
    """The exchange's rollsite; `secure`: dial it with mutual TLS (port = the exchange's TLS port)."""

    secure: bool = False


class RollsiteConfig(ExposedModule):
    exchange: Optional[RollsiteExchange] = Field(default=None, description="Send every unknown party to this exchange")
    exchange_list: list[ExchangeMember] = Field(
        default_factory=list, description="Several exchanges behind a gRPC load balancer (KubeFATE lbrollsite)")
    max_body_size: str = Field(
        default="2M", pattern=r"^\d+[kKmMgG]?$", description="client_max_body_size of that balancer"
    )
    party_list: list[RollsiteRoute] = Field(default_factory=list, description="Peers reached directly (P2P)")
    tls: RollsiteTls = Field(default_factory=RollsiteTls)
    polling: RollsitePolling = Field(default_factory=RollsitePolling)


CONFIG_MAP = "rollsite-config"
DEFAULT_RESOURCES = {"requests": {"cpu": "500m", "memory": "1Gi"}}


def hop(route: Union[RollsiteRoute, RollsiteExchange, Endpoint]) -> dict[str, Any]:
    """One route_table.json entry; `is_secure` only where TLS is wanted (a JSON boolean: eggroll casts it)."""
    return {"ip": route.host, "port": route.port, **({"is_secure": True} if getattr(route, "secure", False) else {})}


def polling(section: RollsiteConfig) -> Optional[str]:
    """client | server when polling is on."""
    return section.polling.type if section.polling.enabled else None


def route_table(party_id: int, section: RollsiteConfig, exchange: bool = False) -> dict[str, Any]:
    """route_table.json: default route, one route per peer (and per polling client), and the own party
    (`exchange`: an exchange's rollsite, which has no FATE Flow and polls nobody)."""
    local = {"ip": endpoints.ROLLSITE.name, "port": endpoints.ROLLSITE.port("rollsite")}
    mode = None if exchange else polling(section)
    default: dict[str, Any]
    if section.exchange_list and not exchange:
        lb = endpoints.ROLLSITE_EXCHANGE_LB
        default = {"ip": lb.name, "port": lb.port("grpc")}
    elif section.exchange is not None:
        default = hop(section.exchange)
    elif mode == "client" and section.polling.server is not None:
        default = {"ip": section.polling.server.host, "port": section.polling.server.port}
    else:
        default = local
    table: dict[str, Any] = {"default": {"default": [default]}}
    for peer in section.party_list:
        table[str(peer.party_id)] = {"default": [hop(peer)]}
    if mode == "server":
        for client in section.polling.client_list:
            table[str(client)] = {"default": [{"port": -1, "ip": "", "is_polling": True}]}
    own: dict[str, Any] = {}  # never secure: rollsite would dial its own FATE Flow with TLS
    if not exchange:
        own["fateflow"] = [{"ip": endpoints.FATEFLOW.name, "port": endpoints.FATEFLOW.port("grpc")}]
    own["default"] = [local]
    table[str(party_id)] = own
    return {"route_table": table, "permission": {"default_allow": True}}


def exchange_balancer_conf(section: RollsiteConfig) -> str:
    """nginx.conf of the gRPC balancer: least-connections over the exchanges, HTTP/2 on the balancer port."""
    port = endpoints.ROLLSITE_EXCHANGE_LB.port("grpc")
    return (
        render_nginx(
            [
                ("worker_processes", "10"),
                ("error_log", "/dev/stdout info"),
                ("events", [("worker_connections", "1024")]),
                (
                    "http",
                    [
                        ("include", "mime.types"),
                        ("default_type", "application/octet-stream"),
                        ("access_log", "/dev/stdout"),
                        ("sendfile", "on"),
                        ("client_max_body_size", section.max_body_size),
                        ("keepalive_timeout", "65"),
                        (
                            "upstream exchange_services",
                            [("least_conn", "")] + [("server", f"{e.host}:{e.port}") for e in section.exchange_list],
                        ),
                        (
                            "server",
                            [("listen", f"{port} http2"), ("location /", [("grpc_pass", "grpc://exchange_services")])],
                        ),
                    ],
                ),
            ]
        )
        + "\n"
    )


def rollsite_extra_properties(section: RollsiteConfig, exchange: bool = False) -> list[tuple[str, object]]:
    """Keys only rollsite reads: polling mode and TLS (kept out of the shared eggroll-config, KubeFATE PR #703)."""
    extra: list[tuple[str, object]] = []
    mode = None if exchange else polling(section)
    if mode == "client":
        extra.append(("eggroll.rollsite.polling.client.enabled", True))
    elif mode == "server":
        extra.append(("eggroll.rollsite.polling.server.enabled", True))
        extra.append(("eggroll.rollsite.polling.concurrency", section.polling.concurrency))
    if section.tls.enabled:
        extra += eggroll.tls_properties()
    return extra


@dataclass(frozen=True)
class RollsiteArgs:
    image: str
    # issued by the stack: rollsite creates tls.secretName from it
    tls_material: Optional[OrOutput[Mapping[str, str]]] = None
    # the shared eggroll-config (its checksum) of a party; an exchange (site.kind) writes its own eggroll.properties
    eggroll_config_checksum: Optional[str] = None


class Rollsite(Module):
    """Deployment + Service `rollsite` (9370) and ConfigMap `rollsite-config` (route_table.json, rollsite keys)."""

    TYPE = "fate:rollsite:Rollsite"
    APP = "rollsite"
    COMPONENT = "federation"
    PEER_FACING = True

    def __init__(self, name: str, site: Site, section: RollsiteConfig, args: RollsiteArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        exchange = site.kind == "exchange"
        balancer = bool(section.exchange_list) and not exchange
        tls_secret = section.tls.secret_name if section.tls.enabled else None
        self.route_table = route_table(site.party_id, section, exchange)
        data = {
            "route_table.json": to_json(self.route_table),
            "rollsite.properties": properties(rollsite_extra_properties(section, exchange)),
        }
        if balancer:
            data["nginx.conf"] = exchange_balancer_conf(section)
        if exchange:  # no shared eggroll-config, only rollsite's own keys
            data["eggroll.properties"] = properties(
                eggroll.rollsite_properties(site.party_id, site.name), header="[eggroll]"
            )
        self.config_map(CONFIG_MAP, data)
        if args.eggroll_config_checksum:
            self.uses_config(args.eggroll_config_checksum)
        if tls_secret and args.tls_material is not None:
            self.secret(tls_secret, args.tls_material)  # a new certificate rolls rollsite

        parts_dir = eggroll.EGGROLL_CONF_PARTS
        mounts = [
            {"name": "rollsite-confs", "mountPath": eggroll.ROUTE_TABLE_DIR, "readOnly": True},
            {"name": "rollsite-parts", "mountPath": f"{parts_dir}/rollsite", "readOnly": True},
        ]
        volumes = [
            eggroll.config_map_volume(CONFIG_MAP, "rollsite-confs", items=["route_table.json"]),
            eggroll.config_map_volume(CONFIG_MAP, "rollsite-parts"),
        ]
        if not exchange:
            base = f"{parts_dir}/eggroll/eggroll.properties"
            mounts.append({"name": "eggroll-confs", "mountPath": f"{parts_dir}/eggroll", "readOnly": True})
            volumes.append(eggroll.config_map_volume(eggroll.EGGROLL_CONFIG_MAP, "eggroll-confs"))
        else:
            base = f"{parts_dir}/rollsite/eggroll.properties"
        if tls_secret:
            mounts.append({"name": "eggroll-certs", "mountPath": eggroll.CERT_DIR, "readOnly": True})
            volumes.append({"name": "eggroll-certs", "secret": {"secretName": tls_secret}})

        port = endpoints.ROLLSITE.port("rollsite")
        # the TLS listener exists only with certificates; without them the Service keeps KubeFATE's one port
        service_ports = endpoints.ROLLSITE.ports if tls_secret else endpoints.ROLLSITE.ports[:1]
        container = self.container(
            "rollsite",
            args.image,
            section,
            DEFAULT_RESOURCES,
            command=eggroll.start_script(
                [base, f"{parts_dir}/rollsite/rollsite.properties"],
                "com.webank.eggroll.rollsite.EggSiteBootstrap -c ${EGGROLL_HOME}/conf/eggroll.properties",
            ),
            env=[{"name": "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "value": "python"}],
            ports=[{"name": p.key.lower(), "containerPort": p.port} for p in service_ports],
            volumeMounts=mounts,
            **tcp_probes(port),
        )
        containers = [container]
        if balancer:
            lb_port = endpoints.ROLLSITE_EXCHANGE_LB.port("grpc")
            containers.append(
                self.container(
                    "exchange",
                    site.images.third_party(NGINX_IMAGE),
                    None,
                    {"requests": {"cpu": "100m", "memory": "64Mi"}},
                    ports=[{"name": "exchange", "containerPort": lb_port}],
                    # the stock nginx path (KubeFATE mounted it where this image never looks)
                    volumeMounts=[
                        {"name": "rollsite-parts", "mountPath": "/etc/nginx/nginx.conf", "subPath": "nginx.conf"}
                    ],
                    **tcp_probes(lb_port),
                )
            )
            self.service(endpoints.ROLLSITE_EXCHANGE_LB.name, endpoints.ROLLSITE_EXCHANGE_LB.ports)
        pod = self.pod_spec(containers, section, volumes,
                            hostAliases=[{"ip": "127.0.0.1", "hostnames": [endpoints.ROLLSITE.name]}])
        refuse_plaintext = section.tls.enabled and section.tls.refuse_plaintext
        self.service_obj = self.service(endpoints.ROLLSITE.name, service_ports, section.service,
                                        internal_ports=(port,) if refuse_plaintext else ())
        self.deployment("rollsite", 1, pod)

        self.endpoint = pulumi.Output.from_input(f"{endpoints.ROLLSITE.name}.{site.namespace}:{port}")
        self.node_ports = node_port_outputs(self.service_obj)
        self.done({"endpoint": self.endpoint, "nodePorts": self.node_ports, "routeTable": self.route_table})


def routes(of: Sections) -> list[Route]:
    """Where rollsite dials: its exchange, its peers, the balanced exchanges, the polling server."""
    rs = of.section(RollsiteConfig)
    out = [Route(rs.exchange.host, rs.exchange.port, "exchange", rs.exchange.secure)] if rs.exchange else []
    out += [Route(p.host, p.port, str(p.party_id), p.secure) for p in rs.party_list]
    out += [Route(e.host, e.port, "exchange") for e in rs.exchange_list]
    if rs.polling.enabled and rs.polling.server:
        out.append(Route(rs.polling.server.host, rs.polling.server.port, "polling server"))
    return out


def fateflow_link(ctx: Context, client: None) -> dict[str, Any]:
    """service_conf.yaml `fate_on_eggroll.rollsite`: FATE Flow's eggroll client reaches rollsite in plaintext."""
    return {"host": endpoints.ROLLSITE.name, "port": endpoints.ROLLSITE.port("rollsite")}


def build(ctx: Context) -> Rollsite:
    section = ctx.section(RollsiteConfig)
    tls = None
    if ctx.tls and section.tls.enabled:
        # the server certificate names every address a peer may dial: the public host and the in-cluster names
        tls = ctx.tls.eggroll_certs([*ctx.public_hosts,
                                     *endpoints.cluster_names(endpoints.ROLLSITE.name, ctx.site.namespace)])
    if ctx.site.kind == "exchange":  # the exchange chart runs the plain eggroll image
        return Rollsite(
            "rollsite", ctx.site, section, RollsiteArgs(eggroll.eggroll_image(ctx.site.images), tls), ctx.opts
        )
    return Rollsite("rollsite", ctx.site, section, RollsiteArgs(
        eggroll.eggroll_image(ctx.site.images, ctx.algorithm, ctx.device), tls,
        eggroll_config_checksum=eggroll.eggroll_config_checksum(ctx)), ctx.opts)
