"""A config's problems, each named by its key: `Problem`, `ConfigError`, and pydantic's validation errors said in the
stack's own keys (an unknown key with the keys allowed there, a section of the wrong shape with an example)."""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ValidationError

from stacks.config.model import DeploymentConfig
from stacks.config.tables import NAMESPACE


@dataclass(frozen=True)
class Problem:
    key: str  # full key path, e.g. fate:rollsite.service.nodePorts.rollsite
    message: str  # what is wrong and what is allowed / how to fix it


class ConfigError(Exception):
    """The stack configuration is invalid; every problem names its key."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        lines = [f"  {p.key}: {p.message}" for p in self.problems]
        super().__init__("invalid stack configuration:\n" + "\n".join(lines))

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.problems]


def config_key(path: Iterable[Any]) -> str:
    text = f"{NAMESPACE}:"
    first = True
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("" if first else ".") + str(part)
        first = False
    return text


def _allowed_keys(loc: tuple[Any, ...], root: Any = None) -> Optional[list[str]]:
    """Keys allowed at the parent of `loc` (for 'unknown key' errors)."""
    model = _model_of(_annotation_at(root or DeploymentConfig, loc[:-1]))
    if model is None:
        return None
    return _keys(model)


def _keys(model: Any) -> list[str]:
    return sorted(f.alias or n for n, f in model.model_fields.items() if not f.exclude)


def _core(annotation: Any) -> Any:
    """Optional[X] / Annotated[X, ...] as X."""
    while True:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        origin = typing.get_origin(annotation)
        if origin is Annotated or (origin in (typing.Union, types.UnionType) and len(args) == 1):
            annotation = args[0]
        else:
            return annotation


def _annotation_at(root: Any, loc: Iterable[Any]) -> Any:
    """The type of the value at `loc` (field aliases, list indices, mapping keys) below the model `root`; None when
    the path leaves the models."""
    annotation = root
    for part in loc:
        annotation = _core(annotation)
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields = {(f.alias or n): f for n, f in annotation.model_fields.items()}
            field = fields.get(part)
            if field is None:
                return None
            annotation = field.annotation
        elif origin in (list, tuple, set, frozenset) and args and isinstance(part, int):
            annotation = args[0]
        elif origin is dict and len(args) == 2:
            annotation = args[1]
        else:
            return None
    return annotation


def _example(annotation: Any, depth: int = 0) -> str:
    """A value of this type, as YAML in flow style: a mapping of settings shows its required keys (placeholders, or
    the shape of a required list or mapping) or else one key with its default."""
    annotation = _core(annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = [(f.alias or n, f) for n, f in annotation.model_fields.items() if not f.exclude]
        required = [(alias, f) for alias, f in fields if f.is_required()]
        if required:
            def value(alias: str, f: Any) -> str:
                structured = _model_of(f.annotation) or typing.get_origin(_core(f.annotation)) in (list, dict)
                return _example(f.annotation, depth + 1) if structured and depth < 2 else f"<{alias}>"

            return "{" + ", ".join(f"{alias}: {value(alias, f)}" for alias, f in required) + "}"
        for alias, f in fields:
            if isinstance(f.default, (bool, int, str)) and f.default != "":
                return "{" + f"{alias}: {_scalar(f.default)}" + "}"
            if f.examples:
                return "{" + f"{alias}: {_flow(f.examples[0])}" + "}"
            if typing.get_origin(_core(f.annotation)) is Literal:
                return "{" + f"{alias}: {_example(f.annotation)}" + "}"
        return "{" + f"{fields[0][0]}: ..." + "}" if fields else "{}"
    if origin in (list, tuple, set, frozenset):
        return f"[{_example(args[0], depth) if args else '...'}]"
    if origin is dict:
        return "{<name>: " + (_example(args[1], depth) if len(args) == 2 else "<value>") + "}"
    if origin is Literal:
        return _scalar(args[0])
    return {str: "<text>", int: "<number>", bool: "true"}.get(annotation, "<value>")


def _flow(value: Any) -> str:
    """A value as YAML in flow style."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return text if re.fullmatch(r"[A-Za-z0-9_./-]+", text) else json.dumps(text)


def _shown(value: Any) -> str:
    """A value the user gave, short, as they wrote it (None as YAML's null)."""
    text = "null" if value is None else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# pydantic's error types for a value of the wrong shape: a scalar where settings (a mapping) or a list belong
_SHAPES = {"model_type": "a mapping of settings", "model_attributes_type": "a mapping of settings",
           "dict_type": "a mapping", "list_type": "a list", "tuple_type": "a list", "set_type": "a list"}


def shape_message(error: Any, root: Any) -> Optional[str]:
    """For a pydantic error (an item of ValidationError.errors()) about a value of the wrong shape — `true` or a
    string where a section's mapping of settings or a list belongs — what is expected, with an example and the keys
    of the section, instead of pydantic's "instance of PersistenceConfig"; None for any other error. `root` is the
    model validated (DeploymentConfig for a stack, the topology model for a topology)."""
    shape = _SHAPES.get(error["type"])
    if shape is None:
        return None
    loc = _real_loc(error["loc"])
    annotation = _annotation_at(root, loc)
    got = f", not {_shown(error['input'])}" if "input" in error else ""
    if annotation is None:
        return f"expects {shape}{got}"
    parent = _model_of(_core(_annotation_at(root, loc[:-1]))) if loc else None
    field = None
    if parent is not None:
        field = next((f for n, f in parent.model_fields.items() if (f.alias or n) == loc[-1]), None)
    example = _flow(field.examples[0]) if field is not None and field.examples else _example(annotation)
    message = f"expects {shape}{got} — e.g. {example}"
    model = _model_of(_core(annotation)) if shape == "a mapping of settings" else None
    if model is not None:
        message += "; its keys: " + ", ".join(_keys(model))
    return message


def _real_loc(loc: Iterable[Any]) -> tuple[Any, ...]:
    """pydantic puts the union/validator name into loc for some errors; keep only real path parts."""
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))


def _model_of(annotation: Any) -> Any:
    """The BaseModel class inside an annotation like Optional[X] / list[X] / dict[K, X]."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def from_validation_error(err: ValidationError) -> list[Problem]:
    problems = []
    for e in err.errors():
        loc = _real_loc(e["loc"])
        shape = shape_message(e, DeploymentConfig)
        if shape is not None:
            msg = shape
        elif e["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc)
            msg = "unknown key"
            if allowed is not None:
                msg += "; allowed here: " + ", ".join(allowed)
        elif e["type"] == "literal_error":
            msg = f"{e['input']!r} is not allowed; {e['msg'].replace('Input should be', 'use')}"
        else:
            # a validator's own message (ValueError) already names the value
            msg = e["msg"].removeprefix("Value error, ")
            if e["type"].startswith("date"):
                msg += "; write a date as YYYY-MM-DD"
            if e["type"] not in ("missing",) and "input" in e and not isinstance(e["input"], (dict, list)) \
                    and repr(e["input"]) not in msg:
                msg += f" (got {_shown(e['input'])})"
        problems.append(Problem(config_key(loc), msg))
    return problems
