"""What a real node keeps and loses: a container killed (SIGKILL through containerd, a crash) is restarted by the
kubelet in the same pod and finds its volume's data; a new pod finds the data of a PersistentVolumeClaim but not of
an emptyDir. This is what a persistence-off party's MySQL does (KubeFATE's chart, and fate-pulumi with
`persistence.enabled: false`): its database lives as long as the pod. On kwok no container runs, restarts or loses
anything, so none of these can be seen there.
"""

from __future__ import annotations

from tests.node.conftest import Node, container_id, party_objects

MARKER = "CREATE TABLE t_marker (id INT PRIMARY KEY); INSERT INTO t_marker VALUES (1), (2), (3);"
COUNT = "SELECT COUNT(*) FROM t_marker"
EXISTS = ("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() "
          "AND table_name = 't_marker'")


def crash(node: Node, ns: str, pod: dict) -> dict:
    """SIGKILL the mysql container; the same pod, restarted and Ready again."""
    before = node.restarts(pod, "mysql")
    node.real.kill_container(container_id(pod, "mysql"))
    node.cluster.wait(lambda: node.restarts(pod, "mysql") > before, "the kubelet restarts the container", 120)
    again = node.ready_pod(ns, "mysql")
    assert again["metadata"]["uid"] == pod["metadata"]["uid"]
    return again


def replace(node: Node, ns: str, pod: dict) -> dict:
    """Delete the pod; the StatefulSet's new one, Ready."""
    node.kubectl("delete", "pod", "-n", ns, pod["metadata"]["name"], "--wait=false")
    return node.ready_pod(ns, "mysql", other_than=pod["metadata"]["uid"])


def test_a_claim_keeps_its_data_across_a_crash_and_a_new_pod(node: Node):
    ns = "fate-10002"
    node.apply(party_objects(10002, ("mysql",)))  # persistence on: data-mysql-0 on a local PersistentVolume
    pod = node.ready_pod(ns, "mysql")
    node.sql(ns, pod["metadata"]["name"], MARKER)
    pod = crash(node, ns, pod)
    assert node.sql(ns, pod["metadata"]["name"], COUNT) == [["3"]]
    pod = replace(node, ns, pod)
    assert node.sql(ns, pod["metadata"]["name"], COUNT) == [["3"]]


def test_persistence_off_the_database_outlives_a_crash_but_not_the_pod(node: Node):
    ns = "fate-10003"
    node.apply(party_objects(10003, ("mysql",), persistence={"enabled": False}))  # data in an emptyDir
    pod = node.ready_pod(ns, "mysql")
    node.sql(ns, pod["metadata"]["name"], MARKER)
    pod = crash(node, ns, pod)
    assert node.sql(ns, pod["metadata"]["name"], COUNT) == [["3"]]  # an emptyDir outlives its containers
    pod = replace(node, ns, pod)
    assert node.sql(ns, pod["metadata"]["name"], EXISTS) == [["0"]]  # a new pod: a new, empty database
