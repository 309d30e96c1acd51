"""python: FATE Flow, the job scheduler of a party (KubeFATE's module name `python`, StatefulSet `python`)."""

from __future__ import annotations

from pydantic import Field

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Optional, Sequence

import pulumi

from . import eggroll, endpoints
from .files import to_yaml
from .kube import MYSQL_IMAGE, Exposure, Module, Placement, ServicePort, Site, Volume, env, env_from_secret, tcp_probes
from .settings import ExposedModule, Host, K8sName, Model, Port, ServiceType, StorageSettings


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
    driver_host: Optional[Host] = Field(default=None, description="Address executors reach the driver on (external Spark)")
    driver_host_type: Optional[ServiceType] = None
    port_max_retries: Optional[int] = Field(default=None, ge=1, le=1000)
    driver_start_port: Optional[Port] = None
    block_manager_start_port: Optional[Port] = None
    pyspark_python: Optional[str] = None


class HdfsClient(Model):
    name_node: Optional[str] = Field(default=None, description="External HDFS, e.g. hdfs://nn:9000; unset = hdfs module")
    path_prefix: Optional[str] = None


class RabbitmqClient(Model):
    host: Optional[Host] = Field(default=None, description="External RabbitMQ; unset = the rabbitmq module")
    port: Optional[Port] = Field(default=None, description="default: the rabbitmq module's AMQP port")
    mng_port: Optional[Port] = Field(default=None, description="default: the rabbitmq module's management port")


class PulsarClient(Model):
    host: Optional[Host] = Field(default=None, description="External Pulsar; unset = the pulsar module")
    port: Optional[Port] = Field(default=None, description="default: the pulsar module's broker port")
    mng_port: Optional[Port] = Field(default=None, description="default: the pulsar module's admin port")
    topic_ttl: int = Field(default=3, ge=0)
    cluster: str = "standalone"
    tenant: str = "fl-tenant"


class NginxClient(Model):
    """The nginx FATE Flow sends federated control messages through; unset = the party's nginx module."""

    host: Optional[Host] = None
    http_port: Optional[Port] = None
    grpc_port: Optional[Port] = None


class HiveClient(Model):
    host: Host
    port: Port = 10000
    auth_mechanism: Optional[str] = None
    username: Optional[str] = None


class PythonConfig(ExposedModule):
    """FATE Flow (KubeFATE module name: python)."""

    exposable_ports: ClassVar[tuple[str, ...]] = ("http", "grpc")

    replicas: int = Field(default=1, ge=1, le=100)
    log_level: LogLevel = "INFO"
    service_account_name: Optional[K8sName] = None
    dependent_distribution: bool = False
    gpu_count: Optional[int] = Field(default=None, ge=1, le=64, description="GPUs per fateflow pod (device GPU; default 1)")
    storage: StorageSettings = Field(default_factory=StorageSettings)
    clustermanager: EggrollCores = Field(default_factory=EggrollCores)
    spark: SparkCores = Field(default_factory=SparkCores)
    hdfs: HdfsClient = Field(default_factory=HdfsClient)
    rabbitmq: RabbitmqClient = Field(default_factory=RabbitmqClient)
    pulsar: PulsarClient = Field(default_factory=PulsarClient)
    nginx: NginxClient = Field(default_factory=NginxClient)
    hive: Optional[HiveClient] = None


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


@dataclass(frozen=True)
class Database:
    host: str
    port: int
    name: str
    user: str
    password: str


@dataclass(frozen=True)
class FlowSettings:
    """Everything service_conf.yaml says about this party (from the composition)."""

    party_id: int
    computing: str  # Eggroll | Spark | Spark_local
    federation: str  # Eggroll | Pulsar | RabbitMQ
    storage: str  # Eggroll | HDFS | LocalFS
    database: Database
    use_registry: bool = False
    dependent_distribution: bool = False
    eggroll_cores: tuple[int, int] = (16, 2)  # cores_per_node, nodes
    spark_cores: tuple[int, int] = (20, 2)
    hdfs: tuple[str, Optional[str]] = ("hdfs://namenode:9000", None)  # name_node, path_prefix
    rabbitmq: dict = field(default_factory=dict)  # host, mng_port, port, user, password
    pulsar: dict = field(default_factory=dict)  # host, port, mng_port, topic_ttl, cluster, tenant
    nginx: dict = field(default_factory=dict)  # host, http_port, grpc_port
    hive: dict = field(default_factory=dict)  # host, port, auth_mechanism, username, password
    servings: tuple[str, ...] = ()
    zookeeper: dict = field(default_factory=dict)  # hosts, use_acl, user, password


@dataclass(frozen=True)
class SparkDriver:
    master: str
    driver_host: Optional[str] = None  # None = the pod IP
    driver_host_type: Optional[str] = None
    port_max_retries: Optional[int] = None
    driver_start_port: Optional[int] = None
    block_manager_start_port: Optional[int] = None
    pyspark_python: Optional[str] = None


SECRET_FIELDS = (("database", "passwd"), ("fate_on_spark", "rabbitmq", "password"), ("fate_on_spark", "hive", "password"),
                 ("zookeeper", "password"))


def service_conf(s: FlowSettings, redact: bool = False) -> dict:
    """FATE Flow's service_conf.yaml as data. `redact` empties every password (for ConfigMaps)."""
    proxy = "rollsite" if s.computing == "Eggroll" else "nginx"
    conf: dict[str, Any] = {
        "use_registry": s.use_registry,
        "use_deserialize_safe_module": False,
        "dependent_distribution": s.dependent_distribution,
        "encrypt_password": False,
        "encrypt_module": "fate_arch.common.encrypt_utils#pwdecrypt",
        "private_key": None,
        "private_key_file": None,
        "party_id": s.party_id,
        "hook_module": {
            "client_authentication": "fate_flow.hook.flow.client_authentication",
            "site_authentication": "fate_flow.hook.flow.site_authentication",
            "permission": "fate_flow.hook.flow.permission",
        },
        "hook_server_name": None,
        "authentication": {"client": {"switch": False, "http_app_key": None, "http_secret_key": None},
                           "site": {"switch": False}},
        "permission": {"switch": False, "component": False, "dataset": False},
        "fateflow": {
            "host": POD_IP_PLACEHOLDER,
            "http_port": endpoints.FATEFLOW.port("http"),
            "grpc_port": endpoints.FATEFLOW.port("grpc"),
            # other fateflow instances of this party are reached through the fateflow Service
            "nginx": {"host": endpoints.FATEFLOW.name, "http_port": endpoints.FATEFLOW.port("http"),
                      "grpc_port": endpoints.FATEFLOW.port("grpc")},
            "random_instance_id": False,
            "proxy": proxy,
            "protocol": "default",
            "default_federated_status_collect_type": "PULL",
        },
        "database": {
            "name": s.database.name,
            "user": s.database.user,
            "passwd": s.database.password,
            "host": s.database.host,
            "port": s.database.port,
            "max_connections": 100,
            "stale_timeout": 30,
        },
        "default_engines": {
            "computing": "spark" if s.computing == "Spark_local" else s.computing.lower(),
            "federation": s.federation.lower(),
            "storage": s.storage.lower(),
        },
        "fate_on_standalone": {"standalone": {"cores_per_node": 20, "nodes": 1}},
        "fate_on_eggroll": {
            "clustermanager": {"cores_per_node": s.eggroll_cores[0], "nodes": s.eggroll_cores[1]},
            "rollsite": {"host": endpoints.ROLLSITE.name, "port": endpoints.ROLLSITE.port("rollsite")},
        },
        "fate_on_spark": {
            "spark": {"home": f"{SPARK_HOME}/", "cores_per_node": s.spark_cores[0], "nodes": s.spark_cores[1]},
            "linkis_spark": {"cores_per_node": 20, "nodes": 2, "host": "127.0.0.1", "port": 9001, "token_code": "MLSS",
                             "python_path": f"{FATE_HOME}/python"},
            "hive": {k: s.hive.get(k) for k in ("host", "port", "auth_mechanism", "username", "password")},
            "linkis_hive": {"host": "127.0.0.1", "port": 9001},
            "hdfs": {"name_node": s.hdfs[0], "path_prefix": s.hdfs[1]},
            "rabbitmq": {
                **{k: s.rabbitmq.get(k) for k in ("host", "mng_port", "port", "user", "password")},
                "route_table": "conf/rabbitmq_route_table/rabbitmq_route_table.yaml",
                "mode": "replication",
                "max_message_size": 1048576,
            },
            "pulsar": {
                **{k: s.pulsar.get(k) for k in ("host", "port", "mng_port", "topic_ttl", "cluster", "tenant")},
                "route_table": "conf/pulsar_route_table/pulsar_route_table.yaml",
                "mode": "replication",
                "max_message_size": 1048576,
            },
            "nginx": {k: s.nginx.get(k) for k in ("host", "http_port", "grpc_port")},
        },
        "fateboard": {"host": endpoints.FATEBOARD.name, "port": endpoints.FATEBOARD.port("http")},
        "enable_model_store": False,
        "model_store_address": {"storage": "tencent_cos", "Region": None, "SecretId": None, "SecretKey": None,
                                "Bucket": None},
        "servings": {"hosts": list(s.servings)},
        "zookeeper": {
            "hosts": list(s.zookeeper.get("hosts", [])),
            "use_acl": bool(s.zookeeper.get("use_acl", False)),
            "user": s.zookeeper.get("user"),
            "password": s.zookeeper.get("password"),
        },
    }
    if redact:
        for path in SECRET_FIELDS:
            node = conf
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = ""
    return conf


def spark_defaults(driver: SparkDriver) -> list[tuple[str, Any]]:
    entries: list[tuple[str, Any]] = [
        ("spark.master", driver.master),
        ("spark.driver.host", driver.driver_host or POD_IP_PLACEHOLDER),
    ]
    if driver.driver_start_port:
        entries.append(("spark.driver.port", driver.driver_start_port))
    if driver.port_max_retries:
        entries.append(("spark.port.maxRetries", driver.port_max_retries))
    if driver.block_manager_start_port:
        entries.append(("spark.blockManager.port", driver.block_manager_start_port))
        entries.append(("spark.driver.bindAddress", "0.0.0.0"))
    if driver.pyspark_python:
        entries.append(("spark.pyspark.python", driver.pyspark_python))
        entries.append(("spark.pyspark.driver.python", "python"))
    return entries


def render_spark_defaults(entries: Sequence[tuple[str, Any]]) -> str:
    return "".join(f"{k:<34}{v}\n" for k, v in entries)


def pulsar_route_table(party_id: int, peers: dict, exchange: Optional[dict]) -> dict:
    """pulsar_route_table.yaml: optional default via the exchange's SNI proxy, the own broker, then peers."""
    table: dict[Any, Any] = {}
    if exchange:
        table["default"] = {"proxy": f"{exchange['host']}:{exchange['port']}", "domain": exchange["domain"]}
    table[party_id] = {"host": endpoints.PULSAR.name, "port": endpoints.PULSAR.port("broker"),
                       "sslPort": endpoints.PULSAR.port("brokerTls"), "proxy": ""}
    table.update(peers)
    return table


def rabbitmq_route_table(party_id: int, peers: dict) -> dict:
    return {party_id: {"host": endpoints.RABBITMQ.name, "port": endpoints.RABBITMQ.port("amqp")}, **peers}


@dataclass(frozen=True)
class FateFlowArgs:
    image: str
    settings: FlowSettings
    spark: SparkDriver
    replicas: int = 1
    log_level: str = "INFO"
    service_account: Optional[str] = None
    gpu_count: int = 0
    volume: Volume = Volume()
    placement: Placement = Placement()
    exposure: Exposure = Exposure()
    pulsar_routes: dict = field(default_factory=dict)  # peers only
    pulsar_exchange: Optional[dict] = None
    rabbitmq_routes: dict = field(default_factory=dict)
    eggroll_config_checksum: str = ""
    wait_for_mysql: bool = True


class FateFlow(Module):
    """StatefulSet `python`, Services `fateflow` (headless) and `fateflow-client` (9360/9380), ConfigMaps
    `python-config`, `pulsar-route-table`, `rabbitmq-route-table`, Secret `python-secret`; PVC `python-data-python-<i>`."""

    TYPE = "fate:python:FateFlow"
    APP = "python"
    COMPONENT = "fateflow"
    PEER_FACING = True

    def __init__(self, name: str, site: Site, args: FateFlowArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        s = args.settings
        self.service_conf = service_conf(s)
        self.spark_defaults = spark_defaults(args.spark)
        self.pulsar_routes = pulsar_route_table(site.party_id, args.pulsar_routes, args.pulsar_exchange)
        self.rabbitmq_routes = rabbitmq_route_table(site.party_id, args.rabbitmq_routes)
        # Readable copy without passwords (also read by nodemanagers); FATE Flow itself reads the Secret's copy.
        self.config_map(CONFIG_MAP, {
            "spark-defaults.conf": render_spark_defaults(self.spark_defaults),
            "service_conf.yaml": to_yaml(service_conf(s, redact=True)),
        })
        self.python_config_checksum = self.config_checksum
        self.config_map(PULSAR_ROUTE_TABLE, {"pulsar_route_table.yaml": to_yaml(self.pulsar_routes)})
        self.config_map(RABBITMQ_ROUTE_TABLE, {"rabbitmq_route_table.yaml": to_yaml(self.rabbitmq_routes)})
        self.secret(SECRET, {"service_conf.yaml": to_yaml(self.service_conf), "mysql-password": s.database.password})
        if args.eggroll_config_checksum:
            self.uses_config(args.eggroll_config_checksum)

        http, grpc = endpoints.FATEFLOW.port("http"), endpoints.FATEFLOW.port("grpc")
        data_volume, claim = self.data_volume("python-data", args.volume)
        mounts = [
            {"name": "python-secret", "mountPath": f"{FATE_HOME}/conf-tmp", "readOnly": True},
            {"name": "python-confs", "mountPath": f"{SPARK_HOME}/conf/spark-defaults-template.conf",
             "subPath": "spark-defaults.conf"},
            {"name": "python-data", "mountPath": f"{FATE_HOME}/fateflow/logs", "subPath": "logs"},
            {"name": "python-data", "mountPath": f"{FATE_HOME}/fateflow/jobs", "subPath": "jobs"},
            {"name": "python-data", "mountPath": f"{FATE_HOME}/fateflow/model_local_cache", "subPath": "model-local-cache"},
            {"name": "python-data", "mountPath": f"{FATE_HOME}/llm", "subPath": "llm"},
        ]
        volumes = [
            {"name": "python-secret", "secret": {"secretName": SECRET, "items": [{"key": "service_conf.yaml", "path": "service_conf.yaml"}]}},
            {"name": "python-confs", "configMap": {"name": CONFIG_MAP}},
        ]
        if s.computing == "Eggroll":
            mounts.append({"name": "eggroll-confs", "mountPath": eggroll.EGGROLL_PROPERTIES, "subPath": "eggroll.properties"})
            volumes.append({"name": "eggroll-confs", "configMap": {"name": eggroll.EGGROLL_CONFIG_MAP}})
        if s.federation == "Pulsar":
            mounts.append({"name": "pulsar-route-table", "mountPath": f"{FATE_HOME}/conf/pulsar_route_table"})
            volumes.append({"name": "pulsar-route-table", "configMap": {"name": PULSAR_ROUTE_TABLE}})
        if s.federation == "RabbitMQ":
            mounts.append({"name": "rabbitmq-route-table", "mountPath": f"{FATE_HOME}/conf/rabbitmq_route_table"})
            volumes.append({"name": "rabbitmq-route-table", "configMap": {"name": RABBITMQ_ROUTE_TABLE}})
        if data_volume:
            volumes.append(data_volume)

        env_vars = [
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            env("FATE_LOG_LEVEL", args.log_level),
            env("FATE_PROJECT_BASE", FATE_HOME),
            env("HUGGINGFACE_HUB_CACHE", f"{FATE_HOME}/llm"),
        ]
        if s.computing == "Spark":
            env_vars += [env("FATE_FLOW_UPLOAD_MAX_NUM", 1000000), env("FATE_FLOW_UPLOAD_MAX_BYTES", 104868093952)]
        resources = None
        if args.gpu_count:
            base = args.placement.resources if args.placement.resources is not None else DEFAULT_RESOURCES
            resources = {kind: {**base.get(kind, {}), "nvidia.com/gpu": str(args.gpu_count)} for kind in ("requests", "limits")}
        placement = args.placement if resources is None else Placement(
            args.placement.node_selector, args.placement.tolerations, args.placement.affinity, resources)
        command = "\n".join([
            "set -e",
            f"mkdir -p {FATE_HOME}/conf/",
            f"cp {FATE_HOME}/conf-tmp/service_conf.yaml {FATE_HOME}/conf/service_conf.yaml",
            f'sed -i "s/host: {POD_IP_PLACEHOLDER}/host: ${{POD_IP}}/g" {FATE_HOME}/conf/service_conf.yaml',
            f"cp {SPARK_HOME}/conf/spark-defaults-template.conf {SPARK_HOME}/conf/spark-defaults.conf",
            f'sed -i "s/{POD_IP_PLACEHOLDER}/${{POD_IP}}/g" {SPARK_HOME}/conf/spark-defaults.conf',
            "exec python fateflow/python/fate_flow/fate_flow_server.py",
        ])
        container = self.container(
            "fateflow", args.image, placement, DEFAULT_RESOURCES,
            command=["/bin/bash", "-c", command],
            env=env_vars,
            ports=[{"name": "grpc-port", "containerPort": grpc}, {"name": "http-port", "containerPort": http}],
            volumeMounts=mounts,
            **tcp_probes(http, liveness_delay=30, readiness_delay=5, timeout=5),
        )
        init = []
        if args.wait_for_mysql:
            # FATE Flow exits when MySQL is not up yet (KubeFATE #13, #247): wait for it instead of crash-looping.
            init.append(self.container(
                "ping-mysql", site.images.third_party(MYSQL_IMAGE), None, WAIT_RESOURCES,
                command=["/bin/bash", "-c",
                         'until mysqladmin ping -h "$MYSQL_HOST" --port="$MYSQL_PORT" -u"$MYSQL_USER" '
                         '--password="$MYSQL_PASSWORD" --silent; do echo "waiting for mysql at $MYSQL_HOST"; sleep 2; done'],
                env=[env("MYSQL_HOST", s.database.host), env("MYSQL_PORT", s.database.port),
                     env("MYSQL_USER", s.database.user), env_from_secret("MYSQL_PASSWORD", SECRET, "mysql-password")],
            ))
        pod = self.pod_spec([container], placement, volumes, init_containers=init, service_account=args.service_account)
        annotations = {"sidecar.istio.io/rewriteAppHTTPProbers": "false"} if site.istio else None

        self.service(endpoints.FATEFLOW.name, endpoints.FATEFLOW.ports, headless=True)
        self.client_service = self.service(endpoints.FATEFLOW_CLIENT.name, endpoints.FATEFLOW_CLIENT.ports, args.exposure)
        if args.spark.port_max_retries and args.spark.driver_host:
            self._spark_driver_service(args.spark)
        self.workload = self.stateful_set("python", endpoints.FATEFLOW.name, args.replicas, pod,
                                          claim_templates=[claim] if claim else [], pod_annotations=annotations)
        self.done({"endpoint": endpoints.FATEFLOW_CLIENT.address("http")})

    def _spark_driver_service(self, spark: SparkDriver) -> None:
        """Ports an external Spark cluster uses to reach the driver inside FATE Flow (same number as NodePort)."""
        ports = []
        for i in range(spark.port_max_retries or 0):
            for prefix, start in (("spark-driver-port", spark.driver_start_port),
                                  ("spark-block-manager-port", spark.block_manager_start_port)):
                port = (start or 0) + i
                ports.append(ServicePort(f"{prefix}-{i}", f"{prefix}-{i}", port, node_port=port))
        self.service(SPARK_DRIVER_SERVICE, ports, Exposure(type=spark.driver_host_type or "ClusterIP"))


def fateflow_image(images, computing: str, algorithm: str, device: str) -> str:
    spark = "-spark" if computing in ("Spark", "Spark_local") else ""
    return images.fate("fateflow" + spark + eggroll.image_suffix(algorithm, device))
