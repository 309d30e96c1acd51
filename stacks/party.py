"""A FATE party: what it adds to its modules (the Istio gateway of its web UIs) and how it describes itself."""

from __future__ import annotations

from typing import Any

import pulumi

from components.fatejob import FateJob, FateJobArgs
from components.istio import HttpsHosts, IstioGateway
from components.kube import Site
from stacks.common import Composition
from stacks.config import DeploymentConfig


def compose_party(ctx: Composition) -> dict[str, Any]:
    """The party's own objects beside its modules: with Istio, the Gateway the UIs' VirtualServices use; its FATE
    jobs (the toy tests of `verify`, then `jobs`), run once every module is ready. Returns the output `jobs`."""
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
    jobs: dict[str, Any] = {}
    # Pulumi awaits each module's workloads: after them, FATE Flow and the federation answer
    ready = pulumi.ResourceOptions.merge(ctx.opts, pulumi.ResourceOptions(depends_on=list(ctx.built.values())))
    for job in ctx.cfg.fate_jobs:
        run = FateJob(f"fate-job-{job.name}", ctx.site, FateJobArgs(
            job=job, image=ctx.site.images.fate("client"),
            read_result=not ctx.cfg.kubernetes.render_yaml_to_directory), ready)
        jobs[job.name] = run.outputs
    return {"jobs": jobs or None}


def party_summary(cfg: DeploymentConfig, site: Site) -> str:
    if cfg.release == "2.2":
        return (f"FATE {cfg.fate_version} party {cfg.party_id} (preview: computing standalone in FATE Flow, federation "
                f"RabbitMQ, partner calls through nginx) '{site.name}' in namespace {site.namespace}: "
                f"{', '.join(cfg.enabled_modules)}")
    computing, federation, storage = cfg.engines
    return (
        f"FATE party {cfg.party_id} ({cfg.backend}: computing {computing}, federation {federation}, storage {storage}; "
        f"{cfg.algorithm}/{cfg.device}) '{site.name}' in namespace {site.namespace}: "
        f"{', '.join(cfg.enabled_modules)}"
    )
