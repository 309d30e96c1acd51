"""Drift detection: refresh a stack in preview-only mode and list what no longer matches the last `pulumi up`.

    fate-pulumi drift --stack party-9999        # one stack
    fate-pulumi drift --all                     # every stack of the project

For each drifted resource it prints the URN, the Kubernetes kind and name and the changed fields, each with the
field manager that owns it now and since when (the object's managedFields: `kubectl-edit`, `kubectl-scale`, a
controller), or that the object is gone. Fields the stack's `fate:driftIgnore` names (`Kind/name:field`, `*`
matching any kind, name or field, e.g. `Deployment/*:spec.replicas` under an autoscaler) are not drift.
Exit status: 0 no drift, 3 drift, 1 error. Nothing in the cluster or the state is changed (each check is recorded
in two stack tags, `fate-pulumi:lastDriftCheck` and `fate-pulumi:lastDriftResult`, which `status` reads); repair
with `pulumi up --refresh`.
Uses the Pulumi Automation API with the project in this directory (or --work-dir) and the CLI on PATH.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import json
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from pulumi import automation as auto
    from pulumi.automation.events import EngineEvent

EXIT_CLEAN, EXIT_ERROR, EXIT_DRIFT = 0, 1, 3
# the stack tags a check is recorded in (kept by every backend, the file backend too, so `status` run anywhere sees
# them); a check is due once the last is older than the interval .github/workflows/drift.yml runs it at
CHECKED_TAG, RESULT_TAG = "fate-pulumi:lastDriftCheck", "fate-pulumi:lastDriftResult"
CHECK_INTERVAL = dt.timedelta(hours=6)
_DRIFT_OPS = {"update": "changed", "delete": "deleted", "replace": "replaced", "create": "missing"}


# field managers of fate-pulumi itself: the provider's server-side apply managers (a random one per resource) and the
# one adoption uses
_OURS = re.compile(r"^(pulumi-kubernetes|pulumi-resource-kubernetes|fate-pulumi)")


@dataclass
class Drift:
    urn: str
    kind: str
    name: str
    change: str  # changed | deleted | ...
    fields: list[str] = field(default_factory=list)
    owners: dict[str, str] = field(default_factory=dict)  # field -> "manager (operation, time)"

    def line(self) -> str:
        fields = [f + (f" (by {self.owners[f]})" if f in self.owners else "") for f in self.fields]
        what = f"{self.change}" + (f": {', '.join(fields)}" if fields else "")
        return f"{self.kind}/{self.name}  {what}\n    {self.urn}"


def _path(field_path: str) -> list[str]:
    """A Pulumi diff path (`spec.replicas`, `data["route_table.json"]`, `spec.ports[0].port`) as keys."""
    parts = re.finditer(r'\["([^"]*)"\]|\[(\d+)\]|([^.\[\]]+)', field_path)
    return [m.group(1) or m.group(2) or m.group(3) for m in parts]


def owners(field_path: str, managed_fields: list[dict[str, Any]]) -> list[str]:
    """Who owns a field now: the managers (not fate-pulumi's) whose fieldsV1 reach into it, with operation and time.
    List items (`ports[0]`) are keyed in fieldsV1 by their key fields, so a path stops at the list."""
    found = []
    for entry in managed_fields or []:
        manager = entry.get("manager") or "?"
        if _OURS.match(manager):
            continue
        node: Any = entry.get("fieldsV1") or {}
        reached = True
        for key in _path(field_path):
            if key.isdigit():
                break  # a list: owned as a whole from here
            child = node.get(f"f:{key}") if isinstance(node, dict) else None
            if child is None:
                reached = False
                break
            node = child
        if reached:
            found.append(f"{manager} ({entry.get('operation', '?')}, {entry.get('time', '?')})")
    return found


@dataclass(frozen=True)
class Ignore:
    """One `fate:driftIgnore` entry: Kind/name:field, each part a glob (`*`); a field covers what lies below it."""

    kind: str
    name: str
    field: str

    @classmethod
    def parse(cls, text: str) -> Ignore:
        from stacks.config import DRIFT_IGNORE_PATTERN

        m = re.match(DRIFT_IGNORE_PATTERN, text.strip())
        if m is None:
            raise ValueError(f"{text!r} is not Kind/name:field (e.g. Deployment/*:spec.replicas)")
        return cls(*m.groups())

    def covers(self, kind: str, name: str, field_path: str) -> bool:
        return (fnmatch.fnmatchcase(kind, self.kind) and fnmatch.fnmatchcase(name, self.name)
                and (fnmatch.fnmatchcase(field_path, self.field) or field_path.startswith(self.field + ".")
                     or field_path.startswith(self.field + "[")))


def ignoring(found: list[Drift], rules: list[Ignore]) -> list[Drift]:
    """The drift that remains when the ignored fields are left out (an object with only ignored fields is clean)."""
    out = []
    for d in found:
        if d.change == "changed" and rules:
            kept = [f for f in d.fields if not any(r.covers(d.kind, d.name, f) for r in rules)]
            if not kept:
                continue
            d = Drift(d.urn, d.kind, d.name, d.change, kept, {f: o for f, o in d.owners.items() if f in kept})
        out.append(d)
    return out


def _kind_name(urn: str, new: object, old: object) -> tuple[str, str]:
    state = getattr(new, "outputs", None) or getattr(old, "outputs", None) or {}
    kind = state.get("kind") or urn.split("::")[-2].split("$")[-1].rsplit(":", 1)[-1]
    name = (state.get("metadata") or {}).get("name") or urn.rsplit("::", 1)[-1]
    return kind, name


def drift_of_events(events: Iterable[EngineEvent]) -> list[Drift]:
    """Drifted resources from the engine events of a preview-only refresh."""
    found: dict[str, Drift] = {}
    for event in events:
        outputs_event = event.res_outputs_event is not None
        meta = event.res_outputs_event.metadata if event.res_outputs_event is not None else (
            event.resource_pre_event.metadata if event.resource_pre_event is not None else None)
        if meta is None or meta.type.startswith("pulumi:pulumi:Stack") or meta.type.startswith("pulumi:providers:"):
            continue
        op = meta.op.value if hasattr(meta.op, "value") else str(meta.op)
        fields = sorted((meta.detailed_diff or {}).keys()) or sorted(meta.diffs or [])
        # only a finished refresh step knows that the object is gone (a pre-event has no new state yet)
        gone = op == "delete" or (outputs_event and op == "refresh" and meta.new is None and meta.old is not None)
        if gone:
            change = "deleted"
        elif op == "refresh" and fields:
            change = "changed"
        elif op in _DRIFT_OPS:
            change = _DRIFT_OPS[op]
        else:
            continue
        kind, name = _kind_name(meta.urn, meta.new, meta.old)
        drift = Drift(meta.urn, kind, name, change, fields if change == "changed" else [])
        state = getattr(meta.new, "outputs", None) or {}
        managed = (state.get("metadata") or {}).get("managedFields") or []
        for f in drift.fields:
            who = owners(f, managed)
            if who:
                drift.owners[f] = ", ".join(who)
        found[meta.urn] = drift
    return list(found.values())


@functools.cache
def _pulumi() -> auto.PulumiCommand:
    """One CLI handle per process: the Automation API runs `pulumi version` for every new handle (0.3 s each)."""
    from pulumi import automation as auto

    return auto.PulumiCommand()


def _select(stack_name: str, work_dir: Path) -> auto.Stack:
    from pulumi import automation as auto

    return auto.select_stack(stack_name=stack_name, work_dir=str(work_dir),
                             opts=auto.LocalWorkspaceOptions(pulumi_command=_pulumi()))


def check(stack_name: str, work_dir: Path) -> list[Drift]:
    """A preview-only refresh of the stack (the engine reads every object back); the stack's ignore rules are read
    while it runs."""
    stack = _select(stack_name, work_dir)
    events: list[Any] = []
    with ThreadPoolExecutor(1) as pool:
        rules = pool.submit(_rules_of, stack)
        stack.preview_refresh(on_event=events.append)
        return ignoring(drift_of_events(events), rules.result())


def _rules_of(stack: auto.Stack) -> list[Ignore]:
    from pulumi.automation import CommandError

    try:
        config = {"fate:driftIgnore": stack.get_config("fate:driftIgnore")}
    except CommandError:  # not set
        config = {}
    return ignore_rules(config)


def ignore_rules(config: Mapping[str, Any]) -> list[Ignore]:
    """The stack's `fate:driftIgnore` (checked by the program too, so a bad entry never gets this far)."""
    from components.fatejob import RUNNER_WRITES

    # a FATE job's runner records its outcome in its result ConfigMap: that is the job running, not drift
    rules = [Ignore(*RUNNER_WRITES)]
    raw = config.get("fate:driftIgnore")
    value = getattr(raw, "value", raw)
    if not value:
        return rules
    entries = json.loads(value) if isinstance(value, str) else value
    return rules + [Ignore.parse(e) for e in entries]


def expiry_notice(outputs: dict, today: Optional[dt.date] = None) -> Optional[str]:
    """A warning when the certificates the stack issued expire within 30 days (stack output tlsCertificatesExpire)."""
    raw = outputs.get("tlsCertificatesExpire")
    value = getattr(raw, "value", raw)
    if not value:
        return None
    from stacks.common import EXPIRY_WARNING_DAYS

    expires = dt.date.fromisoformat(str(value))
    left = (expires - (today or dt.date.today())).days
    if left > EXPIRY_WARNING_DAYS:
        return None
    return (f"the certificates this stack issued expire on {expires} ({left} days): run pulumi up (renewing "
            "certificates are reissued) or set a new fate:tls.validFrom")


def pulumi_cli(work_dir: Path, *args: str) -> str:
    """The Pulumi CLI's standard output for `args` in the project; a failure raises RuntimeError with its reason."""
    proc = subprocess.run([_pulumi().command, *args, "--non-interactive"], cwd=work_dir, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip() or f"pulumi {args[0]} failed ({proc.returncode})")
    return proc.stdout


def stack_outputs(stack_name: str, work_dir: Path) -> dict:
    """The stack's outputs as `pulumi stack output --json` shows them (secret ones masked: none is read here)."""
    return dict(json.loads(pulumi_cli(work_dir, "stack", "output", "--json", "--stack", stack_name) or "{}"))


def record_check(stack_name: str, work_dir: Path, drifted: int, now: Optional[dt.datetime] = None) -> None:
    """Record this check in the stack's tags: when (UTC, ISO 8601) and what it found (`clean`, `N drifted`)."""
    when = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    pulumi_cli(work_dir, "stack", "tag", "set", CHECKED_TAG, when, "--stack", stack_name)
    pulumi_cli(work_dir, "stack", "tag", "set", RESULT_TAG, f"{drifted} drifted" if drifted else "clean",
               "--stack", stack_name)


def project_stacks(work_dir: Path) -> list[str]:
    from pulumi import automation as auto

    ws = auto.LocalWorkspace(work_dir=str(work_dir))
    return [s.name for s in ws.list_stacks()]


def project_dir(work_dir: Path) -> Path:
    """The Pulumi project directory a command runs in (bad input when it is not one), with the CLI on PATH."""
    import shutil

    from fate_pulumi.inputs import InputError

    if work_dir.is_file():
        raise InputError(f"{work_dir}: a file, not a directory — give the project directory (the one holding "
                         "Pulumi.yaml) to --work-dir")
    if not (work_dir / "Pulumi.yaml").exists():
        raise InputError(f"{work_dir}: no Pulumi.yaml — run it in the fate-pulumi project or give --work-dir")
    if shutil.which("pulumi") is None:
        raise InputError("pulumi: the Pulumi CLI is not on PATH — install it (README: Install Pulumi) or source the "
                         "toolchain's env.sh")
    return work_dir


def known_stack(stack: str, work_dir: Path) -> str:
    """`stack` when the project has it; bad input naming the ones it has otherwise."""
    from fate_pulumi.inputs import InputError

    have = project_stacks(work_dir)
    if stack not in have:
        raise InputError(f"{work_dir / 'Pulumi.yaml'}: stack {stack!r}: no such stack — one of: "
                         f"{', '.join(have) or '(none: pulumi stack init)'}")
    return stack


def main(argv: Optional[list[str]] = None, prog: str = "fate-pulumi drift") -> int:
    from fate_pulumi.inputs import OneLineParser, path_arg

    parser = OneLineParser(prog=prog, description=__doc__.split("\n\n")[0],
                           epilog="exit status: 0 no drift, 3 drift found, 1 error, 2 bad input")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack", help="stack name")
    target.add_argument("--all", action="store_true", help="every stack of the project")
    parser.add_argument("--work-dir", type=path_arg, default=Path.cwd(), help="the Pulumi project directory")
    args = parser.parse_args(argv)
    if args.stack is not None and not args.stack.strip():
        parser.error("argument --stack: empty — name the stack (pulumi stack ls), or give --all")
    project_dir(args.work_dir)
    try:
        stacks = project_stacks(args.work_dir) if args.all else [args.stack]
        drifted = 0
        for name in stacks:
            with ThreadPoolExecutor(1) as pool:  # the outputs are read while the refresh runs
                outputs = pool.submit(stack_outputs, name, args.work_dir)
                found = check(name, args.work_dir)
            print(f"{name}: {'no drift' if not found else f'{len(found)} drifted'}")
            for d in found:
                print("  " + d.line().replace("\n", "\n  "))
            notice = expiry_notice(outputs.result())
            if notice:
                print(f"  warning: {notice}")
            record_check(name, args.work_dir, len(found))
            drifted += bool(found)
    except Exception as err:  # noqa: BLE001 - any failure is an error exit, with the reason
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_DRIFT if drifted else EXIT_CLEAN


if __name__ == "__main__":
    from fate_pulumi.cli import guarded

    sys.exit(guarded(main))
