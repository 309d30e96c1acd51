"""The three kinds of FATE deployment as components: `fate:index:Party`, `fate:index:Exchange`, `fate:index:Serving`.

Each takes the settings a stack of that kind takes as `fate:*` config (the same keys, the same checks:
stacks/config/) and creates its Kubernetes provider (or uses the one it is given), its namespace and its modules.
The stack program is one of them; another Pulumi program (Python, or any language through the package in
provider/) may hold several. Pulumi names of everything inside start with the component's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Optional, Union

import pulumi
import pulumi_kubernetes as k8s

from stacks.common import (
    Composition,
    compose,
    connect_info,
    expiry_warnings,
    module_opts,
    namespace,
    provider,
    retains_namespace,
    route_info,
    site_of,
    tls_plan,
)
from stacks.config import SECRET_KEYS, ConfigError, DeploymentConfig, load_config
from stacks.exchange import exchange_parties
from stacks.party import compose_party, party_summary
from stacks.serving import compose_serving

# what every deployment component exports (and the stack program exports as stack outputs)
OUTPUTS = ("kind", "partyId", "name", "namespace", "fateVersion", "modules", "summary", "connect", "routes",
           "parties", "tlsCaCertificate", "tlsCertificatesExpire", "jobs")


class Deployment(pulumi.ComponentResource):
    """A FATE deployment of kind KIND, from its settings (a validated DeploymentConfig or the `fate:*` keys)."""

    TYPE: ClassVar[str] = "fate:index:Deployment"
    KIND: ClassVar[str] = ""

    connect: pulumi.Output[dict[str, Any]]
    """What peers need to reach this deployment: party id, public host, NodePorts of its entry points."""
    summary: pulumi.Output[str]
    """One line: what the deployment is, its namespace and its modules (the stack output `summary`)."""

    def __init__(self, name: str, args: Union[DeploymentConfig, Mapping[str, Any]],
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(self.TYPE, name, None, opts)
        self._name = name
        self._given_provider = _kubernetes_provider(opts)
        # every object is created now, also when passwords are Outputs other resources compute (unknown in a
        # preview): they reach the Secrets and files that hold them as Outputs (components/outputs.py)
        outputs = self._build(self.config(args))
        for key, value in outputs.items():
            setattr(self, key, value)
        self.register_outputs(outputs)

    def config(self, args: Union[DeploymentConfig, Mapping[str, Any]]) -> DeploymentConfig:
        """The validated settings; bad ones raise pulumi.RunError naming every key (nothing is created). Passwords
        may be Outputs, other settings may not (stacks/config.py load_config)."""
        if isinstance(args, DeploymentConfig):
            cfg = args
        else:
            values = dict(args)
            if values.setdefault("kind", self.KIND) != self.KIND:
                raise pulumi.RunError(f"{self.TYPE} {self._name}: kind {values['kind']!r} is not {self.KIND!r}; "
                                      f"leave kind out")
            try:
                # a component's passwords are program values, not stack config stored in a file: all are secret
                cfg = load_config(values, SECRET_KEYS)
            except ConfigError as err:
                raise pulumi.RunError(str(err).replace("stack configuration", f"settings of {self.TYPE} {self._name}")
                                      ) from None
        if cfg.kind != self.KIND:
            raise pulumi.RunError(f"{self.TYPE} {self._name}: settings of kind {cfg.kind}, not {self.KIND}")
        return cfg

    def _build(self, cfg: DeploymentConfig) -> dict[str, Any]:
        for warning in expiry_warnings(cfg) + route_warnings(cfg):
            pulumi.log.warn(warning, resource=self)
        site_prefix = f"{self._name}-"
        k8s_provider = self._given_provider or provider(cfg, self, site_prefix)
        ns = namespace(cfg, k8s_provider, self, site_prefix)
        # objects die with a namespace the deployment deletes (not with one it keeps: then each goes on its own)
        dies_with = ns if isinstance(ns, k8s.core.v1.Namespace) and not retains_namespace(cfg) else None
        opts = pulumi.ResourceOptions.merge(module_opts(k8s_provider, ns),
                                            pulumi.ResourceOptions(parent=self, deleted_with=dies_with))
        result = compose(cfg, opts, site_prefix)
        extra = self.extend(result["context"])
        outputs: dict[str, Any] = {
            "kind": cfg.kind,
            "partyId": cfg.party_id,
            "name": cfg.deployment_name,
            "namespace": cfg.target_namespace,
            "fateVersion": cfg.fate_version,
            "modules": list(cfg.enabled_modules),
            "summary": self.describe(cfg),
            "connect": connect_info(cfg, result["nodePorts"]),
            "routes": route_info(cfg),
            "parties": exchange_parties(cfg) if cfg.kind == "exchange" else None,
            "tlsCaCertificate": None,
            "tlsCertificatesExpire": None,
            "jobs": None,
            **extra,
        }
        plan = tls_plan(cfg)
        if plan is not None:
            outputs["tlsCaCertificate"] = cfg.tls.ca_certificate  # what peers add to tls.trustedCaCertificates
            # the drift report warns from this date on; the certificates renew at the first `pulumi up` after it
            outputs["tlsCertificatesExpire"] = plan.expires.isoformat()
        return outputs

    def extend(self, ctx: Composition) -> dict[str, Any]:
        """What the kind adds beside its modules; outputs of its own."""
        return {}

    def describe(self, cfg: DeploymentConfig) -> str:
        site = site_of(cfg)
        what = {"exchange": "FATE exchange", "serving": f"FATE-Serving of party {cfg.party_id}"}[cfg.kind]
        return f"{what} '{site.name}' in namespace {site.namespace}: {', '.join(cfg.enabled_modules)}"


class Party(Deployment):
    """A FATE party: FATE Flow, its computing, storage and federation engines, FATE-Board and the client."""

    TYPE = "fate:index:Party"
    KIND = "party"

    def extend(self, ctx: Composition) -> dict[str, Any]:
        return compose_party(ctx)

    def describe(self, cfg: DeploymentConfig) -> str:
        return party_summary(cfg, site_of(cfg))


class Exchange(Deployment):
    """The hub of a star federation: rollsite (eggroll) or Traffic Server and nginx (Pulsar)."""

    TYPE = "fate:index:Exchange"
    KIND = "exchange"


class Serving(Deployment):
    """A party's FATE-Serving: serving-proxy, serving-server, Redis, ZooKeeper, serving-admin."""

    TYPE = "fate:index:Serving"
    KIND = "serving"

    def extend(self, ctx: Composition) -> dict[str, Any]:
        compose_serving(ctx)
        return {}


KINDS: dict[str, type[Deployment]] = {"party": Party, "exchange": Exchange, "serving": Serving}


def route_warnings(cfg: DeploymentConfig) -> list[str]:
    """An exchange that routes to no party is legitimate (it goes up first) but worth saying."""
    if cfg.kind != "exchange":
        return []
    modules = set(cfg.enabled_modules)
    routed = ((cfg.rollsite.party_list if "rollsite" in modules else [])
              or (cfg.traffic_server.sni_routes if "trafficServer" in modules else [])
              or (cfg.nginx.route_table if "nginx" in modules else {}))
    if routed:
        return []
    return ["this exchange routes to no party yet: add them (rollsite.partyList, trafficServer.sniRoutes, "
            "nginx.routeTable) once the parties' addresses are known, then pulumi up again"]


def _kubernetes_provider(opts: Optional[pulumi.ResourceOptions]) -> Optional[k8s.Provider]:
    """A Kubernetes provider the caller hands the component (opts.provider or opts.providers): used instead of one
    made from the settings' `kubernetes` section."""
    if opts is None:
        return None
    candidates: list[Any] = [opts.provider]
    if isinstance(opts.providers, Mapping):
        candidates.append(opts.providers.get("kubernetes"))
    elif opts.providers:
        candidates += list(opts.providers)
    for candidate in candidates:
        if isinstance(candidate, pulumi.ProviderResource) and getattr(candidate, "package", None) == "kubernetes":
            return candidate  # type: ignore[return-value]
    return None
