"""The Pulumi mocks harness the offline render and the tests share: run the fate-pulumi program (or any function
that creates resources) with the SDK's documented mocks API — `pulumi.runtime.Mocks`, `set_mocks`,
`set_all_config`, `pulumi.runtime.test` — and keep what it registered.

One thing the SDK does not expose is used here and nowhere else, pinned by tests/cli/test_mocks.py against the
pinned SDK version: the marker of a secret value in serialized inputs.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi
from pulumi.runtime import rpc as _rpc

# How the SDK marks a secret value in serialized properties: {SECRET_SIG: SECRET_KIND, "value": ...}
SECRET_SIG: str = _rpc._special_sig_key
SECRET_KIND: str = _rpc._special_secret_sig


REDACTED = "<redacted>"

# kubectl applies a multi-document file in order: namespaces and config before the workloads that mount it.
KIND_ORDER = ("Namespace", "ServiceAccount", "Secret", "ConfigMap", "PersistentVolumeClaim", "Service",
              "Deployment", "StatefulSet", "Ingress", "Gateway", "VirtualService")


@dataclass
class Resource:
    type: str  # Pulumi type token
    name: str  # Pulumi logical name
    inputs: dict
    provider: Optional[str]
    parent_types: tuple[str, ...] = ()


@dataclass
class Rendered:
    resources: list[Resource] = field(default_factory=list)
    outputs: dict = field(default_factory=dict)

    @property
    def objects(self) -> list[dict]:
        """Kubernetes objects (redacted), in apply order."""
        objs = [redact(to_manifest(r.inputs)) for r in self.resources if r.type.startswith("kubernetes:")]
        return sorted(objs, key=_apply_order)

    @property
    def raw_objects(self) -> list[dict]:
        """Kubernetes objects with secret values in clear (for tests that check where values went)."""
        return [to_manifest(r.inputs, keep_secrets=True) for r in self.resources if r.type.startswith("kubernetes:")]

    def get(self, kind: str, name: str) -> dict:
        for obj in self.objects:
            if obj["kind"] == kind and obj["metadata"]["name"] == name:
                return obj
        raise KeyError(f"{kind}/{name} not rendered")

    def kinds_names(self) -> set[tuple[str, str]]:
        return {(o["kind"], o["metadata"]["name"]) for o in self.objects}


def _apply_order(obj: dict) -> tuple[int, str]:
    kind = obj.get("kind", "")
    return (KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER), obj.get("metadata", {}).get("name", ""))


def to_manifest(value: Any, keep_secrets: bool = False) -> Any:
    """Mock inputs -> plain YAML data: unwrap Pulumi secrets, floats that are integers back to ints."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_KIND:
            if keep_secrets:
                return to_manifest(value["value"], keep_secrets)
            inner = value["value"]
            return {k: REDACTED for k in inner} if isinstance(inner, dict) else REDACTED
        return {k: to_manifest(v, keep_secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [to_manifest(v, keep_secrets) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def redact(obj: dict) -> dict:
    """A Secret's values never leave the program."""
    if obj.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if isinstance(obj.get(key), dict):
                obj[key] = {k: REDACTED for k in obj[key]}
    return obj



def run_under_mocks(
    program: Callable[[], Any],
    config: Optional[dict[str, str]] = None,
    secret_keys: Sequence[str] = (),
    stack: str = "render",
    into: Optional[Rendered] = None,
    stack_outputs: Optional[dict[str, dict]] = None,
    preview: bool = False,
) -> Rendered:
    """Run `program` under Pulumi mocks with an engine-style config; return what it registered and its outputs,
    resolved. Pass `into` to keep what was registered even when the program raises. `preview`: as in `pulumi
    preview`, an output a resource does not return is unknown."""
    rendered = into if into is not None else Rendered()

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[Optional[str], dict]:
            if args.typ == "pulumi:pulumi:StackReference":
                # another stack's outputs are not readable offline: placeholders stand in
                return args.name, {**args.inputs, "outputs": (stack_outputs or {}).get(args.name, {})}
            if args.resource_id:  # a read of an existing object (FateJob's result): nothing to render or apply
                return args.resource_id, {}
            rendered.resources.append(Resource(args.typ, args.name, args.inputs, args.provider))
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, Optional[list[tuple[str, str]]]]:
            return {}, None  # the program calls no provider functions

    asyncio.set_event_loop(_event_loop())
    pulumi.runtime.set_mocks(Mocks(), project="fate", stack=stack, preview=preview)
    # the stack's config as a language host hands it over: PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS
    saved = {k: os.environ.get(k) for k in ("PULUMI_CONFIG", "PULUMI_CONFIG_SECRET_KEYS")}
    os.environ["PULUMI_CONFIG"] = json.dumps(dict(config or {}))
    os.environ["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(list(secret_keys))
    pulumi.runtime.set_all_config(dict(config or {}), list(secret_keys))

    def run() -> pulumi.Output:
        outputs = program() or {}
        return pulumi.Output.from_input(outputs).apply(lambda resolved: setattr(rendered, "outputs", resolved))

    try:
        pulumi.runtime.test(run)()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return rendered


def run_program(config: dict[str, str], secret_keys: Sequence[str] = (), stack: str = "render",
                into: Optional[Rendered] = None) -> Rendered:
    """Run the fate-pulumi program (what `pulumi up` runs) under mocks."""
    from stacks.program import main

    return run_under_mocks(main, config, secret_keys, stack, into, stack_outputs=referenced_outputs(config))


def referenced_outputs(config: dict[str, str]) -> dict[str, dict]:
    """Placeholder outputs for the cluster stack a config references (kubernetes.stackReference)."""
    try:
        ref = json.loads(config.get("fate:kubernetes", "{}")).get("stackReference") or {}
    except (ValueError, AttributeError):
        return {}
    if not isinstance(ref, dict) or "stack" not in ref:
        return {}
    output = ref.get("output", "kubeconfig")
    return {ref["stack"]: {output: f"offline render: output {output} of stack {ref['stack']}"}}


class _LoopPolicy(asyncio.DefaultEventLoopPolicy):
    """Keeps every event loop the SDK makes (one per worker thread under mocks) so they are closed explicitly;
    left to the garbage collector they print 'Exception ignored ... Invalid file descriptor'."""

    def __init__(self) -> None:
        super().__init__()
        self.loops: list[asyncio.AbstractEventLoop] = []

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        loop = super().new_event_loop()
        self.loops.append(loop)
        return loop


_POLICY: Optional[_LoopPolicy] = None


def _event_loop() -> asyncio.AbstractEventLoop:
    """The main loop of every run in this process (the Pulumi SDK pumps it)."""
    global _POLICY
    if _POLICY is None:
        _POLICY = _LoopPolicy()
        asyncio.set_event_loop_policy(_POLICY)
    loop = next((lp for lp in _POLICY.loops[:1] if not lp.is_closed()), None)
    return loop or _POLICY.new_event_loop()


def close_event_loop() -> None:
    """Stop the SDK's worker threads, then close every loop made while rendering."""
    global _POLICY
    if _POLICY is None:
        return
    main_loop = _POLICY.loops[0]
    if not main_loop.is_closed():
        main_loop.run_until_complete(main_loop.shutdown_default_executor())
    for loop in _POLICY.loops:
        if not loop.is_closed() and not loop.is_running():
            loop.close()
    asyncio.set_event_loop_policy(None)
    _POLICY = None
