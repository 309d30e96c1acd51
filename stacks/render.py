"""Offline render: run the program under Pulumi mocks (no Pulumi CLI, no cluster) and write every Kubernetes object.

    fate-pulumi render Pulumi.dev.yaml out/

writes out/manifests.yaml (multi-document YAML) and one file per object under out/objects/, for review and diffs.
Secret values are redacted: the encrypted `secure:` values of a stack file cannot be read offline, and a rendered
manifest never carries a password. (YAML to apply elsewhere comes from `pulumi up` with
`kubernetes.renderYamlToDirectory`, which writes the real Secret values.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

REDACTED = "<redacted>"
OFFLINE_SECRET = "offline-render-placeholder"  # stands in for an encrypted value during an offline render
_SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's marker of a secret value in serialized properties

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
        if _SECRET_SIG in value:
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


# --------------------------------------------------------------------------------------------------------------


def stack_file_config(path: Path) -> tuple[dict[str, str], list[str]]:
    """A Pulumi.<stack>.yaml as the engine hands it to a program: every value a string (objects as JSON), plus
    the keys stored encrypted (their values are unreadable offline and replaced by a placeholder).
    Bad files raise InputError (one line: the file, the problem, the fix)."""
    from fate_pulumi.inputs import stack_file

    config, warnings = stack_file(path)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return engine_config(config)


def engine_config(config: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    values: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in config.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            secret_keys.append(key)
            value = OFFLINE_SECRET
        values[key] = engine_string(value)
    return values, secret_keys


def engine_string(value: Any) -> str:
    """A config value as the engine stores it: strings as they are, booleans lower-case, objects as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def run_under_mocks(program: Callable[[], Any], config: Optional[dict[str, str]] = None, secret_keys: Sequence[str] = (),
                    stack: str = "render", into: Optional[Rendered] = None,
                    stack_outputs: Optional[dict[str, dict]] = None) -> Rendered:
    """Run `program` under Pulumi mocks with an engine-style config; return what it registered.

    Pass `into` to keep what was registered even when the program raises."""
    import pulumi
    from pulumi.runtime import settings as runtime_settings
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    rendered = into if into is not None else Rendered()

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs):
            if args.typ == "pulumi:pulumi:StackReference":
                # another stack's outputs are not readable offline: placeholders stand in
                return args.name, {**args.inputs, "outputs": (stack_outputs or {}).get(args.name, {})}
            rendered.resources.append(Resource(args.typ, args.name, args.inputs, args.provider))
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args: pulumi.runtime.MockCallArgs):
            return {}

    asyncio.set_event_loop(_event_loop())
    runtime_settings.ROOT.set(None)  # a fresh root stack per run
    pulumi.runtime.set_mocks(Mocks(), project="fate", stack=stack, preview=False)
    pulumi.runtime.set_all_config(dict(config or {}), list(secret_keys))

    def run() -> None:
        rendered.outputs = program() or {}

    _sync_await(run_pulumi_func(run))
    rendered.outputs = _resolve(rendered.outputs)
    return rendered


def run_program(config: dict[str, str], secret_keys: Sequence[str] = (), stack: str = "render",
                into: Optional[Rendered] = None) -> Rendered:
    """Run the fate-pulumi program (what `pulumi up` runs) under mocks."""
    from stacks.program import main

    return run_under_mocks(main, config, secret_keys, stack, into, stack_outputs=_referenced_outputs(config))


def _referenced_outputs(config: dict[str, str]) -> dict[str, dict]:
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


def _resolve(value: Any) -> Any:
    """Stack outputs with Outputs resolved (under mocks they are all known)."""
    import pulumi
    from pulumi.runtime.sync_await import _sync_await

    if isinstance(value, pulumi.Output):
        return _resolve(_sync_await(value.future()))
    if isinstance(value, dict):
        return {k: _resolve(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_resolve(v) for v in value]
    return value


_FIRST_KEYS = ("apiVersion", "kind", "metadata", "name", "namespace")


def _ordered(value: Any) -> Any:
    """Readable key order: apiVersion, kind, metadata, name first, then alphabetical (mock inputs are unordered)."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (_FIRST_KEYS.index(k) if k in _FIRST_KEYS else len(_FIRST_KEYS), k))
        return {k: _ordered(value[k]) for k in keys}
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    return value


def dump(obj: dict) -> str:
    """One object as YAML; embedded config files as literal blocks."""
    from components.files import to_yaml

    return to_yaml(_ordered(obj))


def write(rendered: Rendered, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    objects_dir = out_dir / "objects"
    objects_dir.mkdir(exist_ok=True)
    for old in objects_dir.glob("*.yaml"):
        old.unlink()
    objs = rendered.objects
    written = []
    documents = []
    for i, obj in enumerate(objs):
        text = dump(obj)
        path = objects_dir / f"{i:03d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
        path.write_text(text)
        written.append(path)
        documents.append(text)
    (out_dir / "manifests.yaml").write_text("---\n".join(documents))
    (out_dir / "outputs.json").write_text(json.dumps(rendered.outputs, indent=2, default=str) + "\n")
    return written


def config_problems(config: dict[str, str], secret_keys: Sequence[str]) -> list[str]:
    """The stack's config checked as the program will check it: `<key>: <problem and fix>` per problem."""
    from stacks.config import NAMESPACE, ConfigError, load_config
    from stacks.program import parse_value

    prefix = f"{NAMESPACE}:"
    values = {k[len(prefix):]: parse_value(v) for k, v in config.items() if k.startswith(prefix)}
    try:
        load_config(values, [k[len(prefix):] for k in secret_keys if k.startswith(prefix)])
    except ConfigError as err:
        return [f"{p.key}: {p.message}" for p in err.problems]
    return []


def connect_summary(rendered: Rendered) -> str:
    """What peers need — the public host and the exposed ports — with what an offline render cannot know said."""
    connect = rendered.outputs.get("connect") or {}
    if not connect:
        return ""
    host = connect.get("host") or "<unset: set fate:publicHost to the address peers reach (node IP or load balancer)>"
    lines = [f"connect: party {connect.get('partyId')} at {host}"]
    for svc in rendered.objects:
        if svc["kind"] != "Service" or svc["spec"].get("type") not in ("NodePort", "LoadBalancer"):
            continue
        for port in svc["spec"]["ports"]:
            node_port = port.get("nodePort") or "assigned by the cluster at `pulumi up` (pulumi stack output connect)"
            lines.append(f"  {svc['metadata']['name']} {port['name']} {port['port']} -> {svc['spec']['type']} {node_port}")
    if len(lines) == 1:
        lines.append("  no Service is exposed outside the cluster")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None, prog: str = "fate-pulumi render") -> int:
    from fate_pulumi.inputs import output_dir

    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                     epilog="exit status: 0 rendered, 2 bad input (file, YAML or config; nothing written)")
    parser.add_argument("stack_file", type=Path, help="a Pulumi.<stack>.yaml")
    parser.add_argument("out_dir", type=Path, help="where to write manifests.yaml, objects/ and outputs.json")
    parser.add_argument("--development", action="store_true",
                        help="render as a development stack (unset passwords allowed), e.g. a freshly imported file")
    args = parser.parse_args(argv)

    config, secret_keys = stack_file_config(args.stack_file)
    if args.development:
        config["fate:development"] = "true"
    problems = config_problems(config, secret_keys)
    if problems:  # the keyed messages, nothing written
        for problem in problems:
            print(f"error: {args.stack_file}: {problem}", file=sys.stderr)
        return 2
    output_dir(args.out_dir)
    stack = args.stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml")
    # what the program warns about (pulumi.log.warn: the mocks hand it to logging), one line each
    warnings = logging.StreamHandler(sys.stderr)
    warnings.setFormatter(logging.Formatter(f"warning: {args.stack_file}: %(message)s"))
    warnings.setLevel(logging.WARNING)
    logging.getLogger().addHandler(warnings)
    try:
        rendered = run_program(config, secret_keys, stack=stack)
    finally:
        logging.getLogger().removeHandler(warnings)
        close_event_loop()
    written = write(rendered, args.out_dir)
    print(f"{len(written)} objects -> {args.out_dir / 'manifests.yaml'} (Secret values redacted: for review and diffs)")
    print(rendered.outputs.get("summary", ""))
    print(connect_summary(rendered))
    return 0


if __name__ == "__main__":
    from fate_pulumi.cli import guarded

    sys.exit(guarded(main))
