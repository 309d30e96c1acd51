"""Deploy a whole federation from one topology file: the exchange first, then every party, each a stack.

    fate-pulumi federation preview federation.yaml
    fate-pulumi federation up federation.yaml
    fate-pulumi federation drift federation.yaml
    fate-pulumi federation plan federation.yaml -o plan/     # the stack files `up` would write, for review

The topology lists the parties (party id, backend, cluster, the address others reach it on) and the exchange.
Every route is derived from it — rollsite party lists and exchange routes, Pulsar/RabbitMQ/nginx route tables,
Traffic Server SNI routes — from each site's block of 10 NodePorts (the exchange 30000-30009, a party's from its
party id, the block a stack already has, or the entry's nodePortBase), so no address or port is copied by hand and
the order of the parties in the file changes nothing. Stacks are named `<name>-exchange` and `<name>-party-<id>`;
the Automation API runs them with the project in --work-dir, whose `fate:` config is made equal to what the
topology derives (a `fate:` key set by hand is reported: `up` refuses it). Prints one status table; exit 0 when
every stack succeeded (for drift: none drifted; 3 if any did).

Once every stack is up, `up` verifies every route it derived: each pair of parties that federate (the same
federation engine) runs FATE's toy test once, from the party with the lower id (`fate:verify.toy` on its stack),
and the table shows each pair verified or failed with FATE's reason (`--no-verify` skips it). Stacks run --parallel N
at a time (default: one per core): on `up` the exchange first, the parties once it succeeded.

    name: demo
    development: false                 # true: unset passwords fall back to defaults (test federations)
    exchange:                          # optional; without it parties federate peer to peer
      backend: eggroll                 # eggroll (rollsite) or spark_pulsar (Traffic Server + nginx)
      address: 203.0.113.5
      kubernetes: {context: exchange}
    parties:
      - partyId: 9999
        backend: eggroll
        address: 203.0.113.10
        kubernetes: {context: bank-a}
        secrets: {mysqlPassword: env:BANK_A_MYSQL}      # values from the environment, stored as Pulumi secrets
        config: {nodemanager: {replicas: 3}}           # any other fate:* settings of this party
        nodePortBase: 31200                            # optional: its NodePorts are 31200-31209
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Optional

import yaml

from fate_pulumi.topology import PlannedStack, Topology, configs, load, node_ports, plan, value_at
from stacks.config import SECRET_KEYS

if TYPE_CHECKING:
    from pulumi import automation as auto

# The `fate:` keys the driver wrote to a stack, recorded in the stack's config outside the `fate:` namespace (the
# program reads only `fate:` keys): a key it wrote before and no longer derives is removed; a `fate:` key it never
# wrote is the operator's, and is reported instead of kept or dropped silently.
OWNED = "fate-pulumi:federationKeys"
PLAN_HEADER = "# fate-pulumi federation plan"  # first line of every file `federation plan` writes (and may rewrite)


# --------------------------------------------------------------------------------------------------------------
# The stacks' own files: what `up` set before, what the operator set by hand, and the reviewable plan


def _stack_names(directory: Path, federation: str) -> list[str]:
    """The stacks of federation `federation` that have a Pulumi.<stack>.yaml in `directory`."""
    out = []
    for path in sorted(directory.glob(f"Pulumi.{federation}-*.yaml")):
        stack = path.name[len("Pulumi."):-len(".yaml")]
        rest = stack[len(federation) + 1:]
        if rest == "exchange" or (rest.startswith("party-") and rest[len("party-"):].isdigit()):
            out.append(stack)
    return out


def stack_config(work_dir: Path, stack: str) -> tuple[dict[str, Any], list[str]]:
    """A stack's `fate:` values (objects parsed) as its Pulumi.<stack>.yaml in the project holds them (the
    Automation API keeps stack config there), and the keys the driver recorded writing; empty without a file."""
    from fate_pulumi.inputs import read_yaml
    from stacks.program import parse_value

    path = work_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        return {}, []
    config = value_at(read_yaml(path, "stack file (Pulumi.<stack>.yaml)"), "config")
    if not isinstance(config, dict):
        return {}, []
    values = {str(k).split(":", 1)[1]: parse_value(v) for k, v in config.items() if str(k).startswith("fate:")}
    owned = parse_value(config.get(OWNED, []))
    return values, [k for k in owned if isinstance(k, str)] if isinstance(owned, list) else []


def recorded_node_ports(topo: Topology, work_dir: Path) -> dict[str, dict[str, int]]:
    """The NodePorts every stack of this federation has in its stack file, by stack name — stacks of sites no longer
    in the topology too (they may still run): what an earlier `up` set, kept so that no running site moves."""
    found = {name: node_ports(stack_config(work_dir, name)[0]) for name in _stack_names(work_dir, topo.name)}
    return {name: ports for name, ports in found.items() if ports}


def hand_set(stacks: list[PlannedStack], work_dir: Path) -> list[tuple[PlannedStack, Path, str]]:
    """`fate:` keys a stack has that the topology does not derive and the driver never wrote: set by hand (or by a
    fate-pulumi from before the record), each with the stack's plan and file."""
    out = []
    for s in stacks:
        current, owned = stack_config(work_dir, s.name)
        out += [(s, work_dir / f"Pulumi.{s.name}.yaml", key) for key in sorted(current)
                if key not in owned and key not in s.keys()]
    return out


def plan_file(s: PlannedStack, federation: str) -> str:
    """What `up` gives stack `s`, as a stack file to review: its `fate:` config once verified, the record of the keys
    the driver owns, and each password's environment variable in a comment — nothing secret."""
    config: dict[str, Any] = {f"fate:{k}": v for k, v in s.verified().items()}
    config[OWNED] = sorted(s.keys())
    lines = [f"{PLAN_HEADER} (federation {federation}): the config `fate-pulumi federation up` gives stack {s.name}.",
             "# For review; it holds no password: up reads each from the environment and stores it encrypted:"]
    lines += [f"#   fate:{key}: env:{var}" for key, var in sorted(s.secret_refs.items())] or ["#   (none)"]
    return "\n".join(lines) + "\n" + yaml.safe_dump({"config": config}, sort_keys=True, default_flow_style=False)


def write_plan(stacks: list[PlannedStack], federation: str, out: Path) -> list[Path]:
    """Write every stack's plan file to `out`; an earlier plan's file of a stack no longer planned is removed. A file
    that is not an earlier plan's (a user's stack file) is never overwritten: nothing is written then."""
    from fate_pulumi.inputs import InputError, output_dir, write_atomically

    def ours(path: Path) -> bool:
        with path.open(encoding="utf-8", errors="replace") as f:
            return f.readline().startswith(PLAN_HEADER)

    files = {out / f"Pulumi.{s.name}.yaml": plan_file(s, federation) for s in stacks}
    for path in files:
        if path.is_dir() or (path.exists() and not ours(path)):
            raise InputError(f"{path}: exists and was not written by fate-pulumi federation plan — move it away or "
                             "give another -o directory (a file of yours is never overwritten)")
    output_dir(out)
    for path, text in files.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            write_atomically(path, text)
    for name in _stack_names(out, federation):
        path = out / f"Pulumi.{name}.yaml"
        if path not in files and ours(path):
            path.unlink()
    return list(files)


@dataclass
class Status:
    stack: str
    kind: str
    party_id: int
    result: str
    detail: str = ""
    seconds: Optional[float] = None  # how long its preview / up / drift check / toy test took


def _workspace_stack(plan_: PlannedStack, work_dir: Path) -> auto.Stack:
    """The stack, its `fate:` config made equal to what the topology derives: keys the driver wrote before and no
    longer derives are removed first, then every derived key is written with the record of them (one write)."""
    from pulumi import automation as auto

    from fate_pulumi.render import engine_string

    stack = auto.create_or_select_stack(stack_name=plan_.name, work_dir=str(work_dir))
    current, owned = stack_config(work_dir, plan_.name)
    config = plan_.first_pass(current)
    written = sorted(set(config) | set(plan_.secret_refs))
    stale = [f"fate:{k}" for k in owned if k in current and k not in written]
    if stale:
        stack.remove_all_config(stale)
    values = {f"fate:{k}": auto.ConfigValue(engine_string(v)) for k, v in config.items()}
    values.update({f"fate:{k}": auto.ConfigValue(v, secret=True) for k, v in plan_.secrets().items()})
    values[OWNED] = auto.ConfigValue(engine_string(written))
    stack.set_all_config(values)
    return stack


def live_node_ports(stack: Any) -> set[int]:
    """The NodePorts a deployed stack reports (its `connect` output: what the cluster assigned)."""
    connect = stack.outputs().get("connect")
    ports = (connect.value or {}).get("nodePorts", {}) if connect is not None else {}
    return {int(port) for by_name in ports.values() if isinstance(by_name, dict) for port in by_name.values()
            if isinstance(port, int) or (isinstance(port, str) and port.isdigit())}


def moved_ports(p: PlannedStack, work_dir: Path) -> Optional[str]:
    """Why stack `p` must not be brought up by this plan: it runs already, its stack file (which keeps its NodePorts)
    is not in the project, and the plan would give it other NodePorts — every peer's route to it would break."""
    from pulumi import automation as auto

    if (work_dir / f"Pulumi.{p.name}.yaml").is_file():
        return None  # its ports were read from that file and kept
    try:
        stack = auto.select_stack(stack_name=p.name, work_dir=str(work_dir))
    except auto.StackNotFoundError:
        return None
    live, planned = live_node_ports(stack), set(node_ports(p.config).values())
    if not live or live <= planned:
        return None
    return (f"{p.where} ({p.name}): the stack runs with NodePorts {', '.join(map(str, sorted(live)))}, and this "
            f"plan would give it {', '.join(map(str, sorted(planned)))}: its Pulumi.{p.name}.yaml, which keeps them, "
            f"is not in {work_dir} — run in the project that deployed it (or restore the file); nothing was touched")


def default_parallel() -> int:
    """How many stacks run at once unless --parallel says: one per core. A stack's preview is mostly CPU (the Python
    program renders, the engine diffs), so more than the cores only adds memory and contention (docs/performance.md)."""
    return os.cpu_count() or 1


def _run_one(command: str, p: PlannedStack, work_dir: Path) -> Status:
    """Preview, bring up or check for drift one stack; an error is its row, the other stacks go on."""
    from fate_pulumi import drift

    start = time.perf_counter()
    try:
        stack = _workspace_stack(p, work_dir)
        if command == "preview":
            res = stack.preview()
            changes = {k.value if hasattr(k, "value") else k: v for k, v in (res.change_summary or {}).items()}
            row = Status(p.name, p.kind, p.party_id, "ok", ", ".join(f"{v} {k}" for k, v in sorted(changes.items())))
        elif command == "up":
            up = stack.up()
            ports = up.outputs["connect"].value.get("nodePorts", {}) if "connect" in up.outputs else {}
            flat = ", ".join(f"{m}:{'/'.join(str(v) for v in ps.values())}" for m, ps in sorted(ports.items()) if ps)
            row = Status(p.name, p.kind, p.party_id, up.summary.result, flat)
        else:
            found = drift.check(p.name, work_dir)
            row = Status(p.name, p.kind, p.party_id, "drift" if found else "clean",
                         "; ".join(f"{d.kind}/{d.name} {d.change}" for d in found))
    except Exception as err:  # noqa: BLE001 - reported in the table, the rest of the federation goes on
        row = Status(p.name, p.kind, p.party_id, "error", str(err).strip().splitlines()[-1][:200])
    row.seconds = time.perf_counter() - start
    return row


def run(command: str, stacks: list[PlannedStack], work_dir: Path, out: IO[str] = sys.stdout,
        verify: bool = True, parallel: int = 1) -> list[Status]:
    """Preview, bring up or check for drift every planned stack, `parallel` at a time; after `up`, verify every
    derived route with FATE's toy test. The table keeps the planned order whatever order the stacks finish in.

    The first wave runs before any other stack: on `up` the exchange (no party is brought up without it: an exchange
    that fails stops the run), otherwise the first stack alone — its run creates what a project's first run creates
    and concurrent runs would race on: the virtualenv Pulumi.yaml names (Pulumi creates a missing one) and a new
    backend's metadata. Each stack is its own LocalWorkspace over the shared project, which is safe: a stack's config is
    its own Pulumi.<stack>.yaml, the project file is only read, plugin installs take Pulumi's file lock, and every
    command names its stack (the "current stack" `select` records is written atomically and read by none of them)."""
    from concurrent.futures import ThreadPoolExecutor

    first = [p for p in stacks if p.kind == "exchange"] if command == "up" else []
    first = first or stacks[:1]
    rest = [p for p in stacks if all(p.name != f.name for f in first)]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        done = list(pool.map(lambda p: _run_one(command, p, work_dir), first))
        if command == "up" and any(r.kind == "exchange" and r.result != "succeeded" for r in done):
            rest = []  # parties need their exchange
        done += pool.map(lambda p: _run_one(command, p, work_dir), rest)
    wall = time.perf_counter() - start
    order = {p.name: i for i, p in enumerate(stacks)}
    results = sorted(done, key=lambda r: order[r.stack])
    if command == "up" and verify and all(r.result == "succeeded" for r in results):
        for p in stacks:
            if p.toy:
                results += _verify(p, work_dir)
    _print_table(results, out, wall, parallel)
    return results


# what the runner records when the FATE job did not succeed (components/fatejob_runner.py)
_FAILED = ("failed", "canceled", "timeout", "refused", "unsubmitted")


def _verify(p: PlannedStack, work_dir: Path) -> list[Status]:
    """FATE's toy test from this party to each later peer (a second `up` of its stack that adds only the toy jobs);
    a row per pair."""
    start = time.perf_counter()
    rows = _verify_pairs(p, work_dir)
    for row in rows:
        row.seconds = time.perf_counter() - start  # the pairs of one party run in one up
    return rows


def _verify_pairs(p: PlannedStack, work_dir: Path) -> list[Status]:
    checked = PlannedStack(p.name, p.kind, p.party_id, p.verified(), p.secret_refs, p.where)
    try:
        res = _workspace_stack(checked, work_dir).up()
        jobs = res.outputs["jobs"].value if "jobs" in res.outputs else {}
    except Exception as err:  # noqa: BLE001 - the failing job's message is the reason of each pair
        text = str(err)
        reason = next((ln.strip() for ln in text.splitlines() if "FATE job" in ln or "FATE Flow" in ln),
                      text.strip().splitlines()[-1] if text.strip() else "pulumi up failed")
        return [Status(p.name, "verify", p.party_id, "failed", f"toy {p.party_id} -> {peer}: {reason[:300]}")
                for peer in p.toy]
    rows = []
    for peer in p.toy:
        job = jobs.get(f"toy-{peer}") or {}
        status = job.get("status") or "unknown"
        # neither: the job's Kubernetes Job completed without a recorded outcome (the runner could not write it)
        result = "verified" if status == "success" else "failed" if status in _FAILED else "unverified"
        said = job.get("message") or status
        fate_job = f" (FATE job {job['jobId']})" if job.get("jobId") and f"FATE job {job['jobId']}" not in said else ""
        rows.append(Status(p.name, "verify", p.party_id, result, f"toy {p.party_id} -> {peer}: {said}{fate_job}"))
    return rows


def _print_table(results: list[Status], out: IO[str], wall: Optional[float] = None, parallel: int = 1) -> None:
    """The table, in the order of `results`; the summary gives the stacks' wall time (without the toy tests), else the
    sum of their times, and how many ran at once when more than one did."""
    rows = [("stack", "kind", "party", "result", "time", "detail")] + [
        (r.stack, r.kind, str(r.party_id), r.result, "-" if r.seconds is None else f"{r.seconds:.1f}s", r.detail)
        for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:5])) + "  " + row[5], file=out)
    timed = [r.seconds for r in results if r.seconds is not None and r.kind != "verify"]
    if len(timed) > 1:
        took = sum(timed) if wall is None else wall
        at_once = f", {parallel} at a time" if parallel > 1 else ""
        median = statistics.median(timed)
        print(f"{len(timed)} stacks in {took:.1f}s, {median:.1f}s per stack (median){at_once}", file=out)


def _report_hand_set(stacks: list[PlannedStack], work_dir: Path, topology: Path, refuse: bool) -> int:
    """One line per `fate:` key a stack has that the topology does not give (an error where `up` refuses them, else a
    warning); how many."""
    found = hand_set(stacks, work_dir)
    for s, path, key in found:
        home = (f"give it in {s.where}.secrets of {topology} as {key}: env:<VARIABLE>" if key in SECRET_KEYS
                else f"move it into {s.where}.config of {topology}")
        print(f"{'error' if refuse else 'warning'}: {path}: fate:{key}: in the stack but not from the topology (set "
              f"by hand, or by an earlier fate-pulumi){'' if refuse else ', and up refuses it'} — {home}, or remove "
              f"it: pulumi config rm fate:{key} --stack {s.name}", file=sys.stderr)
    return len(found)


def _at_least_one(text: str) -> int:
    import argparse

    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number — give how many stacks run at once, "
                                         "e.g. 2") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} is below 1 — give how many stacks run at once (1: one after the other)")
    return n


def main(argv: Optional[list[str]] = None, prog: str = "fate-pulumi federation") -> int:
    import argparse
    import shutil

    from fate_pulumi.inputs import InputError, OneLineParser

    # the whole docstring: its example is the file's keys, which topology errors send the reader to
    parser = OneLineParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                           epilog="exit status: 0 every stack succeeded, 1 a stack failed, 2 bad topology "
                                  "(nothing touched), 3 drift found")
    parser.add_argument("command", choices=("up", "preview", "drift", "plan"))
    parser.add_argument("topology", type=Path)
    parser.add_argument("--work-dir", type=Path, default=Path.cwd(),
                        help="the Pulumi project: its Pulumi.yaml and the stacks' Pulumi.<stack>.yaml files, whose "
                             "NodePorts are kept (default: the current directory)")
    parser.add_argument("-o", "--out", type=Path,
                        help="plan: the directory to write Pulumi.<stack>.yaml files to (offline, nothing secret)")
    parser.add_argument("--no-verify", action="store_true",
                        help="up: skip FATE's toy test between every pair of federated parties")
    parser.add_argument("--parallel", type=_at_least_one, default=default_parallel(), metavar="N",
                        help="preview/up/drift: how many stacks run at once (default: one per core, "
                             f"{default_parallel()} here; 1: one after the other); up brings the exchange up first")
    args = parser.parse_args(argv)
    if (args.command == "plan") != (args.out is not None):
        parser.error("-o DIR is where `plan` writes, and only `plan` takes it")
    topo = load(args.topology)
    try:
        stacks = plan(topo, recorded_node_ports(topo, args.work_dir))
        checked = configs(stacks, need_secrets=args.command != "plan")  # refuse before touching any stack
    except ValueError as err:
        for line in str(err).strip().splitlines():
            if line.strip():
                print(f"error: {args.topology}: {line.strip()}", file=sys.stderr)
        return 2
    if not (args.work_dir / "Pulumi.yaml").is_file():
        # the stacks' files there hold the NodePorts running parties keep: planning without them could move them
        raise InputError(f"{args.work_dir}: no Pulumi.yaml — run it in the fate-pulumi project (where the stacks' "
                         "Pulumi.<stack>.yaml files are) or give --work-dir")
    if _report_hand_set(stacks, args.work_dir, args.topology, refuse=args.command == "up"):
        if args.command == "up":
            return 2
    if args.command == "plan":
        written = write_plan(stacks, topo.name, args.out)
        print(f"{len(written)} stack files in {args.out}: {', '.join(p.name for p in written)}")
        return 0
    if args.command == "up":  # what can be checked before touching a cluster (fate-pulumi preflight)
        from fate_pulumi.preflight import static_checks, table

        findings = static_checks(checked)
        if not all(f.ok for f in findings):
            print(table([f for f in findings if not f.ok]), file=sys.stderr)
            print(f"error: {args.topology}: the preflight checks failed; nothing was touched", file=sys.stderr)
            return 1
    if shutil.which("pulumi") is None:
        raise InputError("pulumi: the Pulumi CLI is not on PATH — install it (README: Install Pulumi) or source the "
                         "toolchain's env.sh")
    if args.command == "up":  # a running site whose ports this plan would move is refused before any stack runs
        moved = [why for why in (moved_ports(s, args.work_dir) for s in stacks) if why]
        if moved:
            for why in moved:
                print(f"error: {args.topology}: {why}", file=sys.stderr)
            return 2
    results = run(args.command, stacks, args.work_dir, verify=not args.no_verify, parallel=args.parallel)
    if any(r.result in ("error", "failed") for r in results):
        return 1
    if args.command == "drift" and any(r.result == "drift" for r in results):
        return 3
    return 0


if __name__ == "__main__":
    from fate_pulumi.cli import guarded

    sys.exit(guarded(main))
