"""An exchange: the hub of a star federation (rollsite for eggroll parties, trafficServer + nginx for Pulsar parties)."""

from __future__ import annotations

from typing import Any

import pulumi

from components.eggroll import eggroll_image
from components.nginx import Nginx, NginxArgs, exchange_route_table
from components.rollsite import Rollsite, RollsiteArgs
from components.trafficserver import TrafficServer, TrafficServerArgs
from stacks.common import exposure_of, placement_of, public_hosts, rollsite_federation, site_of, tls_plan
from stacks.config import DeploymentConfig
from stacks.party import nginx_peers


def compose_exchange(cfg: DeploymentConfig, opts: pulumi.ResourceOptions) -> dict[str, Any]:
    site = site_of(cfg)
    modules = set(cfg.enabled_modules)
    node_ports: dict[str, pulumi.Output] = {}
    created: dict[str, Any] = {}
    tls = tls_plan(cfg)

    if "rollsite" in modules:
        rs = cfg.rollsite
        rollsite = Rollsite("rollsite", site, RollsiteArgs(
            # the exchange chart runs the plain eggroll image
            image=eggroll_image(site.images), placement=placement_of(rs), exposure=exposure_of(rs.service),
            **rollsite_federation(cfg, tls),
            eggroll_config=None, route_fateflow=False, coordinator=site.name), opts)
        node_ports["rollsite"] = rollsite.node_ports
        created["rollsite"] = rollsite

    if "trafficServer" in modules:
        ts = cfg.traffic_server
        traffic = TrafficServer("traffic-server", site, TrafficServerArgs(
            image=site.images.fate("trafficserver", ts.image_tag),
            sni_routes=tuple((r.fqdn, r.tunnel_route) for r in ts.sni_routes), cert_secret=ts.cert_secret_name,
            cert_material=tls.traffic_server_cert(cfg.tls.domain, public_hosts(cfg)) if tls else None,
            replicas=ts.replicas, placement=placement_of(ts), exposure=exposure_of(ts.service)), opts)
        node_ports["trafficServer"] = traffic.node_ports
        created["trafficServer"] = traffic

    if "nginx" in modules:
        nginx = Nginx("nginx", site, NginxArgs(
            image=site.images.fate("nginx"), route_table=exchange_route_table(cfg.party_id, nginx_peers(cfg)),
            replicas=cfg.nginx.replicas,
            # no fateflow on an exchange: the placeholder upstream must still resolve at start
            upstream_placeholder="127.0.0.1",
            placement=placement_of(cfg.nginx), exposure=exposure_of(cfg.nginx.service)), opts)
        node_ports["nginx"] = nginx.node_ports
        created["nginx"] = nginx

    return {"modules": created, "nodePorts": node_ports,
            "parties": sorted({p.party_id for p in cfg.rollsite.party_list} | set(cfg.nginx.route_table))}


