"""Every rendered object validates against the Kubernetes 1.30 OpenAPI schema (kubernetes-validate, strict)."""

from __future__ import annotations

import kubernetes_validate
import pytest

from tests import k8s_schema
from tests.conftest import STACK_FILES, render, render_file
from tests.stacks.variants import VARIANTS

# Istio custom resources have no schema in Kubernetes' OpenAPI; they are checked for shape in test_variants.
CUSTOM_KINDS = {("networking.istio.io/v1beta1", "Gateway"), ("networking.istio.io/v1beta1", "VirtualService")}


def validate_all(objects: list[dict]) -> int:
    validated = 0
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_KINDS:
            continue
        try:
            k8s_schema.validate(obj)
        except kubernetes_validate.ValidationError as err:
            raise AssertionError(
                f"{obj['kind']}/{obj['metadata']['name']}: {err.message} at {list(err.path)}"
            ) from None
        validated += 1
    return validated


def test_stack_files_validate(stack_file):
    objects = render_file(stack_file).objects
    assert validate_all(objects) == len(objects)  # no custom kinds in the examples: every object was checked


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variants_validate(name):
    objects = render(VARIANTS[name]).objects
    custom = [o for o in objects if (o["apiVersion"], o["kind"]) in CUSTOM_KINDS]
    assert validate_all(objects) == len(objects) - len(custom)
    assert validate_all(objects) > 0


def test_cached_validator_agrees_with_kubernetes_validate():
    """The cached validator is kubernetes-validate's own check (strict, 1.30) for every kind we render."""
    objects = render_file(STACK_FILES[-1]).objects + render(VARIANTS["eggroll-persistence-tls-polling-server"]).objects
    for obj in objects:
        kubernetes_validate.validate(obj, "1.30.0", strict=True)
        k8s_schema.validate(obj)
    broken = {**objects[0], "unexpected": 1}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.30.0", strict=True)
    with pytest.raises(kubernetes_validate.ValidationError):
        k8s_schema.validate(broken)


def test_validator_rejects_a_broken_object():
    """The check can fail: a Deployment with a string replica count is refused."""
    obj = render_file(STACK_FILES[0]).get("Deployment", "rollsite")
    broken = {**obj, "spec": {**obj["spec"], "replicas": "one"}}
    with pytest.raises(AssertionError, match="replicas"):
        validate_all([broken])
