"""The Pulumi program: read the stack's `fate:*` config, validate it, compose the deployment, export its outputs."""

from __future__ import annotations

import json
import os
import signal
import sys
from types import FrameType
from typing import Any, Optional

import pulumi

from stacks.config import NAMESPACE, ConfigError, load_config
from stacks.deployment import KINDS, OUTPUTS

# the exit code that tells the language host the program has said why it stopped (pulumi-language-python-exec:
# PYTHON_PROCESS_EXITED_AFTER_SHOWING_USER_ACTIONABLE_MESSAGE_CODE)
SHOWN_TO_USER = 32
INTERRUPTED = "fate-pulumi: interrupted (the update was cancelled or a resource failed: see the engine's messages)"


def stop_quietly_on_interrupt() -> None:
    """SIGINT reaches the program whenever an update ends before the program did: the engine closes the language
    host with SIGINT to its process group, the program included (pulumi sdk/go/common/resource/plugin/plugin.go:
    cmdutil.InterruptChildren), and our language host sends one more when the engine cancels its Run
    (tools/langhost/main.go). So it is with a failed update (a resource failed, an Ingress await timed out: the
    program still waits for the engine's shutdown signal, which a failed update never sends) and a cancelled one.
    Python's default raises KeyboardInterrupt wherever the SDK's event loop is, then again in the launcher's wait for
    its thread pool (pulumi-language-python-exec catches Exception only): two tracebacks of the SDK's internals under
    the engine's own error. One line instead, and exit at once: the engine no longer takes the program's
    registrations."""
    signal.signal(signal.SIGINT, _interrupted)


def _interrupted(signum: int, frame: Optional[FrameType]) -> None:
    # the second SIGINT comes right after the first: one line, not two
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.stdout.flush()
    print(INTERRUPTED, file=sys.stderr, flush=True)
    os._exit(SHOWN_TO_USER)


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
