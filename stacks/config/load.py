"""Loading a stack's config: the ``fate:*`` keys in, one validated `DeploymentConfig` (or every problem) out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from components import registry
from components.outputs import output_path
from stacks.config.checks import check, check_admission
from stacks.config.cloud import check_cloud, check_ingress_sources, check_lb_type, check_presets, resolve_cloud
from stacks.config.errors import ConfigError, Problem, config_key, from_validation_error
from stacks.config.model import DeploymentConfig
from stacks.config.sections import Secrets
from stacks.config.tables import NAMESPACE, SECRET_KEYS


def _computed(plain: dict[str, Any]) -> list[Problem]:
    """Settings other than passwords given as Outputs (a component's inputs that other resources compute): they
    decide which objects the deployment has and what they hold, so they must be known when the program runs."""
    problems = []
    for key, value in plain.items():
        path = output_path(value)
        if path is None:
            continue
        fix = "give it as a plain value (only the passwords may be Outputs)"
        if key == "kubernetes":
            fix = ("give the component a Kubernetes provider made from it instead (opts: providers: {kubernetes: "
                   "...}); only the passwords may be Outputs")
        problems.append(Problem(config_key([key, *path]), "is a value another resource computes (a Pulumi Output): "
                                "the settings decide which objects the deployment creates, and are read when the "
                                f"program runs, before such a value is known; {fix}"))
    return problems


def load_config(values: dict[str, Any], secret_keys: Iterable[str] = ()) -> DeploymentConfig:
    """Validate the ``fate:*`` config of a stack.

    `values` maps keys without the namespace (``partyId``) to already-parsed values. `secret_keys` are the keys the
    stack stores encrypted; a password given in plain text is rejected (it would sit in Pulumi.<stack>.yaml). A
    password may be a Pulumi Output (a component's input): it counts as set, and is checked once known where it is
    read; any other setting that is one is refused.
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
    computed = _computed(plain)
    if computed:  # the rest cannot be checked without those values
        raise ConfigError(problems + computed)
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
