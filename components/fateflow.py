"""python: FATE Flow, the job scheduler of a party (KubeFATE's module name `python`, StatefulSet `python`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

import pulumi
from pydantic import Field

from . import eggroll, endpoints
from .context import Context
from .files import to_yaml
from .kube import (
    MYSQL_IMAGE,
    Images,
    Module,
    ServicePort,
    Site,
    config_checksum,
    env,
    env_from_secret,
    http_probes,
    node_port_outputs,
    resources_of,
    tcp_probes,
)
from .mysql import Database, database
from .nginx import NginxClient
from .outputs import OrOutput, lift
from .pulsar import PulsarClient, PulsarConfig
from .rabbitmq import RabbitmqClient, RabbitmqConfig
from .routing import Route, Sections
from .settings import ExposedModule, Host, HostPort, K8sName, Model, Port, ServiceSettings, ServiceType, StorageSettings

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


# --------------------------------------------------------------------------------------------------------------
# Config section
# --------------------------------------------------------------------------------------------------------------


class EggrollCores(Model):
    cores_per_node: int = Field(default=16, ge=1)
    nodes: int = Field(default=2, ge=1)


class SparkCores(Model):
    cores_per_node: int = Field(default=20, ge=1)
    nodes: int = Field(default=2, ge=1)
    master: Optional[str] = Field(
        default=None, description="External Spark master URL; unset = the spark module (or local[*] for Spark_local)")
    driver_host: Optional[Host] = Field(
        default=None, description="Address executors reach the driver on (external Spark)"
    )
    driver_host_type: Optional[ServiceType] = None
    port_max_retries: Optional[int] = Field(default=None, ge=1, le=1000)
    driver_start_port: Optional[Port] = None
    block_manager_start_port: Optional[Port] = None
    pyspark_python: Optional[str] = None


class HdfsClient(Model):
    name_node: Optional[str] = Field(
        default=None, description="External HDFS, e.g. hdfs://nn:9000; unset = hdfs module"
    )
    path_prefix: Optional[str] = None


class HiveClient(Model):
    host: Host
    port: Port = 10000
    auth_mechanism: Optional[str] = None
    username: Optional[str] = None


class PythonConfig(ExposedModule):
    """FATE Flow (KubeFATE module name: python)."""

    replicas: int = Field(default=1, ge=1, le=100)
    log_level: LogLevel = "INFO"
    service_account_name: Optional[K8sName] = None
    dependent_distribution: bool = False
    gpu_count: Optional[int] = Field(
        default=None, ge=1, le=64, description="GPUs per fateflow pod (device GPU; default 1)"
    )
    storage: StorageSettings = Field(default_factory=StorageSettings)
    clustermanager: EggrollCores = Field(default_factory=EggrollCores)
    spark: SparkCores = Field(default_factory=SparkCores)
    hdfs: HdfsClient = Field(default_factory=HdfsClient)
    rabbitmq: RabbitmqClient = Field(default_factory=RabbitmqClient)
    pulsar: PulsarClient = Field(default_factory=PulsarClient)
    nginx: NginxClient = Field(default_factory=NginxClient)
    hive: Optional[HiveClient] = None


class ZookeeperLink(Model):
    hosts: list[HostPort] = Field(min_length=1, description="host:port of each ZooKeeper server")
    use_acl: bool = False
    user: Optional[str] = None


class ServingLink(Model):
    """Where this party's FATE Flow publishes models: the FATE-Serving deployment of the same party
    (config `fate:serving`; the client notebook reads it too)."""

    host: Optional[Host] = None
    port: Optional[Port] = None
    use_registry: bool = False
    zookeeper: Optional[ZookeeperLink] = None


CONFIG_MAP = "python-config"
SECRET = "python-secret"
PULSAR_ROUTE_TABLE = "pulsar-route-table"
RABBITMQ_ROUTE_TABLE = "rabbitmq-route-table"
SPARK_DRIVER_SERVICE = "fateflow-sparkdriver"
SPARK_HOME = "/data/projects/spark-3.1.3-bin-hadoop3.2"
FATE_HOME = "/data/projects/fate"
POD_IP_PLACEHOLDER = "fateflow_ip"  # replaced by the pod IP at start: FATE Flow must announce a real address
DEFAULT_RESOURCES = {"requests": {"cpu": "1", "memory": "2Gi"}}
WAIT_RESOURCES = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}


SECRET_FIELDS = (  # FATE Flow's own; a link's are its `secrets`
    ("database", "passwd"),
    ("fate_on_spark", "hive", "password"),
    ("zookeeper", "password"),
)

# FATE 2.2 (fate:release "2.2"; docs/config-contract.md "FATE 2.2"). The image FATE's docker-compose for 2.2 names
# (FATE PR #5741, deploy/docker-compose/README_zh.md L48-52); FATE Flow's directory in it, where FATE Flow 2.2 reads
# conf/ and fateflow.env and writes logs/, jobs/, model/ and data/ (Flow@v2.2.0 python/fate_flow/utils/file_utils.py
# L55-74: three levels above the package, which the image keeps outside the venv)
FATEFLOW_22_TAG = "2.2.0-release"
FATE_FLOW_22_DIR = f"{FATE_HOME}/fate_flow"
SECRET_FIELDS_22 = (("database", "mysql", "passwd"), ("federation", "rabbitmq", "password"))
# log_level is an integer (Flow@v2.2.0 runtime/system_settings.py L113: int(...))
LOG_LEVEL_NUMBERS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
# computing.standalone.cores: the cores FATE Flow registers for its standalone engine; a job asking more fails
# "Resource limit exceeded" (manager/service/resource_manager.py L90-96). FATE Flow's own default
# (Flow@v2.2.0 conf/service_conf.yaml L50-51); jobs ask job_cores 4 (conf/job_default_config.yaml L2)
STANDALONE_CORES_22 = 32


def service_conf(ctx: Context) -> dict[str, Any]:
    """FATE Flow's service_conf.yaml as data, passwords included (`redacted` blanks them for ConfigMaps). A password
    given as an Output (a deployment component's input) stays one here: the Secret's copy is made in its apply."""
    computing, federation, storage = ctx.engines
    py = ctx.section(PythonConfig)
    serving = ctx.section(ServingLink)
    conf = {
        **_switches(ctx.site.party_id, py, serving),
        "fateflow": _fateflow_address(computing),
        "database": _database(database(ctx), ctx.secret("mysqlPassword")),
        "default_engines": {
            "computing": "spark" if computing == "Spark_local" else computing.lower(),
            "federation": federation.lower(),
            "storage": storage.lower(),
        },
        "fate_on_standalone": {"standalone": {"cores_per_node": 20, "nodes": 1}},
        "fate_on_eggroll": {
            "clustermanager": {"cores_per_node": py.clustermanager.cores_per_node, "nodes": py.clustermanager.nodes},
        },
        "fate_on_spark": _fate_on_spark(ctx, py),
        "fateboard": {"host": endpoints.FATEBOARD.name, "port": endpoints.FATEBOARD.port("http")},
        "enable_model_store": False,
        "model_store_address": {"storage": "tencent_cos", "Region": None, "SecretId": None, "SecretKey": None,
                                "Bucket": None},
        "servings": {"hosts": [f"{serving.host}:{serving.port}"] if serving.host else []},
        "zookeeper": _zookeeper(ctx, serving.zookeeper),
    }
    # what FATE Flow holds to reach the federation modules, after the sections they are in (components/routing.py
    # FateflowLink; a link's `client` is the part of python's section that replaces the module by an external service)
    for link in ctx.fateflow_links:
        node = conf
        for part in link.path[:-1]:
            node = node.setdefault(part, {})
        node[link.path[-1]] = link.value(ctx, getattr(py, link.client) if link.client else None)
    return conf


def service_conf_22(ctx: Context) -> dict[str, Any]:
    """FATE Flow 2.2's service_conf.yaml as data, passwords included: every key as Flow@v2.2.0 reads it
    (docs/config-contract.md "FATE 2.2"). Computing is FATE Flow's standalone engine in its own pod; jobs federate
    through RabbitMQ (`mode: replication`: a broker per party, queues federated to each peer's broker from
    rabbitmq_route_table.yaml); FATE Flow reaches partners through the party's nginx."""
    py = ctx.section(PythonConfig)
    db = database(ctx)
    return {
        "party_id": str(ctx.site.party_id),  # apps/client/site_app.py L23-27 answers it as given
        "use_registry": False,  # no ZooKeeper (service_manager.py L508-521)
        "log_level": LOG_LEVEL_NUMBERS[py.log_level],
        "fateflow": {
            "host": POD_IP_PLACEHOLDER,  # bound to, and announced to tasks (fate_flow_server.py L103-120)
            "http_port": endpoints.FATEFLOW.port("http"),
            "grpc_port": endpoints.FATEFLOW.port("grpc"),
            "proxy_name": "nginx",  # utils/api_utils.py L142-145
        },
        "database": {
            "engine": "mysql",  # db/base_models.py L175-181
            "decrypt_key": None,
            # hub/database/mysql.py L21-25: `name` popped, the rest passed to PooledMySQLDatabase
            "mysql": {"name": db.name, "user": db.user, "passwd": ctx.secret("mysqlPassword"), "host": db.host,
                      "port": db.port, "max_connections": 100, "stale_timeout": 30},
        },
        "default_engines": {"computing": "standalone", "federation": "rabbitmq", "storage": "standalone"},
        "default_provider": {"name": "fate", "version": None, "device": "local"},  # version: fateflow.env's
        "computing": {"standalone": {"cores": STANDALONE_CORES_22}},
        "federation": {
            # controller/parser.py L314-322 -> RabbitMQConfig (entity/spec/dag/_federation.py L62-69)
            "rabbitmq": {
                "host": py.rabbitmq.host or endpoints.RABBITMQ.name,
                "port": py.rabbitmq.port or endpoints.RABBITMQ.port("amqp"),
                "mng_port": py.rabbitmq.mng_port or endpoints.RABBITMQ.port("management"),
                "user": ctx.section(RabbitmqConfig).user,
                "password": ctx.secret("rabbitmqPassword"),
                "mode": "replication",
                "max_message_size": 1048576,
            },
            "nginx": {
                "host": py.nginx.host or endpoints.NGINX.name,
                "http_port": py.nginx.http_port or endpoints.NGINX.port("http"),
                "grpc_port": py.nginx.grpc_port or endpoints.NGINX.port("grpc"),
                "protocol": "http",
            },
        },
        "authentication": {"client": False, "site": False, "permission": False},
        "model_store": {"engine": "file", "decrypt_key": None, "file": {"path": None}},  # fate_flow/model
    }


def _switches(party_id: int, py: PythonConfig, serving: ServingLink) -> dict[str, Any]:
    """The head of service_conf.yaml: the party, the registry, and FATE's hooks and switches as the release ships
    them (no encrypted passwords, no authentication or permission checks)."""
    return {
        "use_registry": serving.use_registry,
        "use_deserialize_safe_module": False,
        "dependent_distribution": py.dependent_distribution,
        "encrypt_password": False,
        "encrypt_module": "fate_arch.common.encrypt_utils#pwdecrypt",
        "private_key": None,
        "private_key_file": None,
        "party_id": party_id,
        "hook_module": {
            "client_authentication": "fate_flow.hook.flow.client_authentication",
            "site_authentication": "fate_flow.hook.flow.site_authentication",
            "permission": "fate_flow.hook.flow.permission",
        },
        "hook_server_name": None,
        "authentication": {"client": {"switch": False, "http_app_key": None, "http_secret_key": None},
                           "site": {"switch": False}},
        "permission": {"switch": False, "component": False, "dataset": False},
    }


def _fateflow_address(computing: str) -> dict[str, Any]:
    """`fateflow`: where this instance listens (the pod IP, filled in at start) and how it reaches the others."""
    return {
        "host": POD_IP_PLACEHOLDER,
        "http_port": endpoints.FATEFLOW.port("http"),
        "grpc_port": endpoints.FATEFLOW.port("grpc"),
        # other fateflow instances of this party are reached through the fateflow Service
        "nginx": {"host": endpoints.FATEFLOW.name, "http_port": endpoints.FATEFLOW.port("http"),
                  "grpc_port": endpoints.FATEFLOW.port("grpc")},
        "random_instance_id": False,
        "proxy": "rollsite" if computing == "Eggroll" else "nginx",
        "protocol": "default",
        "default_federated_status_collect_type": "PULL",
    }


def _database(db: Database, password: OrOutput[str]) -> dict[str, Any]:
    return {
        "name": db.name,
        "user": db.user,
        "passwd": password,
        "host": db.host,
        "port": db.port,
        "max_connections": 100,
        "stale_timeout": 30,
    }


def _fate_on_spark(ctx: Context, py: PythonConfig) -> dict[str, Any]:
    """`fate_on_spark`: the Spark, HDFS and Hive FATE Flow submits to (the party's own modules unless python.* names
    external ones); the queues and the proxy it federates through are their modules' links."""
    hive: dict[str, Any] = {}
    if py.hive is not None:
        hive = {"host": py.hive.host, "port": py.hive.port, "auth_mechanism": py.hive.auth_mechanism,
                "username": py.hive.username, "password": ctx.secret("hivePassword")}
    return {
        "spark": {"home": f"{SPARK_HOME}/", "cores_per_node": py.spark.cores_per_node, "nodes": py.spark.nodes},
        "linkis_spark": {"cores_per_node": 20, "nodes": 2, "host": "127.0.0.1", "port": 9001, "token_code": "MLSS",
                         "python_path": f"{FATE_HOME}/python"},
        "hive": {k: hive.get(k) for k in ("host", "port", "auth_mechanism", "username", "password")},
        "linkis_hive": {"host": "127.0.0.1", "port": 9001},
        "hdfs": {"name_node": py.hdfs.name_node or endpoints.NAMENODE_URL, "path_prefix": py.hdfs.path_prefix},
    }


def _zookeeper(ctx: Context, zk: Optional[ZookeeperLink]) -> dict[str, Any]:
    """`zookeeper`: the FATE-Serving registry FATE Flow publishes models through (serving.zookeeper)."""
    return {
        "hosts": list(zk.hosts) if zk else [],
        "use_acl": zk.use_acl if zk else False,
        "user": zk.user if zk else None,
        "password": ctx.secret("zookeeperPassword") if zk and zk.use_acl else None,
    }


def redacted(ctx: Context, conf: dict[str, Any], fields: Optional[Sequence[tuple[str, ...]]] = None) -> dict[str, Any]:
    """service_conf.yaml with every password emptied (the readable copy in ConfigMaps): `fields`, else FATE Flow
    1.11's own and every federation link's. Copies the sections on the way to a password only (a password may be an
    Output, which cannot be copied)."""
    out = dict(conf)
    if fields is None:
        fields = (*SECRET_FIELDS, *((*link.path, key) for link in ctx.fateflow_links for key in link.secrets))
    for path in fields:
        node = out
        for part in path[:-1]:
            node[part] = dict(node[part])
            node = node[part]
        node[path[-1]] = ""
    return out


def routes(of: Sections) -> list[Route]:
    """Where FATE Flow dials out of the deployment: FATE-Serving (its address, its ZooKeeper), and the external
    RabbitMQ, Pulsar and nginx python.* names instead of the party's modules."""
    serving = of.section(ServingLink)
    out = [Route(serving.host, serving.port, "serving")] if serving.host and serving.port else []
    for hp in serving.zookeeper.hosts if serving.zookeeper else []:
        host, _, port = hp.rpartition(":")
        out.append(Route(host, int(port), "zookeeper"))
    py = of.section(PythonConfig)
    external = (("rabbitmq", py.rabbitmq.host, py.rabbitmq.port or endpoints.RABBITMQ.port("amqp")),
                ("pulsar", py.pulsar.host, py.pulsar.port or endpoints.PULSAR.port("broker")),
                ("nginx", py.nginx.host, py.nginx.http_port or endpoints.NGINX.port("http")))
    return out + [Route(host, port, what) for what, host, port in external if host]


def spark_master(ctx: Context) -> str:
    """The Spark master FATE Flow submits to: local for Spark_local, else the external one or the spark module."""
    if ctx.engines[0] == "Spark_local":
        return "local[*]"
    return ctx.section(PythonConfig).spark.master or endpoints.SPARK_MASTER_URL


def spark_defaults(spark: SparkCores, master: str) -> list[tuple[str, Any]]:
    """spark-defaults.conf of the driver in FATE Flow."""
    entries: list[tuple[str, Any]] = [
        ("spark.master", master),
        ("spark.driver.host", spark.driver_host or POD_IP_PLACEHOLDER),
    ]
    if spark.driver_start_port:
        entries.append(("spark.driver.port", spark.driver_start_port))
    if spark.port_max_retries:
        entries.append(("spark.port.maxRetries", spark.port_max_retries))
    if spark.block_manager_start_port:
        entries.append(("spark.blockManager.port", spark.block_manager_start_port))
        entries.append(("spark.driver.bindAddress", "0.0.0.0"))
    if spark.pyspark_python:
        entries.append(("spark.pyspark.python", spark.pyspark_python))
        entries.append(("spark.pyspark.driver.python", "python"))
    return entries


def render_spark_defaults(entries: Sequence[tuple[str, Any]]) -> str:
    return "".join(f"{k:<34}{v}\n" for k, v in entries)


def pulsar_route_table(party_id: int, pulsar: PulsarConfig) -> dict[Any, Any]:
    """pulsar_route_table.yaml: optional default via the exchange's SNI proxy, the own broker, then peers."""
    table: dict[Any, Any] = {}
    if pulsar.exchange:
        table["default"] = {"proxy": f"{pulsar.exchange.host}:{pulsar.exchange.port}", "domain": pulsar.exchange.domain}
    table[party_id] = {"host": endpoints.PULSAR.name, "port": endpoints.PULSAR.port("broker"),
                       "sslPort": endpoints.PULSAR.port("brokerTls"), "proxy": ""}
    table.update({pid: r.model_dump(by_alias=True) for pid, r in pulsar.route_table.items()})
    return table


def rabbitmq_route_table(party_id: int, rabbitmq: RabbitmqConfig, release: str = "1.11.2") -> dict[Any, Any]:
    """rabbitmq_route_table.yaml: the own broker, then peers. FATE 2.2 validates it as Dict[str, {host, port}]
    (Flow@v2.2.0 entity/spec/dag/_federation.py L56-73, pydantic) and looks peers up by party id string
    (FATE@v2.2.0 python/fate/arch/federation/backends/rabbitmq/_federation.py L211-215): keys are strings there."""
    table = {party_id: {"host": endpoints.RABBITMQ.name, "port": endpoints.RABBITMQ.port("amqp")},
             **{pid: r.model_dump() for pid, r in rabbitmq.route_table.items()}}
    return {str(k): v for k, v in table.items()} if release == "2.2" else table


def python_config(ctx: Context) -> dict[str, str]:
    """The python-config ConfigMap: FATE's service_conf.yaml without passwords (nodemanagers' egg_pair processes read
    it) and the driver's spark-defaults; FATE Flow itself reads the Secret's full copy. FATE 2.2: the readable
    service_conf.yaml only (no Spark in this step)."""
    if ctx.site.release == "2.2":
        return {"service_conf.yaml": to_yaml(redacted(ctx, service_conf_22(ctx), SECRET_FIELDS_22))}
    return {
        "spark-defaults.conf": render_spark_defaults(
            spark_defaults(ctx.section(PythonConfig).spark, spark_master(ctx))
        ),
        "service_conf.yaml": to_yaml(redacted(ctx, service_conf(ctx))),
    }


def python_config_checksum(ctx: Context) -> Optional[str]:
    """What a module mounting python-config rolls on; None without FATE Flow."""
    return config_checksum(CONFIG_MAP, python_config(ctx)) if ctx.enabled("python") else None


@dataclass(frozen=True)
class FateFlowArgs:
    """What FATE Flow takes besides its section: its image, its files, the engines that decide what it mounts."""

    image: str
    engines: tuple[str, str, str]  # computing, federation, storage
    service_conf: dict[str, Any]  # with passwords (the Secret's copy; a password may be an Output)
    python_config: dict[str, str]  # the python-config ConfigMap (python_config)
    database: Database
    mysql_password: OrOutput[str]
    pulsar_routes: dict[Any, Any] = field(default_factory=dict)
    rabbitmq_routes: dict[Any, Any] = field(default_factory=dict)
    gpu_count: int = 0
    eggroll_config_checksum: Optional[str] = None
    release: str = "1.11.2"


class FateFlow(Module):
    """StatefulSet `python`, Services `fateflow` (headless) and `fateflow-client` (9360/9380), ConfigMaps
    `python-config`, `pulsar-route-table`, `rabbitmq-route-table`, Secret `python-secret`; PVC
    `python-data-python-<i>`."""

    TYPE = "fate:python:FateFlow"
    APP = "python"
    COMPONENT = "fateflow"
    PEER_FACING = True

    def __init__(self, name: str, site: Site, section: PythonConfig, args: FateFlowArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        self.service_conf = args.service_conf
        self.pulsar_routes = args.pulsar_routes
        self.rabbitmq_routes = args.rabbitmq_routes
        self._config_objects(args)
        data_volume, claim = self.data_volume("python-data", section.storage)
        if args.release == "2.2":
            mounts, volumes = self._volumes_22(data_volume)
            container = self._container_22(section, args, mounts)
        else:
            mounts, volumes = self._volumes(args.engines, data_volume)
            container = self._container(section, args, mounts)
        # with Istio an init container has no network before the sidecar starts
        init = [] if site.istio else [self._wait_for_mysql(args.database)]
        pod = self.pod_spec(
            [container], section, volumes, init_containers=init, service_account=section.service_account_name
        )
        annotations = {"sidecar.istio.io/rewriteAppHTTPProbers": "false"} if site.istio else None

        self.service(endpoints.FATEFLOW.name, endpoints.FATEFLOW.ports, headless=True)
        self.client_service = self.service(
            endpoints.FATEFLOW_CLIENT.name, endpoints.FATEFLOW_CLIENT.ports, section.service
        )
        self.node_ports = node_port_outputs(self.client_service)
        if section.spark.port_max_retries and section.spark.driver_host:
            self._spark_driver_service(section.spark)
        self.stateful_set("python", endpoints.FATEFLOW.name, section.replicas, pod,
                          claim_templates=[claim] if claim else [], pod_annotations=annotations)
        self.done({"endpoint": endpoints.FATEFLOW_CLIENT.address("http")})

    def _config_objects(self, args: FateFlowArgs) -> None:
        """python-config, the route tables, and python-secret: service_conf.yaml with its passwords (written in the
        passwords' apply when one is an Output) and the MySQL password the start waits with."""
        self.config_map(CONFIG_MAP, args.python_config)
        if args.release != "2.2":  # a 2.2 party federates through RabbitMQ only
            self.config_map(PULSAR_ROUTE_TABLE, {"pulsar_route_table.yaml": to_yaml(self.pulsar_routes)})
        self.config_map(RABBITMQ_ROUTE_TABLE, {"rabbitmq_route_table.yaml": to_yaml(self.rabbitmq_routes)})
        self.secret(SECRET, {"service_conf.yaml": lift(to_yaml, self.service_conf),
                             "mysql-password": args.mysql_password})
        if args.eggroll_config_checksum:
            self.uses_config(args.eggroll_config_checksum)

    def _volumes(self, engines: tuple[str, str, str], data_volume: Optional[dict]) -> tuple[list[dict], list[dict]]:
        """The container's mounts and the pod's volumes: service_conf.yaml, spark-defaults, the data volume's
        logs, jobs, model cache and LLM cache; eggroll.properties or the route table of the party's engines."""
        computing, federation, _storage = engines
        mounts: list[dict[str, Any]] = [
            {"name": "python-secret", "mountPath": f"{FATE_HOME}/conf-tmp", "readOnly": True},
            {
                "name": "python-confs",
                "mountPath": f"{SPARK_HOME}/conf/spark-defaults-template.conf",
                "subPath": "spark-defaults.conf",
            },
            {"name": "python-data", "mountPath": f"{FATE_HOME}/fateflow/logs", "subPath": "logs"},
            {"name": "python-data", "mountPath": f"{FATE_HOME}/fateflow/jobs", "subPath": "jobs"},
            {
                "name": "python-data",
                "mountPath": f"{FATE_HOME}/fateflow/model_local_cache",
                "subPath": "model-local-cache",
            },
            {"name": "python-data", "mountPath": f"{FATE_HOME}/llm", "subPath": "llm"},
        ]
        volumes: list[dict[str, Any]] = [
            {
                "name": "python-secret",
                "secret": {"secretName": SECRET, "items": [{"key": "service_conf.yaml", "path": "service_conf.yaml"}]},
            },
            {"name": "python-confs", "configMap": {"name": CONFIG_MAP}},
        ]
        if computing == "Eggroll":
            mounts.append(
                {"name": "eggroll-confs", "mountPath": eggroll.EGGROLL_PROPERTIES, "subPath": "eggroll.properties"}
            )
            volumes.append({"name": "eggroll-confs", "configMap": {"name": eggroll.EGGROLL_CONFIG_MAP}})
        if federation == "Pulsar":
            mounts.append({"name": "pulsar-route-table", "mountPath": f"{FATE_HOME}/conf/pulsar_route_table"})
            volumes.append({"name": "pulsar-route-table", "configMap": {"name": PULSAR_ROUTE_TABLE}})
        if federation == "RabbitMQ":
            mounts.append({"name": "rabbitmq-route-table", "mountPath": f"{FATE_HOME}/conf/rabbitmq_route_table"})
            volumes.append({"name": "rabbitmq-route-table", "configMap": {"name": RABBITMQ_ROUTE_TABLE}})
        if data_volume:
            volumes.append(data_volume)
        return mounts, volumes

    def _container(self, section: PythonConfig, args: FateFlowArgs, mounts: list[dict]) -> dict:
        """The fateflow container: it puts the pod IP into its copies of service_conf.yaml and spark-defaults, then
        runs FATE Flow's server."""
        http, grpc = endpoints.FATEFLOW.port("http"), endpoints.FATEFLOW.port("grpc")
        env_vars = [
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            env("FATE_LOG_LEVEL", section.log_level),
            env("FATE_PROJECT_BASE", FATE_HOME),
            env("HUGGINGFACE_HUB_CACHE", f"{FATE_HOME}/llm"),
        ]
        if args.engines[0] == "Spark":
            env_vars += [env("FATE_FLOW_UPLOAD_MAX_NUM", 1000000), env("FATE_FLOW_UPLOAD_MAX_BYTES", 104868093952)]
        resources = resources_of(section)
        if resources is None:
            resources = DEFAULT_RESOURCES
        if args.gpu_count:
            resources = {
                kind: {**resources.get(kind, {}), "nvidia.com/gpu": str(args.gpu_count)}
                for kind in ("requests", "limits")
            }
        command = "\n".join([
            "set -e",
            f"mkdir -p {FATE_HOME}/conf/",
            f"cp {FATE_HOME}/conf-tmp/service_conf.yaml {FATE_HOME}/conf/service_conf.yaml",
            f'sed -i "s/host: {POD_IP_PLACEHOLDER}/host: ${{POD_IP}}/g" {FATE_HOME}/conf/service_conf.yaml',
            f"cp {SPARK_HOME}/conf/spark-defaults-template.conf {SPARK_HOME}/conf/spark-defaults.conf",
            f'sed -i "s/{POD_IP_PLACEHOLDER}/${{POD_IP}}/g" {SPARK_HOME}/conf/spark-defaults.conf',
            "exec python fateflow/python/fate_flow/fate_flow_server.py",
        ])
        return self.container(
            "fateflow", args.image, None, resources,
            command=["/bin/bash", "-c", command],
            env=env_vars,
            ports=[{"name": "grpc-port", "containerPort": grpc}, {"name": "http-port", "containerPort": http}],
            volumeMounts=mounts,
            **tcp_probes(http, liveness_delay=30, readiness_delay=5, timeout=5),
        )

    def _volumes_22(self, data_volume: Optional[dict]) -> tuple[list[dict], list[dict]]:
        """FATE 2.2: service_conf.yaml's Secret (copied into conf/ at start), rabbitmq_route_table.yaml at the path
        FATE Flow 2.2 hard-codes (controller/parser.py L314-316: `<conf>/rabbitmq_route_table.yaml`; a subPath
        keeps the image's other conf/ files visible), and the data volume's logs, jobs, models and standalone tables
        (runtime/system_settings.py L107-110)."""
        mounts: list[dict[str, Any]] = [
            {"name": "python-secret", "mountPath": f"{FATE_FLOW_22_DIR}/conf-tmp", "readOnly": True},
            {"name": "rabbitmq-route-table", "mountPath": f"{FATE_FLOW_22_DIR}/conf/rabbitmq_route_table.yaml",
             "subPath": "rabbitmq_route_table.yaml", "readOnly": True},
            *({"name": "python-data", "mountPath": f"{FATE_FLOW_22_DIR}/{d}", "subPath": d}
              for d in ("logs", "jobs", "model", "data")),
        ]
        volumes: list[dict[str, Any]] = [
            {"name": "python-secret",
             "secret": {"secretName": SECRET, "items": [{"key": "service_conf.yaml", "path": "service_conf.yaml"}]}},
            {"name": "rabbitmq-route-table", "configMap": {"name": RABBITMQ_ROUTE_TABLE}},
        ]
        if data_volume:
            volumes.append(data_volume)
        return mounts, volumes

    def _container_22(self, section: PythonConfig, args: FateFlowArgs, mounts: list[dict]) -> dict:
        """FATE Flow 2.2: the image's CMD does not start it (Builder docker-build/modules/fateflow/Dockerfile
        L57-59), so the command puts the pod IP into its copy of service_conf.yaml and runs the server as FATE's
        compose does (docker-compose-eggroll.yml L144-152), from the image's WORKDIR /data/projects/fate. Probed
        on GET /v2/server/fateflow, which answers once start-up (database, providers) is done
        (apps/client/server_app.py L25-28)."""
        http, grpc = endpoints.FATEFLOW.port("http"), endpoints.FATEFLOW.port("grpc")
        conf = f"{FATE_FLOW_22_DIR}/conf/service_conf.yaml"
        command = "\n".join([
            "set -e",
            f"cp {FATE_FLOW_22_DIR}/conf-tmp/service_conf.yaml {conf}",
            f'sed -i "s/host: {POD_IP_PLACEHOLDER}/host: ${{POD_IP}}/g" {conf}',
            "exec python fate_flow/python/fate_flow/fate_flow_server.py",
        ])
        return self.container(
            "fateflow", args.image, None, resources_of(section) or DEFAULT_RESOURCES,
            command=["/bin/bash", "-c", command],
            env=[{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
            ports=[{"name": "grpc-port", "containerPort": grpc}, {"name": "http-port", "containerPort": http}],
            volumeMounts=mounts,
            **http_probes(http, path="/v2/server/fateflow", liveness_delay=30, readiness_delay=5, timeout=5),
        )

    def _wait_for_mysql(self, db: Database) -> dict:
        """FATE Flow exits when MySQL is not up yet (KubeFATE #13, #247): an init container waits for it instead of
        crash-looping."""
        return self.container(
            "ping-mysql",
            self.site.images.third_party(MYSQL_IMAGE),
            None,
            WAIT_RESOURCES,
            command=[
                "/bin/bash",
                "-c",
                'until mysqladmin ping -h "$MYSQL_HOST" --port="$MYSQL_PORT" -u"$MYSQL_USER" '
                '--password="$MYSQL_PASSWORD" --silent; do echo "waiting for mysql at $MYSQL_HOST"; '
                'sleep 2; done',
            ],
            env=[
                env("MYSQL_HOST", db.host),
                env("MYSQL_PORT", db.port),
                env("MYSQL_USER", db.user),
                env_from_secret("MYSQL_PASSWORD", SECRET, "mysql-password"),
            ],
        )

    def _spark_driver_service(self, spark: SparkCores) -> None:
        """Ports an external Spark cluster uses to reach the driver inside FATE Flow (same number as NodePort)."""
        ports = []
        for i in range(spark.port_max_retries or 0):
            for prefix, start in (("spark-driver-port", spark.driver_start_port),
                                  ("spark-block-manager-port", spark.block_manager_start_port)):
                port = (start or 0) + i
                ports.append(ServicePort(f"{prefix}-{i}", f"{prefix}-{i}", port, node_port=port))
        self.service(SPARK_DRIVER_SERVICE, ports, ServiceSettings(type=spark.driver_host_type or "ClusterIP"))


def fateflow_image(images: Images, computing: str, algorithm: str, device: str) -> str:
    spark = "-spark" if computing in ("Spark", "Spark_local") else ""
    return images.fate("fateflow" + spark + eggroll.image_suffix(algorithm, device))


def build(ctx: Context) -> FateFlow:
    section = ctx.section(PythonConfig)
    if ctx.site.release == "2.2":
        return FateFlow("python", ctx.site, section, FateFlowArgs(
            image=ctx.site.images.fate("fateflow", FATEFLOW_22_TAG), engines=ctx.engines,
            service_conf=service_conf_22(ctx), python_config=python_config(ctx), database=database(ctx),
            mysql_password=ctx.secret("mysqlPassword"),
            rabbitmq_routes=rabbitmq_route_table(ctx.site.party_id, ctx.section(RabbitmqConfig), "2.2"),
            release="2.2"), ctx.opts)
    return FateFlow("python", ctx.site, section, FateFlowArgs(
        image=fateflow_image(ctx.site.images, ctx.engines[0], ctx.algorithm, ctx.device),
        engines=ctx.engines, service_conf=service_conf(ctx), python_config=python_config(ctx),
        database=database(ctx), mysql_password=ctx.secret("mysqlPassword"),
        pulsar_routes=pulsar_route_table(ctx.site.party_id, ctx.section(PulsarConfig)),
        rabbitmq_routes=rabbitmq_route_table(ctx.site.party_id, ctx.section(RabbitmqConfig)),
        gpu_count=section.gpu_count or (1 if ctx.device == "GPU" else 0),
        eggroll_config_checksum=eggroll.eggroll_config_checksum(ctx)), ctx.opts)
