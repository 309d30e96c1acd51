"""Reading what a user hands to a command: every problem becomes one line naming the file (and line and column
for YAML) and the fix, never a traceback."""

from __future__ import annotations

import argparse
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, Optional

import yaml


class InputError(Exception):
    """Bad input: the message is one line, `<file>: <what is wrong> — <how to fix it>`."""


class OneLineParser(argparse.ArgumentParser):
    """Command-line misuse as one line (not argparse's usage block), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} — see {self.prog} --help\n")


# libyaml's parser where PyYAML was built with it: a 1,000-party exchange file parses in 0.1 s instead of 0.6 s
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """YAML with duplicate keys refused (PyYAML would keep the last one silently)."""


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key].start_mark.line + 1})", mark)
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def path_arg(text: str) -> Path:
    """A path on the command line (argparse type). An empty one — an unset shell variable — is refused rather than
    taken for the current directory, which Path("") is."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path (an unset shell variable?)")
    return Path(text)


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file — check the path of the {what}") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory — give the {what} file itself") from None
    except PermissionError:  # the file, or a directory on its path
        raise InputError(f"{path}: not readable — check its permissions and those of its directories") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 text (byte {err.start}) — is it the {what}?") from None
    except OSError as err:  # /proc/self/mem (EIO), a path through a file (ENOTDIR), too long ...
        raise InputError(f"{path}: cannot read it ({err.strerror}) — give the {what}") from None


def read_yaml(path: Path, what: str) -> Any:
    """A YAML file's content; syntax errors and duplicate keys name the line and column."""
    text = read_text(path, what)
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = err.problem or err.context or "invalid YAML"
        raise InputError(f"{where}: {problem} — fix the YAML ({what})") from None
    except yaml.YAMLError as err:
        raise InputError(f"{path}: {err} — fix the YAML ({what})") from None


def output_dir(path: Path) -> Path:
    """A directory a command may write into (created if missing), tried by writing a file into it: a root user
    passes every permission check (os.access) yet cannot write into /proc or /sys."""
    import os
    import tempfile

    try:
        exists = path.exists()
    except OSError as err:  # a directory on its path not searchable
        raise InputError(f"{path}: cannot reach it ({err.strerror}) — choose a writable directory") from None
    if exists and not path.is_dir():
        raise InputError(f"{path}: exists and is not a directory — give a directory for the output")
    created = not exists
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"{path}: cannot create it ({err.strerror}) — choose a writable directory") from None
    try:
        fd, probe = tempfile.mkstemp(dir=path, prefix=".fate-pulumi-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        if created:
            path.rmdir()
        raise InputError(f"{path}: cannot write into it ({err.strerror}) — choose a writable directory") from None
    return path


def output_file(path: Path) -> Path:
    """A file a command may write, checked before anything is read or written."""
    if path.is_dir():
        raise InputError(f"{path}: is a directory — give a file name for the output")
    if not path.parent.exists():
        raise InputError(f"{path.parent}: no such directory — create it or write elsewhere")
    if not path.parent.is_dir():
        raise InputError(f"{path}: {path.parent} is not a directory — write the output elsewhere")
    if path.exists() and not path.is_file():  # a device or a pipe: a rename would replace it (/dev/null as root)
        raise InputError(f"{path}: not a regular file — give a file name for the output")
    return path


def write_atomically(path: Path, text: str, mode: Optional[int] = None,
                     before_rename: Optional[Callable[[], None]] = None) -> None:
    """Write `text` to `path` only as a whole (a failed command leaves no half-written or empty file). A file that
    exists keeps its mode and owner (default mode of a new one: 0644); a symbolic link keeps pointing at it.
    `before_rename` runs once the text is written and before it replaces `path`; if it raises, nothing is replaced."""
    import os
    import tempfile

    if path.is_symlink():
        path = path.resolve()
    old = path.stat() if path.exists() else None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as err:
        raise InputError(f"{path}: cannot create a file in {path.parent} ({err.strerror}) — write the output "
                         "elsewhere") from None
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.chmod(tmp, mode if mode is not None else stat.S_IMODE(old.st_mode) if old else 0o644)
        if old is not None and (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
            try:
                os.chown(tmp, old.st_uid, old.st_gid)
            except PermissionError:
                pass  # only root may give a file away; the user's own file stays theirs anyway
        if before_rename is not None:
            before_rename()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def stack_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The `config:` of a Pulumi stack file, and warnings; another kind of file is named with the command it is for."""
    import difflib

    from stacks.config import NAMESPACE

    doc = read_yaml(path, "stack file (Pulumi.<stack>.yaml)")
    if not isinstance(doc, dict):
        raise InputError(f"{path}: not a Pulumi stack file (no mapping at the top) — a stack file holds "
                         f"`config: {{{NAMESPACE}:partyId: 9999, ...}}`")
    if "chartName" in doc or ("config" not in doc and {"partyId", "modules"} <= set(doc)):
        raise InputError(f"{path}: a KubeFATE cluster file, not a stack file — import it first: "
                         f"fate-pulumi import {path} -o Pulumi.<stack>.yaml")
    if "parties" in doc and "config" not in doc:
        raise InputError(
            f"{path}: a federation topology, not a stack file — use: fate-pulumi federation preview {path}"
        )
    config = doc.get("config")
    if not isinstance(config, dict):
        raise InputError(
            f"{path}: no `config:` section — a stack file holds `config: {{{NAMESPACE}:partyId: 9999, ...}}`"
        )
    for key in config:
        if not isinstance(key, str):  # YAML reads `5:` or `null:` as a number or None, never a Pulumi config key
            shown = "null" if key is None else repr(key)
            raise InputError(f"{path}: config: key {shown} is not a config key — keys are `<namespace>:<name>`, "
                             f"e.g. {NAMESPACE}:partyId")
    warnings = []
    ours = [k for k in config if str(k).startswith(f"{NAMESPACE}:")]
    for key in config:
        ns, sep, rest = str(key).partition(":")
        if sep and ns != NAMESPACE and difflib.SequenceMatcher(None, ns, NAMESPACE).ratio() >= 0.75:
            warnings.append(f"{path}: {key} looks like {NAMESPACE}:{rest} — fate-pulumi reads only `{NAMESPACE}:` keys")
    if not ours:
        raise InputError(f"{path}: no `{NAMESPACE}:` keys under config — fate-pulumi reads `{NAMESPACE}:partyId`, "
                         f"`{NAMESPACE}:backend` ...")
    return config, warnings
