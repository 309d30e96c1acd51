"""Addresses: where peers reach the deployment (fate:publicHost), and who reaches it from another namespace. A KubeFATE
cluster file seldom names the deployment's own address: the peers' files do (their partyList, route-table and SNI
entries, their exchange sections, servingIp / servingServer.fateflow between a party's FATE and FATE-Serving).
routes_to reads those keys as KubeFATE v1.11.2's charts write them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

from components import registry
from fate_pulumi.importer.mapping import Result

_PROBE_HOST = "public-host.invalid"  # stands in for the unknown public host while its ports are looked up

# (kind, module exposed) -> where KubeFATE's peers name the deployment's address, for the note
_PEERS_NAME_IT = {
    ("party", "rollsite"): "the partyIp of partyId {pid} in the other parties' or the exchange's rollsite.partyList",
    ("party", "nginx"): "the proxy host of {pid} in the other parties' nginx.route_table",
    ("party", "pulsar"): "the host of {pid} in the other parties' pulsar.route_table",
    ("party", "rabbitmq"): "the host of {pid} in the other parties' rabbitmq.route_table",
    ("party", "python"): "servingServer.fateflow.ip in party {pid}'s FATE-Serving cluster file",
    ("exchange", "rollsite"): "rollsite.exchange.ip in the parties' cluster files",
    ("exchange", "nginx"): "nginx.exchange.ip in the parties' cluster files",
    ("exchange", "trafficServer"): "pulsar.exchange.ip in the parties' cluster files",
    ("serving", "servingProxy"): "the partyIp of partyId {pid} in the other parties' servingProxy.partyList",
    ("serving", "servingServer"): "servingIp in party {pid}'s FATE cluster file",
}


def _public_ports(res: Result) -> dict[int, str]:
    """Port reachable on the deployment's public host -> module: its NodePorts and load-balancer ports, as preflight
    matches peers' routes against them (preflight.exposed)."""
    from fate_pulumi.preflight import exposed
    from stacks.config import ConfigError, load_config

    try:
        cfg = load_config({**res.config, "development": True, "publicHost": _PROBE_HOST})
    except ConfigError:
        return {}  # reported by _required_secrets
    return {port: owner.split("/")[1] for (host, port), owner in exposed("", cfg).items() if host == _PROBE_HOST}


def _whole(value: Any) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def routes_to(data: dict[str, Any], pid: int, kind: str) -> list[tuple[str, Any, Any]]:
    """(key, host, port) of every route the cluster file `data` gives to deployment `pid` of `kind` (its own file
    included: a partyList may list the party itself)."""
    out: list[tuple[str, Any, Any]] = []
    chart = data.get("chartName")

    def section(*path: str) -> dict[str, Any]:
        node: Any = data
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        return node if isinstance(node, dict) else {}

    def party_list(name: str) -> None:
        for i, entry in enumerate(section(name).get("partyList") or []):
            if isinstance(entry, dict) and _whole(entry.get("partyId")) == pid:
                out.append((f"{name}.partyList[{i}].partyIp", entry.get("partyIp"), entry.get("partyPort")))

    def table_entry(name: str) -> Any:
        table = section(name).get("route_table") or {}
        return next((v for k, v in table.items() if _whole(k) == pid), None) if isinstance(table, dict) else None

    if kind == "party" and chart in ("fate", "fate-exchange"):
        party_list("rollsite")
        for name in ("pulsar", "rabbitmq"):
            route = table_entry(name)
            if isinstance(route, dict):
                for port_key in ("port", "sslPort"):
                    out.append((f"{name}.route_table.{pid}.host", route.get("host"), route.get(port_key)))
        route = table_entry("nginx")
        for i, hop in enumerate((route or {}).get("proxy") or [] if isinstance(route, dict) else []):
            if isinstance(hop, dict):
                for port_key in ("http_port", "grpc_port"):
                    out.append((f"nginx.route_table.{pid}.proxy[{i}].host", hop.get("host"), hop.get(port_key)))
        # an exchange's Traffic Server tunnels <partyId>.<domain> (the party's Pulsar) to host:port
        for i, sni in enumerate(section("trafficServer", "route_table").get("sni") or []):
            if isinstance(sni, dict) and str(sni.get("fqdn", "")).split(".")[0] == str(pid):
                host, _, port = str(sni.get("tunnelRoute", "")).rpartition(":")
                out.append((f"trafficServer.route_table.sni[{i}].tunnelRoute", host, port))
    if kind == "serving" and chart == "fate-serving":
        party_list("servingProxy")
    if kind == "exchange" and chart in ("fate", "fate-serving"):
        for name, port_keys in (("rollsite", ("port",)), ("nginx", ("httpPort", "grpcPort")), ("pulsar", ("port",)),
                                ("servingProxy", ("port",))):
            ex = section(name, "exchange")
            for port_key in port_keys:
                out.append((f"{name}.exchange.ip", ex.get("ip"), ex.get(port_key)))
    if _whole(data.get("partyId")) == pid:  # a party's FATE and FATE-Serving name each other
        if kind == "serving" and chart == "fate":
            out.append(("servingIp", data.get("servingIp"), data.get("servingPort")))
        if kind == "party" and chart == "fate-serving":
            ff = section("servingServer", "fateflow")
            out.append(("servingServer.fateflow.ip", ff.get("ip"), ff.get("port")))
    return out


def public_host(data: dict[str, Any], res: Result, peers: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """fate:publicHost from the routes that reach one of the deployment's public ports, in its own file or in the
    peers' files given; a note saying what to set when they do not name it (preflight and `connect` need it)."""
    from components import endpoints

    ports = _public_ports(res)
    if not ports or res.get("publicHost"):
        return
    pid = res.config["partyId"]
    kind = "FATE-Serving deployment" if res.kind == "serving" else res.kind
    found: dict[str, list[str]] = {}
    for source, doc in [("", data), *((f"{name}: ", peer) for name, peer in peers)]:
        for key, host, port in routes_to(doc, pid, res.kind):
            host = str(host or "").strip()
            if (not host or _whole(port) not in ports or endpoints.namespace_of(host, registry.SERVICE_NAMES)
                    or host.lower() in registry.SERVICE_NAMES):
                continue  # not this deployment's public address: another port, or an in-cluster name
            where = f"{source}{key}"
            if where not in found.setdefault(host, []):
                found[host].append(where)
    for _module, path, _svc in registry.EXPOSED:
        section = ".".join(path)
        lb = res.get(f"{section}.service.loadBalancerIP")
        if lb and res.get(f"{section}.service.type") == "LoadBalancer":
            found.setdefault(str(lb), []).append(res.origins.get(f"{section}.service.loadBalancerIP", section))
    if len(found) == 1:
        host, keys = next(iter(found.items()))
        res.set("publicHost", host)
        res.notes.append(f"publicHost: {host}, where peers reach this {kind} ({'; '.join(keys)})")
        return
    exposed = ", ".join(f"{m} {p}" for p, m in sorted(ports.items()))
    if found:
        res.notes.append("publicHost is not set: peers reach this " + kind + " at several addresses (" + "; ".join(
            f"{h}: {', '.join(k)}" for h, k in found.items()) + f"); set fate:publicHost to the one that reaches its "
            f"ports ({exposed}) — preflight and the `connect` output match peers' routes against it")
        return
    names = [text.format(pid=pid) for (k, m), text in _PEERS_NAME_IT.items() if k == res.kind and m in ports.values()]
    res.notes.append(
        f"publicHost is not set: this file does not name the address peers reach this {kind} at (its ports: "
        f"{exposed}); set fate:publicHost to it — a node's IP for NodePorts, the load balancer's for LoadBalancer "
        f"Services" + (f"; KubeFATE's peers give it as {' or '.join(names)}" if names else "")
        + " (or import with --peer <their cluster file>). preflight and the `connect` output need it")


def serving_registry(res: Result, peers: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """FATE Flow registers with the FATE-Serving ZooKeeper from the party's namespace (KubeFATE's layout: fate-9999
    beside fate-serving-9999); the NetworkPolicies admit another namespace's pods only where the stack's routes name
    it (servingServer.fateflow as `fateflow-client.<namespace>`) or networkPolicy.allowNamespaces lists it."""
    from components import endpoints

    if res.kind != "serving" or "servingZookeeper" not in res.config.get("modules", []):
        return
    fateflow = res.get("servingServer.fateflow.host")
    if fateflow and endpoints.namespace_of(str(fateflow)):
        return  # a peer namespace already (stacks/common.peer_namespaces)
    pid = res.config["partyId"]
    here = res.config.get("namespace") or res.config.get("name")
    party = next(((name, doc) for name, doc in peers
                  if doc.get("chartName") == "fate" and _whole(doc.get("partyId")) == pid), None)
    if party is not None:
        name, doc = party
        there = doc.get("namespace") or doc.get("name")
        zk = ((doc.get("serving") or {}).get("zookeeper") or {}).get("hosts") or []
        if not any(endpoints.namespace_of(str(h).rpartition(":")[0]) == here for h in zk) or there == here:
            return  # the party's FATE Flow does not use this registry, or runs in this namespace
        allowed = res.get("networkPolicy.allowNamespaces") or []
        res.set("networkPolicy.allowNamespaces", [*allowed, str(there)])
        res.notes.append(f"networkPolicy.allowNamespaces: {there}, the namespace FATE Flow of party {pid} registers "
                         f"with this ZooKeeper from ({name}: serving.zookeeper.hosts)")
        return
    res.notes.append(
        f"servingZookeeper: FATE Flow of party {pid} registers with this ZooKeeper when it uses the registry (its "
        f"serving.useRegistry, serving.zookeeper.hosts: serving-zookeeper.{here}:2181) from its own namespace "
        f"(KubeFATE's layout: fate-{pid}), which this file does not name, so this stack's NetworkPolicies would refuse "
        "it: list that namespace in fate:networkPolicy.allowNamespaces (admits it to every module; or import with "
        "--peer <the party's cluster file>), or, narrower, have servingServer.fateflow name FATE Flow in the cluster "
        "(host fateflow-client.<that namespace>, port 9380: admits it to ZooKeeper, serving-server and serving-proxy)")
