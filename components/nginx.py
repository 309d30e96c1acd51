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
from .routing import Route, Sections
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


class NginxClient(Model):
    """The nginx FATE Flow sends federated control messages through; unset = the party's nginx module."""

    host: Optional[Host] = None
    http_port: Optional[Port] = None
    grpc_port: Optional[Port] = None


class NginxConfig(ExposedModule):
    replicas: int = Field(default=1, ge=1, le=100)
    exchange: Optional[HttpGrpcEndpoint] = Field(default=None, description="Default route to an nginx exchange")
    route_table: dict[PartyId, NginxRoute] = Field(default_factory=dict, description="Peers, keyed by party id")


CONFIG_MAP = "nginx-config"
NGINX_HOME = "/data/projects/fate/proxy/nginx"
CONFIGURED_ROUTES = f"{NGINX_HOME}/conf/configmap"  # the ConfigMap, read-only: route_table.yaml as configured
RESOLVED_ROUTES = f"{NGINX_HOME}/conf/modifiable"  # emptyDir: the route table FATE's route_table.lua reads
OWN_SERVICE_WAIT_SECONDS = 60  # above CoreDNS's 30 s negative cache (Kubernetes' default Corefile: `cache 30`)
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


# The upstreams' placeholder servers: FATE's (c/proxy/conf/nginx.conf L41-49 at v1.11.2), marked down. When
# balancer.lua cannot set a peer, its `return ngx.ERROR` is lost (lua-nginx-module v0.10.17 ignores the value of the
# balancer_by_lua chunk, only ngx.exit counts: src/ngx_http_lua_balancer.c L302-343, L374-397) and nginx falls back
# to these servers: a live one (KubeFATE's fateflow:9380, or the exchange's own 127.0.0.1:9300) would receive the
# messages meant for another party; a down one answers 502 at once.
PLACEHOLDERS = {"http_cluster": "0.0.0.1 down", "grpc_cluster": "0.0.0.2 down"}


def nginx_conf() -> Block:
    """nginx.conf: OpenResty whose lua balancer picks the upstream from route_table.yaml per request."""
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
            *((f"upstream {cluster}", [("server", server), ("balancer_by_lua_file", "'lua/balancer.lua'")])
              for cluster, server in PLACEHOLDERS.items()),
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


def start_command(own_services: Sequence[str]) -> str:
    """The nginx container's start: resolve the route table's host names to IPv4 addresses, then start OpenResty.

    FATE's balancer.lua hands "<host>:<port>" from route_table.yaml to ngx.balancer.set_current_peer, which parses
    it with no_resolve (lua-nginx-module v0.10.17 src/ngx_http_lua_balancer.c L519, L535, bundled with OpenResty
    1.17.8.2): a name fails with "no host allowed", so the table FATE's Lua reads must hold addresses. The source is
    the ConfigMap; the resolved copy goes to an emptyDir, renamed into place (route_table.lua re-reads it every 5 s).
    The party's own Services (`own_services`) are waited for — they belong to this deployment, and a name that
    does not resolve yet (pods can start before their Services) would otherwise stay broken until a restart —
    then the container fails and the kubelet restarts it. A peer's name that does not resolve is logged and kept:
    that route alone answers 502 (PLACEHOLDERS), the party's other routes work (a peer's DNS outage must not take
    the whole control plane down)."""
    own = " ".join(own_services)
    return "\n".join([
        "set -e",
        # FATE v1.11.2 c/proxy/lua/route_table.lua L38-39 opens conf/route_table.yaml (the image's example table)
        f'sed -i "s#conf/route_table.yaml#conf/modifiable/route_table.yaml#g" {NGINX_HOME}/lua/route_table.lua',
        f"src={CONFIGURED_ROUTES}/route_table.yaml dst={RESOLVED_ROUTES}/route_table.yaml own=' {own} '",
        # a `host:` line whose value is a name (it has a letter; IPv4 and IPv6 literals stay as they are)
        "host_re=\"^([[:space:]-]*host:[[:space:]]*)[\\\"']?([A-Za-z0-9.-]*[A-Za-z][A-Za-z0-9.-]*)[\\\"']?"
        "[[:space:]]*\\$\"",
        "declare -A addr=()",
        "while IFS= read -r line || [ -n \"$line\" ]; do",
        "  if [[ $line =~ $host_re ]]; then addr[${BASH_REMATCH[2]}]=''; fi",
        "done < \"$src\"",
        "while :; do",
        "  pending='' waiting=''",
        "  for name in \"${!addr[@]}\"; do",
        "    if [ -n \"${addr[$name]}\" ]; then continue; fi",
        "    found=$(getent ahostsv4 \"$name\" | head -n 1) || true",
        "    addr[$name]=${found%%[[:space:]]*}",
        "    if [ -n \"${addr[$name]}\" ]; then echo \"route table: $name is ${addr[$name]}\"; continue; fi",
        "    pending=\"$pending $name\"",
        "    case $own in *\" $name \"*) waiting=\"$waiting $name\";; esac",
        "  done",
        "  if [ -z \"$waiting\" ]; then break; fi",
        f"  if [ $SECONDS -ge {OWN_SERVICE_WAIT_SECONDS} ]; then",
        "    echo \"route table: this deployment's Service(s)$waiting do not resolve after $SECONDS s: exiting, the"
        " kubelet restarts the container\" >&2",
        "    exit 1",
        "  fi",
        "  echo \"route table: waiting for this deployment's Service(s)$waiting to resolve\" >&2",
        "  sleep 2",
        "done",
        "for name in $pending; do",
        "  echo \"route table: $name does not resolve to an IPv4 address: the routes to it keep the name and fail"
        " ('no host allowed': OpenResty's balancer takes addresses only) until nginx restarts\" >&2",
        "done",
        "while IFS= read -r line || [ -n \"$line\" ]; do",
        "  if [[ $line =~ $host_re ]] && [ -n \"${addr[${BASH_REMATCH[2]}]}\" ]; then",
        "    line=${BASH_REMATCH[1]}${addr[${BASH_REMATCH[2]}]}",
        "  fi",
        "  printf '%s\\n' \"$line\"",
        "done < \"$src\" > \"$dst.tmp\"",
        "mv -f \"$dst.tmp\" \"$dst\"",  # a rename: the Lua reads the old table or the new, never half a file
        "exec openresty -g 'daemon off;'",
    ])


@dataclass(frozen=True)
class NginxArgs:
    image: str
    route_table: dict[Any, Any]  # route_table.yaml as data (see party_route_table / exchange_route_table)


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
        self.route_table = args.route_table
        self.config_map(CONFIG_MAP, {
            "route_table.yaml": to_yaml(args.route_table),
            "nginx.conf": render_nginx(nginx_conf()) + "\n",
        })
        container = self.container(
            "nginx", args.image, section, DEFAULT_RESOURCES,
            # the party's own entries name this namespace's Services
            command=["/bin/bash", "-c", start_command(sorted({
                h["host"] for hops in args.route_table[site.party_id].values() for h in hops}))],
            ports=[{"name": "http-port", "containerPort": http}, {"name": "grpc-port", "containerPort": grpc},
                   {"name": "health", "containerPort": endpoints.NGINX_HEALTH_PORT}],
            volumeMounts=[
                {"name": "nginx-confs", "mountPath": f"{NGINX_HOME}/conf/nginx.conf", "subPath": "nginx.conf"},
                {"name": "nginx-confs", "mountPath": f"{CONFIGURED_ROUTES}/", "readOnly": True},
                {"name": "route-table", "mountPath": f"{RESOLVED_ROUTES}/"},
            ],
            **http_probes(endpoints.NGINX_HEALTH_PORT, path="/test"),
        )
        pod = self.pod_spec([container], section, [{"name": "nginx-confs", "configMap": {"name": CONFIG_MAP}},
                                                   {"name": "route-table",
                                                    "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}])
        self.service_obj = self.service(endpoints.NGINX.name, endpoints.NGINX.ports, section.service)
        self.deployment("nginx", section.replicas, pod)
        self.node_ports = node_port_outputs(self.service_obj)
        self.done({"endpoint": endpoints.NGINX.address("http"), "nodePorts": self.node_ports,
                               "routeTable": {str(k): v for k, v in args.route_table.items()}})


def build(ctx: Context) -> Nginx:
    section = ctx.section(NginxConfig)
    image = ctx.site.images.fate("nginx")
    if ctx.site.kind == "exchange":
        return Nginx("nginx", ctx.site, section,
                     NginxArgs(image, exchange_route_table(ctx.site.party_id, peers(section))), ctx.opts)
    ex = section.exchange
    table = party_route_table(
        ctx.site.party_id, peers(section), hop(ex.host, ex.http_port, ex.grpc_port) if ex else None
    )
    return Nginx("nginx", ctx.site, section, NginxArgs(image, table), ctx.opts)


def routes(of: Sections) -> list[Route]:
    """The exchange's nginx, and each peer's nginx or FATE Flow (their HTTP ports)."""
    nginx = of.section(NginxConfig)
    out = [Route(nginx.exchange.host, nginx.exchange.http_port, "exchange")] if nginx.exchange else []
    for party, route in nginx.route_table.items():
        out += [Route(h.host, h.http_port, str(party)) for h in route.proxy + route.fateflow]
    return out


def fateflow_link(ctx: Context, client: NginxClient) -> dict[str, Any]:
    """service_conf.yaml `fate_on_spark.nginx`: the proxy FATE Flow sends federated control messages through
    (python.nginx names another)."""
    return {
        "host": client.host or endpoints.NGINX.name,
        "http_port": client.http_port or endpoints.NGINX.port("http"),
        "grpc_port": client.grpc_port or endpoints.NGINX.port("grpc"),
    }
