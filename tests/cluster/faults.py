"""Fault injection on the local control plane: a persistent eggroll party deployed by the real engine, a fault at a
seeded point, the recovery the README documents, then the checks that say whether the party survived.

A trial converges when the recovery commands succeed, the state has no pending operation and names every object
once, every object it names is in the cluster, the namespace holds nothing the stack does not know, every workload
is ready, `pulumi preview --expect-no-changes` is clean, and every marker file written into the persistent volumes'
backing directories is still there, in the volume still bound to the same claim.

Used by bench/faults.py (the table, several trials) and tests/engine/test_faults.py (one trial each, in CI).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.cluster.controlplane import STORAGE_CLASS, LocalCluster
from tests.conftest import TEST_SECRETS
from tests.engine.harness import Engine, Result

STACK, NS = "party-9999", "fate-9999"


@dataclass(frozen=True)
class Spec:
    """A deployment under test: its values and secrets, and its replicated module (the setting that scales it and
    its workload, which has a PodDisruptionBudget), if it has one."""

    values: dict[str, Any]
    secrets: tuple[str, ...]
    scaled: str = ""
    replicated: str = ""

    def replicas(self, n: int) -> dict[str, Any]:
        """The values that give the replicated module n replicas."""
        section, _, sub = self.scaled.partition(".")
        return {section: {sub: {"replicas": n}} if sub else {"replicas": n}}


# persistent, MySQL unprotected so that destroy runs (volumes are retained either way)
_COMMON = {"partyId": 9999, "namespace": NS, "persistence": {"enabled": True, "protect": False},
           "cloud": {"storageClass": STORAGE_CLASS}}
_PARTY_SECRETS = ("mysqlPassword", "fateboardPassword", "notebookHashedPassword")
PARTIES: dict[str, Spec] = {
    # volumes of MySQL, FATE Flow, the client and the nodemanagers
    "eggroll": Spec({**_COMMON, "backend": "eggroll", "nodemanager": {"replicas": 2},
                     "rollsite": {"partyList": [{"partyId": 10000, "host": "192.0.2.20", "port": 30091}]}},
                    _PARTY_SECRETS, "nodemanager", "nodemanager"),
    # volumes of MySQL, FATE Flow, the client, Pulsar, the HDFS namenode and datanodes
    "spark_pulsar": Spec({**_COMMON, "backend": "spark_pulsar", "hdfs": {"datanode": {"replicas": 2}},
                          "pulsar": {"routeTable": {10000: {"host": "192.0.2.20", "port": 30094, "sslPort": 30099}}}},
                         _PARTY_SECRETS, "hdfs.datanode", "datanode"),
    # FATE-Serving: volumes of serving-server, serving-redis and ZooKeeper; every module has one replica
    "serving": Spec({**_COMMON, "kind": "serving",
                     "servingServer": {"fateflow": {"host": "192.0.2.10", "port": 30097}, "cacheType": "redis"},
                     "servingProxy": {"partyList": [{"partyId": 10000, "host": "192.0.2.20", "port": 30106}]}},
                    ("servingRedisPassword", "servingAdminPassword")),
}
# what a namespace holds that no stack creates
SYSTEM = {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")}
KINDS = {  # kind -> resource
    "ConfigMap": "configmaps", "Secret": "secrets", "Service": "services", "ServiceAccount": "serviceaccounts",
    "PersistentVolumeClaim": "persistentvolumeclaims", "Deployment": "deployments", "StatefulSet": "statefulsets",
    "NetworkPolicy": "networkpolicies", "Ingress": "ingresses", "PodDisruptionBudget": "poddisruptionbudgets",
    "Role": "roles", "RoleBinding": "rolebindings", "Job": "jobs",
}
MARKER = "fate-pulumi-fault-marker"


@dataclass
class Outcome:
    """One trial: where the fault hit, what the recovery took, and what the checks found."""

    scenario: str
    fault: str = ""
    converged: bool = False
    duplicated: int = 0
    orphaned: int = 0
    missing: int = 0
    markers_lost: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


class Party:
    """The party under test: one stack on one local control plane, with marker files in its volumes."""

    def __init__(self, cluster: LocalCluster, engine: Engine, backend: str = "eggroll"):
        self.cluster, self.engine = cluster, engine
        self.spec = PARTIES[backend]
        self.markers: dict[str, tuple[str, str]] = {}  # claim -> (volume, marker text)
        engine.env["KUBECONFIG"] = str(cluster.kubeconfig)
        engine.stack(STACK, self.spec.values, {k: TEST_SECRETS[k] for k in self.spec.secrets})

    # ------------------------------------------------------------------------------------------ engine

    def pulumi(self, *args: str, timeout: int = 900) -> Result:
        return self.engine.run(*args, "--stack", STACK, timeout=timeout)

    def start(self, *args: str) -> subprocess.Popen:
        """A pulumi command in its own process group (so a kill takes the language host and provider with it)."""
        return subprocess.Popen(["pulumi", *args, "--stack", STACK, "--non-interactive"], cwd=self.engine.project,
                                env=self.engine.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)

    def up(self) -> None:
        res = self.pulumi("up", "--yes", "--skip-preview")
        assert res.rc == 0, res.output[-3000:]

    def export(self) -> dict:
        res = self.pulumi("stack", "export")
        assert res.rc == 0, res.output[-2000:]
        return res.json().get("deployment", {})

    # ------------------------------------------------------------------------------------------ cluster

    def live(self) -> set[tuple[str, str]]:
        """(kind, name) of every object in the namespace."""
        out = set()
        for kind, resource in KINDS.items():
            out |= {(kind, o["metadata"]["name"]) for o in self.cluster.items(NS, resource)
                    if not o["metadata"].get("deletionTimestamp")}
        return out - SYSTEM

    def objects(self) -> int:
        """How many objects of the party the namespace holds (volume claims, which outlive it, aside)."""
        return len({o for o in self.live() if o[0] != "PersistentVolumeClaim"})

    def claims(self) -> dict[str, str]:
        """claim -> the PersistentVolume bound to it."""
        return {c["metadata"]["name"]: c["spec"].get("volumeName", "")
                for c in self.cluster.items(NS, "persistentvolumeclaims")}

    def mark_volumes(self) -> None:
        """A marker file in the backing directory of each volume bound to a claim of the party (new claims only)."""
        for claim, volume in self.claims().items():
            if claim in self.markers or not volume:
                continue
            text = f"{claim} {time.time_ns()}\n"
            directory = self.cluster.volume_dir(volume)
            directory.mkdir(parents=True, exist_ok=True)
            (directory / MARKER).write_text(text)
            self.markers[claim] = (volume, text)

    def lost_markers(self) -> list[str]:
        """Claims whose marker is gone, or that are now bound to another volume (or not at all)."""
        bound = self.claims()
        lost = []
        for claim, (volume, text) in self.markers.items():
            marker = self.cluster.volume_dir(volume) / MARKER
            if bound.get(claim) != volume or not marker.exists() or marker.read_text() != text:
                lost.append(f"{claim} (volume {volume}, now bound to {bound.get(claim) or 'nothing'})")
        return lost

    # ------------------------------------------------------------------------------------------ checks

    def check(self, outcome: Outcome, deployed: bool = True) -> Outcome:
        """Add what the cluster and the state say after the recovery; `deployed`: the recovery ends with the party
        up (else: destroyed, volumes kept). A trial may check twice (after a destroy, then after the up that
        follows): counts and problems add up."""
        state = self.export()
        if state.get("pending_operations"):
            outcome.problems.append(f"{len(state['pending_operations'])} pending operations left in the state")
        # the Kubernetes objects in the party's namespace the state records (a resource marked `delete` is an old
        # one the engine still has to remove)
        known = Counter((r["outputs"].get("kind"), r["outputs"]["metadata"].get("name"))
                        for r in state.get("resources", [])
                        if r["type"].startswith("kubernetes:") and not r.get("delete")
                        and r.get("outputs", {}).get("metadata", {}).get("namespace") == NS)
        duplicated = sum(n - 1 for n in known.values() if n > 1)
        live = self.live()
        missing = set(known) - live
        # claims of StatefulSets' templates and claims kept from an earlier deployment are the volumes: not orphans
        orphaned = {o for o in live - set(known) if o[0] != "PersistentVolumeClaim"}
        outcome.duplicated += duplicated
        outcome.missing += len(missing)
        outcome.orphaned += len(orphaned)
        if not deployed and known:
            outcome.problems.append(f"{len(known)} objects still in the state after destroy")
        lost = self.lost_markers()
        outcome.markers_lost += len(lost)
        if lost:
            outcome.problems.append("markers lost: " + ", ".join(lost))
        if deployed:
            not_ready = self.cluster.not_ready(NS)
            if not_ready:
                outcome.problems.append("not ready: " + ", ".join(not_ready))
            clean = self.pulumi("preview", "--expect-no-changes")
            if clean.rc != 0:
                outcome.problems.append("preview --expect-no-changes: " + _last_error(clean.output))
        if duplicated:
            outcome.problems.append(f"{duplicated} objects twice in the state")
        if missing:
            outcome.problems.append(f"in the state, not in the cluster: {sorted(missing)}")
        if orphaned:
            outcome.problems.append(f"in the cluster, not in the state: {sorted(orphaned)}")
        outcome.converged = not outcome.problems
        return outcome

    def recover(self, outcome: Outcome, *commands: tuple[str, ...]) -> bool:
        """Run the documented recovery; a failing command is a problem of the trial."""
        for command in commands:
            res = self.pulumi(*command)
            if res.rc != 0:
                outcome.problems.append(f"`pulumi {' '.join(command)}` failed: {_last_error(res.output)}")
                return False
        return True


def _last_error(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if "error" in line.lower()]
    return (lines[-1] if lines else output.strip().splitlines()[-1] if output.strip() else "no output")[:300]


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL the whole process group, as a CI runner that disappears does."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()


def _when(proc: subprocess.Popen, holds: Callable[[], bool], timeout: float = 300) -> bool:
    """Wait until `holds()` while `proc` runs; False when the process ended first."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if holds():
            return True
        time.sleep(0.2)
    return False


# ---------------------------------------------------------------------------------------------------- scenarios
# Each takes the party (deployed, every workload ready, on entry; left deployed on exit) and a seeded random
# generator, and returns its Outcome. RECOVERY names the documented recovery (README, "After an interruption").

# A killed pulumi leaves the file backend's lock and the operations it had started ("pending operations": creates
# the engine cannot tell apart from objects someone else made). The next up keeps them in the state and warns;
# refresh --clear-pending-creates drops them, and the up that follows takes the objects over by name (server-side
# apply; every object carries pulumi.com/patchForce).
KILLED_RECOVERY = (("cancel", "--yes"), ("refresh", "--yes", "--skip-preview", "--clear-pending-creates"))
RECOVERY = {
    "pulumi killed during up": "pulumi cancel; pulumi refresh --clear-pending-creates; pulumi up",
    "pulumi killed during destroy": "pulumi cancel; pulumi refresh --clear-pending-creates; pulumi destroy",
    "kube-apiserver restarted during up": "pulumi up",
    "kube-apiserver restarted during destroy": "pulumi destroy",
    "etcd restarted between two ups": "none: pulumi up",
    "node drained": "none: the drain finishes",
    "two pulumi up at once": "none: the second is refused",
    "upgrade, scale out and in, destroy and up": "none",
}


def _destroy(party: Party) -> None:
    res = party.pulumi("destroy", "--yes", "--skip-preview")
    assert res.rc == 0, res.output[-3000:]


def killed_during_up(party: Party, rng: random.Random) -> Outcome:
    _destroy(party)
    n = rng.randint(2, 24)
    out = Outcome("pulumi killed during up", fault=f"after {n} objects created")
    t0 = time.time()
    proc = party.start("up", "--yes", "--skip-preview")
    if not _when(proc, lambda: party.objects() >= n):
        out.fault += " (the up finished first)"
    _kill(proc)
    party.recover(out, *KILLED_RECOVERY, ("up", "--yes", "--skip-preview"))
    out.seconds = time.time() - t0
    return party.check(out)


def killed_during_destroy(party: Party, rng: random.Random) -> Outcome:
    total = party.objects()
    n = rng.randint(1, max(1, total - 2))
    out = Outcome("pulumi killed during destroy", fault=f"after {n} of {total} objects deleted")
    t0 = time.time()
    proc = party.start("destroy", "--yes", "--skip-preview")
    if not _when(proc, lambda: party.objects() <= total - n):
        out.fault += " (the destroy finished first)"
    _kill(proc)
    if party.recover(out, *KILLED_RECOVERY, ("destroy", "--yes", "--skip-preview")):
        party.check(out, deployed=False)
    party.recover(out, ("up", "--yes", "--skip-preview"))  # the volumes kept by the destroy come back
    out.seconds = time.time() - t0
    return party.check(out)


def _restart_during(party: Party, rng: random.Random, command: str) -> Outcome:
    if command == "up":
        _destroy(party)
    total = party.objects()
    n = rng.randint(2, 20) if command == "up" else rng.randint(1, max(1, total - 2))
    down = round(rng.uniform(1.0, 6.0), 1)
    out = Outcome(f"kube-apiserver restarted during {command}",
                  fault=f"after {n} objects {'created' if command == 'up' else 'deleted'}, down {down} s")
    t0 = time.time()
    proc = party.start(command, "--yes", "--skip-preview")
    hit = _when(proc, (lambda: party.objects() >= n) if command == "up" else
                (lambda: party.objects() <= total - n))
    if hit:
        party.cluster.restart("kube-apiserver", down_s=down)
    else:
        out.fault += f" (the {command} finished first)"
    proc.communicate(timeout=900)
    if proc.returncode != 0:  # the documented recovery: run the same command again
        out.fault += ", the interrupted command failed"
        party.recover(out, (command, "--yes", "--skip-preview"))
    else:
        out.fault += ", the interrupted command succeeded"
    if command == "destroy":
        if not out.problems:
            party.check(out, deployed=False)
        party.recover(out, ("up", "--yes", "--skip-preview"))
    out.seconds = time.time() - t0
    return party.check(out)


def apiserver_restarted_during_up(party: Party, rng: random.Random) -> Outcome:
    return _restart_during(party, rng, "up")


def apiserver_restarted_during_destroy(party: Party, rng: random.Random) -> Outcome:
    return _restart_during(party, rng, "destroy")


def etcd_restarted(party: Party, rng: random.Random) -> Outcome:
    down = round(rng.uniform(1.0, 6.0), 1)
    out = Outcome("etcd restarted between two ups", fault=f"etcd down {down} s")
    t0 = time.time()
    party.cluster.restart("etcd", down_s=down)
    party.recover(out, ("up", "--yes", "--skip-preview", "--expect-no-changes"))
    out.seconds = time.time() - t0
    return party.check(out)


def _evict(cluster: LocalCluster, pod: str) -> int:
    """POST an Eviction (what `kubectl drain` does); returns the HTTP status: 201 evicted, 429 refused by a budget."""
    try:
        cluster.request("POST", f"/api/v1/namespaces/{NS}/pods/{pod}/eviction",
                        {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": NS}})
        return 201
    except RuntimeError as err:
        if ": 429 " in str(err):
            return 429
        raise


def node_drained(party: Party, rng: random.Random) -> Outcome:
    """kubectl drain through the eviction API: cordon, then evict every pod of the node, retrying refused ones.
    First, while no node takes a replacement pod (all cordoned), one replica of the replicated module is evicted and
    the other must be refused (429: the budget allows one replica down); single-replica modules have no budget and
    go at once."""
    cluster, replicated = party.cluster, party.spec.replicated
    budget = f"/apis/policy/v1/namespaces/{NS}/poddisruptionbudgets/{replicated}"
    # start from a whole party: both replicas healthy as the disruption controller sees them, nothing terminating
    cluster.wait(lambda: (not replicated or cluster.get(budget).get("status", {}).get("disruptionsAllowed") == 1)
                 and not any(p["metadata"].get("deletionTimestamp") for p in cluster.items(NS, "pods")),
                 "a whole party", timeout=120)
    pods = [p for p in cluster.items(NS, "pods") if p["spec"].get("nodeName")]
    nodes = sorted(n["metadata"]["name"] for n in cluster.get("/api/v1/nodes")["items"])
    node = rng.choice(sorted({p["spec"]["nodeName"] for p in pods}))  # a node running some of the party
    out = Outcome("node drained", fault=node)
    t0 = time.time()
    selector = cluster.get(budget)["spec"]["selector"]["matchLabels"] if replicated else None
    replicas = sorted((p["spec"]["nodeName"] != node, p["metadata"]["name"]) for p in pods
                      if selector and p["metadata"].get("labels", {}).items() >= selector.items())
    for each in nodes:
        cluster.patch(f"/api/v1/nodes/{each}", {"spec": {"unschedulable": True}})
    if len(replicas) >= 2:
        # kwok makes a replacement Ready at once; with every node cordoned the evicted replica stays down
        first = _evict(cluster, replicas[0][1])
        # the disruption controller counts the evicted replica as down (its replacement cannot be scheduled)
        cluster.wait(lambda: cluster.get(budget).get("status", {}).get("currentHealthy") == 1,
                     f"the budget to see one {replicated} down", timeout=60)
        codes = [first, _evict(cluster, replicas[1][1])]
        if codes != [201, 429]:
            out.problems.append(f"two {replicated} evictions, the first still down, answered {codes}: "
                                f"expected [201, 429], the second refused: {cluster.get(budget)['status']}")
        out.fault += ", the budget tested"
    for each in nodes:
        if each != node:
            cluster.patch(f"/api/v1/nodes/{each}", {"spec": {"unschedulable": False}})
    refused: Counter[str] = Counter()
    deadline = time.time() + 180
    while time.time() < deadline:
        remaining = [p["metadata"]["name"] for p in cluster.items(NS, "pods")
                     if p["spec"].get("nodeName") == node and not p["metadata"].get("deletionTimestamp")]
        if not remaining:
            break
        for pod in remaining:
            if _evict(cluster, pod) == 429:
                refused[pod] += 1
        time.sleep(0.5)
    else:
        out.problems.append(f"the drain of {node} did not finish in 180 s: {sorted(refused)} refused")
    cluster.patch(f"/api/v1/nodes/{node}", {"spec": {"unschedulable": False}})
    try:
        cluster.wait(lambda: not cluster.not_ready(NS), "workloads ready after the drain", timeout=120)
    except TimeoutError:
        pass
    out.seconds = time.time() - t0
    return party.check(out)


def concurrent_ups(party: Party, rng: random.Random) -> Outcome:
    delay = round(rng.uniform(0.0, 2.0), 1)
    out = Outcome("two pulumi up at once", fault=f"second started {delay} s after the first")
    t0 = time.time()
    first = party.start("up", "--yes", "--skip-preview")
    time.sleep(delay)
    second = party.start("up", "--yes", "--skip-preview")
    outputs = [first.communicate(timeout=900)[0], second.communicate(timeout=900)[0]]
    codes = [first.returncode, second.returncode]
    refused = [i for i, rc in enumerate(codes) if rc != 0]
    if len(refused) == 2:
        out.problems.append("both ups failed: " + _last_error(outputs[1]))
    elif len(refused) == 1:
        message = outputs[refused[0]]
        if "currently locked" not in message:
            out.problems.append("the refused up does not say the stack is locked: " + _last_error(message))
        out.fault += f"; {'first' if refused[0] == 0 else 'second'} refused"
    else:
        out.fault += "; both ran (one after the other)"
    out.seconds = time.time() - t0
    return party.check(out)


def lifecycle(party: Party, rng: random.Random) -> Outcome:
    """No fault: the changes an operator makes over a party's life, with the markers checked after each."""
    scaled = party.spec.replicated
    out = Outcome("upgrade, scale out and in, destroy and up",
                  fault=f"image tag, {scaled} 2 -> 3 -> 2" if scaled else "image tag (no replicated module)")
    t0 = time.time()
    tag = f"1.11.2-release-t{rng.randint(1, 999)}"
    steps = [{"imageTag": tag}, *([party.spec.replicas(3), party.spec.replicas(2)] if scaled else [])]
    for values in steps:
        party.engine.set_values(STACK, values)
        if not party.recover(out, ("up", "--yes", "--skip-preview")):
            break
        party.mark_volumes()  # a claim added by scaling out gets its marker too
        lost = party.lost_markers()
        if lost:
            out.problems.append(f"after {values}: markers lost: {', '.join(lost)}")
    party.recover(out, ("destroy", "--yes", "--skip-preview"), ("up", "--yes", "--skip-preview"))
    _reset(party)
    out.seconds = time.time() - t0
    return party.check(out)


def _reset(party: Party) -> None:
    """Back to the party's own values (an imageTag set by a scenario removed), applied."""
    path = party.engine.project / f"Pulumi.{STACK}.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"] = {k: v for k, v in doc["config"].items() if not k.startswith("fate:") or k in
                     {f"fate:{s}" for s in party.spec.secrets}} | {f"fate:{k}": v for k, v in party.spec.values.items()}
    path.write_text(yaml.safe_dump(doc))
    party.up()


SCENARIOS: dict[str, Callable[[Party, random.Random], Outcome]] = {
    "pulumi killed during up": killed_during_up,
    "pulumi killed during destroy": killed_during_destroy,
    "kube-apiserver restarted during up": apiserver_restarted_during_up,
    "kube-apiserver restarted during destroy": apiserver_restarted_during_destroy,
    "etcd restarted between two ups": etcd_restarted,
    "node drained": node_drained,
    "two pulumi up at once": concurrent_ups,
    "upgrade, scale out and in, destroy and up": lifecycle,
}


def deploy(workdir: Path, backend: str = "eggroll") -> tuple[LocalCluster, Party]:
    """A local control plane and a party of `backend` on it, deployed, markers written."""
    cluster = LocalCluster(workdir / "cluster", supervise=True).start()
    party = Party(cluster, Engine(workdir / "engine"), backend)
    party.up()
    party.mark_volumes()
    return cluster, party


def run(party: Party, scenario: str, rng: random.Random) -> Outcome:
    """One trial; the party is brought back to deployed-and-ready for the next whatever happened."""
    try:
        outcome = SCENARIOS[scenario](party, rng)
    except Exception as err:  # noqa: BLE001 - a trial that breaks is a result, not the end of the run
        outcome = Outcome(scenario, problems=[f"{type(err).__name__}: {str(err)[-500:]}"])
    if not outcome.converged:
        # leave a usable party for the next trial whatever this one left
        party.pulumi("cancel", "--yes")
        party.pulumi("refresh", "--yes", "--skip-preview", "--clear-pending-creates")
        party.pulumi("up", "--yes", "--skip-preview")
    return outcome


