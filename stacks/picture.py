"""Draw a federation: parties, exchanges and serving clusters, their modules, and who reaches whom on which address.

    python -m stacks.picture --out federation.svg examples/Pulumi.party-*-eggroll.yaml examples/Pulumi.exchange-rollsite.yaml
    python -m stacks.picture --out federation.svg --topology examples/federation.yaml

Each stack file is a box with its modules; an arrow goes from the module whose config names an address to the
module of the stack that exposes it (matched on the stack's publicHost and the NodePort or load-balancer port),
labelled with that address. An address no stack exposes is drawn as an external endpoint. Drawn with Graphviz
(the `graphviz` package and its `dot` program); the format follows the output file's extension.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from components import endpoints
from stacks.config import ConfigError, DeploymentConfig, load_config
from stacks.render import stack_file_config

# the Service behind each module's config section, to know which ports a stack exposes
_SERVICES = {
    "rollsite": endpoints.ROLLSITE, "python": endpoints.FATEFLOW_CLIENT, "nginx": endpoints.NGINX,
    "rabbitmq": endpoints.RABBITMQ, "pulsar": endpoints.PULSAR, "trafficServer": endpoints.TRAFFIC_SERVER,
    "servingProxy": endpoints.SERVING_PROXY, "servingServer": endpoints.SERVING_SERVER,
}


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    stack: Optional[str]  # None: an endpoint outside the drawn stacks
    entry_point: bool = False


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str


@dataclass
class Federation:
    stacks: dict[str, str] = field(default_factory=dict)  # stack name -> box label
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)


def load_stack(path: Path) -> DeploymentConfig:
    """A stack's config as fate-pulumi reads it (passwords are not needed for a picture)."""
    from stacks.program import parse_value

    config, secret_keys = stack_file_config(path)
    values = {k.split(":", 1)[1]: parse_value(v) for k, v in config.items() if k.startswith("fate:")}
    return load_config({**values, "development": True}, [k.split(":", 1)[1] for k in secret_keys])


def _exposed(cfg: DeploymentConfig) -> dict[int, tuple[str, str]]:
    """port -> (module, port key) reachable on the stack's publicHost: NodePorts, or load-balancer ports."""
    out: dict[int, tuple[str, str]] = {}
    for module in cfg.enabled_modules:
        if module not in _SERVICES:
            continue
        svc = cfg.module(module).service
        for port in _SERVICES[module].ports:
            if svc.type == "LoadBalancer":
                out[port.port] = (module, port.key)
            if port.key in svc.node_ports:
                out[svc.node_ports[port.key]] = (module, port.key)
    return out


def _routes(cfg: DeploymentConfig) -> list[tuple[str, str, int]]:
    """(module, host, port) of every address this stack's config points at."""
    r: list[tuple[str, str, int]] = []
    mods = set(cfg.enabled_modules)
    if "rollsite" in mods:
        rs = cfg.rollsite
        if rs.exchange:
            r.append(("rollsite", rs.exchange.host, rs.exchange.port))
        r += [("rollsite", p.host, p.port) for p in rs.party_list]
        r += [("rollsite", e.host, e.port) for e in rs.exchange_list]
        if rs.polling.enabled and rs.polling.server:
            r.append(("rollsite", rs.polling.server.host, rs.polling.server.port))
    if "nginx" in mods:
        if cfg.nginx.exchange:
            r.append(("nginx", cfg.nginx.exchange.host, cfg.nginx.exchange.http_port))
        for route in cfg.nginx.route_table.values():
            r += [("nginx", h.host, h.http_port) for h in route.proxy + route.fateflow]
    if "pulsar" in mods:
        if cfg.pulsar.exchange:
            r.append(("pulsar", cfg.pulsar.exchange.host, cfg.pulsar.exchange.port))
        r += [("pulsar", t.host, t.ssl_port if cfg.pulsar.exchange else t.port) for t in cfg.pulsar.route_table.values()]
    if "rabbitmq" in mods:
        r += [("rabbitmq", t.host, t.port) for t in cfg.rabbitmq.route_table.values()]
    if "trafficServer" in mods:
        for sni in cfg.traffic_server.sni_routes:
            host, _, port = sni.tunnel_route.rpartition(":")
            r.append(("trafficServer", host, int(port)))
    if "servingProxy" in mods:
        r += [("servingProxy", p.host, p.port) for p in cfg.serving_proxy.party_list]
        if cfg.serving_proxy.exchange:
            r.append(("servingProxy", cfg.serving_proxy.exchange.host, cfg.serving_proxy.exchange.port))
    if "servingServer" in mods and cfg.serving_server.fateflow:
        r.append(("servingServer", cfg.serving_server.fateflow.host, cfg.serving_server.fateflow.port))
    if cfg.kind == "party" and cfg.serving.host and cfg.serving.port and "python" in mods:
        r.append(("python", cfg.serving.host, cfg.serving.port))
    return r


def _box_label(name: str, cfg: DeploymentConfig) -> str:
    what = {"party": f"party {cfg.party_id} ({cfg.backend})", "exchange": "exchange",
            "serving": f"FATE-Serving {cfg.party_id}"}[cfg.kind]
    where = f"{cfg.cloud.provider}" + (f" {cfg.public_host}" if cfg.public_host else "")
    return f"{what}\\n{name} - {where}"


def federation(stacks: dict[str, DeploymentConfig]) -> Federation:
    fed = Federation()
    exposed: dict[tuple[str, int], str] = {}
    for name, cfg in stacks.items():
        fed.stacks[name] = _box_label(name, cfg)
        entry = {m for m, _ in _exposed(cfg).values()}
        for module in cfg.enabled_modules:
            node_id = f"{name}/{module}"
            fed.nodes[node_id] = Node(node_id, module, name, module in entry)
        if cfg.public_host:
            for port, (module, _key) in _exposed(cfg).items():
                exposed[(cfg.public_host, port)] = f"{name}/{module}"
    for name, cfg in stacks.items():
        for module, host, port in _routes(cfg):
            target = exposed.get((host, port))
            if target is None:
                target = f"external/{host}:{port}"
                fed.nodes.setdefault(target, Node(target, f"{host}:{port}", None))
            fed.edges.append(Edge(f"{name}/{module}", target, f"{host}:{port}"))
    return fed


def to_graphviz(fed: Federation):
    import graphviz

    g = graphviz.Digraph("federation", graph_attr={"rankdir": "TB", "fontname": "Helvetica", "nodesep": "0.15",
                                                    "ranksep": "0.9"},
                         node_attr={"fontname": "Helvetica", "shape": "box", "style": "rounded,filled", "fillcolor": "white"},
                         edge_attr={"fontname": "Helvetica", "fontsize": "10"})
    for stack, label in fed.stacks.items():
        with g.subgraph(name=f"cluster_{stack}") as box:
            box.attr(label=label, style="rounded", color="gray40")
            members = [n for n in fed.nodes.values() if n.stack == stack]
            # entry points on top (where the routes arrive), the party's internal modules in a row below
            for node in members:
                box.node(node.id, node.label, fillcolor="lightgoldenrod1" if node.entry_point else "white")
            inner = [n.id for n in members if not n.entry_point]
            entries = [n.id for n in members if n.entry_point]
            if inner:
                with box.subgraph() as row:
                    row.attr(rank="same")
                    for node_id in inner:
                        row.node(node_id)
                for a in entries[:1]:
                    box.edge(a, inner[len(inner) // 2], style="invis")
    for node in fed.nodes.values():
        if node.stack is None:
            g.node(node.id, node.label, shape="ellipse", style="dashed")
    for edge in fed.edges:
        g.edge(edge.source, edge.target, label=edge.label)
    return g


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stacks.picture", description=__doc__.split("\n\n")[0])
    parser.add_argument("stack_files", nargs="*", type=Path)
    parser.add_argument("--topology", type=Path, help="a federation topology file (stacks/federation.py) instead")
    parser.add_argument("--out", type=Path, default=Path("federation.svg"), help="output file (.svg, .png, .pdf, .dot)")
    args = parser.parse_args(argv)
    if bool(args.stack_files) == bool(args.topology):
        parser.error("give stack files or --topology FILE")
    stacks = {}
    if args.topology:
        from pydantic import ValidationError

        from stacks import federation as fed_topology

        try:
            stacks = fed_topology.configs(fed_topology.plan(fed_topology.load(args.topology)), need_secrets=False)
        except (ValidationError, ValueError) as err:
            print(f"error: {args.topology}: {err}", file=sys.stderr)
            return 1
    for path in args.stack_files:
        try:
            stacks[path.name.removeprefix("Pulumi.").removesuffix(".yaml")] = load_stack(path)
        except ConfigError as err:
            print(f"error: {path}: {err}", file=sys.stderr)
            return 1
    graph = to_graphviz(federation(stacks))
    fmt = args.out.suffix.lstrip(".") or "svg"
    if fmt == "dot":
        args.out.write_text(graph.source)
    else:
        args.out.write_bytes(graph.pipe(format=fmt))
    fed = federation(stacks)
    print(f"{len(stacks)} stacks, {len(fed.nodes)} modules/endpoints, {len(fed.edges)} routes -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
