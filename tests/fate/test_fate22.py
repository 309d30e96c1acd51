"""Real-FATE tier: FATE 2.2 itself reads what fate-pulumi renders for two `release: "2.2"` parties, and runs FATE's
toy test between them.

Run with `python -m pytest -q --fate tests/fate` after `tools/fate-2.2.sh` (FATE Flow 2.2, FATE 2.2 and fate-client
2.2 from PyPI in $FATE_PULUMI_CACHE/fate-2.2); needs bubblewrap, Debian's mariadb-server, rabbitmq-server and nginx
with the Lua module (as the real-software tier, tests/contract/test_daemons.py). A missing piece fails the test:
this tier only runs where it was asked for.

Each party is a set of loopback addresses (127.x.y.1 FATE Flow's pod IP, .2 nginx, .3 RabbitMQ, .4 MySQL), so every
process listens on the port the render gives it, as in its pod, and the Service names resolve (a hosts file) to
those addresses. What runs, and how faithful it is:
- FATE Flow 2.2 (PyPI's, the code the image carries) runs the rendered container command verbatim under bubblewrap,
  in the image's layout (/data/projects/fate/fate_flow: the package under python/, conf/ and fateflow.env as the
  package ships them, the Secret's service_conf.yaml at conf-tmp/, the ConfigMap's rabbitmq_route_table.yaml at
  its mount path) with the image's environment (PYTHONPATH, FATE_PROJECT_BASE: Builder
  docker-build/modules/fateflow/Dockerfile L43-47) and the pod IP the downward API would give.
- nginx: Debian's, with the rendered nginx.conf and the route table the rendered start command resolved (run
  verbatim under bubblewrap too); FATE's Lua is replaced by OUR STAND-IN (tests/contract/test_daemons.py
  STAND_IN_LUA: this repository cannot ship FATE's), and the image's vhost file (coordination_http_proxy.conf,
  FATE@v2.2.0 c/proxy/conf/vhost) is written here with the party's address.
- RabbitMQ: Debian's, one broker per party (replication mode, as rendered), with the rendered plugins and user.
- MySQL: Debian's MariaDB, one per party, set up as the mysql image's first start does from the rendered env.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import party, render
from tests.contract.sandbox import _data, _env_value
from tests.contract.test_daemons import (
    NGINX_MODULES,
    STAND_IN_LUA,
    STAND_IN_ROUTE_TABLE,
    MariaDB,
    daemon,
    free_port,
    in_pod_layout,
    need,
)

CACHE = Path(os.environ.get("FATE_PULUMI_CACHE", Path.home() / ".cache" / "fate-pulumi"))
VENV = Path(os.environ.get("FATE_22_VENV", CACHE / "fate-2.2"))
GUEST, HOST = 9999, 10000
FATE_HOME = "/data/projects/fate"  # the image's WORKDIR
NGINX_HOME = "/data/projects/fate/proxy/nginx"
ROLES = {"flow": 1, "nginx": 2, "rabbitmq": 3, "mysql": 4}  # last byte of each process's loopback address
TOY_TIMEOUT = 900  # seconds: the toy test took 56-73 s on a loaded 2-core machine (reference), tasks start slowly


def _venv_python() -> Path:
    python = VENV / "bin" / "python"
    assert python.exists(), f"no FATE 2.2 venv at {VENV}: run tools/fate-2.2.sh first"
    return python


def _site_packages() -> Path:
    out = subprocess.run([str(_venv_python()), "-c", "import fate_flow, os; print(os.path.dirname(os.path.dirname("
                          "fate_flow.__file__)))"], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def _base_prefix() -> Path:
    out = subprocess.run([str(_venv_python()), "-c", "import sys; print(sys.base_prefix)"], capture_output=True,
                         text=True, check=True)
    return Path(out.stdout.strip())


# --------------------------------------------------------------------------------------------- the two parties


def _addresses() -> dict[int, dict[str, str]]:
    """Two sets of loopback addresses whose rendered ports are free."""
    for _ in range(50):
        a = random.randint(16, 250)
        out = {pid: {role: f"127.{a}.{10 + i}.{n}" for role, n in ROLES.items()} for i, pid in enumerate((GUEST, HOST))}
        if all(_free(addr) for roles in out.values() for addr in roles.values()):
            return out
    raise RuntimeError("no free loopback addresses")


def _free(addr: str) -> bool:
    for port in (3306, 5672, 15672, 9300, 9310, 9360, 9380, 25672):
        with socket.socket() as s:
            try:
                s.bind((addr, port))
            except OSError:
                return False
    return True


def stack_values(pid: int, peer: int, addrs: dict[int, dict[str, str]]) -> dict[str, Any]:
    """A FATE 2.2 party as a user writes it: its peer's nginx (where FATE Flow's partner calls go) and its peer's
    broker (where RabbitMQ federates the job's queues from), at the peer's addresses (NodePorts in a cluster)."""
    values = party(partyId=pid, release="2.2", backend="spark_rabbitmq")
    for unused in ("fateboardPassword", "notebookHashedPassword"):  # no fateboard, no client in a 2.2 party yet
        values.pop(unused)
    values["nginx"] = {"routeTable": {peer: {"fateflow": [{"host": addrs[peer]["nginx"], "httpPort": 9300,
                                                            "grpcPort": 9310}]}}}
    values["rabbitmq"] = {"routeTable": {peer: {"host": addrs[peer]["rabbitmq"], "port": 5672}}}
    return values


class Party:
    """One rendered 2.2 party: its objects, and where its processes listen."""

    def __init__(self, pid: int, peer: int, addrs: dict[int, dict[str, str]], tmp: Path):
        self.pid, self.addr, self.dir = pid, addrs[pid], tmp / str(pid)
        self.dir.mkdir()
        rendered = render(stack_values(pid, peer, addrs))
        self.objects = {(o["kind"], o["metadata"]["name"]): o for o in rendered.raw_objects}
        (self.dir / "hosts").write_text(
            "127.0.0.1 localhost\n" + "".join(f"{self.addr[role]} {name}\n" for role, name in
                                              (("flow", "fateflow"), ("nginx", "nginx"), ("rabbitmq", "rabbitmq"),
                                               ("mysql", "mysql"))))

    def data(self, kind: str, name: str) -> dict[str, str]:
        return _data(self.objects[(kind, name)])

    def workload(self, kind: str, name: str) -> dict:
        return self.objects[(kind, name)]["spec"]["template"]["spec"]

    def container(self, kind: str, name: str, container: str) -> dict:
        spec = self.workload(kind, name)
        return next(c for c in spec["containers"] if c["name"] == container)

    def env(self, kind: str, name: str, container: str) -> dict[str, str]:
        c = self.container(kind, name, container)
        values = {e["name"]: _env_value(e, self.objects, name) for e in c.get("env", [])}
        return {k: v for k, v in values.items() if v is not None}

    def port(self, service: str, name: str) -> int:
        spec = self.objects[("Service", service)]["spec"]
        return int(next(p["port"] for p in spec["ports"] if p["name"] == name))


# ------------------------------------------------------------------------------------------------- the daemons


@contextmanager
def mysql(p: Party) -> Iterator[MariaDB]:
    env = p.env("StatefulSet", "mysql", "mysql")
    db = MariaDB(p.dir, host=p.addr["mysql"], port=p.port("mysql", "tcp-mysql"))
    with db.running():
        init = [text for name, text in sorted(p.data("ConfigMap", "mysql-config").items()) if name.endswith(".sql")]
        db.first_start(env, init)
        yield db


@contextmanager
def rabbitmq(p: Party) -> Iterator[dict[str, str]]:
    """The party's broker with the rendered plugins and user; its per-job vhosts and users are deleted (and
    checked gone) before it stops, then the node and its epmd."""
    need("/usr/lib/rabbitmq/bin/rabbitmq-server")
    env = p.env("Deployment", "rabbitmq", "rabbitmq")
    d = p.dir / "rabbitmq"
    d.mkdir()
    (d / "home").mkdir()
    plugins = d / "enabled_plugins"
    plugins.write_text(p.data("ConfigMap", "rabbitmq-config")["enabled_plugins"])
    amqp, mng = p.port("rabbitmq", "tcp-rabbitmq"), p.port("rabbitmq", "tcp-rabbitmq1")
    (d / "rabbitmq.conf").write_text(f"listeners.tcp.1 = {p.addr['rabbitmq']}:{amqp}\nmanagement.tcp.ip = "
                                     f"{p.addr['rabbitmq']}\nmanagement.tcp.port = {mng}\nloopback_users = none\n")
    node = f"fate22-{p.pid}-{os.getpid()}@localhost"
    epmd = free_port()
    run_env = {
        "PATH": os.environ["PATH"], "HOME": str(d / "home"), "RABBITMQ_NODENAME": node,
        "RABBITMQ_MNESIA_BASE": str(d / "mnesia"), "RABBITMQ_LOG_BASE": str(d / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins), "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq"),
        "RABBITMQ_DIST_PORT": str(free_port()), "ERL_EPMD_PORT": str(epmd), "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_DEFAULT_USER": env["RABBITMQ_DEFAULT_USER"], "RABBITMQ_DEFAULT_PASS": env["RABBITMQ_DEFAULT_PASS"],
    }
    user, password = env["RABBITMQ_DEFAULT_USER"], env["RABBITMQ_DEFAULT_PASS"]
    try:
        with daemon(["/usr/lib/rabbitmq/bin/rabbitmq-server"], mng, d / "rabbitmq.log", env=run_env, timeout=240,
                    host=p.addr["rabbitmq"], clean_env=True):
            api = RabbitApi(f"http://{p.addr['rabbitmq']}:{mng}/api", user, password)
            try:
                yield {"user": user, "password": password, "api": api.base}
            finally:
                for vhost in api.get("/vhosts"):  # what FATE's cleanup left (a failed or killed task)
                    if vhost["name"] != "/":
                        api.delete(f"/vhosts/{urllib.parse.quote(vhost['name'], safe='')}")
                for u in api.get("/users"):
                    if u["name"] != user:
                        api.delete(f"/users/{urllib.parse.quote(u['name'], safe='')}")
                assert [v["name"] for v in api.get("/vhosts")] == ["/"]
                subprocess.run(["/usr/lib/rabbitmq/bin/rabbitmqctl", "-n", node, "stop"], env=run_env,
                               capture_output=True, timeout=120)
    finally:
        subprocess.run(["epmd", "-port", str(epmd), "-kill"], capture_output=True, env=run_env)


class RabbitApi:
    def __init__(self, base: str, user: str, password: str):
        import base64

        self.base = base
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def _call(self, method: str, path: str) -> Any:
        req = urllib.request.Request(self.base + path, method=method, headers={"Authorization": self.auth})
        with urllib.request.urlopen(req, timeout=30) as res:
            body = res.read()
        return json.loads(body) if body else None

    def get(self, path: str) -> Any:
        return self._call("GET", path)

    def delete(self, path: str) -> None:
        self._call("DELETE", path)


def _sandbox(binds: dict[str, Path], read_only: tuple[str, ...], hosts: Path, workdir: str) -> list[str]:
    """bwrap: the pod's filesystem (host programs read-only, `binds` at the pod's paths), its DNS (`hosts`), the host
    network (loopback addresses are the pod IPs), the FATE 2.2 venv and its Python where they are on the host."""
    extra = {str(VENV): VENV, str(_base_prefix()): _base_prefix()}
    args = in_pod_layout({**extra, **binds}, read_only=(*read_only, *extra))
    return [*args, "--ro-bind", str(hosts), "/etc/hosts", "--chdir", workdir]


def _world_readable_root() -> list[str]:
    """bwrap arguments: a pod's root whose directories everyone may traverse, as in an image (nginx's workers run as
    nobody and read the Lua modules and files; bwrap makes the parents of a bind 0700), the host's /usr and /etc
    read-only."""
    dirs = ("/data", "/data/projects", "/data/projects/fate", "/data/projects/fate/proxy", "/opt", "/var", "/var/lib")
    return ["bwrap", "--die-with-parent", "--tmpfs", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin", "--symlink", "usr/lib", "/lib",
            "--symlink", "usr/lib64", "/lib64", "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc",
            *(a for d in dirs for a in ("--perms", "0755", "--dir", d))]


@contextmanager
def nginx(p: Party) -> Iterator[None]:
    """The rendered nginx pod: its start command (resolve the route table's names, then `openresty`, here Debian's
    nginx with the Lua and stream modules) with the rendered nginx.conf and route table."""
    need("nginx", "bwrap", *(f"/usr/lib/nginx/modules/{m}" for m in NGINX_MODULES))
    home = p.dir / "nginx"
    (home / "conf" / "vhost").mkdir(parents=True)
    (home / "conf" / "configmap").mkdir()
    (home / "conf" / "modifiable").mkdir()
    (home / "lua").mkdir()
    cm = p.data("ConfigMap", "nginx-config")
    http = p.port("nginx", "http")
    conf = cm["nginx.conf"]
    assert "listen 9128;" in conf
    modules = "".join(f"load_module /usr/lib/nginx/modules/{m};\n" for m in NGINX_MODULES)
    # the stream proxy's port (unused by FATE Flow) on a free loopback port: only its listening address changes
    stream = f"listen 127.0.0.1:{free_port()};"
    (home / "conf" / "nginx.conf").write_text(modules + conf.replace("listen 9128;", stream))
    (home / "conf" / "configmap" / "route_table.yaml").write_text(cm["route_table.yaml"])
    shutil.copy("/etc/nginx/mime.types", home / "conf")  # part of OpenResty's own install
    # the image's vhost (FATE@v2.2.0 c/proxy/conf/vhost/coordination_http_proxy.conf), on the party's address
    (home / "conf" / "vhost" / "coordination_http_proxy.conf").write_text(
        f"server {{ listen {p.addr['nginx']}:{http}; location / {{ access_by_lua_file 'lua/router.lua'; "
        "proxy_set_header Connection \"\"; proxy_next_upstream off; proxy_pass http://http_cluster; } }\n")
    # FATE's route_table.lua line the start command rewrites (L38-39), then our stand-in
    (home / "lua" / "route_table.lua").write_text(
        'local route_table_path = ngx.config.prefix() .. "conf/route_table.yaml"\n' + STAND_IN_ROUTE_TABLE)
    for name, text in STAND_IN_LUA.items():
        (home / "lua" / name).write_text(text)
    shim = p.dir / "nginx-bin"
    shim.mkdir()
    (shim / "openresty").write_text(f"#!/bin/sh\nexec nginx -p {NGINX_HOME}/ -e stderr -c conf/nginx.conf "
                                    f"-g \"pid /tmp/nginx.pid; $2\"\n")
    (shim / "openresty").chmod(0o755)
    command = p.container("Deployment", "nginx", "nginx")["command"]
    (p.dir / "nginx-var").mkdir()  # Debian's nginx keeps its temporary files in /var/lib/nginx (compiled in)
    sandbox = [*_world_readable_root(), "--bind", str(home), NGINX_HOME, "--ro-bind", str(shim), "/opt/shim",
               "--bind", str(p.dir / "nginx-var"), "/var/lib/nginx"]
    args = [*sandbox, "--ro-bind", str(p.dir / "hosts"), "/etc/hosts", "--chdir", NGINX_HOME, *command]
    with daemon(args, http, p.dir / "nginx.log", env={"PATH": "/opt/shim:/usr/sbin:/usr/bin:/bin"}, timeout=120,
                host=p.addr["nginx"], clean_env=True):
        resolved = yaml.safe_load((home / "conf" / "modifiable" / "route_table.yaml").read_text())
        assert resolved[p.pid]["fateflow"][0]["host"] == p.addr["flow"], resolved
        yield


def fate_flow_home(p: Party) -> Path:
    """/data/projects/fate of the fateflow image, from PyPI's packages: fate_flow/python/fate_flow (a copy: FATE Flow
    finds its directory three levels above its utils/, Flow@v2.2.0 utils/file_utils.py L55-74), fate_flow/conf and
    fateflow.env as the package ships them, fate/python/fate (FATE's algorithms, the `fate` provider)."""
    site = _site_packages()
    home = p.dir / "fate"
    flow = home / "fate_flow"
    shutil.copytree(site / "fate_flow", flow / "python" / "fate_flow",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(site / "fate_flow" / "conf", flow / "conf")
    (flow / "conf" / "service_conf.yaml").unlink()  # the rendered one replaces it at start
    shutil.copy(site / "fate_flow" / "fateflow.env", flow / "fateflow.env")
    (home / "fate" / "python").mkdir(parents=True)
    (home / "fate" / "python" / "fate").symlink_to(site / "fate")
    return home


@contextmanager
def fate_flow(p: Party) -> Iterator[Path]:
    """The rendered fateflow container: its command verbatim, its mounts at their paths, the pod IP."""
    need("bwrap")
    home = fate_flow_home(p)
    secret = p.dir / "python-secret"
    secret.mkdir()
    (secret / "service_conf.yaml").write_text(p.data("Secret", "python-secret")["service_conf.yaml"])
    routes = p.dir / "rabbitmq_route_table.yaml"
    routes.write_text(p.data("ConfigMap", "rabbitmq-route-table")["rabbitmq_route_table.yaml"])
    c = p.container("StatefulSet", "python", "fateflow")
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    binds: dict[str, Path] = {FATE_HOME: home}
    for path, m in mounts.items():
        if m["name"] == "python-secret":
            binds[path] = secret
        elif m["name"] == "rabbitmq-route-table":
            binds[path] = routes
        else:  # the data volume's subPaths
            (home / "volume" / m["subPath"]).mkdir(parents=True)
            binds[path] = home / "volume" / m["subPath"]
    ro = tuple(path for path, m in mounts.items() if m.get("readOnly"))
    env = {e["name"]: e for e in c["env"]}
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    run_env = {"PATH": f"{VENV}/bin:/usr/bin:/bin", "HOME": "/tmp", "POD_IP": p.addr["flow"],
               # the image's ENV (Builder docker-build/modules/fateflow/Dockerfile L43-47)
               "FATE_PROJECT_BASE": FATE_HOME, "PYTHONPATH": f"{FATE_HOME}/fate/python:{FATE_HOME}/fate_flow/python"}
    args = [*_sandbox(binds, ro, p.dir / "hosts", FATE_HOME), *c["command"]]
    probe = c["readinessProbe"]["httpGet"]
    with daemon(args, int(probe["port"]), p.dir / "fateflow.log", env=run_env, timeout=600, host=p.addr["flow"],
                clean_env=True):
        with urllib.request.urlopen(f"http://{p.addr['flow']}:{probe['port']}{probe['path']}", timeout=30) as res:
            assert json.loads(res.read())["code"] == 0
        yield home


# ------------------------------------------------------------------------------------------------------ the test


def _flow_client(code: str, *args: str) -> Any:
    """fate-client 2.2's FlowClient (FATE's code) in the FATE venv: `code` is the body of a function of (client,
    *args) that returns JSON-able data."""
    script = ("import json, sys\nfrom fate_client.flow_sdk import FlowClient\n"
              "client = FlowClient(ip=sys.argv[1], port=int(sys.argv[2]), version='v2')\n"
              f"print(json.dumps({code}))\n")
    out = subprocess.run([str(_venv_python()), "-c", script, *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _logs(parties: Iterable[Party]) -> str:
    return "\n".join(f"--- {f}\n{f.read_text(errors='replace')[-2500:]}" for p in parties
                     for f in (p.dir / "fateflow.log", p.dir / "nginx.log") if f.exists())


def test_fate_22_toy_test_runs_between_two_rendered_parties(tmp_path):
    """Guest 9999 submits FATE's toy test (fate-client 2.2 `FlowClient.test.toy`, the job `flow test toy` submits)
    to its FATE Flow 2.2; the job's control messages go FATE Flow -> own nginx -> peer's nginx -> peer's FATE Flow,
    its data through each party's RabbitMQ (per-job vhosts, federated queues), its tables in each FATE Flow's
    standalone computing, its records in each party's MySQL. It must end `success` on both parties."""
    _venv_python()
    addrs = _addresses()
    parties = {GUEST: Party(GUEST, HOST, addrs, tmp_path), HOST: Party(HOST, GUEST, addrs, tmp_path)}
    guest = parties[GUEST]
    with ExitStack() as stack:
        for p in parties.values():
            stack.enter_context(mysql(p))
            stack.enter_context(rabbitmq(p))
            stack.enter_context(nginx(p))
        homes = {pid: stack.enter_context(fate_flow(p)) for pid, p in parties.items()}
        for pid, home in homes.items():  # the start command put the pod IP where FATE Flow reads its address
            conf = yaml.safe_load((home / "fate_flow" / "conf" / "service_conf.yaml").read_text())
            assert conf["fateflow"]["host"] == parties[pid].addr["flow"]
        flow = (guest.addr["flow"], str(guest.port("fateflow-client", "tcp-http")))
        submitted = _flow_client("client.test.toy(guest_party_id=sys.argv[3], host_party_id=sys.argv[4])",
                                 *flow, str(GUEST), str(HOST))
        assert submitted.get("code") == 0, f"{submitted}\n{_logs(parties.values())}"
        job_id = submitted["job_id"]
        status, deadline = None, time.time() + TOY_TIMEOUT
        while time.time() < deadline:
            answer = _flow_client("client.job.query(job_id=sys.argv[3], party_id=sys.argv[4])", *flow, job_id,
                                  str(GUEST))
            status = answer["data"][0]["status"] if answer.get("code") == 0 and answer.get("data") else None
            if status in ("success", "failed", "canceled", "timeout"):
                break
            time.sleep(3)
        if status != "success":
            tasks = _flow_client("client.task.query(job_id=sys.argv[3])", *flow, job_id)
            pytest.fail(f"toy job {job_id} ended {status!r}: {json.dumps(tasks)[-3000:]}\n{_logs(parties.values())}")
        host_view = _flow_client("client.job.query(job_id=sys.argv[3], party_id=sys.argv[4])",
                                 parties[HOST].addr["flow"], flow[1], job_id, str(HOST))
        assert host_view["data"][0]["status"] == "success", host_view
        # the job's queues went through both brokers: each broker's log has FATE adding a vhost for the job and a
        # client of the job's user admitted to it (FATE deletes the vhost again when a task's context is destroyed,
        # fate/arch/context/_context.py `destroy` -> RabbitManager.clean, so the live list may already lack it)
        for p in parties.values():
            log = "".join(f.read_text() for f in (p.dir / "rabbitmq" / "log").glob("*.log")
                          if not f.name.endswith("_upgrade.log"))
            assert re.search(rf"Adding vhost '{job_id}[^']*'", log), (p.pid, "no vhost of the job")
            assert re.search(rf"authenticated and granted access to vhost '{job_id}", log), (p.pid, "no client")

if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "--fate", "-q"]))
