"""The real node leaves the host as it found it: sysctls, nftables tables (iptables-nft chains), ipsets, network
links, mounts, cgroups and the host paths its programs write, all recorded before it starts and compared after it
stops; no process of it is left. (This module runs first: its node cannot run beside the session's.)"""

from __future__ import annotations

import os
import subprocess
import time

import pytest
import yaml

from tests.cluster import realnode
from tests.cluster.controlplane import BIN, LocalCluster
from tests.node.conftest import client_pod, record_timings, require_node

NS = "host-check"


def processes_mentioning(text: str) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if text.encode() in fh.read():
                    found.append(pid)
        except OSError:
            continue
    return found


def test_the_host_is_left_as_found(tmp_path, archives):
    require_node()
    before = realnode.host_state()
    cluster = LocalCluster(tmp_path / "cluster", nodes=0, volumes=1, real_node=True)
    pids: list[int] = []
    started, t0 = 0.0, time.time()
    try:
        cluster.start()
        started = time.time() - t0
        assert cluster.node is not None
        pids = [p.pid for p in cluster.node.procs.values()]
        cluster.node.load([a for a in archives if a.name.startswith("busybox")])
        server = client_pod(NS, "server", {"app": "server"})
        server["spec"]["containers"][0]["command"] = ["sh", "-c", "while true; do busybox nc -l -p 8080; done"]
        objects = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}, server,
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "server", "namespace": NS},
             "spec": {"selector": {"app": "server"}, "ports": [{"port": 8080}]}},
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "server", "namespace": NS},
             "spec": {"podSelector": {"matchLabels": {"app": "server"}}, "policyTypes": ["Ingress"], "ingress": []}},
        ]
        kubectl = [str(BIN / "kubectl"), f"--kubeconfig={cluster.kubeconfig}"]
        subprocess.run([*kubectl, "apply", "--server-side", "-f", "-"], input=yaml.safe_dump_all(objects), text=True,
                       check=True, capture_output=True)
        subprocess.run([*kubectl, "wait", "-n", NS, "--for=condition=Ready", "pod/server", "--timeout=120s"],
                       check=True, capture_output=True)
        during = realnode.state_differences(before, realnode.host_state())
        # what the node changed while it ran: the comparison below can see a leftover of each kind (the sysctls the
        # kubelet and the bridge plugin set to 1 and the kubelet's host directory, where the host had them otherwise)
        kinds = ["nftables table", "ipset added", "link added: veth", "mount added", "cgroup added"]
        kinds += [f"sysctl {key}" for key in ("vm/overcommit_memory", "net/ipv4/ip_forward")
                  if before["sysctls"][f"/proc/sys/{key}"].strip() != "1"]
        kinds += ["path /var/lib/kubelet"] if before["paths"]["/var/lib/kubelet"] is None else []
        for kind in kinds:
            assert any(d.startswith(kind) for d in during), (kind, during)
    finally:
        cluster.stop()
        record_timings("test_host's", cluster, started)
    assert cluster.node is not None and cluster.node.residue == []
    assert realnode.state_differences(before, realnode.host_state()) == []
    assert [pid for pid in pids if os.path.exists(f"/proc/{pid}")] == []
    assert processes_mentioning(str(tmp_path)) == []
    assert processes_mentioning(str(cluster.node.sock)) == []  # the runc shims of its containerd


def test_a_node_killed_before_its_teardown_is_not_taken_for_the_host_as_found(tmp_path):
    """Its bridge left on the host (a SIGKILLed run): a new node refuses to start rather than record the leftovers
    as the state to put back."""
    require_node()
    subprocess.run(["ip", "link", "add", realnode.BRIDGE, "type", "bridge"], check=True)
    try:
        node = realnode.RealNode(LocalCluster(tmp_path, nodes=0, real_node=True))
        try:
            with pytest.raises(RuntimeError, match="killed before its teardown"):
                node.start()
        finally:
            node.stop()
    finally:
        subprocess.run(["ip", "link", "delete", realnode.BRIDGE], check=True)
    assert not (tmp_path / "node").exists()  # refused before anything was made
