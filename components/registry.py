"""The FATE modules this program deploys: one entry per module, and every table the program needs derived from them.

A module is its file (config section, component, `build`) plus one `ModuleSpec` here. The config schema
(stacks/config/), the compositions (stacks/), the cloud profiles, the KubeFATE importer and the federation picture
read these entries; a fact an entry forgets or contradicts fails at import time (`_check`), not at deploy time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

from pydantic import BaseModel

from . import (
    client,
    clustermanager,
    endpoints,
    fateboard,
    fateflow,
    hdfs,
    mysql,
    nginx,
    nodemanager,
    pulsar,
    rabbitmq,
    rollsite,
    serving,
    spark,
    trafficserver,
)
from .context import Context
from .eggroll import ClusterManagerConfig, NodeManagerConfig
from .endpoints import Svc
from .kube import Module
from .settings import ExposedModule, ModuleBase, ServiceSettings, StorageSettings

Kind = Literal["party", "exchange", "serving"]
Role = Literal["required", "optional"]

# What each party backend means in FATE's own three engine words (service_conf.yaml default_engines).
BACKEND_ENGINES: dict[str, tuple[str, str, str]] = {
    "eggroll": ("Eggroll", "Eggroll", "Eggroll"),
    "spark_rabbitmq": ("Spark", "RabbitMQ", "HDFS"),
    "spark_pulsar": ("Spark", "Pulsar", "HDFS"),
    "spark_local_pulsar": ("Spark_local", "Pulsar", "LocalFS"),
}
SPARK_BACKENDS = ("spark_rabbitmq", "spark_pulsar", "spark_local_pulsar")
PULSAR_BACKENDS = ("spark_pulsar", "spark_local_pulsar")


@dataclass(frozen=True)
class Password:
    """A password the stack holds as a top-level secret key (`pulumi config set --secret fate:<key>`)."""

    key: str
    fallback: str  # KubeFATE's default: what a development stack uses when the key is unset (with a warning)
    what: str


@dataclass(frozen=True)
class External:
    """A module a party may replace by a service outside the deployment: setting `key` (a config path) does."""

    key: tuple[str, ...]
    hint: str  # how to say so in an error, e.g. "set mysql.external"


@dataclass(frozen=True)
class ModuleSpec:
    name: str  # the module's name in `fate:modules` and its config key (KubeFATE's, e.g. trafficServer)
    section: type[BaseModel]  # its config section
    build: Callable[[Context], Module]  # creates its component from the deployment
    party: Mapping[str, Role] = field(default_factory=dict)  # party backends it belongs to
    exchange: tuple[str, ...] = ()  # exchange backends it belongs to
    serving: bool = False  # a module of a FATE-Serving deployment
    # the Services users may expose: (path of the sub-section holding `service`, the Service); their port keys
    # are the names `service.nodePorts` takes
    services: tuple[tuple[tuple[str, ...], Svc], ...] = ()
    entry_point: bool = False  # other deployments connect to it: cloud profiles expose it by default
    connect: Optional[str] = None  # its NodePorts in the stack output `connect.nodePorts.<connect>`
    ui: bool = False  # a web UI: `fate:ingress.<name>` gives it Ingress hosts
    passwords: tuple[Password, ...] = ()
    external: Optional[External] = None

    @property
    def kinds(self) -> tuple[Kind, ...]:
        out: list[Kind] = []
        if self.party:
            out.append("party")
        if self.exchange:
            out.append("exchange")
        if self.serving:
            out.append("serving")
        return tuple(out)

    @property
    def attr(self) -> str:
        """The section's attribute on the stack config (trafficServer -> traffic_server)."""
        return snake(self.name)


def snake(camel: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in camel).lstrip("_")


MYSQL_PASSWORD = Password("mysqlPassword", "fate_dev", "password of the FATE MySQL user")
SERVING_REDIS_PASSWORD = Password("servingRedisPassword", "fate_dev", "FATE-Serving Redis password")

def roles(backends: Iterable[str], role: Role) -> dict[str, Role]:
    return {b: role for b in backends}


ALL = roles(BACKEND_ENGINES, "optional")
EVERY = roles(BACKEND_ENGINES, "required")

# In the order the modules are listed, deployed and reported.
MODULES: tuple[ModuleSpec, ...] = (
    ModuleSpec(
        "rollsite",
        rollsite.RollsiteConfig,
        rollsite.build,
        party={"eggroll": "required"},
        exchange=("eggroll",),
        services=(((), endpoints.ROLLSITE),),
        entry_point=True,
        connect="rollsite",
    ),
    ModuleSpec(
        "clustermanager",
        ClusterManagerConfig,
        clustermanager.build,
        party={"eggroll": "required"},
        passwords=(MYSQL_PASSWORD,),
    ),
    ModuleSpec("nodemanager", NodeManagerConfig, nodemanager.build, party={"eggroll": "required"}),
    ModuleSpec(
        "mysql",
        mysql.MysqlConfig,
        mysql.build,
        party=EVERY,
        services=(((), endpoints.MYSQL),),
        passwords=(MYSQL_PASSWORD,),
        external=External(("mysql", "external"), "set mysql.external"),
    ),
    ModuleSpec(
        "python",
        fateflow.PythonConfig,
        fateflow.build,
        party=EVERY,
        services=(((), endpoints.FATEFLOW_CLIENT),),
        connect="fateflow",
        passwords=(MYSQL_PASSWORD,),
    ),
    ModuleSpec(
        "fateboard",
        fateboard.FateboardConfig,
        fateboard.build,
        party=ALL,
        services=(((), endpoints.FATEBOARD),),
        ui=True,
        passwords=(Password("fateboardPassword", "admin", "FATE Board login password"),),
    ),
    ModuleSpec(
        "client",
        client.ClientConfig,
        client.build,
        party=ALL,
        ui=True,
        passwords=(Password("notebookHashedPassword", "", "Jupyter hashed password (jupyter_server.auth.passwd())"),),
    ),
    ModuleSpec(
        "spark",
        spark.SparkConfig,
        spark.build,
        party=roles(("spark_rabbitmq", "spark_pulsar"), "required"),
        services=((("master",), endpoints.SPARK_CLIENT),),
        connect="spark",
        ui=True,
        external=External(("python", "spark", "master"), "set python.spark.master (external Spark)"),
    ),
    ModuleSpec(
        "hdfs",
        hdfs.HdfsConfig,
        hdfs.build,
        party=roles(("spark_rabbitmq", "spark_pulsar"), "required"),
        services=((("namenode",), endpoints.NAMENODE), (("datanode",), endpoints.DATANODE)),
        connect="namenode",
        external=External(("python", "hdfs", "nameNode"), "set python.hdfs.nameNode (external HDFS)"),
    ),
    ModuleSpec(
        "trafficServer",
        trafficserver.TrafficServerConfig,
        trafficserver.build,
        exchange=PULSAR_BACKENDS,
        services=(((), endpoints.TRAFFIC_SERVER),),
        entry_point=True,
        connect="trafficServer",
    ),
    ModuleSpec(
        "nginx",
        nginx.NginxConfig,
        nginx.build,
        party=roles(SPARK_BACKENDS, "required"),
        exchange=PULSAR_BACKENDS,
        services=(((), endpoints.NGINX),),
        entry_point=True,
        connect="nginx",
    ),
    ModuleSpec(
        "rabbitmq",
        rabbitmq.RabbitmqConfig,
        rabbitmq.build,
        party={"spark_rabbitmq": "required"},
        services=(((), endpoints.RABBITMQ),),
        entry_point=True,
        connect="rabbitmq",
        ui=True,
        passwords=(Password("rabbitmqPassword", "fate", "RabbitMQ user password"),),
        external=External(("python", "rabbitmq", "host"), "set python.rabbitmq.host (external RabbitMQ)"),
    ),
    ModuleSpec(
        "pulsar",
        pulsar.PulsarConfig,
        pulsar.build,
        party=roles(PULSAR_BACKENDS, "required"),
        services=(((), endpoints.PULSAR),),
        entry_point=True,
        connect="pulsar",
        ui=True,
        external=External(("python", "pulsar", "host"), "set python.pulsar.host (external Pulsar)"),
    ),
    ModuleSpec(
        "servingProxy",
        serving.ServingProxyConfig,
        serving.build_proxy,
        serving=True,
        services=(((), endpoints.SERVING_PROXY),),
        entry_point=True,
        connect="servingProxy",
        ui=True,
    ),
    ModuleSpec(
        "servingServer",
        serving.ServingServerConfig,
        serving.build_server,
        serving=True,
        services=(((), endpoints.SERVING_SERVER),),
        connect="servingServer",
        passwords=(SERVING_REDIS_PASSWORD,),
    ),
    ModuleSpec(
        "servingRedis",
        serving.ServingRedisConfig,
        serving.build_redis,
        serving=True,
        passwords=(SERVING_REDIS_PASSWORD,),
    ),
    ModuleSpec("servingZookeeper", serving.ServingZookeeperConfig, serving.build_zookeeper, serving=True),
    ModuleSpec(
        "servingAdmin",
        serving.ServingAdminConfig,
        serving.build_admin,
        serving=True,
        ui=True,
        passwords=(Password("servingAdminPassword", "admin", "FATE-Serving admin login password"),),
    ),
)

BY_NAME: dict[str, ModuleSpec] = {m.name: m for m in MODULES}


def of_kind(kind: str) -> tuple[str, ...]:
    """The modules a deployment of this kind may have, in order."""
    return tuple(m.name for m in MODULES if kind in m.kinds)


def party_backend(backend: str, role: Role) -> tuple[str, ...]:
    return tuple(m.name for m in MODULES if m.party.get(backend) == role)


def exchange_backend(backend: str) -> tuple[str, ...]:
    return tuple(m.name for m in MODULES if backend in m.exchange)


def walk(model: type[BaseModel], path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], type[BaseModel]]]:
    """Every nested section of a section model (itself first): (path in config keys, model)."""
    yield path, model
    for name, info in model.model_fields.items():
        annotation: Any = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from walk(annotation, path + (info.alias or name,))


def sections(where: Callable[[type[BaseModel]], bool]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(module, config path) of every section, at any depth, that `where` holds for."""
    return tuple((m.name, (m.name, *path)) for m in MODULES for path, model in walk(m.section) if where(model))


def _has_field(model: type[BaseModel], name: str, kind: type) -> bool:
    info = model.model_fields.get(name)
    return info is not None and info.annotation is kind


# Sections that take scheduling, resources and a preset; that own a volume; that own a Service.
MODULE_SECTIONS = sections(lambda model: issubclass(model, ModuleBase))
STORAGE_SECTIONS = sections(lambda model: _has_field(model, "storage", StorageSettings))
EXPOSED = tuple((m.name, (m.name, *path), svc) for m in MODULES for path, svc in m.services)

# Passwords by key: (modules that need it, development fallback, what it is), in the order the modules list them.
PASSWORDS: dict[str, tuple[tuple[str, ...], str, str]] = {}
for _m in MODULES:
    for _p in _m.passwords:
        users = PASSWORDS.get(_p.key, ((), "", ""))[0]
        PASSWORDS[_p.key] = ((*users, _m.name), _p.fallback, _p.what)


def _check() -> None:
    """A registry entry that contradicts its module fails here, when the program starts."""
    problems: list[str] = []
    if len(BY_NAME) != len(MODULES):
        problems.append("two modules share a name")
    by_key: dict[str, Password] = {}
    for m in MODULES:
        if not m.kinds:
            problems.append(f"{m.name}: belongs to no kind of deployment")
        for backend in [*m.party, *m.exchange]:
            if backend not in BACKEND_ENGINES:
                problems.append(f"{m.name}: unknown backend {backend!r}")
        listed = {path for path, _svc in m.services}
        for path, model in walk(m.section):
            exposed = _has_field(model, "service", ServiceSettings)
            if exposed and path not in listed:
                problems.append(
                    f"{m.name}: section {'.'.join((m.name, *path))} has a service but no Service in services"
                )
            if path in listed and not exposed:
                problems.append(f"{m.name}: services names {'.'.join((m.name, *path))}, which has no service setting")
            if exposed and not issubclass(model, ExposedModule):
                problems.append(f"{m.name}: {model.__name__} has a service but is no ExposedModule")
        for p in m.passwords:
            if by_key.setdefault(p.key, p) != p:
                problems.append(f"{m.name}: password {p.key} is defined twice, differently")
        if m.external is not None and not m.party:
            problems.append(f"{m.name}: only party modules can be external")
    if problems:
        raise RuntimeError("components/registry.py: " + "; ".join(problems))


_check()
