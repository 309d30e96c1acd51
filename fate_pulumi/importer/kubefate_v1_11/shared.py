"""Sections several charts of KubeFATE v1.11.2 have: Ingresses (fate, fate-serving), nginx (fate, fate-exchange),
rollsite's TLS switch (fate, fate-exchange), party lists and exchanges (rollsite, servingProxy)."""

from __future__ import annotations

from typing import Any

from fate_pulumi.importer.mapping import Result, Section, address, party_routes, scheduling, service, whole_number

# KubeFATE's example addresses that leak into configs when a section is left out (reference section 0)
LEAKS = {
    "nginx.exchange": "KubeFATE would send unknown parties to its example exchange 192.168.10.1:30003/30008 "
                      "(values.yaml leak); fate-pulumi sets no default route",
    "servingProxy.exchange": "KubeFATE would send unknown parties to its example serving exchange 192.168.0.1:30100 "
                             "(values.yaml leak); fate-pulumi routes them locally",
    "serving.zookeeper": "KubeFATE writes the ZooKeeper host of party 9999 (serving-zookeeper.fate-serving-9999:2181) "
                         "whatever the party; fate-pulumi writes none",
}


def ingress(src: Section, res: Result, names: tuple[str, ...], modules: list[str]) -> None:
    ing = src.sub("ingress")
    for name in names:
        route = ing.sub(name)
        if not route.present:
            continue
        if name not in modules:
            for key in list(route.data):
                route.take(key)
            res.notes.append(
                f"ingress.{name}: module {name} is not deployed, so KubeFATE creates no Ingress; not imported"
            )
            continue
        out: dict[str, Any] = {}
        hosts = route.take("hosts")
        if hosts:
            out["hosts"] = [{"name": h["name"], **({"path": h["path"]} if h.get("path") else {})} for h in hosts]
        tls = route.take("tls")
        if tls:
            out["tls"] = [
                {"secretName": t["secretName"], **({"hosts": t["hosts"]} if t.get("hosts") else {})} for t in tls
            ]
        annotations = route.take("annotations")
        if annotations:
            out["annotations"] = annotations
        if out:
            res.set(f"ingress.{name}", out)


def rollsite_tls(rs: Section, res: Result) -> None:
    if rs.take("enableTLS"):
        res.set("rollsite.tls", {"enabled": True})
        res.notes.append(f"{rs.key('enableTLS')}: KubeFATE exposed no TLS port and never marked a route secure "
                         "(route_table.json is_secure), so traffic between parties stayed plaintext; fate-pulumi "
                         "serves mutual TLS on 9380 and dials it where a route says `secure: true` with the peer's "
                         "TLS port")


def import_nginx(ng: Section, res: Result, modules: list[str], own: int) -> None:
    if not ng.present:
        if "nginx" in modules and res.kind == "party":
            res.notes.append(f"nginx.exchange: {LEAKS['nginx.exchange']}")
        return
    service(ng, "nginx", res, {"httpNodePort": "http", "grpcNodePort": "grpc"},
            type_default="NodePort" if res.kind == "exchange" else None)
    scheduling(ng, "nginx", res)
    replicas = whole_number(ng.take("replicas"), ng.key("replicas"))
    if replicas is not None:
        res.set("nginx.replicas", replicas)
    ex = ng.sub("exchange")
    if ex.present:
        res.set(
            "nginx.exchange",
            {
                "host": str(ex.take("ip")),
                "httpPort": whole_number(ex.take("httpPort"), ex.key("httpPort")),
                "grpcPort": whole_number(ex.take("grpcPort"), ex.key("grpcPort")),
            },
        )
    elif res.kind == "party":
        res.notes.append(f"nginx.exchange: {LEAKS['nginx.exchange']}")
    table = ng.take("route_table") or {}
    routes = {}
    for pid, route in table.items():
        pid = int(pid)
        if pid == own and res.kind == "party":
            res.notes.append(f"nginx.route_table.{pid}: the own route is generated; dropped")
            continue
        routes[pid] = {k: _hops(route.get(k)) for k in ("proxy", "fateflow") if route.get(k)}
    if routes:
        res.set("nginx.routeTable", routes)


def _hops(items: Any) -> list[dict]:
    return [
        {"host": str(h["host"]).strip(), "httpPort": int(h["http_port"]), "grpcPort": int(h["grpc_port"])}
        for h in items or []
    ]


def import_routes(section: Section, module: str, res: Result, own: int) -> bool:
    """partyList and exchange of a rollsite or serving proxy; whether the file names an exchange."""
    plist = party_routes(section.take("partyList"), section.key("partyList"), res, own, f"{module}.partyList")
    if plist:
        res.set(f"{module}.partyList", plist)
    ex = section.sub("exchange")
    if ex.present:
        res.set(f"{module}.exchange", address(ex))
        res.came_from(f"{module}.exchange.host", ex.key("ip"))
        res.came_from(f"{module}.exchange.port", ex.key("port"))
    return ex.present
