"""Deploy a whole federation from one topology file: the exchange first, then every party, each a stack.

    fate-pulumi federation preview federation.yaml
    fate-pulumi federation up federation.yaml
    fate-pulumi federation drift federation.yaml

The topology lists the parties (party id, backend, cluster, the address others reach it on) and the exchange.
Every route is derived from it — rollsite party lists and exchange routes, Pulsar/RabbitMQ/nginx route tables,
Traffic Server SNI routes — from a NodePort plan (or the ports the file gives), so no address or port is copied
by hand. Stacks are named `<name>-exchange` and `<name>-party-<id>`; the Automation API runs them with the project
in --work-dir. Prints one status table; exit 0 when every stack succeeded (for drift: none drifted; 3 if any did).

Once every stack is up, `up` verifies every route it derived: each pair of parties that federate (the same
federation engine) runs FATE's toy test once, from the party listed first (`fate:verify.toy` on its stack), and the
table shows each pair verified or failed with FATE's reason (`--no-verify` skips it).

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
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
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

# what the topology itself decides for every stack; a site's `config:` may set anything else
_TOPOLOGY_KEYS = ("kind", "partyId", "backend", "publicHost", "development", "kubernetes", "namespace")

# NodePorts: party number i (1-based, in file order) uses 30000 + 10*i + slot; the exchange uses 30000 + slot.
# Low ports on purpose: Kubernetes hands out automatic NodePorts from the top of the range first.
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
    toy: list[int] = field(default_factory=list)  # peers listed after this party: the routes it verifies

    def secrets(self) -> dict[str, str]:
        """The passwords, read from the environment only when a stack is deployed."""
        missing = [f"{self.where}.secrets.{k}: environment variable {v} is not set"
                   for k, v in self.secret_refs.items() if v not in os.environ]
        if missing:
            raise ValueError("\n".join(missing))
        return {k: os.environ[v] for k, v in self.secret_refs.items()}


def _check_ports(sites: list[tuple[str, dict[str, int]]]) -> None:
    seen: dict[int, str] = {}
    for where, ports in sites:
        for port in set(ports.values()):
            if port > 32767:
                raise ValueError(f"{where}.nodePortBase: NodePort {port} is beyond 32767; give this entry a lower "
                                 "nodePortBase (about 270 sites fit the default plan)")
            if port in seen:
                raise ValueError(f"{where}.nodePortBase: NodePort {port} is also planned for {seen[port]}; "
                                 "choose bases at least 10 apart")
            seen[port] = where


def _federation(p: PartySpec) -> str:
    return BACKEND_ENGINES[p.backend][1]


def _rollsite_tls(site: Site) -> bool:
    return bool(site.config.get("rollsite", {}).get("tls", {}).get("enabled"))


def _rollsite_service(site: Site, ports: dict[str, int]) -> dict[str, Any]:
    node_ports = {
        "rollsite": ports["rollsite"],
        **({"rollsiteTls": ports["rollsiteTls"]} if _rollsite_tls(site) else {}),
    }
    return {"type": "NodePort", "nodePorts": node_ports}


def _rollsite_route(src: Site, dst: Site, dst_ports: dict[str, int]) -> dict[str, Any]:
    """src's route to dst's rollsite: mutual TLS on dst's TLS port when both have certificates, else plaintext."""
    if _rollsite_tls(src) and _rollsite_tls(dst):
        return {"host": dst.address, "port": dst_ports["rollsiteTls"], "secure": True}
    return {"host": dst.address, "port": dst_ports["rollsite"]}


def _ports(base: int) -> dict[str, int]:
    return {k: base + v for k, v in SLOTS.items()}


def plan(topo: Topology) -> list[StackPlan]:
    """The stacks of the federation with every route filled in; the exchange comes first."""
    parties = []
    for i, p in enumerate(topo.parties, start=1):
        parties.append((p, _ports(p.node_port_base or 30000 + 10 * i)))
    ids = [p.party_id for p, _ in parties]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ValueError(f"parties: party id {twice[0]} is listed twice; each party needs its own id")
    ex = topo.exchange
    ex_ports = _ports(ex.node_port_base or 30000) if ex else {}
    _check_ports(
        [("exchange", ex_ports)] * bool(ex) + [(f"parties[{i}]", ports) for i, (_, ports) in enumerate(parties)]
    )
    pulsar_exchange = ex is not None and ex.backend != "eggroll"

    def nginx_hops(p: PartySpec, ports: dict) -> dict:
        return {"proxy": [{"host": p.address, "httpPort": ports["nginxHttp"], "grpcPort": ports["nginxGrpc"]}],
                "fateflow": [{"host": p.address, "httpPort": ports["fateflowHttp"], "grpcPort": ports["fateflowGrpc"]}]}

    stacks: list[StackPlan] = []
    if ex:
        cfg: dict[str, Any] = {"kind": "exchange", "partyId": 1, "backend": ex.backend, "publicHost": ex.address}
        if ex.backend == "eggroll":
            cfg["rollsite"] = {"service": _rollsite_service(ex, ex_ports),
                               "partyList": [{"partyId": p.party_id, **_rollsite_route(ex, p, ports)}
                                             for p, ports in parties if p.backend == "eggroll"]}
        else:
            cfg["trafficServer"] = {
                "service": {"type": "NodePort", "nodePorts": {"tls": ex_ports["trafficServer"]}},
                "sniRoutes": [
                    {"fqdn": f"{p.party_id}.fate.org", "tunnelRoute": f"{p.address}:{ports['brokerTls']}"}
                    for p, ports in parties
                    if _federation(p) == "Pulsar"
                ],
            }
            cfg["nginx"] = {
                "service": {
                    "type": "NodePort",
                    "nodePorts": {"http": ex_ports["nginxHttp"], "grpc": ex_ports["nginxGrpc"]},
                },
                "routeTable": {p.party_id: nginx_hops(p, ports) for p, ports in parties if _federation(p) == "Pulsar"},
            }
        stacks.append(_stack(topo, f"{topo.name}-exchange", "exchange", 1, cfg, ex, "exchange"))

    for i, (p, ports) in enumerate(parties):
        # peers federate over the same engine (rollsite, RabbitMQ or Pulsar), whatever their computing backend
        peers = [(q, qp) for q, qp in parties if q.party_id != p.party_id and _federation(q) == _federation(p)]
        cfg = {
            "partyId": p.party_id,
            "backend": p.backend,
            "publicHost": p.address,
            "python": {
                "service": {
                    "type": "NodePort",
                    "nodePorts": {"http": ports["fateflowHttp"], "grpc": ports["fateflowGrpc"]},
                }
            },
        }
        if p.backend == "eggroll":
            cfg["rollsite"] = {"service": _rollsite_service(p, ports)}
            if ex and ex.backend == "eggroll":
                cfg["rollsite"]["exchange"] = _rollsite_route(p, ex, ex_ports)
            else:
                cfg["rollsite"]["partyList"] = [{"partyId": q.party_id, **_rollsite_route(p, q, qp)} for q, qp in peers]
        else:
            cfg["nginx"] = {
                "service": {"type": "NodePort", "nodePorts": {"http": ports["nginxHttp"], "grpc": ports["nginxGrpc"]}}
            }
            broker = "rabbitmq" if p.backend == "spark_rabbitmq" else "pulsar"
            if broker == "pulsar":
                cfg["pulsar"] = {
                    "service": {
                        "type": "NodePort",
                        "nodePorts": {"broker": ports["broker"], "brokerTls": ports["brokerTls"]},
                    }
                }
                if pulsar_exchange and ex is not None:
                    cfg["pulsar"]["exchange"] = {"host": ex.address, "port": ex_ports["trafficServer"]}
                    cfg["nginx"]["exchange"] = {
                        "host": ex.address,
                        "httpPort": ex_ports["nginxHttp"],
                        "grpcPort": ex_ports["nginxGrpc"],
                    }
                else:
                    cfg["pulsar"]["routeTable"] = {
                        q.party_id: {"host": q.address, "port": qp["broker"], "sslPort": qp["brokerTls"]}
                        for q, qp in peers
                    }
            else:
                cfg["rabbitmq"] = {
                    "service": {"type": "NodePort", "nodePorts": {"amqp": ports["broker"]}},
                    "routeTable": {q.party_id: {"host": q.address, "port": qp["broker"]} for q, qp in peers},
                }
            if not (broker == "pulsar" and pulsar_exchange):
                cfg["nginx"]["routeTable"] = {q.party_id: nginx_hops(q, qp) for q, qp in peers}
        party = _stack(topo, f"{topo.name}-party-{p.party_id}", "party", p.party_id, cfg, p, f"parties[{i}]")
        party.toy = [q.party_id for q, _ in parties[i + 1:] if _federation(q) == _federation(p)]
        stacks.append(party)
    return stacks


def configs(stacks: list[StackPlan], need_secrets: bool = True) -> dict[str, DeploymentConfig]:
    """Each planned stack's config validated the way `pulumi up` will validate it, before any stack is touched.

    A problem is reported with the topology entry it comes from; without `need_secrets` (a picture, a plan
    review) passwords may be missing."""
    out = {}
    for s in stacks:
        secrets = s.secrets() if need_secrets else {}
        values = {**s.config, **secrets} if need_secrets else {**s.config, "development": True}
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
    cfg = _merge(cfg, site.config)
    if site.kubernetes:
        cfg["kubernetes"] = site.kubernetes
    if site.namespace:
        cfg["namespace"] = site.namespace
    if topo.development:
        cfg["development"] = True
    taken = sorted(set(site.config) & set(_TOPOLOGY_KEYS))
    if taken:
        raise ValueError(f"{where}.config.{taken[0]}: set by the topology itself; use the entry's own field "
                         f"(partyId, backend, address, kubernetes, namespace) or the file's development flag")
    refs = {}
    for key, ref in site.secrets.items():
        if key not in SECRET_KEYS:
            raise ValueError(f"{where}.secrets.{key}: not a password key; use one of {', '.join(SECRET_KEYS)}")
        if not ref.startswith("env:") or len(ref) == 4:
            raise ValueError(f"{where}.secrets.{key}: must be env:<VARIABLE> (no password in the topology file)")
        refs[key] = ref[4:]
    return StackPlan(name, kind, party_id, cfg, refs, where)


@dataclass
class Status:
    stack: str
    kind: str
    party_id: int
    result: str
    detail: str = ""
    seconds: Optional[float] = None  # how long its preview / up / drift check / toy test took


def _workspace_stack(plan_: StackPlan, work_dir: Path):
    from pulumi import automation as auto

    from fate_pulumi.render import engine_string

    stack = auto.create_or_select_stack(stack_name=plan_.name, work_dir=str(work_dir))
    values = {f"fate:{k}": auto.ConfigValue(engine_string(v)) for k, v in plan_.config.items()}
    values.update({f"fate:{k}": auto.ConfigValue(v, secret=True) for k, v in plan_.secrets().items()})
    stack.set_all_config(values)
    return stack


def run(command: str, stacks: list[StackPlan], work_dir: Path, out=sys.stdout, verify: bool = True) -> list[Status]:
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
                res = stack.up()
                ports = res.outputs.get("connect").value.get("nodePorts", {}) if "connect" in res.outputs else {}
                flat = ", ".join(
                    f"{m}:{'/'.join(str(v) for v in ps.values())}" for m, ps in sorted(ports.items()) if ps
                )
                results.append(Status(p.name, p.kind, p.party_id, res.summary.result, flat))
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
    given = p.config.get("verify", {})
    toy = sorted(set(given.get("toy", [])) | set(p.toy))
    checked = StackPlan(p.name, p.kind, p.party_id, {**p.config, "verify": {**given, "toy": toy}}, p.secret_refs,
                        p.where)
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


def _print_table(results: list[Status], out) -> None:
    rows = [("stack", "kind", "party", "result", "time", "detail")] + [
        (r.stack, r.kind, str(r.party_id), r.result, "-" if r.seconds is None else f"{r.seconds:.1f}s", r.detail)
        for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:5])) + "  " + row[5], file=out)
    timed = [r.seconds for r in results if r.seconds is not None and r.kind != "verify"]
    if len(timed) > 1:
        print(f"{len(timed)} stacks in {sum(timed):.1f}s, {statistics.median(timed):.1f}s per stack (median)", file=out)


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
        first = err.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(top)"
        raise InputError(f"{path}: {where}: {first['msg']} — see `fate-pulumi federation --help` for the file's keys"
                         + (f" ({len(err.errors()) - 1} more problems)" if len(err.errors()) > 1 else "")) from None


def main(argv: Optional[list[str]] = None, prog: str = "fate-pulumi federation") -> int:
    import shutil

    from fate_pulumi.inputs import InputError

    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                     epilog="exit status: 0 every stack succeeded, 1 a stack failed, 2 bad topology "
                                            "(nothing touched), 3 drift found")
    parser.add_argument("command", choices=("up", "preview", "drift"))
    parser.add_argument("topology", type=Path)
    parser.add_argument(
        "--work-dir", type=Path, default=Path(__file__).resolve().parent.parent, help="the Pulumi project"
    )
    parser.add_argument("--no-verify", action="store_true",
                        help="up: skip FATE's toy test between every pair of federated parties")
    args = parser.parse_args(argv)
    topo = load(args.topology)
    try:
        stacks = plan(topo)
        checked = configs(stacks)  # refuse an inconsistent topology before touching any stack
    except ValueError as err:
        for line in str(err).strip().splitlines():
            if line.strip():
                print(f"error: {args.topology}: {line.strip()}", file=sys.stderr)
        return 2
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
    results = run(args.command, stacks, args.work_dir, verify=not args.no_verify)
    if any(r.result in ("error", "failed") for r in results):
        return 1
    if args.command == "drift" and any(r.result == "drift" for r in results):
        return 3
    return 0


if __name__ == "__main__":
    from fate_pulumi.cli import guarded

    sys.exit(guarded(main))
