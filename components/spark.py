"""spark: a Spark standalone cluster (master and workers) for FATE on Spark."""

from __future__ import annotations

from pydantic import Field

from dataclasses import dataclass
from typing import ClassVar, Optional

import pulumi

from . import endpoints
from .eggroll import image_suffix
from .files import to_yaml
from .kube import Exposure, IngressRoute, Module, Placement, Site, http_probes
from .settings import Count, ExposedModule, Model, ModuleBase, Spread


# --------------------------------------------------------------------------------------------------------------
# Config section
# --------------------------------------------------------------------------------------------------------------


class SparkMaster(ExposedModule):
    exposable_ports: ClassVar[tuple[str, ...]] = ("webUi",)

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


def master_url() -> str:
    return f"spark://{endpoints.SPARK_MASTER.address('master')}"


@dataclass(frozen=True)
class SparkArgs:
    master_image: str
    worker_image: str
    worker_service_conf: dict  # FATE's service_conf.yaml without passwords: executors import FATE code that reads it
    master_replicas: int = 1
    worker_replicas: int = 2
    master_placement: Placement = Placement()
    worker_placement: Placement = Placement()
    master_exposure: Exposure = Exposure()
    ingress: IngressRoute = IngressRoute()
    ingress_class: Optional[str] = None


def images(site: Site, algorithm: str, device: str, master_image: Optional[str], master_tag: Optional[str],
           worker_image: Optional[str], worker_tag: Optional[str]) -> tuple[str, str]:
    """Spark images: FATE's spark-master / spark-worker(+flavour) unless the stack names its own."""
    master = f"{master_image}:{master_tag or site.images.tag}" if master_image else site.images.fate("spark-master", master_tag)
    worker = (f"{worker_image}:{worker_tag or site.images.tag}" if worker_image
              else site.images.fate("spark-worker" + image_suffix(algorithm, device), worker_tag))
    return master, worker


class Spark(Module):
    """Deployments `spark-master`, `spark-worker`; Services `spark-master` (headless), `spark-client`,
    `spark-worker-1`; ConfigMap `spark-worker-config`; Ingress `spark` (master web UI)."""

    TYPE = "fate:spark:Spark"
    APP = "spark-master"
    COMPONENT = "computing"

    def __init__(self, name: str, site: Site, args: SparkArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        self.config_map(WORKER_CONFIG_MAP, {"service_conf.yaml": to_yaml(args.worker_service_conf)})

        ui = endpoints.SPARK_MASTER.port("webUi")
        master = self.container(
            "spark-master", args.master_image, args.master_placement, MASTER_RESOURCES,
            ports=[{"name": p.name, "containerPort": p.port} for p in endpoints.SPARK_MASTER.ports],
            **http_probes(ui),
        )
        self.master = self.deployment("spark-master", args.master_replicas,
                                      self.pod_spec([master], args.master_placement), app="spark-master")
        worker_ui = endpoints.SPARK_WORKER.port("webUi")
        worker = self.container(
            "spark-worker", args.worker_image, args.worker_placement, WORKER_RESOURCES,
            ports=[{"name": "web-ui", "containerPort": worker_ui}],
            volumeMounts=[{"name": "spark-worker-confs", "mountPath": "/data/projects/fate/conf/", "readOnly": True}],
            **http_probes(worker_ui),
        )
        self.worker = self.deployment(
            "spark-worker", args.worker_replicas,
            self.pod_spec([worker], args.worker_placement, [{"name": "spark-worker-confs", "configMap": {"name": WORKER_CONFIG_MAP}}],
                          init_containers=self.wait_for("wait-master", endpoints.SPARK_MASTER.name,
                                                        endpoints.SPARK_MASTER.port("master")),
                          app="spark-worker"),
            app="spark-worker")
        self.service(endpoints.SPARK_MASTER.name, endpoints.SPARK_MASTER.ports, headless=True, app="spark-master")
        self.client_service = self.service(endpoints.SPARK_CLIENT.name, endpoints.SPARK_CLIENT.ports, args.master_exposure,
                                           app="spark-master")
        self.service(endpoints.SPARK_WORKER.name, endpoints.SPARK_WORKER.ports, headless=True, app="spark-worker")
        self.ingress("spark", args.ingress, endpoints.SPARK_MASTER.name, ui, args.ingress_class, app="spark-master")
        self.done({"master": master_url(), "webUi": endpoints.SPARK_CLIENT.address("webUi")}, apps=("spark-master", "spark-worker"))
