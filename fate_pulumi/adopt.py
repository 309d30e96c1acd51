"""Take a running KubeFATE deployment (a Helm release) over in place, and hand it back to Helm if that fails.

    fate-pulumi adopt take-over Pulumi.party-9999.yaml --backup kubefate-fate-9999.json
    fate-pulumi adopt rollback --backup kubefate-fate-9999.json

`take-over` runs once, before the first `pulumi preview` of a stack imported with `fate-pulumi import --adopt`:

0. a release whose MySQL keeps its data in the pod (KubeFATE's `persistence: false`: an emptyDir, which `pulumi up`
   empties when it restarts mysql-0) is dumped first with `--mysql-backup FILE` (fate_pulumi/backup.py; restored
   after `pulumi up` with `fate-pulumi restore`), or refused unless `--accept-data-loss`; a stack that keeps MySQL
   in an emptyDir again is refused unless `--accept-data-loss`;
1. it saves every object of the Helm release as it runs now (with its `managedFields`), the release records Helm
   keeps in the namespace and the namespace's labels, to the backup file (mode 0600: KubeFATE's ConfigMaps hold
   passwords). An existing backup file is never overwritten: a second run continues from it;
2. it hands the fields Helm's field manager owns on every object the stack manages to the server-side apply field
   manager the stack applies with (`fate-pulumi`, operation Apply), the way `kubectl apply --server-side` upgrades
   client-side-applied objects (k8s.io/client-go/util/csaupgrade). Server-side apply prunes a field only when the
   applier owned it and stopped sending it; Helm writes with client-side create/patch, so without this step every
   field KubeFATE set and fate-pulumi sets differently (an env `value` that becomes `valueFrom`, a mount, a port)
   would stay Helm's and be merged with fate-pulumi's, which the API server refuses;
3. it deletes the objects of the release the stack does not manage (KubeFATE's example.com Ingresses); a workload
   or a claim there stops everything before any change;
4. it detaches Helm: the release records are deleted (saved in the backup), so neither `helm` nor KubeFATE
   uninstalls or upgrades what Pulumi now owns.

Nothing is deleted but the leftovers of step 3 and Helm's records; workloads and claims keep their UIDs.

`rollback` hands the deployment back unchanged: each object of the release gets its saved labels, annotations,
spec/data and field ownership back (config objects first, then the workloads, whose pods roll back), what the
adoption added (Secrets, NetworkPolicies, PodDisruptionBudgets ...) is deleted (claims never), the namespace gets
its labels back, and Helm's release records are restored last. Run it after `pulumi stack rm --force` (which forgets
the stack without touching the cluster; never `pulumi destroy`).

Both talk to the cluster through `kubectl` (`$KUBECTL`, default `kubectl` on PATH), with `--kubeconfig`/`--context`.
Exit status: 0 done, 1 refused or failed (nothing changed when refused before step 2), 2 bad input.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime as dt
import gzip
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Optional

import yaml

from components.endpoints import MYSQL
from components.kube import ADOPT_FIELD_MANAGER
from fate_pulumi.backup import MysqlExec, dump, ephemeral_data, mysql_pod, mysql_workload, read_trailer, verify
from fate_pulumi.inputs import InputError, output_file, read_text
from fate_pulumi.kubectl import ClusterError, Kubectl, resource_of
from fate_pulumi.managed import ManagedStack, managed_stack, not_adoptable

MYSQL_WORKLOAD = MYSQL.name
HELM_MANAGER = "helm"  # the helm CLI's field manager; KubeFATE's service links Helm and writes as its own binary
HELM_ANNOTATION = "meta.helm.sh/release-name"  # Helm sets it on every object it installs
FIELD_MANAGER_ANNOTATION = "pulumi.com/patchFieldManager"
BACKUP_VERSION = 1
# kinds whose loss would lose data or service: never deleted, and a release object of these kinds that the stack
# does not manage stops the take-over
PROTECTED_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "PersistentVolumeClaim",
                   "Pod", "Namespace"}
# what an adopted stack may have added next to KubeFATE's objects (rollback deletes these when not in the backup)
ADDED_KINDS = (
    "ConfigMap",
    "Secret",
    "Service",
    "Deployment",
    "StatefulSet",
    "NetworkPolicy.v1.networking.k8s.io",
    "PodDisruptionBudget.v1.policy",
    "Ingress.v1.networking.k8s.io",
    "ServiceAccount",
    "PersistentVolumeClaim",
)
# restore order: what pods read before the pods
RESTORE_ORDER = ("Namespace", "ServiceAccount", "Role", "RoleBinding", "Secret", "ConfigMap", "Service", "Ingress")
# set by the API server or the controllers; left out when an object is written back
SERVER_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink",
                   "deletionTimestamp", "deletionGracePeriodSeconds")


class AdoptError(ClusterError):
    """take-over or rollback refused, or a step of it failed."""


# ---------------------------------------------------------------------------------------------------------------
# Field ownership (pure): what csaupgrade.UpgradeManagedFields does for kubectl
# ---------------------------------------------------------------------------------------------------------------


def merge_fields(a: dict, b: dict) -> dict:
    """The union of two FieldsV1 sets (JSON tries: `f:<field>`, `k:<key>`, `v:<value>`, `.` = the node itself)."""
    out = copy.deepcopy(a)
    for key, value in b.items():
        if key in out and isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = merge_fields(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def owns_helm_annotation(entry: dict) -> bool:
    annotations = (entry.get("fieldsV1") or {}).get("f:metadata", {}).get("f:annotations", {})
    return f"f:{HELM_ANNOTATION}" in annotations


def helm_managers(obj: dict, extra: Iterable[str] = ()) -> set[str]:
    """The client-side managers that wrote an object for Helm: `helm`, whoever owns Helm's release annotation (a
    program linking Helm, e.g. KubeFATE's service, writes under its own name) and any the user names."""
    names = {HELM_MANAGER, *extra}
    for entry in obj.get("metadata", {}).get("managedFields") or []:
        if entry.get("operation") == "Update" and not entry.get("subresource") and owns_helm_annotation(entry):
            names.add(entry["manager"])
    return names


def _is_client_side(entry: dict, managers: set[str]) -> bool:
    return entry.get("operation") == "Update" and not entry.get("subresource") and entry.get("manager") in managers


def upgrade_managed_fields(
    entries: Sequence[dict], managers: set[str], to: str = ADOPT_FIELD_MANAGER
) -> Optional[list[dict]]:
    """`managedFields` with every field of the client-side `managers` owned by `to` as an Apply manager (merged into
    its entry if it has one); None when none of `managers` owns anything. Status and other subresource entries stay."""
    taken = [e for e in entries if _is_client_side(e, managers)]
    if not taken:
        return None
    kept = [copy.deepcopy(e) for e in entries if not _is_client_side(e, managers)]
    fields: dict = {}
    for entry in taken:
        fields = merge_fields(fields, entry.get("fieldsV1") or {})
    ours = next(
        (e for e in kept if e.get("manager") == to and e.get("operation") == "Apply" and not e.get("subresource")), None
    )
    if ours is not None:
        ours["fieldsV1"] = merge_fields(ours.get("fieldsV1") or {}, fields)
    else:
        kept.append(
            {
                "manager": to,
                "operation": "Apply",
                "apiVersion": taken[-1].get("apiVersion"),
                "time": max(e.get("time") or "" for e in taken) or None,
                "fieldsType": "FieldsV1",
                "fieldsV1": fields,
            }
        )
    return kept


def ref(obj: dict) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def _controller(manager: str) -> bool:
    """Kubernetes' own writers (claims' binding, Deployments' revision): their fields are theirs to keep."""
    return manager.startswith("kube-") or manager in ("kubelet", "k3s", "kwok")


# ---------------------------------------------------------------------------------------------------------------
# Helm's release records
# ---------------------------------------------------------------------------------------------------------------


def decode_release(record: dict) -> dict:
    """A Helm 3 release record (Secret `sh.helm.release.v1.<name>.v<n>` or, with HELM_DRIVER=configmap, a ConfigMap):
    base64 of gzipped JSON, base64-encoded once more as Secret data."""
    raw = record["data"]["release"]
    blob = base64.b64decode(base64.b64decode(raw) if record["kind"] == "Secret" else raw)
    if blob[:2] == b"\x1f\x8b":
        blob = gzip.decompress(blob)
    return json.loads(blob)


def release_records(kubectl: Kubectl, namespace: str, release: str) -> list[dict]:
    selector = f"owner=helm,name={release}"
    return kubectl.list("secrets", namespace, selector) + kubectl.list("configmaps", namespace, selector)


def current_release(records: list[dict]) -> Optional[dict]:
    releases = [decode_release(r) for r in records]
    deployed = [r for r in releases if r.get("info", {}).get("status") == "deployed"]
    return max(deployed or releases, key=lambda r: r.get("version", 0), default=None)


def manifest_objects(release: dict, namespace: str) -> list[dict]:
    """apiVersion/kind/metadata.name/namespace of every object the release installed (hooks excluded)."""
    out = []
    for doc in yaml.safe_load_all(release.get("manifest", "")):
        if not isinstance(doc, dict) or "kind" not in doc:
            continue
        meta = doc.get("metadata") or {}
        out.append({"apiVersion": doc["apiVersion"], "kind": doc["kind"],
                    "metadata": {"name": meta["name"], "namespace": meta.get("namespace", namespace)}})
    return out


# ---------------------------------------------------------------------------------------------------------------
# Backup
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Backup:
    namespace: str
    release: str
    records: list[dict]
    objects: list[dict]
    namespace_object: Optional[dict]
    taken: str = ""
    deleted: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"version": BACKUP_VERSION, "namespace": self.namespace, "release": self.release, "taken": self.taken,
                "fieldManager": ADOPT_FIELD_MANAGER, "releaseRecords": self.records, "objects": self.objects,
                "namespaceObject": self.namespace_object}

    @classmethod
    def load(cls, path: Path) -> Backup:
        """A backup file take-over wrote; anything else is bad input, in one line."""
        what = "backup take-over wrote (--backup)"
        try:
            doc = json.loads(read_text(path, what))
        except ValueError:
            doc = None
        keys = ("namespace", "release", "releaseRecords", "objects")
        if not isinstance(doc, dict) or not all(k in doc for k in keys):
            raise InputError(f"{path}: not a backup written by fate-pulumi adopt take-over (JSON with "
                             f"{', '.join(keys)}) — give the file its --backup wrote")
        if doc.get("version") != BACKUP_VERSION:
            raise InputError(f"{path}: backup version {doc.get('version')!r}, this fate-pulumi reads "
                             f"{BACKUP_VERSION} — roll back with the fate-pulumi release that wrote it")
        return cls(doc["namespace"], doc["release"], doc["releaseRecords"], doc["objects"], doc.get("namespaceObject"),
                   doc.get("taken", ""))

    def write(self, path: Path) -> None:
        """Written once, readable by the owner only (it holds KubeFATE's ConfigMaps, which hold passwords)."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(self.to_json(), fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())


def capture(kubectl: Kubectl, namespace: str, release: str) -> Backup:
    records = release_records(kubectl, namespace, release)
    current = current_release(records)
    if current is None:
        raise AdoptError(
            f"no Helm release {release!r} in namespace {namespace} (kubectl -n {namespace} get secret "
            f"-l owner=helm,name={release}); if an earlier take-over detached it, pass that run's --backup"
        )
    objects = []
    for wanted in manifest_objects(current, namespace):
        if wanted["metadata"]["namespace"] != namespace:
            raise AdoptError(
                f"release object {ref(wanted)} is in namespace {wanted['metadata']['namespace']}, not {namespace}"
            )
        live = kubectl.obj(wanted)
        if live is None:
            print(f"note: {ref(wanted)} of the release does not exist (deleted by hand?)", file=sys.stderr)
            continue
        objects.append(live)
    return Backup(namespace, release, records, objects, kubectl.get("namespace", namespace, None),
                  taken=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))


# ---------------------------------------------------------------------------------------------------------------
# The passwords the running party uses (KubeFATE keeps them in ConfigMaps and in workloads' env and args)
# ---------------------------------------------------------------------------------------------------------------

# fate key -> where KubeFATE v1.11.2's charts write it: (apiVersion, kind, name, how to read it)
LIVE_PASSWORDS: dict[str, list[tuple[str, str, str, tuple]]] = {
    "mysqlPassword": [("apps/v1", "StatefulSet", "mysql", ("env", "MYSQL_PASSWORD")),
                      ("v1", "ConfigMap", "python-config", ("yaml", "service_conf.yaml", "database", "passwd")),
                      ("v1", "ConfigMap", "eggroll-config",
                       ("properties", "eggroll.properties", "eggroll.resourcemanager.clustermanager.jdbc.password"))],
    "fateboardPassword": [("v1", "ConfigMap", "fateboard-config",
                           ("properties", "application.properties", "server.board.login.password"))],
    "notebookHashedPassword": [("apps/v1", "StatefulSet", "client", ("env", "NOTEBOOK_HASHED_PASSWORD"))],
    "rabbitmqPassword": [("apps/v1", "Deployment", "rabbitmq", ("env", "RABBITMQ_PASSWORD")),
                         ("v1", "ConfigMap", "python-config", ("yaml", "service_conf.yaml", "rabbitmq", "password"))],
    "hivePassword": [("v1", "ConfigMap", "python-config", ("yaml", "service_conf.yaml", "hive", "password"))],
    "zookeeperPassword": [("v1", "ConfigMap", "python-config", ("yaml", "service_conf.yaml", "zookeeper", "password"))],
    "servingRedisPassword": [("apps/v1", "Deployment", "serving-redis", ("arg", "--requirepass")),
                             ("v1", "ConfigMap", "serving-server-config",
                              ("properties", "serving-server.properties", "redis.password"))],
    "servingAdminPassword": [("v1", "ConfigMap", "serving-admin-config",
                              ("properties", "application.properties", "admin.password"))],
}


def _section(doc: Any, section: str) -> Optional[dict]:
    """The first mapping under key `section`, anywhere in a YAML document."""
    if isinstance(doc, dict):
        if isinstance(doc.get(section), dict):
            return doc[section]
        children: Iterable[Any] = doc.values()
    elif isinstance(doc, list):
        children = doc
    else:
        return None
    for child in children:
        found = _section(child, section)
        if found is not None:
            return found
    return None


def read_password(obj: dict, how: tuple) -> Optional[str]:
    """One password as an object of the running party holds it; None when it is not there."""
    if how[0] in ("env", "arg"):
        for c in obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            if how[0] == "env":
                for e in c.get("env") or []:
                    if e.get("name") == how[1] and "value" in e:
                        return str(e["value"])
            else:
                args = [*(c.get("command") or []), *(c.get("args") or [])]
                if how[1] in args[:-1]:
                    return str(args[args.index(how[1]) + 1])
        return None
    text = (obj.get("data") or {}).get(how[1])
    if text is None:
        return None
    if how[0] == "properties":
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() == how[2]:
                return value.strip()
        return None
    try:
        section = _section(yaml.safe_load(text), how[2])
    except yaml.YAMLError:
        return None
    value = section.get(how[3]) if section else None
    return None if value is None else str(value)


def live_passwords(kubectl: Kubectl, namespace: str, keys: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """fate key -> [(where, value)] as the running party's objects hold them (objects it lacks are skipped)."""
    cache: dict[tuple[str, str], Optional[dict]] = {}
    out: dict[str, list[tuple[str, str]]] = {}
    for key in dict.fromkeys(keys):
        for api, kind, name, how in LIVE_PASSWORDS.get(key, []):
            if (kind, name) not in cache:
                cache[(kind, name)] = kubectl.get(resource_of(api, kind), name, namespace)
            obj = cache[(kind, name)]
            value = read_password(obj, how) if obj is not None else None
            if value is not None:
                out.setdefault(key, []).append((f"{kind} {name} {how[1]}", value))
    return out


# ---------------------------------------------------------------------------------------------------------------
# take-over
# ---------------------------------------------------------------------------------------------------------------


def mysql_data_check(kubectl: Kubectl, plan: ManagedStack, mysql_backup: Optional[Path], accept_data_loss: bool,
                     out: IO[str] = sys.stdout) -> tuple[bool, Optional[str]]:
    """Refuse to take over a release whose MySQL keeps its data in the pod (KubeFATE's `persistence: false`: an
    emptyDir, core/mysql/statefulSet.yaml) unless it is backed up first or its loss accepted, and a stack that would
    keep it there again unless that is accepted. Returns whether the release runs a MySQL, and where its data is
    lost (None: on a claim)."""
    live = mysql_workload(kubectl, plan.namespace)
    if live is None:
        if mysql_backup is not None:
            print(f"note: no MySQL in namespace {plan.namespace}: nothing to back up to {mysql_backup}", file=out)
        return False, None
    old = ephemeral_data(live)
    new = ephemeral_data(plan.mysql) if plan.mysql is not None else None
    if old and mysql_backup is None and not accept_data_loss:
        raise AdoptError(
            f"{live['kind']}/{MYSQL_WORKLOAD} in {plan.namespace} keeps FATE Flow's jobs and eggroll's metadata in "
            f"{old}, which is emptied when pulumi up restarts its pod: pass --mysql-backup FILE (dumped now, restored "
            "after pulumi up with fate-pulumi restore) or --accept-data-loss")
    if new and not accept_data_loss:
        raise AdoptError(
            f"{plan.path}: fate:persistence.enabled is false, so the stack keeps MySQL in {new} too and its data is "
            "lost whenever its pod restarts: pass --accept-data-loss to take over anyway"
            + (" (--mysql-backup carries the data over this take-over)" if mysql_backup else ""))
    if old and mysql_backup is None:
        print(f"warning: MySQL is not backed up (--accept-data-loss): FATE Flow's jobs and eggroll's metadata in {old} "
              "are lost when pulumi up restarts its pod", file=out)
    return True, old


def reusable_dump(path: Path, namespace: str) -> dict:
    """An existing --mysql-backup file: a dump of this namespace (bad input otherwise)."""
    meta = read_trailer(path)
    if meta.get("namespace") != namespace:
        raise InputError(f"{path}: a MySQL backup of namespace {meta.get('namespace')}, not {namespace} — "
                         "name a new file for --mysql-backup")
    return meta


def mysql_dump(kubectl: Kubectl, plan: ManagedStack, path: Path, dry_run: bool, out: IO[str] = sys.stdout) -> None:
    """Dump the running MySQL to `path` before anything changes; an existing dump of this namespace is kept (a second
    run continues with it: by then the pod may already run empty)."""
    if path.exists():
        meta = reusable_dump(path, plan.namespace)
        verify(path, meta)
        print(f"continuing with MySQL backup {path} (taken {meta.get('taken')}; move it away for a new one)", file=out)
        return
    _, pod = mysql_pod(kubectl, plan.namespace)
    if dry_run:
        print(f"would back up MySQL (pod {plan.namespace}/{pod}) to {path}", file=out)
        return
    dump(MysqlExec.kubectl(kubectl, plan.namespace, pod), path, {"namespace": plan.namespace, "pod": pod}, out)


def take_over(kubectl: Kubectl, plan: ManagedStack, backup_path: Path, release: Optional[str] = None,
              extra_managers: Sequence[str] = (), dry_run: bool = False, out: IO[str] = sys.stdout,
              mysql_backup: Optional[Path] = None, accept_data_loss: bool = False) -> int:
    """Steps 0-4 of the module's docstring: MySQL's data checked (and dumped), the release saved, Helm's fields handed
    to the stack's field manager, what the stack does not manage deleted, Helm detached."""
    if not plan.adopt:
        raise not_adoptable(plan.path)
    has_mysql, lost = mysql_data_check(kubectl, plan, mysql_backup, accept_data_loss, out)
    release = release or plan.name
    backup = _saved_release(kubectl, plan, backup_path, release, dry_run, out)
    taken, leftovers = _release_objects(backup, plan)
    foreign = _foreign_objects(kubectl, plan, backup)
    if foreign:
        print("warning: these objects exist but are not part of the release; `pulumi up` takes them over as they "
              "are declared in the stack: " + ", ".join(foreign), file=out)

    if mysql_backup is not None and has_mysql:
        mysql_dump(kubectl, plan, mysql_backup, dry_run, out)
    print(
        f"{'would hand' if dry_run else 'handing'} Helm's fields to field manager {ADOPT_FIELD_MANAGER!r} on "
        f"{len(taken)} objects; {'would delete' if dry_run else 'deleting'} {len(leftovers)} the stack does not manage"
        + (": " + ", ".join(ref(o) for o in leftovers) if leftovers else ""),
        file=out,
    )
    if dry_run:
        return 0

    left_behind: dict[str, set[str]] = {}
    for saved in taken:
        others = _hand_over(kubectl, saved, extra_managers)
        if others:
            left_behind[ref(saved)] = others
    for obj in leftovers:
        kubectl.delete(obj)
    for record in backup.records:
        kubectl.delete(record)
    print(
        f"detached Helm: deleted {len(backup.records)} release record(s) of {release} (restored by rollback)", file=out
    )
    if left_behind:
        print("note: fields some objects got from other client-side writers stay theirs (kubectl edit/patch/scale; "
              "pass --manager NAME to hand them over too): "
              + "; ".join(f"{k}: {', '.join(sorted(v))}" for k, v in sorted(left_behind.items())), file=out)
    if lost and mysql_backup is not None:
        print(f"next: pulumi preview, pulumi up (MySQL starts empty), fate-pulumi restore {plan.path} --from "
              f"{mysql_backup}, then pulumi refresh --yes once (README)", file=out)
    else:
        print("next: pulumi preview, pulumi up, then pulumi refresh --yes once (README)", file=out)
    return 0


def _saved_release(kubectl: Kubectl, plan: ManagedStack, backup_path: Path, release: str, dry_run: bool,
                   out: IO[str] = sys.stdout) -> Backup:
    """The release as it runs now, saved to `backup_path` (not with dry_run); a backup already there is continued
    from, if it is this release's and the release has not changed since."""
    if backup_path.exists():
        backup = Backup.load(backup_path)
        if (backup.namespace, backup.release) != (plan.namespace, release):
            raise AdoptError(f"{backup_path} is the backup of release {backup.release} in {backup.namespace}, "
                             f"not {release} in {plan.namespace}")
        saved_records = {r["metadata"]["name"] for r in backup.records}
        newer = [r["metadata"]["name"] for r in release_records(kubectl, plan.namespace, release)
                 if r["metadata"]["name"] not in saved_records]
        if newer:
            raise AdoptError(
                f"the release changed since {backup_path} was taken ({', '.join(newer)}): move that backup "
                "away and run take-over again for a new one"
            )
        print(f"continuing from {backup_path} (taken {backup.taken})", file=out)
    else:
        backup = capture(kubectl, plan.namespace, release)
        if not dry_run:
            backup.write(backup_path)
            print(f"saved release {release}: {len(backup.objects)} objects, {len(backup.records)} release record(s) "
                  f"-> {backup_path} (mode 0600)", file=out)
    return backup


def _release_objects(backup: Backup, plan: ManagedStack) -> tuple[list[dict], list[dict]]:
    """The release's objects the stack takes over, and those it does not manage (deleted); refused when one of the
    latter is a workload or a claim (PROTECTED_KINDS), which would be left without an owner."""
    taken = [o for o in backup.objects if (o["kind"], o["metadata"]["name"]) in plan.objects]
    leftovers = [o for o in backup.objects if (o["kind"], o["metadata"]["name"]) not in plan.objects]
    protected = [ref(o) for o in leftovers if o["kind"] in PROTECTED_KINDS]
    if protected:
        raise AdoptError(
            "the stack does not manage these objects of the release, which would be left without an owner: "
            + ", ".join(protected)
            + " (is the stack file imported from the cluster.yaml this release was "
            "installed with?)"
        )
    return taken, leftovers


def _foreign_objects(kubectl: Kubectl, plan: ManagedStack, backup: Backup) -> list[str]:
    """Objects the stack manages that exist outside the release and were not applied by the stack's field manager."""
    release_names = {(o["kind"], o["metadata"]["name"]) for o in backup.objects}
    foreign = []
    for kind, name in sorted(plan.objects - release_names):
        api = {
            "NetworkPolicy": "networking.k8s.io/v1",
            "PodDisruptionBudget": "policy/v1",
            "Ingress": "networking.k8s.io/v1",
            "Deployment": "apps/v1",
            "StatefulSet": "apps/v1",
        }.get(kind, "v1")
        live = kubectl.get(resource_of(api, kind), name, plan.namespace)
        if live is not None and ADOPT_FIELD_MANAGER not in {
            m.get("manager") for m in live["metadata"].get("managedFields") or []
        }:
            foreign.append(f"{kind}/{name}")
    return foreign


def _hand_over(kubectl: Kubectl, saved: dict, extra_managers: Sequence[str]) -> set[str]:
    """Hand Helm's fields on one object of the release to the stack's field manager (read again and retried when a
    controller wrote it meanwhile); the other client-side writers whose fields stay theirs."""
    for attempt in range(5):
        live = kubectl.obj(saved)
        if live is None:
            break
        if live["metadata"]["uid"] != saved["metadata"]["uid"]:
            raise AdoptError(f"{ref(saved)} was recreated since the backup (uid changed); not touching it")
        managers = helm_managers(saved, extra_managers) | helm_managers(live, extra_managers)
        upgraded = upgrade_managed_fields(live["metadata"].get("managedFields") or [], managers)
        if upgraded is None:
            break
        try:
            kubectl.json_patch(live, [
                {"op": "test", "path": "/metadata/resourceVersion", "value": live["metadata"]["resourceVersion"]},
                {"op": "replace", "path": "/metadata/managedFields", "value": upgraded}])
            break
        except ClusterError as err:  # changed meanwhile (a controller wrote status): read it again
            if attempt == 4:
                raise err
    live = kubectl.obj(saved)
    if live is None:
        return set()
    return {m["manager"] for m in live["metadata"].get("managedFields") or []
            if m.get("operation") == "Update" and not m.get("subresource") and not _controller(m["manager"])}


# ---------------------------------------------------------------------------------------------------------------
# rollback
# ---------------------------------------------------------------------------------------------------------------


def restorable(saved: dict, live: Optional[dict]) -> dict:
    """The saved object as a write: without what the server sets, at the live resourceVersion."""
    body = {k: copy.deepcopy(v) for k, v in saved.items() if k != "status"}
    body["metadata"] = {k: v for k, v in body["metadata"].items() if k not in SERVER_METADATA}
    if live is not None:
        body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
    return body


def _restore_order(obj: dict) -> int:
    return RESTORE_ORDER.index(obj["kind"]) if obj["kind"] in RESTORE_ORDER else len(RESTORE_ORDER)


def emptied_by_rollback(kubectl: Kubectl, backup: Backup) -> Optional[str]:
    """Where the release's MySQL keeps its data when that is in the pod (an emptyDir) and the rollback changes the pod
    template, so MySQL restarts empty; None otherwise."""
    saved = next((o for o in backup.objects
                  if o["kind"] in ("StatefulSet", "Deployment") and o["metadata"]["name"] == MYSQL_WORKLOAD), None)
    where = ephemeral_data(saved) if saved is not None else None
    if where is None or saved is None:
        return None
    live = kubectl.obj(saved)
    return where if live is None or live["spec"]["template"] != saved["spec"]["template"] else None


def rollback(kubectl: Kubectl, backup: Backup, wait: int = 600, out: IO[str] = sys.stdout) -> int:
    ns = backup.namespace
    saved_names = {(o["kind"], o["metadata"]["name"]) for o in backup.objects}
    emptied = emptied_by_rollback(kubectl, backup)
    # 1. every object of the release: spec/data, labels and annotations, then its field ownership
    for saved in sorted(backup.objects, key=_restore_order):
        live = kubectl.obj(saved)
        if live is None:
            written = kubectl.create(restorable(saved, None))
            print(f"recreated {ref(saved)}", file=out)
        else:
            written = kubectl.replace(restorable(saved, live))
            print(f"restored {ref(saved)}", file=out)
        # a write that changes only managedFields sets them as given: Helm's manager owns its fields again
        kubectl.json_patch(written, [{"op": "replace", "path": "/metadata/managedFields",
                                      "value": saved["metadata"].get("managedFields") or []}])
    # 2. what the adoption added: objects applied by the stack's field manager that the release did not have
    for resource in ADDED_KINDS:
        for obj in kubectl.list(resource, ns):
            if (obj["kind"], obj["metadata"]["name"]) in saved_names:
                continue
            managers = {m.get("manager") for m in obj["metadata"].get("managedFields") or []}
            annotated = (obj["metadata"].get("annotations") or {}).get(FIELD_MANAGER_ANNOTATION) == ADOPT_FIELD_MANAGER
            if obj["kind"] in PROTECTED_KINDS and obj["kind"] not in ("Deployment", "StatefulSet") \
                    and (ADOPT_FIELD_MANAGER in managers or annotated):
                print(f"kept {ref(obj)}: created by the adoption, never deleted here (delete it by hand if it holds "
                      "nothing you need)", file=out)
            elif ADOPT_FIELD_MANAGER in managers or annotated:
                kubectl.delete(obj)
                print(f"deleted {ref(obj)} (added by the adoption)", file=out)
    # 3. the namespace's labels and annotations (Pod Security Admission labels a stack may have patched on)
    if backup.namespace_object is not None:
        live_ns = kubectl.get("namespace", ns, None)
        if live_ns is not None:
            saved_meta = backup.namespace_object["metadata"]
            if (live_ns["metadata"].get("labels"), live_ns["metadata"].get("annotations")) != \
                    (saved_meta.get("labels"), saved_meta.get("annotations")):
                kubectl.json_patch(live_ns, [
                    {"op": "add", "path": "/metadata/labels", "value": saved_meta.get("labels") or {}},
                    {"op": "add", "path": "/metadata/annotations", "value": saved_meta.get("annotations") or {}}])
                print(f"restored the labels and annotations of namespace {ns}", file=out)
    # 4. Helm's release records, last: from here on Helm (and KubeFATE) own the release again
    for record in backup.records:
        resource = resource_of(record["apiVersion"], record["kind"])
        if kubectl.get(resource, record["metadata"]["name"], ns) is None:
            kubectl.create(restorable(record, None))
            print(f"restored Helm release record {ref(record)}", file=out)
    if wait:
        for saved in backup.objects:
            if saved["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
                kubectl.run("rollout", "status", f"{saved['kind'].lower()}/{saved['metadata']['name']}", "-n", ns,
                            f"--timeout={wait}s")
        print("every workload of the release has rolled back", file=out)
    print(f"release {backup.release} is Helm's again (helm -n {ns} status {backup.release})", file=out)
    if emptied:
        print(f"note: MySQL keeps its data in {emptied} and its pod restarted: it is empty now. Load the newest backup "
              "of it: fate-pulumi restore STACK_FILE --from FILE (README: Handing the party back to Helm)", file=out)
    return 0


# ---------------------------------------------------------------------------------------------------------------


def main(argv: Optional[list[str]] = None, prog: str = "fate-pulumi adopt") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                     epilog="exit status: 0 done, 1 a step failed (nothing after it was changed), "
                                            "2 bad input")
    sub = parser.add_subparsers(dest="command", required=True)
    take = sub.add_parser("take-over", help="back up the Helm release, hand Helm's fields to the stack, detach Helm")
    take.add_argument("stack_file", type=Path, help="the Pulumi.<stack>.yaml imported with fate-pulumi import --adopt")
    take.add_argument("--backup", type=Path, required=True, help="where the release is saved (never overwritten)")
    take.add_argument("--release", help="Helm release name (default: the stack's fate:name, as KubeFATE names it)")
    take.add_argument("--manager", action="append", default=[],
                      help="another client-side field manager whose fields the stack takes over (e.g. kubectl-edit)")
    take.add_argument("--dry-run", action="store_true", help="say what would be done; change and write nothing")
    take.add_argument("--mysql-backup", type=Path, metavar="FILE",
                      help="dump the release's MySQL to FILE first (mode 0600; needed when it keeps its data in an "
                           "emptyDir, KubeFATE's persistence: false): restore it after pulumi up with "
                           "fate-pulumi restore STACK_FILE --from FILE")
    take.add_argument("--accept-data-loss", action="store_true",
                      help="take over although MySQL's data is lost when its pod restarts (not backed up, or the "
                           "stack keeps persistence off)")
    back = sub.add_parser("rollback", help="hand the deployment back to Helm as the backup saved it")
    back.add_argument("--backup", type=Path, required=True)
    back.add_argument("--wait", type=int, default=600, help="seconds to wait for each workload's rollout (0: no wait)")
    for p in (take, back):
        p.add_argument("--kubeconfig")
        p.add_argument("--context")
    args = parser.parse_args(argv)
    kubectl = Kubectl(args.kubeconfig, args.context)
    if args.command == "take-over":
        if args.mysql_backup is not None and not args.mysql_backup.exists():
            output_file(args.mysql_backup)
        plan = managed_stack(args.stack_file, require_adopt=True)
        if args.mysql_backup is not None and args.mysql_backup.exists():
            reusable_dump(args.mysql_backup, plan.namespace)
    else:
        backup = Backup.load(args.backup)
    try:
        if args.command == "take-over":
            return take_over(kubectl, plan, args.backup, args.release, args.manager, args.dry_run,
                             mysql_backup=args.mysql_backup, accept_data_loss=args.accept_data_loss)
        return rollback(kubectl, backup, args.wait)
    except ClusterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    from fate_pulumi.cli import guarded

    sys.exit(guarded(main))
