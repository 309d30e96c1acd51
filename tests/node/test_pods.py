"""Rendered modules as real pods: their init containers assemble the config files, the programs start over them
under the securityContext as rendered, and the pods become Ready by their own probes (on kwok a pod is Ready at
once, its init containers never run, and `kubectl exec` reaches nothing, so each of these fails there).

Images: the local stand-ins of tests/node/README.md (MariaDB for mysql 8.0.28, Debian's Redis 7 for redis 5).
"""

from __future__ import annotations

import json

from components.kube import ROOT_IMAGE_CAPABILITIES
from components.mysql import CAPABILITIES as MYSQL_CAPABILITIES
from components.serving import REDIS_CONF
from tests.cluster.controlplane import STORAGE_CLASS
from tests.conftest import TEST_SECRETS, render
from tests.node import images
from tests.node.conftest import NAME_LABEL, Node, party_objects

# capability bits (linux/capability.h) of the names the rendered securityContexts use
CAP_BITS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6, "SETUID": 7,
            "NET_BIND_SERVICE": 10, "SYS_NICE": 23, "SYS_PTRACE": 19}


def status_field(status: str, name: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in status.splitlines() if line.startswith(name + ":"))


def caps(names) -> int:
    return sum(1 << CAP_BITS[n] for n in names)


def serving_objects(party_id: int) -> list[dict]:
    values = {"kind": "serving", "partyId": party_id, "registry": images.REGISTRY,
              "servingServer": {"fateflow": {"host": "192.0.2.10", "port": 30107}},
              "servingRedis": {"storage": {"storageClass": STORAGE_CLASS}},
              "servingRedisPassword": TEST_SECRETS["servingRedisPassword"],
              "servingAdminPassword": TEST_SECRETS["servingAdminPassword"]}
    rendered = render(values)
    return [o for o in rendered.raw_objects
            if o["kind"] == "Namespace" or o["metadata"].get("labels", {}).get(NAME_LABEL) == "serving-redis"]


def test_serving_redis_starts_over_the_file_its_init_container_assembled(node: Node):
    """FATE-Serving's redis: the init container (busybox) concatenates redis.conf from the ConfigMap and the
    `requirepass` line from the Secret into an in-memory volume; redis-server reads that file (the password is in
    force, the ConfigMap's `databases 50` too); the TCP probes make the pod Ready; data on its PVC."""
    objects = serving_objects(9999)
    ns = next(o["metadata"]["name"] for o in objects if o["kind"] == "Namespace")
    node.apply(objects)
    pod = node.ready_pod(ns, "serving-redis")
    init = pod["status"]["initContainerStatuses"]
    assert [(s["name"], s["state"]["terminated"]["exitCode"]) for s in init] == [("assemble-serving-redis-conf", 0)]
    name = pod["metadata"]["name"]
    password = TEST_SECRETS["servingRedisPassword"]
    no_auth = node.exec(ns, name, "serving-redis", "redis-cli ping", check=False)
    assert "NOAUTH" in no_auth.stdout + no_auth.stderr
    authed = node.exec(ns, name, "serving-redis", f"REDISCLI_AUTH='{password}' redis-cli config get databases")
    assert authed.stdout.split() == ["databases", "50"]
    # the program runs over the assembled file (mode 0644, the Secret's line in it)
    info = node.exec(ns, name, "serving-redis", f"REDISCLI_AUTH='{password}' redis-cli info server").stdout
    assert f"config_file:{REDIS_CONF}" in info.split()
    conf = node.exec(ns, name, "serving-redis", f"stat -c %a {REDIS_CONF}; grep -c '^requirepass ' {REDIS_CONF}")
    assert conf.stdout.split() == ["644", "1"]
    claims = json.loads(node.kubectl("get", "pvc", "-n", ns, "-o", "json").stdout)["items"]
    assert [(c["metadata"]["name"], c["status"]["phase"]) for c in claims] == [("serving-redis-data", "Bound")]


def test_mysql_initialises_over_its_init_sql_and_the_rendered_security_context(node: Node):
    """The mysql module: the entrypoint runs as root with exactly the rendered capabilities (all dropped, the root
    image set and SYS_NICE added back), makes the data directory the mysql user's, restarts the daemon as that user
    (non-root, no capability left), creates MYSQL_DATABASE and MYSQL_USER and runs the ConfigMap's init SQL (eggroll's
    metadata tables); the exec probes (`mysqladmin ping`) make the pod Ready."""
    objects = party_objects(10001, ("mysql",))
    node.apply(objects)
    ns = "fate-10001"
    pod = node.ready_pod(ns, "mysql")
    name = pod["metadata"]["name"]
    status = node.exec(ns, name, "mysql", "cat /proc/1/status").stdout
    expected = caps([*ROOT_IMAGE_CAPABILITIES, *MYSQL_CAPABILITIES])
    assert int(status_field(status, "CapBnd"), 16) == expected, status
    assert status_field(status, "Uid").split()[0] == "999"  # mysqld runs as mysql, not root
    assert int(status_field(status, "CapEff"), 16) == 0
    assert status_field(status, "NoNewPrivs") == "1"  # allowPrivilegeEscalation: false
    tables = {row[0] for row in node.sql(ns, name, "SHOW TABLES")}
    assert {"store_locator", "store_partition", "server_node", "session_main"} <= tables, tables
    owner = node.exec(ns, name, "mysql", "stat -c %U /var/lib/mysql/mysql").stdout.strip()
    assert owner == "mysql"
