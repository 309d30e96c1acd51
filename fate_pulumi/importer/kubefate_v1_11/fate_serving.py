"""Chart `fate-serving` of KubeFATE v1.11.2 (chart version v2.1.6): a party's FATE-Serving (servingProxy,
servingServer and its Redis, ZooKeeper, servingAdmin)."""

from __future__ import annotations

from fate_pulumi.importer.kubefate_v1_11.shared import LEAKS, import_routes, ingress
from fate_pulumi.importer.mapping import (
    Result,
    Section,
    address,
    import_modules_by_registry,
    scheduling,
    service,
    storage,
    whole_number,
)


def import_serving(src: Section, res: Result) -> None:
    modules = list(src.take("modules") or [])
    res.set("modules", modules)
    ingress(src, res, ("servingProxy", "servingAdmin"), modules)
    _serving_proxy(src.sub("servingProxy"), res, modules)
    _serving_server(src.sub("servingServer"), res, modules)
    _serving_redis(src, res, modules)
    _serving_zookeeper(src.sub("servingZookeeper"), res)
    _serving_admin(src.sub("servingAdmin"), res)
    import_modules_by_registry(src, res)
    res.set("modules", modules)


def _serving_proxy(sp: Section, res: Result, modules: list[str]) -> None:
    if sp.present:
        service(sp, "servingProxy", res, {"nodePort": "inter"})
        scheduling(sp, "servingProxy", res, resources=False)
        if not import_routes(sp, "servingProxy", res, res.config["partyId"]):
            res.notes.append(f"servingProxy.exchange: {LEAKS['servingProxy.exchange']}")
    elif "servingProxy" in modules:
        # the section is absent: KubeFATE's values.yaml exposes it as NodePort 30109 (and leaks an exchange)
        res.set("servingProxy.service", {"type": "NodePort", "nodePorts": {"inter": 30109}})
        res.notes.append("no servingProxy section: imported KubeFATE's values.yaml default (NodePort 30109); "
                         f"servingProxy.exchange: {LEAKS['servingProxy.exchange']}")


def _serving_server(ss: Section, res: Result, modules: list[str]) -> None:
    """servingServer: its Service, the FATE Flow it loads models from, its cache."""
    if ss.present:
        service(ss, "servingServer", res, {"nodePort": "grpc"})
        scheduling(ss, "servingServer", res, resources=False)
        ff = ss.sub("fateflow")
        if ff.present:
            res.set("servingServer.fateflow", address(ff))
        cache_type = ss.take("cacheType")
        if cache_type:
            res.set("servingServer.cacheType", cache_type)
        switch = ss.take("cacheSwitch")
        if switch is not None:
            res.set("servingServer.cacheSwitch", bool(switch))
            res.notes.append(
                "servingServer.cacheSwitch: KubeFATE wrote the cache type into this switch (a bug); imported as "
                "the switch"
            )
        for theirs, ours in (
            ("singleAdaptor", "singleAdaptor"),
            ("batchAdaptor", "batchAdaptor"),
            ("AdapterURL", "adapterUrl"),
        ):
            value = ss.take(theirs)
            if value:
                res.set(f"servingServer.{ours}", value)
        storage(ss, "servingServer", res, "servingServer", present_default_class="serving-redis")
    elif "servingServer" in modules:
        res.set("servingServer.service", {"type": "NodePort", "nodePorts": {"grpc": 30209}})
        res.set("servingServer.cacheType", "redis")
    if "servingServer" in modules and res.get("servingServer.fateflow") is None:
        res.set("servingServer.fateflow", {"host": "fateflow", "port": 9380})
        res.notes.append(
            "servingServer.fateflow is not set: imported KubeFATE's default fateflow:9380, which only resolves "
            "when FATE runs in the serving namespace; set the party's FATE Flow address"
        )


def _serving_redis(src: Section, res: Result, modules: list[str]) -> None:
    """servingRedis, or an external Redis (externalRedisIp), which replaces the module."""
    rd = src.sub("servingRedis")
    if rd.present:
        scheduling(rd, "servingRedis", res, resources=False)
        res.secret("servingRedisPassword", "servingRedis.password", rd.take("password"))
        storage(rd, "servingRedis", res, "servingRedis")
    ext_ip, ext_port, ext_pw = (
        src.take("externalRedisIp"),
        whole_number(src.take("externalRedisPort"), src.key("externalRedisPort")),
        src.take("externalRedisPassword"),
    )
    if ext_ip:
        res.set("servingServer.redis", {"host": str(ext_ip), **({"port": ext_port} if ext_port else {})})
        res.secret("servingRedisPassword", "externalRedisPassword", ext_pw)
        if "servingRedis" in modules:
            modules.remove("servingRedis")


def _serving_zookeeper(zk: Section, res: Result) -> None:
    if zk.present:
        scheduling(zk, "servingZookeeper", res, resources=False)
        if zk.take("storageClassName") is not None:
            res.notes.append("servingZookeeper.storageClassName: unused by KubeFATE's templates (storageClass is used)")
        storage(zk, "servingZookeeper", res, "servingZookeeper")


def _serving_admin(ad: Section, res: Result) -> None:
    if ad.present:
        scheduling(ad, "servingAdmin", res, resources=False)
        user = ad.take("username")
        if user:
            res.set("servingAdmin.username", user)
        res.secret("servingAdminPassword", "servingAdmin.password", ad.take("password"))
        if ad.take("ingressHost") is not None:
            res.notes.append("servingAdmin.ingressHost: unused by KubeFATE's templates; use ingress.servingAdmin.hosts")
