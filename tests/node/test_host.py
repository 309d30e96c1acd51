"""The real node leaves the host as it found it: sysctls, nftables tables (iptables-nft chains), ipsets, network
links, mounts, cgroups and the host paths its programs write, all recorded before it starts and compared after it
stops; no process of it is left. (This module runs first: its node cannot run beside the session's.)"""

from __future__ import annotations

import os

from tests.cluster import realnode
from tests.cluster.controlplane import LocalCluster
from tests.node import images
from tests.node.conftest import client_pod, require_node

NS = "host-check"


def test_the_host_is_left_as_found(tmp_path, archives):
    require_node()
    before = realnode.host_state()
    cluster = LocalCluster(tmp_path / "cluster", nodes=0, volumes=1, real_node=True)
    try:
        cluster.start()
        assert cluster.node is not None
        cluster.node.load([a for a in archives if a.name.startswith("busybox")])
        server = client_pod(NS, "server", {"app": "server"})
        server["spec"]["containers"][0]["command"] = ["sh", "-c", "while true; do busybox nc -l -p 8080; done"]
        objects = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}, server,
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "server", "namespace": NS},
             "spec": {"selector": {"app": "server"}, "ports": [{"port": 8080}]}},
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "server",
                                                                                       "namespace": NS},
             "spec": {"podSelector": {"matchLabels": {"app": "server"}}, "policyTypes": ["Ingress"], "ingress": []}},
        ]
        import subprocess

        import yaml

        from tests.cluster.controlplane import BIN

        subprocess.run([str(BIN / "kubectl"), f"--kubeconfig={cluster.kubeconfig}", "apply", "--server-side",
                        "-f", "-"], input=yaml.safe_dump_all(objects), text=True, check=True, capture_output=True)
        subprocess.run([str(BIN / "kubectl"), f"--kubeconfig={cluster.kubeconfig}", "wait", "-n", NS,
                        "--for=condition=Ready", "pod/server", "--timeout=120s"], check=True, capture_output=True)
        during = realnode.state_differences(before, realnode.host_state())
        # what the node changed while it ran: proof that the comparison below can see a leftover
        assert any(d.startswith("sysctl vm/overcommit_memory") for d in during), during
        assert any(d.startswith("nftables table") for d in during), during
        assert any(d.startswith("ipset added") for d in during), during
        assert any(d.startswith("link added: veth") for d in during), during
        assert any(d.startswith("mount added") for d in during), during
        pids = [p.pid for p in cluster.node.procs.values()]
    finally:
        cluster.stop()
    assert cluster.node.residue == []
    assert realnode.state_differences(before, realnode.host_state()) == []
    alive = [pid for pid in pids if os.path.exists(f"/proc/{pid}")]
    assert alive == []
    mine = str(tmp_path).encode()
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if mine in open(f"/proc/{pid}/cmdline", "rb").read():
                left.append(pid)
        except OSError:
            continue
    assert left == []
    assert images.PAUSE  # the node's sandbox image came from tests/node/images.py
