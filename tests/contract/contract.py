"""The config contract as data: for every container fate-pulumi runs, the image facts its start depends on, the
program its command ends in, and each file and environment variable that program reads — with the key it must
find and the configured value that must be there. docs/config-contract.md is the same contract in prose, with the
source line of every reader; tests/contract/test_start.py runs each entry.

Expected values are computed from the stack's *configuration* (the values and passwords a test renders with),
never read back from the render.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from components.fatejob import RUNNER
from components.settings import _is_ip
from stacks.config import DeploymentConfig


class _Marker:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


PRESENT = _Marker("<any value>")  # the key must be there, any value
ABSENT = _Marker("<absent>")  # the key must not be there
POD_IP = "10.244.7.9"  # the pod address the sandbox hands to status.podIP


class Prefix(str):
    """The value must start with this."""


@dataclass(frozen=True)
class Stack:
    """What a test rendered: the validated config and the passwords it set."""

    cfg: DeploymentConfig
    passwords: dict[str, str]

    def secret(self, key: str) -> str:
        return self.passwords[key]


@dataclass(frozen=True)
class Image:
    """Facts of an image from its Dockerfile (docs/config-contract.md cites each)."""

    name: str
    workdir: str = "/"
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    dirs: tuple[str, ...] = ()  # directories the image has (the sandbox creates them, writable)
    files: dict[str, str] = field(default_factory=dict)  # image files a start command edits: the line it edits


Expect = Callable[[Stack], dict[str, Any]]


def _always(_s: Stack) -> bool:
    return True


@dataclass(frozen=True)
class Read:
    """A file the program opens. `path` is absolute or relative to the program's working directory; `path_key`
    instead names (file, key) whose value is the path, as when eggroll.properties names the route table."""

    path: str
    format: str  # properties | yaml | json | text | lines
    expect: Expect
    when: Callable[[Stack], bool] = _always
    writable: bool = False
    relative_to: Optional[str] = None  # another base than the working directory: a path, or $VAR of the program's env


@dataclass(frozen=True)
class Entry:
    image: Image
    program: tuple[str, ...] = ()  # what the command finally starts: stubbed (a name on PATH or a path)
    reads: tuple[Read, ...] = ()
    env: Expect = lambda s: {}  # environment the program reads -> value
    check: Optional[Callable[[Stack, Any], None]] = None  # assertions on the run (arguments of the program ...)
    capture: tuple[str, ...] = ()  # directories copied out after the start
    resolves: Optional[Callable[[Stack], dict[str, str]]] = None  # names the pod's DNS answers; None: the host's
    waits: bool = False  # only waits for another Service (never reaches a program that reads config)


# ------------------------------------------------------------------------------------------------------ images

FATE = "/data/projects/fate"
EGGROLL = Image("federatedai/eggroll", workdir=f"{FATE}/eggroll", entrypoint=("/tini",),
                env={"EGGROLL_HOME": f"{FATE}/eggroll"}, dirs=(f"{FATE}/eggroll/conf", f"{FATE}/eggroll/logs"))
FATEFLOW = Image(
    "federatedai/fateflow",
    workdir=FATE,
    cmd=("/bin/bash", "-c", "sleep 5 && python fateflow/python/fate_flow/fate_flow_server.py"),
    env={"FATE_PROJECT_BASE": FATE, "EGGROLL_HOME": f"{FATE}/eggroll"},
    dirs=(f"{FATE}/conf", f"{FATE}/fateflow", f"{FATE}/eggroll/conf", "/data/projects/spark-3.1.3-bin-hadoop3.2/conf"),
)
FATEBOARD = Image("federatedai/fateboard", workdir=f"{FATE}/fateboard", cmd=(
    "/bin/sh", "-c", f"java -Dspring.config.location={FATE}/fateboard/conf/application.properties "
                     f"-Dssh_config_file={FATE}/fateboard/conf -Xmx2048m -Xms2048m -jar fateboard.jar"),
    dirs=(f"{FATE}/fateboard/conf",))
CLIENT = Image("federatedai/client", workdir=FATE, env={"FATE_FLOW_IP": "fateflow", "FATE_FLOW_PORT": "9380"},
               dirs=(f"{FATE}/fate/python/fate_client",))
NGINX_PREFIX = f"{FATE}/proxy/nginx"
# FATE v1.11.2 c/proxy/lua/route_table.lua: the route table is ngx.config.prefix().."conf/route_table.yaml"
NGINX = Image("federatedai/nginx", workdir=f"{FATE}/proxy", cmd=("openresty", "-g", "daemon off;"),
              dirs=(f"{NGINX_PREFIX}/conf",),
              files={f"{NGINX_PREFIX}/lua/route_table.lua":
                     'local route_table_path = ngx.config.prefix() .. "conf/route_table.yaml"\n'})
SPARK_MASTER = Image("federatedai/spark-master", cmd=("/bin/bash", "/master.sh"))
SPARK_WORKER = Image("federatedai/spark-worker", cmd=("/bin/bash", "/worker.sh"), dirs=(f"{FATE}/conf",))
HADOOP = Image("federatedai/hadoop", entrypoint=("/entrypoint.sh",), cmd=("/run.sh",), dirs=("/etc/hadoop",))
PULSAR = Image("federatedai/pulsar", workdir="/pulsar", dirs=("/pulsar/conf", "/pulsar/data"))
RABBITMQ = Image("federatedai/rabbitmq", entrypoint=("docker-entrypoint.sh",), cmd=("rabbitmq-server",),
                 dirs=("/etc/rabbitmq", "/var/lib/rabbitmq"))
MYSQL = Image("mysql", entrypoint=("docker-entrypoint.sh",), cmd=("mysqld",), dirs=("/var/lib/mysql",))
BUSYBOX = Image("busybox")
TRAFFIC_SERVER = Image("federatedai/trafficserver", dirs=("/opt/trafficserver/etc/trafficserver", "/opt/proxy"))
NGINX_UPSTREAM = Image("nginx", entrypoint=("/docker-entrypoint.sh",), cmd=("nginx", "-g", "daemon off;"),
                       dirs=("/etc/nginx",))
FLUENT_BIT = Image("fluent/fluent-bit", cmd=("/fluent-bit/bin/fluent-bit", "-c", "/fluent-bit/etc/fluent-bit.conf"),
                   dirs=("/fluent-bit/etc",))
SERVING = "/data/projects/fate-serving"
SERVING_SERVER = Image("federatedai/serving-server", workdir=f"{SERVING}/serving-server", cmd=(
    "/bin/sh", "-c", "java -cp conf/:lib/*:extension/*:fate-serving-server.jar com.webank.ai.fate.serving.Bootstrap "
                     "-c conf/serving-server.properties"), dirs=(f"{SERVING}/serving-server/conf",))
SERVING_PROXY = Image(
    "federatedai/serving-proxy", workdir=f"{SERVING}/serving-proxy", dirs=(f"{SERVING}/serving-proxy/conf",)
)
SERVING_ADMIN = Image(
    "federatedai/serving-admin",
    workdir=f"{SERVING}/serving-admin",
    cmd=(
        "/bin/sh",
        "-c",
        'java -Dspring.config.location=conf/application.properties -cp "conf/:lib/*:fate-serving-admin.jar" '
        "com.webank.ai.fate.serving.admin.Bootstrap",
    ),
    dirs=(f"{SERVING}/serving-admin/conf",),
)
REDIS = Image("redis", workdir="/data", entrypoint=("docker-entrypoint.sh",), cmd=("redis-server",), dirs=("/data",))
ZOOKEEPER = Image("bitnami/zookeeper", entrypoint=("/opt/bitnami/scripts/zookeeper/entrypoint.sh",),
                  cmd=("/opt/bitnami/scripts/zookeeper/run.sh",), dirs=("/bitnami/zookeeper",))


# ------------------------------------------------------------------------------------------------------ helpers

def _db(s: Stack) -> tuple[str, int]:
    ext = s.cfg.mysql.external
    return (ext.host, ext.port or 3306) if ext else ("mysql", 3306)


def _rollsite_routes(s: Stack) -> dict[str, Any]:
    """route_table.json as eggroll's Router reads it: route_table.<party>.<role>[0].{ip, port, is_secure}."""
    rs = s.cfg.rollsite
    out: dict[str, Any] = {f"route_table.{s.cfg.party_id}.default.0.ip": "rollsite",
                           f"route_table.{s.cfg.party_id}.default.0.port": 9370,
                           f"route_table.{s.cfg.party_id}.default.0.is_secure": ABSENT}
    for peer in rs.party_list:
        out[f"route_table.{peer.party_id}.default.0.ip"] = peer.host
        out[f"route_table.{peer.party_id}.default.0.port"] = peer.port
        out[f"route_table.{peer.party_id}.default.0.is_secure"] = True if peer.secure else ABSENT
    if rs.exchange is not None:
        out["route_table.default.default.0.ip"] = rs.exchange.host
        out["route_table.default.default.0.port"] = rs.exchange.port
        out["route_table.default.default.0.is_secure"] = True if rs.exchange.secure else ABSENT
    elif rs.exchange_list:
        out["route_table.default.default.0.ip"] = "exchange"
    if rs.polling.enabled and rs.polling.type == "server":
        for client in rs.polling.client_list:
            out[f"route_table.{client}.default.0.is_polling"] = True
    return out


def _tls(s: Stack) -> bool:
    return s.cfg.rollsite.tls.enabled


def _issued(s: Stack) -> bool:
    """Certificates the stack issues (otherwise the user's own Secret, not in the render)."""
    return s.cfg.tls.generate


CERTS = f"{FATE}/eggroll/conf/cert"


def _rollsite_properties(s: Stack) -> dict[str, Any]:
    out: dict[str, Any] = {
        "eggroll.rollsite.party.id": s.cfg.party_id, "eggroll.rollsite.port": 9370,
        "eggroll.rollsite.host": "rollsite", "eggroll.rollsite.route.table.path": "conf/route_table/route_table.json",
        # rollsite overrides it per listener; in the shared file it would turn clustermanager and nodemanager to TLS
        "eggroll.core.security.secure.cluster.enabled": ABSENT,
    }
    tls = {
        "eggroll.rollsite.secure.port": 9380,
        "eggroll.core.security.secure.client.auth.enabled": "true",
        "eggroll.core.security.crt.path": f"{CERTS}/server.crt",
        "eggroll.core.security.key.path": f"{CERTS}/server.key",
        "eggroll.core.security.ca.crt.path": f"{CERTS}/ca.pem",
        "eggroll.core.security.client.ca.crt.path": f"{CERTS}/ca.pem",
        "eggroll.core.security.client.crt.path": f"{CERTS}/client.crt",
        "eggroll.core.security.client.key.path": f"{CERTS}/client.key",
    }
    out.update(tls if _tls(s) else dict.fromkeys(tls, ABSENT))
    polling = s.cfg.rollsite.polling
    out["eggroll.rollsite.polling.client.enabled"] = "true" if polling.enabled and polling.type == "client" else ABSENT
    out["eggroll.rollsite.polling.server.enabled"] = "true" if polling.enabled and polling.type == "server" else ABSENT
    return out


def _eggroll_properties(s: Stack, jdbc_password: bool) -> dict[str, Any]:
    host, port = _db(s)
    return {
        "eggroll.resourcemanager.clustermanager.jdbc.url": Prefix(f"jdbc:mysql://{host}:{port}/{s.cfg.mysql.database}?"),
        "eggroll.resourcemanager.clustermanager.jdbc.username": s.cfg.mysql.user,
        "eggroll.resourcemanager.clustermanager.jdbc.password": s.secret("mysqlPassword") if jdbc_password else ABSENT,
        "eggroll.resourcemanager.clustermanager.host": "clustermanager",
        "eggroll.resourcemanager.clustermanager.port": 4670, "eggroll.resourcemanager.nodemanager.port": 4671,
        "eggroll.resourcemanager.process.tag": s.cfg.party_id,
        "eggroll.core.security.secure.cluster.enabled": ABSENT,
    }


def _service_conf(s: Stack) -> dict[str, Any]:
    """$FATE_PROJECT_BASE/conf/service_conf.yaml as fate_arch's conf_utils reads it."""
    computing, federation, storage = s.cfg.engines
    host, port = _db(s)
    out: dict[str, Any] = {
        "party_id": s.cfg.party_id,
        "fateflow.host": POD_IP,
        "fateflow.http_port": 9380,
        "fateflow.grpc_port": 9360,
        "fateflow.proxy": "rollsite" if computing == "Eggroll" else "nginx",
        "database.name": s.cfg.mysql.database,
        "database.user": s.cfg.mysql.user,
        "database.passwd": s.secret("mysqlPassword"),
        "database.host": host,
        "database.port": port,
        "default_engines.computing": "spark" if computing == "Spark_local" else computing.lower(),
        "default_engines.federation": federation.lower(),
        "default_engines.storage": storage.lower(),
        "fate_on_eggroll.rollsite.host": "rollsite",
        "fate_on_eggroll.rollsite.port": 9370,
    }
    if federation == "RabbitMQ":
        out.update({"fate_on_spark.rabbitmq.user": s.cfg.rabbitmq.user,
                    "fate_on_spark.rabbitmq.password": s.secret("rabbitmqPassword")})
    if s.cfg.python.hive is not None:
        out["fate_on_spark.hive.password"] = s.secret("hivePassword")
    zk = s.cfg.serving.zookeeper
    if zk is not None:
        out["zookeeper.hosts"] = list(zk.hosts)
        out["zookeeper.password"] = s.secret("zookeeperPassword") if zk.use_acl else None
    if s.cfg.serving.host:
        out["servings.hosts"] = [f"{s.cfg.serving.host}:{s.cfg.serving.port}"]
    return out


def _pulsar_routes(s: Stack) -> dict[str, Any]:
    out: dict[str, Any] = {
        f"{s.cfg.party_id}.host": "pulsar",
        f"{s.cfg.party_id}.port": 6650,
        f"{s.cfg.party_id}.sslPort": 6651,
    }
    for pid, r in s.cfg.pulsar.route_table.items():
        out.update({f"{pid}.host": r.host, f"{pid}.port": r.port, f"{pid}.sslPort": r.ssl_port})
    if s.cfg.pulsar.exchange is not None:
        ex = s.cfg.pulsar.exchange
        out.update({"default.proxy": f"{ex.host}:{ex.port}", "default.domain": ex.domain})
    return out


def _rabbitmq_routes(s: Stack) -> dict[str, Any]:
    out: dict[str, Any] = {f"{s.cfg.party_id}.host": "rabbitmq", f"{s.cfg.party_id}.port": 5672}
    for pid, r in s.cfg.rabbitmq.route_table.items():
        out.update({f"{pid}.host": r.host, f"{pid}.port": r.port})
    return out


# The addresses the nginx pod's DNS gives (the sandbox's /etc/hosts): its own Services, then every peer name of the
# configuration — except names under .invalid (RFC 6761), which resolve nowhere: their routes must keep the name.
NGINX_SERVICE_IPS = {"nginx": "127.0.40.1", "fateflow": "127.0.40.2"}


def _nginx_hosts(s: Stack) -> list[str]:
    """Every peer host of the stack's nginx section, as configured."""
    hops = [h for route in s.cfg.nginx.route_table.values() for h in (*route.proxy, *route.fateflow)]
    exchange = s.cfg.nginx.exchange if s.cfg.kind == "party" else None
    return [h.host for h in ([exchange] if exchange else []) + hops]


def nginx_dns(s: Stack) -> dict[str, str]:
    names = sorted({h for h in _nginx_hosts(s) if not _is_ip(h) and not h.endswith(".invalid")})
    return {**NGINX_SERVICE_IPS, **{name: f"127.0.41.{i + 1}" for i, name in enumerate(names)}}


def _nginx_unresolvable(s: Stack) -> list[str]:
    return sorted({h for h in _nginx_hosts(s) if h.endswith(".invalid")})


def _resolved(s: Stack, host: str) -> str:
    """What the route table FATE's Lua reads holds for a configured host: ngx.balancer.set_current_peer takes
    addresses only (docs/config-contract.md, federatedai/nginx), so a name is there as its address."""
    return host if _is_ip(host) else nginx_dns(s).get(host, host)


def _nginx_routes(s: Stack) -> dict[str, Any]:
    """route_table.yaml as FATE's lua/route_table.lua reads it: <party>.<proxy|fateflow>[0].{host, http_port,
    grpc_port}, every host an address where its name resolves."""
    out: dict[str, Any] = {}
    if s.cfg.kind == "party":
        out.update({f"{s.cfg.party_id}.proxy.0.host": NGINX_SERVICE_IPS["nginx"],
                    f"{s.cfg.party_id}.fateflow.0.host": NGINX_SERVICE_IPS["fateflow"],
                    f"{s.cfg.party_id}.fateflow.0.http_port": 9380, f"{s.cfg.party_id}.fateflow.0.grpc_port": 9360})
    else:
        out.update({f"{s.cfg.party_id}.proxy.0.host": NGINX_SERVICE_IPS["nginx"],
                    "default.proxy.0.host": NGINX_SERVICE_IPS["nginx"]})
    for pid, route in s.cfg.nginx.route_table.items():
        for role in ("proxy", "fateflow"):
            for i, h in enumerate(getattr(route, role)):
                out.update({f"{pid}.{role}.{i}.host": _resolved(s, h.host), f"{pid}.{role}.{i}.http_port": h.http_port,
                            f"{pid}.{role}.{i}.grpc_port": h.grpc_port})
    ex = s.cfg.nginx.exchange if s.cfg.kind == "party" else None
    if ex is not None:
        out.update({"default.proxy.0.host": _resolved(s, ex.host), "default.proxy.0.http_port": ex.http_port,
                    "default.proxy.0.grpc_port": ex.grpc_port})
    return out


def _nginx_check(s: Stack, run: Any) -> None:
    """A name that resolves nowhere is said in the log; the table is renamed into place (no temporary left)."""
    for name in _nginx_unresolvable(s):
        assert f"route table: {name} does not resolve to an IPv4 address" in run.stderr, run.stderr
    assert not run.exists("conf/modifiable/route_table.yaml.tmp", NGINX_PREFIX)
    assert run.call.argv == ["-g", "daemon off;"], run.call.argv


def _serving_routes(s: Stack) -> dict[str, Any]:
    pid = s.cfg.party_id
    out: dict[str, Any] = {
        f"route_table.{pid}.serving.0.ip": "serving-server",
        f"route_table.{pid}.serving.0.port": 8000,
    }
    for peer in s.cfg.serving_proxy.party_list:
        out.update({f"route_table.{peer.party_id}.default.0.ip": peer.host,
                    f"route_table.{peer.party_id}.default.0.port": peer.port})
    return out


def _client_check(s: Stack, run: Any) -> None:
    """pipeline/flow init point at FATE Flow's HTTP Service; the notebook gets the hashed password verbatim."""
    calls = {c.program.rsplit("/", 1)[-1]: c.argv for c in run.calls}
    assert calls["pipeline"][:5] == ["init", "--ip", "fateflow", "--port", "9380"], calls
    assert calls["flow"][:5] == ["init", "--ip", "fateflow", "--port", "9380"], calls
    hashed = s.passwords.get("notebookHashedPassword", "")
    assert f"--NotebookApp.password={hashed}" in calls["jupyter"], calls["jupyter"]
    assert "--port=20000" in calls["jupyter"]


def _fate_job_check(s: Stack, run: Any) -> None:
    """`python /fate-job-runner/runner.py` in the client image's working directory, over the job it was given in
    /fate-job: one of the stack's jobs, its result ConfigMap named after it (the Role lets the runner write that one
    only)."""
    assert run.call.argv == ["/fate-job-runner/runner.py"], run.call.argv
    job = json.loads(run.read("/fate-job/job.json"))
    name = next((j.name for j in s.cfg.fate_jobs if {"dsl": j.dsl, "conf": j.conf} == job), None)
    assert name is not None, f"/fate-job/job.json is none of the stack's jobs: {job}"
    assert run.call.env["FATE_JOB_RESULT"] == f"{s.cfg.target_namespace}/fate-job-{name}-result"
    assert run.read("/fate-job-runner/runner.py").decode() == RUNNER.read_text()


def _redis_check(s: Stack, run: Any) -> None:
    assert run.call.argv == ["/usr/local/etc/redis/redis.conf"], run.call.argv


def _zookeeper_env(s: Stack) -> dict[str, Any]:
    return {
        "ZOO_SERVER_ID": "1",
        "ZOO_PORT_NUMBER": "2181",
        "ALLOW_ANONYMOUS_LOGIN": "yes",
        "ZOO_4LW_COMMANDS_WHITELIST": "srvr, mntr, ruok",  # the liveness probe sends ruok
        "ZOO_SERVERS": f"serving-zookeeper-0.serving-zookeeper-headless.{s.cfg.target_namespace}"
                       ".svc.cluster.local:2888:3888::1",
    }


def _model_transfer_url(s: Stack) -> str:
    fateflow = s.cfg.serving_server.fateflow
    assert fateflow is not None, "a serving-server without servingServer.fateflow fails the config check"
    return f"http://{fateflow.host}:{fateflow.port}/v1/model/transfer"


def _serving(s: Stack) -> bool:
    return s.cfg.serving_server.cache_type == "redis" or "servingRedis" in s.cfg.enabled_modules


WAIT = Entry(BUSYBOX, waits=True)
ASSEMBLE = Entry(BUSYBOX)  # runs for real (cat into the in-memory volume); its result is read by the next container

# ------------------------------------------------------------------------------------------------------ entries

ENTRIES: dict[tuple[str, str], Entry] = {
    # eggroll: the start script composes conf/eggroll.properties, then runs the JVM
    ("rollsite", "rollsite"): Entry(
        EGGROLL,
        program=("java",),
        capture=(f"{FATE}/eggroll/conf",),
        reads=(
            Read(f"{FATE}/eggroll/conf/eggroll.properties", "properties", _rollsite_properties),
            Read("conf/route_table/route_table.json", "json", _rollsite_routes),
            *(
                Read(f"{CERTS}/{f}", "pem", lambda s: {}, when=lambda s: _tls(s) and _issued(s))
                for f in ("ca.pem", "server.crt", "server.key", "client.crt", "client.key")
            ),
        ),
    ),
    ("rollsite", "exchange"): Entry(
        NGINX_UPSTREAM,
        program=("/docker-entrypoint.sh",),
        capture=("/etc/nginx",),
        reads=(
            Read(
                "/etc/nginx/nginx.conf",
                "text",
                lambda s: {f"server {e.host}:{e.port};": PRESENT for e in s.cfg.rollsite.exchange_list},
            ),
        ),
    ),
    ("clustermanager", "wait-mysql"): WAIT,
    ("clustermanager", "clustermanager"): Entry(
        EGGROLL,
        program=("java",),
        capture=(f"{FATE}/eggroll/conf",),
        reads=(Read(f"{FATE}/eggroll/conf/eggroll.properties", "properties", lambda s: _eggroll_properties(s, True)),),
    ),
    ("nodemanager", "wait-clustermanager"): WAIT,
    ("nodemanager", "nodemanager"): Entry(
        EGGROLL,
        program=("/tini",),
        capture=(f"{FATE}/eggroll/conf", f"{FATE}/conf"),
        reads=(
            Read(f"{FATE}/eggroll/conf/eggroll.properties", "properties", lambda s: _eggroll_properties(s, False)),
            # egg_pairs import fate_arch, which reads service_conf.yaml at import; no password is needed there
            Read(
                f"{FATE}/conf/service_conf.yaml", "yaml", lambda s: {"party_id": s.cfg.party_id, "database.passwd": ""}
            ),
        ),
    ),
    ("nodemanager", "nodemanager-eggrollpair"): Entry(
        FLUENT_BIT,
        program=("/fluent-bit/bin/fluent-bit",),
        capture=("/fluent-bit/etc",),
        reads=(
            Read(
                "/fluent-bit/etc/fluent-bit.conf",
                "text",
                lambda s: {"[INPUT]": PRESENT, "/data/projects/fate/eggroll/logs/*/*.*": PRESENT},
            ),
        ),
    ),
    ("mysql", "mysql"): Entry(
        MYSQL,
        program=("docker-entrypoint.sh",),
        capture=("/docker-entrypoint-initdb.d",),
        env=lambda s: {
            "MYSQL_DATABASE": s.cfg.mysql.database,
            "MYSQL_USER": s.cfg.mysql.user,
            "MYSQL_PASSWORD": s.secret("mysqlPassword"),
            "MYSQL_RANDOM_ROOT_PASSWORD": "yes",
        },
    ),
    ("python", "ping-mysql"): WAIT,
    ("python", "fateflow"): Entry(
        FATEFLOW,
        program=("python",),
        capture=(f"{FATE}/conf", f"{FATE}/eggroll/conf", "/data/projects/spark-3.1.3-bin-hadoop3.2/conf"),
        reads=(
            Read("conf/service_conf.yaml", "yaml", _service_conf, relative_to="$FATE_PROJECT_BASE"),
            Read(
                "conf/pulsar_route_table/pulsar_route_table.yaml",
                "yaml",
                _pulsar_routes,
                relative_to="$FATE_PROJECT_BASE",
                when=lambda s: s.cfg.engines[1] == "Pulsar",
            ),
            Read(
                "conf/rabbitmq_route_table/rabbitmq_route_table.yaml",
                "yaml",
                _rabbitmq_routes,
                relative_to="$FATE_PROJECT_BASE",
                when=lambda s: s.cfg.engines[1] == "RabbitMQ",
            ),
            Read(
                "/data/projects/spark-3.1.3-bin-hadoop3.2/conf/spark-defaults.conf",
                "spark",
                lambda s: {
                    "spark.driver.host": s.cfg.python.spark.driver_host or POD_IP,
                    "spark.master": "local[*]" if s.cfg.engines[0] == "Spark_local" else PRESENT,
                },
                when=lambda s: s.cfg.engines[0] != "Eggroll",
            ),
            Read(
                f"{FATE}/eggroll/conf/eggroll.properties",
                "properties",
                lambda s: {
                    "eggroll.resourcemanager.clustermanager.host": "clustermanager",
                    "eggroll.resourcemanager.clustermanager.jdbc.password": ABSENT,
                },
                when=lambda s: s.cfg.engines[0] == "Eggroll",
            ),
        ),
    ),
    # FATE-Board: the login check reads conf/application.properties under the working directory (the image's WORKDIR)
    ("fateboard", "assemble-fateboard-conf"): ASSEMBLE,
    ("fateboard", "fateboard"): Entry(
        FATEBOARD,
        program=("java",),
        capture=(f"{FATE}/fateboard/conf",),
        reads=(
            Read(
                "conf/application.properties",
                "properties",
                lambda s: {
                    "server.board.login.username": s.cfg.fateboard.username,
                    "server.board.login.password": s.secret("fateboardPassword"),
                    "server.port": 8080,
                    "fateflow.url": "http://fateflow:9380",
                    "server.board.encrypt.enable": "false",
                },
            ),
        ),
    ),
    ("client", "client"): Entry(CLIENT, program=("pipeline", "flow", "jupyter"), check=_client_check),
    # FateJob: the runner submits to FATE Flow's HTTP API (docs/config-contract.md, "FATE jobs")
    ("fate-job", "fate-job"): Entry(
        CLIENT, program=("python",), check=_fate_job_check, capture=("/fate-job", "/fate-job-runner"),
        env=lambda s: {"FATE_FLOW_HOST": "fateflow", "FATE_FLOW_PORT": "9380", "FATE_JOB_DIR": "/fate-job"}),
    ("nginx", "nginx"): Entry(
        NGINX,
        program=("openresty",),
        capture=(NGINX_PREFIX,),
        resolves=nginx_dns,
        check=_nginx_check,
        reads=(
            Read(
                f"{NGINX_PREFIX}/lua/route_table.lua", "text", lambda s: {'"conf/modifiable/route_table.yaml"': PRESENT}
            ),
            Read("conf/modifiable/route_table.yaml", "yaml", _nginx_routes, relative_to=NGINX_PREFIX),
            Read(
                "conf/nginx.conf",
                "text",
                lambda s: {"init_worker_by_lua_file 'lua/initialize.lua';": PRESENT},
                relative_to=NGINX_PREFIX,
            ),
        ),
    ),
    ("spark-master", "spark-master"): Entry(SPARK_MASTER, program=("/master.sh",)),
    ("spark-worker", "wait-master"): WAIT,
    ("spark-worker", "spark-worker"): Entry(
        SPARK_WORKER,
        program=("/worker.sh",),
        capture=(f"{FATE}/conf",),
        # executors import fate_arch, which reads service_conf.yaml at import
        reads=(Read(f"{FATE}/conf/service_conf.yaml", "yaml", lambda s: {"party_id": s.cfg.party_id}),),
    ),
    ("namenode", "delete-lost-found"): Entry(BUSYBOX),
    ("namenode", "namenode"): Entry(
        HADOOP,
        program=("/entrypoint.sh",),
        capture=("/etc/hadoop",),
        reads=(
            Read(
                "/etc/hadoop/core-site.xml",
                "text",
                lambda s: {"<name>fs.default.name</name>": PRESENT, "<value>hdfs://0.0.0.0:9000</value>": PRESENT},
            ),
        ),
        env=lambda s: {"CLUSTER_NAME": "fate", "HDFS_CONF_dfs_permissions_enabled": "false"},
    ),
    ("datanode", "datanode"): Entry(
        HADOOP,
        program=("/entrypoint.sh",),
        env=lambda s: {"SERVICE_PRECONDITION": "namenode:9000", "CORE_CONF_fs_defaultFS": "hdfs://namenode:9000"},
    ),
    ("pulsar", "pulsar"): Entry(
        PULSAR,
        program=("bin/pulsar",),
        capture=("/pulsar/conf", "/opt/pulsar/certs"),
        reads=(
            Read(
                "conf/standalone.conf",
                "properties",
                lambda s: {
                    "clusterName": s.cfg.python.pulsar.cluster,
                    **(
                        {"tlsEnabled": "true", "brokerServicePortTls": 6651}
                        if s.cfg.pulsar.exchange
                        else {"tlsEnabled": "false", "brokerServicePort": 6650}
                    ),
                },
            ),
            *(
                Read(
                    f"/opt/pulsar/certs/{f}",
                    "pem",
                    lambda s: {},
                    when=lambda s: s.cfg.pulsar.exchange is not None and _issued(s),
                )
                for f in ("broker.cert.pem", "broker.key-pk8.pem", "ca.cert.pem")
            ),
        ),
    ),
    ("rabbitmq", "rabbitmq"): Entry(
        RABBITMQ,
        program=("docker-entrypoint.sh",),
        capture=("/etc/rabbitmq",),
        reads=(Read("/etc/rabbitmq/enabled_plugins", "text", lambda s: {"rabbitmq_federation": PRESENT}),),
        env=lambda s: {
            "RABBITMQ_DEFAULT_USER": s.cfg.rabbitmq.user,
            "RABBITMQ_DEFAULT_PASS": s.secret("rabbitmqPassword"),
        },
    ),
    ("traffic-server", "traffic-server"): Entry(
        TRAFFIC_SERVER,
        program=("/opt/trafficserver/bin/traffic_manager",),
        capture=("/opt/trafficserver/etc/trafficserver", "/opt/proxy"),
        reads=(
            Read(
                "/opt/trafficserver/etc/trafficserver/records.config",
                "text",
                lambda s: {
                    "CONFIG proxy.config.http.server_ports STRING 8080 8080:ipv6 443:ssl": PRESENT,
                    "CONFIG proxy.config.ssl.servername.filename STRING sni/sni.yaml": PRESENT,
                    # the key next to the certificate, not in the sysconfdir the image happened to be compiled with
                    "CONFIG proxy.config.ssl.server.private_key.path STRING /opt/proxy": PRESENT,
                },
            ),
            Read(
                "/opt/trafficserver/etc/trafficserver/sni/sni.yaml",
                "yaml",
                lambda s: {
                    f"sni.{i}.tunnel_route": r.tunnel_route for i, r in enumerate(s.cfg.traffic_server.sni_routes)
                },
            ),
            Read(
                "/opt/trafficserver/etc/trafficserver/ssl_multicert.config",
                "text",
                lambda s: {"ssl_cert_name=proxy.cert.pem": PRESENT},
            ),
            *(
                Read(f"/opt/proxy/{f}", "pem", lambda s: {}, when=_issued)
                for f in ("proxy.cert.pem", "proxy.key.pem", "ca.cert.pem")
            ),
        ),
    ),
    # FATE-Serving: files read with java.util.Properties from the classpath's conf/ (Bootstrap.parseConfig)
    ("serving-proxy", "wait-zookeeper"): WAIT,
    ("serving-proxy", "serving-proxy"): Entry(
        SERVING_PROXY,
        program=("java",),
        capture=(f"{SERVING}/serving-proxy/conf",),
        reads=(
            Read(
                "conf/application.properties",
                "properties",
                lambda s: {
                    "coordinator": s.cfg.party_id,
                    "zk.url": "serving-zookeeper:2181",
                    "proxy.grpc.inter.port": 8869,
                },
            ),
            # re-read every 10 s and rewritten by serving-admin's route editor: a writable copy
            Read("conf/route_table.json", "json", _serving_routes, writable=True),
        ),
    ),
    ("serving-server", "assemble-serving-server-conf"): ASSEMBLE,
    ("serving-server", "wait-zookeeper"): WAIT,
    ("serving-server", "serving-server"): Entry(
        SERVING_SERVER,
        program=("java",),
        capture=(f"{SERVING}/serving-server/conf",),
        reads=(
            Read(
                "conf/serving-server.properties",
                "properties",
                lambda s: {
                    "redis.password": s.secret("servingRedisPassword") if _serving(s) else PRESENT,
                    "redis.ip": s.cfg.serving_server.redis.host if s.cfg.serving_server.redis else "serving-redis",
                    "redis.port": s.cfg.serving_server.redis.port if s.cfg.serving_server.redis else 6379,
                    "port": 8000,
                    "zk.url": "serving-zookeeper:2181",
                    "model.transfer.url": _model_transfer_url(s),
                },
            ),
        ),
    ),
    ("serving-redis", "assemble-serving-redis-conf"): ASSEMBLE,
    ("serving-redis", "serving-redis"): Entry(
        REDIS,
        program=("redis-server",),
        capture=("/usr/local/etc/redis",),
        check=_redis_check,
        reads=(
            Read(
                "/usr/local/etc/redis/redis.conf",
                "redis",
                lambda s: {"requirepass": s.secret("servingRedisPassword"), "dir": "/data"},
            ),
        ),
    ),
    ("serving-zookeeper", "zookeeper"): Entry(ZOOKEEPER, program=("/entrypoint.sh",), env=_zookeeper_env),
    ("serving-admin", "assemble-serving-admin-conf"): ASSEMBLE,
    ("serving-admin", "wait-zookeeper"): WAIT,
    ("serving-admin", "serving-admin"): Entry(
        SERVING_ADMIN,
        program=("java",),
        capture=(f"{SERVING}/serving-admin/conf",),
        reads=(
            Read(
                "conf/application.properties",
                "properties",
                lambda s: {
                    "admin.username": s.cfg.serving_admin.username,
                    "admin.password": s.secret("servingAdminPassword"),
                    "zk.url": "serving-zookeeper:2181",
                },
            ),
        ),
    ),
}
