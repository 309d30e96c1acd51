"""Deploy a whole federation from one topology file: the exchange first, then every party, each a stack.

    fate-pulumi federation preview federation.yaml
    fate-pulumi federation up federation.yaml
    fate-pulumi federation drift federation.yaml
    fate-pulumi federation plan federation.yaml -o plan/     # the stack files `up` would write, for review

The topology lists the parties (party id, backend, cluster, the address others reach it on) and the exchange.
Every route is derived from it — rollsite party lists and exchange routes, Pulsar/RabbitMQ/nginx route tables,
Traffic Server SNI routes — from each site's block of 10 NodePorts (the exchange 30000-30009, a party's from its
party id, the block a stack already has, or the entry's nodePortBase), so no address or port is copied by hand and
the order of the parties in the file changes nothing. Stacks are named `<name>-exchange` and `<name>-party-<id>`;
the Automation API runs them with the project in --work-dir, whose `fate:` config is made equal to what the
topology derives (a `fate:` key set by hand is reported: `up` refuses it). Prints one status table; exit 0 when
every stack succeeded (for drift: none drifted; 3 if any did).

Once every stack is up, `up` verifies every route it derived: each pair of parties that federate (the same
federation engine) runs FATE's toy test once, from the party with the lower id (`fate:verify.toy` on its stack),
and the table shows each pair verified or failed with FATE's reason (`--no-verify` skips it).

    name: demo
    development: false                 # true: unset passwords fall back to defaults (test federations)
    exchange:                          # optional; without it parties federate peer to peer
      backend: eggroll                 # eggroll (rollsite) or spark_pulsar (Traffic Server + nginx)
      address: 203.0.113.5
      kubernetes: {context: exchange}
    parties:
      - partyId: 9999
        backend: eggroll
        address: 203.0.113.10
        kubernetes: {context: bank-a}
        secrets: {mysqlPassword: env:BANK_A_MYSQL}      # values from the environment, stored as Pulumi secrets
        config: {nodemanager: {replicas: 3}}           # any other fate:* settings of this party
        nodePortBase: 31200                            # optional: its NodePorts are 31200-31209
"""

from __future__ import annotations

import difflib
import os
import statistics
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, Optional

import yaml
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

if TYPE_CHECKING:
    from pulumi import automation as auto

# what the topology itself decides for every stack; a site's `config:` may set anything else
_TOPOLOGY_KEYS = ("kind", "partyId", "backend", "publicHost", "development", "kubernetes", "namespace")

# NodePorts: every site holds a block of 10, base + slot. The exchange's block is 30000-30009; a party's comes from
# its party id alone, 30000 + 10 * (1 + id % 275) (30010-32759), so adding, removing or reordering parties moves no
# other party's ports. A site whose stack already has NodePorts keeps them (stacks planned before by file order do),
# and a topology entry's nodePortBase overrides both. Low ports on purpose: Kubernetes hands out automatic NodePorts
# from the top of the range first.
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

# The `fate:` keys the driver wrote to a stack, recorded in the stack's config outside the `fate:` namespace (the
# program reads only `fate:` keys): a key it wrote before and no longer derives is removed; a `fate:` key it never
# wrote is the operator's, and is reported instead of kept or dropped silently.
OWNED = "fate-pulumi:federationKeys"
PLAN_HEADER = "# fate-pulumi federation plan"  # first line of every file `federation plan` writes (and may rewrite)


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
    backend: Literal[tuple(BACKEND_ENGINES)] = "eggroll"  # type: ignore[valid-type]


class ExchangeSpec(Site):
    backend: Literal[tuple(EXCHANGE_BACKEND_MODULES)] = "eggroll"  # type: ignore[valid-type]


class Topology(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    development: bool = False
    exchange: Optional[ExchangeSpec] = None
    parties: list[PartySpec] = Field(min_length=1)


@dataclass
class StackPlan:
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
        had = _get(current, "verify", "toy")
        waiting = set(self.toy) - set(had if isinstance(had, list) else [])
        verify = dict(self.verified()["verify"])
        verify["toy"] = [peer for peer in verify["toy"] if peer not in waiting]
        verify = {k: v for k, v in verify.items() if v or k != "toy"}
        rest = {k: v for k, v in self.config.items() if k != "verify"}
        return {**rest, "verify": verify} if verify else rest


def _missing_variables(missing: list[str]) -> str:
    return (f"secrets: environment variable{'s' * (len(missing) > 1)} not set: {', '.join(missing)} — export "
            f"{'each' if len(missing) > 1 else 'it'} before running (or set development: true for a test federation)")


def _get(node: Any, *path: str) -> Any:
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def node_ports(config: dict[str, Any]) -> dict[str, int]:
    """The planned NodePorts a stack's `fate:` config holds, by slot: what an earlier `up` set."""
    out = {}
    for module, keys in NODE_PORTS.items():
        ports = _get(config, module, "service", "nodePorts")
        for key, slot in keys.items():
            port = _get(ports, key)
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


def plan(topo: Topology, recorded: Optional[Mapping[str, dict[str, int]]] = None) -> list[StackPlan]:
    """The stacks of the federation with every route filled in: the exchange first, then the parties by party id.
    Nothing depends on the order of the parties in the file. `recorded`: the NodePorts stacks already have, by stack
    name (recorded_node_ports); each keeps them."""
    ex = topo.exchange
    ex_ports, parties = _place(topo, recorded or {})
    stacks: list[StackPlan] = []
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


def configs(stacks: list[StackPlan], need_secrets: bool = True) -> dict[str, DeploymentConfig]:
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


def _stack(topo: Topology, name: str, kind: str, party_id: int, cfg: dict, site: Site, where: str) -> StackPlan:
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
    return StackPlan(name, kind, party_id, cfg, refs, where)


# --------------------------------------------------------------------------------------------------------------
# The stacks' own files: what `up` set before, what the operator set by hand, and the reviewable plan


def _stack_names(directory: Path, federation: str) -> list[str]:
    """The stacks of federation `federation` that have a Pulumi.<stack>.yaml in `directory`."""
    out = []
    for path in sorted(directory.glob(f"Pulumi.{federation}-*.yaml")):
        stack = path.name[len("Pulumi."):-len(".yaml")]
        rest = stack[len(federation) + 1:]
        if rest == "exchange" or (rest.startswith("party-") and rest[len("party-"):].isdigit()):
            out.append(stack)
    return out


def stack_config(work_dir: Path, stack: str) -> tuple[dict[str, Any], list[str]]:
    """A stack's `fate:` values (objects parsed) as its Pulumi.<stack>.yaml in the project holds them (the
    Automation API keeps stack config there), and the keys the driver recorded writing; empty without a file."""
    from fate_pulumi.inputs import read_yaml
    from stacks.program import parse_value

    path = work_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        return {}, []
    config = _get(read_yaml(path, "stack file (Pulumi.<stack>.yaml)"), "config")
    if not isinstance(config, dict):
        return {}, []
    values = {str(k).split(":", 1)[1]: parse_value(v) for k, v in config.items() if str(k).startswith("fate:")}
    owned = parse_value(config.get(OWNED, []))
    return values, [k for k in owned if isinstance(k, str)] if isinstance(owned, list) else []


def recorded_node_ports(topo: Topology, work_dir: Path) -> dict[str, dict[str, int]]:
    """The NodePorts every stack of this federation has in its stack file, by stack name — stacks of sites no longer
    in the topology too (they may still run): what an earlier `up` set, kept so that no running site moves."""
    found = {name: node_ports(stack_config(work_dir, name)[0]) for name in _stack_names(work_dir, topo.name)}
    return {name: ports for name, ports in found.items() if ports}


def hand_set(stacks: list[StackPlan], work_dir: Path) -> list[tuple[StackPlan, Path, str]]:
    """`fate:` keys a stack has that the topology does not derive and the driver never wrote: set by hand (or by a
    fate-pulumi from before the record), each with the stack's plan and file."""
    out = []
    for s in stacks:
        current, owned = stack_config(work_dir, s.name)
        out += [(s, work_dir / f"Pulumi.{s.name}.yaml", key) for key in sorted(current)
                if key not in owned and key not in s.keys()]
    return out


def plan_file(s: StackPlan, federation: str) -> str:
    """What `up` gives stack `s`, as a stack file to review: its `fate:` config once verified, the record of the keys
    the driver owns, and each password's environment variable in a comment — nothing secret."""
    config: dict[str, Any] = {f"fate:{k}": v for k, v in s.verified().items()}
    config[OWNED] = sorted(s.keys())
    lines = [f"{PLAN_HEADER} (federation {federation}): the config `fate-pulumi federation up` gives stack {s.name}.",
             "# For review; it holds no password: up reads each from the environment and stores it encrypted:"]
    lines += [f"#   fate:{key}: env:{var}" for key, var in sorted(s.secret_refs.items())] or ["#   (none)"]
    return "\n".join(lines) + "\n" + yaml.safe_dump({"config": config}, sort_keys=True, default_flow_style=False)


def write_plan(stacks: list[StackPlan], federation: str, out: Path) -> list[Path]:
    """Write every stack's plan file to `out`; an earlier plan's file of a stack no longer planned is removed. A file
    that is not an earlier plan's (a user's stack file) is never overwritten: nothing is written then."""
    from fate_pulumi.inputs import InputError, output_dir, write_atomically

    def ours(path: Path) -> bool:
        with path.open(encoding="utf-8", errors="replace") as f:
            return f.readline().startswith(PLAN_HEADER)

    files = {out / f"Pulumi.{s.name}.yaml": plan_file(s, federation) for s in stacks}
    for path in files:
        if path.is_dir() or (path.exists() and not ours(path)):
            raise InputError(f"{path}: exists and was not written by fate-pulumi federation plan — move it away or "
                             "give another -o directory (a file of yours is never overwritten)")
    output_dir(out)
    for path, text in files.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            write_atomically(path, text)
    for name in _stack_names(out, federation):
        path = out / f"Pulumi.{name}.yaml"
        if path not in files and ours(path):
            path.unlink()
    return list(files)


@dataclass
class Status:
    stack: str
    kind: str
    party_id: int
    result: str
    detail: str = ""
    seconds: Optional[float] = None  # how long its preview / up / drift check / toy test took


def _workspace_stack(plan_: StackPlan, work_dir: Path) -> auto.Stack:
    """The stack, its `fate:` config made equal to what the topology derives: keys the driver wrote before and no
    longer derives are removed first, then every derived key is written with the record of them (one write)."""
    from pulumi import automation as auto

    from fate_pulumi.render import engine_string

    stack = auto.create_or_select_stack(stack_name=plan_.name, work_dir=str(work_dir))
    current, owned = stack_config(work_dir, plan_.name)
    config = plan_.first_pass(current)
    written = sorted(set(config) | set(plan_.secret_refs))
    stale = [f"fate:{k}" for k in owned if k in current and k not in written]
    if stale:
        stack.remove_all_config(stale)
    values = {f"fate:{k}": auto.ConfigValue(engine_string(v)) for k, v in config.items()}
    values.update({f"fate:{k}": auto.ConfigValue(v, secret=True) for k, v in plan_.secrets().items()})
    values[OWNED] = auto.ConfigValue(engine_string(written))
    stack.set_all_config(values)
    return stack


def live_node_ports(stack: Any) -> set[int]:
    """The NodePorts a deployed stack reports (its `connect` output: what the cluster assigned)."""
    connect = stack.outputs().get("connect")
    ports = (connect.value or {}).get("nodePorts", {}) if connect is not None else {}
    return {int(port) for by_name in ports.values() if isinstance(by_name, dict) for port in by_name.values()
            if isinstance(port, int) or (isinstance(port, str) and port.isdigit())}


def moved_ports(p: StackPlan, work_dir: Path) -> Optional[str]:
    """Why stack `p` must not be brought up by this plan: it runs already, its stack file (which keeps its NodePorts)
    is not in the project, and the plan would give it other NodePorts — every peer's route to it would break."""
    from pulumi import automation as auto

    if (work_dir / f"Pulumi.{p.name}.yaml").is_file():
        return None  # its ports were read from that file and kept
    try:
        stack = auto.select_stack(stack_name=p.name, work_dir=str(work_dir))
    except auto.StackNotFoundError:
        return None
    live, planned = live_node_ports(stack), set(node_ports(p.config).values())
    if not live or live <= planned:
        return None
    return (f"{p.where} ({p.name}): the stack runs with NodePorts {', '.join(map(str, sorted(live)))}, and this "
            f"plan would give it {', '.join(map(str, sorted(planned)))}: its Pulumi.{p.name}.yaml, which keeps them, "
            f"is not in {work_dir} — run in the project that deployed it (or restore the file); nothing was touched")


def run(command: str, stacks: list[StackPlan], work_dir: Path, out: IO[str] = sys.stdout,
        verify: bool = True) -> list[Status]:
    """Preview, bring up or check for drift every planned stack in order (the exchange first); after `up`, verify
    every derived route with FATE's toy test."""
    from fate_pulumi import drift

    results: list[Status] = []
    for p in stacks:
        start = time.perf_counter()
        try:
            stack = _workspace_stack(p, work_dir)
            if command == "preview":
                res = stack.preview()
                changes = {k.value if hasattr(k, "value") else k: v for k, v in (res.change_summary or {}).items()}
                results.append(
                    Status(p.name, p.kind, p.party_id, "ok", ", ".join(f"{v} {k}" for k, v in sorted(changes.items())))
                )
            elif command == "up":
                up = stack.up()
                ports = up.outputs["connect"].value.get("nodePorts", {}) if "connect" in up.outputs else {}
                flat = ", ".join(
                    f"{m}:{'/'.join(str(v) for v in ps.values())}" for m, ps in sorted(ports.items()) if ps
                )
                results.append(Status(p.name, p.kind, p.party_id, up.summary.result, flat))
            elif command == "drift":
                found = drift.check(p.name, work_dir)
                results.append(Status(p.name, p.kind, p.party_id, "drift" if found else "clean",
                                      "; ".join(f"{d.kind}/{d.name} {d.change}" for d in found)))
        except Exception as err:  # noqa: BLE001 - reported in the table, the rest of the federation goes on
            results.append(Status(p.name, p.kind, p.party_id, "error", str(err).strip().splitlines()[-1][:200]))
            if command == "up" and p.kind == "exchange":
                results[-1].seconds = time.perf_counter() - start
                break  # parties need their exchange
        results[-1].seconds = time.perf_counter() - start
    if command == "up" and verify and all(r.result == "succeeded" for r in results):
        for p in stacks:
            if p.toy:
                results += _verify(p, work_dir)
    _print_table(results, out)
    return results


# what the runner records when the FATE job did not succeed (components/fatejob_runner.py)
_FAILED = ("failed", "canceled", "timeout", "refused", "unsubmitted")


def _verify(p: StackPlan, work_dir: Path) -> list[Status]:
    """FATE's toy test from this party to each later peer (a second `up` of its stack that adds only the toy jobs);
    a row per pair."""
    start = time.perf_counter()
    rows = _verify_pairs(p, work_dir)
    for row in rows:
        row.seconds = time.perf_counter() - start  # the pairs of one party run in one up
    return rows


def _verify_pairs(p: StackPlan, work_dir: Path) -> list[Status]:
    checked = StackPlan(p.name, p.kind, p.party_id, p.verified(), p.secret_refs, p.where)
    try:
        res = _workspace_stack(checked, work_dir).up()
        jobs = res.outputs["jobs"].value if "jobs" in res.outputs else {}
    except Exception as err:  # noqa: BLE001 - the failing job's message is the reason of each pair
        text = str(err)
        reason = next((ln.strip() for ln in text.splitlines() if "FATE job" in ln or "FATE Flow" in ln),
                      text.strip().splitlines()[-1] if text.strip() else "pulumi up failed")
        return [Status(p.name, "verify", p.party_id, "failed", f"toy {p.party_id} -> {peer}: {reason[:300]}")
                for peer in p.toy]
    rows = []
    for peer in p.toy:
        job = jobs.get(f"toy-{peer}") or {}
        status = job.get("status") or "unknown"
        # neither: the job's Kubernetes Job completed without a recorded outcome (the runner could not write it)
        result = "verified" if status == "success" else "failed" if status in _FAILED else "unverified"
        said = job.get("message") or status
        fate_job = f" (FATE job {job['jobId']})" if job.get("jobId") and f"FATE job {job['jobId']}" not in said else ""
        rows.append(Status(p.name, "verify", p.party_id, result, f"toy {p.party_id} -> {peer}: {said}{fate_job}"))
    return rows


def _print_table(results: list[Status], out: IO[str]) -> None:
    rows = [("stack", "kind", "party", "result", "time", "detail")] + [
        (r.stack, r.kind, str(r.party_id), r.result, "-" if r.seconds is None else f"{r.seconds:.1f}s", r.detail)
        for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:5])) + "  " + row[5], file=out)
    timed = [r.seconds for r in results if r.seconds is not None and r.kind != "verify"]
    if len(timed) > 1:
        print(f"{len(timed)} stacks in {sum(timed):.1f}s, {statistics.median(timed):.1f}s per stack (median)", file=out)


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


def _report_hand_set(stacks: list[StackPlan], work_dir: Path, topology: Path, refuse: bool) -> int:
    """One line per `fate:` key a stack has that the topology does not give (an error where `up` refuses them, else a
    warning); how many."""
    found = hand_set(stacks, work_dir)
    for s, path, key in found:
        home = (f"give it in {s.where}.secrets of {topology} as {key}: env:<VARIABLE>" if key in SECRET_KEYS
                else f"move it into {s.where}.config of {topology}")
        print(f"{'error' if refuse else 'warning'}: {path}: fate:{key}: in the stack but not from the topology (set "
              f"by hand, or by an earlier fate-pulumi){'' if refuse else ', and up refuses it'} — {home}, or remove "
              f"it: pulumi config rm fate:{key} --stack {s.name}", file=sys.stderr)
    return len(found)


def main(argv: Optional[list[str]] = None, prog: str = "fate-pulumi federation") -> int:
    import argparse
    import shutil

    from fate_pulumi.inputs import InputError, OneLineParser

    # the whole docstring: its example is the file's keys, which topology errors send the reader to
    parser = OneLineParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                           epilog="exit status: 0 every stack succeeded, 1 a stack failed, 2 bad topology "
                                  "(nothing touched), 3 drift found")
    parser.add_argument("command", choices=("up", "preview", "drift", "plan"))
    parser.add_argument("topology", type=Path)
    parser.add_argument("--work-dir", type=Path, default=Path.cwd(),
                        help="the Pulumi project: its Pulumi.yaml and the stacks' Pulumi.<stack>.yaml files, whose "
                             "NodePorts are kept (default: the current directory)")
    parser.add_argument("-o", "--out", type=Path,
                        help="plan: the directory to write Pulumi.<stack>.yaml files to (offline, nothing secret)")
    parser.add_argument("--no-verify", action="store_true",
                        help="up: skip FATE's toy test between every pair of federated parties")
    args = parser.parse_args(argv)
    if (args.command == "plan") != (args.out is not None):
        parser.error("-o DIR is where `plan` writes, and only `plan` takes it")
    topo = load(args.topology)
    try:
        stacks = plan(topo, recorded_node_ports(topo, args.work_dir))
        checked = configs(stacks, need_secrets=args.command != "plan")  # refuse before touching any stack
    except ValueError as err:
        for line in str(err).strip().splitlines():
            if line.strip():
                print(f"error: {args.topology}: {line.strip()}", file=sys.stderr)
        return 2
    if not (args.work_dir / "Pulumi.yaml").is_file():
        # the stacks' files there hold the NodePorts running parties keep: planning without them could move them
        raise InputError(f"{args.work_dir}: no Pulumi.yaml — run it in the fate-pulumi project (where the stacks' "
                         "Pulumi.<stack>.yaml files are) or give --work-dir")
    if _report_hand_set(stacks, args.work_dir, args.topology, refuse=args.command == "up"):
        if args.command == "up":
            return 2
    if args.command == "plan":
        written = write_plan(stacks, topo.name, args.out)
        print(f"{len(written)} stack files in {args.out}: {', '.join(p.name for p in written)}")
        return 0
    if args.command == "up":  # what can be checked before touching a cluster (fate-pulumi preflight)
        from fate_pulumi.preflight import static_checks, table

        findings = static_checks(checked)
        if not all(f.ok for f in findings):
            print(table([f for f in findings if not f.ok]), file=sys.stderr)
            print(f"error: {args.topology}: the preflight checks failed; nothing was touched", file=sys.stderr)
            return 1
    if shutil.which("pulumi") is None:
        raise InputError("pulumi: the Pulumi CLI is not on PATH — install it (README: Install Pulumi) or source the "
                         "toolchain's env.sh")
    if args.command == "up":  # a running site whose ports this plan would move is refused before any stack runs
        moved = [why for why in (moved_ports(s, args.work_dir) for s in stacks) if why]
        if moved:
            for why in moved:
                print(f"error: {args.topology}: {why}", file=sys.stderr)
            return 2
    results = run(args.command, stacks, args.work_dir, verify=not args.no_verify)
    if any(r.result in ("error", "failed") for r in results):
        return 1
    if args.command == "drift" and any(r.result == "drift" for r in results):
        return 3
    return 0


if __name__ == "__main__":
    from fate_pulumi.cli import guarded

    sys.exit(guarded(main))
