"""Facts shared by the eggroll modules (rollsite, clustermanager, nodemanager) and FATE Flow on eggroll:
the eggroll image, eggroll.properties and the JVM start script."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from pydantic import Field

from . import endpoints
from .context import Context
from .files import properties
from .kube import Images, config_checksum
from .mysql import Database, database
from .settings import Count, ModuleBase, Spread, StorageSettings

EGGROLL_HOME = "/data/projects/fate/eggroll"
EGGROLL_CONF = f"{EGGROLL_HOME}/conf"
EGGROLL_PROPERTIES = f"{EGGROLL_CONF}/eggroll.properties"
# Config objects are mounted here, read-only; the start script composes the writable conf/eggroll.properties
# (KubeFATE appended TLS keys to a read-only subPath mount instead).
EGGROLL_CONF_PARTS = f"{EGGROLL_HOME}/conf-k8s"
EGGROLL_CONFIG_MAP = "eggroll-config"
ROUTE_TABLE_DIR = f"{EGGROLL_CONF}/route_table"

JDBC_PASSWORD_KEY = "eggroll.resourcemanager.clustermanager.jdbc.password"


def image_suffix(algorithm: str, device: str) -> str:
    """FATE's image flavour: -nn / -all for the algorithm set, -ipcl / -gpu for the device."""
    return {"NN": "-nn", "ALL": "-all"}.get(algorithm, "") + {"IPCL": "-ipcl", "GPU": "-gpu"}.get(device, "")


def eggroll_image(images: Images, algorithm: str = "Basic", device: str = "CPU") -> str:
    """A party's eggroll image in its flavour; an exchange runs the plain one."""
    return images.fate("eggroll" + image_suffix(algorithm, device))


# --------------------------------------------------------------------------------------------------------------
# Config sections of the eggroll cluster: both go into the one eggroll.properties every eggroll process reads, so
# they live here, beside it (clustermanager.py and nodemanager.py build the modules)
# --------------------------------------------------------------------------------------------------------------


class ClusterManagerConfig(ModuleBase):
    mysql_server_timezone: str = "UTC"


class NodeManagerConfig(ModuleBase):
    replicas: Count = Field(default=2, description="Number of nodemanagers (KubeFATE docs call it count)")
    spread: Optional[Spread] = None
    session_processors_per_node: int = Field(default=4, ge=1, le=4096)
    storage: StorageSettings = Field(default_factory=StorageSettings)


def eggroll_config(ctx: Context) -> dict[str, str]:
    """The eggroll-config ConfigMap (the clustermanager creates it; nodemanagers, rollsite and FATE Flow mount it)."""
    props = eggroll_properties(ctx.site.party_id, ctx.site.name, database(ctx),
                               ctx.section(ClusterManagerConfig).mysql_server_timezone,
                               ctx.section(NodeManagerConfig).session_processors_per_node)
    return {"eggroll.properties": properties(props, header="[eggroll]")}


def eggroll_config_checksum(ctx: Context) -> Optional[str]:
    """What a module mounting eggroll-config rolls on; None without a clustermanager (no eggroll-config)."""
    return config_checksum(EGGROLL_CONFIG_MAP, eggroll_config(ctx)) if ctx.enabled("clustermanager") else None


def rollsite_properties(party_id: int, coordinator: str) -> list[tuple[str, object]]:
    """The rollsite part of eggroll.properties (all an exchange rollsite needs)."""
    return [
        ("eggroll.rollsite.coordinator", coordinator),
        ("eggroll.rollsite.host", endpoints.ROLLSITE.name),
        ("eggroll.rollsite.port", endpoints.ROLLSITE.port("rollsite")),
        ("eggroll.rollsite.party.id", party_id),
        ("eggroll.rollsite.route.table.path", "conf/route_table/route_table.json"),
        ("eggroll.rollsite.route.table.key", ""),
        ("eggroll.rollsite.route.table.whitelist", "127.0.0.1"),
        ("eggroll.rollsite.jvm.options",
         "-XX:+UseG1GC -XX:+PrintGCDetails -XX:+PrintGCDateStamps -Xloggc:logs/eggroll/rollsite.gc.log"),
        ("eggroll.rollsite.push.max.retry", 3),
        ("eggroll.rollsite.push.long.retry", 2),
        ("eggroll.rollsite.push.batches.per.stream", 10),
        ("eggroll.rollsite.adapter.sendbuf.size", 100000),
    ]


def eggroll_properties(party_id: int, coordinator: str, mysql: Database, server_timezone: str,
                       session_processors_per_node: int) -> list[tuple[str, object]]:
    """eggroll.properties of a party, without the JDBC password (only the clustermanager gets that, from a Secret)."""
    jdbc_url = (f"jdbc:mysql://{mysql.host}:{mysql.port}/{mysql.name}?useSSL=false&serverTimezone={server_timezone}"
                "&characterEncoding=utf8&allowPublicKeyRetrieval=true")
    return [
        ("eggroll.resourcemanager.clustermanager.jdbc.driver.class.name", "com.mysql.cj.jdbc.Driver"),
        ("eggroll.resourcemanager.clustermanager.jdbc.url", jdbc_url),
        ("eggroll.resourcemanager.clustermanager.jdbc.username", mysql.user),
        ("eggroll.data.dir", "data/"),
        ("eggroll.logs.dir", "logs/"),
        ("eggroll.resourcemanager.clustermanager.host", endpoints.CLUSTERMANAGER.name),
        ("eggroll.resourcemanager.clustermanager.port", endpoints.CLUSTERMANAGER.port("clustermanager")),
        ("eggroll.resourcemanager.nodemanager.port", endpoints.NODEMANAGER.port("nodemanager")),
        ("eggroll.resourcemanager.process.tag", party_id),
        ("eggroll.bootstrap.root.script", "bin/eggroll_boot.sh"),
        ("eggroll.resourcemanager.bootstrap.egg_pair.exepath", "bin/roll_pair/egg_pair_bootstrap.sh"),
        ("eggroll.resourcemanager.bootstrap.egg_pair.venv", ""),
        ("eggroll.resourcemanager.bootstrap.egg_pair.pythonpath", "python"),
        ("eggroll.resourcemanager.bootstrap.egg_pair.filepath", "python/eggroll/roll_pair/egg_pair.py"),
        ("eggroll.resourcemanager.bootstrap.egg_pair.ld_library_path", ""),
        ("eggroll.resourcemanager.bootstrap.egg_frame.exepath", "bin/roll_pair/roll_pair_master_bootstrap.sh"),
        ("eggroll.resourcemanager.bootstrap.egg_frame.javahome", "/usr/lib/jvm/java-1.8.0-openjdk"),
        ("eggroll.resourcemanager.bootstrap.egg_frame.classpath", "conf/:lib/*"),
        ("eggroll.resourcemanager.bootstrap.egg_frame.mainclass", "com.webank.eggroll.rollframe.EggFrameBootstrap"),
        ("eggroll.resourcemanager.bootstrap.egg_frame.jvm.options", ""),
        ("eggroll.core.grpc.channel.keepalive.timeout.sec", 20),
        ("arrow.enable_unsafe_memory_access", True),
        ("hadoop.fs.defaultFS", "file:///"),
        ("hadoop.dfs.nameservices", ""),
        ("hadoop.dfs.namenode.rpc-address.nn1", ""),
        ("hadoop.dfs.namenode.rpc-address.nn2", ""),
        ("eggroll.session.processors.per.node", session_processors_per_node),
        ("eggroll.session.start.timeout.ms", 180000),
        ("eggroll.rollpair.transferpair.sendbuf.size", 250000),
        *rollsite_properties(party_id, coordinator),
        # deepspeed containers (FATE-LLM on eggroll)
        ("eggroll.resourcemanager.nodemanager.containers.data.dir", f"{EGGROLL_HOME}/containers"),
        ("eggroll.container.deepspeed.python.exec", "/data/projects/python/venv/bin/python"),
        ("eggroll.container.deepspeed.distributed.backend", "nccl"),
    ]


CERT_DIR = f"{EGGROLL_CONF}/cert"


def tls_properties() -> list[tuple[str, object]]:
    """rollsite's mutual TLS (eggroll 2.5.1): the TLS listener starts when crt.path and key.path are set, requires a
    client certificate with client.auth.enabled; the client.* keys let rollsite dial peers whose route is secure.
    Absolute paths: eggroll opens them relative to the JVM's working directory. `secure.cluster.enabled` is left out:
    rollsite overrides it per listener, and in clustermanager/nodemanager it would turn their servers to TLS."""
    return [
        ("eggroll.rollsite.secure.port", endpoints.ROLLSITE.port("rollsiteTls")),
        ("eggroll.core.security.secure.client.auth.enabled", True),
        ("eggroll.core.security.ca.crt.path", f"{CERT_DIR}/ca.pem"),
        ("eggroll.core.security.crt.path", f"{CERT_DIR}/server.crt"),
        ("eggroll.core.security.key.path", f"{CERT_DIR}/server.key"),
        ("eggroll.core.security.client.ca.crt.path", f"{CERT_DIR}/ca.pem"),
        ("eggroll.core.security.client.crt.path", f"{CERT_DIR}/client.crt"),
        ("eggroll.core.security.client.key.path", f"{CERT_DIR}/client.key"),
    ]


def start_script(parts: Sequence[str], java_args: str, use_tini: bool = False) -> list[str]:
    """bash command of an eggroll JVM: logs to stdout/stderr, eggroll.properties composed from `parts`
    (files mounted read-only, concatenated in order; later keys win in Java properties), then exec java."""
    logs = f"{EGGROLL_HOME}/logs/eggroll"
    lines = [
        "set -e",
        f"mkdir -p {logs}/",
        f"ln -sf /dev/stdout {logs}/eggroll-audit.log",
        f"ln -sf /dev/stdout {logs}/eggroll.jvm.log",
        f"ln -sf /dev/stderr {logs}/eggroll.jvm.err.log",
        f"cat {' '.join(parts)} > {EGGROLL_PROPERTIES}",
        ("exec /tini -- " if use_tini else "exec ")
        + "java -Dlog4j.configurationFile=${EGGROLL_HOME}/conf/log4j2.properties "
        + "-cp ${EGGROLL_HOME}/lib/*:${EGGROLL_HOME}/conf/ "
        + java_args,
    ]
    return ["bash", "-c", "\n".join(lines)]


def bootstrap_args(bootstrap_class: str, port: int) -> str:
    return (f"com.webank.eggroll.core.Bootstrap --bootstraps {bootstrap_class} "
            f"-c ${{EGGROLL_HOME}}/conf/eggroll.properties -p {port} -s 'EGGROLL_DEAMON'")


def config_map_volume(name: str, volume: str, items: Optional[Sequence[str]] = None) -> dict:
    v: dict = {"name": volume, "configMap": {"name": name}}
    if items:
        v["configMap"]["items"] = [{"key": k, "path": k} for k in items]
    return v
