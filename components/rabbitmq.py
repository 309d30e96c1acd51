"""rabbitmq: the federation message broker of FATE on Spark with RabbitMQ (peer to peer)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi
from pydantic import Field

from . import endpoints
from .context import Context
from .kube import Module, Site, env, env_from_secret, http_probes, node_port_outputs
from .outputs import OrOutput
from .routing import Route, Sections
from .settings import ExposedModule, Host, IngressRoute, Model, PartyId, Port

# --------------------------------------------------------------------------------------------------------------
# Config section
# --------------------------------------------------------------------------------------------------------------


class RabbitmqRoute(Model):
    host: Host
    port: Port


class RabbitmqConfig(ExposedModule):
    user: str = Field(default="fate", min_length=1)
    route_table: dict[PartyId, RabbitmqRoute] = Field(default_factory=dict, description="Peers, keyed by party id")


class RabbitmqClient(Model):  # FATE Flow's settings of RabbitMQ (python.rabbitmq): an external one
    host: Optional[Host] = Field(default=None, description="External RabbitMQ; unset = the rabbitmq module")
    port: Optional[Port] = Field(default=None, description="default: the rabbitmq module's AMQP port")
    mng_port: Optional[Port] = Field(default=None, description="default: the rabbitmq module's management port")


IMAGE_TAG = "3.8.3-management"
CONFIG_MAP = "rabbitmq-config"
SECRET = "rabbitmq-secret"
DEFAULT_RESOURCES = {"requests": {"cpu": "500m", "memory": "1Gi"}}
# FATE sends large federation messages; the broker default (128 MiB) is raised to 512 MiB as in KubeFATE
MAX_MESSAGE_SIZE = 536870912


@dataclass(frozen=True)
class RabbitmqArgs:
    password: OrOutput[str]
    ingress: IngressRoute = IngressRoute()


class Rabbitmq(Module):
    """Deployment and Service `rabbitmq` (5672, management 15672), ConfigMap `rabbitmq-config` (federation
    plugins), Secret `rabbitmq-secret`, Ingress `rabbitmq`. Credentials come from the stack (KubeFATE hard-coded
    fate/fate)."""

    TYPE = "fate:rabbitmq:Rabbitmq"
    APP = "rabbitmq"
    COMPONENT = "federation"
    PEER_FACING = True

    def __init__(self, name: str, site: Site, section: RabbitmqConfig, args: RabbitmqArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        self.config_map(CONFIG_MAP, {"enabled_plugins": "[rabbitmq_federation_management,rabbitmq_federation].\n"})
        self.secret(SECRET, {"password": args.password})
        amqp, mgmt = endpoints.RABBITMQ.port("amqp"), endpoints.RABBITMQ.port("management")
        container = self.container(
            "rabbitmq", site.images.fate("rabbitmq", IMAGE_TAG), section, DEFAULT_RESOURCES,
            env=[
                env("RABBITMQ_DEFAULT_USER", section.user),
                env_from_secret("RABBITMQ_DEFAULT_PASS", SECRET, "password"),
                env("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", f"-rabbit max_message_size {MAX_MESSAGE_SIZE}"),
            ],
            ports=[{"name": "amqp", "containerPort": amqp}, {"name": "management", "containerPort": mgmt}],
            volumeMounts=[
                {"name": "rabbitmq-confs", "mountPath": "/etc/rabbitmq/enabled_plugins", "subPath": "enabled_plugins"},
                # queues are transient federation buffers; FATE re-sends on restart
                {"name": "rabbitmq-data", "mountPath": "/var/lib/rabbitmq"},
            ],
            **http_probes(mgmt),
        )
        pod = self.pod_spec([container], section, [
            {"name": "rabbitmq-confs", "configMap": {"name": CONFIG_MAP}},
            {"name": "rabbitmq-data", "emptyDir": {}},
        ])
        self.service_obj = self.service(endpoints.RABBITMQ.name, endpoints.RABBITMQ.ports, section.service)
        self.deployment("rabbitmq", 1, pod)
        self.ingress("rabbitmq", args.ingress, endpoints.RABBITMQ.name, mgmt)
        self.node_ports = node_port_outputs(self.service_obj)
        self.done({"endpoint": endpoints.RABBITMQ.address("amqp"), "nodePorts": self.node_ports})


def build(ctx: Context) -> Rabbitmq:
    return Rabbitmq("rabbitmq", ctx.site, ctx.section(RabbitmqConfig), RabbitmqArgs(
        password=ctx.secret("rabbitmqPassword"), ingress=ctx.ingress("rabbitmq")), ctx.opts)


def routes(of: Sections) -> list[Route]:
    """The peers' brokers rabbitmq federates with."""
    return [Route(t.host, t.port, str(party)) for party, t in of.section(RabbitmqConfig).route_table.items()]


def fateflow_link(ctx: Context, client: RabbitmqClient) -> dict[str, Any]:
    """service_conf.yaml `fate_on_spark.rabbitmq`: the broker FATE Flow federates through (python.rabbitmq names an
    external one); its route table is FATE Flow's rabbitmq-route-table."""
    return {
        "host": client.host or endpoints.RABBITMQ.name,
        "mng_port": client.mng_port or endpoints.RABBITMQ.port("management"),
        "port": client.port or endpoints.RABBITMQ.port("amqp"),
        "user": ctx.section(RabbitmqConfig).user,
        "password": ctx.secret("rabbitmqPassword") if ctx.engines[1] == "RabbitMQ" else None,
        "route_table": "conf/rabbitmq_route_table/rabbitmq_route_table.yaml",
        "mode": "replication",
        "max_message_size": 1048576,
    }
