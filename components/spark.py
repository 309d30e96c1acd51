"""spark: a Spark standalone cluster (master and workers) for FATE on Spark."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi
from pydantic import Field

from . import endpoints, fateflow
from .context import Context
from .eggroll import image_suffix
from .files import to_yaml
from .kube import Module, Site, http_probes, node_port_outputs
from .settings import Count, ExposedModule, IngressRoute, Model, ModuleBase, Spread

# --------------------------------------------------------------------------------------------------------------
# Config section
# --------------------------------------------------------------------------------------------------------------


class SparkMaster(ExposedModule):
    image: Optional[str] = Field(default=None, description="Full image name without tag, overrides registry")
    image_tag: Optional[str] = None
    replicas: int = Field(default=1, ge=1, le=1)


class SparkWorker(ModuleBase):
    image: Optional[str] = None
    image_tag: Optional[str] = None
    replicas: Count = 2
    spread: Optional[Spread] = None


class SparkConfig(Model):
    master: SparkMaster = Field(default_factory=SparkMaster)
    worker: SparkWorker = Field(default_factory=SparkWorker)


WORKER_CONFIG_MAP = "spark-worker-config"
MASTER_RESOURCES = {"requests": {"cpu": "500m", "memory": "1Gi"}}
WORKER_RESOURCES = {"requests": {"cpu": "1", "memory": "2Gi"}}


@dataclass(frozen=True)
class SparkArgs:
    master_image: str
    worker_image: str
    worker_service_conf: dict[
        str, Any
    ]  # FATE's service_conf.yaml without passwords: executors import FATE code that reads it
    ingress: IngressRoute = IngressRoute()


def images(site: Site, algorithm: str, device: str, section: SparkConfig) -> tuple[str, str]:
    """Spark images: FATE's spark-master / spark-worker(+flavour) unless the stack names its own."""
    m, w = section.master, section.worker
    master = f"{m.image}:{m.image_tag or site.images.tag}" if m.image else site.images.fate("spark-master", m.image_tag)
    worker = (f"{w.image}:{w.image_tag or site.images.tag}" if w.image
              else site.images.fate("spark-worker" + image_suffix(algorithm, device), w.image_tag))
    return master, worker


class Spark(Module):
    """Deployments `spark-master`, `spark-worker`; Services `spark-master` (headless), `spark-client`,
    `spark-worker-1`; ConfigMap `spark-worker-config`; Ingress `spark` (master web UI)."""

    TYPE = "fate:spark:Spark"
    APP = "spark-master"
    COMPONENT = "computing"

    def __init__(self, name: str, site: Site, section: SparkConfig, args: SparkArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        self.config_map(WORKER_CONFIG_MAP, {"service_conf.yaml": to_yaml(args.worker_service_conf)})

        ui = endpoints.SPARK_MASTER.port("webUi")
        master = self.container(
            "spark-master", args.master_image, section.master, MASTER_RESOURCES,
            ports=[{"name": p.name, "containerPort": p.port} for p in endpoints.SPARK_MASTER.ports],
            **http_probes(ui),
        )
        self.deployment("spark-master", section.master.replicas,
                        self.pod_spec([master], section.master), app="spark-master")
        worker_ui = endpoints.SPARK_WORKER.port("webUi")
        worker = self.container(
            "spark-worker", args.worker_image, section.worker, WORKER_RESOURCES,
            ports=[{"name": "web-ui", "containerPort": worker_ui}],
            volumeMounts=[{"name": "spark-worker-confs", "mountPath": "/data/projects/fate/conf/", "readOnly": True}],
            **http_probes(worker_ui),
        )
        self.deployment(
            "spark-worker",
            section.worker.replicas,
            self.pod_spec(
                [worker],
                section.worker,
                [{"name": "spark-worker-confs", "configMap": {"name": WORKER_CONFIG_MAP}}],
                init_containers=self.wait_for(
                    "wait-master", endpoints.SPARK_MASTER.name, endpoints.SPARK_MASTER.port("master")
                ),
                app="spark-worker",
            ),
            app="spark-worker",
        )
        self.service(endpoints.SPARK_MASTER.name, endpoints.SPARK_MASTER.ports, headless=True, app="spark-master")
        self.client_service = self.service(
            endpoints.SPARK_CLIENT.name, endpoints.SPARK_CLIENT.ports, section.master.service, app="spark-master"
        )
        self.node_ports = node_port_outputs(self.client_service)
        self.service(endpoints.SPARK_WORKER.name, endpoints.SPARK_WORKER.ports, headless=True, app="spark-worker")
        self.ingress("spark", args.ingress, endpoints.SPARK_MASTER.name, ui, app="spark-master")
        self.done({"master": endpoints.SPARK_MASTER_URL, "webUi": endpoints.SPARK_CLIENT.address("webUi")},
                  apps=("spark-master", "spark-worker"))


def build(ctx: Context) -> Spark:
    section = ctx.section(SparkConfig)
    master_image, worker_image = images(ctx.site, ctx.algorithm, ctx.device, section)
    return Spark("spark", ctx.site, section, SparkArgs(
        master_image=master_image, worker_image=worker_image,
        worker_service_conf=fateflow.redacted(ctx, fateflow.service_conf(ctx)), ingress=ctx.ingress("spark")), ctx.opts)
