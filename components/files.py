"""Serialisers for the config file formats FATE's images read. Config files are built as data and turned into
text only here, at the edge, so tests can assert on structure."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Union

import yaml

from .outputs import OrOutput, lift

Properties = Union[Mapping[str, Any], Iterable[tuple[str, Any]]]


def _escape_properties(text: str, is_key: bool) -> str:
    out = []
    for i, ch in enumerate(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif is_key and ch in "=: #!":
            out.append("\\" + ch)
        elif not is_key and i == 0 and ch in " #!":
            out.append("\\" + ch)  # leading blanks and comment chars would be lost
        elif ord(ch) > 0x7E or ord(ch) < 0x20:
            # \uXXXX: read the same by Properties.load(InputStream) (ISO-8859-1: eggroll, FATE-Serving) and by
            # load(Reader) with the JVM's default charset (FATE-Board), whatever the image's locale
            out.extend(f"\\u{unit:04x}" for unit in _utf16(ch))
        else:
            out.append(ch)
    return "".join(out)


def _utf16(ch: str) -> list[int]:
    data = ch.encode("utf-16-be")
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


def properties(entries: Properties, header: str = "") -> str:
    """Java .properties text; booleans as true/false, None as an empty value."""
    items = entries.items() if isinstance(entries, Mapping) else entries
    lines = [header] if header else []
    for key, value in items:
        if value is None:
            value = ""
        elif isinstance(value, bool):
            value = "true" if value else "false"
        lines.append(f"{_escape_properties(str(key), True)}={_escape_properties(str(value), False)}")
    return "\n".join(lines) + "\n" if lines else ""


def password_properties(key: str, password: OrOutput[str]) -> OrOutput[str]:
    """`key=password` as a .properties file, the part of a config file a Secret holds (made in the password's apply
    when it is an Output)."""
    return lift(lambda value: properties([(key, value)]), password)


def parse_properties(text: str) -> dict[str, str]:
    """Read back simple .properties text (what `properties` writes); for tests and the importer."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#![":
            continue
        key, _, value = line.partition("=")
        result[_unescape(key.strip())] = _unescape(value)
    return result


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "u" and i + 6 <= len(text):
                out.append(chr(int(text[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append({"n": "\n", "r": "\r", "t": "\t"}.get(nxt, nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


# libyaml's emitter when PyYAML has it (it is several times faster), the pure-Python one otherwise
_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc, valid-type]
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    # Multi-line strings as literal blocks keep embedded files readable.
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def to_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)


def to_json(data: Any) -> str:
    return json.dumps(data, indent=4) + "\n"


def hadoop_xml(props: Mapping[str, Any]) -> str:
    """A Hadoop *-site.xml configuration."""
    from xml.sax.saxutils import escape

    body = "".join(
        f"  <property>\n    <name>{escape(str(k))}</name>\n    <value>{escape(str(v))}</value>\n  </property>\n"
        for k, v in props.items()
    )
    return f"<configuration>\n{body}</configuration>\n"
