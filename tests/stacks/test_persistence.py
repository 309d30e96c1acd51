"""Data safety: volumes survive destroy unless the stack says otherwise, and edits never replace stateful objects."""

from __future__ import annotations

import copy

import pulumi
import pytest

import stacks.program
from tests.conftest import ROOT, party, render, stack_config
from tests.stacks.variants import VARIANTS

# Fields of a StatefulSet the API server refuses to change: a change there means delete and re-create.
IMMUTABLE_STS = ("selector", "serviceName", "volumeClaimTemplates", "podManagementPolicy")


def render_with_options(values):
    """Render and record each resource's retain_on_delete option (through a stack transformation), by its name
    within the deployment (Pulumi names start with the deployment component's name)."""
    retained = {}
    prefix = []

    def record(args: pulumi.ResourceTransformationArgs):
        if args.type_.startswith("fate:index:"):
            prefix.append(args.name + "-")
            return None
        retained[(args.type_, args.name.removeprefix(prefix[-1]))] = bool(args.opts.retain_on_delete)
        return None

    original = stacks.program.main

    def main():
        pulumi.runtime.register_stack_transformation(record)
        return original()

    stacks.program.main = main
    try:
        rendered = render(values)
    finally:
        stacks.program.main = original
    return rendered, retained


def test_default_keeps_volumes_and_namespace_on_destroy():
    values = stack_config(ROOT / "examples" / "Pulumi.serving-9999.yaml")
    rendered, retained = render_with_options(values)
    assert retained[("kubernetes:core/v1:PersistentVolumeClaim", "serving-redis-data")]
    assert retained[("kubernetes:core/v1:PersistentVolumeClaim", "serving-server-data")]
    assert retained[("kubernetes:core/v1:Namespace", "namespace")]
    sts = rendered.get("StatefulSet", "serving-zookeeper")
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert [t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]] == ["data"]
    # nothing else is kept behind
    assert {k for k, v in retained.items() if v} == {
        ("kubernetes:core/v1:PersistentVolumeClaim", "serving-redis-data"),
        ("kubernetes:core/v1:PersistentVolumeClaim", "serving-server-data"),
        ("kubernetes:core/v1:Namespace", "namespace")}


def test_retain_off_deletes_with_the_stack():
    values = VARIANTS["eggroll-persistence-tls-polling-server"]
    rendered, retained = render_with_options(values)
    assert not any(retained.values())
    for name in ("nodemanager", "python", "client"):
        assert (
            rendered.get("StatefulSet", name)["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete"
        )
    mysql = rendered.get("StatefulSet", "mysql")["spec"]
    assert "volumeClaimTemplates" not in mysql  # existingClaim mounted instead
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "bank-mysql-data"}} in mysql["template"]["spec"][
        "volumes"
    ]


def test_persistence_names_match_kubefate_pvcs():
    """PVC names (claim template + StatefulSet) are KubeFATE's, so existing data is found again (reference 2.2)."""
    values = stack_config(ROOT / "examples" / "Pulumi.party-9999-spark-pulsar.yaml")
    rendered = render(values)
    templates = {
        name: [t["metadata"]["name"] for t in rendered.get("StatefulSet", name)["spec"]["volumeClaimTemplates"]]
        for name in ("python", "client", "mysql", "namenode", "datanode", "pulsar")
    }
    assert templates == {"python": ["python-data"], "client": ["persistence"], "mysql": ["data"], "namenode": ["dfs"],
                         "datanode": ["dfs"], "pulsar": ["pulsar-data"]}
    nm = render(stack_config(ROOT / "examples" / "Pulumi.party-9999-eggroll.yaml")).get("StatefulSet", "nodemanager")
    assert [t["metadata"]["name"] for t in nm["spec"]["volumeClaimTemplates"]] == ["data-dir"]


def _stateful_identity(rendered):
    out = {}
    for obj in rendered.objects:
        if obj["kind"] == "StatefulSet":
            out[("StatefulSet", obj["metadata"]["name"])] = {f: obj["spec"].get(f) for f in IMMUTABLE_STS}
        if obj["kind"] == "PersistentVolumeClaim":
            out[("PersistentVolumeClaim", obj["metadata"]["name"])] = obj["spec"]
    return out


@pytest.mark.parametrize(
    "example", ["party-9999-eggroll", "party-9999-spark-pulsar", "exchange-rollsite", "serving-9999"]
)
def test_image_tag_party_list_and_scale_changes_update_in_place(example):
    base = stack_config(ROOT / "examples" / f"Pulumi.{example}.yaml")
    changed = copy.deepcopy(base)
    changed["imageTag"] = "1.11.3-release"
    if "rollsite" in changed and "partyList" in changed["rollsite"]:
        changed["rollsite"]["partyList"].append({"partyId": 10001, "host": "10.0.10.1", "port": 30111})
    if "rollsite" in changed and "exchange" in changed["rollsite"]:
        changed["rollsite"]["exchange"]["port"] = 30010
    if "pulsar" in changed:
        changed["pulsar"]["routeTable"][10001] = {"host": "10.0.10.1", "port": 30114, "sslPort": 30119}
    if "servingProxy" in changed:
        changed["servingProxy"]["partyList"].append({"partyId": 10001, "host": "10.0.10.1", "port": 30116})
    # scaling out
    if (
        "nodemanager" in changed
        or changed.get("backend", "eggroll") == "eggroll"
        and changed.get("kind", "party") == "party"
    ):
        changed.setdefault("nodemanager", {})["replicas"] = 5
    if changed.get("backend") == "spark_pulsar":
        changed.setdefault("hdfs", {}).setdefault("datanode", {})["replicas"] = 5
        changed.setdefault("python", {})["replicas"] = 2
    before, after = render(base), render(changed)
    assert _stateful_identity(before) == _stateful_identity(after)
    assert before.kinds_names() <= after.kinds_names()  # nothing deleted or re-created by name
    assert {k for k, _ in after.kinds_names() - before.kinds_names()} <= {"PodDisruptionBudget"}  # scaled out past 1
    # ... while the change did happen: new images and rolled pods
    images_before = {c["image"] for o in before.objects if o["kind"] in ("Deployment", "StatefulSet")
                     for c in o["spec"]["template"]["spec"]["containers"]}
    images_after = {c["image"] for o in after.objects if o["kind"] in ("Deployment", "StatefulSet")
                    for c in o["spec"]["template"]["spec"]["containers"]}
    assert images_before != images_after and any("1.11.3-release" in i for i in images_after)


def test_route_change_rolls_the_pods_that_read_it():
    base = stack_config(ROOT / "examples" / "Pulumi.party-9999-eggroll.yaml")
    changed = copy.deepcopy(base)
    changed["rollsite"]["exchange"]["port"] = 30010

    def checksum(rendered, kind, name):
        return rendered.get(kind, name)["spec"]["template"]["metadata"]["annotations"][
            "fate.federatedai.io/config-checksum"
        ]

    before, after = render(base), render(changed)
    assert checksum(before, "Deployment", "rollsite") != checksum(after, "Deployment", "rollsite")
    assert checksum(before, "Deployment", "clustermanager") == checksum(after, "Deployment", "clustermanager")
    # a password change rolls the pods that use it
    rotated = copy.deepcopy(base)
    rotated["mysqlPassword"] = "Rotated-Secret-9"
    after_rotation = render(rotated)
    assert checksum(before, "StatefulSet", "mysql") != checksum(after_rotation, "StatefulSet", "mysql")
    assert checksum(before, "Deployment", "rollsite") == checksum(after_rotation, "Deployment", "rollsite")


def render_recording(values, option: str):
    """Render and record one resource option of every resource, by type and name within the deployment."""
    seen: dict = {}
    prefix: list = []

    def record(args: pulumi.ResourceTransformationArgs):
        if args.type_.startswith("fate:index:"):
            prefix.append(args.name + "-")
        elif prefix:
            seen[(args.type_, args.name.removeprefix(prefix[-1]))] = getattr(args.opts, option)
        return None

    original = stacks.program.main

    def main():
        pulumi.runtime.register_stack_transformation(record)
        return original()

    stacks.program.main = main
    try:
        render(values)
    finally:
        stacks.program.main = original
    return seen


def test_mysql_and_standalone_claims_are_protected_by_default_and_on_request_only():
    party_protected = {k for k, v in render_recording(party(), "protect").items() if v}
    assert party_protected == {("kubernetes:apps/v1:StatefulSet", "mysql")}
    serving = stack_config(ROOT / "examples" / "Pulumi.serving-9999.yaml")
    assert {k for k, v in render_recording(serving, "protect").items() if v} == {
        ("kubernetes:core/v1:PersistentVolumeClaim", "serving-redis-data"),
        ("kubernetes:core/v1:PersistentVolumeClaim", "serving-server-data")}
    assert not any(render_recording(party(persistence={"protect": False}), "protect").values())
    assert not any(render_recording(party(persistence={"enabled": False}), "protect").values())
    assert {k for k, v in render_recording(party(persistence={"enabled": False, "protect": True}), "protect").items()
            if v} == {("kubernetes:apps/v1:StatefulSet", "mysql")}


def test_objects_die_with_a_namespace_the_stack_deletes_only():
    kept = render_recording(party(), "deleted_with")
    assert not any(kept.values())  # the namespace stays (retained volumes): every object is deleted on its own
    gone = render_recording(party(persistence={"retainOnDestroy": False}), "deleted_with")
    namespaced = {k: v for k, v in gone.items() if k[0].startswith("kubernetes:")
                  and k[0] not in ("kubernetes:core/v1:Namespace",)}
    assert namespaced and all(v is not None for v in namespaced.values()), [k for k, v in namespaced.items() if not v]
    assert gone[("kubernetes:core/v1:Namespace", "namespace")] is None
