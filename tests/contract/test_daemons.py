"""Real-software tier: the third-party daemons run from Debian's packages on 127.0.0.1 with the files the start-time
tier produced (tests/contract/test_start.py), and are spoken to the way FATE speaks to them. Where a registry
serves FATE's own code (fate-client 1.11.2 on PyPI), that code is the reader.

Run with `python -m pytest -q --daemons tests/contract/test_daemons.py` (.ci/run installs the packages first:
mariadb-server redis-server nginx-light libnginx-mod-http-lua libnginx-mod-stream trafficserver zookeeper
rabbitmq-server bubblewrap curl openssl, and fate-client 1.11.2 into $FATE_PULUMI_CACHE/fate-client). A missing
program fails the test: this tier only runs where it was asked for.

What each test changes in a rendered file to run here, it says: only listening addresses (loopback, free ports),
never a key the contract covers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional, Union, cast

import pytest
import yaml

from components.fatejob import toy_job
from fate_pulumi import backup
from stacks.config import SECRET_KEYS, load_config
from tests.conftest import party, render
from tests.contract.contract import Stack, nginx_dns
from tests.contract.sandbox import HOST_DIRS
from tests.contract.test_start import HARD_SECRETS, _java_properties, _redis_directives, _rendered, start
from tests.fakeflow import FakeFlow

CACHE = Path(os.environ.get("FATE_PULUMI_CACHE", Path.home() / ".cache" / "fate-pulumi"))
FATE_CLIENT = Path(os.environ.get("FATE_CLIENT_VENV", CACHE / "fate-client-1.11.2"))


def need(*programs: str) -> None:
    missing = [p for p in programs if shutil.which(p) is None and not Path(p).exists()]
    assert not missing, f"the real-software tier needs {missing} (see this file's docstring for the packages)"


def free_port(low: int = 0) -> int:
    """A free loopback port (in [low, low+2000) when given: Traffic Server tunnels only to its connect ports)."""
    for candidate in ([0] if not low else range(low, low + 2000)):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free port")


def wait_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60, host: str = "127.0.0.1") -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}: {log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port} after {timeout}s: {log.read_text()[-3000:]}")


@contextmanager
def daemon(
    args: list[str], port: int, log: Path, env: Optional[dict] = None, timeout: float = 60, host: str = "127.0.0.1",
    clean_env: bool = False,
) -> Iterator[subprocess.Popen]:
    """A process in its own session, waited for until `host:port` answers, killed with its group at the end; its
    environment is ours plus `env` (only `env` with `clean_env`)."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                env=dict(env or {}) if clean_env else {**os.environ, **(env or {})},
                                start_new_session=True)
    try:
        wait_port(port, proc, log, timeout, host)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)


def in_pod_layout(binds: dict[str, Path], read_only: tuple[str, ...] = ()) -> list[str]:
    """bwrap arguments: the host's programs read-only, the given host paths at the pod's paths (read-only for
    `read_only` destinations) — so a daemon opens its files exactly where the image has them."""
    args = ["bwrap", "--die-with-parent", "--tmpfs", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin", "--symlink", "usr/lib", "/lib",
            "--symlink", "usr/lib64", "/lib64", "--ro-bind", "/etc", "/etc"]
    for d in HOST_DIRS:
        if Path(d).exists():
            args += ["--ro-bind", d, d]
    for dest, src in binds.items():
        args += ["--ro-bind" if dest in read_only else "--bind", str(src), dest]
    return args


def started(case: str, workload: str, tmp: Path, values: Optional[dict] = None):
    """(stack, {container: run}) of one pod, from a test case or from `values` (rendered with the hard passwords)."""
    if values is None:
        stack, rendered = _rendered(case)
    else:
        from stacks.config import required_secrets

        needed = required_secrets(load_config({**values, "development": True}, [k for k in values if k in SECRET_KEYS]))
        passwords = {k: HARD_SECRETS[k] for k in [*values, *needed] if k in HARD_SECRETS}
        values = {**values, **passwords}
        stack = Stack(load_config(values, [k for k in values if k in SECRET_KEYS]), passwords)
        rendered = render(values)
    root = tmp / f"{workload}-{len(list(tmp.glob(workload + '-*')))}"
    return stack, {name: run for name, (_, run) in start(stack, rendered, workload, root).items()}


def properties(run, path: str, tmp: Path) -> dict[str, str]:
    return _java_properties({path: run.read(path)}, tmp)[path]


# ------------------------------------------------------------------------------------------------------ MariaDB


def _sql_literal(value: str) -> str:
    """As the mysql image's entrypoint escapes a value for a SQL string (docker_sql_escape_string_literal)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class MariaDB:
    """A MariaDB server on loopback with its own data directory, empty as the mysql image's before the entrypoint's
    first start (`first_start` does that start's steps). Clients find its socket through `<dir>/.my.cnf` (HOME=dir:
    read after Debian's /etc/mysql, whose socket would win over MYSQL_UNIX_PORT)."""

    def __init__(self, tmp: Path, name: str = "mariadb", host: str = "127.0.0.1", port: Optional[int] = None):
        self.name, self.dir, self.host = name, tmp / name, host
        self.dir.mkdir()
        self.data, self.sock, self.port = self.dir / "data", self.dir / "mysql.sock", port or free_port()
        (self.dir / ".my.cnf").write_text(f"[client]\nsocket={self.sock}\n")

    @contextmanager
    def running(self) -> Iterator[MariaDB]:
        need("mariadbd", "mariadb-install-db", "mariadb", "mysqldump")
        subprocess.run(["mariadb-install-db", f"--datadir={self.data}", "--user=root",
                        "--auth-root-authentication-method=socket", "--skip-test-db"], check=True, capture_output=True)
        with daemon(["mariadbd", f"--datadir={self.data}", f"--socket={self.sock}", f"--port={self.port}",
                     f"--bind-address={self.host}", "--user=root", "--skip-log-bin"], self.port,
                    self.dir / "mariadb.log", host=self.host):
            yield self

    def sql(self, statement: str, *args: str, user: str = "root", password: Optional[str] = None, db: str = "") -> str:
        cmd = ["mariadb", "--batch", "--skip-column-names", "--default-character-set=utf8mb4", *args]
        cmd += [f"--socket={self.sock}", "-uroot"] if user == "root" else [f"-h{self.host}", f"-P{self.port}",
                                                                            f"-u{user}"]
        result = subprocess.run([*cmd, *([db] if db else [])], input=statement, capture_output=True, text=True,
                                env={**os.environ, **({"MYSQL_PWD": password} if password is not None else {})})
        assert result.returncode == 0, f"{statement[:80]}: {result.stderr}"
        return result.stdout

    def first_start(self, env: dict[str, str], init_sql: list[str]) -> None:
        """The mysql image's first start from a container's env: the database, the user with its password and every
        privilege on the database (docker-entrypoint.sh docker_setup_db, `_` escaped as it does), the init scripts."""
        db, user = env["MYSQL_DATABASE"], env["MYSQL_USER"]
        self.sql(f"CREATE DATABASE IF NOT EXISTS `{db}`; CREATE USER {_sql_literal(user)}@'%' IDENTIFIED BY "
                 f"{_sql_literal(env['MYSQL_PASSWORD'])}; GRANT ALL ON `{db.replace('_', chr(92) + '_')}`.* TO "
                 f"{_sql_literal(user)}@'%';")
        for script in init_sql:
            self.sql(script, db=db)

    def container_env(self, env: dict[str, str]) -> dict[str, str]:
        """What a command run in the mysql container has: its env (the user, password and database) — plus where
        this server's socket is."""
        return {"PATH": os.environ["PATH"], "HOME": str(self.dir),
                **{k: env[k] for k in ("MYSQL_DATABASE", "MYSQL_USER", "MYSQL_PASSWORD")}}

    def tables(self, db: str) -> dict[str, tuple[int, str]]:
        """table -> (COUNT(*), CHECKSUM TABLE) of every table of a database, read as root."""
        names = self.sql(f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{db}'").split()
        out = {}
        for t in names:
            count = int(self.sql(f"SELECT COUNT(*) FROM `{db}`.`{t}`"))
            out[t] = (count, self.sql(f"CHECKSUM TABLE `{db}`.`{t}`").split("\t")[-1].strip())
        return out


def seed_fate_tables(mariadb: MariaDB, db: str, rows: int = 2500) -> None:
    """Rows like a party's after some jobs: FATE Flow's tables (a subset, their shape) and eggroll's (created by the
    init SQL), with the values a dump must carry exactly — quotes, parentheses, backslashes, line breaks, tabs,
    non-ASCII text, NULLs, binary — and one table large enough for mysqldump to split its INSERTs."""
    tricky = ["it's", "a'),('b", "back\\slash\\", "line\nbreak\r\n", "tab\there", "中文 ✓ 🚀", "", "(;)", "--", "/*x*/"]
    values = ", ".join(f"({i}, '{_sql_literal(v)[1:-1]}', {'NULL' if i % 3 == 0 else i * 7})" for i, v in
                       enumerate(tricky))
    mariadb.sql(f"""
CREATE TABLE t_job (f_id INT PRIMARY KEY, f_job_id VARCHAR(25), f_status VARCHAR(50), f_dsl LONGTEXT,
                    f_create_time BIGINT, f_update_date DATETIME);
CREATE TABLE t_task (f_id INT PRIMARY KEY, f_task_id VARCHAR(100), f_party_status VARCHAR(50), f_run_ip VARCHAR(50));
CREATE TABLE t_tracking_metric (f_id BIGINT PRIMARY KEY AUTO_INCREMENT, f_metric_key VARCHAR(200),
                                f_value LONGTEXT, f_blob LONGBLOB);
CREATE TABLE t_engine_registry (f_engine_type VARCHAR(10), f_engine_name VARCHAR(50), f_cores INT,
                                PRIMARY KEY (f_engine_type, f_engine_name));
CREATE TABLE t_model_version (f_id INT PRIMARY KEY, f_note VARCHAR(100), f_size INT);
CREATE TABLE t_empty (f_id INT PRIMARY KEY);
INSERT INTO t_model_version VALUES {values};
INSERT INTO t_job VALUES (1, '202405011200000000001', 'success', '{{"components": {{"reader_0": ["a", "(b)"]}}}}',
                          1714564800000, '2024-05-01 12:00:00'),
                         (2, '202405011300000000002', 'failed', NULL, 1714568400000, NULL);
INSERT INTO t_task VALUES (1, '202405011200000000001_reader_0', 'success', '10.0.0.5'),
                          (2, '202405011300000000002_reader_0', 'failed', NULL);
INSERT INTO t_engine_registry VALUES ('computing', 'EGGROLL', 16), ('storage', 'EGGROLL', 0);
INSERT INTO server_node (name, host, port, node_type, status) VALUES ('', 'nodemanager-0', 4671, 'NODE_MANAGER',
  'HEALTHY'), ('', 'nodemanager-1', 4671, 'NODE_MANAGER', 'LOSS');
INSERT INTO store_locator (store_type, namespace, name, total_partitions, status)
  VALUES ('ROLLPAIR_LMDB', 'experiment', 'breast_hetero_guest', 4, 'NORMAL');
INSERT INTO session_main (session_id, name, status, tag) VALUES ('202405011200000000001_reader_0', '', 'CLOSED',
  NULL);
""", db=db)
    blob = "0x" + bytes(range(256)).hex()
    for first in range(0, rows, 500):
        mariadb.sql("INSERT INTO t_tracking_metric (f_metric_key, f_value, f_blob) VALUES " + ", ".join(
            f"('loss_{i}', REPEAT('x(\\'),', 100), {blob})" for i in range(first, min(rows, first + 500))), db=db)


def fate_flow_first_start(mariadb: MariaDB, db: str) -> None:
    """What FATE Flow and the clustermanager leave in a new, empty database when they first start: tables and rows
    of their own (their shape, not their code), which a restore must replace."""
    mariadb.sql("CREATE TABLE t_engine_registry (f_engine_type VARCHAR(10), f_engine_name VARCHAR(50), f_cores INT); "
                "INSERT INTO t_engine_registry VALUES ('computing', 'EGGROLL', 4), ('storage', 'EGGROLL', 0), "
                "('federation', 'EGGROLL', 0); INSERT INTO server_node (host, port, node_type, status) VALUES "
                "('clustermanager', 4670, 'CLUSTER_MANAGER', 'HEALTHY');", db=db)


def test_mariadb_takes_the_init_sql_and_fate_flow_and_eggroll_log_in(tmp_path):
    case = "Pulumi.party-9999-eggroll.yaml"
    _, mysql = started(case, "mysql", tmp_path)
    _, flow = started(case, "python", tmp_path)
    _, cm = started(case, "clustermanager", tmp_path)
    env = mysql["mysql"].call.env
    init_sql = [p for p in mysql["mysql"].files if p.startswith("/docker-entrypoint-initdb.d/")]
    assert init_sql, "no init SQL at /docker-entrypoint-initdb.d"

    with MariaDB(tmp_path).running() as server:
        sql = server.sql
        # the mysql image's first start: database, user with its password, grants, then the init scripts
        db = env["MYSQL_DATABASE"]
        server.first_start(env, [mysql["mysql"].files[path].decode() for path in sorted(init_sql)])

        # FATE Flow: user and password of the final service_conf.yaml
        conf = yaml.safe_load(flow["fateflow"].read("/data/projects/fate/conf/service_conf.yaml"))["database"]
        assert sql("SELECT DATABASE()", user=conf["user"], password=conf["passwd"], db=conf["name"]).strip() == db
        # eggroll: jdbc.* of the final eggroll.properties, as java.util.Properties reads them
        props = properties(cm["clustermanager"], "/data/projects/fate/eggroll/conf/eggroll.properties", tmp_path)
        jdbc_db = props["eggroll.resourcemanager.clustermanager.jdbc.url"].split("/")[3].split("?")[0]
        tables = sql("SHOW TABLES", user=props["eggroll.resourcemanager.clustermanager.jdbc.username"],
                     password=props["eggroll.resourcemanager.clustermanager.jdbc.password"], db=jdbc_db).split()
        assert {"session_main", "server_node", "processor_resource"} <= set(tables), tables


def test_mysql_backup_and_restore_carry_every_row_between_two_real_mariadbs(tmp_path):
    """fate-pulumi backup's dump and restore's load and row counts, through the same code as in a cluster; the
    `kubectl exec` in front of `sh -c` is left out (the commands run as local processes with the container's env)."""
    case = "Pulumi.party-9999-eggroll.yaml"
    _, mysql = started(case, "mysql", tmp_path)
    env = mysql["mysql"].call.env
    db = env["MYSQL_DATABASE"]
    init_sql = [mysql["mysql"].files[p].decode() for p in sorted(mysql["mysql"].files)
                if p.startswith("/docker-entrypoint-initdb.d/")]
    with MariaDB(tmp_path, "source").running() as source, MariaDB(tmp_path, "target").running() as target:
        source.first_start(env, init_sql)
        seed_fate_tables(source, db)
        target.first_start(env, init_sql)
        fate_flow_first_start(target, db)
        expected = source.tables(db)

        path = tmp_path / "mysql-fate-9999.sql"
        meta = backup.dump(backup.MysqlExec([], "source", source.container_env(env)), path,
                           {"namespace": "fate-9999", "pod": "mysql-0"})
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert meta["databases"] == [db]
        assert meta["tables"] == {db: {t: n for t, (n, _) in expected.items()}}  # counted from the dump = COUNT(*)
        assert len(re.findall(rb"^INSERT INTO `t_tracking_metric`", path.read_bytes(), re.M)) > 1
        assert env["MYSQL_PASSWORD"].encode() not in path.read_bytes()

        # a copy changed in one byte is refused, before anything is loaded
        changed = tmp_path / "changed.sql"
        changed.write_bytes(path.read_bytes().replace(b"nodemanager-1", b"nodemanager-2"))
        with pytest.raises(backup.BackupError, match="sha256"):
            backup.verify(changed, backup.read_trailer(changed))

        read = backup.read_trailer(path)
        backup.verify(path, read)
        target_exec = backup.MysqlExec([], "target", target.container_env(env))
        keep = tmp_path / "before-restore.sql"
        assert backup.restore_into(target_exec, path, read, keep, {"namespace": "fate-9999", "pod": "mysql-0"}) == []
        restored = target.tables(db)
        assert {t: restored.get(t) for t in expected} == expected  # every row, byte for byte (CHECKSUM TABLE)
        # what FATE Flow's start had written is in the save taken before the load
        assert b"'federation','EGGROLL',0" in keep.read_bytes() and stat.S_IMODE(keep.stat().st_mode) == 0o600

        # a table that lost a row is named
        target.sql("DELETE FROM t_task WHERE f_id = 2", db=db)
        assert backup.differences(read["tables"], backup.table_rows(target_exec, read["tables"])) == [
            f"{db}.t_task: 1 rows, the backup has 2"]


# ------------------------------------------------------------------------------------------------------ Redis


def _resp(sock: socket.socket, *args: str) -> bytes:
    """One RESP command (binary-safe: the password goes as it is) and its first reply line."""
    payload = f"*{len(args)}\r\n".encode() + b"".join(
        b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args)
    sock.sendall(payload)
    return sock.recv(4096).split(b"\r\n")[0]


def test_redis_requires_the_password_serving_server_sends(tmp_path):
    need("redis-server")
    case = "Pulumi.serving-9999.yaml"
    _, redis = started(case, "serving-redis", tmp_path)
    _, server = started(case, "serving-server", tmp_path)
    conf, data = tmp_path / "redis.conf", tmp_path / "data"
    conf.write_bytes(redis["serving-redis"].read("/usr/local/etc/redis/redis.conf"))
    data.mkdir()
    props = properties(
        server["serving-server"], "/data/projects/fate-serving/serving-server/conf/serving-server.properties", tmp_path
    )
    port = free_port()
    layout = in_pod_layout(
        {"/usr/local/etc/redis/redis.conf": conf, "/data": data}, read_only=("/usr/local/etc/redis/redis.conf",)
    )
    # the container's command; loopback and a free port instead of the pod's bind and 6379
    with daemon(
        [*layout, "redis-server", "/usr/local/etc/redis/redis.conf", "--port", str(port), "--bind", "127.0.0.1"],
        port,
        tmp_path / "redis.log",
    ):
        with socket.create_connection(("127.0.0.1", port)) as s:
            assert _resp(s, "PING").startswith(b"-NOAUTH")
            assert _resp(s, "AUTH", props["redis.password"]) == b"+OK"
            assert _resp(s, "SET", "fate", "1") == b"+OK"
            assert _resp(s, "SAVE") == b"+OK"
    assert (data / "dump.rdb").exists()  # written where the data volume is mounted
    assert props["redis.password"] == HARD_SECRETS["servingRedisPassword"]
    assert _redis_directives(conf.read_text())["requirepass"] == HARD_SECRETS["servingRedisPassword"]


# ------------------------------------------------------------------------------------------------------ nginx

NGINX_MODULES = ("ndk_http_module.so", "ngx_http_lua_module.so", "ngx_stream_module.so")


def _bwrap_hosts(tmp: Path, names: Union[list[str], dict[str, str]]) -> list[str]:
    """A sandbox seeing the host read-only and the pod's Service names resolving to loopback (a list), or each name
    to its loopback address (a dict: name -> 127.x.y.z)."""
    hosts = tmp / "hosts"
    mapping = names if isinstance(names, dict) else dict.fromkeys(names, "127.0.0.1")
    hosts.write_text("127.0.0.1 localhost\n" + "".join(f"{ip} {name}\n" for name, ip in mapping.items()))
    return ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--bind", str(tmp), str(tmp),
            "--ro-bind", str(hosts), "/etc/hosts"]


@pytest.mark.parametrize("case", ["Pulumi.party-9999-spark-pulsar.yaml", "Pulumi.exchange-pulsar.yaml"])
def test_nginx_loads_fates_openresty_config(case, tmp_path):
    """FATE's nginx.conf needs OpenResty's Lua and stream modules; Debian's nginx with those modules parses it."""
    need("nginx", "bwrap", *(f"/usr/lib/nginx/modules/{m}" for m in NGINX_MODULES))
    _, nginx = started(case, "nginx", tmp_path)
    run = nginx["nginx"]
    prefix = tmp_path / "prefix"
    (prefix / "conf" / "vhost").mkdir(parents=True)
    (prefix / "logs").mkdir()
    shutil.copy("/etc/nginx/mime.types", prefix / "conf")  # part of OpenResty's own install
    modules = "".join(f"load_module /usr/lib/nginx/modules/{m};\n" for m in NGINX_MODULES)
    (prefix / "conf" / "nginx.conf").write_text(
        modules + run.read("conf/nginx.conf", "/data/projects/fate/proxy/nginx").decode()
    )
    routes = yaml.safe_load(run.read("conf/modifiable/route_table.yaml", "/data/projects/fate/proxy/nginx"))
    assert routes, "empty route table"
    res = subprocess.run(
        _bwrap_hosts(tmp_path, ["fateflow"])
        + ["nginx", "-t", "-p", f"{prefix}/", "-c", "conf/nginx.conf", "-g", f"pid {tmp_path}/nginx.pid;"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0 and "syntax is ok" in res.stderr, res.stderr


NGINX_PREFIX = "/data/projects/fate/proxy/nginx"
NAMED_PEERS = "nginx-peer-names-party"  # tests/contract/test_start.py: peers by DNS name, by address, unresolvable


@contextmanager
def http_upstream(host: str, port: int, label: str) -> Iterator[list[dict[str, str]]]:
    """An HTTP server on host:port answering `<label> <path>`; yields the headers of each request it got."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append({k.lower(): v for k, v in self.headers.items()})
            body = f"{label} {self.path}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()


def _post(port: int, path: str, headers: dict[str, str]) -> tuple[int, str]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body=b"{}", headers={"Content-Type": "application/json", **headers})
        res = conn.getresponse()
        return res.status, res.read().decode(errors="replace")
    finally:
        conn.close()


def _in_prefix(prefix: Path) -> list[str]:
    """bwrap arguments, then nginx with `prefix` as its prefix where its workers (user nobody, as in the image) can
    read the Lua files: under a fresh tmpfs, not below pytest's private temporary directory."""
    return ["--tmpfs", "/mnt", "--bind", str(prefix), "/mnt/nginx", "nginx", "-p", "/mnt/nginx/"]


def _nginx_prefix(tmp: Path, conf: str) -> Path:
    """An nginx prefix (conf/, logs/, mime.types) whose nginx.conf loads Debian's Lua and stream modules first."""
    prefix = tmp / "prefix"
    (prefix / "conf" / "vhost").mkdir(parents=True)
    (prefix / "logs").mkdir()
    shutil.copy("/etc/nginx/mime.types", prefix / "conf")  # part of OpenResty's own install
    modules = "".join(f"load_module /usr/lib/nginx/modules/{m};\n" for m in NGINX_MODULES)
    (prefix / "conf" / "nginx.conf").write_text(modules + conf)
    return prefix


def _configured_route_table(case: str) -> dict:
    """route_table.yaml as the stack configures it: the ConfigMap's, names as written."""
    _, rendered = _rendered(case)
    cm = next(o for o in rendered.raw_objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "nginx-config")
    return yaml.safe_load(cm["data"]["route_table.yaml"])


def test_openresty_balancer_takes_the_route_tables_addresses_not_its_names(tmp_path):
    """OpenResty's balancer constraint, which FATE's balancer.lua runs into (FATE v1.11.2 c/proxy/lua/balancer.lua
    L25 hands route_table.lua's "<host>:<port>" to ngx.balancer.set_current_peer; lua-nginx-module parses it with
    no_resolve): shown with Debian's lua-nginx-module and a balancer block of ours — not FATE's Lua file, which this
    repository cannot ship. The party's own FATE Flow route as the stack configures it (the Service name, which does
    resolve here) is refused with "no host allowed"; as the nginx pod's start writes it into the table FATE's Lua
    reads (its address), the same balancer proxies the request to that FATE Flow."""
    need("nginx", "bwrap", *(f"/usr/lib/nginx/modules/{m}" for m in NGINX_MODULES))
    stack, pods = started(NAMED_PEERS, "nginx", tmp_path)
    pid = stack.cfg.party_id
    named = _configured_route_table(NAMED_PEERS)[pid]["fateflow"][0]
    resolved = yaml.safe_load(pods["nginx"].read("conf/modifiable/route_table.yaml", NGINX_PREFIX))[pid]["fateflow"][0]
    assert named["host"] == "fateflow" and resolved["http_port"] == named["http_port"]
    port = free_port()
    prefix = _nginx_prefix(tmp_path, f"""
error_log {tmp_path}/error.log info;
events {{}}
http {{
    access_log off;
    underscores_in_headers on;
    upstream fate {{
        server 0.0.0.1 down;  # a placeholder, as in the rendered nginx.conf: the balancer picks the peer
        balancer_by_lua_block {{
            local ok, err = require("ngx.balancer").set_current_peer(ngx.ctx.dest_cluster)
            if not ok then
                ngx.log(ngx.ERR, "failed to set current peer: ", err)
                return ngx.ERROR
            end
        }}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            access_by_lua_block {{ ngx.ctx.dest_cluster = ngx.req.get_headers()["x-dest"] }}
            proxy_pass http://fate;
        }}
    }}
}}
""")
    # the nginx pod's DNS: the Service names resolve (to loopback addresses here)
    sandbox = _bwrap_hosts(tmp_path, nginx_dns(stack))
    getent = subprocess.run([*sandbox, "getent", "ahostsv4", named["host"]], capture_output=True, text=True)
    assert getent.stdout.split()[:1] == [resolved["host"]], getent  # the name resolves: that is not the problem
    with (
        http_upstream(resolved["host"], resolved["http_port"], "fateflow") as got,
        daemon([*sandbox, *_in_prefix(prefix), "-c", "conf/nginx.conf", "-g", f"pid {tmp_path}/n.pid; daemon off;"],
               port, tmp_path / "nginx.log"),
    ):
        by_name = _post(port, "/v1/party/9999/ping", {"x-dest": f"{named['host']}:{named['http_port']}"})
        by_address = _post(port, "/v1/party/9999/ping", {"x-dest": f"{resolved['host']}:{resolved['http_port']}"})
    log = (tmp_path / "error.log").read_text()
    assert by_name[0] != 200 and "failed to set current peer: no host allowed" in log, (by_name, log[-2000:])
    assert by_address == (200, "fateflow /v1/party/9999/ping"), (by_address, log[-2000:])
    assert len(got) == 1


# Our stand-ins for FATE's Lua (FATE v1.11.2 c/proxy/lua/*.lua, which this repository cannot ship): the same file
# path (route_table.lua's line as the start command edits it), the same periodic re-read, the same lookup
# (<dest party>.<service header>[random], else default.proxy; grpc_port for HTTP/2, else http_port), the same
# headers (router.lua: dest-party-id or dest-env, service) and the same balancer call (balancer.lua).
STAND_IN_ROUTE_TABLE = """
local _M = {}
local routes = {}

local function parse(text)  -- route_table.yaml as fate-pulumi writes it: party -> service -> [{host, ports}]
    local out, party, service, hop = {}, nil, nil, nil
    for line in text:gmatch("[^\\n]+") do
        local top = line:match("^([%w_]+):%s*$")
        local svc = line:match("^%s+([%w_]+):%s*$")
        local dash, key, value = line:match("^%s+(%-?)%s*([%w_]+):%s*(%S+)%s*$")
        if top then party = {}; out[top] = party
        elseif svc then service = {}; party[svc] = service
        elseif key then
            if dash == "-" then hop = {}; table.insert(service, hop) end
            hop[key] = value:gsub("^['\\"](.*)['\\"]$", "%1")
        end
    end
    return out
end

local function reload()
    local file = assert(io.open(route_table_path, "r"))
    local content = file:read("*a")
    file:close()
    routes = parse(content)
    ngx.log(ngx.INFO, "stand-in route table loaded from ", route_table_path)
    ngx.timer.at(5, reload)
end

function _M.start() reload() end

function _M.get_dest_server(dest_env, dest_service)
    if dest_env == nil then return nil end
    local services = routes[tostring(dest_env)]
    local servers = services ~= nil and services[dest_service] or routes["default"]["proxy"]
    local server = servers[math.random(1, #servers)]
    local port = ngx.req.http_version() == 2 and server["grpc_port"] or server["http_port"]
    return string.format("%s:%s", server["host"], port)
end

return _M
"""
STAND_IN_LUA = {
    "initialize.lua": 'require("route_table").start()\n',
    "router.lua": """local headers = ngx.req.get_headers()
local dest_env = headers["dest-party-id"]
if dest_env == nil then dest_env = headers["dest-env"] end
ngx.ctx.dest_cluster = require("route_table").get_dest_server(dest_env, headers["service"])
""",
    "balancer.lua": """local ok, err = require("ngx.balancer").set_current_peer(ngx.ctx.dest_cluster)
if not ok then
    ngx.log(ngx.INFO, "failed to set current peer: " .. err)
    return ngx.ERROR
end
""",
}


def test_nginx_routes_fate_flow_messages_by_the_resolved_route_table(tmp_path):
    """The rendered nginx.conf and the route table the pod's start resolved, through Debian's nginx with the Lua
    module and OUR STAND-IN for FATE's Lua (router, route_table reader, balancer — see STAND_IN_ROUTE_TABLE): a
    request as FATE Flow sends it (headers DEST-PARTY-ID, SERVICE: FATE-Flow v1.11.2
    python/fate_flow/utils/requests_utils.py L37) reaches the party's own FATE Flow, a peer named by DNS, and the
    exchange (the default route); the one peer whose name resolves nowhere fails alone with "no host allowed" and
    502 — not handed to the upstream's placeholder server, where lua-nginx-module falls back when the balancer sets
    no peer."""
    need("nginx", "bwrap", *(f"/usr/lib/nginx/modules/{m}" for m in NGINX_MODULES))
    stack, pods = started(NAMED_PEERS, "nginx", tmp_path)
    run = pods["nginx"]
    stream_port, http_port = free_port(), free_port()
    conf = run.read("conf/nginx.conf", NGINX_PREFIX).decode()
    assert "listen 9128;" in conf
    prefix = _nginx_prefix(tmp_path, conf.replace("listen 9128;", f"listen 127.0.0.1:{stream_port};"))  # loopback
    # the location of FATE's coordination_http_proxy.conf (the image's vhost/), on a free loopback port
    (prefix / "conf" / "vhost" / "coordination_http_proxy.conf").write_text(
        f"server {{ listen 127.0.0.1:{http_port}; location / {{ access_by_lua_file 'lua/router.lua'; "
        "proxy_set_header Connection \"\"; proxy_next_upstream off; proxy_pass http://http_cluster; } }\n")
    (prefix / "conf" / "modifiable").mkdir()
    (prefix / "conf" / "modifiable" / "route_table.yaml").write_bytes(
        run.read("conf/modifiable/route_table.yaml", NGINX_PREFIX))
    (prefix / "lua").mkdir()
    path_line = run.read("lua/route_table.lua", NGINX_PREFIX).decode()  # as the start command left it
    assert '"conf/modifiable/route_table.yaml"' in path_line
    (prefix / "lua" / "route_table.lua").write_text(path_line + STAND_IN_ROUTE_TABLE)
    for name, text in STAND_IN_LUA.items():
        (prefix / "lua" / name).write_text(text)
    configured = _configured_route_table(NAMED_PEERS)
    dns = nginx_dns(stack)
    own, peer, exchange = (configured[stack.cfg.party_id]["fateflow"][0], configured[10000]["proxy"][0],
                           configured["default"]["proxy"][0])
    unresolvable = configured[10001]["proxy"][0]["host"]
    assert unresolvable not in dns and all(h["host"] in dns for h in (own, peer, exchange))
    with (
        http_upstream(dns[own["host"]], own["http_port"], "own fateflow") as at_own,
        http_upstream(dns[peer["host"]], peer["http_port"], "party 10000") as at_peer,
        http_upstream(dns[exchange["host"]], exchange["http_port"], "exchange") as at_exchange,
        daemon([*_bwrap_hosts(tmp_path, dns), *_in_prefix(prefix), "-c", "conf/nginx.conf",
                "-g", f"pid {tmp_path}/n.pid; daemon off;"], http_port, tmp_path / "nginx.log"),
    ):
        def send(dest: int) -> tuple[int, str]:
            return _post(http_port, "/v1/party/x/y", {"SERVICE": "fateflow" if dest == stack.cfg.party_id else
                                                      "proxy", "DEST-PARTY-ID": str(dest)})

        assert send(stack.cfg.party_id) == (200, "own fateflow /v1/party/x/y")
        assert send(10000) == (200, "party 10000 /v1/party/x/y")
        assert send(20000) == (200, "exchange /v1/party/x/y")  # no route of its own: the default
        failed = send(10001)
    log = (tmp_path / "nginx.log").read_text()
    # refused alone, and not handed to the upstream's placeholder (which would be a misroute to a live server)
    assert failed[0] == 502 and "failed to set current peer: no host allowed" in log, (failed, log[-3000:])
    assert "stand-in route table loaded from" in log and len(at_own) == len(at_peer) == len(at_exchange) == 1
    assert at_own[0]["dest-party-id"] == str(stack.cfg.party_id)


def test_lbrollsite_balancer_routes_grpc_to_an_exchange(tmp_path):
    """The gRPC balancer of an lbrollsite party: a request to it reaches an exchange of its list."""
    need("nginx", "curl")
    upstream = free_port()
    values = party(rollsite={"exchangeList": [{"host": "127.0.0.1", "port": upstream}]})
    _, rollsite = started("", "rollsite", tmp_path, values)
    conf = rollsite["exchange"].read("/etc/nginx/nginx.conf").decode()
    listen = free_port()
    assert "listen 9390 http2;" in conf
    conf = conf.replace("listen 9390 http2;", f"listen 127.0.0.1:{listen} http2;")  # loopback, free port
    (tmp_path / "logs").mkdir()
    shutil.copy("/etc/nginx/mime.types", tmp_path)
    (tmp_path / "nginx.conf").write_text(conf.replace("events {", f"pid {tmp_path}/lb.pid;\nevents {{", 1))
    # the "exchange": an HTTP/2 server answering every call
    (tmp_path / "exchange.conf").write_text(
        f"pid {tmp_path}/ex.pid;\nerror_log {tmp_path}/ex.err;\nevents {{}}\nhttp {{ access_log off; server {{ "
        f"listen 127.0.0.1:{upstream} http2; location / {{ add_header grpc-status 0 always; return 200 "
        "'exchange'; } } }\n"
    )
    with (
        daemon(
            ["nginx", "-p", f"{tmp_path}/", "-c", "exchange.conf", "-g", "daemon off;"], upstream, tmp_path / "ex.log"
        ),
        daemon(["nginx", "-p", f"{tmp_path}/", "-c", "nginx.conf", "-g", "daemon off;"], listen, tmp_path / "lb.log"),
    ):
        res = subprocess.run(
            [
                "curl",
                "-s",
                "--http2-prior-knowledge",
                "-X",
                "POST",
                "-H",
                "content-type: application/grpc",
                f"http://127.0.0.1:{listen}/com.webank.ai.eggroll.api.networking.proxy.DataTransferService/push",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert res.stdout == "exchange", (res.returncode, res.stdout, res.stderr)


# ------------------------------------------------------------------------------------------------------ Traffic Server


def _issued_exchange(tunnel_port: int) -> dict[str, Any]:
    from tests.components.test_tls import ca

    return {"kind": "exchange", "partyId": 1, "backend": "spark_pulsar", "publicHost": "198.51.100.1",
            "tls": {"generate": True, "caCertificate": ca().certificate_pem}, "tlsCaKey": ca().key_pem,
            "trafficServer": {"sniRoutes": [{"fqdn": "9999.fate.org", "tunnelRoute": f"127.0.0.1:{tunnel_port}"}]}}


@pytest.fixture
def world_readable_tmp() -> Iterator[Path]:
    """A temporary directory other users may enter (pytest's are private): Traffic Server drops to its own user."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="fate-contract-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _common_name(tls: ssl.SSLSocket) -> str:
    """The commonName of the peer's certificate."""
    cert = tls.getpeercert()
    assert cert, "the peer sent no certificate"
    subject = cast(tuple[tuple[tuple[str, str], ...], ...], cert["subject"])  # ssl's relative distinguished names
    return next(value for rdn in subject for key, value in rdn if key == "commonName")


def test_traffic_server_tunnels_by_sni_to_the_party_broker(world_readable_tmp):
    """A Pulsar client connects to the exchange's proxy with SNI <party>.fate.org; Traffic Server, on the rendered
    records.config / sni.yaml / ssl_multicert.config, tunnels the TLS session to that party's broker, whose issued
    certificate the client verifies. The proxy's own certificate answers for proxy.fate.org."""
    need("traffic_server", "bwrap")
    from components.tls import TlsPlan
    from tests.components.test_tls import ca

    tmp_path = world_readable_tmp
    broker_port = free_port(31000)  # inside the rendered connect_ports (30000-33000)
    _, ts = started("", "traffic-server", tmp_path, _issued_exchange(broker_port))
    run = ts["traffic-server"]
    etc, certs, var = tmp_path / "etc", tmp_path / "certs", tmp_path / "var"
    for d in (etc / "sni", certs, var / "run", var / "log", var / "cache"):
        d.mkdir(parents=True)
    for name in ("records.config", "ssl_multicert.config", "sni/sni.yaml"):
        (etc / name).write_bytes(run.read(f"/opt/trafficserver/etc/trafficserver/{name}"))
    for name in ("proxy.cert.pem", "proxy.key.pem", "ca.cert.pem"):
        (certs / name).write_bytes(run.read(f"/opt/proxy/{name}"))
    for name in ("ip_allow.yaml", "logging.yaml", "plugin.config", "remap.config", "hosting.config", "volume.config",
                 "cache.config", "parent.config", "body_factory"):  # the image's other defaults: Debian's
        src = Path("/etc/trafficserver") / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, etc / name)
    (etc / "storage.config").write_text(f"{var / 'cache'} 64M\n")
    (tmp_path / "runroot.yaml").write_text(
        yaml.safe_dump(
            {
                "prefix": "/usr",
                "exec_prefix": "/usr",
                "bindir": "/usr/bin",
                "sbindir": "/usr/sbin",
                "libdir": "/usr/lib/trafficserver",
                "libexecdir": "/usr/lib/trafficserver/modules",
                "includedir": "/usr/include",
                "sysconfdir": "/opt/trafficserver/etc/trafficserver",  # the image's prefix layout
                "datadir": str(var / "cache"),
                "localstatedir": str(var),
                "runtimedir": str(var / "run"),
                "logdir": str(var / "log"),
                "cachedir": str(var / "cache"),
            }
        )
    )
    subprocess.run(["chmod", "-R", "a+rwX", str(tmp_path)], check=True)
    port = free_port()
    args = ["bwrap", "--ro-bind", "/", "/", "--bind", str(tmp_path), str(tmp_path), "--tmpfs", "/opt",
            "--perms", "0755", "--dir", "/opt/trafficserver", "--perms", "0755", "--dir", "/opt/trafficserver/etc",
            "--ro-bind", str(etc), "/opt/trafficserver/etc/trafficserver", "--ro-bind", str(certs), "/opt/proxy",
            "--dev", "/dev", "--proc", "/proc", "traffic_server", f"--run-root={tmp_path}/runroot.yaml"]
    # loopback on a free port instead of 443/8080; Debian's build runs as its own user where the image's drops to nobody
    env = {
        "PROXY_CONFIG_HTTP_SERVER_PORTS": f"{port}:ssl:ip-in=127.0.0.1",
        "PROXY_CONFIG_ADMIN_USER_ID": "trafficserver",
    }

    authority = ca()
    issued = TlsPlan(authority.certificate_pem, authority.key_pem).pulsar_cert(9999, "fate.org", ["127.0.0.1"])
    assert isinstance(issued, dict)  # issued at once: the CA key is known
    for name, text in issued.items():
        (tmp_path / f"broker-{name}").write_text(text)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "broker-broker.cert.pem", tmp_path / "broker-broker.key-pk8.pem")
    broker = socket.create_server(("127.0.0.1", broker_port))

    def serve() -> None:
        conn, _ = broker.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"broker:" + tls.recv(64))

    threading.Thread(target=serve, daemon=True).start()
    client = ssl.create_default_context(cafile=str(tmp_path / "broker-ca.cert.pem"))
    with daemon(args, port, tmp_path / "ats.log", env=env):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                client.wrap_socket(raw, server_hostname="9999.fate.org") as tls:
            assert _common_name(tls) == "9999.fate.org"
            tls.sendall(b"hello")
            assert tls.recv(64) == b"broker:hello"
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                client.wrap_socket(raw, server_hostname="proxy.fate.org") as tls:
            assert _common_name(tls) == "proxy.fate.org"
    diags = (var / "log" / "diags.log").read_text()
    assert "ERROR" not in diags, diags[-3000:]


# ------------------------------------------------------------------------------------------------------ ZooKeeper


def test_zookeeper_answers_the_probe_and_the_four_letter_words_it_needs(tmp_path):
    """bitnami's scripts turn ZOO_* into zoo.cfg (zookeeper-env.sh, libzookeeper.sh); the same mapping for the keys
    the render sets, then ZooKeeper itself answers `ruok` (the liveness probe) and `srvr`."""
    need("java")
    jar = Path("/usr/share/java/zookeeper.jar")
    assert jar.exists(), "Debian package zookeeper is not installed"
    _, zk = started("Pulumi.serving-9999.yaml", "serving-zookeeper", tmp_path)
    env = zk["zookeeper"].call.env
    port = free_port()
    (tmp_path / "data").mkdir()
    (tmp_path / "zoo.cfg").write_text("\n".join([
        f"tickTime={env['ZOO_TICK_TIME']}", f"initLimit={env['ZOO_INIT_LIMIT']}", f"syncLimit={env['ZOO_SYNC_LIMIT']}",
        f"maxClientCnxns={env['ZOO_MAX_CLIENT_CNXNS']}", f"4lw.commands.whitelist={env['ZOO_4LW_COMMANDS_WHITELIST']}",
        f"dataDir={tmp_path / 'data'}", f"clientPort={port}", "clientPortAddress=127.0.0.1",  # loopback, free port
        f"autopurge.purgeInterval={env['ZOO_AUTOPURGE_INTERVAL']}", "admin.enableServer=false", ""]))
    assert env["ZOO_SERVER_ID"] == "1" and env["ALLOW_ANONYMOUS_LOGIN"] == "yes"
    classpath = ":".join(str(p) for p in [jar, *Path("/usr/share/java").glob("*.jar")])
    with daemon(
        ["java", "-cp", classpath, "org.apache.zookeeper.server.ZooKeeperServerMain", str(tmp_path / "zoo.cfg")],
        port,
        tmp_path / "zk.log",
    ):
        def ask(word: str) -> bytes:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(word.encode())
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
            return data

        deadline = time.time() + 60  # the probe retries too: the port opens before the server serves
        while ask("srvr").startswith(b"This ZooKeeper instance is not currently serving") and time.time() < deadline:
            time.sleep(0.5)
        for word, answer in (("ruok", b"imok"), ("srvr", b"Zookeeper version")):
            data = ask(word)
            assert data.startswith(answer), (word, data)


# ------------------------------------------------------------------------------------------------------ RabbitMQ


def test_rabbitmq_lets_fate_flow_in_with_its_credentials(tmp_path):
    need("rabbitmq-server")
    pika = pytest.importorskip("pika", reason="pika (PyPI), FATE's RabbitMQ client, is in requirements.txt")
    case = "Pulumi.party-9999-spark-rabbitmq.yaml"
    _, rabbit = started(case, "rabbitmq", tmp_path)
    _, flow = started(case, "python", tmp_path)
    env = rabbit["rabbitmq"].call.env
    port, dist, epmd, mgmt = free_port(), free_port(), free_port(), free_port()
    plugins = tmp_path / "enabled_plugins"
    plugins.write_bytes(rabbit["rabbitmq"].read("/etc/rabbitmq/enabled_plugins"))
    # the 3.8 image's entrypoint writes RABBITMQ_DEFAULT_USER/PASS as default_user/default_pass; RabbitMQ 3.10
    # reads the same variables itself. Loopback and free ports for every listener.
    (tmp_path / "rabbitmq.conf").write_text(f"listeners.tcp.1 = 127.0.0.1:{port}\nmanagement.tcp.ip = 127.0.0.1\n"
                                             f"management.tcp.port = {mgmt}\nloopback_users = none\n")
    home = tmp_path / "home"
    home.mkdir()
    run_env = {
        "HOME": str(home),
        "RABBITMQ_NODENAME": f"fate{port}@localhost",
        "RABBITMQ_MNESIA_BASE": str(tmp_path / "mnesia"),
        "RABBITMQ_LOG_BASE": str(tmp_path / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
        "RABBITMQ_CONFIG_FILE": str(tmp_path / "rabbitmq"),
        "RABBITMQ_DIST_PORT": str(dist),
        "ERL_EPMD_PORT": str(epmd),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_DEFAULT_USER": env["RABBITMQ_DEFAULT_USER"],
        "RABBITMQ_DEFAULT_PASS": env["RABBITMQ_DEFAULT_PASS"],
    }
    conf = yaml.safe_load(flow["fateflow"].read("/data/projects/fate/conf/service_conf.yaml"))["fate_on_spark"][
        "rabbitmq"
    ]
    # the server script itself: Debian's /usr/sbin wrapper would switch to its rabbitmq user
    with daemon(["/usr/lib/rabbitmq/bin/rabbitmq-server"], port, tmp_path / "rabbitmq.log", env=run_env, timeout=120):
        credentials = pika.PlainCredentials(conf["user"], conf["password"])
        connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port, credentials=credentials))
        channel = connection.channel()
        channel.queue_declare("fate-contract")
        connection.close()
        enabled = subprocess.run(
            ["/usr/lib/rabbitmq/bin/rabbitmq-plugins", "-n", f"fate{port}@localhost", "list", "-e", "-m"],
            capture_output=True,
            text=True,
            env={**os.environ, **run_env},
        )
        assert "rabbitmq_federation" in enabled.stdout, enabled.stdout + enabled.stderr
    subprocess.run(["pkill", "-f", f"fate{port}@localhost"], check=False)
    subprocess.run(
        ["epmd", "-port", str(epmd), "-kill"], check=False, capture_output=True, env={**os.environ, **run_env}
    )


# ------------------------------------------------------------------------------------------------------ rollsite TLS


def test_rollsite_certificates_verify_and_do_mutual_tls_for_the_hosts_peers_dial(tmp_path):
    need("openssl")
    case = "issued-eggroll-tls"
    stack, rollsite = started(case, "rollsite", tmp_path)
    run = rollsite["rollsite"]
    certs = {name: tmp_path / name for name in ("ca.pem", "server.crt", "server.key", "client.crt", "client.key")}
    for name, path in certs.items():
        path.write_bytes(run.read(f"/data/projects/fate/eggroll/conf/cert/{name}"))
    for cert in ("server.crt", "client.crt"):
        res = subprocess.run(["openssl", "verify", "-CAfile", str(certs["ca.pem"]), str(certs[cert])],
                             capture_output=True, text=True)
        assert res.returncode == 0 and res.stdout.strip().endswith(": OK"), res.stdout + res.stderr
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(certs["server.crt"], certs["server.key"])
    server.load_verify_locations(certs["ca.pem"])
    server.verify_mode = ssl.CERT_REQUIRED  # eggroll.core.security.secure.client.auth.enabled=true
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    seen: list[str] = []

    def serve(n: int) -> None:
        for _ in range(n):
            conn, _ = listener.accept()
            try:
                with server.wrap_socket(conn, server_side=True) as tls:
                    seen.append(_common_name(tls))
                    tls.sendall(b"ok")
            except ssl.SSLError as err:
                seen.append(f"refused: {err.reason}")

    dialled = [stack.cfg.public_host, f"rollsite.{stack.cfg.target_namespace}",
               f"rollsite.{stack.cfg.target_namespace}.svc.cluster.local"]
    thread = threading.Thread(target=serve, args=(len(dialled) + 1,), daemon=True)
    thread.start()
    client = ssl.create_default_context(cafile=str(certs["ca.pem"]))
    client.load_cert_chain(certs["client.crt"], certs["client.key"])
    for host in dialled:  # a peer checks the certificate against the host its route dials
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                client.wrap_socket(raw, server_hostname=host) as tls:
            assert tls.recv(2) == b"ok"
    anonymous = ssl.create_default_context(cafile=str(certs["ca.pem"]))  # no client certificate: refused
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            with anonymous.wrap_socket(raw, server_hostname=dialled[0]) as tls:
                tls.recv(2)
        except (ssl.SSLError, ConnectionError):
            pass
    thread.join(10)
    assert seen[:len(dialled)] == ["rollsite-client"] * len(dialled) and seen[-1].startswith("refused"), seen


# ------------------------------------------------------------------------------------------------------ fate-client


def test_fate_client_init_writes_the_fate_flow_address(tmp_path):
    """The client container's real command with fate-client 1.11.2 (PyPI, FATE's own code) as `flow` and `pipeline`:
    both write the address of FATE Flow's Service into their settings."""
    flow_bin = FATE_CLIENT / "bin" / "flow"
    assert flow_bin.exists(), f"fate-client 1.11.2 is not installed in {FATE_CLIENT} (.ci/run installs it)"
    stack, rendered = _rendered("Pulumi.party-9999-eggroll.yaml")
    client = next(o for o in rendered.raw_objects if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "client")
    container = client["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    command = container["command"][-1].split("&& exec jupyter")[0]  # the notebook itself is not started
    res = subprocess.run(
        ["bash", "-c", command],
        env={**os.environ, **env, "PATH": f"{FATE_CLIENT / 'bin'}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    site = subprocess.run([str(FATE_CLIENT / "bin" / "python"), "-c",
                           "import flow_client, pipeline; print(flow_client.__path__[0]); print(pipeline.__path__[0])"],
                          capture_output=True, text=True, check=True).stdout.splitlines()
    site = [line for line in site if line.startswith("/")]  # fate-client prints a notice about torch first
    flow_settings = yaml.safe_load(Path(site[0], "settings.yaml").read_text())
    pipeline_settings = yaml.safe_load(Path(site[1], "config.yaml").read_text())
    assert (flow_settings["ip"], flow_settings["port"]) == ("fateflow", 9380)
    assert (pipeline_settings["ip"], pipeline_settings["port"]) == ("fateflow", 9380)


def _party_ids_as_int(conf: dict) -> dict:
    """FATE Flow casts the conf's party ids to int before it uses them (DAGScheduler check_job_conf)."""
    conf = json.loads(json.dumps(conf))
    conf["initiator"]["party_id"] = int(conf["initiator"]["party_id"])
    conf["role"] = {role: [int(i) for i in ids] for role, ids in conf["role"].items()}
    return conf


def test_fate_verify_submits_the_toy_job_fate_client_submits():
    """fate:verify's toy test is FATE's: fate-client 1.11.2's own `flow test toy` (its SDK, pointed at a FATE Flow
    stand-in) submits the same DSL and conf as the runner does for toy_job."""
    assert (FATE_CLIENT / "bin" / "python").exists(), f"fate-client 1.11.2 is not installed in {FATE_CLIENT}"
    with FakeFlow() as flow:
        res = subprocess.run([str(FATE_CLIENT / "bin" / "python"), "-c",
                              "from flow_sdk.client import FlowClient; "
                              f"FlowClient('127.0.0.1', {flow.port}, 'v1').test.toy('9999', '10000')"],
                             capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    [theirs] = flow.bodies("/v1/job/submit")
    ours = toy_job(9999, 10000)
    assert theirs["job_dsl"] == ours.dsl
    assert _party_ids_as_int(theirs["job_runtime_conf"]) == ours.conf
