"""The stack configuration: every ``fate:*`` key of a deployment, its default, its meaning and its checks.

A stack is configured under the ``fate`` namespace of ``Pulumi.<stack>.yaml`` (``fate:partyId``, ``fate:rollsite`` ...).
`load_config` turns those keys into one validated `DeploymentConfig` or raises `ConfigError`, which names every
offending key and what is allowed, before any resource is registered. A module's own section (rollsite, python ...)
is defined in its file under components/ and joins the config through its registry entry (components/registry.py);
the building blocks every section uses are in components/settings.py.

    tables.py    the namespace, FATE's versions, the modules of each kind and backend, the password keys
    sections.py  the deployment-wide sections: ingress, istio, networkPolicy, podSecurity, tls, persistence,
                 kubernetes, cloud, the passwords
    model.py     DeploymentConfig: the deployment-wide keys, one section per registry module, the derived facts
    errors.py    Problem and ConfigError; pydantic's errors said in the stack's keys
    cloud.py     what the cloud profile and the resource presets fill in, and the options a profile cannot honour
    checks.py    the cross-section checks (kinds and backends, modules, routes, jobs, NodePorts, volumes, target)
    secrets.py   the passwords a deployment needs, and the CA key of tls.generate
    load.py      load_config: the keys in, a DeploymentConfig or every problem out
"""

from components.registry import BACKEND_ENGINES
from components.settings import Host, PartyId
from stacks.config.checks import reachable_parties
from stacks.config.errors import ConfigError, Problem, shape_message
from stacks.config.load import load_config, model_keys
from stacks.config.model import STATIC_VIEWS, DeploymentBase, DeploymentConfig, ModuleSections, S, section_at
from stacks.config.secrets import password, required_secrets
from stacks.config.sections import DRIFT_IGNORE_PATTERN, IngressConfig, IngressRoutes, Secrets, SecretValues
from stacks.config.tables import (
    BACKEND_MODULES,
    EXCHANGE_BACKEND_MODULES,
    EXCHANGE_MODULES,
    FATE_IMAGE_TAG,
    FATE_VERSION,
    KIND_SECTIONS,
    NAMESPACE,
    PARTY_MODULES,
    SECRET_KEYS,
    SERVING_IMAGE_TAG,
    SERVING_MODULES,
)

__all__ = [
    "BACKEND_ENGINES", "BACKEND_MODULES", "DRIFT_IGNORE_PATTERN", "EXCHANGE_BACKEND_MODULES", "EXCHANGE_MODULES",
    "FATE_IMAGE_TAG", "FATE_VERSION", "KIND_SECTIONS", "NAMESPACE", "PARTY_MODULES", "SECRET_KEYS",
    "SERVING_IMAGE_TAG", "SERVING_MODULES", "STATIC_VIEWS",
    "ConfigError", "DeploymentBase", "DeploymentConfig", "Host", "IngressConfig", "IngressRoutes", "ModuleSections",
    "PartyId", "Problem", "S", "SecretValues", "Secrets",
    "load_config", "model_keys", "password", "reachable_parties", "required_secrets", "section_at", "shape_message",
]
