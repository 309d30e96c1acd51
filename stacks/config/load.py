"""Loading a stack's config: the ``fate:*`` keys in, one validated `DeploymentConfig` (or every problem) out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from components import registry
from stacks.config.checks import check, check_admission
from stacks.config.cloud import check_cloud, check_ingress_sources, check_lb_type, check_presets, resolve_cloud
from stacks.config.errors import ConfigError, Problem, from_validation_error
from stacks.config.model import DeploymentConfig
from stacks.config.sections import Secrets
from stacks.config.tables import NAMESPACE, SECRET_KEYS


def load_config(values: dict[str, Any], secret_keys: Iterable[str] = ()) -> DeploymentConfig:
    """Validate the ``fate:*`` config of a stack.

    `values` maps keys without the namespace (``partyId``) to already-parsed values. `secret_keys` are the keys the
    stack stores encrypted; a password given in plain text is rejected (it would sit in Pulumi.<stack>.yaml).
    """
    secret_keys = set(secret_keys)
    problems: list[Problem] = []
    plain: dict[str, Any] = {}
    secret_values: dict[str, Any] = {}
    for key, value in values.items():
        if key in SECRET_KEYS:
            if key not in secret_keys and value not in (None, ""):
                problems.append(
                    Problem(
                        f"{NAMESPACE}:{key}",
                        "is stored in plain text; store it encrypted with: "
                        f"pulumi config set --secret {NAMESPACE}:{key} '<value>'",
                    )
                )
            secret_values[registry.snake(key)] = value if value not in (None, "") else None
        elif key == "secrets":
            problems.append(
                Problem(
                    f"{NAMESPACE}:secrets",
                    "unknown key; passwords are top-level secret keys: " + ", ".join(SECRET_KEYS),
                )
            )
        elif key == "podSecurityPolicy":
            problems.append(
                Problem(
                    f"{NAMESPACE}:podSecurityPolicy",
                    "PodSecurityPolicy was removed in Kubernetes 1.25; "
                    "use podSecurity.admission (Pod Security Admission namespace labels) instead",
                )
            )
        else:
            plain[key] = value
    try:
        secrets = Secrets.model_validate(secret_values)
        cfg = DeploymentConfig.model_validate({**plain, "secrets": secrets})
    except ValidationError as err:
        raise ConfigError(problems + from_validation_error(err)) from None
    problems += check_cloud(cfg) + check_presets(cfg)
    cfg = resolve_cloud(cfg)
    problems += check(cfg, set(plain)) + check_lb_type(cfg) + check_ingress_sources(cfg) + check_admission(cfg)
    if problems:
        raise ConfigError(problems)
    return cfg


def model_keys() -> list[str]:
    """Every top-level key a stack may set (for docs and tests)."""
    keys = [f.alias or n for n, f in DeploymentConfig.model_fields.items() if not f.exclude]
    return sorted(keys + list(SECRET_KEYS))
