"""What a stack file manages, from the offline render (its passwords need not be set yet): the deployment
`adopt take-over` hands over to the stack and `backup` / `restore` reach the MySQL of."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from components.endpoints import MYSQL
from fate_pulumi.inputs import InputError


@dataclass
class ManagedStack:
    name: str
    namespace: str
    objects: set[tuple[str, str]]  # (kind, name) in the stack's namespace
    adopt: bool  # fate:adoptKubefate: the stack takes a KubeFATE release over
    path: Path = Path("Pulumi.yaml")
    mysql: Optional[dict] = None  # the MySQL workload the stack deploys (None: no mysql module, or an external one)


def managed_stack(stack_file: Path, require_adopt: bool = False) -> ManagedStack:
    """The objects a stack file manages, from the offline render (passwords need not be set yet)."""
    from fate_pulumi.mocks import close_event_loop, run_program
    from fate_pulumi.render import config_problems, stack_file_config

    config, secret_keys = stack_file_config(stack_file)
    adopt = config.get("fate:adoptKubefate") == "true"  # as the engine hands a boolean to the program
    if require_adopt and not adopt:
        raise not_adoptable(stack_file)
    config["fate:development"] = "true"
    problems = config_problems(config, secret_keys)
    if problems:
        raise InputError(f"{stack_file}: {problems[0]}")
    try:
        rendered = run_program(config, secret_keys, stack=stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml"))
    finally:
        close_event_loop()
    ns = rendered.outputs["namespace"]
    objects = {(o["kind"], o["metadata"]["name"]) for o in rendered.objects
               if o["kind"] != "Namespace" and o["metadata"].get("namespace", ns) == ns}
    mysql = next((o for o in rendered.objects if o["kind"] in ("StatefulSet", "Deployment")
                  and o["metadata"]["name"] == MYSQL.name and o["metadata"].get("namespace", ns) == ns), None)
    return ManagedStack(rendered.outputs["name"], ns, objects, adopt, stack_file, mysql)


def not_adoptable(path: Path) -> InputError:
    return InputError(f"{path}: fate:adoptKubefate: not set — take-over is for a stack imported with fate-pulumi "
                      "import --adopt (it sets fate:adoptKubefate: true)")
