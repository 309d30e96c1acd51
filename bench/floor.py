"""The floor of an offline render: a bare Pulumi program that registers the objects of a render (read back from
its manifests.yaml) as raw pulumi_kubernetes resources under the same mocks, and writes them out the same way.

    python -m bench.floor OUT_DIR_OF_A_RENDER FLOOR_OUT_DIR

What is left of `fate-pulumi render` above this is ours: the stack file's checks, the typed config, the components,
the modules the program imports. bench/bench.py prints both and their ratio.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from fate_pulumi.mocks import close_event_loop, run_under_mocks
from fate_pulumi.render import write

# API group -> pulumi_kubernetes module (the group's first DNS label, as the SDK names its packages)
_GROUPS = {"": "core", "networking.k8s.io": "networking", "rbac.authorization.k8s.io": "rbac"}


def resource_class(api_version: str, kind: str) -> Any:
    group, _, version = api_version.rpartition("/")
    try:
        module = importlib.import_module(f"pulumi_kubernetes.{_GROUPS.get(group, group)}.{version}")
        return getattr(module, kind)
    except (ImportError, AttributeError):
        return None  # a custom resource (Gateway, VirtualService)


def _snake(key: str) -> str:
    """A top-level field as the SDK's keyword argument (stringData -> string_data)."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


def program(objects: list[dict]) -> None:
    import pulumi_kubernetes as k8s

    for i, obj in enumerate(objects):
        body = {_snake(k): v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        cls = resource_class(obj["apiVersion"], obj["kind"])
        name = f"{i}-{obj['metadata']['name']}"
        if cls is None:
            k8s.apiextensions.CustomResource(name, api_version=obj["apiVersion"], kind=obj["kind"], **body)
        else:
            cls(name, **body)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0].startswith("-"):
        print(__doc__)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    source, out = Path(argv[0]), Path(argv[1])
    objects = [o for o in yaml.load_all((source / "manifests.yaml").read_text(), Loader=yaml.CSafeLoader) if o]
    rendered = run_under_mocks(lambda: program(objects))
    close_event_loop()
    write(rendered, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
