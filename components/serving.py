"""FATE-Serving: online inference of FATE models. One component per module: serving-proxy (the party's gateway),
serving-server (inference), serving-redis (cache), serving-zookeeper (registry), serving-admin (UI)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Optional

import pulumi
from pydantic import Field

from . import endpoints
from .context import Context
from .files import password_properties, properties, to_json
from .kube import REDIS_IMAGE, ZOOKEEPER_IMAGE, Module, Site, env, exec_probes, node_port_outputs, tcp_probes
from .outputs import OrOutput, lift
from .routing import Route, Sections
from .settings import Endpoint, ExposedModule, Host, IngressRoute, Model, ModuleBase, PartyRoute, Port, StorageSettings

# --------------------------------------------------------------------------------------------------------------
# Config section
# --------------------------------------------------------------------------------------------------------------


class ServingProxyConfig(ExposedModule):
    party_list: list[PartyRoute] = Field(default_factory=list)
    exchange: Optional[Endpoint] = None


class ServingRedisClient(Model):
    host: Host
    port: Port = 6379


class ServingServerConfig(ExposedModule):
    fateflow: Optional[Endpoint] = Field(
        default=None, description="FATE Flow HTTP endpoint of the party (model transfer); required")
    cache_type: Optional[Literal["local", "redis"]] = Field(
        default=None, description="Inference cache; default redis when servingRedis is deployed, else local")
    cache_switch: bool = Field(default=True, description="remoteModelInferenceResultCacheSwitch")
    single_adaptor: str = "com.webank.ai.fate.serving.adaptor.dataaccess.MockAdapter"
    batch_adaptor: str = "com.webank.ai.fate.serving.adaptor.dataaccess.MockBatchAdapter"
    adapter_url: str = "http://127.0.0.1:9380/v1/http/adapter/getFeature"
    redis: Optional[ServingRedisClient] = Field(default=None, description="External Redis instead of servingRedis")
    storage: StorageSettings = Field(default_factory=StorageSettings)


class ServingRedisConfig(ModuleBase):
    storage: StorageSettings = Field(default_factory=StorageSettings)


class ServingZookeeperConfig(ModuleBase):
    storage: StorageSettings = Field(default_factory=StorageSettings)


class ServingAdminConfig(ModuleBase):
    username: str = Field(default="admin", min_length=1)


SERVING_HOME = "/data/projects/fate-serving"
REDIS_PART = "redis.properties"
LOGIN_PART = "login.properties"
REDIS_CONF = "/usr/local/etc/redis/redis.conf"
REQUIREPASS_PART = "requirepass.conf"
ZK_URL = endpoints.SERVING_ZOOKEEPER.address("client")


class ServingModule(Module):
    def wait_for_registry(self, registry: bool) -> list[dict]:
        if not registry:
            return []
        return self.wait_for(
            "wait-zookeeper", endpoints.SERVING_ZOOKEEPER.name, endpoints.SERVING_ZOOKEEPER.port("client")
        )


# -------------------------------------------------------------------------------------------------- serving-proxy


def proxy_route_table(party_id: int, section: ServingProxyConfig) -> dict[str, Any]:
    """serving-proxy route_table.json. Without an exchange the default stays local (KubeFATE leaked an example
    exchange address); ports are numbers (KubeFATE wrote peers' ports as strings)."""
    inter = endpoints.SERVING_PROXY.port("inter")
    exchange = section.exchange
    default = (
        {"ip": exchange.host, "port": exchange.port}
        if exchange
        else {"ip": endpoints.SERVING_PROXY.name, "port": inter}
    )
    table: dict[str, Any] = {"default": {"default": [default]}}
    for peer in section.party_list:
        table[str(peer.party_id)] = {"default": [{"ip": peer.host, "port": peer.port}]}
    table[str(party_id)] = {
        "default": [{"ip": endpoints.SERVING_PROXY.name, "port": endpoints.SERVING_PROXY.port("http")}],
        "serving": [{"ip": endpoints.SERVING_SERVER.name, "port": endpoints.SERVING_SERVER.port("grpc")}],
    }
    return {"route_table": table, "permission": {"default_allow": True}}


@dataclass(frozen=True)
class ServingArgs:
    """What a FATE-Serving module takes besides its section."""

    image: str
    registry: bool = True  # serving-zookeeper is deployed: wait for it at start
    ingress: IngressRoute = IngressRoute()


class ServingProxy(ServingModule):
    """Deployment and Service `serving-proxy` (8059 http, 8869 between parties, 8879 from serving-server),
    ConfigMap `serving-proxy-config`, Ingress `serving-proxy`."""

    TYPE = "fate:serving:ServingProxy"
    APP = "serving-proxy"
    COMPONENT = "serving-gateway"
    PEER_FACING = True
    CONFIG_MAP = "serving-proxy-config"

    def __init__(self, name: str, site: Site, section: ServingProxyConfig, args: ServingArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        p = endpoints.SERVING_PROXY
        self.route_table = proxy_route_table(site.party_id, section)
        self.config_map(self.CONFIG_MAP, {
            "application.properties": properties([
                ("coordinator", site.party_id),
                ("server.port", p.port("http")),
                ("zk.url", ZK_URL),
                ("useZkRouter", True),
                ("proxy.grpc.intra.port", p.port("intra")),
                ("proxy.grpc.inter.port", p.port("inter")),
            ]),
            "route_table.json": to_json(self.route_table),
        })
        conf = f"{SERVING_HOME}/serving-proxy/conf"
        container = self.container(
            "serving-proxy",
            args.image,
            section,
            {"requests": {"cpu": "250m", "memory": "512Mi"}},
            command=[
                "/bin/sh",
                "-c",
                # the proxy rewrites its route table at run time: give it a writable copy
                f"cp {conf}/route_table.base.json {conf}/route_table.json && chmod 644 {conf}/route_table.json && "
                "exec java -Dspring.config.location=conf/application.properties -cp conf/:lib/*:fate-serving-proxy.jar "
                "com.webank.ai.fate.serving.proxy.bootstrap.Bootstrap -c conf/application.properties",
            ],
            ports=[{"name": f"port-{q.port}", "containerPort": q.port} for q in p.ports],
            volumeMounts=[
                {
                    "name": "serving-proxy-confs",
                    "mountPath": f"{conf}/application.properties",
                    "subPath": "application.properties",
                },
                {
                    "name": "serving-proxy-confs",
                    "mountPath": f"{conf}/route_table.base.json",
                    "subPath": "route_table.json",
                },
            ],
            **tcp_probes(p.port("http")),
        )
        # serving modules register in ZooKeeper at start
        pod = self.pod_spec(
            [container],
            section,
            [{"name": "serving-proxy-confs", "configMap": {"name": self.CONFIG_MAP}}],
            init_containers=self.wait_for_registry(args.registry),
        )
        self.service_obj = self.service(p.name, p.ports, section.service)
        self.deployment("serving-proxy", 1, pod)
        self.ingress("serving-proxy", args.ingress, p.name, p.port("http"))
        self.node_ports = node_port_outputs(self.service_obj)
        self.done({"endpoint": p.address("inter"), "nodePorts": self.node_ports})


# -------------------------------------------------------------------------------------------------- serving-server


def server_properties(section: ServingServerConfig, cache_type: str) -> list[tuple[str, Any]]:
    """serving-server.properties without the Redis password (that part comes from the Secret). FATE-Serving reads
    the file once, with java.util.Properties, from the classpath's conf/ (Bootstrap.parseConfig, v2.1.6); nothing
    reads the environment. `party.id` is left out: no code of 2.1.6 reads it."""
    fateflow = section.fateflow
    if fateflow is None:
        raise ValueError("servingServer.fateflow is required")  # the config checks say so first
    return [
        ("port", endpoints.SERVING_SERVER.port("grpc")),
        # KubeFATE wrote the cache type here (a bug); this is the switch of the remote inference result cache
        ("remoteModelInferenceResultCacheSwitch", section.cache_switch),
        ("cache.type", cache_type),
        ("model.cache.path", f"{SERVING_HOME}/serving-server"),
        ("redis.ip", section.redis.host if section.redis else endpoints.SERVING_REDIS.name),
        ("redis.port", section.redis.port if section.redis else endpoints.SERVING_REDIS.port("redis")),
        ("proxy", endpoints.SERVING_PROXY.address("intra")),
        ("feature.single.adaptor", section.single_adaptor),
        ("feature.batch.adaptor", section.batch_adaptor),
        ("http.adapter.url", section.adapter_url),
        ("model.transfer.url", f"http://{fateflow.host}:{fateflow.port}/v1/model/transfer"),
        ("zk.url", ZK_URL),
        ("useRegister", True),
        ("useZkRouter", True),
    ]


class ServingServer(ServingModule):
    """Deployment and Service `serving-server` (8000), ConfigMap `serving-server-config`, Secret
    `serving-server-secret`, PVC `serving-server-data`."""

    TYPE = "fate:serving:ServingServer"
    APP = "serving-server"
    COMPONENT = "serving"
    PEER_FACING = True
    CONFIG_MAP = "serving-server-config"
    SECRET = "serving-server-secret"

    def __init__(self, name: str, site: Site, section: ServingServerConfig, args: ServingArgs,
                 redis_password: OrOutput[str], cache_type: str = "local",
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        self.properties = server_properties(section, cache_type)
        self.config_map(self.CONFIG_MAP, {"serving-server.properties": properties(self.properties)})
        self.secret(self.SECRET, {REDIS_PART: password_properties("redis.password", redis_password)})
        conf = self.assembled_file(
            "serving-server-conf",
            f"{SERVING_HOME}/serving-server/conf/serving-server.properties",
            [("configMap", self.CONFIG_MAP, "serving-server.properties"), ("secret", self.SECRET, REDIS_PART)],
        )
        data = _standalone_volume(self, "serving-server-data", section.storage)
        port = endpoints.SERVING_SERVER.port("grpc")
        container = self.container(
            "serving-server", args.image, section, {"requests": {"cpu": "500m", "memory": "1Gi"}},
            ports=[{"name": "grpc", "containerPort": port}],  # KubeFATE declared 9394
            volumeMounts=[
                conf.mount,
                {"name": "data", "mountPath": "/root/.fate", "subPath": "cache"},
                {"name": "data", "mountPath": f"{SERVING_HOME}/serving-server/.fate", "subPath": "model_cache"},
            ],
            **tcp_probes(port),
        )
        pod = self.pod_spec([container], section, [*conf.volumes, data],
                            init_containers=[conf.init_container, *self.wait_for_registry(args.registry)])
        self.service_obj = self.service(endpoints.SERVING_SERVER.name, endpoints.SERVING_SERVER.ports, section.service)
        self.deployment("serving-server", 1, pod)
        self.node_ports = node_port_outputs(self.service_obj)
        self.done({"endpoint": endpoints.SERVING_SERVER.address("grpc"), "nodePorts": self.node_ports})


def _standalone_volume(module: Module, claim_name: str, volume: StorageSettings) -> dict[str, Any]:
    """The `data` volume of a serving Deployment: emptyDir, an existing claim, or a PVC of its own."""
    if not module.site.persistence:
        return {"name": "data", "emptyDir": {}}
    if volume.existing_claim:
        return {"name": "data", "persistentVolumeClaim": {"claimName": volume.existing_claim}}
    module.claim(claim_name, volume)
    return {"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}


# -------------------------------------------------------------------------------------------------- serving-redis


class ServingRedis(Module):
    """Deployment and Service `serving-redis` (6379), ConfigMap `serving-redis-config`, Secret
    `serving-redis-secret`, PVC `serving-redis-data`."""

    TYPE = "fate:serving:ServingRedis"
    APP = "serving-redis"
    COMPONENT = "cache"
    CONFIG_MAP = "serving-redis-config"
    SECRET = "serving-redis-secret"

    def __init__(self, name: str, site: Site, section: ServingRedisConfig, password: OrOutput[str],
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        # `dir /data`: the image's WORKDIR, where redis writes its dump (KubeFATE mounted the volume at
        # /var/lib/redis, which redis never writes to)
        self.config_map(
            self.CONFIG_MAP, {"redis.conf": "bind 0.0.0.0\ndatabases 50\nalways-show-logo yes\ndir /data\n"}
        )
        # the password is a directive of the config file redis reads, not a command-line argument
        requirepass = lift(lambda value: f"requirepass {redis_quote(value)}\n", password)
        self.secret(self.SECRET, {REQUIREPASS_PART: requirepass})
        conf = self.assembled_file("serving-redis-conf", REDIS_CONF, [("configMap", self.CONFIG_MAP, "redis.conf"),
                                                                      ("secret", self.SECRET, REQUIREPASS_PART)])
        data = _standalone_volume(self, "serving-redis-data", section.storage)
        port = endpoints.SERVING_REDIS.port("redis")
        container = self.container(
            "serving-redis",
            site.images.third_party(REDIS_IMAGE),
            section,
            {"requests": {"cpu": "100m", "memory": "256Mi"}},
            command=["redis-server"],
            args=[REDIS_CONF],
            ports=[{"name": "redis", "containerPort": port}],
            volumeMounts=[conf.mount, {"name": "data", "mountPath": "/data", "subPath": section.storage.path("redis")}],
            **tcp_probes(port),
        )
        pod = self.pod_spec([container], section, [*conf.volumes, data], init_containers=[conf.init_container])
        self.service(endpoints.SERVING_REDIS.name, endpoints.SERVING_REDIS.ports)
        self.deployment("serving-redis", 1, pod)
        self.done({"endpoint": endpoints.SERVING_REDIS.address("redis")})


def redis_quote(value: str) -> str:
    """A value as redis.conf reads it (sdssplitargs): double-quoted, backslash escapes, other bytes as \\xHH."""
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.extend(f"\\x{b:02x}" for b in ch.encode())
    return '"' + "".join(out) + '"'


# -------------------------------------------------------------------------------------------------- serving-zookeeper


class ServingZookeeper(Module):
    """StatefulSet `serving-zookeeper`, Services `serving-zookeeper` and `serving-zookeeper-headless` (2181/2888/3888);
    PVC `data-serving-zookeeper-0`. (KubeFATE named a headless Service it never created and hard-coded namespace
    default.)"""

    TYPE = "fate:serving:ServingZookeeper"
    APP = "serving-zookeeper"
    COMPONENT = "registry"
    PEER_FACING = True

    def __init__(
        self, name: str, site: Site, section: ServingZookeeperConfig, opts: Optional[pulumi.ResourceOptions] = None
    ):
        super().__init__(name, site, opts)
        z = endpoints.SERVING_ZOOKEEPER
        headless = endpoints.SERVING_ZOOKEEPER_HEADLESS.name
        server = (f"{z.name}-0.{headless}.{site.namespace}.svc.cluster.local:"
                  f"{z.port('follower')}:{z.port('election')}::1")
        data_volume, claim = self.data_volume("data", section.storage)
        script = "\n".join([
            # ZOO_SERVER_ID from the volume's myid, else from the pod ordinal
            'if [[ -f "/bitnami/zookeeper/data/myid" ]]; then',
            '  export ZOO_SERVER_ID="$(cat /bitnami/zookeeper/data/myid)"',
            "else",
            "  HOSTNAME=$(hostname -s)",
            '  if [[ $HOSTNAME =~ (.*)-([0-9]+)$ ]]; then export ZOO_SERVER_ID=$((BASH_REMATCH[2] + 1)); '
            'else echo "cannot derive an id from $HOSTNAME"; exit 1; fi',
            "fi",
            "exec /entrypoint.sh /run.sh",
        ])
        zoo_env = {
            "ZOO_DATA_LOG_DIR": "", "ZOO_PORT_NUMBER": z.port("client"), "ZOO_TICK_TIME": 2000, "ZOO_INIT_LIMIT": 10,
            "ZOO_SYNC_LIMIT": 5, "ZOO_MAX_CLIENT_CNXNS": 60, "ZOO_4LW_COMMANDS_WHITELIST": "srvr, mntr, ruok",
            "ZOO_LISTEN_ALLIPS_ENABLED": "no", "ZOO_AUTOPURGE_INTERVAL": 0, "ZOO_AUTOPURGE_RETAIN_COUNT": 3,
            "ZOO_MAX_SESSION_TIMEOUT": 40000, "ZOO_SERVERS": server, "ZOO_ENABLE_AUTH": "no", "ZOO_HEAP_SIZE": 1024,
            "ZOO_LOG_LEVEL": "ERROR", "ALLOW_ANONYMOUS_LOGIN": "yes",
        }
        container = self.container(
            "zookeeper",
            site.images.third_party(ZOOKEEPER_IMAGE),
            section,
            {"requests": {"cpu": "250m", "memory": "256Mi"}},
            command=["bash", "-ec", script],
            securityContext={"runAsUser": 1001},
            env=[env(k, v) for k, v in zoo_env.items()]
            + [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
            ports=[{"name": p.key, "containerPort": p.port} for p in z.ports],
            volumeMounts=[{"name": "data", "mountPath": "/bitnami/zookeeper"}],
            **exec_probes(
                ["/bin/bash", "-c", f'echo "ruok" | timeout 2 nc -w 2 localhost {z.port("client")} | grep imok'],
                liveness_delay=30,
                readiness_delay=5,
                timeout=5,
                failure_threshold=6,
            ),
        )
        pod = self.pod_spec([container], section, [data_volume] if data_volume else [],
                            securityContext={"fsGroup": 1001})
        self.service(z.name, z.ports)
        self.service(headless, z.ports, headless=True)
        self.stateful_set("serving-zookeeper", headless, 1, pod, claim_templates=[claim] if claim else [],
                          podManagementPolicy="Parallel", updateStrategy={"type": "RollingUpdate"})
        self.done({"endpoint": ZK_URL})


# -------------------------------------------------------------------------------------------------- serving-admin


class ServingAdmin(ServingModule):
    """Deployment and Service `serving-admin` (8350), ConfigMap `serving-admin-config`, Secret `serving-admin-secret`,
    Ingress `serving-admin`."""

    TYPE = "fate:serving:ServingAdmin"
    APP = "serving-admin"
    COMPONENT = "ui"
    CONFIG_MAP = "serving-admin-config"
    SECRET = "serving-admin-secret"

    def __init__(self, name: str, site: Site, section: ServingAdminConfig, args: ServingArgs, password: OrOutput[str],
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        port = endpoints.SERVING_ADMIN.port("http")
        self.config_map(self.CONFIG_MAP, {"application.properties": properties([
            ("server.port", port),
            ("zk.url", ZK_URL),
            ("admin.username", section.username),
            ("spring.mvc.pathmatch.matching-strategy", "ANT_PATH_MATCHER"),
        ])})
        # LoginController binds ${admin.password} from Spring's environment, which holds this file
        # (-Dspring.config.location=conf/application.properties in the image's CMD); one mechanism for every password
        self.secret(self.SECRET, {LOGIN_PART: password_properties("admin.password", password)})
        conf = self.assembled_file("serving-admin-conf", f"{SERVING_HOME}/serving-admin/conf/application.properties",
                                   [("configMap", self.CONFIG_MAP, "application.properties"),
                                    ("secret", self.SECRET, LOGIN_PART)])
        container = self.container(
            "serving-admin", args.image, section, {"requests": {"cpu": "250m", "memory": "512Mi"}},
            ports=[{"name": "http", "containerPort": port}],
            volumeMounts=[conf.mount],
            **tcp_probes(port),
        )
        pod = self.pod_spec([container], section, conf.volumes,
                            init_containers=[conf.init_container, *self.wait_for_registry(args.registry)])
        self.service(endpoints.SERVING_ADMIN.name, endpoints.SERVING_ADMIN.ports)
        self.deployment("serving-admin", 1, pod)
        self.ingress("serving-admin", args.ingress, endpoints.SERVING_ADMIN.name, port)
        self.done({"endpoint": endpoints.SERVING_ADMIN.address("http")})


def _args(ctx: Context, image: str, ui: Optional[str] = None) -> ServingArgs:
    """`ui`: the module whose web UI gets the Ingress hosts of `fate:ingress.<ui>`."""
    return ServingArgs(ctx.site.images.fate(image), registry=ctx.enabled("servingZookeeper"),
                       ingress=ctx.ingress(ui) if ui else IngressRoute())


def proxy_routes(of: Sections) -> list[Route]:
    """serving-proxy's peers and its exchange."""
    proxy = of.section(ServingProxyConfig)
    return [Route(p.host, p.port, str(p.party_id)) for p in proxy.party_list] + (
        [Route(proxy.exchange.host, proxy.exchange.port, "exchange")] if proxy.exchange else [])


def server_routes(of: Sections) -> list[Route]:
    """The party's FATE Flow serving-server fetches models from."""
    flow = of.section(ServingServerConfig).fateflow
    return [Route(flow.host, flow.port, "fateflow")] if flow else []


def build_proxy(ctx: Context) -> ServingProxy:
    return ServingProxy(
        "serving-proxy",
        ctx.site,
        ctx.section(ServingProxyConfig),
        _args(ctx, "serving-proxy", ui="servingProxy"),
        ctx.opts,
    )


def build_server(ctx: Context) -> ServingServer:
    section = ctx.section(ServingServerConfig)
    cache_type = section.cache_type or ("redis" if ctx.enabled("servingRedis") or section.redis else "local")
    return ServingServer("serving-server", ctx.site, section, _args(ctx, "serving-server"),
                         ctx.secret("servingRedisPassword"), cache_type, ctx.opts)


def build_redis(ctx: Context) -> ServingRedis:
    return ServingRedis("serving-redis", ctx.site, ctx.section(ServingRedisConfig), ctx.secret("servingRedisPassword"),
                        ctx.opts)


def build_zookeeper(ctx: Context) -> ServingZookeeper:
    return ServingZookeeper("serving-zookeeper", ctx.site, ctx.section(ServingZookeeperConfig), ctx.opts)


def build_admin(ctx: Context) -> ServingAdmin:
    return ServingAdmin(
        "serving-admin",
        ctx.site,
        ctx.section(ServingAdminConfig),
        _args(ctx, "serving-admin", ui="servingAdmin"),
        ctx.secret("servingAdminPassword"),
        ctx.opts,
    )
