"""client: the Jupyter notebook with FATE's pipeline and flow clients (KubeFATE module `client`)."""

from __future__ import annotations

from pydantic import Field

from dataclasses import dataclass
from typing import Optional

import pulumi

from . import endpoints
from .istio import virtual_service
from .kube import IngressRoute, Module, Placement, Site, Volume, env, env_from_secret, http_probes
from .settings import ModuleBase, StorageSettings


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
    hashed_password: str  # jupyter hashed password; '' = no password (development only)
    serving_host: str = ""  # host:port of the party's serving-server, '' when none
    volume: Volume = Volume()
    placement: Placement = Placement()
    ingress: IngressRoute = IngressRoute()
    ingress_class: Optional[str] = None


class Client(Module):
    """StatefulSet `client`, Service `notebook` (20000), Secret `client-secret`, Ingress `client`;
    PVC `persistence-client-0`."""

    TYPE = "fate:client:Client"
    APP = "client"
    COMPONENT = "notebook"

    def __init__(self, name: str, site: Site, args: ClientArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        self.secret(SECRET, {"notebook-hashed-password": args.hashed_password})
        port = endpoints.NOTEBOOK.port("http")
        data_volume, claim = self.data_volume("persistence", args.volume)
        command = (
            "pipeline init --ip ${FATE_FLOW_IP} --port ${FATE_FLOW_PORT} && "
            "flow init --ip ${FATE_FLOW_IP} --port ${FATE_FLOW_PORT} && "
            f"exec jupyter notebook --ip=0.0.0.0 --port={port} --allow-root --NotebookApp.notebook_dir='/data/projects/fate/' "
            "--no-browser --NotebookApp.token='' --NotebookApp.password=\"${NOTEBOOK_HASHED_PASSWORD}\""
        )
        container = self.container(
            "client", args.image, args.placement, DEFAULT_RESOURCES,
            command=["bash", "-c", command],
            env=[
                env("partyId", site.party_id),
                env("FATE_FLOW_IP", endpoints.FATEFLOW.name),
                env("FATE_FLOW_PORT", endpoints.FATEFLOW.port("http")),
                env("FATE_SERVING_HOST", args.serving_host),
                env_from_secret("NOTEBOOK_HASHED_PASSWORD", SECRET, "notebook-hashed-password"),
            ],
            ports=[{"name": "http", "containerPort": port}],
            volumeMounts=[{"name": "persistence", "mountPath": "/data/projects/fate/persistence/", "subPath": args.volume.path("client")}],
            **http_probes(port),
        )
        pod = self.pod_spec([container], args.placement, [data_volume] if data_volume else [])
        self.service(endpoints.NOTEBOOK.name, endpoints.NOTEBOOK.ports)
        self.workload = self.stateful_set("client", endpoints.NOTEBOOK.name, 1, pod, claim_templates=[claim] if claim else [])
        if site.istio:
            virtual_service(self, "notebook", [h for h, _ in args.ingress.hosts], endpoints.NOTEBOOK.name, port)
            self.ui_port(port)
        else:
            self.ingress("client", args.ingress, endpoints.NOTEBOOK.name, port, args.ingress_class)
        self.done({"endpoint": endpoints.NOTEBOOK.address("http"), "hosts": [h for h, _ in args.ingress.hosts]})
