"""Chart `fate-exchange` of KubeFATE v1.11.2: an exchange (rollsite, or Traffic Server and nginx for Spark with
Pulsar)."""

from __future__ import annotations

from fate_pulumi.importer.kubefate_v1_11.shared import import_nginx, import_routes, rollsite_tls
from fate_pulumi.importer.mapping import Result, Section, import_modules_by_registry, scheduling, service, whole_number


def import_exchange(src: Section, res: Result) -> None:
    modules = list(src.take("modules") or [])
    res.set("modules", modules)
    if "trafficServer" in modules:
        res.set("backend", "spark_pulsar")
    own = res.config["partyId"]
    rs = src.sub("rollsite")
    if rs.present:
        service(rs, "rollsite", res, {"nodePort": "rollsite"})
        scheduling(rs, "rollsite", res, resources=False)
        rollsite_tls(rs, res)
        import_routes(rs, "rollsite", res, own)
    ts = src.sub("trafficServer")
    if ts.present:
        ts_type = ts.data.get("type") or "ClusterIP"
        if ts_type == "ClusterIP" and ts.has("nodePort"):
            res.problems.append(
                f"trafficServer.nodePort with type {ts_type}: KubeFATE renders the nodePort anyway and the "
                "API server refuses the Service; set trafficServer.type: NodePort (or drop nodePort)"
            )
        service(ts, "trafficServer", res, {"nodePort": "tls"})
        scheduling(ts, "trafficServer", res, resources=False)
        replicas = whole_number(ts.take("replicas"), ts.key("replicas"))
        if replicas is not None:
            res.set("trafficServer.replicas", replicas)
        rt = ts.sub("route_table")
        sni = [{"fqdn": r["fqdn"], "tunnelRoute": r["tunnelRoute"]} for r in rt.take("sni") or []]
        if sni:
            res.set("trafficServer.sniRoutes", sni)
    elif "trafficServer" in modules:
        res.problems.append(
            "trafficServer: KubeFATE's defaults render type ClusterIP with nodePort 30007, which the API "
            "server refuses; add a trafficServer section with type NodePort"
        )
    import_nginx(src.sub("nginx"), res, modules, own)
    import_modules_by_registry(src, res)
