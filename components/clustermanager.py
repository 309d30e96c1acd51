"""clustermanager: eggroll's resource manager; owns eggroll-config, the eggroll.properties every eggroll process reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from . import eggroll, endpoints
from .files import properties
from .kube import Module, Placement, Site, tcp_probes
from .settings import ModuleBase


# --------------------------------------------------------------------------------------------------------------
# Config section
# --------------------------------------------------------------------------------------------------------------


class ClusterManagerConfig(ModuleBase):
    mysql_server_timezone: str = "UTC"


SECRET = "clustermanager-secret"
JDBC_PART = "jdbc.properties"
DEFAULT_RESOURCES = {"requests": {"cpu": "500m", "memory": "1Gi"}}


@dataclass(frozen=True)
class ClusterManagerArgs:
    image: str
    mysql: eggroll.MysqlEndpoint
    mysql_password: str
    server_timezone: str = "UTC"
    session_processors_per_node: int = 4
    placement: Placement = Placement()


class ClusterManager(Module):
    """ConfigMap `eggroll-config`, Secret `clustermanager-secret` (JDBC password), Deployment and headless Service
    `clustermanager` (4670)."""

    TYPE = "fate:clustermanager:ClusterManager"
    APP = "clustermanager"
    COMPONENT = "computing"

    def __init__(self, name: str, site: Site, args: ClusterManagerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        self.properties = eggroll.eggroll_properties(
            site.party_id, site.name, args.mysql, args.server_timezone, args.session_processors_per_node)
        self.eggroll_config = self.config_map(
            eggroll.EGGROLL_CONFIG_MAP, {"eggroll.properties": properties(self.properties, header="[eggroll]")})
        # The eggroll config checksum is what the other eggroll modules roll on; the password is ours alone.
        self.eggroll_config_checksum = self.config_checksum
        self.secret(SECRET, {JDBC_PART: properties([(eggroll.JDBC_PASSWORD_KEY, args.mysql_password)])})

        parts = eggroll.EGGROLL_CONF_PARTS
        port = endpoints.CLUSTERMANAGER.port("clustermanager")
        container = self.container(
            "clustermanager", args.image, args.placement, DEFAULT_RESOURCES,
            command=eggroll.start_script(
                [f"{parts}/eggroll/eggroll.properties", f"{parts}/secret/{JDBC_PART}"],
                eggroll.bootstrap_args("com.webank.eggroll.core.resourcemanager.ClusterManagerBootstrap", port)),
            env=[{"name": "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "value": "python"}],
            ports=[{"name": "clustermanager", "containerPort": port}],
            volumeMounts=[
                {"name": "eggroll-confs", "mountPath": f"{parts}/eggroll", "readOnly": True},
                {"name": "clustermanager-secret", "mountPath": f"{parts}/secret", "readOnly": True},
            ],
            **tcp_probes(port),
        )
        volumes = [
            eggroll.config_map_volume(eggroll.EGGROLL_CONFIG_MAP, "eggroll-confs"),
            {"name": "clustermanager-secret", "secret": {"secretName": SECRET}},
        ]
        self.service(endpoints.CLUSTERMANAGER.name, endpoints.CLUSTERMANAGER.ports, headless=True)
        # the clustermanager opens its JDBC pool at start
        init = self.wait_for("wait-mysql", args.mysql.host, args.mysql.port)
        self.workload = self.deployment("clustermanager", 1, self.pod_spec([container], args.placement, volumes,
                                                                           init_containers=init))
        self.done({"endpoint": endpoints.CLUSTERMANAGER.address("clustermanager")})
