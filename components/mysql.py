"""mysql: the metadata database of FATE Flow and eggroll."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
from pydantic import Field

from . import endpoints
from .context import Context
from .eggroll_meta import create_tables_sql
from .kube import MYSQL_IMAGE, Module, Site, env, env_from_secret, exec_probes
from .outputs import OrOutput
from .settings import ExposedModule, Host, Model, Port, StorageSettings

# --------------------------------------------------------------------------------------------------------------
# Config section
# --------------------------------------------------------------------------------------------------------------


# Beyond the root image set of components/kube.py: the mysql image's server raises its threads' priority
# (KubeFATE's FATE chart adds it too). Pod Security "baseline" refuses it (registry `capabilities`).
CAPABILITIES = ("SYS_NICE",)


class ExternalMysql(Model):
    host: Host
    port: Optional[Port] = Field(default=None, description="default: MySQL's 3306")


class MysqlConfig(ExposedModule):
    database: str = Field(default="eggroll_meta", pattern=r"^[A-Za-z0-9_]{1,64}$")
    user: str = Field(default="fate", pattern=r"^[A-Za-z0-9_.-]{1,32}$")
    external: Optional[ExternalMysql] = Field(
        default=None, description="Use this MySQL instead of deploying the mysql module")
    storage: StorageSettings = Field(default_factory=StorageSettings)


@dataclass(frozen=True)
class Database:
    """Where FATE Flow and eggroll find their metadata database; the password travels separately, in Secrets."""

    host: str
    port: int
    name: str
    user: str


def database(ctx: Context) -> Database:
    """The deployment's mysql module, or the external MySQL configured instead (mysql.external)."""
    section = ctx.section(MysqlConfig)
    ext = section.external
    return Database(host=ext.host if ext else endpoints.MYSQL.name,
                    port=ext.port if ext and ext.port else endpoints.MYSQL.port("mysql"),
                    name=section.database, user=section.user)


CONFIG_MAP = "mysql-config"
SECRET = "mysql-secret"
PASSWORD_KEY = "mysql-password"
DEFAULT_RESOURCES = {"requests": {"cpu": "250m", "memory": "512Mi"}}
INIT_SCRIPT = "create-eggroll-meta-tables.sql"
# the programs that open the metadata database: FATE Flow (`python`) and eggroll's clustermanager (KubeFATE's
# python-config service_conf.yaml `database`, eggroll-config `jdbc.*`); the workloads and apps carry these names
CLIENTS = ("python", "clustermanager")


class Mysql(Module):
    """StatefulSet and Service `mysql` (3306), ConfigMap `mysql-config` (init SQL), Secret `mysql-secret`;
    PVC `data-mysql-0`. Root gets a random password (KubeFATE allowed an empty one)."""

    TYPE = "fate:mysql:Mysql"
    APP = "mysql"
    COMPONENT = "database"

    def __init__(self, name: str, site: Site, section: MysqlConfig, password: OrOutput[str], eggroll_tables: bool,
                 opts: Optional[pulumi.ResourceOptions] = None):
        """`eggroll_tables`: eggroll computing keeps its metadata in this database (its tables are created)."""
        super().__init__(name, site, opts)
        init = {INIT_SCRIPT: create_tables_sql(section.database)} if eggroll_tables else {}
        self.config_map(CONFIG_MAP, init)
        self.secret(SECRET, {PASSWORD_KEY: password})

        data_volume, claim = self.data_volume("data", section.storage)
        port = endpoints.MYSQL.port("mysql")
        container = self.container(
            "mysql", site.images.third_party(MYSQL_IMAGE), section, DEFAULT_RESOURCES,
            # the mysql entrypoint raises the scheduling priority of its threads
            securityContext={"capabilities": {"add": list(CAPABILITIES)}},
            env=[
                env("MYSQL_RANDOM_ROOT_PASSWORD", "yes"),
                env("MYSQL_DATABASE", section.database),
                env("MYSQL_USER", section.user),
                env_from_secret("MYSQL_PASSWORD", SECRET, PASSWORD_KEY),
            ],
            ports=[{"name": "mysql", "containerPort": port}],
            volumeMounts=[
                {"name": "mysql-confs", "mountPath": "/docker-entrypoint-initdb.d/", "readOnly": True},
                {"name": "data", "mountPath": "/var/lib/mysql", "subPath": section.storage.path("mysql")},
            ],
            # `mysqladmin ping` exits 0 once the server answers, even without credentials
            **exec_probes(["mysqladmin", "ping"], liveness_delay=60, readiness_delay=10),
        )
        volumes = [{"name": "mysql-confs", "configMap": {"name": CONFIG_MAP}}]
        if data_volume:
            volumes.append(data_volume)
        self.service(endpoints.MYSQL.name, endpoints.MYSQL.ports, section.service)
        self.stateful_set("mysql", endpoints.MYSQL.name, 1, self.pod_spec([container], section, volumes),
                          claim_templates=[claim] if claim else [], protect=site.protect)
        self.endpoint = f"{endpoints.MYSQL.name}:{port}"
        # only FATE Flow and the clustermanager talk to the metadata database
        self.done({"endpoint": self.endpoint}, clients={"mysql": CLIENTS})


def build(ctx: Context) -> Mysql:
    return Mysql("mysql", ctx.site, ctx.section(MysqlConfig), ctx.secret("mysqlPassword"),
                 eggroll_tables=ctx.engines[0] == "Eggroll", opts=ctx.opts)
