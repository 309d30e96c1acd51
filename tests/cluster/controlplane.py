"""A local Kubernetes control plane for tests, without Docker: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok (fake nodes whose pods become Running/Ready), from tools/build-toolchain.sh cluster; with
`real_node=True` also a real node (tests/cluster/realnode.py: containerd, kubelet, kube-proxy, kube-router) whose
pods really run.

Everything listens on 127.0.0.1 with generated certificates and a kubeconfig; `stop()` ends the processes.
Static hostPath PersistentVolumes (StorageClass `local-static`) let StatefulSets' claims bind.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

if TYPE_CHECKING:
    from tests.cluster.realnode import RealNode

CACHE = Path(os.environ.get("FATE_PULUMI_CACHE", Path.home() / ".cache" / "fate-pulumi"))
BIN = CACHE / "bin"
STORAGE_CLASS = "local-static"
TOKEN = "fate-test-admin-token"
KWOK_STAGES = ("node/fast/node-initialize.yaml", "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
               "pod/fast/pod-ready.yaml", "pod/fast/pod-complete.yaml", "pod/fast/pod-delete.yaml")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def terminate(proc: subprocess.Popen, timeout: float) -> None:
    """Stop a process we started: SIGTERM, `timeout` seconds to exit cleanly, then SIGKILL; reaped either way."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(obj: x509.Certificate | rsa.RSAPrivateKey) -> bytes:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def _cert(subject: str, key: rsa.RSAPrivateKey, issuer_key: Optional[rsa.RSAPrivateKey] = None,
          issuer: Optional[x509.Certificate] = None, ca: bool = False, sans: Sequence[str] = (),
          organization: Optional[str] = None) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    name = x509.Name(([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)] if organization else []) +
                     [x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer.subject if issuer else name)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now).not_valid_after(now + dt.timedelta(days=2))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(s)) if s[0].isdigit()
                                                         else x509.DNSName(s) for s in sans]), critical=False)
    return b.sign(issuer_key or key, hashes.SHA256())


# the API group of each namespaced resource the tests list that is not in the core group
API_OF = {
    "deployments": "/apis/apps/v1", "statefulsets": "/apis/apps/v1", "jobs": "/apis/batch/v1",
    "networkpolicies": "/apis/networking.k8s.io/v1", "ingresses": "/apis/networking.k8s.io/v1",
    "poddisruptionbudgets": "/apis/policy/v1",
    "roles": "/apis/rbac.authorization.k8s.io/v1", "rolebindings": "/apis/rbac.authorization.k8s.io/v1",
}


SUPERVISED = ("kube-controller-manager", "kube-scheduler", "kwok")


class LocalCluster:
    def __init__(self, workdir: Path, nodes: int = 2, volumes: int = 40,
                 stages: Optional[dict[str, Path]] = None, supervise: bool = False, real_node: bool = False,
                 serve: bool = False):
        """`stages`: kwok stage files that replace the default ones by name (e.g. "pod/fast/pod-complete.yaml")
        or come in addition. `supervise`: restart a controller-manager, scheduler or kwok that exits, as the kubelet
        restarts a real control plane's static pods (kube-scheduler exits on purpose when it finds its cache
        inconsistent, which an API server restart can cause). `real_node`: a real node beside kwok's `nodes`
        (`self.node`, tests/cluster/realnode.py); the PersistentVolumes are then local volumes on it. `serve`: kwok
        serves the kubelet API on a local port the nodes advertise (InternalIP 127.0.0.1), so `kubectl logs`
        reaches it: container logs from the kwok ClusterLogs files given in `stages`."""
        self.dir = workdir
        self.stages = stages or {}
        self.nodes = nodes
        self.volumes = volumes
        self.procs: dict[str, subprocess.Popen] = {}
        self.args: dict[str, list[str]] = {}
        self.restarts: dict[str, int] = {}
        self._supervised = SUPERVISED if supervise else ()
        self.serve = serve
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.port = free_port()
        self.kubeconfig = self.dir / "kubeconfig"
        self.server = f"https://127.0.0.1:{self.port}"
        self.real_node = real_node
        self.node: Optional[RealNode] = None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> LocalCluster:
        for tool in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"):
            if not (BIN / tool).exists():
                raise RuntimeError(f"{BIN / tool} is missing: run tools/build-toolchain.sh cluster")
        self.dir.mkdir(parents=True, exist_ok=True)
        pki = self._pki()
        etcd_client, etcd_peer = free_port(), free_port()
        self.etcd_health = f"http://127.0.0.1:{etcd_client}/health"
        self._spawn("etcd", [
            str(BIN / "etcd"), "--data-dir", str(self.dir / "etcd"), "--name", "default",
            "--listen-client-urls", f"http://127.0.0.1:{etcd_client}", "--advertise-client-urls", f"http://127.0.0.1:{etcd_client}",
            "--listen-peer-urls", f"http://127.0.0.1:{etcd_peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{etcd_peer}",
            "--initial-cluster", f"default=http://127.0.0.1:{etcd_peer}", "--log-level", "warn"])
        self.wait(lambda: self._http_ok(self.etcd_health), "etcd")
        (self.dir / "tokens.csv").write_text(f'{TOKEN},admin,admin,"system:masters"\n')
        self._spawn("kube-apiserver", self._node_apiserver_args(pki, [
            str(BIN / "kube-apiserver"), f"--etcd-servers=http://127.0.0.1:{etcd_client}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={self.port}",
            f"--tls-cert-file={pki['server.crt']}", f"--tls-private-key-file={pki['server.key']}",
            f"--client-ca-file={pki['ca.crt']}", f"--token-auth-file={self.dir / 'tokens.csv'}",
            "--authorization-mode=RBAC", "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={pki['sa.pub']}", f"--service-account-signing-key-file={pki['sa.key']}",
            "--service-cluster-ip-range=10.96.0.0/16", "--service-node-port-range=30000-32767",
            "--allow-privileged=true", "--enable-priority-and-fairness=false"]))
        self.kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "local",
                    "clusters": [
                        {
                            "name": "local",
                            "cluster": {"server": self.server, "certificate-authority": str(pki["ca.crt"])},
                        }
                    ],
                    "users": [{"name": "admin", "user": {"token": TOKEN}}],
                    "contexts": [{"name": "local", "context": {"cluster": "local", "user": "admin"}}],
                }
            )
        )
        self._ssl = ssl.create_default_context(cafile=str(pki["ca.crt"]))
        self.wait(lambda: self._ready("/readyz"), "kube-apiserver", timeout=120)
        self._spawn("kube-controller-manager", [
            str(BIN / "kube-controller-manager"), f"--kubeconfig={self.kubeconfig}", "--leader-elect=false",
            "--controllers=*", f"--service-account-private-key-file={pki['sa.key']}", f"--root-ca-file={pki['ca.crt']}",
            "--use-service-account-credentials=false", "--secure-port=0", "--cluster-cidr=10.244.0.0/16",
            # a busy test machine may delay kwok's heartbeats; a node marked NotReady would unready its pods for good
            "--node-monitor-grace-period=1h", "--node-startup-grace-period=1h"])
        self._spawn("kube-scheduler", [str(BIN / "kube-scheduler"), f"--kubeconfig={self.kubeconfig}",
                                       "--leader-elect=false", "--secure-port=0"])
        stages = Path((CACHE / "kwok-module-dir").read_text().strip()) / "kustomize" / "stage"
        kwok = [str(BIN / "kwok"), f"--kubeconfig={self.kubeconfig}",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake"]
        if self.serve:
            # the API server dials a node's kubelet port without verifying its certificate (no
            # --kubelet-certificate-authority): the cluster's own server certificate serves
            kubelet = free_port()
            kwok += ["--server-address", f"127.0.0.1:{kubelet}", "--node-ip", "127.0.0.1", "--node-port", str(kubelet),
                     f"--tls-cert-file={pki['server.crt']}", f"--tls-private-key-file={pki['server.key']}"]
        for stage in dict.fromkeys([*KWOK_STAGES, *self.stages]):
            kwok += ["-c", str(self.stages.get(stage, stages / stage))]
        self._spawn("kwok", kwok)
        for i in range(self.nodes):
            self.apply(self._node(f"kwok-node-{i}"))
        for i in range(self.volumes):
            self.apply(self._local_volume(f"local-pv-{i:02d}") if self.real_node else self._volume(f"local-pv-{i:02d}"))
        self.apply({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": STORAGE_CLASS},
                    "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "Immediate",
                    "reclaimPolicy": "Retain"})
        self.wait(lambda: self._nodes_ready(), "kwok nodes", timeout=60)
        self.wait(lambda: self.get("/api/v1/namespaces/default/serviceaccounts/default") is not None,
                  "default service account", timeout=60)
        if self._supervised:
            threading.Thread(target=self._supervisor, daemon=True).start()
        if self.real_node:
            from tests.cluster.realnode import RealNode

            self.node = RealNode(self)
            self.node.start()
        return self

    def _supervisor(self) -> None:
        while not self._stopping.wait(1.0):
            for name in self._supervised:
                with self._lock:
                    if self.procs[name].poll() is not None and not self._stopping.is_set():
                        self.restarts[name] = self.restarts.get(name, 0) + 1
                        self._spawn(name, self.args[name])

    def stop(self) -> None:
        if self.node is not None:  # first: it deletes its pods through the API server
            self.node.stop()
        with self._lock:  # the supervisor checks the flag and spawns under the lock: no replacement after this
            self._stopping.set()
        for proc in reversed(list(self.procs.values())):
            terminate(proc, timeout=15)
        self.procs.clear()

    def restart(self, name: str, down_s: float = 2.0) -> None:
        """Kill one control-plane process (SIGKILL: no clean shutdown), leave it down `down_s` seconds, start it again
        with the same arguments and data, and wait until the API server answers /readyz again."""
        with self._lock:
            proc = self.procs[name]
            proc.kill()
            proc.wait()
            time.sleep(down_s)
            self._spawn(name, self.args[name])
        if name == "etcd":
            self.wait(lambda: self._http_ok(self.etcd_health), "etcd")
        self.wait(lambda: self._ready("/readyz"), f"kube-apiserver after restarting {name}", timeout=120)

    def logs(self, name: str) -> str:
        path = self.dir / f"{name}.log"
        return path.read_text()[-4000:] if path.exists() else ""

    # ---------------------------------------------------------------- API

    def request(
        self, method: str, path: str, body: Optional[dict] = None, content_type: str = "application/json"
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": content_type,
                                              "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self._ssl, timeout=30) as resp:
                text = resp.read().decode()
                return json.loads(text) if text else {}
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise RuntimeError(f"{method} {path}: {err.code} {err.read().decode()[:500]}") from None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def apply(self, obj: dict) -> Any:
        """Server-side apply as the test's own field manager."""
        api = "/api/v1" if obj["apiVersion"] == "v1" else f"/apis/{obj['apiVersion']}"
        plural = {"Node": "nodes", "PersistentVolume": "persistentvolumes", "StorageClass": "storageclasses",
                  "Namespace": "namespaces"}[obj["kind"]]
        return self.request(
            "PATCH",
            f"{api}/{plural}/{obj['metadata']['name']}?fieldManager=fate-tests&force=true",
            obj,
            "application/apply-patch+yaml",
        )

    def patch(self, path: str, patch: dict, manager: Optional[str] = None) -> Any:
        """A merge patch, as `manager` (what kubectl names itself: kubectl-edit, kubectl-scale ...) when given."""
        if manager:
            path += ("&" if "?" in path else "?") + f"fieldManager={manager}"
        return self.request("PATCH", path, patch, "application/merge-patch+json")

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def items(self, ns: str, resource: str) -> list[dict]:
        """The objects of one kind (plural: services, deployments ...) in a namespace."""
        return self.get(f"{API_OF.get(resource, '/api/v1')}/namespaces/{ns}/{resource}")["items"]

    def workloads(self, ns: str) -> list[dict]:
        """The Deployments and StatefulSets of a namespace."""
        return self.items(ns, "deployments") + self.items(ns, "statefulsets")

    def not_ready(self, ns: str) -> list[str]:
        """`name: ready/wanted` of every workload of `ns` with fewer ready replicas than its spec asks."""
        out = []
        for w in self.workloads(ns):
            ready = w.get("status", {}).get("readyReplicas", 0)
            if ready != w["spec"]["replicas"]:
                out.append(f"{w['metadata']['name']}: {ready}/{w['spec']['replicas']}")
        return out

    def wait(self, check: Callable[[], Any], what: str, timeout: float = 60) -> None:
        """Poll `check` until it holds; a component that died (and is not restarted by the supervisor) fails at
        once with its log, a check that raises counts as not yet."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None and name not in self._supervised:
                    raise RuntimeError(f"{name} exited ({proc.returncode}):\n{self.logs(name)}")
            try:
                if check():
                    return
            except Exception:  # noqa: BLE001 - not up yet
                pass
            time.sleep(0.5)
        raise TimeoutError(f"{what}: not within {timeout} s")

    # ---------------------------------------------------------------- helpers

    def _spawn(self, name: str, args: list[str]) -> None:
        self.args[name] = args
        log = open(self.dir / f"{name}.log", "a")
        self.procs[name] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def _http_ok(self, url: str) -> bool:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200

    def _ready(self, path: str) -> bool:
        req = urllib.request.Request(self.server + path, headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(req, context=self._ssl, timeout=2) as resp:
            return resp.status == 200

    def _nodes_ready(self) -> bool:
        nodes = self.get("/api/v1/nodes")["items"]
        ready = [n for n in nodes if any(c["type"] == "Ready" and c["status"] == "True"
                                         for c in n.get("status", {}).get("conditions", []))]
        return len(ready) >= self.nodes

    def _node(self, name: str) -> dict:
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake"},
                             "labels": {"kubernetes.io/hostname": name, "type": "kwok"}},
                "status": {"allocatable": {"cpu": "64", "memory": "256Gi", "pods": "250"},
                           "capacity": {"cpu": "64", "memory": "256Gi", "pods": "250"}}}

    def _volume(self, name: str) -> dict:
        return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
                "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                         "persistentVolumeReclaimPolicy": "Retain", "storageClassName": STORAGE_CLASS,
                         # the volume's backing directory: this cluster's own, so a test can leave files in it
                         "hostPath": {"path": str(self.volume_dir(name))}}}

    def _local_volume(self, name: str) -> dict:
        """A local PersistentVolume on the real node: its directory is this cluster's own, mounted into the pod by the
        kubelet (which applies a pod's fsGroup to it, as to any local volume)."""
        from tests.cluster.realnode import NAME

        self.volume_dir(name).mkdir(parents=True, exist_ok=True)
        return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
                "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                         "persistentVolumeReclaimPolicy": "Retain", "storageClassName": STORAGE_CLASS,
                         "local": {"path": str(self.volume_dir(name))},
                         "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                             {"key": "kubernetes.io/hostname", "operator": "In", "values": [NAME]}]}]}}}}

    def _node_apiserver_args(self, pki: dict[str, Path], args: list[str]) -> list[str]:
        """The API server's arguments, with what a real node needs: the kubelet's identity authorized by the Node
        authorizer and limited by NodeRestriction, and a client certificate the kubelet accepts (exec, logs)."""
        if not self.real_node:
            return args
        client = self.issue("kube-apiserver-kubelet-client", "system:masters", pki["ca.crt"].parent / "kubelet-client")
        return [a for a in args if not a.startswith("--authorization-mode=")] + [
                "--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
                f"--kubelet-client-certificate={client[0]}", f"--kubelet-client-key={client[1]}",
                "--kubelet-preferred-address-types=InternalIP"]

    def issue(self, common_name: str, organization: str, stem: Path) -> tuple[Path, Path]:
        """A client certificate of the cluster's CA (`stem`.crt, `stem`.key): user `common_name`, group
        `organization`."""
        ca, ca_key = self._ca
        key = _key()
        cert = _cert(common_name, key, ca_key, ca, organization=organization)
        crt, pem_key = stem.with_suffix(".crt"), stem.with_suffix(".key")
        crt.write_bytes(_pem(cert))
        pem_key.write_bytes(_pem(key))
        return crt, pem_key

    def volume_dir(self, pv: str) -> Path:
        """The directory backing PersistentVolume `pv` (what a node would mount into the pod)."""
        return self.dir / "volumes" / pv

    def _pki(self) -> dict[str, Path]:
        pki = self.dir / "pki"
        pki.mkdir(exist_ok=True)
        ca_key = _key()
        ca = _cert("local-ca", ca_key, ca=True)
        self._ca = (ca, ca_key)
        server_key = _key()
        server = _cert("kube-apiserver", server_key, ca_key, ca,
                       sans=("127.0.0.1", "10.96.0.1", "localhost", "kubernetes", "kubernetes.default",
                             "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"))
        sa = _key()
        files = {"ca.crt": _pem(ca), "server.crt": _pem(server), "server.key": _pem(server_key), "sa.key": _pem(sa),
                 "sa.pub": sa.public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo)}
        out = {}
        for name, data in files.items():
            (pki / name).write_bytes(data)
            out[name] = pki / name
        return out


def main() -> None:
    """Start a cluster by hand: python -m tests.cluster.controlplane DIR [--real-node] (Ctrl-C stops it)."""
    import sys

    args = [a for a in sys.argv[1:] if a != "--real-node"]
    workdir = Path(args[0] if args else "/tmp/fate-local-cluster")
    if workdir.exists():
        shutil.rmtree(workdir)
    cluster = LocalCluster(workdir, real_node="--real-node" in sys.argv[1:])
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    print(f"export KUBECONFIG={cluster.kubeconfig}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        cluster.stop()


if __name__ == "__main__":
    main()
