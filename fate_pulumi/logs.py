"""The logs of one workload of a stack's deployment: `kubectl logs` on its pods, by the labels the stack sets.

    fate-pulumi logs party-9999 python                  # every container of the pods of workload python
    fate-pulumi logs party-9999 rollsite -f --since 10m # follow, from ten minutes ago
    fate-pulumi logs party-9999 python -p -c fateflow   # the previous (crashed) run of one container

WORKLOAD is a name `fate-pulumi status` lists (a module's workload: python, rollsite, spark-master ...). The
cluster is the stack's own, or --kubeconfig / --context. Exit status: kubectl's; 2 bad input.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Optional

from fate_pulumi.kubectl import Kubectl
from fate_pulumi.status import APP, INSTANCE

# kubectl's --since: a Go duration of whole units (5s, 2m, 3h, 1h30m)
SINCE = re.compile(r"^(\d+h)?(\d+m)?(\d+s)?$")


def command(kubectl: Kubectl, namespace: str, instance: str, workload: str, *, follow: bool = False,
            since: Optional[str] = None, previous: bool = False, container: Optional[str] = None,
            tail: Optional[int] = None) -> list[str]:
    """The kubectl command line: the workload's pods by label, each line prefixed with pod and container."""
    args = [*kubectl.base, "logs", "-n", namespace, "-l", f"{INSTANCE}={instance},{APP}={workload}", "--prefix",
            # one stream per pod and container: a nodemanager StatefulSet has several of each
            "--max-log-requests=20"]
    args += [f"--container={container}"] if container else ["--all-containers"]
    args += ["--follow"] if follow else []
    args += [f"--since={since}"] if since else []
    args += ["--previous"] if previous else []
    args += [f"--tail={tail}"] if tail is not None else []
    return args


def main(argv: Optional[list[str]] = None, prog: str = "fate-pulumi logs") -> int:
    from fate_pulumi.drift import known_stack, project_dir, stack_outputs
    from fate_pulumi.inputs import InputError, OneLineParser, path_arg
    from fate_pulumi.kubectl import ClusterError
    from fate_pulumi.status import stack_kubectl

    parser = OneLineParser(prog=prog, description=__doc__.split("\n\n")[0],
                           epilog="exit status: kubectl's (0 done), 1 the stack or cluster could not be read, 2 bad "
                                  "input")
    parser.add_argument("stack", metavar="STACK")
    parser.add_argument("workload", metavar="WORKLOAD")
    parser.add_argument("-f", "--follow", action="store_true", help="stream new lines until interrupted")
    parser.add_argument("--since", help="only lines newer than this (5s, 2m, 3h)")
    parser.add_argument("-p", "--previous", action="store_true", help="the previous run of each container")
    parser.add_argument("-c", "--container", help="one container (default: all)")
    parser.add_argument("--tail", type=int, help="the last N lines of each container")
    parser.add_argument("--work-dir", type=path_arg, default=Path.cwd(), help="the Pulumi project directory")
    parser.add_argument("--kubeconfig")
    parser.add_argument("--context")
    args = parser.parse_args(argv)
    if args.since is not None and (not args.since or not SINCE.match(args.since)):
        parser.error(f"argument --since: {args.since!r} is not a duration — e.g. 30s, 10m, 2h")
    if args.follow and args.previous:
        parser.error("argument --follow: not with --previous — a previous run has ended; follow the current one")
    if args.tail is not None and args.tail < 0:
        parser.error("argument --tail: a negative count — give the number of lines, e.g. --tail 100")
    work_dir = project_dir(args.work_dir)
    known_stack(args.stack, work_dir)
    try:
        outputs = stack_outputs(args.stack, work_dir)
    except RuntimeError as err:
        print(f"error: {args.stack}: {err}", file=sys.stderr)
        return 1
    if not outputs.get("namespace"):
        print(f"error: {args.stack}: the stack has no outputs: it was never brought up (pulumi up)", file=sys.stderr)
        return 1
    kubectl = Kubectl(args.kubeconfig, args.context) if (args.kubeconfig or args.context) \
        else stack_kubectl(args.stack, work_dir)
    namespace, instance = outputs["namespace"], outputs["name"]
    try:
        pods = kubectl.list("pods", namespace, f"{INSTANCE}={instance}")
    except ClusterError as err:
        print(f"error: {args.stack}: {err}", file=sys.stderr)
        return 1
    workloads = sorted({(p["metadata"].get("labels") or {}).get(APP, "") for p in pods} - {""})
    if args.workload not in workloads:
        raise InputError(f"{args.stack}: workload {args.workload!r}: no pod of it — one of: "
                         f"{', '.join(workloads) or '(no pods: fate-pulumi status ' + args.stack + ')'}")
    return subprocess.run(command(kubectl, namespace, instance, args.workload, follow=args.follow, since=args.since,
                                  previous=args.previous, container=args.container, tail=args.tail)).returncode


if __name__ == "__main__":
    from fate_pulumi.cli import guarded

    sys.exit(guarded(main))
