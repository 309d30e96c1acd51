"""Values that may be Pulumi Outputs: a password another resource computes (a generated password, a secret from a
StackReference) reaches the one file or Secret that holds it as an Output, while every object is created when the
program runs — `pulumi preview` shows them all even while such a password is unknown.

A value made from plain values is made at once, exactly as without Outputs; one made from an Output is made in the
apply that produces it, and nothing else waits for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Optional, TypeVar, Union

import pulumi

T = TypeVar("T")

# a value as given, or the Output another resource computes it as
OrOutput = Union[T, pulumi.Output[T]]


def has_outputs(value: Any) -> bool:
    """Whether a value is, or holds (in dicts, lists, tuples), a Pulumi Output."""
    return output_path(value) is not None


def output_path(value: Any, path: tuple[Any, ...] = ()) -> Optional[tuple[Any, ...]]:
    """Where the first Output inside a value sits (dict keys, list indexes), `()` for the value itself; None when
    it holds none."""
    if isinstance(value, pulumi.Output):
        return path
    items: Any = value.items() if isinstance(value, Mapping) else \
        enumerate(value) if isinstance(value, (list, tuple)) else ()
    for key, item in items:
        found = output_path(item, (*path, key))
        if found is not None:
            return found
    return None


def lift(fn: Callable[..., T], *args: Any) -> OrOutput[T]:
    """`fn(*args)`, now when the arguments are plain values, else in the apply of their Outputs (resolved inside
    dicts and lists too): then the result is an Output, secret when one of them is, unknown while one is."""
    if not any(has_outputs(a) for a in args):
        return fn(*args)
    return pulumi.Output.all(*args).apply(lambda resolved: fn(*resolved))
