"""The Pulumi program: read the stack's `fate:*` config, validate it, compose the deployment, export its outputs."""

from __future__ import annotations

import json
from typing import Any

import pulumi

from stacks.common import compose, connect_info, expiry_warnings, module_opts, namespace, provider, site_of, tls_plan
from stacks.config import FATE_VERSION, NAMESPACE, ConfigError, DeploymentConfig, load_config
from stacks.exchange import exchange_parties
from stacks.party import compose_party, party_summary
from stacks.serving import compose_serving


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


def summary(cfg: DeploymentConfig) -> str:
    site = site_of(cfg)
    if cfg.kind == "party":
        return party_summary(cfg, site)
    what = {"exchange": "FATE exchange", "serving": f"FATE-Serving of party {cfg.party_id}"}[cfg.kind]
    return f"{what} '{site.name}' in namespace {site.namespace}: {', '.join(cfg.enabled_modules)}"


def deploy(cfg: DeploymentConfig) -> dict[str, Any]:
    """Create the deployment described by `cfg` and return its stack outputs."""
    k8s_provider = provider(cfg)
    ns = namespace(cfg, k8s_provider)
    opts = module_opts(k8s_provider, ns)
    result = compose(cfg, opts)
    if cfg.kind == "party":
        compose_party(result["context"])
    elif cfg.kind == "serving":
        compose_serving(result["context"])
    outputs: dict[str, Any] = {
        "kind": cfg.kind,
        "partyId": cfg.party_id,
        "name": cfg.deployment_name,
        "namespace": cfg.target_namespace,
        "fateVersion": FATE_VERSION,
        "modules": list(cfg.enabled_modules),
        "summary": summary(cfg),
        "connect": connect_info(cfg, result["nodePorts"]),
    }
    if cfg.kind == "exchange":
        outputs["parties"] = exchange_parties(cfg)
    plan = tls_plan(cfg)
    if plan is not None:
        outputs["tlsCaCertificate"] = cfg.tls.ca_certificate  # what peers add to tls.trustedCaCertificates
        # the drift report warns from this date on; the certificates renew at the first `pulumi up` after it
        outputs["tlsCertificatesExpire"] = plan.expires.isoformat()
    return outputs


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


def main() -> dict[str, Any]:
    values, secret_keys = read_stack_config()
    try:
        cfg = load_config(values, secret_keys)
    except ConfigError as err:
        # RunError: Pulumi prints the message alone, no traceback, and registers nothing
        raise pulumi.RunError(str(err)) from None
    for warning in expiry_warnings(cfg) + route_warnings(cfg):
        pulumi.log.warn(warning)
    outputs = deploy(cfg)
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs
