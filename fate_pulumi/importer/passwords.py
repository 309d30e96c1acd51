"""Passwords: carried into Pulumi secrets by a script, never into the stack file or onto the terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from fate_pulumi.importer.mapping import Result


@dataclass
class Password:
    key: str  # fate:<key>
    value: Optional[str]  # None: nothing to carry (a new one must be set)
    origin: str  # where the value comes from, for the script's comments and the warnings (never the value)


def _lookup(data: dict, path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def passwords(res: Result, data: dict, adopt: bool, live: Optional[dict[str, list[tuple[str, str]]]] = None,
              warn: Callable[[str], None] = lambda m: print(f"warning: {m}", file=sys.stderr)) -> list[Password]:
    """The value of every password the stack needs: the cluster file's, else (adopting) the KubeFATE default the party
    runs with. With `live` (what the running party's objects hold, by key), a value that differs from the cluster
    file's is reported and the running one is carried: adopting must keep what MySQL's users and the peers use."""
    from stacks.config import SECRET_KEYS

    out: list[Password] = []
    for key, where in res.secrets:
        if any(p.key == key for p in out):
            continue  # KubeFATE's precedence: the first source listed (externalMysqlPassword before mysql.password)
        if where.startswith("a new password"):
            default = SECRET_KEYS[key][1]
            value, origin = (default, "KubeFATE's default (the cluster file sets none)") if adopt else (None, where)
        else:
            raw = _lookup(data, where)
            value, origin = (None if raw is None else str(raw)), f"the cluster file's {where}"
        running = {v for _, v in (live or {}).get(key, [])}
        sources = ", ".join(src for src, _ in (live or {}).get(key, []))
        if len(running) > 1:
            warn(f"fate:{key}: the running party's objects disagree ({sources}); the cluster file's value is carried, "
                 "check which one the party really uses")
        elif running and value not in running:
            warn(f"fate:{key}: the running party uses another value than {origin} ({sources}); "
                 "the running value is carried")
            value, origin = next(iter(running)), f"the running party ({sources})"
        if value == "":  # e.g. KubeFATE's notebook ran without a password: a stack needs one
            value, origin = None, f"{origin} is empty; set a new one"
        out.append(Password(key, value, origin))
    return out


def secrets_script(items: list[Password], source: str) -> str:
    """A shell script of `pulumi config set --secret` commands; each value reaches pulumi on standard input (printf is
    a shell builtin: the value is in no process's arguments)."""
    import shlex

    lines = ["#!/bin/sh",
             f"# Passwords of {source} for `pulumi config set --secret`, written by fate-pulumi import.",
             "# It holds them in clear: run it once in the project directory, then delete it.",
             "#   sh <this file> [--stack <stack>]",
             "set -eu"]
    for item in items:
        lines.append(f"# fate:{item.key}: {item.origin}")
        if item.value is None:
            lines.append(f"echo 'fate:{item.key} is not set: pulumi config set --secret fate:{item.key} ...' >&2")
        else:
            lines.append(f"printf '%s' {shlex.quote(item.value)} | pulumi config set --secret \"$@\" fate:{item.key}")
    return "\n".join(lines) + "\n"


def write_private(path: Path, text: str) -> None:
    """A new file only its owner can read (refuses to overwrite one)."""
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
