"""Strict Kubernetes OpenAPI validation with kubernetes-validate's schemas, its validator built once per kind.

kubernetes_validate.validate() re-reads the 1.5 MB definitions file and rebuilds the reference registry on every
call; validating thousands of generated objects needs the validator cached. Same schemas, same draft, same result.
"""

from __future__ import annotations

import functools
import re

import jsonschema
import kubernetes_validate
from kubernetes_validate.utils import schema_contents
from referencing import Registry, Resource

K8S_VERSION = "1.30.0"
_DIR = f"kubernetes-json-schema/v{K8S_VERSION}-local-strict"
ValidationError = kubernetes_validate.ValidationError


@functools.cache
def _registry() -> Registry:
    return Resource.from_contents(schema_contents(f"{_DIR}/_definitions.json", K8S_VERSION)) @ Registry()


@functools.cache
def _validator(kind: str, api_version: str) -> jsonschema.protocols.Validator:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = schema_contents(f"{_DIR}/{kind.lower()}-{group_version}.json", K8S_VERSION)
    registry = Resource.from_contents(schema) @ _registry()
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def validate(obj: dict) -> None:
    """Raise kubernetes_validate.ValidationError when `obj` does not match the strict 1.30 schema."""
    try:
        _validator(obj["kind"], obj["apiVersion"]).validate(obj)
    except jsonschema.ValidationError as err:
        raise ValidationError(err, version=K8S_VERSION[:4]) from None
