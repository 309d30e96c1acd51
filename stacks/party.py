"""A FATE party: what it adds to its modules (the Istio gateway of its web UIs) and how it describes itself."""

from __future__ import annotations

from components.istio import HttpsHosts, IstioGateway
from components.kube import Site
from stacks.common import Composition
from stacks.config import DeploymentConfig


def compose_party(ctx: Composition) -> None:
    """The party's own objects beside its modules: with Istio, the Gateway the UIs' VirtualServices use."""
    if ctx.site.istio:
        IstioGateway(
            "istio-gateway",
            ctx.site,
            https=(
                HttpsHosts(
                    "fateboard-https", "fateboard-credential", tuple(h.name for h in ctx.ingress("fateboard").hosts)
                ),
                HttpsHosts("client-https", "client-credential", tuple(h.name for h in ctx.ingress("client").hosts)),
            ),
            opts=ctx.opts,
        )


def party_summary(cfg: DeploymentConfig, site: Site) -> str:
    computing, federation, storage = cfg.engines
    return (
        f"FATE party {cfg.party_id} ({cfg.backend}: computing {computing}, federation {federation}, storage {storage}; "
        f"{cfg.algorithm}/{cfg.device}) '{site.name}' in namespace {site.namespace}: "
        f"{', '.join(cfg.enabled_modules)}"
    )
