"""nginx: FATE's OpenResty proxy for the control plane of FATE on Spark, in a party or as an exchange."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

import pulumi
from pydantic import Field

from . import endpoints
from .context import Context
from .files import to_yaml
from .kube import Module, Site, http_probes, node_port_outputs
from .settings import ExposedModule, Host, Model, PartyId, Port

# --------------------------------------------------------------------------------------------------------------
# Config section
# --------------------------------------------------------------------------------------------------------------


class HttpGrpcEndpoint(Model):
    host: Host
    http_port: Port
    grpc_port: Port


class NginxRoute(Model):
    """How to reach one party's control plane: its nginx (proxy) and/or its fateflow."""

    proxy: list[HttpGrpcEndpoint] = Field(default_factory=list)
    fateflow: list[HttpGrpcEndpoint] = Field(default_factory=list)


class NginxConfig(ExposedModule):
    replicas: int = Field(default=1, ge=1, le=100)
    exchange: Optional[HttpGrpcEndpoint] = Field(default=None, description="Default route to an nginx exchange")
    route_table: dict[PartyId, NginxRoute] = Field(default_factory=dict, description="Peers, keyed by party id")


CONFIG_MAP = "nginx-config"
NGINX_HOME = "/data/projects/fate/proxy/nginx"
DEFAULT_RESOURCES = {"requests": {"cpu": "250m", "memory": "256Mi"}}

Directive = tuple[str, Union[str, "Block"]]
Block = Sequence[Directive]


def render_nginx(block: Block, indent: int = 0) -> str:
    pad = "    " * indent
    out = []
    for name, value in block:
        if isinstance(value, str):
            out.append(f"{pad}{name} {value};" if value else f"{pad}{name};")
        else:
            out.append(f"{pad}{name} {{")
            out.append(render_nginx(value, indent + 1))
            out.append(f"{pad}}}")
    return "\n".join(out)


def nginx_conf(upstream_placeholder_host: str, http_port: int, grpc_port: int) -> Block:
    """nginx.conf: OpenResty whose lua balancer picks the upstream from route_table.yaml per request.
    The upstream servers are placeholders (the lua balancer replaces them) but must resolve at start."""
    log_format = ("'$remote_addr - $remote_user [$time_local] \"$request\" \"$http_host\" '\n"
                  "                      '$status $body_bytes_sent \"$http_referer\" '\n"
                  "                      '\"$http_user_agent\" \"$http_x_forwarded_for\" '\n"
                  "                      '$upstream_status $upstream_addr '\n"
                  "                      '$request_time $upstream_response_time'")
    return [
        ("worker_processes", "2"),
        ("error_log", "/dev/stdout info"),
        ("error_log", "/dev/stderr error"),
        ("events", [("worker_connections", "1024")]),
        ("http", [
            ("include", "mime.types"),
            ("default_type", "application/octet-stream"),
            ("log_format", f"main {log_format}"),
            ("access_log", "/dev/stdout main"),
            ("sendfile", "on"),
            ("keepalive_timeout", "65"),
            ("underscores_in_headers", "on"),
            ("lua_package_path", '"$prefix/lua/?.lua;;"'),
            ("init_worker_by_lua_file", "'lua/initialize.lua'"),
            ("upstream http_cluster", [("server", f"{upstream_placeholder_host}:{http_port}"),
                                       ("balancer_by_lua_file", "'lua/balancer.lua'")]),
            ("upstream grpc_cluster", [("server", f"{upstream_placeholder_host}:{grpc_port}"),
                                       ("balancer_by_lua_file", "'lua/balancer.lua'")]),
            # the image's vhost/ holds the 9300 (http), 9310 (grpc) and 9302 (/test health) servers
            ("include", "vhost/*.conf"),
        ]),
        ("stream", [
            ("log_format", "tcp_proxy '$remote_addr [$time_local] $protocol $status $bytes_sent $bytes_received "
                           "$session_time \"$upstream_addr\" \"$upstream_bytes_sent\" \"$upstream_bytes_received\" "
                           "\"$upstream_connect_time\"'"),
            ("access_log", "/dev/stdout tcp_proxy"),
            ("server", [("listen", "9128"), ("proxy_connect_timeout", "1s"), ("proxy_timeout", "3s"),
                        ("proxy_pass", "127.0.0.1:3128")]),
        ]),
    ]


def hop(host: str, http_port: int, grpc_port: int) -> dict[str, Any]:
    return {"host": host, "http_port": http_port, "grpc_port": grpc_port}


@dataclass(frozen=True)
class NginxArgs:
    image: str
    route_table: dict[Any, Any]  # route_table.yaml as data (see party_route_table / exchange_route_table)
    upstream_placeholder: str = endpoints.FATEFLOW.name


def local_nginx() -> dict:
    return hop(endpoints.NGINX.name, endpoints.NGINX.port("http"), endpoints.NGINX.port("grpc"))


def peers(section: NginxConfig) -> dict[int, dict[str, list[dict[str, Any]]]]:
    """The routeTable entries: per party its proxies and/or FATE Flows."""
    out: dict[int, dict[str, list[dict[str, Any]]]] = {}
    for pid, route in section.route_table.items():
        entry = {}
        for kind, endpoints_ in (("proxy", route.proxy), ("fateflow", route.fateflow)):
            hops = [hop(h.host, h.http_port, h.grpc_port) for h in endpoints_]
            if hops:
                entry[kind] = hops
        out[pid] = entry
    return out


def party_route_table(party_id: int, peers: dict[int, dict[str, list[dict[str, Any]]]],
                      exchange: Optional[dict[str, Any]]) -> dict[Any, Any]:
    """A party's route_table.yaml: default to the exchange (if any), the own nginx and fateflow, then peers.
    Without an exchange there is no default route (KubeFATE leaked an example exchange address here)."""
    table: dict[Any, Any] = {}
    if exchange is not None:
        table["default"] = {"proxy": [exchange]}
    table[party_id] = {
        "proxy": [local_nginx()],
        "fateflow": [hop(endpoints.FATEFLOW.name, endpoints.FATEFLOW.port("http"), endpoints.FATEFLOW.port("grpc"))],
    }
    table.update(peers)
    return table


def exchange_route_table(exchange_id: int, parties: dict[int, dict[str, list[dict[str, Any]]]]) -> dict[Any, Any]:
    """An exchange's route_table.yaml: itself, then every party of the star."""
    return {"default": {"proxy": [local_nginx()]}, exchange_id: {"proxy": [local_nginx()]}, **parties}


class Nginx(Module):
    """Deployment and Service `nginx` (9300 http, 9310 grpc), ConfigMap `nginx-config`."""

    TYPE = "fate:nginx:Nginx"
    APP = "nginx"
    COMPONENT = "proxy"
    PEER_FACING = True

    def __init__(self, name: str, site: Site, section: NginxConfig, args: NginxArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        http, grpc = endpoints.NGINX.port("http"), endpoints.NGINX.port("grpc")
        upstream_ports = (endpoints.FATEFLOW.port("http"), endpoints.FATEFLOW.port("grpc")) \
            if args.upstream_placeholder == endpoints.FATEFLOW.name else (http, grpc)
        self.route_table = args.route_table
        self.config_map(CONFIG_MAP, {
            "route_table.yaml": to_yaml(args.route_table),
            "nginx.conf": render_nginx(nginx_conf(args.upstream_placeholder, *upstream_ports)) + "\n",
        })
        container = self.container(
            "nginx", args.image, section, DEFAULT_RESOURCES,
            command=["/bin/bash", "-c",
                     # the lua route table reader looks in conf/; the ConfigMap is mounted at conf/modifiable/
                     'sed -i "s#conf/route_table.yaml#conf/modifiable/route_table.yaml#g" nginx/lua/route_table.lua\n'
                     "exec openresty -g 'daemon off;'"],
            ports=[{"name": "http-port", "containerPort": http}, {"name": "grpc-port", "containerPort": grpc},
                   {"name": "health", "containerPort": endpoints.NGINX_HEALTH_PORT}],
            volumeMounts=[
                {"name": "nginx-confs", "mountPath": f"{NGINX_HOME}/conf/nginx.conf", "subPath": "nginx.conf"},
                {"name": "nginx-confs", "mountPath": f"{NGINX_HOME}/conf/modifiable/", "readOnly": True},
            ],
            **http_probes(endpoints.NGINX_HEALTH_PORT, path="/test"),
        )
        pod = self.pod_spec([container], section, [{"name": "nginx-confs", "configMap": {"name": CONFIG_MAP}}])
        self.service_obj = self.service(endpoints.NGINX.name, endpoints.NGINX.ports, section.service)
        self.deployment("nginx", section.replicas, pod)
        self.node_ports = node_port_outputs(self.service_obj)
        self.done({"endpoint": endpoints.NGINX.address("http"), "nodePorts": self.node_ports,
                               "routeTable": {str(k): v for k, v in args.route_table.items()}})


def build(ctx: Context) -> Nginx:
    section = ctx.section(NginxConfig)
    image = ctx.site.images.fate("nginx")
    if ctx.site.kind == "exchange":
        # no fateflow on an exchange: the placeholder upstream must still resolve at start
        return Nginx("nginx", ctx.site, section, NginxArgs(
            image, exchange_route_table(ctx.site.party_id, peers(section)), upstream_placeholder="127.0.0.1"), ctx.opts)
    ex = section.exchange
    table = party_route_table(
        ctx.site.party_id, peers(section), hop(ex.host, ex.http_port, ex.grpc_port) if ex else None
    )
    return Nginx("nginx", ctx.site, section, NginxArgs(image, table), ctx.opts)
