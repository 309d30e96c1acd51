"""A federation topology file (fate-pulumi federation: the keys in its docstring) and the stacks it derives: each
site's block of NodePorts, every route between the sites, each stack's `fate:` config, validated as `pulumi up`
validates it. Offline and pure: federation runs the stacks, preflight and picture check and draw them."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stacks.config import (
    BACKEND_ENGINES,
    EXCHANGE_BACKEND_MODULES,
    SECRET_KEYS,
    ConfigError,
    DeploymentConfig,
    Host,
    PartyId,
    load_config,
)
from stacks.config.tables import Backend

# what the topology itself decides for every stack; a site's `config:` may set anything else
_TOPOLOGY_KEYS = ("kind", "partyId", "backend", "publicHost", "development", "kubernetes", "namespace")

# NodePorts: every site holds a block of 10, base + slot. The exchange's block is 30000-30009; a party's comes from
# its party id alone, 30000 + 10 * (1 + id % 275) (30010-32759), so adding, removing or reordering parties moves no
# other party's ports. A site whose stack already has NodePorts keeps them (stacks planned before by file order do),
# and a topology entry's nodePortBase overrides both. A planned port Kubernetes already gave a Service of its own
# choosing makes `up` fail on that Service (nothing else changes); nodePortBase then moves the site (README).
BLOCK = 10
EXCHANGE_BASE = 30000
PARTY_BLOCKS = (32767 + 1 - EXCHANGE_BASE - BLOCK) // BLOCK  # 275 blocks of 10 between 30010 and 32759
SLOTS = {
    "rollsiteTls": 0,
    "rollsite": 1,
    "fateflowGrpc": 2,
    "nginxHttp": 3,
    "broker": 4,
    "fateflowHttp": 7,
    "nginxGrpc": 8,
    "brokerTls": 9,
    "trafficServer": 7,
}
# where each planned NodePort sits in a stack's config: module -> {its service.nodePorts key: slot}
NODE_PORTS = {
    "python": {"http": "fateflowHttp", "grpc": "fateflowGrpc"},
    "rollsite": {"rollsite": "rollsite", "rollsiteTls": "rollsiteTls"},
    "nginx": {"http": "nginxHttp", "grpc": "nginxGrpc"},
    "pulsar": {"broker": "broker", "brokerTls": "brokerTls"},
    "rabbitmq": {"amqp": "broker"},
    "trafficServer": {"tls": "trafficServer"},
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Site(_Model):
    address: Host = Field(description="Host other parties reach this site's NodePorts on")
    kubernetes: dict[str, Any] = Field(default_factory=dict)
    namespace: Optional[str] = None
    config: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict)
    node_port_base: Optional[int] = Field(default=None, alias="nodePortBase", ge=30000, le=32758)


class PartySpec(Site):
    party_id: PartyId = Field(alias="partyId")
    backend: Backend = "eggroll"


class ExchangeSpec(Site):
    backend: Literal[tuple(EXCHANGE_BACKEND_MODULES)] = "eggroll"  # type: ignore[valid-type]


class Topology(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    development: bool = False
    exchange: Optional[ExchangeSpec] = None
    parties: list[PartySpec] = Field(min_length=1)


@dataclass
class PlannedStack:
    name: str
    kind: str
    party_id: int
    config: dict[str, Any]
    secret_refs: dict[str, str] = field(default_factory=dict)  # fate key -> environment variable
    where: str = ""  # the topology entry it comes from, for error messages
    toy: list[int] = field(default_factory=list)  # peers with a higher party id: the routes it verifies

    def missing(self) -> list[str]:
        """The passwords whose environment variable is not set: `VARIABLE (entry.secrets.key)`."""
        return [f"{v} ({self.where}.secrets.{k})" for k, v in self.secret_refs.items() if v not in os.environ]

    def secrets(self) -> dict[str, str]:
        """The passwords, read from the environment only when a stack is deployed."""
        if self.missing():
            raise ValueError(_missing_variables(self.missing()))
        return {k: os.environ[v] for k, v in self.secret_refs.items()}

    def verified(self) -> dict[str, Any]:
        """The config with the toy test towards every peer it verifies: what the stack holds once `up` verified it."""
        if not self.toy:
            return self.config
        given = self.config.get("verify", {})
        return {**self.config, "verify": {**given, "toy": sorted(set(given.get("toy", [])) | set(self.toy))}}

    def keys(self) -> set[str]:
        """Every `fate:` key the topology derives for this stack (passwords included)."""
        return set(self.verified()) | set(self.secret_refs)

    def first_pass(self, current: dict[str, Any]) -> dict[str, Any]:
        """The config the first `up` (and `preview`) writes, given the stack's `current` config: a toy test towards a
        peer waits for the verification pass (the peer may not be up yet), except one the stack already runs, which
        stays as it is (FATE jobs run again only when their definition changes: an unchanged pair is not re-run)."""
        if not self.toy:
            return self.config
        had = value_at(current, "verify", "toy")
        waiting = set(self.toy) - set(had if isinstance(had, list) else [])
        verify = dict(self.verified()["verify"])
        verify["toy"] = [peer for peer in verify["toy"] if peer not in waiting]
        verify = {k: v for k, v in verify.items() if v or k != "toy"}
        rest = {k: v for k, v in self.config.items() if k != "verify"}
        return {**rest, "verify": verify} if verify else rest


def _missing_variables(missing: list[str]) -> str:
    return (f"secrets: environment variable{'s' * (len(missing) > 1)} not set: {', '.join(missing)} — export "
            f"{'each' if len(missing) > 1 else 'it'} before running (or set development: true for a test federation)")


def value_at(node: Any, *path: str) -> Any:
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def node_ports(config: dict[str, Any]) -> dict[str, int]:
    """The planned NodePorts a stack's `fate:` config holds, by slot: what an earlier `up` set."""
    out = {}
    for module, keys in NODE_PORTS.items():
        ports = value_at(config, module, "service", "nodePorts")
        for key, slot in keys.items():
            port = value_at(ports, key)
            if isinstance(port, int) and not isinstance(port, bool):
                out[slot] = port
    return out


def _bases(ports: dict[str, int]) -> list[int]:
    return sorted({port - SLOTS[slot] for slot, port in ports.items()})


def _ports(base: int) -> dict[str, int]:
    return {k: base + v for k, v in SLOTS.items()}


def _service(module: str, ports: dict[str, int], *keys: str) -> dict[str, Any]:
    """`module`'s NodePort Service with the site's planned ports (every port of the module, or `keys`)."""
    slots = NODE_PORTS[module]
    return {"type": "NodePort", "nodePorts": {k: ports[slots[k]] for k in keys or slots}}


@dataclass
class _Block:
    """A site's 10 NodePorts, base to base + 9, and why it has them."""

    who: str  # "parties[1] (party 10000)", "the exchange", "stack demo-party-5 (not in the topology)"
    where: str  # the topology entry whose nodePortBase would move it; "" for a stack outside the topology
    base: int
    how: str


def _block(where: str, who: str, given: Optional[int], recorded: dict[str, int], derived: int, how: str) -> _Block:
    """A site's block: its nodePortBase, else the NodePorts its stack has, else the derived one."""
    if given is not None:
        return _Block(who, where, given, "its nodePortBase")
    bases = _bases(recorded)
    if len(bases) > 1:
        held = ", ".join(f"{slot} {port}" for slot, port in sorted(recorded.items()))
        raise ValueError(f"{where}.nodePortBase: its stack's NodePorts ({held}) are not one block of {BLOCK} — set "
                         "nodePortBase to the block it should keep")
    if bases:
        return _Block(who, where, bases[0], "its stack's NodePorts")
    return _Block(who, where, derived, how)


def _check_blocks(blocks: list[_Block]) -> None:
    """Refuse two sites on overlapping blocks, naming both and a free block; a stack outside the topology still holds
    its block (it may still run), so it is never given to another site."""
    ordered = sorted(range(len(blocks)), key=lambda i: (blocks[i].base, i))
    for a, b in zip(ordered, ordered[1:], strict=False):
        first, second = blocks[a], blocks[b]
        if second.base - first.base >= BLOCK or not (first.where or second.where):
            continue
        fix, held = (first, second) if first.where and (a > b or not second.where) else (second, first)
        taken = {x.base for x in blocks}
        free = next((base for base in range(EXCHANGE_BASE + BLOCK, 32768 - BLOCK + 1, BLOCK)
                     if all(abs(base - t) >= BLOCK for t in taken)), None)
        raise ValueError(
            f"{fix.where}.nodePortBase: NodePorts {fix.base}-{fix.base + BLOCK - 1} of {fix.who} ({fix.how}) overlap "
            f"{held.base}-{held.base + BLOCK - 1} of {held.who} ({held.how}) — give "
            f"{'one of them' if held.where else 'it'} a free block: "
            + (f"nodePortBase: {free}" if free else "none is left; remove a stack (pulumi stack rm)"))


@dataclass
class _Party:
    spec: PartySpec
    where: str  # its entry in the topology, e.g. parties[0]
    ports: dict[str, int]


def _place(topo: Topology, recorded: Mapping[str, dict[str, int]]) -> tuple[dict[str, int], list[_Party]]:
    """Every site's NodePorts: the exchange's, and the parties' in party id order (whatever their order in the file)."""
    ids = [p.party_id for p in topo.parties]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ValueError(f"parties: party id {twice[0]} is listed twice; each party needs its own id")
    blocks = []
    names = set()
    if topo.exchange:
        names.add(f"{topo.name}-exchange")
        blocks.append(_block("exchange", "the exchange", topo.exchange.node_port_base,
                             recorded.get(f"{topo.name}-exchange", {}), EXCHANGE_BASE, "the exchange's block"))
    order = sorted(range(len(topo.parties)), key=lambda i: topo.parties[i].party_id)
    for i in order:
        p = topo.parties[i]
        name = f"{topo.name}-party-{p.party_id}"
        names.add(name)
        blocks.append(_block(f"parties[{i}]", f"parties[{i}] (party {p.party_id})", p.node_port_base,
                             recorded.get(name, {}), EXCHANGE_BASE + BLOCK * (1 + p.party_id % PARTY_BLOCKS),
                             "from its party id"))
    sites = len(blocks)
    for name in sorted(set(recorded) - names):
        blocks += [_Block(f"stack {name} (not in the topology)", "", base, "its stack's NodePorts")
                   for base in _bases(recorded[name])]
    _check_blocks(blocks)
    parties = [_Party(topo.parties[i], f"parties[{i}]", _ports(b.base))
               for i, b in zip(order, blocks[bool(topo.exchange):sites], strict=True)]
    return (_ports(blocks[0].base) if topo.exchange else {}), parties


def _federation(p: PartySpec) -> str:
    return BACKEND_ENGINES[p.backend][1]


def _rollsite_tls(site: Site) -> bool:
    return bool(site.config.get("rollsite", {}).get("tls", {}).get("enabled"))


def _rollsite_service(site: Site, ports: dict[str, int]) -> dict[str, Any]:
    return _service("rollsite", ports, "rollsite", *(["rollsiteTls"] if _rollsite_tls(site) else []))


def _rollsite_route(src: Site, dst: Site, dst_ports: dict[str, int]) -> dict[str, Any]:
    """src's route to dst's rollsite: mutual TLS on dst's TLS port when both have certificates, else plaintext."""
    if _rollsite_tls(src) and _rollsite_tls(dst):
        return {"host": dst.address, "port": dst_ports["rollsiteTls"], "secure": True}
    return {"host": dst.address, "port": dst_ports["rollsite"]}


def _nginx_hops(q: _Party) -> dict[str, Any]:
    return {"proxy": [{"host": q.spec.address, "httpPort": q.ports["nginxHttp"], "grpcPort": q.ports["nginxGrpc"]}],
            "fateflow": [{"host": q.spec.address, "httpPort": q.ports["fateflowHttp"],
                          "grpcPort": q.ports["fateflowGrpc"]}]}


def _exchange_config(ex: ExchangeSpec, ex_ports: dict[str, int], parties: list[_Party]) -> dict[str, Any]:
    cfg: dict[str, Any] = {"kind": "exchange", "partyId": 1, "backend": ex.backend, "publicHost": ex.address}
    if ex.backend == "eggroll":
        cfg["rollsite"] = {"service": _rollsite_service(ex, ex_ports),
                           "partyList": [{"partyId": q.spec.party_id, **_rollsite_route(ex, q.spec, q.ports)}
                                         for q in parties if q.spec.backend == "eggroll"]}
        return cfg
    pulsar = [q for q in parties if _federation(q.spec) == "Pulsar"]
    cfg["trafficServer"] = {
        "service": _service("trafficServer", ex_ports),
        "sniRoutes": [{"fqdn": f"{q.spec.party_id}.fate.org", "tunnelRoute": f"{q.spec.address}:{q.ports['brokerTls']}"}
                      for q in pulsar],
    }
    cfg["nginx"] = {"service": _service("nginx", ex_ports),
                    "routeTable": {q.spec.party_id: _nginx_hops(q) for q in pulsar}}
    return cfg


def _party_config(p: _Party, parties: list[_Party], ex: Optional[ExchangeSpec], ex_ports: dict[str, int]) -> dict:
    """A party's config: its NodePorts, and its routes to the exchange or, without one on its federation engine, to
    every peer on its engine (rollsite, RabbitMQ or Pulsar, whatever their computing backend)."""
    spec, ports = p.spec, p.ports
    peers = [q for q in parties if q.spec.party_id != spec.party_id and _federation(q.spec) == _federation(spec)]
    cfg: dict[str, Any] = {"partyId": spec.party_id, "backend": spec.backend, "publicHost": spec.address,
                           "python": {"service": _service("python", ports)}}
    if spec.backend == "eggroll":
        cfg["rollsite"] = {"service": _rollsite_service(spec, ports)}
        if ex and ex.backend == "eggroll":
            cfg["rollsite"]["exchange"] = _rollsite_route(spec, ex, ex_ports)
        else:
            cfg["rollsite"]["partyList"] = [{"partyId": q.spec.party_id, **_rollsite_route(spec, q.spec, q.ports)}
                                            for q in peers]
        return cfg
    cfg["nginx"] = {"service": _service("nginx", ports)}
    pulsar_exchange = ex is not None and ex.backend != "eggroll"
    if spec.backend == "spark_rabbitmq":
        cfg["rabbitmq"] = {"service": _service("rabbitmq", ports),
                           "routeTable": {q.spec.party_id: {"host": q.spec.address, "port": q.ports["broker"]}
                                          for q in peers}}
    else:
        cfg["pulsar"] = {"service": _service("pulsar", ports)}
        if pulsar_exchange and ex is not None:
            cfg["pulsar"]["exchange"] = {"host": ex.address, "port": ex_ports["trafficServer"]}
            cfg["nginx"]["exchange"] = {"host": ex.address, "httpPort": ex_ports["nginxHttp"],
                                        "grpcPort": ex_ports["nginxGrpc"]}
            return cfg
        cfg["pulsar"]["routeTable"] = {q.spec.party_id: {"host": q.spec.address, "port": q.ports["broker"],
                                                         "sslPort": q.ports["brokerTls"]} for q in peers}
    cfg["nginx"]["routeTable"] = {q.spec.party_id: _nginx_hops(q) for q in peers}
    return cfg


def plan(topo: Topology, recorded: Optional[Mapping[str, dict[str, int]]] = None) -> list[PlannedStack]:
    """The stacks of the federation with every route filled in: the exchange first, then the parties by party id.
    Nothing depends on the order of the parties in the file. `recorded`: the NodePorts stacks already have, by stack
    name (recorded_node_ports); each keeps them."""
    ex = topo.exchange
    ex_ports, parties = _place(topo, recorded or {})
    stacks: list[PlannedStack] = []
    if ex:
        stacks.append(_stack(topo, f"{topo.name}-exchange", "exchange", 1, _exchange_config(ex, ex_ports, parties),
                             ex, "exchange"))
    for p in parties:
        party = _stack(topo, f"{topo.name}-party-{p.spec.party_id}", "party", p.spec.party_id,
                       _party_config(p, parties, ex, ex_ports), p.spec, p.where)
        # each route is verified once, from the party with the lower id
        party.toy = [q.spec.party_id for q in parties
                     if q.spec.party_id > p.spec.party_id and _federation(q.spec) == _federation(p.spec)]
        stacks.append(party)
    return stacks


def configs(stacks: list[PlannedStack], need_secrets: bool = True) -> dict[str, DeploymentConfig]:
    """Each planned stack's config validated the way `pulumi up` will validate it, before any stack is touched.

    A problem is reported with the topology entry it comes from; without `need_secrets` (a picture, a plan
    review) passwords may be missing."""
    missing = [m for s in stacks for m in s.missing()] if need_secrets else []
    if missing:  # all at once: one run tells every variable to export
        raise ValueError(_missing_variables(missing))
    out = {}
    for s in stacks:
        secrets = s.secrets() if need_secrets else {}
        values = {**s.verified(), **secrets} if need_secrets else {**s.verified(), "development": True}
        try:
            out[s.name] = load_config(values, secrets.keys())
        except ConfigError as err:
            hint = ("\n  give passwords in the topology as secrets: {<key>: env:<VARIABLE>}, or set development: true"
                    if any(k.split(":", 1)[1] in SECRET_KEYS for k in err.keys) else "")
            raise ValueError(f"{s.where} ({s.name}): {err}{hint}") from None
    return out


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _stack(topo: Topology, name: str, kind: str, party_id: int, cfg: dict, site: Site, where: str) -> PlannedStack:
    taken = sorted(set(site.config) & set(_TOPOLOGY_KEYS))
    if taken:
        raise ValueError(f"{where}.config.{taken[0]}: set by the topology itself; use the entry's own field "
                         f"(partyId, backend, address, kubernetes, namespace) or the file's development flag")
    planned = node_ports(cfg)
    moved = sorted(slot for slot, port in node_ports(_merge(cfg, site.config)).items() if planned.get(slot) != port)
    if moved:  # its peers' routes lead to the planned ports: a port set here would break them
        module = next(m for m, keys in NODE_PORTS.items() if moved[0] in keys.values())
        raise ValueError(f"{where}.config.{module}.service.nodePorts: set by the topology (every route to this site "
                         "uses them) — give the entry a nodePortBase instead")
    cfg = _merge(cfg, site.config)
    if site.kubernetes:
        cfg["kubernetes"] = site.kubernetes
    if site.namespace:
        cfg["namespace"] = site.namespace
    if topo.development:
        cfg["development"] = True
    refs = {}
    for key, ref in site.secrets.items():
        if key not in SECRET_KEYS:
            raise ValueError(f"{where}.secrets.{key}: not a password key; use one of {', '.join(SECRET_KEYS)}")
        if not ref.startswith("env:") or len(ref) == 4:
            raise ValueError(f"{where}.secrets.{key}: must be env:<VARIABLE> (no password in the topology file)")
        refs[key] = ref[4:]
    return PlannedStack(name, kind, party_id, cfg, refs, where)


# what each part of a topology looks like: for a message about a part of the wrong shape or with an unknown key
_SHAPES: dict[str, tuple[str, str]] = {
    "Topology": ("a topology", "name: demo, parties: [{partyId: 9999, address: 203.0.113.10}] (exchange: optional)"),
    "PartySpec": ("a party", "{partyId: 9999, address: 203.0.113.10}"),
    "ExchangeSpec": ("the exchange", "{backend: eggroll, address: 203.0.113.5}"),
}
_EXAMPLES = {"parties": "[{partyId: 9999, address: 203.0.113.10}]", "kubernetes": "{context: bank-a}",
             "config": "{nodemanager: {replicas: 3}}", "secrets": "{mysqlPassword: env:BANK_A_MYSQL}"}


def _model_at(loc: tuple) -> type[_Model]:
    """The model of the part of a topology at `loc` (a party, the exchange, or the whole file)."""
    if loc[:1] == ("parties",) and len(loc) > 1:
        return PartySpec
    return ExchangeSpec if loc[:1] == ("exchange",) else Topology


def _what(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "empty" if value is None else f"{value!r}"


def _keys(model: type[_Model]) -> list[str]:
    return sorted(f.alias or n for n, f in model.model_fields.items())


def _close(key: Any, allowed: list[str]) -> Optional[str]:
    """The allowed key `key` is most likely a misspelling of (case aside), if any."""
    lower = {k.lower(): k for k in allowed}
    close = difflib.get_close_matches(str(key).lower(), list(lower), n=1, cutoff=0.6)
    return lower[close[0]] if close else None


def _topology_problem(err: ValidationError) -> str:
    """The first problem of a topology in the file's words — an unknown key first (a misspelt key is why a
    required one is missing), with the keys allowed there — and how many more there are."""
    errors = err.errors()
    unknown = [e for e in errors if e["type"] == "extra_forbidden"]
    first = (unknown or errors)[0]
    loc = tuple(first["loc"])
    where = ".".join(str(x) for x in loc)
    name = str(loc[-1]) if loc else ""
    if first["type"] == "extra_forbidden":
        model = _model_at(loc[:-1])
        guess = _close(name, _keys(model))
        what, _ = _SHAPES[model.__name__]
        text = (f"{where}: unknown key — {f'did you mean {guess}? ' if guess else ''}"
                f"{what[0].upper()}{what[1:]}'s keys: {', '.join(_keys(model))}")
        # a required key reported missing because it was misspelt is the same problem
        misspelt = {tuple(e["loc"][:-1]) + (_close(e["loc"][-1], _keys(_model_at(tuple(e["loc"][:-1])))),)
                    for e in unknown}
        errors = [e for e in errors if not (e["type"] == "missing" and tuple(e["loc"]) in misspelt)]
    elif first["type"] == "model_type":
        what, example = _SHAPES[first["ctx"]["class_name"]]
        text = (f"{where + ': ' if where else ''}{_what(first['input'])}, not {what} — {what} is a mapping, "
                f"e.g. {example}")
    elif first["type"] in ("list_type", "dict_type"):
        shape = "a list" if first["type"] == "list_type" else "a mapping"
        text = (f"{where}: {_what(first['input'])}, not {shape} — e.g. {name}: "
                f"{_EXAMPLES.get(name, '[...]' if shape == 'a list' else '{...}')}")
    elif first["type"] == "missing":
        what, example = _SHAPES[_model_at(loc[:-1]).__name__]
        text = f"{where}: missing — {what} needs it, e.g. {example}"
    else:
        text = f"{where or '(top)'}: {first['msg']} — see `fate-pulumi federation --help` for the file's keys"
    more = len(errors) - 1
    return text + (f" ({more} more problem{'s' * (more > 1)})" if more > 0 else "")


def load(path: Path) -> Topology:
    """A topology file; a stack file or a KubeFATE cluster file given instead is named with the command it is for."""
    from fate_pulumi.inputs import InputError, read_yaml

    doc = read_yaml(path, "federation topology")
    if isinstance(doc, dict) and "config" in doc:
        raise InputError(f"{path}: a Pulumi stack file, not a topology — deploy it with `pulumi up`, render it with "
                         f"fate-pulumi render {path} out/")
    if isinstance(doc, dict) and "chartName" in doc:
        raise InputError(f"{path}: a KubeFATE cluster file, not a topology — import it: fate-pulumi import {path} -o "
                         "Pulumi.<stack>.yaml")
    try:
        return Topology.model_validate(doc)
    except ValidationError as err:
        raise InputError(f"{path}: {_topology_problem(err)}") from None
