"""A FATE-Serving cluster of one party: proxy, server, redis, zookeeper and admin."""

from __future__ import annotations

from typing import Any

import pulumi

from components import endpoints
from components.istio import IstioGateway, virtual_service
from components.rollsite import Route
from components.serving import (
    ServingAdmin, ServingAdminArgs, ServingProxy, ServingProxyArgs, ServingRedis, ServingRedisArgs, ServingServer,
    ServingServerArgs, ServingZookeeper, ServingZookeeperArgs,
)
from stacks.common import exposure_of, ingress_of, placement_of, secret, site_of, volume_of
from stacks.config import DeploymentConfig


def compose_serving(cfg: DeploymentConfig, opts: pulumi.ResourceOptions) -> dict[str, Any]:
    site = site_of(cfg)
    modules = set(cfg.enabled_modules)
    images = site.images
    node_ports: dict[str, pulumi.Output] = {}
    created: dict[str, Any] = {}

    if "servingProxy" in modules:
        sp = cfg.serving_proxy
        proxy = ServingProxy("serving-proxy", site, ServingProxyArgs(
            image=images.fate("serving-proxy"), peers=tuple(Route(p.party_id, p.host, p.port) for p in sp.party_list),
            exchange=Route(0, sp.exchange.host, sp.exchange.port) if sp.exchange else None,
            registry="servingZookeeper" in modules,
            placement=placement_of(sp), exposure=exposure_of(sp.service), ingress=ingress_of(cfg.ingress.serving_proxy),
            ingress_class=cfg.ingress.class_name), opts)
        node_ports["servingProxy"] = proxy.node_ports
        created["servingProxy"] = proxy
        if site.istio:
            gateway = IstioGateway("istio-gateway", site, opts=opts)
            virtual_service(gateway, "fate-serving-ingress", [], endpoints.SERVING_PROXY.name,
                            endpoints.SERVING_PROXY.port("http"), prefix=f"/serving-proxy-{cfg.party_id}", rewrite="/")

    if "servingRedis" in modules:
        created["servingRedis"] = ServingRedis("serving-redis", site, ServingRedisArgs(
            password=secret(cfg, "servingRedisPassword"), volume=volume_of(cfg.serving_redis.storage),
            placement=placement_of(cfg.serving_redis)), opts)

    if "servingServer" in modules:
        ss = cfg.serving_server
        redis = ss.redis
        server = ServingServer("serving-server", site, ServingServerArgs(
            image=images.fate("serving-server"), fateflow=Route(0, ss.fateflow.host, ss.fateflow.port),
            registry="servingZookeeper" in modules,
            redis_password=secret(cfg, "servingRedisPassword"),
            cache_type=ss.cache_type or ("redis" if "servingRedis" in modules or redis else "local"),
            cache_switch=ss.cache_switch,
            redis_host=redis.host if redis else endpoints.SERVING_REDIS.name,
            redis_port=redis.port if redis else endpoints.SERVING_REDIS.port("redis"),
            single_adaptor=ss.single_adaptor, batch_adaptor=ss.batch_adaptor, adapter_url=ss.adapter_url,
            volume=volume_of(ss.storage), placement=placement_of(ss), exposure=exposure_of(ss.service)), opts)
        node_ports["servingServer"] = server.node_ports
        created["servingServer"] = server

    if "servingZookeeper" in modules:
        created["servingZookeeper"] = ServingZookeeper("serving-zookeeper", site, ServingZookeeperArgs(
            volume=volume_of(cfg.serving_zookeeper.storage), placement=placement_of(cfg.serving_zookeeper)), opts)

    if "servingAdmin" in modules:
        created["servingAdmin"] = ServingAdmin("serving-admin", site, ServingAdminArgs(
            image=images.fate("serving-admin"), username=cfg.serving_admin.username,
            registry="servingZookeeper" in modules,
            password=secret(cfg, "servingAdminPassword"), placement=placement_of(cfg.serving_admin),
            ingress=ingress_of(cfg.ingress.serving_admin), ingress_class=cfg.ingress.class_name), opts)

    return {"modules": created, "nodePorts": node_ports}
