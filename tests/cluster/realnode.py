"""A real node for the local control plane (`LocalCluster(real_node=True)`): containerd with runc, the CNI bridge and
host-local plugins, the kubelet, kube-proxy (iptables mode) and kube-router's firewall (NetworkPolicies), each
started and stopped by pid, with every file they may be told to keep under the cluster's own directory.

Facts of this kind of machine (cgroup v1 hybrid, no CAP_SYS_RESOURCE, containerd 1.6 from Debian), measured in
docs/node.md: the kubelet needs `failCgroupV1: false` and the cgroupfs driver (containerd 1.6 lacks the CRI
RuntimeConfig call), containerd needs `restrict_oom_score_adj` (runc cannot lower a pod's oom_score_adj), crun fails
on hybrid cgroups (runc is used).

The host is left as it was found: `host_state()` is recorded before the node starts; `stop()` deletes the pods,
stops the processes (and the container shims containerd started), unmounts what they mounted, and puts back what
the kubelet, the CNI plugins, kube-proxy and kube-router changed outside the directory: sysctls (the kubelet sets
vm.overcommit_memory, kernel.panic, kernel.panic_on_oops; the bridge plugin net.ipv4.ip_forward), nftables tables
(iptables-nft chains: KUBE-FIREWALL, KUBE-SERVICES, KUBE-ROUTER-* ...), ipsets, the bridge, cgroups, network
namespaces and the few host paths they write despite their root directories; then it records the state again and
keeps the differences in `residue` (tests/node/test_host.py asserts there are none).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import yaml

from tests.cluster.controlplane import BIN, free_port, terminate

if TYPE_CHECKING:
    from tests.cluster.controlplane import LocalCluster

NAME = "fate-real-node"
BRIDGE = "fatenode0"
POD_CIDR = "10.244.0.0/24"  # inside the controller-manager's --cluster-cidr (10.244.0.0/16)
SERVICE_CIDR = "10.96.0.0/16"  # the API server's --service-cluster-ip-range
LOCK = "\0fate-pulumi-real-node"  # an abstract socket: one real node per host, released when its process ends
TOOLS = ("containerd", "containerd-shim-runc-v2", "runc", "ctr", "iptables", "ip6tables", "ipset", "nft", "ip",
         "umount")
CNI_PLUGINS = ("bridge", "host-local", "loopback", "portmap")
# paths outside the node's directory that the node's programs write whatever their root directories say:
# the kubelet's device-plugin socket directory and container log links (constants in k8s.io/kubernetes), libcni's
# cache, containerd 1.6's shim sockets and the CRI plugin's network namespaces
HOST_PATHS = ("/var/lib/kubelet", "/var/log/containers", "/var/lib/cni", "/run/containerd", "/var/run/netns",
              "/run/netns", "/etc/cni", "/opt/cni", "/opt/containerd", "/var/lib/containerd")
# sysctls that change by themselves (not by the node)
VOLATILE_SYSCTLS = re.compile(r"^/proc/sys/(kernel/ns_last_pid|kernel/random/|fs/|net/netfilter/nf_conntrack_count|"
                              r"vm/drop_caches|kernel/hung_task_|net/ipv4/tcp_fastopen_key)")
CGROUP_ROOT = Path("/sys/fs/cgroup")
BRIDGE_NETFILTER = "/proc/sys/net/bridge/bridge-nf-call-iptables"


def cni_dir() -> Optional[Path]:
    """The CNI plugins: $CNI_PATH (the CNI specification's variable), else Debian's or the upstream location."""
    for d in ([os.environ["CNI_PATH"]] if os.environ.get("CNI_PATH") else []) + ["/usr/lib/cni", "/opt/cni/bin"]:
        if all((Path(d) / p).exists() for p in CNI_PLUGINS):
            return Path(d)
    return None


def missing_tools() -> list[str]:
    """What the real node needs that this host lacks (.ci/run installs it: docs/node.md)."""
    missing = [] if os.geteuid() == 0 else ["root (containerd, the kubelet and the CNI plugins change the host)"]
    missing += [t for t in TOOLS if shutil.which(t) is None]
    if not Path(BRIDGE_NETFILTER).exists():
        missing.append("the br_netfilter kernel module (modprobe br_netfilter)")
    if cni_dir() is None:
        missing.append(f"CNI plugins ({', '.join(CNI_PLUGINS)}: containernetworking-plugins)")
    return missing


# ---------------------------------------------------------------------------------------------------------- host


def _run(*args: str, check: bool = True, timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {proc.returncode}: {proc.stderr.strip()[-800:]}")
    return proc


def _sysctls() -> dict[str, str]:
    out = {}
    for root, _, files in os.walk("/proc/sys"):
        for f in files:
            path = os.path.join(root, f)
            if VOLATILE_SYSCTLS.match(path) or not os.stat(path).st_mode & 0o200:
                continue
            try:
                with open(path) as fh:
                    out[path] = fh.read()
            except OSError:  # write-only or refused (net.ipv6.route.flush, vm.compact_memory ...)
                continue
    return out


def _nft_tables() -> dict[str, str]:
    """Every nftables table (iptables-nft's too) with its content, counters left out (they count by themselves)."""
    tables = {}
    for line in _run("nft", "list", "tables").stdout.splitlines():
        _, family, name = line.split()
        text = _run("nft", "list", "table", family, name).stdout
        tables[f"{family} {name}"] = re.sub(r"counter packets \d+ bytes \d+", "counter", text)
    return tables


def _cgroups() -> list[str]:
    """The kubelet's cgroups (cgroupfs driver: /kubepods under every v1 hierarchy, or at the root of a v2 host)."""
    if not CGROUP_ROOT.is_dir():
        return []
    roots = [CGROUP_ROOT, *sorted(d for d in CGROUP_ROOT.iterdir() if d.is_dir())]
    return [str(r / "kubepods") for r in roots if (r / "kubepods").is_dir()]


def _mounts() -> list[str]:
    with open("/proc/self/mountinfo") as fh:
        return sorted({line.split()[4] for line in fh})


def host_state() -> dict[str, Any]:
    """What a node may change on the host outside its own directory."""
    return {
        "sysctls": _sysctls(),
        "nftables": _nft_tables(),
        "ipsets": sorted(_run("ipset", "list", "-n").stdout.split()),
        "links": sorted(line.split(":")[1].strip().split("@")[0]
                        for line in _run("ip", "-o", "link").stdout.splitlines()),
        "mounts": _mounts(),
        "cgroups": _cgroups(),
        "paths": {p: sorted(os.listdir(p)) if os.path.isdir(p) else None for p in HOST_PATHS},
    }


def state_differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Readable differences between two host_state() records (empty: the host is as it was)."""
    out = []
    for key in sorted(set(before["sysctls"]) | set(after["sysctls"])):
        b, a = before["sysctls"].get(key), after["sysctls"].get(key)
        if b != a:
            out.append(f"sysctl {key[len('/proc/sys/'):]}: {b!r} -> {a!r}")
    for key in sorted(set(before["nftables"]) | set(after["nftables"])):
        if before["nftables"].get(key) != after["nftables"].get(key):
            out.append(f"nftables table {key}: " + ("added" if key not in before["nftables"] else
                                                    "removed" if key not in after["nftables"] else "changed"))
    for key in ("ipsets", "links", "mounts", "cgroups"):
        for item in sorted(set(after[key]) - set(before[key])):
            out.append(f"{key[:-1]} added: {item}")
        for item in sorted(set(before[key]) - set(after[key])):
            out.append(f"{key[:-1]} removed: {item}")
    for path in HOST_PATHS:
        if before["paths"][path] != after["paths"][path]:
            out.append(f"path {path}: {before['paths'][path]} -> {after['paths'][path]}")
    return out


def _write_sysctl(path: str, value: str) -> None:
    try:
        with open(path, "w") as fh:
            fh.write(value)
    except OSError:
        pass  # reported by the final comparison


def restore_host(before: dict[str, Any], under: tuple[str, ...]) -> None:
    """Put back what a stopped node changed: mounts under `under` and the host paths, nftables tables, ipsets,
    the bridge, cgroups, host paths (only what did not exist before), sysctls."""
    now = host_state()
    prefixes = tuple(p.rstrip("/") + "/" for p in (*under, *HOST_PATHS))
    for mount in sorted(set(now["mounts"]) - set(before["mounts"]), key=len, reverse=True):
        if mount.startswith(prefixes):
            if _run("umount", mount, check=False).returncode != 0:
                _run("umount", "--lazy", mount, check=False)
    for table in now["nftables"]:
        if before["nftables"].get(table) != now["nftables"][table]:
            family, name = table.split()
            _run("nft", "delete", "table", family, name, check=False)
            if table in before["nftables"]:
                _run("nft", "-f", "-", input=before["nftables"][table], check=False)
    for ipset in sorted(set(now["ipsets"]) - set(before["ipsets"])):
        _run("ipset", "destroy", ipset, check=False)
    for link in sorted(set(now["links"]) - set(before["links"])):
        _run("ip", "link", "delete", link, check=False)
    for cgroup in sorted(set(now["cgroups"]) - set(before["cgroups"])):
        for d in sorted((p for p in Path(cgroup).rglob("*") if p.is_dir()), key=lambda p: len(p.parts),
                        reverse=True):
            try:
                d.rmdir()
            except OSError:
                pass
        try:
            Path(cgroup).rmdir()
        except OSError:
            pass
    for path, listing in before["paths"].items():
        if listing is None and os.path.lexists(path):
            shutil.rmtree(path, ignore_errors=True)
        elif listing is not None and os.path.isdir(path):
            for entry in set(os.listdir(path)) - set(listing):
                target = os.path.join(path, entry)
                if os.path.isdir(target) and not os.path.islink(target):
                    shutil.rmtree(target, ignore_errors=True)
                else:
                    os.unlink(target)
    # net.ipv4.ip_forward also sets every interface's forwarding and conf.all.accept_redirects (the kernel's
    # inet_forward_change): write what differs, then what differs after that
    for _ in range(2):
        now_sysctls = _sysctls()
        for key, value in before["sysctls"].items():
            if now_sysctls.get(key, value) != value:
                _write_sysctl(key, value)


# ---------------------------------------------------------------------------------------------------------- node


class RealNode:
    """The node's processes and files; `LocalCluster(real_node=True)` starts it after the control plane and stops
    it first."""

    def __init__(self, cluster: LocalCluster):
        self.cluster = cluster
        self.dir = cluster.dir / "node"
        # containerd's sockets and the kubelet's root directory (its pod-resources socket): a unix socket path has
        # at most 104 bytes, a pytest directory can be longer
        self.run_dir = Path(tempfile.mkdtemp(prefix="fate-node-"))
        self.sock = self.run_dir / "containerd.sock"
        self.procs: dict[str, subprocess.Popen] = {}
        self.before: Optional[dict[str, Any]] = None
        self.residue: list[str] = []
        self.timings: dict[str, float] = {}
        self._lock: Optional[socket.socket] = None

    # ------------------------------------------------------------------------------------------------ lifecycle

    def start(self) -> RealNode:
        missing = missing_tools()
        if missing:
            raise RuntimeError("the real node needs " + ", ".join(missing) + " (.ci/run installs them: docs/node.md)")
        for tool in ("kubelet", "kube-proxy", "kube-router", "pause"):
            if not (BIN / tool).exists():
                raise RuntimeError(f"{BIN / tool} is missing: run tools/build-toolchain.sh cluster")
        self._lock = socket.socket(socket.AF_UNIX)
        try:
            self._lock.bind(LOCK)
        except OSError:
            raise RuntimeError("another real node runs on this host (one at a time: it changes host-wide state)") \
                from None
        if Path(f"/sys/class/net/{BRIDGE}").exists():
            # no node runs (the lock is free) but its bridge is there: a node was killed before its teardown, and
            # the host's state from before it is lost; recording this one as "before" would keep its leftovers
            self._lock.close()
            raise RuntimeError(f"the bridge {BRIDGE} of a real node killed before its teardown is still on this host: "
                               "remove its leftovers first (docs/node.md, 'A node killed')")
        start = time.time()
        self.dir.mkdir(parents=True)
        self.before = host_state()
        # pods reach each other across the bridge through iptables (kube-proxy's Service NAT, kube-router's
        # NetworkPolicy filter) only with bridge netfilter on; recorded above and put back by stop()
        _write_sysctl(BRIDGE_NETFILTER, "1")
        self._containerd()
        from tests.node import images  # the sandbox image is the node's own

        pause = images.IMAGES[images.PAUSE]
        self.load([images.build(pause)[0]])
        self.timings["containerd"] = time.time() - start
        self._kubelet()
        self._wait(lambda: self.cluster.get(f"/api/v1/nodes/{NAME}") is not None, "node registration", 120)
        # kube-router reads the node's pod CIDR; the bridge plugin's host-local range is the same
        self.cluster.patch(f"/api/v1/nodes/{NAME}", {"spec": {"podCIDR": POD_CIDR, "podCIDRs": [POD_CIDR]}})
        self._kube_proxy()
        self._kube_router()
        self._wait(self.ready, "real node Ready", 180)
        self.timings["ready"] = time.time() - start
        return self

    def ready(self) -> bool:
        """The node is Ready (its programs all running)."""
        self._check_alive()
        return self._condition()[0] == "True"

    def _condition(self) -> tuple[str, str]:
        node = self.cluster.get(f"/api/v1/nodes/{NAME}") or {}
        ready = [c for c in node.get("status", {}).get("conditions", []) if c["type"] == "Ready"]
        return (ready[0]["status"], ready[0].get("message", "")) if ready else ("Unknown", "not registered")

    def _wait(self, check: Callable[[], bool], what: str, timeout: float) -> None:
        """Poll `check` until it holds; a program of the node that exits fails at once, with its log."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            self._check_alive()
            try:
                if check():
                    return
            except Exception:  # noqa: BLE001 - not yet
                pass
            time.sleep(0.5)
        raise TimeoutError(f"{what}: not within {timeout} s (node Ready: {self._condition()})")

    def stop(self) -> None:
        """Delete every pod of the node, stop its programs, put the host back; differences left in `residue`."""
        if self.before is None:  # never started, or stopped already
            shutil.rmtree(self.run_dir, ignore_errors=True)
            return
        start = time.time()
        try:
            if self.procs.get("kubelet") and self.procs["kubelet"].poll() is None:
                self._drain()
        finally:
            for name in ("kube-router", "kube-proxy", "kubelet"):
                self._terminate(name)
            self._remove_tasks()
            self._terminate("containerd")
            self._kill_shims()
            restore_host(self.before, (str(self.dir), str(self.run_dir)))
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.residue = state_differences(self.before, host_state())
            self.timings["stop"] = time.time() - start
            self.before = None
            if self._lock:
                self._lock.close()

    # ------------------------------------------------------------------------------------------------ use

    def ctr(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        return _run("ctr", "--address", str(self.sock), "--namespace", "k8s.io", *args, check=check, timeout=timeout)

    def load(self, archives: list[Path]) -> None:
        """Import OCI archives (tests/node/images.py) into the node's containerd."""
        for archive in archives:
            self.ctr("images", "import", str(archive))

    def kill_container(self, container_id: str) -> None:
        """SIGKILL a container's process through containerd (a crash: no shutdown, the kubelet restarts it)."""
        self.ctr("tasks", "kill", "--signal", "SIGKILL", container_id.removeprefix("containerd://"))

    def logs(self, name: str) -> str:
        path = self.dir / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    # ------------------------------------------------------------------------------------------------ pieces

    def _spawn(self, name: str, args: list[str]) -> None:
        log = open(self.dir / f"{name}.log", "a")
        self.procs[name] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}):\n{self.logs(name)}")

    def _terminate(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None:
            terminate(proc, timeout=20)

    def _containerd(self) -> None:
        d = self.dir / "containerd"
        cni = self.dir / "cni"
        (cni / "net.d").mkdir(parents=True)
        (cni / "net.d" / "10-fate-bridge.conflist").write_text(json.dumps({
            "cniVersion": "1.0.0", "name": "fate-node",
            "plugins": [
                {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False, "hairpinMode": True,
                 "ipam": {"type": "host-local", "dataDir": str(cni / "ipam"),
                          "ranges": [[{"subnet": POD_CIDR}]], "routes": [{"dst": "0.0.0.0/0"}]}},
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ]}, indent=1))
        from tests.node import images

        (d / "opt").mkdir(parents=True)
        (d / "containerd.toml").write_text(f"""\
# containerd 1.6 (Debian bookworm) for the test node; every directory is the node's own
version = 2
root = "{d / 'root'}"
state = "{d / 'state'}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "{self.sock}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d / 'opt'}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{images.PAUSE}"
  enable_cdi = false
  # this kind of machine's root lacks CAP_SYS_RESOURCE: runc cannot set the negative oom_score_adj the kubelet
  # asks for ("nsexec: failed to update /proc/self/oom_score_adj: Permission denied"); clamp to containerd's own
  restrict_oom_score_adj = true
  # the pods' network namespaces under the state directory, not /var/run/netns
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_dir()}"
    conf_dir = "{cni / 'net.d'}"
""")
        self._spawn("containerd", ["containerd", "--config", str(d / "containerd.toml")])
        self._wait(lambda: self.ctr("version", check=False).returncode == 0, "containerd", 60)

    def _kubelet(self) -> None:
        k = self.dir / "kubelet"
        (k / "pki").mkdir(parents=True)
        pki = self.cluster.issue(f"system:node:{NAME}", "system:nodes", k / "pki" / "client")
        kubeconfig = k / "kubeconfig"
        ca = str(self.cluster.dir / "pki" / "ca.crt")
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "node",
            "clusters": [{"name": "local", "cluster": {"server": self.cluster.server, "certificate-authority": ca}}],
            "users": [{"name": "node", "user": {"client-certificate": str(pki[0]), "client-key": str(pki[1])}}],
            "contexts": [{"name": "node", "context": {"cluster": "local", "user": "node"}}]}))
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
            "failCgroupV1": False,  # 1.35+ refuses cgroup v1 hosts by default; this kind of machine is v1 hybrid
            "cgroupDriver": "cgroupfs",  # containerd 1.6 lacks the CRI RuntimeConfig call; runc's driver
            "containerRuntimeEndpoint": f"unix://{self.sock}",
            "podLogsDir": str(k / "pod-logs"),
            "port": free_port(), "readOnlyPort": 0, "healthzPort": 0,
            # only the API server (a client certificate of the cluster's CA) may call the kubelet
            "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": False},
                               "x509": {"clientCAFile": ca}},
            "authorization": {"mode": "AlwaysAllow"},
            "failSwapOn": False,
            "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,  # images come from archives
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
            "serializeImagePulls": False,
            "resolvConf": "/etc/resolv.conf",
        }
        (k / "config.yaml").write_text(yaml.safe_dump(config))
        self._spawn("kubelet", [
            str(BIN / "kubelet"), f"--config={k / 'config.yaml'}", f"--kubeconfig={kubeconfig}",
            f"--root-dir={self.run_dir / 'kubelet'}", f"--cert-dir={k / 'pki'}", f"--hostname-override={NAME}",
            "--v=1"])

    def _kube_proxy(self) -> None:
        p = self.dir / "kube-proxy"
        p.mkdir()
        (p / "config.yaml").write_text(yaml.safe_dump({
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(self.cluster.kubeconfig)},
            "mode": "iptables", "clusterCIDR": "10.244.0.0/16", "hostnameOverride": NAME,
            "metricsBindAddress": f"127.0.0.1:{free_port()}", "healthzBindAddress": f"127.0.0.1:{free_port()}",
            # leave the host's conntrack table settings alone
            "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
            # no NodePorts on 127.0.0.1: they need net.ipv4.conf.all.route_localnet=1
            "iptables": {"localhostNodePorts": False}}))
        self._spawn("kube-proxy", [str(BIN / "kube-proxy"), f"--config={p / 'config.yaml'}"])

    def _kube_router(self) -> None:
        self._spawn("kube-router", [
            str(BIN / "kube-router"), f"--kubeconfig={self.cluster.kubeconfig}",
            "--run-firewall=true", "--run-router=false", "--run-service-proxy=false", "--enable-cni=false",
            f"--hostname-override={NAME}", "--health-port=0", "--metrics-port=0",
            f"--service-cluster-ip-range={SERVICE_CIDR}", "--enable-ipv6=false"])

    # ------------------------------------------------------------------------------------------------ teardown

    def _drain(self) -> None:
        """Cordon, delete the node's pods (controllers' replacements cannot land: cordoned) and wait until
        containerd runs no container: the kubelet has stopped every sandbox (CNI DEL, network namespace gone)."""
        c = self.cluster
        try:
            c.patch(f"/api/v1/nodes/{NAME}", {"spec": {"unschedulable": True}})
            deadline = time.time() + 90
            while time.time() < deadline:
                pods = [p for p in c.get(f"/api/v1/pods?fieldSelector=spec.nodeName%3D{NAME}")["items"]]
                for p in pods:
                    if not p["metadata"].get("deletionTimestamp"):
                        c.request("DELETE", f"/api/v1/namespaces/{p['metadata']['namespace']}/pods/"
                                            f"{p['metadata']['name']}?gracePeriodSeconds=1")
                if not pods and not self.ctr("tasks", "ls", "-q", check=False).stdout.split():
                    return
                time.sleep(1)
        except Exception as err:  # noqa: BLE001 - the teardown goes on; what is left is removed below
            self.residue.append(f"drain: {err}")

    def _remove_tasks(self) -> None:
        """Containers the kubelet did not stop (a failed drain): killed and removed through containerd."""
        if self.procs.get("containerd") is None or self.procs["containerd"].poll() is not None:
            return
        for task in self.ctr("tasks", "ls", "-q", check=False).stdout.split():
            self.ctr("tasks", "kill", "--signal", "SIGKILL", task, check=False)
        time.sleep(1)
        for task in self.ctr("tasks", "ls", "-q", check=False).stdout.split():
            self.ctr("tasks", "delete", "--force", task, check=False)

    def _kill_shims(self) -> None:
        """The runc shims of this containerd (`-address <our socket>`) that outlived it: ended by pid."""
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(self.sock).encode() in cmdline and b"containerd-shim" in cmdline[0]:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
