"""fate-pulumi policy pack: `pulumi preview --policy-pack policy`."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

# the analyzer runs this file from a copy of the pack: its checks sit beside it, in rules.py
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rules  # noqa: E402


def _stack_registry() -> str | None:
    """The stack's fate:registry (the language host passes the stack configuration to the pack)."""
    try:
        return json.loads(os.environ.get("PULUMI_CONFIG", "{}")).get("fate:registry") or None
    except ValueError:
        return None


REGISTRY = _stack_registry()


def _k8s(args: ResourceValidationArgs) -> bool:
    return args.resource_type.startswith("kubernetes:")


def _object(args: ResourceValidationArgs) -> dict[str, Any]:
    return dict(args.props)


def _resource_policy(name: str, description: str,
                     check: Callable[[dict[str, Any]], list[str]]) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if not _k8s(args):
            return
        for message in check(_object(args)):
            report(message, None)  # the resource under validation

    return ResourceValidationPolicy(name=name, description=description, validate=validate)


def _node_ports(args: StackValidationArgs, report: ReportViolation) -> None:
    services = [dict(r.props) for r in args.resources if r.resource_type == "kubernetes:core/v1:Service"]
    for message in rules.node_port_violations(services):
        report(message, None)  # a clash concerns two Services; the message names both


PolicyPack(
    name="fate-pulumi",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        _resource_policy(
            "fate-images-from-registry",
            "Images come from the configured registry, with a pinned tag",
            lambda obj: rules.image_violations(obj, REGISTRY),
        ),
        _resource_policy(
            "fate-container-resources", "Every container requests CPU and memory", rules.resource_violations
        ),
        _resource_policy(
            "fate-no-plaintext-passwords",
            "No password in a ConfigMap or a literal env value",
            rules.password_violations,
        ),
        _resource_policy("fate-persistent-data-retained", "PVCs survive pulumi destroy", rules.retention_violations),
        StackValidationPolicy(
            name="fate-nodeports", description="NodePorts in 30000-32767 and unique in the stack", validate=_node_ports
        ),
    ],
)
