"""A rendered NetworkPolicy enforced by kube-router's firewall on the real node, tried with `nc` from pod to pod:
the mysql module's policy admits the two programs FATE connects to its database with (FATE Flow and eggroll's
clustermanager: components/mysql.py CLIENTS) and nothing else, to the pod and through the Service. The same
clients reach it before the policy and after its removal, so a refusal is the policy's. On kwok nothing enforces a
policy and no pod can connect anywhere.

Stand-ins: the clients are busybox pods carrying the labels of FATE Flow (`python`), the clustermanager and
FATE-Board, which the policy selects on; the server is the MariaDB stand-in of the rendered mysql module.
"""

from __future__ import annotations

import json
import time

from components.mysql import CLIENTS
from tests.node.conftest import Node, client_pod, party_objects

NS, OTHER_NS = "fate-10004", "fate-10040"
INSTANCE = "fate-10004"


def reaches(node: Node, ns: str, client: str, host: str, port: int = 3306) -> bool:
    return node.exec(ns, client, "client", f"nc -z -w 2 {host} {port}", check=False).returncode == 0


def eventually(check, want: bool, timeout: float = 45) -> bool:
    """`check()` once it equals `want` (a policy takes a moment to be programmed); its last value otherwise."""
    deadline = time.time() + timeout
    while True:
        got = check()
        if got == want or time.time() > deadline:
            return got
        time.sleep(1)


def test_the_mysql_policy_admits_fate_flow_and_the_clustermanager_and_refuses_the_rest(node: Node):
    objects = party_objects(10004, ("mysql",), persistence={"enabled": False})
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    assert [p["metadata"]["name"] for p in policies] == ["mysql"]
    node.apply([o for o in objects if o["kind"] != "NetworkPolicy"])
    clients = {app: client_pod(NS, f"as-{app}", {"app.kubernetes.io/instance": INSTANCE,
                                                  "app.kubernetes.io/name": app})
               for app in (*CLIENTS, "fateboard")}
    stranger = client_pod(OTHER_NS, "as-python", {"app.kubernetes.io/instance": INSTANCE,
                                                  "app.kubernetes.io/name": "python"})
    node.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OTHER_NS}},
                *clients.values(), stranger])
    mysql = node.ready_pod(NS, "mysql")
    for pod in (*clients.values(), stranger):
        node.kubectl("wait", "--for=condition=Ready", "pod", "-n", pod["metadata"]["namespace"],
                     pod["metadata"]["name"], "--timeout=120s")
    service = json.loads(node.kubectl("get", "service", "-n", NS, "mysql", "-o", "json").stdout)["spec"]["clusterIP"]
    targets = {"pod": mysql["status"]["podIP"], "service": service}
    everyone = [(NS, f"as-{app}") for app in clients] + [(OTHER_NS, "as-python")]

    # without the policy every client connects: the path works
    for (ns, client) in everyone:
        for host in targets.values():
            assert eventually(lambda ns=ns, client=client, host=host: reaches(node, ns, client, host), True), \
                (ns, client, host)

    node.apply(policies)
    assert eventually(lambda: reaches(node, NS, "as-fateboard", targets["pod"]), False) is False
    for what, host in targets.items():
        for app in CLIENTS:
            assert reaches(node, NS, f"as-{app}", host), f"{app} -> mysql {what} refused"
        assert not reaches(node, NS, "as-fateboard", host), f"fateboard -> mysql {what} admitted"
        assert not reaches(node, OTHER_NS, "as-python", host), f"another namespace -> mysql {what} admitted"

    node.kubectl("delete", "networkpolicy", "-n", NS, "mysql")
    assert eventually(lambda: reaches(node, NS, "as-fateboard", targets["pod"]), True)
