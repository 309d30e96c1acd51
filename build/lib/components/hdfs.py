"""hdfs: the HDFS namenode and datanodes FATE on Spark stores tables in."""

from __future__ import annotations

from typing import Optional

import pulumi
from pydantic import Field

from . import endpoints
from .context import Context
from .files import hadoop_xml
from .kube import BUSYBOX_IMAGE, Module, Site, exec_probes, node_port_outputs
from .settings import Count, ExposedModule, Model, Spread, StorageSettings

# --------------------------------------------------------------------------------------------------------------
# Config section
# --------------------------------------------------------------------------------------------------------------


class NameNode(ExposedModule):
    storage: StorageSettings = Field(default_factory=StorageSettings)


class DataNode(ExposedModule):
    replicas: Count = 3
    spread: Optional[Spread] = None
    storage: StorageSettings = Field(default_factory=StorageSettings)


class HdfsConfig(Model):
    namenode: NameNode = Field(default_factory=NameNode)
    datanode: DataNode = Field(default_factory=DataNode)


HADOOP_IMAGE_TAG = "2.0.0-hadoop3.2.1-java8"
NAMENODE_CONFIG_MAP = "namenode-config"
NAMENODE_ENV = "namenode-env"
DATANODE_ENV = "datanode-env"
NAMENODE_RESOURCES = {"requests": {"cpu": "250m", "memory": "1Gi"}}
DATANODE_RESOURCES = {"requests": {"cpu": "250m", "memory": "1Gi"}}


def hadoop_env() -> dict[str, str]:
    """Environment of the hadoop images (their entrypoint writes *_CONF_* into core-site/hdfs-site).
    Only HDFS is deployed, so KubeFATE's YARN and MapReduce settings are left out."""
    return {
        "MULTIHOMED_NETWORK": "0",
        "CORE_CONF_fs_defaultFS": endpoints.NAMENODE_URL,
        "CORE_CONF_hadoop_http_staticuser_user": "root",
        "CORE_CONF_hadoop_proxyuser_hue_hosts": "*",
        "CORE_CONF_hadoop_proxyuser_hue_groups": "*",
        "CORE_CONF_io_compression_codecs": "org.apache.hadoop.io.compress.SnappyCodec",
        "HDFS_CONF_dfs_webhdfs_enabled": "true",
        "HDFS_CONF_dfs_permissions_enabled": "false",
        "HDFS_CONF_dfs_namenode_datanode_registration_ip___hostname___check": "false",
        "HDFS_CONF_dfs_client_use_datanode_hostname": "false",
        "HDFS_CONF_dfs_datanode_use_datanode_hostname": "false",
        "HDFS_CONF_dfs_namenode_rpc___bind___host": "0.0.0.0",
        "HDFS_CONF_dfs_namenode_servicerpc___bind___host": "0.0.0.0",
        "HDFS_CONF_dfs_namenode_http___bind___host": "0.0.0.0",
        "HDFS_CONF_dfs_namenode_https___bind___host": "0.0.0.0",
    }


class Hdfs(Module):
    """StatefulSets and Services `namenode` (9000/9870) and `datanode` (9000/9864), ConfigMaps `namenode-config`,
    `namenode-env`, `datanode-env`; PVCs `dfs-namenode-0`, `dfs-datanode-<i>` (one per datanode)."""

    TYPE = "fate:hdfs:Hdfs"
    APP = "namenode"
    COMPONENT = "storage"

    def __init__(self, name: str, site: Site, section: HdfsConfig, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        rpc = endpoints.NAMENODE.port("rpc")
        self.config_map(NAMENODE_CONFIG_MAP, {"core-site.xml": hadoop_xml({"fs.default.name": f"hdfs://0.0.0.0:{rpc}"})})
        self.config_map(NAMENODE_ENV, hadoop_env())
        self.config_map(DATANODE_ENV, hadoop_env())

        nn_http = endpoints.NAMENODE.port("http")
        nn_volume, nn_claim = self.data_volume("dfs", section.namenode.storage)
        init = []
        if site.persistence:
            # a fresh ext4 volume has lost+found, which the namenode refuses to format over
            init.append(self.container("delete-lost-found", site.images.third_party(BUSYBOX_IMAGE), None,
                                       {"requests": {"cpu": "10m", "memory": "16Mi"}},
                                       command=["sh", "-c", "rm -rf /hadoop/dfs/name/lost+found"],
                                       volumeMounts=[{"name": "dfs", "mountPath": "/hadoop/dfs/name"}]))
        namenode = self.container(
            "namenode", site.images.fate("hadoop-namenode", HADOOP_IMAGE_TAG), section.namenode, NAMENODE_RESOURCES,
            env=[{"name": "CLUSTER_NAME", "value": "fate"}],
            envFrom=[{"configMapRef": {"name": NAMENODE_ENV}}],
            ports=[{"name": p.name, "containerPort": p.port} for p in endpoints.NAMENODE.ports],
            volumeMounts=[
                {"name": "namenode-confs", "mountPath": "/etc/hadoop/core-site.xml", "subPath": "core-site.xml"},
                {"name": "dfs", "mountPath": "/hadoop/dfs/name"},
            ],
            **exec_probes(["/bin/bash", "-c", f"curl -f localhost:{nn_http}"], liveness_delay=30, readiness_delay=5),
        )
        volumes = [{"name": "namenode-confs", "configMap": {"name": NAMENODE_CONFIG_MAP}}] + (
            [nn_volume] if nn_volume else []
        )
        self.namenode_service = self.service(
            endpoints.NAMENODE.name, endpoints.NAMENODE.ports, section.namenode.service, app="namenode"
        )
        self.node_ports = node_port_outputs(self.namenode_service)
        self.stateful_set("namenode", endpoints.NAMENODE.name, 1,
                          self.pod_spec([namenode], section.namenode, volumes, init_containers=init),
                          claim_templates=[nn_claim] if nn_claim else [], app="namenode")

        dn_http = endpoints.DATANODE.port("http")
        dn_volume, dn_claim = self.data_volume("dfs", section.datanode.storage, app="datanode")
        datanode = self.container(
            "datanode", site.images.fate("hadoop-datanode", HADOOP_IMAGE_TAG), section.datanode, DATANODE_RESOURCES,
            env=[{"name": "SERVICE_PRECONDITION", "value": endpoints.NAMENODE.address("rpc")}],
            envFrom=[{"configMapRef": {"name": DATANODE_ENV}}],
            ports=[{"name": p.name, "containerPort": p.port} for p in endpoints.DATANODE.ports],
            volumeMounts=[{"name": "dfs", "mountPath": "/hadoop/dfs/data"}],
            **exec_probes(["/bin/bash", "-c", f"curl -f localhost:{dn_http}"], liveness_delay=30, readiness_delay=5),
        )
        self.service(endpoints.DATANODE.name, endpoints.DATANODE.ports, section.datanode.service, app="datanode")
        self.stateful_set("datanode", endpoints.DATANODE.name, section.datanode.replicas,
                          self.pod_spec([datanode], section.datanode, [dn_volume] if dn_volume else [], app="datanode"),
                          claim_templates=[dn_claim] if dn_claim else [], app="datanode",
                          **self.fresh_only(podManagementPolicy="Parallel"))
        self.done({"nameNode": endpoints.NAMENODE_URL}, apps=("namenode", "datanode"))


def build(ctx: Context) -> Hdfs:
    return Hdfs("hdfs", ctx.site, ctx.section(HdfsConfig), ctx.opts)
