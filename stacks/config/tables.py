"""The names and tables every part of the stack config reads: the config namespace, FATE's versions, the kinds and
backends, the modules of each (from components/registry.py), and the password keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from components import registry
from components.registry import BACKEND_ENGINES

NAMESPACE = "fate"  # the Pulumi config namespace (= project name in Pulumi.yaml)

FATE_VERSION = "1.11.2"
FATE_IMAGE_TAG = "1.11.2-release"
SERVING_IMAGE_TAG = "2.1.6-release"

# The FATE release a stack deploys (`fate:release`). "2.2" is a preview: what it renders and what the checks refuse
# for it are in stacks/config/checks.py `_check_release_22` and README "FATE 2.2 (preview)".
Release = Literal["1.11.2", "2.2"]
FATE_22_VERSION = "2.2.0"
# The modules a FATE 2.2 party has in this step: FATE Flow (computing standalone in its own pod), its MySQL, the
# nginx its partner calls go through and the RabbitMQ its jobs federate through.
PARTY_22_MODULES = ("mysql", "python", "nginx", "rabbitmq")
PARTY_22_BACKEND = "spark_rabbitmq"

Kind = Literal["party", "exchange", "serving"]
# The backends and FATE's engine words come from the registry (BACKEND_ENGINES, the modules' `federation`); the type
# checker sees them spelt out, and tests/config/test_static_types.py fails when the two differ.
if TYPE_CHECKING:
    Backend = Literal["eggroll", "spark_rabbitmq", "spark_pulsar", "spark_local_pulsar"]
    Computing = Literal["Eggroll", "Spark", "Spark_local"]
    Federation = Literal["Eggroll", "RabbitMQ", "Pulsar"]
    StorageEngine = Literal["Eggroll", "HDFS", "LocalFS"]
else:
    Backend = Literal[tuple(BACKEND_ENGINES)]
    Computing = Literal[tuple(dict.fromkeys(words[0] for words in BACKEND_ENGINES.values()))]
    Federation = Literal[registry.FEDERATIONS]
    StorageEngine = Literal[tuple(dict.fromkeys(words[2] for words in BACKEND_ENGINES.values()))]
Algorithm = Literal["Basic", "NN", "ALL"]
Device = Literal["CPU", "IPCL", "GPU"]
PullPolicy = Literal["Always", "IfNotPresent", "Never"]

# The modules of each kind of deployment, and of each backend (components/registry.py says which is which).
PARTY_MODULES = registry.of_kind("party")
EXCHANGE_MODULES = registry.of_kind("exchange")
SERVING_MODULES = registry.of_kind("serving")

# Party modules per backend: those the backend cannot run without, and those it may add.
# mysql, spark, hdfs, rabbitmq and pulsar may instead be external services (see `external_services`).
BACKEND_MODULES: dict[str, dict[str, tuple[str, ...]]] = {
    b: {"required": registry.party_backend(b, "required"), "optional": registry.party_backend(b, "optional")}
    for b in BACKEND_ENGINES
}
EXCHANGE_BACKEND_MODULES: dict[str, tuple[str, ...]] = {
    b: registry.exchange_backend(b) for b in BACKEND_ENGINES if registry.exchange_backend(b)
}

# Keys only one kind of deployment takes (the others take every deployment-wide key).
KIND_SECTIONS: dict[str, set[str]] = {
    "party": set(PARTY_MODULES) | {"serving", "computing", "federation", "storage", "algorithm", "device", "jobs",
                                   "verify"},
    "exchange": set(EXCHANGE_MODULES),
    "serving": set(SERVING_MODULES),
}

# Passwords: one top-level secret key each, set with `pulumi config set --secret fate:<key>`.
# value = (which modules need it, the development-only fallback, what it is)
SECRET_KEYS: dict[str, tuple[tuple[str, ...], str, str]] = {
    **registry.PASSWORDS,
    "hivePassword": ((), "", "password of an external Hive (only when python.hive is set)"),
    "zookeeperPassword": ((), "", "password of the FATE-Serving ZooKeeper ACL (only when serving.zookeeper.useAcl)"),
    "tlsCaKey": ((), "", "PEM private key of the stack's CA (only when tls.generate)"),
}
