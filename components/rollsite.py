"""rollsite: eggroll's federation gateway, in a party or as the exchange of a rollsite star."""

from __future__ import annotations

from pydantic import Field

from dataclasses import dataclass
from typing import ClassVar, Literal, Mapping, Optional, Sequence

import pulumi

from . import eggroll, endpoints
from .files import properties, to_json
from .kube import NGINX_IMAGE, Exposure, Module, Placement, Site, node_port_outputs, tcp_probes
from .nginx import render_nginx
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
    exposable_ports: ClassVar[tuple[str, ...]] = ("rollsite", "rollsiteTls")

    exchange: Optional[RollsiteExchange] = Field(default=None, description="Send every unknown party to this exchange")
    exchange_list: list[ExchangeMember] = Field(
        default_factory=list, description="Several exchanges behind a gRPC load balancer (KubeFATE lbrollsite)")
    max_body_size: str = Field(default="2M", pattern=r"^\d+[kKmMgG]?$", description="client_max_body_size of that balancer")
    party_list: list[RollsiteRoute] = Field(default_factory=list, description="Peers reached directly (P2P)")
    tls: RollsiteTls = Field(default_factory=RollsiteTls)
    polling: RollsitePolling = Field(default_factory=RollsitePolling)


CONFIG_MAP = "rollsite-config"
DEFAULT_RESOURCES = {"requests": {"cpu": "500m", "memory": "1Gi"}}


@dataclass(frozen=True)
class Route:
    party_id: int
    host: str
    port: int
    secure: bool = False  # rollsite dials it with mutual TLS (route_table.json `is_secure`)


def hop(route: Route) -> dict:
    """One route_table.json entry; `is_secure` only where TLS is wanted (a JSON boolean: eggroll casts it)."""
    return {"ip": route.host, "port": route.port, **({"is_secure": True} if route.secure else {})}


@dataclass(frozen=True)
class RollsiteArgs:
    image: str
    placement: Placement = Placement()
    exposure: Exposure = Exposure()
    exchange: Optional[Route] = None  # default route to an exchange (party_id ignored)
    exchange_list: Sequence[Route] = ()  # several exchanges behind an in-pod gRPC balancer (lbrollsite)
    max_body_size: str = "2M"
    peers: Sequence[Route] = ()
    tls_secret: Optional[str] = None  # Secret with the eggroll certificates; None = plain gRPC
    tls_material: Optional[Mapping[str, str]] = None  # issued by the stack: rollsite creates tls_secret from it
    refuse_plaintext: bool = False  # 9370 only from this deployment's pods: peers must use the TLS port
    polling: Optional[str] = None  # "client" | "server"
    polling_server: Optional[Route] = None
    polling_clients: Sequence[int] = ()
    polling_concurrency: int = 50
    # Party: the shared eggroll-config ConfigMap (its eggroll.properties); exchange: None, rollsite writes its own.
    eggroll_config: Optional[str] = eggroll.EGGROLL_CONFIG_MAP
    eggroll_config_checksum: str = ""
    route_fateflow: bool = True  # the own party's fateflow is reached through rollsite (not on an exchange)
    coordinator: str = ""


def route_table(site: Site, args: RollsiteArgs) -> dict:
    """route_table.json: default route, one route per peer (and per polling client), and the own party."""
    local = {"ip": endpoints.ROLLSITE.name, "port": endpoints.ROLLSITE.port("rollsite")}
    if args.exchange_list:
        lb = endpoints.ROLLSITE_EXCHANGE_LB
        default = {"ip": lb.name, "port": lb.port("grpc")}
    elif args.exchange is not None:
        default = hop(args.exchange)
    elif args.polling == "client" and args.polling_server is not None:
        default = {"ip": args.polling_server.host, "port": args.polling_server.port}
    else:
        default = local
    table: dict = {"default": {"default": [default]}}
    for peer in args.peers:
        table[str(peer.party_id)] = {"default": [hop(peer)]}
    if args.polling == "server":
        for client in args.polling_clients:
            table[str(client)] = {"default": [{"port": -1, "ip": "", "is_polling": True}]}
    own: dict = {}  # never secure: rollsite would dial its own FATE Flow with TLS
    if args.route_fateflow:
        own["fateflow"] = [{"ip": endpoints.FATEFLOW.name, "port": endpoints.FATEFLOW.port("grpc")}]
    own["default"] = [local]
    table[str(site.party_id)] = own
    return {"route_table": table, "permission": {"default_allow": True}}


def exchange_balancer_conf(args: RollsiteArgs) -> str:
    """nginx.conf of the gRPC balancer: least-connections over the exchanges, HTTP/2 on the balancer port."""
    port = endpoints.ROLLSITE_EXCHANGE_LB.port("grpc")
    return render_nginx([
        ("worker_processes", "10"),
        ("error_log", "/dev/stdout info"),
        ("events", [("worker_connections", "1024")]),
        ("http", [
            ("include", "mime.types"),
            ("default_type", "application/octet-stream"),
            ("access_log", "/dev/stdout"),
            ("sendfile", "on"),
            ("client_max_body_size", args.max_body_size),
            ("keepalive_timeout", "65"),
            ("upstream exchange_services", [("least_conn", "")] + [("server", f"{e.host}:{e.port}") for e in args.exchange_list]),
            ("server", [("listen", f"{port} http2"), ("location /", [("grpc_pass", "grpc://exchange_services")])]),
        ]),
    ]) + "\n"


def rollsite_extra_properties(args: RollsiteArgs) -> list[tuple[str, object]]:
    """Keys only rollsite reads: polling mode and TLS (kept out of the shared eggroll-config, KubeFATE PR #703)."""
    extra: list[tuple[str, object]] = []
    if args.polling == "client":
        extra.append(("eggroll.rollsite.polling.client.enabled", True))
    elif args.polling == "server":
        extra.append(("eggroll.rollsite.polling.server.enabled", True))
        extra.append(("eggroll.rollsite.polling.concurrency", args.polling_concurrency))
    if args.tls_secret:
        extra += eggroll.tls_properties()
    return extra


class Rollsite(Module):
    """Deployment + Service `rollsite` (9370) and ConfigMap `rollsite-config` (route_table.json, rollsite keys)."""

    TYPE = "fate:rollsite:Rollsite"
    APP = "rollsite"
    COMPONENT = "federation"
    PEER_FACING = True

    def __init__(self, name: str, site: Site, args: RollsiteArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        self.route_table = route_table(site, args)
        data = {
            "route_table.json": to_json(self.route_table),
            "rollsite.properties": properties(rollsite_extra_properties(args)),
        }
        if args.exchange_list:
            data["nginx.conf"] = exchange_balancer_conf(args)
        if args.eggroll_config is None:  # exchange: no shared eggroll-config, only rollsite's own keys
            data["eggroll.properties"] = properties(
                eggroll.rollsite_properties(site.party_id, args.coordinator or site.name), header="[eggroll]")
        self.config = self.config_map(CONFIG_MAP, data)
        if args.eggroll_config_checksum:
            self.uses_config(args.eggroll_config_checksum)
        if args.tls_secret and args.tls_material is not None:
            self.secret(args.tls_secret, args.tls_material)  # a new certificate rolls rollsite

        parts_dir = eggroll.EGGROLL_CONF_PARTS
        mounts = [
            {"name": "rollsite-confs", "mountPath": eggroll.ROUTE_TABLE_DIR, "readOnly": True},
            {"name": "rollsite-parts", "mountPath": f"{parts_dir}/rollsite", "readOnly": True},
        ]
        volumes = [
            eggroll.config_map_volume(CONFIG_MAP, "rollsite-confs", items=["route_table.json"]),
            eggroll.config_map_volume(CONFIG_MAP, "rollsite-parts"),
        ]
        if args.eggroll_config is not None:
            base = f"{parts_dir}/eggroll/eggroll.properties"
            mounts.append({"name": "eggroll-confs", "mountPath": f"{parts_dir}/eggroll", "readOnly": True})
            volumes.append(eggroll.config_map_volume(args.eggroll_config, "eggroll-confs"))
        else:
            base = f"{parts_dir}/rollsite/eggroll.properties"
        if args.tls_secret:
            mounts.append({"name": "eggroll-certs", "mountPath": eggroll.CERT_DIR, "readOnly": True})
            volumes.append({"name": "eggroll-certs", "secret": {"secretName": args.tls_secret}})

        port = endpoints.ROLLSITE.port("rollsite")
        # the TLS listener exists only with certificates; without them the Service keeps KubeFATE's one port
        service_ports = endpoints.ROLLSITE.ports if args.tls_secret else endpoints.ROLLSITE.ports[:1]
        container = self.container(
            "rollsite", args.image, args.placement, DEFAULT_RESOURCES,
            command=eggroll.start_script([base, f"{parts_dir}/rollsite/rollsite.properties"],
                                         "com.webank.eggroll.rollsite.EggSiteBootstrap -c ${EGGROLL_HOME}/conf/eggroll.properties"),
            env=[{"name": "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "value": "python"}],
            ports=[{"name": p.key.lower(), "containerPort": p.port} for p in service_ports],
            volumeMounts=mounts,
            **tcp_probes(port),
        )
        containers = [container]
        if args.exchange_list:
            lb_port = endpoints.ROLLSITE_EXCHANGE_LB.port("grpc")
            containers.append(self.container(
                "exchange", site.images.third_party(NGINX_IMAGE), None, {"requests": {"cpu": "100m", "memory": "64Mi"}},
                ports=[{"name": "exchange", "containerPort": lb_port}],
                # the stock nginx path (KubeFATE mounted it where this image never looks)
                volumeMounts=[{"name": "rollsite-parts", "mountPath": "/etc/nginx/nginx.conf", "subPath": "nginx.conf"}],
                **tcp_probes(lb_port),
            ))
            self.service(endpoints.ROLLSITE_EXCHANGE_LB.name, endpoints.ROLLSITE_EXCHANGE_LB.ports)
        pod = self.pod_spec(containers, args.placement, volumes,
                            hostAliases=[{"ip": "127.0.0.1", "hostnames": [endpoints.ROLLSITE.name]}])
        self.service_obj = self.service(endpoints.ROLLSITE.name, service_ports, args.exposure,
                                        internal_ports=(port,) if args.refuse_plaintext else ())
        self.workload = self.deployment("rollsite", 1, pod)

        self.endpoint = pulumi.Output.from_input(f"{endpoints.ROLLSITE.name}.{site.namespace}:{port}")
        self.node_ports = node_port_outputs(self.service_obj)
        self.done({"endpoint": self.endpoint, "nodePorts": self.node_ports,
                               "routeTable": self.route_table})
