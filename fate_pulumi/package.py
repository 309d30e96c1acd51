"""The `fate` Pulumi package: Party, Exchange and Serving for every Pulumi language (Pulumi YAML, TypeScript, Go ...).

A component provider (provider/ runs `main`): its schema is derived from the stack config's pydantic models — the
same keys, types, defaults' descriptions and checks as `fate:*` stack config, written once (stacks/config/) —
and `construct` builds the components of stacks/deployment.py.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import sys
import types
import typing
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Optional, Union

import pulumi
import pulumi.provider as provider
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from components import registry
from stacks.config import KIND_SECTIONS, SECRET_KEYS, DeploymentConfig, IngressConfig
from stacks.deployment import KINDS, OUTPUTS, Deployment

PACKAGE = "fate"
_ANY = {"$ref": "pulumi.json#/Any"}

# stack-config keys a component does not take: the kind is the component's, the modules' secrets are their own keys
_NOT_ARGS = {"kind", "secrets"}

# what each output is, for the schema (Deployment's outputs)
_OUTPUT_DOCS: dict[str, tuple[dict[str, Any], str]] = {
    "kind": ({"type": "string"}, "party, exchange or serving"),
    "partyId": ({"type": "integer"}, "the FATE party id"),
    "name": ({"type": "string"}, "the deployment's name (KubeFATE's cluster name)"),
    "namespace": ({"type": "string"}, "the namespace it runs in"),
    "fateVersion": ({"type": "string"}, "the FATE release deployed"),
    "modules": ({"type": "array", "items": {"type": "string"}}, "the modules deployed"),
    "summary": ({"type": "string"}, "one line: what was deployed where"),
    "connect": (_ANY, "what peers need: partyId, host, and the NodePorts of the entry points by module"),
    "parties": ({"type": "array", "items": {"type": "integer"}}, "(exchange) the parties it routes to"),
    "tlsCaCertificate": ({"type": "string"}, "the CA of the certificates the deployment issues (tls.generate)"),
    "tlsCertificatesExpire": ({"type": "string"}, "when those certificates expire (ISO date)"),
    "jobs": (_ANY, "(party) each FATE job by name: jobId, status, modelId, modelVersion, boardUrl, message"),
}


def package_version() -> str:
    try:
        return version("fate-pulumi")
    except PackageNotFoundError:  # a checkout used without `pip install -e .`
        return "0.0.0"


class SchemaBuilder:
    """Pulumi package schema types from pydantic models: objects are named types (fate:index:<Model>), Literal
    choices are enums, Optional fields are optional, Annotated types their base type."""

    def __init__(self) -> None:
        self.types: dict[str, dict[str, Any]] = {}
        self._models: dict[str, type[BaseModel]] = {}

    def model_ref(self, model: type[BaseModel]) -> dict[str, Any]:
        token = f"{PACKAGE}:index:{model.__name__}"
        known = self._models.get(token)
        if known is not None and known is not model:
            raise RuntimeError(f"two config models are named {model.__name__}: {known.__module__}, {model.__module__}")
        if known is None:
            self._models[token] = model
            self.types[token] = {}  # placeholder against recursion
            props, required = self.properties(model.model_fields, owner=model.__name__)
            spec: dict[str, Any] = {"type": "object", "properties": props}
            if required:
                spec["required"] = required
            if model.__doc__ and model.__doc__ != BaseModel.__doc__:
                spec["description"] = " ".join(model.__doc__.split())
            self.types[token] = spec
        return {"$ref": f"#/types/{token}"}

    def properties(self, fields: Mapping[str, FieldInfo], owner: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
        props: dict[str, dict[str, Any]] = {}
        required: list[str] = []
        for name, info in fields.items():
            key = info.alias or name
            if info.exclude:
                continue
            spec = dict(self.type_of(info.annotation, (owner, key)))
            if info.description:
                spec["description"] = info.description
            props[key] = spec
            if info.is_required():
                required.append(key)
        return props, sorted(required)

    def type_of(self, annotation: Any, where: tuple[str, str]) -> dict[str, Any]:
        """`where`: the model and key the type is declared at (names an enum)."""
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin is typing.Annotated:
            return self.type_of(args[0], where)
        if origin in (Union, types.UnionType):
            rest = [a for a in args if a is not type(None)]
            if len(rest) == 1:
                return self.type_of(rest[0], where)
            return dict(_ANY)
        if origin is typing.Literal:
            return self.enum(args, where)
        if origin in (list, tuple, set, frozenset):
            return {"type": "array", "items": self.type_of(args[0], where) if args else _ANY}
        if origin in (dict, Mapping):
            # YAML and JSON keys are strings: "9999" reaches the int-keyed route tables and is converted there
            return {"type": "object", "additionalProperties": self.type_of(args[1], where) if args else _ANY}
        if isinstance(annotation, type):
            if issubclass(annotation, BaseModel):
                return self.model_ref(annotation)
            if issubclass(annotation, bool):
                return {"type": "boolean"}
            if issubclass(annotation, int):
                return {"type": "integer"}
            if issubclass(annotation, float):
                return {"type": "number"}
            if issubclass(annotation, (str, dt.date, SecretStr)):
                return {"type": "string"}
            if issubclass(annotation, enum.Enum):
                return self.enum(tuple(m.value for m in annotation), where)
        return dict(_ANY)

    def enum(self, values: tuple[Any, ...], where: tuple[str, str]) -> dict[str, Any]:
        """Literal choices as a named enum type (what the component provider model calls for), named after the key
        (PullPolicy), or after its model too where two keys of that name offer different choices."""
        if not all(isinstance(v, str) for v in values):
            return {"type": "integer"} if all(isinstance(v, int) for v in values) else dict(_ANY)
        spec = {"type": "string", "enum": [{"value": v} for v in values]}
        owner, key = where
        names = [key[:1].upper() + key[1:], owner + key[:1].upper() + key[1:]]
        if key in ("type", "provider"):  # too general alone (ServiceSettingsType, CloudConfigProvider)
            names.reverse()
        for name in names:
            token = f"{PACKAGE}:index:{name}"
            if self.types.setdefault(token, spec) == spec:
                return {"$ref": f"#/types/{token}"}
        raise RuntimeError(f"no free enum name for {owner}.{key}")


def kind_args(kind: str) -> set[str]:
    """The stack-config keys a deployment component of this kind takes."""
    others = set().union(*(keys for k, keys in KIND_SECTIONS.items() if k != kind))
    return {(info.alias or name) for name, info in DeploymentConfig.model_fields.items()} - others - _NOT_ARGS \
        | KIND_SECTIONS[kind]


def kind_passwords(kind: str) -> list[str]:
    keys = {p.key for m in registry.MODULES if kind in m.kinds for p in m.passwords}
    keys |= {"tlsCaKey"} | ({"hivePassword", "zookeeperPassword"} if kind == "party" else set())
    return [k for k in SECRET_KEYS if k in keys]


def schema() -> dict[str, Any]:
    """The package schema: the three deployment components, their settings (typed, documented) and outputs."""
    builder = SchemaBuilder()
    resources: dict[str, Any] = {}
    for kind, component in KINDS.items():
        fields = DeploymentConfig.model_fields
        wanted = kind_args(kind)
        inputs, required = builder.properties({n: f for n, f in fields.items() if (f.alias or n) in wanted},
                                              owner=component.__name__)
        if "ingress" in inputs:  # only the kind's web UIs
            ui = {m.name for m in registry.MODULES if m.ui and kind in m.kinds}
            ingress_props, _ = builder.properties(
                {n: f for n, f in IngressConfig.model_fields.items() if (f.alias or n) in ui | {"className"}},
                owner="Ingress")
            token = f"{PACKAGE}:index:{component.__name__}Ingress"
            builder.types[token] = {"type": "object", "properties": ingress_props,
                                    "description": "Ingress hosts of the web UIs (created only for hosts given)"}
            inputs["ingress"] = {"$ref": f"#/types/{token}", "description": inputs["ingress"].get("description", "")}
        for key in kind_passwords(kind):
            inputs[key] = {"type": "string", "secret": True, "description": SECRET_KEYS[key][2]}
        resources[component.TYPE] = {
            "isComponent": True,
            "description": " ".join((component.__doc__ or "").split()),
            "inputProperties": inputs,
            "requiredInputs": required,
            "properties": {key: {**spec, "description": doc} for key, (spec, doc) in _OUTPUT_DOCS.items()},
            "required": ["kind", "partyId", "name", "namespace", "fateVersion", "modules", "summary", "connect"],
        }
    return {
        "name": PACKAGE,
        "displayName": "FATE",
        "version": package_version(),
        "description": "FATE federated learning (1.11) on Kubernetes: parties, exchanges and FATE-Serving",
        "keywords": ["fate", "federated-learning", "kubernetes", "category/utility", "kind/component"],
        "license": "Apache-2.0",
        "resources": resources,
        "types": builder.types,
        "language": {"python": {"respectSchemaVersion": True}, "nodejs": {"respectSchemaVersion": True}},
    }


class FateProvider(provider.Provider):
    """Constructs Party, Exchange and Serving for programs in any Pulumi language."""

    def __init__(self) -> None:
        super().__init__(package_version(), json.dumps(schema()))

    def construct(self, name: str, resource_type: str, inputs: pulumi.Inputs,
                  options: Optional[pulumi.ResourceOptions] = None) -> provider.ConstructResult:
        component_type = next((c for c in KINDS.values() if c.TYPE == resource_type), None)
        if component_type is None:
            raise ValueError(f"unknown resource type {resource_type}; this package has "
                             f"{', '.join(c.TYPE for c in KINDS.values())}")
        component: Deployment = component_type(name, dict(inputs), options)
        return provider.ConstructResult(urn=component.urn,
                                        state={key: getattr(component, key) for key in OUTPUTS})


def main() -> None:
    provider.main(FateProvider(), sys.argv[1:])


if __name__ == "__main__":
    if sys.argv[1:2] == ["schema"]:  # print the schema (docs, `pulumi package get-schema` without the engine)
        print(json.dumps(schema(), indent=2))
    else:
        main()
