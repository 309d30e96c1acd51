"""The FATE modules this program deploys: one entry per module, and every table the program needs derived from them.

A module is its file (config section, component, `build`, and for a module that dials others its routes, FATE Flow's
link to it, its KubeFATE section: components/routing.py) plus one `ModuleSpec` here. The config schema
(stacks/config/), the compositions (stacks/), the cloud profiles, FATE Flow's service_conf.yaml, the NetworkPolicies,
the KubeFATE importer, preflight and the federation picture read these entries; a fact an entry forgets or
contradicts fails at import time (`_check`), not at deploy time.
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
from .context import Context, FateflowLink
from .eggroll import ClusterManagerConfig, NodeManagerConfig
from .endpoints import Svc
from .kube import Module
from .routing import KubefateSection, Routes
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
    capabilities: tuple[str, ...] = ()  # Linux capabilities its containers add back (its file's CAPABILITIES)
    # a module that dials other deployments or services (components/routing.py): the addresses it dials
    routes: Optional[Routes] = None
    federation: Optional[str] = None  # the federation engine it is, in FATE's word (service_conf default_engines)
    fateflow: Optional[FateflowLink] = None  # what FATE Flow's service_conf.yaml holds to reach it
    kubefate: Optional[KubefateSection] = None  # how its section of a KubeFATE cluster file imports

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
# what travels on routes, as `fate-pulumi picture` colours it: hues told apart with colour-blindness, dark enough for
# the labels written in them
PULSAR_TRAFFIC = ("Pulsar (via Traffic Server)", "#007a5a")
SERVING_TRAFFIC = ("FATE-Serving", "#b0306a")

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
        routes=Routes(rollsite.routes, traffic=("rollsite", "#0060a8")),
        federation="Eggroll",
        fateflow=FateflowLink(("fate_on_eggroll", "rollsite"), rollsite.fateflow_link),
    ),
    ModuleSpec(
        "clustermanager",
        ClusterManagerConfig,
        clustermanager.build,
        party={"eggroll": "required"},
        passwords=(MYSQL_PASSWORD,),
    ),
    ModuleSpec("nodemanager", NodeManagerConfig, nodemanager.build, party={"eggroll": "required"},
               capabilities=nodemanager.CAPABILITIES),
    ModuleSpec(
        "mysql",
        mysql.MysqlConfig,
        mysql.build,
        party=EVERY,
        services=(((), endpoints.MYSQL),),
        passwords=(MYSQL_PASSWORD,),
        external=External(("mysql", "external"), "set mysql.external"),
        capabilities=mysql.CAPABILITIES,
    ),
    ModuleSpec(
        "python",
        fateflow.PythonConfig,
        fateflow.build,
        party=EVERY,
        services=(((), endpoints.FATEFLOW_CLIENT),),
        connect="fateflow",
        passwords=(MYSQL_PASSWORD,),
        routes=Routes(fateflow.routes, peers=False, traffic=SERVING_TRAFFIC),
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
        capabilities=trafficserver.CAPABILITIES,
        routes=Routes(trafficserver.routes, traffic=PULSAR_TRAFFIC),
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
        routes=Routes(nginx.routes, traffic=("nginx / FATE Flow", "#c05600")),
        fateflow=FateflowLink(("fate_on_spark", "nginx"), nginx.fateflow_link, client="nginx"),
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
        routes=Routes(rabbitmq.routes, traffic=("RabbitMQ", "#8a3f8a")),
        federation="RabbitMQ",
        fateflow=FateflowLink(("fate_on_spark", "rabbitmq"), rabbitmq.fateflow_link, client="rabbitmq",
                              secrets=("password",)),
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
        routes=Routes(pulsar.routes, traffic=PULSAR_TRAFFIC),
        federation="Pulsar",
        fateflow=FateflowLink(("fate_on_spark", "pulsar"), pulsar.fateflow_link, client="pulsar"),
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
        routes=Routes(serving.proxy_routes, traffic=SERVING_TRAFFIC),
    ),
    ModuleSpec(
        "servingServer",
        serving.ServingServerConfig,
        serving.build_server,
        serving=True,
        services=(((), endpoints.SERVING_SERVER),),
        connect="servingServer",
        passwords=(SERVING_REDIS_PASSWORD,),
        routes=Routes(serving.server_routes, peers=False, traffic=SERVING_TRAFFIC),
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

# The federation engines (FATE's words), and what FATE Flow holds to reach each federation module: the engines'
# first, then the others (the order of FATE's service_conf.yaml: fate_on_spark's rabbitmq, pulsar, then nginx).
FEDERATIONS: tuple[str, ...] = tuple(m.federation for m in MODULES if m.federation)
FATEFLOW_LINKS: tuple[FateflowLink, ...] = tuple(
    m.fateflow for m in sorted(MODULES, key=lambda m: m.federation is None) if m.fateflow is not None)


def of_kind(kind: str) -> tuple[str, ...]:
    """The modules a deployment of this kind may have, in order."""
    return tuple(m.name for m in MODULES if kind in m.kinds)


def capabilities(modules: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The Linux capabilities these modules' containers add back, by module (those that add any)."""
    return {m: BY_NAME[m].capabilities for m in modules if BY_NAME[m].capabilities}


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
# Service names a peer in another namespace may dial as `<name>.<namespace>`: endpoints.py's, and every module's
SERVICE_NAMES = endpoints.SERVICE_NAMES | {svc.name for _m, _path, svc in EXPOSED}

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
        if m.fateflow is not None and not m.party:
            problems.append(f"{m.name}: FATE Flow links only modules of a party")
        if m.fateflow is not None and m.fateflow.client is not None:
            if m.fateflow.client not in fateflow.PythonConfig.model_fields:
                problems.append(f"{m.name}: its FATE Flow link's client python.{m.fateflow.client} does not exist")
        if m.kubefate is not None:
            ports = {key for path, svc in m.services if path == () for key in svc.keys}
            for theirs, ours in m.kubefate.node_ports.items():
                if ours not in ports:
                    problems.append(f"{m.name}: kubefate maps {theirs} to {ours}, which is no port of its Service")
            for ours in [*m.kubefate.keys.values(), *([m.kubefate.party_list] if m.kubefate.party_list else [])]:
                if not any(info.alias == ours or name == ours for name, info in m.section.model_fields.items()):
                    problems.append(f"{m.name}: kubefate maps to {m.name}.{ours}, which is no setting of its section")
    for words in BACKEND_ENGINES.values():
        if words[1] not in FEDERATIONS:
            problems.append(f"no module is the federation engine {words[1]} (`federation`)")
    if len(set(FEDERATIONS)) != len(FEDERATIONS):
        problems.append("two modules are the same federation engine")
    if problems:
        raise RuntimeError("components/registry.py: " + "; ".join(problems))


_check()
