"""Draw a federation: parties, exchanges and serving clusters, their modules, and who reaches whom on which address.

    fate-pulumi picture --out federation.svg examples/Pulumi.party-*-eggroll.yaml examples/Pulumi.exchange-rollsite.yaml
    fate-pulumi picture --out federation.svg --topology examples/federation.yaml

Each stack file is a box with its modules; an arrow goes from the module whose config names an address to the
module of the stack that exposes it (matched on the stack's publicHost and the NodePort or load-balancer port),
labelled with that address. An address no stack exposes is drawn as an external endpoint. The picture carries a
legend; the exchange is on the left, the parties (by party id) in the middle, the serving clusters on the right,
and the colour of an arrow tells its traffic (rollsite, Pulsar, nginx / FATE Flow, RabbitMQ, FATE-Serving).
Drawn with Graphviz (the `graphviz` package and its `dot` program); the format follows the output file's extension.
--out is required: nothing is written unless you say where.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Optional

from components import registry
from fate_pulumi import topology as fed_topology
from fate_pulumi.inputs import OneLineParser
from fate_pulumi.render import stack_file_config
from stacks.common import routes
from stacks.config import ConfigError, DeploymentConfig, load_config, section_at

if TYPE_CHECKING:
    import graphviz

# the order of the boxes, and their columns in the picture from left to right: exchanges, parties, serving clusters
_KIND_ORDER = {"exchange": 0, "party": 1, "serving": 2}
_ENTRY_FILL = "lightgoldenrod1"
_FONT = "Helvetica"


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


@dataclass(frozen=True)
class Box:
    """One stack: what it is (party 9999, exchange, FATE-Serving 9999), its backend, its name, where it runs."""
    name: str
    kind: str
    title: str
    backend: str
    where: str


@dataclass
class Federation:
    stacks: dict[str, Box] = field(default_factory=dict)  # stack name -> box, exchange first, parties by id
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
    modules = set(cfg.enabled_modules)
    for module, path, service in registry.EXPOSED:
        if module not in modules:
            continue
        svc = section_at(cfg, path).service
        for port in service.ports:
            if svc.type == "LoadBalancer":
                out[port.port] = (module, port.key)
            if port.key in svc.node_ports:
                out[svc.node_ports[port.key]] = (module, port.key)
    return out


def _box(name: str, cfg: DeploymentConfig) -> Box:
    title = {"party": f"party {cfg.party_id}", "exchange": "exchange", "serving": f"FATE-Serving {cfg.party_id}"}[
        cfg.kind
    ]
    where = f"{cfg.cloud.provider}" + (f" {cfg.public_host}" if cfg.public_host else "")
    return Box(name, cfg.kind, title, cfg.backend if cfg.kind == "party" else "", where)


def stack_order(name: str, cfg: DeploymentConfig) -> tuple:
    """Exchange first, then parties, then serving clusters; numerically by party id within each."""
    return _KIND_ORDER.get(cfg.kind, len(_KIND_ORDER)), cfg.party_id, name


def federation(stacks: dict[str, DeploymentConfig]) -> Federation:
    fed = Federation()
    stacks = dict(sorted(stacks.items(), key=lambda item: stack_order(*item)))
    exposed: dict[tuple[str, int], str] = {}
    for name, cfg in stacks.items():
        fed.stacks[name] = _box(name, cfg)
        reachable = _exposed(cfg)
        entry = {m for m, _ in reachable.values()}
        for module in cfg.enabled_modules:
            node_id = f"{name}/{module}"
            fed.nodes[node_id] = Node(node_id, module, name, module in entry)
        if cfg.public_host:
            for port, (module, _key) in reachable.items():
                exposed[(cfg.public_host, port)] = f"{name}/{module}"
    for name, cfg in stacks.items():
        for module, host, port in routes(cfg):
            target = exposed.get((host, port))
            if target is None:
                target = f"external/{host}:{port}"
                fed.nodes.setdefault(target, Node(target, f"{host}:{port}", None))
            fed.edges.append(Edge(f"{name}/{module}", target, f"{host}:{port}"))
    return fed


def _dot_ids(node_ids: Iterable[str]) -> dict[str, str]:
    """A plain DOT identifier for every node: letters, digits and `_` only. A name with a colon
    (`external/203.0.113.5:30091`) would otherwise be read as node `external/203.0.113.5`, port 30091, on edges."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for node_id in node_ids:
        base = "n_" + re.sub(r"[^A-Za-z0-9_]", "_", node_id)
        dot_id, n = base, 1
        while dot_id in taken:
            n += 1
            dot_id = f"{base}_{n}"
        taken.add(dot_id)
        out[node_id] = dot_id
    return out


def _wrap(words: list[str], width: int) -> list[str]:
    lines: list[str] = []
    for word in words:
        if lines and len(lines[-1]) + 3 + len(word) <= width:
            lines[-1] += " · " + word
        else:
            lines.append(word)
    return lines


# arrow colours by what travels on them, after the module that dials (its registry entry's `routes.traffic`)
_TRAFFIC = {m.name: m.routes.traffic for m in registry.MODULES if m.routes is not None and m.routes.traffic}
_OTHER_TRAFFIC = ("other", "gray20")


def _traffic(fed: Federation, edge: Edge) -> tuple[str, str]:
    return _TRAFFIC.get(fed.nodes[edge.source].label, _OTHER_TRAFFIC)


def _legend(traffic: list[tuple[str, str]], shared: bool = False) -> str:
    """The legend, an HTML-like table drawn as the graph's label (below the picture, never in its way)."""
    # a run after a bold one must not start with a blank: SVG viewers drop it, and the words touch
    def row(sample: str, text: str) -> str:
        return f'<TR>{sample}<TD ALIGN="LEFT" BALIGN="LEFT">{text}</TD></TR>'

    def swatch(text: str, fill: str = "white", style: str = "ROUNDED", color: str = "black") -> str:
        return (f'<TD STYLE="{style}" BORDER="1" COLOR="{color}" BGCOLOR="{fill}" CELLPADDING="3">'
                f'<FONT POINT-SIZE="11">{text}</FONT></TD>')

    colours = "<BR/>".join(f'<FONT COLOR="{c}"><B>━━ {html.escape(name)}</B></FONT>' for name, c in traffic)
    rows = [
        row(swatch('<B>party 9999</B><BR/><FONT POINT-SIZE="9">backend · stack<BR/>cloud publicHost</FONT>',
                   color="gray40"),
            "<B>box</B>: one stack file — a party, an exchange or a<BR/>"
            "FATE-Serving cluster: its backend, stack name, cloud<BR/>and publicHost"),
        row(swatch("rollsite", _ENTRY_FILL),
            "<B>entry point</B>: a module other stacks reach on the<BR/>"
            "box's publicHost (NodePort or load-balancer port)"),
        row(swatch("mysql · client"), "<B>modules </B>no other stack reaches and that dial none"),
        row(swatch("203.0.113.5:9370", style="ROUNDED,DASHED", color="gray30"),
            "<B>external endpoint</B>: an address a config names<BR/>that no drawn stack exposes"),
        row('<TD><FONT POINT-SIZE="11">A ─ host:port ─▶ B</FONT></TD>',
            "<B>arrow</B>: module A dials module B; the <B>label </B>is the<BR/>"
            "address in A's config (B's publicHost and port)"
            + ("<BR/>(two boxes of one column that reach each other:<BR/>both addresses on one of the two arrows)"
               if shared else "")),
    ]
    if traffic:
        rows.append(row('<TD ALIGN="RIGHT"><FONT POINT-SIZE="11">arrow colour</FONT></TD>', colours))
    return ('<<TABLE BORDER="1" COLOR="gray60" CELLBORDER="0" CELLSPACING="4" CELLPADDING="1">'
            '<TR><TD COLSPAN="2" ALIGN="LEFT"><B>Legend</B></TD></TR>' + "".join(rows) + "</TABLE>>")


def _box_html(box: Box) -> str:
    lines = [f"<B>{html.escape(box.title)}</B>"]
    lines += [f'<FONT POINT-SIZE="10">{html.escape(s)}</FONT>' for s in (box.backend, box.name) if s]
    lines.append(f'<FONT POINT-SIZE="10" COLOR="gray25">{html.escape(box.where)}</FONT>')
    return "<" + "<BR/>".join(lines) + ">"


def to_graphviz(fed: Federation) -> graphviz.Digraph:
    """The picture, left to right: exchanges, parties, serving clusters (each column in the order of fed.stacks),
    external endpoints after their callers; the legend below. Each box is a column of its own: a title, then its
    modules one above the other. An arrow from right to left is laid out left to right and drawn backwards
    (dir=back), so boxes keep their columns; parties that reach each other directly get a column each; arrows between
    serving clusters do not move them. Nodes get plain DOT ids (_dot_ids), arrows the colour of their traffic."""
    import graphviz

    ids = _dot_ids([*fed.nodes, *(f"{stack}/ {part}" for stack in fed.stacks for part in ("title", "internal"))])
    pairs = _serving_pairs(fed)
    shared = any(len(labels) > 1 for labels in pairs.values())

    traffic = list(dict.fromkeys(_traffic(fed, e) for e in fed.edges))
    g = graphviz.Digraph(
        "federation",
        graph_attr={"rankdir": "LR", "fontname": _FONT, "fontsize": "12", "nodesep": "0.2", "ranksep": "0.6",
                    "pad": "0.25", "splines": "spline", "newrank": "true", "labelloc": "b", "labeljust": "l",
                    "label": _legend(traffic, shared), "bgcolor": "white"},
        node_attr={"fontname": _FONT, "fontsize": "12", "shape": "box", "style": "rounded,filled",
                   "fillcolor": "white", "margin": "0.1,0.03", "height": "0.3"},
        edge_attr={"fontname": _FONT, "fontsize": "10", "arrowsize": "0.7"})
    routed = {e.source for e in fed.edges} | {e.target for e in fed.edges}
    for n, (stack, box) in enumerate(fed.stacks.items()):
        _draw_box(g, n, stack, box, fed, ids, routed)
    for node in fed.nodes.values():
        if node.stack is None:
            g.node(ids[node.id], node.label, style="rounded,dashed", color="gray30", fontsize="11",
                   tooltip="an address no drawn stack exposes")
    _draw_arrows(g, fed, ids, pairs)
    return g


def _serving_peers(fed: Federation, edge: Edge) -> bool:
    """Between two serving clusters (proxy to proxy): both stay in the serving column, the arrow is a flat edge."""
    a, b = fed.nodes[edge.source].stack, fed.nodes[edge.target].stack
    return a is not None and b is not None and a != b and fed.stacks[a].kind == fed.stacks[b].kind == "serving"


def _serving_pairs(fed: Federation) -> dict[frozenset, list[str]]:
    """The labels of the arrows between each pair of serving clusters' modules, both directions together.

    dot puts the label of a flat edge beside it, and the second of two flat edges between the same modules (proxy to
    proxy and back) across the first one's label: the first arrow carries the addresses of both (each address is
    the publicHost of its box, which tells them apart), the second loops round on the other side without a label."""
    pairs: dict[frozenset, list[str]] = {}
    for edge in fed.edges:
        if _serving_peers(fed, edge):
            pairs.setdefault(frozenset((edge.source, edge.target)), []).append(edge.label)
    return pairs


def _draw_box(g: graphviz.Digraph, n: int, stack: str, box: Box, fed: Federation, ids: dict[str, str],
              routed: set[str]) -> None:
    """One stack's box: its title on top, then the modules an arrow touches (and the entry points), then one node
    with the rest."""
    with g.subgraph(name=f"cluster_{n}") as cluster:
        # the box's title is a node on top of its column, not the cluster's label: arrows go round nodes, while
        # they would cross a cluster label (label="": a cluster would show the graph's label, the legend)
        cluster.attr(label="", tooltip=stack, style="rounded", color="gray40", margin="8")
        title = ids[f"{stack}/ title"]
        cluster.node(title, _box_html(box), shape="plain", style="", tooltip=stack)
        members = [node for node in fed.nodes.values() if node.stack == stack]
        shown = [node for node in members if node.entry_point or node.id in routed]
        for node in shown:
            cluster.node(ids[node.id], node.label, tooltip=node.id,
                         fillcolor=_ENTRY_FILL if node.entry_point else "white")
        column = [title, *(ids[node.id] for node in shown)]
        rest = [node.label for node in members if node not in shown]
        if rest:  # the modules no arrow touches share one node
            column.append(ids[f"{stack}/ internal"])
            cluster.node(column[-1], "\\n".join(_wrap(rest, 26)), fontsize="10", color="gray45",
                         fontcolor="gray20", tooltip=", ".join(rest))
        # one column per box, the title on top as it comes first. No invisible edges to hold that order: with
        # them dot lays the labels of the arrows between serving clusters over the modules
        with cluster.subgraph() as same:
            same.attr(rank="same")
            for dot_id in column:
                same.node(dot_id)


def _draw_arrows(g: graphviz.Digraph, fed: Federation, ids: dict[str, str], pairs: dict[frozenset, list[str]]) -> None:
    """Every arrow in the colour of its traffic; one going right to left is laid out left to right, drawn backwards."""
    order = {stack: n for n, stack in enumerate(fed.stacks)}

    def place(node_id: str) -> tuple[int, int]:
        """(column, box): arrows go from a lower place to a higher one, external endpoints come last."""
        stack = fed.nodes[node_id].stack
        return (len(_KIND_ORDER), 0) if stack is None else (_KIND_ORDER.get(fed.stacks[stack].kind, 0), order[stack])

    for edge in fed.edges:
        _, colour = _traffic(fed, edge)
        attrs = {"label": edge.label, "color": colour, "fontcolor": colour,
                 "tooltip": f"{edge.source} dials {edge.label}"}
        if _serving_peers(fed, edge):
            pair = frozenset((edge.source, edge.target))
            if pair in pairs:
                attrs["label"] = "\\n".join(pairs.pop(pair))
            else:
                attrs.update(label="", tailport="e", headport="e")
            g.edge(ids[edge.source], ids[edge.target], constraint="false", **attrs)
        elif place(edge.source) > place(edge.target):
            g.edge(ids[edge.target], ids[edge.source], dir="back", **attrs)
        else:
            g.edge(ids[edge.source], ids[edge.target], **attrs)


class _Parser(OneLineParser):
    def error(self, message: str) -> NoReturn:
        if "--out" in message:
            message += " (where to write the picture, e.g. --out federation.svg: there is no default)"
        super().error(message)


def _one_line(err: BaseException) -> str:
    if isinstance(err, ConfigError):
        return "invalid stack configuration: " + "; ".join(f"{p.key}: {p.message}" for p in err.problems)
    return "; ".join(line.strip() for line in str(err).splitlines() if line.strip())


def _load(args: argparse.Namespace, prog: str) -> dict[str, DeploymentConfig]:
    """The stacks to draw; raises InputError (one line, naming the file) on a bad file."""
    from fate_pulumi.inputs import InputError

    stacks: dict[str, DeploymentConfig] = {}
    if args.topology:
        topology = fed_topology.load(args.topology)  # InputError: the file, its YAML, its keys
        try:
            stacks = fed_topology.configs(fed_topology.plan(topology), need_secrets=False)
        except ValueError as err:
            raise InputError(f"{args.topology}: {_one_line(err)} — fix the topology "
                             f"(fate-pulumi federation preview {args.topology} says the same)") from None
    given: dict[str, Path] = {}  # stack name -> its file
    holder: dict[tuple[str, int], Path] = {}  # (kind, party id) -> the file of its stack
    for path in args.stack_files:
        name = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        if name in given:
            if _same_file(path, given[name]):  # the same file twice (a glob and a name): once is enough
                continue
            raise InputError(f"{path}: names stack {name}, as {given[name]} does — a stack is named by its file, so "
                             f"give one of them (or rename one, Pulumi.<stack>.yaml)")
        try:
            cfg = load_stack(path)
        except ConfigError as err:
            raise InputError(f"{path}: {_one_line(err)} — fix these keys in the stack file") from None
        except InputError as err:
            if "a federation topology, not a stack file" in str(err):  # the reader's fix names another command
                out = f" --out {args.out}" if prog.endswith("picture") else ""
                raise InputError(f"{path}: a federation topology, not a stack file — give it as: "
                                 f"{prog} --topology {path}{out}") from None
            raise
        # two files of one party (a copy, a renamed stack) would clash on every address and route: say so instead
        if cfg.kind != "exchange":  # exchanges conventionally all use party id 1
            other = holder.setdefault((cfg.kind, cfg.party_id), path)
            if other != path:
                what = "party" if cfg.kind == "party" else "FATE-Serving cluster of party"
                raise InputError(f"{path}: fate:partyId: {what} {cfg.party_id} is also {other} — one stack file "
                                 "per party; give one of them")
        given[name] = path
        stacks[name] = cfg
    return stacks


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def _format(out: Path) -> str:
    """The output format, from the file's extension (.dot: the Graphviz source); raises InputError."""
    from fate_pulumi.inputs import InputError

    try:
        import graphviz
    except ImportError:
        raise InputError(f"{out}: the graphviz Python package is missing — pip install -r requirements.txt") from None
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in graphviz.FORMATS:
        raise InputError(f"{out}: {out.suffix or 'no extension'} is not a picture format Graphviz writes — "
                         f"name it {out.stem or 'federation'}.svg (or .png, .pdf, .dot)")
    return fmt


def _write(graph: graphviz.Digraph, out: Path) -> None:
    """The picture in the format of the output file's extension; raises InputError (one line)."""
    import graphviz

    from fate_pulumi.inputs import InputError

    fmt = _format(out)
    if fmt == "dot":
        data = graph.source.encode()
    else:
        if shutil.which("dot") is None:
            raise InputError(f"{out}: Graphviz's `dot` program is not on PATH — install Graphviz: "
                             "apt-get install graphviz (or write a .dot file and render it elsewhere)")
        try:
            data = graph.pipe(format=fmt)
        except graphviz.ExecutableNotFound:
            raise InputError(f"{out}: Graphviz's `dot` program did not start — install Graphviz: "
                             "apt-get install graphviz") from None
        except graphviz.CalledProcessError as err:
            detail = _one_line(Exception((err.stderr or b"").decode(errors="replace"))) or f"exit {err.returncode}"
            raise InputError(f"{out}: dot failed ({detail}) — try an .svg or .dot output") from None
    try:
        out.write_bytes(data)
    except OSError as err:
        raise InputError(f"{out}: cannot write it ({err.strerror}) — choose a writable path for --out") from None


def main(argv: Optional[list[str]] = None, prog: str = "fate-pulumi picture") -> int:
    """Bad input (a stack or topology file, the output path, no Graphviz) raises InputError: one line, exit 2 under
    fate_pulumi.cli.guarded, nothing written."""
    from fate_pulumi.inputs import output_file, path_arg

    parser = _Parser(prog=prog, description=__doc__.split("\n\n")[0],
                     epilog="exit status: 0 drawn, 2 bad input (a file, its YAML or config, the output path, "
                            "Graphviz missing; nothing written)")
    parser.add_argument("stack_files", nargs="*", type=path_arg, metavar="STACK_FILE",
                        help="Pulumi.<stack>.yaml files")
    parser.add_argument("--topology", type=path_arg, help="a federation topology file (fate-pulumi federation) instead")
    parser.add_argument("--out", type=path_arg, required=True, metavar="FILE",
                        help="where to write the picture; required, there is no default (so nothing lands in the "
                             "repository or the current directory unasked). The format follows the extension: "
                             ".svg, .png, .pdf, or .dot for the Graphviz source")
    args = parser.parse_args(argv)
    if bool(args.stack_files) == bool(args.topology):
        parser.error("give stack files or --topology FILE")
    output_file(args.out)  # a directory, or in none: said before anything is read
    _format(args.out)
    stacks = _load(args, prog)
    fed = federation(stacks)
    _write(to_graphviz(fed), args.out)
    print(f"{len(stacks)} stacks, {len(fed.nodes)} modules/endpoints, {len(fed.edges)} routes -> {args.out}")
    return 0


if __name__ == "__main__":
    from fate_pulumi.cli import guarded

    sys.exit(guarded(main))
