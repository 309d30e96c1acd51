"""The Pulumi program: read the stack's `fate:*` config, validate it, compose the deployment, export its outputs."""

from __future__ import annotations

import json
from typing import Any

import pulumi

from stacks.config import NAMESPACE, ConfigError, load_config
from stacks.deployment import KINDS, OUTPUTS


def parse_value(raw: Any) -> Any:
    """Pulumi hands config to the program as strings, structured values as JSON."""
    if isinstance(raw, str) and raw[:1] in ("{", "["):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def read_stack_config() -> tuple[dict[str, Any], set[str]]:
    """The `fate:*` keys of the running stack (without the namespace) and which of them are secret: every key, so
    that a misspelt one is refused instead of ignored. The language host hands the stack's config to the program
    as PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS (the mocks harness does the same)."""
    secret = set(pulumi.runtime.get_config_secret_keys_env())
    values: dict[str, Any] = {}
    secret_keys: set[str] = set()
    for full_key, raw in pulumi.runtime.get_config_env().items():
        ns, _, key = full_key.partition(":")
        if ns != NAMESPACE or not key:
            continue
        values[key] = parse_value(raw)
        if full_key in secret:
            secret_keys.add(key)
    return values, secret_keys


def main() -> dict[str, Any]:
    values, secret_keys = read_stack_config()
    try:
        cfg = load_config(values, secret_keys)
    except ConfigError as err:
        # RunError: Pulumi prints the message alone, no traceback, and registers nothing
        raise pulumi.RunError(str(err)) from None
    deployment = KINDS[cfg.kind](cfg.deployment_name, cfg)
    # (an exchange's `parties`, the TLS keys only where they apply)
    outputs = {key: getattr(deployment, key) for key in OUTPUTS if getattr(deployment, key) is not None}
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs
