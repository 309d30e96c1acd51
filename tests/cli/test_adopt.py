"""Adopting a Helm release: field ownership handed over as csaupgrade does, Helm's release records read, passwords
carried into Pulumi secrets without passing through the stack file or a command line. No cluster needed (the real
thing runs in tests/engine/test_adopt_helm.py)."""

from __future__ import annotations

import base64
import gzip
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from components.kube import ADOPT_FIELD_MANAGER
from fate_pulumi import adopt
from fate_pulumi.importer import import_cluster, passwords, secrets_script, to_stack_file, write_private
from fate_pulumi.managed import managed_stack
from tests.conftest import render

HELM_FIELDS = {"f:metadata": {"f:annotations": {".": {}, "f:meta.helm.sh/release-name": {}}},
               "f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"mysql"}': {
                   "f:env": {'k:{"name":"MYSQL_PASSWORD"}': {".": {}, "f:name": {}, "f:value": {}}}}}}}}}
STATUS = {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
          "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:replicas": {}}}}


def _entry(manager: str, fields: dict, operation: str = "Update", time: str = "2024-01-01T00:00:00Z") -> dict:
    return {"manager": manager, "operation": operation, "apiVersion": "apps/v1", "time": time,
            "fieldsType": "FieldsV1", "fieldsV1": fields}


def test_helm_fields_become_the_stack_managers_apply_entry():
    entries = [_entry("helm", HELM_FIELDS), STATUS]
    out = adopt.upgrade_managed_fields(entries, {"helm"})
    assert out is not None
    assert [(e["manager"], e["operation"], e.get("subresource")) for e in out] == [
        ("kube-controller-manager", "Update", "status"), (ADOPT_FIELD_MANAGER, "Apply", None)]
    assert out[1]["fieldsV1"] == HELM_FIELDS  # every field Helm owned, the env value included: the apply prunes it
    assert entries[0]["manager"] == "helm"  # the input is not modified


def test_an_existing_apply_entry_gets_the_union():
    ours = _entry(ADOPT_FIELD_MANAGER, {"f:metadata": {"f:labels": {"f:app.kubernetes.io/name": {}}}}, "Apply")
    upgrade = _entry("helm", {"f:metadata": {"f:labels": {"f:fateMoudle": {}}}}, time="2024-02-01T00:00:00Z")
    out = adopt.upgrade_managed_fields([ours, _entry("helm", HELM_FIELDS), upgrade], {"helm"})
    assert out is not None and len(out) == 1 and out[0]["operation"] == "Apply"
    labels = out[0]["fieldsV1"]["f:metadata"]["f:labels"]
    assert set(labels) == {"f:app.kubernetes.io/name", "f:fateMoudle"}
    assert "f:meta.helm.sh/release-name" in out[0]["fieldsV1"]["f:metadata"]["f:annotations"]


def test_nothing_to_do_without_helm_entries():
    assert adopt.upgrade_managed_fields([STATUS, _entry("kubectl-edit", HELM_FIELDS)], {"helm"}) is None
    # an Apply entry of a manager named helm is not a client-side write
    assert adopt.upgrade_managed_fields([_entry("helm", HELM_FIELDS, "Apply")], {"helm"}) is None


def test_a_program_linking_helm_is_recognised_by_the_release_annotation():
    obj = {
        "metadata": {"managedFields": [_entry("kubefate", HELM_FIELDS), _entry("kubectl-edit", {"f:spec": {}}), STATUS]}
    }
    assert adopt.helm_managers(obj) == {"helm", "kubefate"}
    assert adopt.helm_managers(obj, ["kubectl-edit"]) == {"helm", "kubefate", "kubectl-edit"}


def _record(kind: str, release: dict) -> dict:
    blob = base64.b64encode(gzip.compress(json.dumps(release).encode())).decode()
    data = base64.b64encode(blob.encode()).decode() if kind == "Secret" else blob
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": "sh.helm.release.v1.fate-9999.v1"},
            "data": {"release": data}}


def test_helm_release_records_are_read_from_secrets_and_config_maps():
    manifest = (
        "---\n# Source: fate/templates/a.yaml\napiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: mysql\n"
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mysql-config\n  namespace: other\n"
    )
    release = {"name": "fate-9999", "version": 2, "info": {"status": "deployed"}, "manifest": manifest}
    old = {**release, "version": 1, "info": {"status": "superseded"}}
    for kind in ("Secret", "ConfigMap"):
        assert adopt.decode_release(_record(kind, release)) == release
        current = adopt.current_release([_record(kind, old), _record(kind, release)])
        assert current is not None and current["version"] == 2
    objects = adopt.manifest_objects(release, "fate-9999")
    assert [(o["kind"], o["metadata"]["name"], o["metadata"]["namespace"]) for o in objects] == [
        ("StatefulSet", "mysql", "fate-9999"), ("ConfigMap", "mysql-config", "other")]
    assert adopt.resource_of("apps/v1", "StatefulSet") == "StatefulSet.v1.apps"
    assert adopt.resource_of("v1", "ConfigMap") == "ConfigMap"


def test_every_adopted_object_names_the_field_manager_take_over_hands_helms_fields_to():
    data = yaml.safe_load(CLUSTER)
    res = import_cluster(data)
    adopted = render({**res.config, "adoptKubefate": True, "development": True})
    for obj in adopted.objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["annotations"]["pulumi.com/patchFieldManager"] == ADOPT_FIELD_MANAGER, obj[
                "metadata"
            ]["name"]
    fresh = render({**res.config, "development": True})
    assert not [o for o in fresh.objects if "pulumi.com/patchFieldManager" in o["metadata"].get("annotations", {})]


def test_stack_plan_lists_what_the_stack_manages(tmp_path):
    res = import_cluster(yaml.safe_load(CLUSTER))
    res.set("adoptKubefate", True)
    path = tmp_path / "Pulumi.party-9999.yaml"
    path.write_text(to_stack_file(res, "cluster.yaml"))
    plan = managed_stack(path)
    assert (plan.name, plan.namespace, plan.adopt) == ("fate-9999", "fate-9999", True)
    assert {("StatefulSet", "mysql"), ("ConfigMap", "python-config"), ("Service", "fateflow-client")} <= plan.objects
    assert not {k for k, _ in plan.objects} & {"Namespace", "Ingress"}


# ------------------------------------------------------------------------------------------------------- passwords

CLUSTER = """\
name: fate-9999
namespace: fate-9999
chartName: fate
chartVersion: v1.11.2
partyId: 9999
persistence: true
modules: [rollsite, clustermanager, nodemanager, mysql, python, fateboard, client]
computing: Eggroll
federation: Eggroll
storage: Eggroll
mysql:
  password: "it's $secret"
client:
  notebook_hashed_password: "argon2:$argon2id$v=19$x"
"""


def test_live_passwords_are_read_where_kubefates_charts_write_them():
    sts = {"spec": {"template": {"spec": {"containers": [
        {"name": "mysql", "env": [{"name": "MYSQL_PASSWORD", "value": "p1"}]},
        {"name": "redis", "command": ["redis-server"], "args": ["/etc/redis.conf", "--requirepass", "p2"]}]}}}}
    assert adopt.read_password(sts, ("env", "MYSQL_PASSWORD")) == "p1"
    assert adopt.read_password(sts, ("arg", "--requirepass")) == "p2"
    cm = {"data": {"application.properties": "server.port=8080\nserver.board.login.password = p3\n",
                   "service_conf.yaml": "fateflow:\n  port: 9380\ndatabase:\n  name: x\n  passwd: 'p4'\n"
                                        "fate_on_spark:\n  rabbitmq:\n    password: p5\n"}}
    assert adopt.read_password(cm, ("properties", "application.properties", "server.board.login.password")) == "p3"
    assert adopt.read_password(cm, ("yaml", "service_conf.yaml", "database", "passwd")) == "p4"
    assert adopt.read_password(cm, ("yaml", "service_conf.yaml", "rabbitmq", "password")) == "p5"
    assert adopt.read_password(cm, ("yaml", "service_conf.yaml", "hive", "password")) is None


def test_passwords_come_from_the_cluster_file_or_kubefates_defaults_when_adopting():
    data = yaml.safe_load(CLUSTER)
    res = import_cluster(data)
    got = {p.key: p for p in passwords(res, data, adopt=True, warn=pytest.fail)}
    assert got["mysqlPassword"].value == "it's $secret"
    assert got["notebookHashedPassword"].value == "argon2:$argon2id$v=19$x"
    assert got["fateboardPassword"].value == "admin" and "KubeFATE's default" in got["fateboardPassword"].origin
    fresh = {p.key: p for p in passwords(res, data, adopt=False, warn=pytest.fail)}
    assert fresh["fateboardPassword"].value is None  # a new party gets no weak default


def test_a_password_that_differs_from_the_running_party_is_reported_without_its_value_and_the_running_one_carried():
    data = yaml.safe_load(CLUSTER)
    res = import_cluster(data)
    live = {"mysqlPassword": [("ConfigMap python-config service_conf.yaml", "running-pw"),
                              ("StatefulSet mysql MYSQL_PASSWORD", "running-pw")],
            "fateboardPassword": [("ConfigMap fateboard-config application.properties", "admin")],
            "notebookHashedPassword": [("StatefulSet client NOTEBOOK_HASHED_PASSWORD", "a"),
                                       ("StatefulSet other X", "b")]}
    warnings: list[str] = []
    got = {p.key: p for p in passwords(res, data, adopt=True, live=live, warn=warnings.append)}
    assert got["mysqlPassword"].value == "running-pw"
    assert got["fateboardPassword"].value == "admin"
    assert got["notebookHashedPassword"].value == "argon2:$argon2id$v=19$x"  # sources disagree: the file's, warned
    assert len(warnings) == 2 and "fate:mysqlPassword" in warnings[0] and "python-config" in warnings[0]
    assert not [w for w in warnings if "running-pw" in w or "it's $secret" in w or "argon2" in w]


def test_the_secrets_script_is_private_and_pipes_exact_values_to_pulumi(tmp_path):
    data = yaml.safe_load(CLUSTER)
    res = import_cluster(data)
    script = tmp_path / "set-secrets.sh"
    write_private(script, secrets_script(passwords(res, data, adopt=True), "cluster.yaml"))
    assert stat.S_IMODE(script.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        write_private(script, "")
    # a stand-in pulumi records its arguments and what it reads on stdin
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text('#!/bin/sh\n{ printf "%s|" "$@"; printf "="; cat; echo; } >> "$LOG"\n')
    (bin_dir / "pulumi").chmod(0o755)
    log = tmp_path / "log"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "LOG": str(log)}
    proc = subprocess.run(["sh", str(script), "--stack", "party-9999"], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    calls = dict(line.split("=", 1) for line in log.read_text().splitlines())
    assert calls["config|set|--secret|--stack|party-9999|fate:mysqlPassword|"] == "it's $secret"
    assert calls["config|set|--secret|--stack|party-9999|fate:notebookHashedPassword|"] == "argon2:$argon2id$v=19$x"
    assert calls["config|set|--secret|--stack|party-9999|fate:fateboardPassword|"] == "admin"
    # and the stack file says how to run it, without any value
    text = to_stack_file(res, "cluster.yaml", Path("set-secrets.sh"))
    assert "sh set-secrets.sh" in text and "it's $secret" not in text and "argon2" not in text
