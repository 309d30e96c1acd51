"""What a module that dials other deployments tells the rest of the program, from its own file: the addresses its
config makes it dial, what FATE Flow's service_conf.yaml needs to reach it, and how KubeFATE's section of it imports.

A module's registry entry holds these (components/registry.py `ModuleSpec.routes`, `.fateflow` — a
context.FateflowLink, which FATE Flow reads through its Context —, `.kubefate`); the NetworkPolicies,
`fate-pulumi preflight` and `picture`, FATE Flow's service_conf.yaml and `fate-pulumi import` read them there, never
the module by name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol, TypeVar

from pydantic import BaseModel

S = TypeVar("S", bound=BaseModel)

Address = tuple[str, int]  # (host, port) as the config writes it


@dataclass(frozen=True)
class Route:
    """One address a module dials, and what it leads to: `peer` a party id, `exchange`, an SNI name, `serving` ...;
    `secure` dialled with TLS (the stack output `routes`, `fate-pulumi status`). Unpacks as its Address."""

    host: str
    port: int
    peer: str = ""
    secure: bool = False

    def __iter__(self) -> Iterator[Any]:
        return iter((self.host, self.port))


class Sections(Protocol):
    """Where a module reads the deployment's config sections from: a deployment's config or a module's Context."""

    def section(self, model: type[S]) -> S:
        """The deployment's config section of this model (e.g. `section(RollsiteConfig)` is `fate:rollsite`)."""


@dataclass(frozen=True)
class Routes:
    """The addresses a deployed module dials, as its config gives them (peers, exchanges, FATE-Serving, external
    services): the NetworkPolicies admit the namespaces they name, `preflight` checks that a deployment exposes each,
    `picture` draws them."""

    of: Callable[[Sections], Iterable[Address | Route]]  # a Route says which peer, and whether TLS
    peers: bool = True  # they lead to other deployments' federation modules (preflight: those must route back)
    traffic: Optional[tuple[str, str]] = None  # picture: what travels on them (legend name, arrow colour)


@dataclass(frozen=True)
class KubefateSection:
    """How the module's section of a KubeFATE cluster file imports (`fate-pulumi import`), for the keys whose shape
    KubeFATE's charts share: the Service (type, NodePorts, loadBalancerIP), scheduling and resources, a party list,
    plain settings. Keys it does not name are reported like any key no importer reads."""

    node_ports: Mapping[str, str] = field(default_factory=dict)  # KubeFATE's NodePort key -> the module's port key
    party_list: Optional[str] = None  # the config key KubeFATE's `partyList` (partyId, partyIp, partyPort) goes to
    keys: Mapping[str, str] = field(default_factory=dict)  # KubeFATE's key -> the config key, value as it is
