"""mysql: the metadata database of FATE Flow and eggroll."""

from __future__ import annotations

from pydantic import Field

from dataclasses import dataclass
from typing import Optional

import pulumi

from . import endpoints
from .eggroll_meta import create_tables_sql
from .kube import MYSQL_IMAGE, Exposure, Module, Placement, Site, Volume, env, env_from_secret, exec_probes
from .security import EXTRA_CAPABILITIES
from .settings import ExposedModule, Host, Model, Port, StorageSettings


# --------------------------------------------------------------------------------------------------------------
# Config section
# --------------------------------------------------------------------------------------------------------------


class ExternalMysql(Model):
    host: Host
    port: Optional[Port] = Field(default=None, description="default: MySQL's 3306")


class MysqlConfig(ExposedModule):
    database: str = Field(default="eggroll_meta", pattern=r"^[A-Za-z0-9_]{1,64}$")
    user: str = Field(default="fate", pattern=r"^[A-Za-z0-9_.-]{1,32}$")
    external: Optional[ExternalMysql] = Field(
        default=None, description="Use this MySQL instead of deploying the mysql module")
    storage: StorageSettings = Field(default_factory=StorageSettings)


CONFIG_MAP = "mysql-config"
SECRET = "mysql-secret"
PASSWORD_KEY = "mysql-password"
DEFAULT_RESOURCES = {"requests": {"cpu": "250m", "memory": "512Mi"}}
INIT_SCRIPT = "create-eggroll-meta-tables.sql"


@dataclass(frozen=True)
class MysqlArgs:
    database: str
    user: str
    password: str
    eggroll_tables: bool  # eggroll computing keeps its metadata in this database
    volume: Volume = Volume()
    placement: Placement = Placement()
    exposure: Exposure = Exposure()


class Mysql(Module):
    """StatefulSet and Service `mysql` (3306), ConfigMap `mysql-config` (init SQL), Secret `mysql-secret`;
    PVC `data-mysql-0`. Root gets a random password (KubeFATE allowed an empty one)."""

    TYPE = "fate:mysql:Mysql"
    APP = "mysql"
    COMPONENT = "database"

    def __init__(self, name: str, site: Site, args: MysqlArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        init = {INIT_SCRIPT: create_tables_sql(args.database)} if args.eggroll_tables else {}
        self.config_map(CONFIG_MAP, init)
        self.secret(SECRET, {PASSWORD_KEY: args.password})

        data_volume, claim = self.data_volume("data", args.volume)
        port = endpoints.MYSQL.port("mysql")
        container = self.container(
            "mysql", site.images.third_party(MYSQL_IMAGE), args.placement, DEFAULT_RESOURCES,
            # the mysql entrypoint raises the scheduling priority of its threads
            securityContext={"capabilities": {"add": list(EXTRA_CAPABILITIES["mysql"])}},
            env=[
                env("MYSQL_RANDOM_ROOT_PASSWORD", "yes"),
                env("MYSQL_DATABASE", args.database),
                env("MYSQL_USER", args.user),
                env_from_secret("MYSQL_PASSWORD", SECRET, PASSWORD_KEY),
            ],
            ports=[{"name": "mysql", "containerPort": port}],
            volumeMounts=[
                {"name": "mysql-confs", "mountPath": "/docker-entrypoint-initdb.d/", "readOnly": True},
                {"name": "data", "mountPath": "/var/lib/mysql", "subPath": args.volume.path("mysql")},
            ],
            # `mysqladmin ping` exits 0 once the server answers, even without credentials
            **exec_probes(["mysqladmin", "ping"], liveness_delay=60, readiness_delay=10),
        )
        volumes = [{"name": "mysql-confs", "configMap": {"name": CONFIG_MAP}}]
        if data_volume:
            volumes.append(data_volume)
        self.service(endpoints.MYSQL.name, endpoints.MYSQL.ports, args.exposure)
        self.workload = self.stateful_set("mysql", endpoints.MYSQL.name, 1, self.pod_spec([container], args.placement, volumes),
                                          claim_templates=[claim] if claim else [])
        self.endpoint = f"{endpoints.MYSQL.name}:{port}"
        # only FATE Flow and the clustermanager talk to the metadata database
        self.done({"endpoint": self.endpoint}, clients={"mysql": ("python", "clustermanager")})
