"""clustermanager: eggroll's resource manager; owns eggroll-config, the eggroll.properties every eggroll process
reads."""

from __future__ import annotations

from typing import Optional

import pulumi

from . import eggroll, endpoints
from .context import Context
from .eggroll import ClusterManagerConfig
from .files import password_properties
from .kube import Module, Site, tcp_probes
from .mysql import Database, database
from .outputs import OrOutput

SECRET = "clustermanager-secret"
JDBC_PART = "jdbc.properties"
DEFAULT_RESOURCES = {"requests": {"cpu": "500m", "memory": "1Gi"}}


class ClusterManager(Module):
    """ConfigMap `eggroll-config`, Secret `clustermanager-secret` (JDBC password), Deployment and headless Service
    `clustermanager` (4670)."""

    TYPE = "fate:clustermanager:ClusterManager"
    APP = "clustermanager"
    COMPONENT = "computing"

    def __init__(self, name: str, site: Site, section: ClusterManagerConfig, image: str,
                 eggroll_config: dict[str, str], mysql: Database, mysql_password: OrOutput[str],
                 opts: Optional[pulumi.ResourceOptions] = None):
        """`eggroll_config`: the eggroll-config data (eggroll.eggroll_config), shared with the other eggroll modules."""
        super().__init__(name, site, opts)
        self.config_map(eggroll.EGGROLL_CONFIG_MAP, eggroll_config)
        # the JDBC password is the clustermanager's alone
        self.secret(SECRET, {JDBC_PART: password_properties(eggroll.JDBC_PASSWORD_KEY, mysql_password)})

        parts = eggroll.EGGROLL_CONF_PARTS
        port = endpoints.CLUSTERMANAGER.port("clustermanager")
        container = self.container(
            "clustermanager", image, section, DEFAULT_RESOURCES,
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
        init = self.wait_for("wait-mysql", mysql.host, mysql.port)
        self.deployment("clustermanager", 1, self.pod_spec([container], section, volumes, init_containers=init))
        self.done({"endpoint": endpoints.CLUSTERMANAGER.address("clustermanager")})


def build(ctx: Context) -> ClusterManager:
    return ClusterManager(
        "clustermanager",
        ctx.site,
        ctx.section(ClusterManagerConfig),
        eggroll.eggroll_image(ctx.site.images, ctx.algorithm, ctx.device),
        eggroll.eggroll_config(ctx),
        database(ctx),
        ctx.secret("mysqlPassword"),
        ctx.opts,
    )
