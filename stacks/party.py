"""A FATE party: which modules the backend needs and how they are wired to each other."""

from __future__ import annotations

from typing import Any

import pulumi

from components import endpoints
from components.client import Client, ClientArgs
from components.clustermanager import ClusterManager, ClusterManagerArgs
from components.eggroll import MysqlEndpoint, eggroll_image
from components.fateboard import Fateboard, FateboardArgs
from components.fateflow import Database, FateFlow, FateFlowArgs, FlowSettings, SparkDriver, fateflow_image, service_conf
from components.hdfs import Hdfs, HdfsArgs, name_node_url
from components.istio import HttpsHosts, IstioGateway
from components.kube import Site, node_port_outputs
from components.mysql import Mysql, MysqlArgs
from components.nginx import Nginx, NginxArgs, hop, party_route_table
from components.nodemanager import NodeManager, NodeManagerArgs
from components.pulsar import Pulsar, PulsarArgs
from components.rabbitmq import Rabbitmq, RabbitmqArgs
from components.rollsite import Rollsite, RollsiteArgs, Route
from components.spark import Spark, SparkArgs, master_url
from components.spark import images as spark_images
from stacks.common import (exposure_of, ingress_of, placement_of, public_hosts, rollsite_federation, secret, site_of,
                           tls_plan, volume_of)
from stacks.config import DeploymentConfig


def _database(cfg: DeploymentConfig) -> Database:
    ext = cfg.mysql.external
    return Database(
        host=ext.host if ext else endpoints.MYSQL.name,
        port=(ext.port if ext and ext.port else endpoints.MYSQL.port("mysql")),
        name=cfg.mysql.database,
        user=cfg.mysql.user,
        password=secret(cfg, "mysqlPassword"),
    )


def flow_settings(cfg: DeploymentConfig, db: Database) -> FlowSettings:
    """service_conf.yaml facts: local modules by their Service, external services as configured."""
    computing, federation, storage = cfg.engines
    py = cfg.python
    rabbit_password = secret(cfg, "rabbitmqPassword") if federation == "RabbitMQ" else None
    hive: dict[str, Any] = {}
    if py.hive is not None:
        hive = {"host": py.hive.host, "port": py.hive.port, "auth_mechanism": py.hive.auth_mechanism,
                "username": py.hive.username, "password": secret(cfg, "hivePassword")}
    zk: dict[str, Any] = {}
    if cfg.serving.zookeeper is not None:
        z = cfg.serving.zookeeper
        zk = {"hosts": z.hosts, "use_acl": z.use_acl, "user": z.user,
              "password": secret(cfg, "zookeeperPassword") if z.use_acl else None}
    return FlowSettings(
        party_id=cfg.party_id,
        computing=computing,
        federation=federation,
        storage=storage,
        database=db,
        use_registry=cfg.serving.use_registry,
        dependent_distribution=py.dependent_distribution,
        eggroll_cores=(py.clustermanager.cores_per_node, py.clustermanager.nodes),
        spark_cores=(py.spark.cores_per_node, py.spark.nodes),
        hdfs=(py.hdfs.name_node or name_node_url(), py.hdfs.path_prefix),
        rabbitmq={
            "host": py.rabbitmq.host or endpoints.RABBITMQ.name,
            "port": py.rabbitmq.port or endpoints.RABBITMQ.port("amqp"),
            "mng_port": py.rabbitmq.mng_port or endpoints.RABBITMQ.port("management"),
            "user": cfg.rabbitmq.user,
            "password": rabbit_password,
        },
        pulsar={
            "host": py.pulsar.host or endpoints.PULSAR.name,
            "port": py.pulsar.port or endpoints.PULSAR.port("broker"),
            "mng_port": py.pulsar.mng_port or endpoints.PULSAR.port("web"),
            "topic_ttl": py.pulsar.topic_ttl,
            "cluster": py.pulsar.cluster,
            "tenant": py.pulsar.tenant,
        },
        nginx={
            "host": py.nginx.host or endpoints.NGINX.name,
            "http_port": py.nginx.http_port or endpoints.NGINX.port("http"),
            "grpc_port": py.nginx.grpc_port or endpoints.NGINX.port("grpc"),
        },
        hive=hive,
        servings=(f"{cfg.serving.host}:{cfg.serving.port}",) if cfg.serving.host else (),
        zookeeper=zk,
    )


def _spark_driver(cfg: DeploymentConfig) -> SparkDriver:
    sp = cfg.python.spark
    computing = cfg.engines[0]
    master = "local[*]" if computing == "Spark_local" else (sp.master or master_url())
    return SparkDriver(master=master, driver_host=sp.driver_host, driver_host_type=sp.driver_host_type,
                       port_max_retries=sp.port_max_retries, driver_start_port=sp.driver_start_port,
                       block_manager_start_port=sp.block_manager_start_port, pyspark_python=sp.pyspark_python)


def nginx_peers(cfg: DeploymentConfig) -> dict[int, dict[str, list[dict]]]:
    peers: dict[int, dict[str, list[dict]]] = {}
    for pid, route in cfg.nginx.route_table.items():
        entry = {}
        for kind in ("proxy", "fateflow"):
            hops = [hop(h.host, h.http_port, h.grpc_port) for h in getattr(route, kind)]
            if hops:
                entry[kind] = hops
        peers[pid] = entry
    return peers


def compose_party(cfg: DeploymentConfig, opts: pulumi.ResourceOptions) -> dict[str, Any]:
    """Create every module of the party; return the stack outputs."""
    site = site_of(cfg)
    modules = set(cfg.enabled_modules)
    computing, federation, _storage = cfg.engines
    images = site.images
    db = _database(cfg)
    settings = flow_settings(cfg, db)
    node_ports: dict[str, pulumi.Output] = {}
    created: dict[str, Any] = {}
    tls = tls_plan(cfg)

    if "mysql" in modules:
        created["mysql"] = Mysql("mysql", site, MysqlArgs(
            database=cfg.mysql.database, user=cfg.mysql.user, password=db.password,
            eggroll_tables=computing == "Eggroll", volume=volume_of(cfg.mysql.storage),
            placement=placement_of(cfg.mysql), exposure=exposure_of(cfg.mysql.service)), opts)

    eggroll_checksum = ""
    egg_image = eggroll_image(images, cfg.algorithm, cfg.device)
    if "clustermanager" in modules:
        cm = ClusterManager("clustermanager", site, ClusterManagerArgs(
            image=egg_image, mysql=MysqlEndpoint(db.host, db.port, db.name, db.user), mysql_password=db.password,
            server_timezone=cfg.clustermanager.mysql_server_timezone,
            session_processors_per_node=cfg.nodemanager.session_processors_per_node,
            placement=placement_of(cfg.clustermanager)), opts)
        eggroll_checksum = cm.eggroll_config_checksum
        created["clustermanager"] = cm

    python_checksum = ""
    if "python" in modules:
        gpu = cfg.python.gpu_count or (1 if cfg.device == "GPU" else 0)
        flow = FateFlow("python", site, FateFlowArgs(
            image=fateflow_image(images, computing, cfg.algorithm, cfg.device),
            settings=settings, spark=_spark_driver(cfg), replicas=cfg.python.replicas, log_level=cfg.python.log_level,
            service_account=cfg.python.service_account_name, gpu_count=gpu, volume=volume_of(cfg.python.storage),
            placement=placement_of(cfg.python), exposure=exposure_of(cfg.python.service),
            pulsar_routes={pid: r.model_dump(by_alias=True) for pid, r in cfg.pulsar.route_table.items()},
            pulsar_exchange=cfg.pulsar.exchange.model_dump() if cfg.pulsar.exchange else None,
            rabbitmq_routes={pid: r.model_dump() for pid, r in cfg.rabbitmq.route_table.items()},
            eggroll_config_checksum=eggroll_checksum,
            # with Istio an init container has no network before the sidecar starts
            wait_for_mysql=not cfg.istio.enabled), opts)
        python_checksum = flow.python_config_checksum
        node_ports["fateflow"] = node_port_outputs(flow.client_service)
        created["python"] = flow

    if "nodemanager" in modules:
        created["nodemanager"] = NodeManager("nodemanager", site, NodeManagerArgs(
            image=egg_image, replicas=cfg.nodemanager.replicas, volume=volume_of(cfg.nodemanager.storage),
            placement=placement_of(cfg.nodemanager), config_checksums=(eggroll_checksum, python_checksum)), opts)

    if "rollsite" in modules:
        rs = cfg.rollsite
        polling = rs.polling
        rollsite = Rollsite("rollsite", site, RollsiteArgs(
            image=egg_image, placement=placement_of(rs), exposure=exposure_of(rs.service),
            exchange_list=tuple(Route(0, e.host, e.port) for e in rs.exchange_list), max_body_size=rs.max_body_size,
            **rollsite_federation(cfg, tls),
            polling=polling.type if polling.enabled else None,
            polling_server=Route(0, polling.server.host, polling.server.port) if polling.server else None,
            polling_clients=tuple(polling.client_list), polling_concurrency=polling.concurrency,
            eggroll_config_checksum=eggroll_checksum), opts)
        node_ports["rollsite"] = rollsite.node_ports
        created["rollsite"] = rollsite

    if "fateboard" in modules:
        created["fateboard"] = Fateboard("fateboard", site, FateboardArgs(
            image=images.fate("fateboard"), username=cfg.fateboard.username, password=secret(cfg, "fateboardPassword"),
            fateflow_replicas=cfg.python.replicas, placement=placement_of(cfg.fateboard),
            exposure=exposure_of(cfg.fateboard.service), ingress=ingress_of(cfg.ingress.fateboard),
            ingress_class=cfg.ingress.class_name), opts)

    if "client" in modules:
        created["client"] = Client("client", site, ClientArgs(
            image=images.fate("client"), hashed_password=secret(cfg, "notebookHashedPassword"),
            serving_host=f"{cfg.serving.host}:{cfg.serving.port}" if cfg.serving.host else "",
            volume=volume_of(cfg.client.storage), placement=placement_of(cfg.client),
            ingress=ingress_of(cfg.ingress.client), ingress_class=cfg.ingress.class_name), opts)

    if "spark" in modules:
        sp = cfg.spark
        master_image, worker_image = spark_images(site, cfg.algorithm, cfg.device, sp.master.image, sp.master.image_tag,
                                                  sp.worker.image, sp.worker.image_tag)
        spark = Spark("spark", site, SparkArgs(
            master_image=master_image, worker_image=worker_image,
            worker_service_conf=service_conf(settings, redact=True),
            master_replicas=sp.master.replicas, worker_replicas=sp.worker.replicas,
            master_placement=placement_of(sp.master), worker_placement=placement_of(sp.worker),
            master_exposure=exposure_of(sp.master.service), ingress=ingress_of(cfg.ingress.spark),
            ingress_class=cfg.ingress.class_name), opts)
        node_ports["spark"] = node_port_outputs(spark.client_service)
        created["spark"] = spark

    if "hdfs" in modules:
        h = cfg.hdfs
        hdfs = Hdfs("hdfs", site, HdfsArgs(
            datanode_replicas=h.datanode.replicas, namenode_volume=volume_of(h.namenode.storage),
            datanode_volume=volume_of(h.datanode.storage), namenode_placement=placement_of(h.namenode),
            datanode_placement=placement_of(h.datanode), namenode_exposure=exposure_of(h.namenode.service),
            datanode_exposure=exposure_of(h.datanode.service)), opts)
        node_ports["namenode"] = node_port_outputs(hdfs.namenode_service)
        created["hdfs"] = hdfs

    if "nginx" in modules:
        ex = cfg.nginx.exchange
        nginx = Nginx("nginx", site, NginxArgs(
            image=images.fate("nginx"),
            route_table=party_route_table(cfg.party_id, nginx_peers(cfg),
                                          hop(ex.host, ex.http_port, ex.grpc_port) if ex else None),
            replicas=cfg.nginx.replicas, placement=placement_of(cfg.nginx), exposure=exposure_of(cfg.nginx.service)), opts)
        node_ports["nginx"] = nginx.node_ports
        created["nginx"] = nginx

    if "rabbitmq" in modules:
        rabbitmq = Rabbitmq("rabbitmq", site, RabbitmqArgs(
            user=cfg.rabbitmq.user, password=secret(cfg, "rabbitmqPassword"), placement=placement_of(cfg.rabbitmq),
            exposure=exposure_of(cfg.rabbitmq.service), ingress=ingress_of(cfg.ingress.rabbitmq),
            ingress_class=cfg.ingress.class_name), opts)
        node_ports["rabbitmq"] = rabbitmq.node_ports
        created["rabbitmq"] = rabbitmq

    if "pulsar" in modules:
        pc = cfg.pulsar
        pulsar = Pulsar("pulsar", site, PulsarArgs(
            tls_secret=pc.tls.secret_name if pc.exchange else None,
            tls_material=tls.pulsar_cert(cfg.party_id, pc.exchange.domain, public_hosts(cfg)) if tls and pc.exchange else None,
            backlog_quota_gb=pc.confs.backlog_quota_default_limit_gb,
            delete_inactive_topics_seconds=pc.confs.broker_delete_inactive_topics_frequency_seconds,
            env=tuple(pc.env), public_lb=pc.public_lb.enabled, volume=volume_of(pc.storage),
            placement=placement_of(pc), exposure=exposure_of(pc.service), ingress=ingress_of(cfg.ingress.pulsar),
            ingress_class=cfg.ingress.class_name), opts)
        node_ports["pulsar"] = pulsar.node_ports
        created["pulsar"] = pulsar

    if cfg.istio.enabled:
        IstioGateway("istio-gateway", site, https=(
            HttpsHosts("fateboard-https", "fateboard-credential", tuple(h.name for h in cfg.ingress.fateboard.hosts)),
            HttpsHosts("client-https", "client-credential", tuple(h.name for h in cfg.ingress.client.hosts)),
        ), opts=opts)

    return {"modules": created, "nodePorts": node_ports}


def party_summary(cfg: DeploymentConfig, site: Site) -> str:
    computing, federation, storage = cfg.engines
    return (f"FATE party {cfg.party_id} ({cfg.backend}: computing {computing}, federation {federation}, storage {storage}; "
            f"{cfg.algorithm}/{cfg.device}) '{site.name}' in namespace {site.namespace}: "
            f"{', '.join(cfg.enabled_modules)}")
