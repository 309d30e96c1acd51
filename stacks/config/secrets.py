"""The passwords a deployment needs (each a top-level secret key) and whether they are set, and the CA key
tls.generate signs with."""

from __future__ import annotations

from typing import Optional

import pulumi
from pydantic import SecretStr

from components import registry
from components.outputs import OrOutput
from stacks.config.errors import Problem, config_key
from stacks.config.model import DeploymentConfig
from stacks.config.tables import NAMESPACE, SECRET_KEYS


def required_secrets(cfg: DeploymentConfig) -> list[str]:
    """Secret keys this deployment needs, by the modules it deploys."""
    modules = set(cfg.enabled_modules)
    needed = []
    for key, (users, _default, _what) in SECRET_KEYS.items():
        if modules & set(users):
            needed.append(key)
    if (
        cfg.kind == "party"
        and "python" in modules
        and cfg.backend == "spark_rabbitmq"
        and "rabbitmqPassword" not in needed
    ):
        needed.append("rabbitmqPassword")  # fateflow logs in to an external RabbitMQ too
    if cfg.kind == "party" and "python" in modules and cfg.python.hive is not None:
        needed.append("hivePassword")
    if cfg.kind == "party" and cfg.serving.zookeeper is not None and cfg.serving.zookeeper.use_acl:
        needed.append("zookeeperPassword")
    if cfg.tls.generate:
        needed.append("tlsCaKey")
    if cfg.kind == "serving" and "servingServer" in modules and cfg.serving_server.redis is not None \
            and "servingRedisPassword" not in needed:
        needed.append("servingRedisPassword")
    # optional passwords: the notebook may run without a password only in development
    return needed


def check_secrets(cfg: DeploymentConfig, modules: set[str]) -> list[Problem]:
    p: list[Problem] = []
    if cfg.development:
        return p
    for key in required_secrets(cfg):
        if getattr(cfg.secrets, registry.snake(key)) is None:
            users = SECRET_KEYS[key][0]
            p.append(
                Problem(
                    f"{NAMESPACE}:{key}",
                    f"not set ({SECRET_KEYS[key][2]}, needed by "
                    f"{', '.join(u for u in users if u in modules) or 'this deployment'}); "
                    f"run: pulumi config set --secret {NAMESPACE}:{key} '<value>'  "
                    f"(or set {NAMESPACE}:development true for a throw-away stack)",
                )
            )
    return p


def check_tls(cfg: DeploymentConfig) -> list[Problem]:
    t = cfg.tls
    if not t.generate:
        return []
    if t.renew_before_days >= t.valid_days:
        return [Problem(config_key(["tls", "renewBeforeDays"]), f"must be below tls.validDays ({t.valid_days})")]
    if t.ca_certificate is None:
        return [
            Problem(
                config_key(["tls", "caCertificate"]),
                "tls.generate needs the stack's CA certificate; create one with "
                "`fate-pulumi ca --cn '<name>' --out <dir>`",
            )
        ]
    key = password(cfg, "tlsCaKey")
    if key is None:  # also in development: there is no fallback for a CA key
        return [Problem(f"{NAMESPACE}:tlsCaKey", f"tls.generate needs the CA's private key; run: pulumi config set "
                                                 f"--secret {NAMESPACE}:tlsCaKey -- \"$(cat ca.key)\"")]
    if isinstance(key, pulumi.Output):  # checked once known, where the certificates are issued (stacks/common.py)
        return []
    from components.tls import key_problem

    problem = key_problem(t.ca_certificate, key)
    return [Problem(f"{NAMESPACE}:tlsCaKey", problem)] if problem else []


def password(cfg: DeploymentConfig, key: str) -> Optional[OrOutput[str]]:
    """A password as the deployment was given it: its text, or the Output another resource computes it as (a
    component's input: components/outputs.py); None when unset."""
    value = getattr(cfg.secrets, registry.snake(key))
    return value.get_secret_value() if isinstance(value, SecretStr) else value

