"""A FATE-Serving cluster of one party: what it adds to its modules (proxy, server, redis, zookeeper, admin)."""

from __future__ import annotations

from components import endpoints
from components.istio import IstioGateway, virtual_service
from stacks.common import Composition


def compose_serving(ctx: Composition) -> None:
    """With Istio: a Gateway, and serving-proxy's HTTP API under /serving-proxy-<partyId> on it."""
    if ctx.site.istio and ctx.enabled("servingProxy"):
        gateway = IstioGateway("istio-gateway", ctx.site, opts=ctx.opts)
        virtual_service(gateway, "fate-serving-ingress", [], endpoints.SERVING_PROXY.name,
                        endpoints.SERVING_PROXY.port("http"), prefix=f"/serving-proxy-{ctx.site.party_id}", rewrite="/")
