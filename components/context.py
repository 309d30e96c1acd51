"""What a module's `build` reads from the deployment it is part of.

A module is built from its own config section and these few deployment-wide facts; everything else it needs it
derives itself (FATE Flow's service_conf.yaml, eggroll.properties ...) from the sections it reads through
`section()`. The stack's composition implements this (stacks/common.py `Composition`); tests may too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Protocol, TypeVar

import pulumi
from pydantic import BaseModel

from .kube import Site
from .outputs import OrOutput
from .settings import IngressRoute

if TYPE_CHECKING:
    from .tls import TlsPlan  # imported by stacks that issue certificates only

S = TypeVar("S", bound=BaseModel)


class Context(Protocol):
    @property
    def site(self) -> Site:
        """Names, labels, images and policies every module of the deployment shares."""

    @property
    def opts(self) -> pulumi.ResourceOptions:
        """Resource options of every module component (the stack's Kubernetes provider, the namespace first)."""

    @property
    def engines(self) -> tuple[str, str, str]:
        """(computing, federation, storage) in FATE's words, e.g. ("Spark", "Pulsar", "HDFS")."""

    @property
    def algorithm(self) -> str:
        """Basic | NN | ALL: which FATE image flavour."""

    @property
    def device(self) -> str:
        """CPU | IPCL | GPU."""

    @property
    def tls(self) -> Optional[TlsPlan]:
        """The certificates the stack issues from its CA (tls.generate), else None."""

    @property
    def public_hosts(self) -> tuple[str, ...]:
        """Addresses other deployments reach this one at (publicHost): names its certificates must carry."""

    @property
    def fateflow_links(self) -> tuple[FateflowLink, ...]:
        """What FATE Flow's service_conf.yaml holds to reach each federation module (components/registry.py
        FATEFLOW_LINKS), deployed or not."""

    def section(self, model: type[S]) -> S:
        """The deployment's config section of this model (e.g. `section(PythonConfig)` is `fate:python`)."""

    def enabled(self, module: str) -> bool:
        """Whether a module (by its config name, e.g. 'servingZookeeper') is deployed."""

    def secret(self, key: str) -> OrOutput[str]:
        """A password from the stack's secret config (a development stack may fall back to KubeFATE's default), or
        the Output a deployment component was given for it (components/outputs.py: `lift` makes what holds it)."""

    def ingress(self, module: str) -> IngressRoute:
        """The Ingress hosts of a module's web UI (`fate:ingress.<module>`)."""


@dataclass(frozen=True)
class FateflowLink:
    """What FATE Flow's service_conf.yaml holds to reach a federation module (that module's registry entry,
    components/registry.py; FATE Flow reads them through `Context.fateflow_links`): `value(ctx, client)` at `path`,
    appended to the section it is in (every party's FATE Flow has it, whether the module is deployed or not, as FATE's
    template has every engine's). `client`: the key of FATE Flow's config section (`python.<client>`) whose settings
    replace the module by an external service, handed to `value` (None without one). `secrets`: the keys of the value
    that hold passwords (blanked in the python-config ConfigMap, kept in the python-secret Secret)."""

    path: tuple[str, ...]
    value: Callable[[Context, Any], dict[str, Any]]
    client: Optional[str] = None
    secrets: tuple[str, ...] = ()
