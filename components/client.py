"""client: the Jupyter notebook with FATE's pipeline and flow clients (KubeFATE module `client`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
from pydantic import Field

from . import endpoints
from .context import Context
from .fateflow import ServingLink
from .istio import virtual_service
from .kube import Module, Site, env, env_from_secret, http_probes
from .outputs import OrOutput
from .settings import IngressRoute, ModuleBase, StorageSettings

# --------------------------------------------------------------------------------------------------------------
# Config section
# --------------------------------------------------------------------------------------------------------------


class ClientConfig(ModuleBase):
    storage: StorageSettings = Field(default_factory=StorageSettings)


SECRET = "client-secret"
DEFAULT_RESOURCES = {"requests": {"cpu": "250m", "memory": "1Gi"}}


@dataclass(frozen=True)
class ClientArgs:
    image: str
    hashed_password: OrOutput[str]  # jupyter hashed password; '' = no password (development only)
    serving_host: str = ""  # host:port of the party's serving-server, '' when none
    ingress: IngressRoute = IngressRoute()


class Client(Module):
    """StatefulSet `client`, Service `notebook` (20000), Secret `client-secret`, Ingress `client`;
    PVC `persistence-client-0`."""

    TYPE = "fate:client:Client"
    APP = "client"
    COMPONENT = "notebook"

    def __init__(self, name: str, site: Site, section: ClientConfig, args: ClientArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        self.secret(SECRET, {"notebook-hashed-password": args.hashed_password})
        port = endpoints.NOTEBOOK.port("http")
        data_volume, claim = self.data_volume("persistence", section.storage)
        command = (
            "pipeline init --ip ${FATE_FLOW_IP} --port ${FATE_FLOW_PORT} && "
            "flow init --ip ${FATE_FLOW_IP} --port ${FATE_FLOW_PORT} && "
            f"exec jupyter notebook --ip=0.0.0.0 --port={port} --allow-root "
            "--NotebookApp.notebook_dir='/data/projects/fate/' "
            "--no-browser --NotebookApp.token='' --NotebookApp.password=\"${NOTEBOOK_HASHED_PASSWORD}\""
        )
        container = self.container(
            "client",
            args.image,
            section,
            DEFAULT_RESOURCES,
            command=["bash", "-c", command],
            env=[
                env("partyId", site.party_id),
                env("FATE_FLOW_IP", endpoints.FATEFLOW.name),
                env("FATE_FLOW_PORT", endpoints.FATEFLOW.port("http")),
                env("FATE_SERVING_HOST", args.serving_host),
                env_from_secret("NOTEBOOK_HASHED_PASSWORD", SECRET, "notebook-hashed-password"),
            ],
            ports=[{"name": "http", "containerPort": port}],
            volumeMounts=[
                {
                    "name": "persistence",
                    "mountPath": "/data/projects/fate/persistence/",
                    "subPath": section.storage.path("client"),
                }
            ],
            **http_probes(port),
        )
        pod = self.pod_spec([container], section, [data_volume] if data_volume else [])
        self.service(endpoints.NOTEBOOK.name, endpoints.NOTEBOOK.ports)
        self.stateful_set("client", endpoints.NOTEBOOK.name, 1, pod, claim_templates=[claim] if claim else [])
        hosts = [h.name for h in args.ingress.hosts]
        if site.istio:
            virtual_service(self, "notebook", hosts, endpoints.NOTEBOOK.name, port)
            self.ui_port(port)
        else:
            self.ingress("client", args.ingress, endpoints.NOTEBOOK.name, port)
        self.done({"endpoint": endpoints.NOTEBOOK.address("http"), "hosts": hosts})


def build(ctx: Context) -> Client:
    serving = ctx.section(ServingLink)
    return Client("client", ctx.site, ctx.section(ClientConfig), ClientArgs(
        image=ctx.site.images.fate("client"), hashed_password=ctx.secret("notebookHashedPassword"),
        serving_host=f"{serving.host}:{serving.port}" if serving.host else "", ingress=ctx.ingress("client")), ctx.opts)
