"""The policy pack's checks, run on rendered stacks (the engine runs the same functions in `--policy-pack policy`)."""

from __future__ import annotations

import importlib.util
from typing import Optional

import pytest

from components import kube, settings
from fate_pulumi.mocks import Rendered
from stacks.config import FATE_IMAGE_TAG
from tests.conftest import ROOT, STACK_FILES, TEST_SECRETS, party, render, render_file, stack_config
from tests.stacks.variants import VARIANTS

# the pack's rules module, loaded from its file as the policy pack loads it (policy/ is no package of this repo)
_spec = importlib.util.spec_from_file_location("rules", ROOT / "policy" / "rules.py")
assert _spec is not None and _spec.loader is not None
rules = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rules)


def violations(rendered, registry=None) -> list[str]:
    found = []
    for obj in rendered.objects:
        found += rules.image_violations(obj, registry) + rules.resource_violations(obj)
        found += rules.password_violations(obj) + rules.retention_violations(obj)
    found += rules.node_port_violations([o for o in rendered.objects if o["kind"] == "Service"])
    return found


def test_every_stack_file_complies(stack_file):
    registry = stack_config(stack_file).get("registry")
    assert violations(render_file(stack_file), registry) == []


# this variant turns retention off on purpose (see test_dropping_retention_is_caught)
@pytest.mark.parametrize("name", sorted(set(VARIANTS) - {"eggroll-persistence-tls-polling-server"}))
def test_variants_comply(name):
    values = VARIANTS[name]
    assert violations(render(values), values.get("registry")) == []


def test_dropping_retention_is_caught():
    found = violations(render(VARIANTS["eggroll-persistence-tls-polling-server"]))
    assert any("deletes its PVCs" in v and "retainOnDestroy" in v for v in found)
    serving = render(
        {
            "kind": "serving",
            "partyId": 9999,
            "development": True,
            "persistence": {"retainOnDestroy": False},
            "servingServer": {"fateflow": {"host": "10.0.0.1", "port": 30097}},
        }
    )
    assert any(v.startswith("PVC serving-redis-data is deleted on destroy") for v in violations(serving))


def test_foreign_image_is_caught():
    r = render(party(registry="harbor.bank.example/fate", backend="spark_pulsar",
                     spark={"master": {"image": "docker.io/someone/spark-master"}}))
    found = violations(r, "harbor.bank.example/fate")
    assert found == ["container spark-master pulls 'docker.io/someone/spark-master:1.11.2-release', not from "
                     "harbor.bank.example/fate; set fate:registry and mirror the image there"]


def test_password_checks():
    cm = {"kind": "ConfigMap", "metadata": {"name": "x"},
          "data": {"a.properties": "user=fate\nredis.password=hunter2\n", "b.yaml": "passwd: ''\n"}}
    assert rules.password_violations(cm) == [
        "ConfigMap key a.properties holds a password in clear (redis.password); move it to a Secret"
    ]
    dep = {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [
        {"name": "c", "env": [{"name": "MYSQL_PASSWORD", "value": "x"}, {"name": "DB_PASSWORD", "valueFrom": {}}]}]}}}}
    assert rules.password_violations(dep) == ["container c sets MYSQL_PASSWORD in clear; use valueFrom.secretKeyRef"]


def test_node_port_checks():
    svcs = [{"metadata": {"name": "a"}, "spec": {"ports": [{"nodePort": 30001}, {"nodePort": 8080}]}},
            {"metadata": {"name": "b"}, "spec": {"ports": [{"nodePort": 30001}]}}]
    assert rules.node_port_violations(svcs) == ["Service a: NodePort 8080 is outside 30000-32767",
                                                "Service b: NodePort 30001 is also used by Service a"]


def test_missing_requests_are_caught():
    dep = {
        "kind": "StatefulSet",
        "spec": {"template": {"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]}}},
    }
    assert rules.resource_violations(dep) == ["container c has no memory request; set resources or resourcesPreset"]


# ------------------------------------------------------------------ the policy's constants against components/
# The pack runs in its own process from a copy of policy/ (it cannot import components/), so it repeats what the
# components do; these tests fail when a component changes something the policy does not know.


def _renders() -> list[tuple[Optional[str], Rendered]]:
    """(registry, render) of every example stack and every variant."""
    out = [(stack_config(p).get("registry"), render_file(p)) for p in STACK_FILES]
    return out + [(values.get("registry"), render(values)) for values in VARIANTS.values()]


@pytest.fixture(scope="module")
def renders() -> list[tuple[Optional[str], Rendered]]:
    return _renders()


def _third_party_images() -> dict[str, tuple[str, str]]:
    """components/kube.py's third-party images by constant name: (Docker Hub name, pinned tag)."""
    found = {name: value for name, value in vars(kube).items() if name.endswith("_IMAGE")}
    assert found and all(isinstance(v, tuple) and len(v) == 2 for v in found.values()), found
    return found


def test_the_policys_constants_are_the_components():
    assert rules.DEFAULT_REGISTRY == kube.FATE_REGISTRY
    assert rules.RETAIN_ANNOTATION == kube.RETAIN_ANNOTATION
    assert rules.NODE_PORT_RANGE == settings.NODE_PORT_RANGE
    # the Docker Hub images the policy lets a stack without a registry pull are exactly the components' third-party
    # images
    assert sorted(rules.DEFAULT_HUB_IMAGES) == sorted(f"{hub}:" for hub, _ in _third_party_images().values())


@pytest.mark.parametrize("registry", [None, "harbor.bank.example/fate"])
def test_every_third_party_image_a_component_can_pull_is_accepted(registry):
    images = kube.Images(registry, FATE_IMAGE_TAG)
    for name, image in _third_party_images().items():
        pod = {"kind": "Pod", "spec": {"containers": [{"name": name, "image": images.third_party(image)}]}}
        assert rules.image_violations(pod, registry) == [], name


def test_every_image_rendered_is_accepted_and_only_unversioned_fate_images_are_latest(renders):
    modules = {cls.TYPE for cls in _subclasses(kube.Module)} - {kube.Module.TYPE}
    rendered_types = {r.type for _, rendered in renders for r in rendered.resources}
    assert modules <= rendered_types, f"no example or variant renders {sorted(modules - rendered_types)}"
    latest = set()
    for registry, rendered in renders:
        for obj in rendered.objects:
            assert rules.image_violations(obj, registry) == [], obj["metadata"]["name"]
            for c in rules.containers(obj):
                name, _, tag = c["image"].rsplit("/", 1)[-1].partition(":")
                if tag == "latest":
                    latest.add(name)
                if registry is None and not c["image"].startswith(tuple(rules.DEFAULT_HUB_IMAGES)):
                    assert c["image"].startswith(f"{kube.FATE_REGISTRY}/"), c["image"]
    assert latest == set(rules.UNVERSIONED_IMAGES)
    # any other FATE image on :latest is stopped
    pod = {"kind": "Pod", "spec": {"containers": [{"name": "c", "image": "federatedai/fateflow:latest"}]}}
    assert rules.image_violations(pod, None) == ["container c pulls 'federatedai/fateflow:latest' without a pinned tag"]


def _subclasses(cls: type[kube.Module]) -> set[type[kube.Module]]:
    found: set[type[kube.Module]] = {cls}
    for sub in cls.__subclasses__():
        found |= _subclasses(sub)
    return found


def test_claims_the_components_keep_carry_the_annotation_the_policy_reads(renders):
    claims = [o for _, rendered in renders for o in rendered.objects if o["kind"] == "PersistentVolumeClaim"]
    kept = [c for c in claims if (c["metadata"].get("annotations") or {}).get(rules.RETAIN_ANNOTATION) == "true"]
    assert kept and rules.retention_violations(kept[0]) == []


def test_every_password_the_components_put_in_a_secret_is_caught_were_it_in_a_configmap(renders):
    """Each Secret value that carries a (test) password, moved into a ConfigMap, is reported by the policy; and each
    env value the components take from a Secret, given in clear, is reported too."""
    passwords = [p for p in TEST_SECRETS.values() if len(p) > 4]
    seen = 0
    for _, rendered in renders:
        for obj in rendered.raw_objects:
            if obj["kind"] == "Secret":
                for key, text in (obj.get("stringData") or {}).items():
                    if any(p in str(text) for p in passwords):
                        moved = {"kind": "ConfigMap", "metadata": {"name": "x"}, "data": {key: text}}
                        found = rules.password_violations(moved)
                        assert found, f"Secret {obj['metadata']['name']} key {key}: the policy would not see it"
                        assert not any(p in f for f in found for p in passwords)  # messages never show the value
                        seen += 1
            for c in rules.containers(obj):
                for env in c.get("env") or []:
                    if "secretKeyRef" in (env.get("valueFrom") or {}):
                        clear = {"kind": "Pod", "spec": {"containers": [
                            {"name": c["name"], "env": [{"name": env["name"], "value": "Clear-Secret-9"}]}]}}
                        assert rules.password_violations(clear), f"{env['name']} in clear would pass the policy"
                        seen += 1
    assert seen > 20


def test_redis_directives_and_password_keys_in_a_configmap_are_caught():
    cm = {"kind": "ConfigMap", "metadata": {"name": "x"},
          "data": {"redis.conf": "bind 0.0.0.0\nrequirepass \"hunter2\"\n", "mysql-password": "hunter2",
                   "empty-password": "", "passwords.txt": "user=fate\nhost=mysql\n"}}
    assert rules.password_violations(cm) == [
        "ConfigMap key redis.conf holds a password in clear (requirepass); move it to a Secret",
        "ConfigMap key mysql-password holds a password in clear; move it to a Secret",
    ]
