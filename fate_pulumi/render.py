"""Offline render: run the program under Pulumi mocks (no Pulumi CLI, no cluster) and write every Kubernetes object.

    fate-pulumi render Pulumi.dev.yaml out/

writes out/manifests.yaml (multi-document YAML) and one file per object under out/objects/, for review and diffs.
Secret values are redacted: the encrypted `secure:` values of a stack file cannot be read offline, and a rendered
manifest never carries a password. (YAML to apply elsewhere comes from `pulumi up` with
`kubernetes.renderYamlToDirectory`, which writes the real Secret values.)
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from fate_pulumi.mocks import Rendered, close_event_loop, run_program

OFFLINE_SECRET = "offline-render-placeholder"  # stands in for an encrypted value during an offline render

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


# what a render writes into its output directory (and replaces on the next render)
RENDER_OUTPUT = ("manifests.yaml", "outputs.json", "objects")


def check_out_dir(out_dir: Path) -> None:
    """A render replaces manifests.yaml, outputs.json and objects/*.yaml: only those of an earlier render, never a
    user's files of the same names in another directory; raises InputError."""
    import os

    from fate_pulumi.inputs import InputError

    present = [name for name in RENDER_OUTPUT if os.path.lexists(out_dir / name)]
    if present and (len(present) < len(RENDER_OUTPUT) or not (out_dir / "objects").is_dir()):
        raise InputError(f"{out_dir / present[0]}: exists and is not from an earlier render — render into a new "
                         "directory (a render replaces manifests.yaml, outputs.json and objects/)")


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


def _unset_password(problem: str) -> bool:
    """A problem of config_problems saying a password is not set (a freshly imported file has none)."""
    from stacks.config import NAMESPACE, SECRET_KEYS

    key, _, message = problem.partition(": ")
    return key.removeprefix(f"{NAMESPACE}:") in SECRET_KEYS and message.startswith("not set")


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
            lines.append(
                f"  {svc['metadata']['name']} {port['name']} {port['port']} -> {svc['spec']['type']} {node_port}"
            )
    if len(lines) == 1:
        lines.append("  no Service is exposed outside the cluster")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None, prog: str = "fate-pulumi render") -> int:
    from fate_pulumi.inputs import OneLineParser, output_dir, path_arg

    parser = OneLineParser(
        prog=prog,
        description=__doc__.split("\n\n")[0],
        epilog="exit status: 0 rendered, 2 bad input (file, YAML or config; nothing written)",
    )
    parser.add_argument("stack_file", type=path_arg, help="a Pulumi.<stack>.yaml")
    parser.add_argument("out_dir", type=path_arg, help="where to write manifests.yaml, objects/ and outputs.json (a "
                                                       "new directory, or one an earlier render wrote)")
    parser.add_argument("--development", action="store_true",
                        help="render as a development stack (unset passwords allowed), e.g. a freshly imported file")
    args = parser.parse_args(argv)

    config, secret_keys = stack_file_config(args.stack_file)
    if args.development:
        config["fate:development"] = "true"
    problems = config_problems(config, secret_keys)
    if problems:  # the keyed messages, nothing written
        review = (f" — to review the file before its passwords are set: {prog} --development {args.stack_file} "
                  f"{args.out_dir}")
        for problem in problems:
            print(f"error: {args.stack_file}: {problem}{review if _unset_password(problem) else ''}", file=sys.stderr)
        return 2
    check_out_dir(args.out_dir)
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
