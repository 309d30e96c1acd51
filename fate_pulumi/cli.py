"""fate-pulumi: deploy FATE with Pulumi — the command-line tools beside the Pulumi program.

Exit status of every command: 0 done; 1 the operation failed (a stack, the engine); 2 bad input — a file, its YAML,
the configuration or the command line (one line each: the file, the problem, the fix; nothing is written);
3 drift found (drift, federation drift); status: 1 degraded; 141 the reader of the output stopped early (`| head`).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from typing import Optional

# subcommand -> (module with main(argv, prog), one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "render": ("fate_pulumi.render", "render a stack file offline (no CLI, no cluster) into manifests for review"),
    "import": (
        "fate_pulumi.importer",
        "turn a KubeFATE cluster.yaml into a stack file (-o), optionally to adopt the party",
    ),
    "drift": (
        "fate_pulumi.drift",
        "list what changed in the cluster behind a stack's back (exit 3 when something did)",
    ),
    "status": ("fate_pulumi.status", "the state of deployed stacks: workloads, restarts, addresses, routes, "
               "certificates, jobs (exit 1 when degraded)"),
    "logs": ("fate_pulumi.logs", "the logs of one workload of a stack (kubectl logs by its labels; -f, --since, -p)"),
    "federation": ("fate_pulumi.federation", "preview / up / drift a whole federation from one topology file"),
    "preflight": ("fate_pulumi.preflight", "check a federation's addresses, routes and certificates before any up"),
    "picture": ("fate_pulumi.picture", "draw a federation (stack files or a topology) with Graphviz"),
    "adopt": ("fate_pulumi.adopt", "take over a KubeFATE party Helm installed (take-over), or hand it back (rollback)"),
    "backup": ("fate_pulumi.backup", "dump a party's MySQL (FATE Flow's jobs, eggroll's metadata) to a file (-o)"),
    "restore": ("fate_pulumi.restore", "load such a file into a party's MySQL and compare every table's rows"),
    "ca": ("fate_pulumi.ca", "create the CA a stack issues its TLS certificates from"),
    "password": ("fate_pulumi.password", "hash a notebook password for fate:notebookHashedPassword"),
}


def guarded(main: Callable[[], int]) -> int:
    """Run a command: bad input becomes one line on stderr and exit 2, never a traceback."""
    from fate_pulumi.inputs import InputError

    try:
        return main()
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `fate-pulumi preflight ... | head`: the reader has gone, as it does for cat
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit's flush then writes nowhere
        return 141  # 128 + SIGPIPE, what a shell reports for a program the pipe ended
    except SystemExit as done:  # a command's argument parser ends with exit(2) after its one line
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 2)


def version() -> str:
    """This release, the FATE release it deploys and the Pulumi SDKs it runs with."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    from stacks.config import FATE_VERSION

    def of(dist: str) -> str:
        try:
            return installed(dist)
        except PackageNotFoundError:
            return "not installed"

    return (f"fate-pulumi {of('fate-pulumi')} (deploys FATE {FATE_VERSION}; pulumi {of('pulumi')}, "
            f"pulumi-kubernetes {of('pulumi-kubernetes')})")


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="fate-pulumi", description=__doc__.split("\n\n")[0],
        epilog="\n".join(["commands:", *(f"  {name:<11} {help_}" for name, (_, help_) in COMMANDS.items()), "",
                          __doc__.split("\n\n")[1].replace("\n", " "),
                          "Run `fate-pulumi <command> --help` for a command's options; "
                          "`fate-pulumi --version` for the release."]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=COMMANDS, metavar="command", help=", ".join(COMMANDS))
    if argv[:1] == ["--version"]:
        print(version())
        return 0
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0 if argv else 2
    if argv[0] not in COMMANDS:
        import difflib

        near = difflib.get_close_matches(argv[0].lower(), COMMANDS, n=1)
        hint = f"did you mean {near[0]}? " if near else ""
        print(f"error: unknown command {argv[0]!r} — {hint}one of: {', '.join(COMMANDS)} (fate-pulumi --help)",
              file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return guarded(lambda: module.main(argv[1:], prog=f"fate-pulumi {argv[0]}"))


if __name__ == "__main__":
    sys.exit(main())
