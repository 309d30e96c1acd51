"""The stack file an import writes: its header (where it came from, the passwords still to set, the notes) and its
`fate:` config; written over an existing stack file (one `pulumi stack init` salted, or an earlier import whose
secrets are set), merged so that nothing is lost, or refused."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from fate_pulumi.importer.mapping import Result

REVIEW = "To review it before the passwords are set:"
KEPT_COMMENTS = "# Comments kept from the stack file this import was merged into:"
_OUR_COMMENTS = ("# Imported from ", "# Passwords are not copied", "#   pulumi config set --secret", f"# {REVIEW}",
                 "# note: ", KEPT_COMMENTS)
# what Pulumi keeps in Pulumi.<stack>.yaml (ProjectStack: pulumi/sdk/go/common/workspace/project.go)
STACK_FILE_KEYS = ("secretsprovider", "encryptedkey", "encryptionsalt", "config", "environment")


def _header(res: Result, source: str, script: Optional[Path] = None, target: Optional[Path] = None,
            set_already: Collection[str] = ()) -> list[str]:
    """What the stack file says before its YAML: where it came from, the passwords still to set (not those the file
    already holds as secrets), how to review it before, and the notes."""
    lines = [f"# Imported from {source} by `fate-pulumi import`."]
    if script is not None:
        lines.append(f"# Passwords are not copied: run `sh {script}` (mode 0600) in the project directory after "
                     "`pulumi stack init`, then delete it.")
    elif {k for k, _ in res.secrets} - set(set_already):
        lines.append("# Passwords are not copied; set them as secrets:")
        seen = set(set_already)
        for key, where in res.secrets:
            if key in seen:
                continue
            seen.add(key)
            hint = where if where.startswith("a new password") else f"value of {where}"
            lines.append(f"#   pulumi config set --secret fate:{key} '<{hint}>'")
    if res.secrets:
        lines.append(f"# {REVIEW} fate-pulumi render --development {target or '<this file>'} out/")
    for note in res.notes:
        lines.append(f"# note: {note}")
    return lines


def _dump(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, width=120)


def to_stack_file(res: Result, source: str, script: Optional[Path] = None, target: Optional[Path] = None) -> str:
    body = _dump({"config": {f"fate:{k}": v for k, v in res.config.items()}})
    return "\n".join(_header(res, source, script, target)) + "\n" + body


# ----------------------------------------------------------------------------------------------------------------
# Importing over an existing stack file: merged so that nothing is lost, or refused


@dataclass
class Existing:
    """A stack file the import is written over: its document and the comments its owner wrote."""

    path: Path
    doc: dict[str, Any]
    comments: list[str]


@dataclass
class Merged:
    doc: dict[str, Any]
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    comments: int = 0  # the owner's comment lines, moved under the header

    def summary(self) -> str:
        parts = [f"added {len(self.added)} keys"] if self.added else []
        for what, keys in (("changed", self.changed), ("kept", self.kept)):
            if keys:
                parts.append(f"{what} {', '.join(keys)}")
        if self.comments:
            parts.append(f"its comments ({self.comments} lines) kept under the header")
        return "; ".join(parts) or "nothing changed"


def _secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def read_existing(path: Path) -> Optional[Existing]:
    """The stack file at `path`, or None when there is none; InputError when the file is something else."""
    from fate_pulumi.inputs import InputError, read_text

    if not path.exists():
        return None
    text = read_text(path, "stack file the import is written over")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        raise InputError(f"{path}: exists and is not valid YAML — give another -o FILE, or fix or remove it") from None
    if doc is None:
        return Existing(path, {}, [])
    if not isinstance(doc, dict) or set(doc) - set(STACK_FILE_KEYS) or not isinstance(doc.get("config") or {}, dict):
        what = "a KubeFATE cluster file" if isinstance(doc, dict) and "chartName" in doc else "not a Pulumi stack file"
        raise InputError(f"{path}: exists and is {what} — give another -o FILE (the stack's Pulumi.<stack>.yaml)")
    return Existing(path, doc, _own_comments(path, text, doc))


def _own_comments(path: Path, text: str, doc: Any) -> list[str]:
    """The file's full-line comments other than an earlier import's header. A comment after a value cannot be kept in
    place by a merge that rewrites the YAML: refused. (A `#` line inside a block scalar is text, not a comment: each
    candidate counts as a comment only if the document parses the same without it.)"""
    from fate_pulumi.inputs import InputError

    lines = text.splitlines()

    def parses_same(changed: dict[int, str]) -> bool:
        try:
            return yaml.safe_load("\n".join(changed.get(i, line) for i, line in enumerate(lines))) == doc
        except yaml.YAMLError:
            return False

    full = [i for i, line in enumerate(lines) if line.lstrip().startswith("#")]
    if not parses_same({i: "" for i in full}):
        full = [i for i in full if parses_same({i: ""})]
    for i, line in enumerate(lines):
        if i in full or " #" not in line:
            continue
        cut = line.find(" #")
        while cut >= 0:
            if parses_same({i: line[:cut]}):
                raise InputError(f"{path}:{i + 1}: a comment after a value, which merging the import cannot keep in "
                                 "place — move it onto a line of its own, or give another -o FILE")
            cut = line.find(" #", cut + 1)
    return [lines[i].strip() for i in full if not lines[i].strip().startswith(_OUR_COMMENTS)]


def _merge_values(old: dict[str, Any], new: dict[str, Any], prefix: str, out: Merged) -> dict[str, Any]:
    """`new` over `old`, section by section: what the import produces wins, except a `secure:` value; every key it
    does not produce is kept."""
    merged: dict[str, Any] = {}
    for key, value in new.items():
        name = f"{prefix}{key}"
        if key not in old:
            out.added.append(name)
            merged[key] = value
        elif _secure(old[key]):
            out.kept.append(f"{name} (secure)")
            merged[key] = old[key]
        elif isinstance(old[key], dict) and isinstance(value, dict):
            merged[key] = _merge_values(old[key], value, f"{name}.", out)
        else:
            if old[key] != value:
                out.changed.append(name)
            merged[key] = value
    for key, value in old.items():
        if key not in new:
            out.kept.append(f"{prefix}{key}" + (" (secure)" if _secure(value) else ""))
            merged[key] = value
    return merged


def merge(existing: Existing, res: Result) -> Merged:
    """The import written over an existing stack file: its encryption salt, secrets provider and key, every `secure:`
    value and every key the import does not produce are kept. A file of another party or kind is refused."""
    from fate_pulumi.inputs import InputError

    config = existing.doc.get("config") or {}
    for key, ours in (("partyId", res.config["partyId"]), ("kind", res.config.get("kind", "party"))):
        if "fate:partyId" not in config:
            break  # no fate-pulumi deployment yet (a salted file, other projects' keys)
        theirs = config.get(f"fate:{key}", "party")
        if theirs != ours:
            raise InputError(f"{existing.path}: fate:{key}: the file holds {theirs!r}, the import {ours!r} — this is "
                             "another deployment's stack file; give its own -o FILE")
    out = Merged({}, comments=len(existing.comments))
    new_config = {f"fate:{k}": v for k, v in res.config.items()}
    for key, value in existing.doc.items():
        if key == "config":
            out.doc[key] = _merge_values(config, new_config, "", out)
        else:
            out.kept.append(key)
            out.doc[key] = value
    if "config" not in out.doc:
        out.doc["config"] = _merge_values({}, new_config, "", out)
    return out


def merged_stack_file(existing: Existing, merged: Merged, res: Result, source: str,
                      script: Optional[Path] = None) -> str:
    config = existing.doc.get("config") or {}
    lines = _header(res, source, script, existing.path,
                    set_already=[k.removeprefix("fate:") for k, v in config.items() if _secure(v)])
    if existing.comments:
        lines += [KEPT_COMMENTS, *existing.comments]
    return "\n".join(lines) + "\n" + _dump(merged.doc)


def merge_problems(merged: Merged) -> list[str]:
    """The merged file's fate: keys checked as `render` checks them (a kept key may contradict an imported one)."""
    from fate_pulumi.render import config_problems, engine_config

    values, secret_keys = engine_config(merged.doc.get("config") or {})
    return config_problems({**values, "fate:development": "true"}, secret_keys)
