"""Import a KubeFATE v1.11.2 cluster.yaml (chart fate, fate-exchange or fate-serving) as a fate-pulumi stack file.

    fate-pulumi import cluster.yaml -o Pulumi.party-9999.yaml

Every key KubeFATE reads is mapped, or refused with a message naming it; none is dropped silently. Where KubeFATE
behaves differently from what the file says (defaults that depend on whether a section exists, leaked example
addresses, options its templates never use) the output carries a note. Passwords are never copied into the stack
file: the importer lists the `pulumi config set --secret` commands to run instead.
Exit status: 0 imported, 2 the file has keys or values fate-pulumi refuses (each listed on stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Optional

from fate_pulumi.importer.cluster import import_cluster
from fate_pulumi.importer.kubefate_v1_11.cluster_file import CHARTS
from fate_pulumi.importer.mapping import ClusterFileRefused, Result
from fate_pulumi.importer.passwords import Password, passwords, secrets_script, write_private
from fate_pulumi.importer.stack_file import (
    Existing,
    Merged,
    merge,
    merge_problems,
    merged_stack_file,
    read_existing,
    to_stack_file,
)
from fate_pulumi.inputs import InputError, output_file, read_yaml, write_atomically


def main(argv: Optional[list[str]] = None, prog: str = "fate-pulumi import") -> int:
    args = _parser(prog).parse_args(argv)
    data = read_yaml(args.cluster_yaml, "KubeFATE cluster file")
    _refuse_other_files(args.cluster_yaml, data)
    peers = _read_peers(args.peer)
    existing = _check_outputs(args)
    try:
        res = _import(data, args, peers)
    except ClusterFileRefused as err:
        for problem in err.problems:
            print(f"error: {args.cluster_yaml}: {problem}", file=sys.stderr)
        return 2
    merged = merge(existing, res) if existing is not None else None
    if merged is not None and _contradicted(merged, args.output):
        return 2
    live = None
    if args.compare_live or args.kubeconfig or args.context:
        from fate_pulumi.kubectl import ClusterError

        try:
            live = _live_passwords(args, res, data)
        except ClusterError as err:
            print(f"error: reading the running party's passwords: {err}", file=sys.stderr)
            return 1
    carried = passwords(res, data, args.adopt, live) if args.secrets_script or live is not None else []
    _write(args, res, existing, merged, carried)
    return 0


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__.split("\n\n")[0],
        epilog="exit status: 0 imported; 2 the file has keys or values fate-pulumi refuses, or an output cannot be "
               "written (one line each, nothing written); 1 reading the running party failed")
    parser.add_argument(
        "cluster_yaml", type=Path, help="a KubeFATE cluster.yaml (chart fate, fate-exchange or fate-serving)"
    )
    parser.add_argument("-o", "--output", type=Path, metavar="FILE",
                        help="write the stack file here (only when the import succeeds; never over the cluster file); "
                             "a stack file already there is merged into: its encryption salt, secrets and every key "
                             "the import does not produce are kept; default: standard output")
    parser.add_argument(
        "--ignore-unknown", action="store_true", help="report unknown keys as notes instead of refusing"
    )
    parser.add_argument("--adopt", action="store_true",
                        help="take over the running KubeFATE deployment in place (sets fate:adoptKubefate, see README)")
    parser.add_argument("--secrets-script", type=Path, metavar="FILE",
                        help="write the cluster file's passwords as `pulumi config set --secret` commands to FILE "
                             "(a new file, mode 0600); nothing secret goes to the stack file or the terminal")
    parser.add_argument("--compare-live", action="store_true",
                        help="read the passwords the running party uses (KubeFATE's ConfigMaps and workloads, through "
                             "kubectl), warn where they differ from the cluster file, and carry the running ones")
    parser.add_argument("--peer", type=Path, action="append", default=[], metavar="CLUSTER_YAML",
                        help="a cluster file of another deployment of the federation (a peer party, the exchange, the "
                             "party's FATE or FATE-Serving), read only for the address it reaches this one at "
                             "(fate:publicHost) and the namespace FATE Flow reaches FATE-Serving from; repeatable")
    parser.add_argument("--kubeconfig", help="kubeconfig for --compare-live (implies it)")
    parser.add_argument("--context", help="kubeconfig context for --compare-live (implies it)")
    return parser


def _refuse_other_files(path: Path, data: Any) -> None:
    """A file that is not a KubeFATE cluster file, named with what to pass instead."""
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a KubeFATE cluster file (no mapping at the top)")
    if "config" in data and "chartName" not in data:
        raise InputError(f"{path}: a Pulumi stack file already — render it: fate-pulumi render {path} out/")
    if "chartName" not in data and {"partyName", "image"} & set(data):
        # KubeFATE's CLI renders a cluster file into these values (charts' values.yaml: partyName, image.registry);
        # the keys differ (partyName vs name, image.* vs registry, modules as sections), so they are not imported
        raise InputError(f"{path}: Helm values of a KubeFATE chart (values.yaml: partyName, image), not a KubeFATE "
                         "cluster file — pass the cluster.yaml given to `kubefate cluster install` (chartName: fate, "
                         "fate-exchange or fate-serving)")


def _same_file(a: Path, b: Path) -> bool:
    import os

    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return a.resolve() == b.resolve()


def _check_outputs(args: argparse.Namespace) -> Optional[Existing]:
    """Every file the import writes, checked before anything is written: never the cluster file, a script never over
    an existing file (it may hold passwords); a stack file that exists is read to be merged into."""
    existing = None
    if args.output is not None:
        output_file(args.output)
        if _same_file(args.output, args.cluster_yaml):
            raise InputError(f"{args.output}: is the cluster file being imported — write the stack file elsewhere "
                             "(-o Pulumi.<stack>.yaml)")
        existing = read_existing(args.output)
    if args.secrets_script is not None:
        output_file(args.secrets_script)
        if args.secrets_script.exists() or args.secrets_script.is_symlink():
            raise InputError(f"{args.secrets_script}: exists — remove it first (it may hold passwords) or name a new "
                             "file for --secrets-script")
        if args.output is not None and _same_file(args.output, args.secrets_script):
            raise InputError(f"{args.secrets_script}: is also the -o file — give the script another name")
    return existing


def _read_peers(paths: list[Path]) -> list[tuple[str, dict[str, Any]]]:
    """The --peer cluster files, each with its name; bad input when one is not a cluster file."""
    peers = []
    for peer in paths:
        doc = read_yaml(peer, "KubeFATE cluster file of a peer (--peer)")
        if not isinstance(doc, dict) or doc.get("chartName") not in CHARTS:
            raise InputError(f"{peer}: not a KubeFATE cluster file (chartName: fate, fate-exchange or fate-serving) — "
                             "--peer takes the cluster files of the federation's other deployments")
        peers.append((str(peer), doc))
    return peers


def _import(data: dict[str, Any], args: argparse.Namespace, peers: list[tuple[str, dict[str, Any]]]) -> Result:
    """The cluster file mapped (raises ClusterFileRefused), marked for adoption with --adopt."""
    res = import_cluster(data, strict=not args.ignore_unknown, peers=peers)
    if args.adopt:
        res.set("adoptKubefate", True)
        res.notes.append("adoptKubefate: set every password to the value the running deployment uses (MySQL keeps "
                         "its data and its users' passwords); run fate-pulumi adopt take-over before the "
                         "first `pulumi preview` (README)")
    return res


def _contradicted(merged: Merged, output: Path) -> bool:
    """Whether a key kept from the stack file contradicts the import (each such key said on stderr)."""
    problems = merge_problems(merged)
    for problem in problems:
        print(f"error: {output}: {problem} — a key kept from the file contradicts the import: remove it "
              "there, or give another -o FILE", file=sys.stderr)
    return bool(problems)


def _live_passwords(args: argparse.Namespace, res: Result, data: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """The passwords the running party's objects hold (--compare-live); raises ClusterError when kubectl fails."""
    from fate_pulumi.adopt import live_passwords
    from fate_pulumi.kubectl import Kubectl

    namespace = res.config.get("namespace") or res.config.get("name") or data.get("namespace")
    return live_passwords(Kubectl(args.kubeconfig, args.context), str(namespace), [k for k, _ in res.secrets])


def _write(args: argparse.Namespace, res: Result, existing: Optional[Existing], merged: Optional[Merged],
           carried: list[Password]) -> None:
    """The stack file (to -o, merged into the one there, or to standard output) and the --secrets-script."""

    def write_script() -> None:
        if args.secrets_script is None:
            return
        try:
            write_private(args.secrets_script, secrets_script(carried, str(args.cluster_yaml)))
        except FileExistsError:  # created since it was checked
            raise InputError(f"{args.secrets_script}: exists — remove it first (it may hold passwords) or name a "
                             "new file for --secrets-script") from None
        except OSError as err:
            raise InputError(f"{args.secrets_script}: cannot be written ({err.strerror}) — write the script "
                             "elsewhere") from None

    source = str(args.cluster_yaml)
    if args.output is None:
        write_script()
        sys.stdout.write(to_stack_file(res, source, args.secrets_script))
        return
    # the stack file's text is staged beside it, then the script written, then the stack file replaced: a failure
    # on the way leaves neither
    if existing is None or merged is None:
        write_atomically(args.output, to_stack_file(res, source, args.secrets_script, args.output),
                         before_rename=write_script)
        print(f"{args.output}: {res.kind} stack file written ({len(res.notes)} notes inside)", file=sys.stderr)
    else:
        write_atomically(args.output, merged_stack_file(existing, merged, res, source, args.secrets_script),
                         before_rename=write_script)
        print(f"{args.output}: {res.kind} stack file merged into the existing one ({len(res.notes)} notes inside): "
              f"{merged.summary()}", file=sys.stderr)
