"""The one table of FATE Service names and ports.

FATE's config files address each other by Kubernetes Service name (fateflow, rollsite, mysql ...), so these names
are fixed. Every port number is written here once; components build their Services and config files from it.
The `key` of a port is how a stack config names it (``service.nodePorts.<key>``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Optional

from .kube import ServicePort


@dataclass(frozen=True)
class Svc:
    name: str
    ports: tuple[ServicePort, ...]

    def port(self, key: str) -> int:
        for p in self.ports:
            if p.key == key:
                return p.port
        raise KeyError(f"{self.name} has no port {key!r}")

    def address(self, key: str) -> str:
        return f"{self.name}:{self.port(key)}"

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(p.key for p in self.ports)


def cluster_names(service: str, namespace: str) -> list[str]:
    """The DNS names a Service has for pods of other namespaces (what a peer in the same cluster dials)."""
    return [f"{service}.{namespace}", f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"]


def namespace_of(host: str, services: Optional[Collection[str]] = None) -> Optional[str]:
    """The namespace a host names when it is a Service of this cluster: `<FATE Service>.<ns>` (`services`: the
    names that count, by default this table's; components/registry.py SERVICE_NAMES adds every module's), or any
    `<svc>.<ns>.svc[.cluster.local]`; None for other hosts (an IP, `db.bank.example`)."""
    labels = host.lower().split(".")
    if len(labels) >= 3 and labels[2] == "svc" and labels[3:] in ([], ["cluster", "local"]):
        return labels[1]
    if len(labels) == 2 and labels[0] in (SERVICE_NAMES if services is None else services):
        return labels[1]
    return None


# eggroll
# 9370 plaintext (always served: FATE Flow's eggroll client never uses TLS); 9380 mutual TLS between parties, served
# only when rollsite has certificates (eggroll 2.5.1 EggSiteBootstrap: eggroll.rollsite.port / .secure.port)
ROLLSITE = Svc(
    "rollsite", (ServicePort("rollsite", "tcp-rollsite", 9370), ServicePort("rollsiteTls", "tcp-rollsite-tls", 9380))
)
# in-pod gRPC balancer over several exchanges (KubeFATE lbrollsite); only rollsite talks to it
ROLLSITE_EXCHANGE_LB = Svc("exchange", (ServicePort("grpc", "tcp-exchange", 9390),))
CLUSTERMANAGER = Svc("clustermanager", (ServicePort("clustermanager", "tcp-clustermanager", 4670),))
NODEMANAGER = Svc("nodemanager", (ServicePort("nodemanager", "tcp-nodemanager", 4671),))

# FATE Flow: a headless Service for the StatefulSet's pod DNS names, and a client Service users expose
_FATEFLOW_PORTS = (ServicePort("grpc", "tcp-grpc", 9360), ServicePort("http", "tcp-http", 9380))
FATEFLOW = Svc("fateflow", _FATEFLOW_PORTS)
FATEFLOW_CLIENT = Svc("fateflow-client", _FATEFLOW_PORTS)

FATEBOARD = Svc("fateboard", (ServicePort("http", "tcp-fateboard", 8080),))
NOTEBOOK = Svc("notebook", (ServicePort("http", "tcp-notebook", 20000),))
MYSQL = Svc("mysql", (ServicePort("mysql", "tcp-mysql", 3306),))

# Spark standalone
_SPARK_MASTER_PORTS = (
    ServicePort("webUi", "web-ui", 8080),
    ServicePort("master", "master", 7077),
    ServicePort("rest", "master-rest", 6066),
)
SPARK_MASTER = Svc("spark-master", _SPARK_MASTER_PORTS)
SPARK_CLIENT = Svc("spark-client", _SPARK_MASTER_PORTS)
SPARK_WORKER = Svc("spark-worker-1", (ServicePort("webUi", "tcp-spark", 8081),))

# HDFS
NAMENODE = Svc("namenode", (ServicePort("rpc", "tcp-9000", 9000), ServicePort("http", "tcp-9870", 9870)))
DATANODE = Svc("datanode", (ServicePort("rpc", "tcp-9000", 9000), ServicePort("http", "tcp-9864", 9864)))

# FATE-on-Spark control-plane proxy (OpenResty); 9302 is the image's health endpoint
NGINX = Svc("nginx", (ServicePort("http", "http", 9300), ServicePort("grpc", "grpc", 9310)))
NGINX_HEALTH_PORT = 9302

RABBITMQ = Svc(
    "rabbitmq", (ServicePort("amqp", "tcp-rabbitmq", 5672), ServicePort("management", "tcp-rabbitmq1", 15672))
)

PULSAR = Svc("pulsar", (
    ServicePort("broker", "http-port", 6650),  # KubeFATE's port names, kept for compatibility
    ServicePort("brokerTls", "https-port", 6651),
    ServicePort("web", "mng-port", 8080),
    ServicePort("webTls", "mngs-port", 8081),
))
PULSAR_PUBLIC_TLS = Svc("pulsar-public-tls", (ServicePort("brokerTls", "tls-port", 6651),))

TRAFFIC_SERVER = Svc("traffic-server", (ServicePort("tls", "tcp-443", 443),))
TRAFFIC_SERVER_HTTP_PORT = 8080

# FATE-Serving
SERVING_PROXY = Svc("serving-proxy", (
    ServicePort("http", "tcp-8059", 8059),
    ServicePort("inter", "tcp-8869", 8869),  # between parties
    ServicePort("intra", "tcp-8879", 8879),  # from serving-server
))
SERVING_SERVER = Svc("serving-server", (ServicePort("grpc", "tcp-8000", 8000),))
SERVING_REDIS = Svc("serving-redis", (ServicePort("redis", "tcp-redis", 6379),))
SERVING_ZOOKEEPER = Svc("serving-zookeeper", (
    ServicePort("client", "tcp-client", 2181),
    ServicePort("follower", "tcp-follower", 2888),
    ServicePort("election", "tcp-election", 3888),
))
SERVING_ZOOKEEPER_HEADLESS = Svc("serving-zookeeper-headless", SERVING_ZOOKEEPER.ports)
SERVING_ADMIN = Svc("serving-admin", (ServicePort("http", "serving-admin-http", 8350),))

SPARK_MASTER_URL = f"spark://{SPARK_MASTER.address('master')}"
NAMENODE_URL = f"hdfs://{NAMENODE.address('rpc')}"

# names a peer in another namespace may dial (the in-pod balancer `exchange` is no peer's address)
SERVICE_NAMES = frozenset(v.name for v in list(globals().values()) if isinstance(v, Svc)) - {ROLLSITE_EXCHANGE_LB.name}
