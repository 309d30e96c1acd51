"""A parsed KubeFATE cluster file as the `fate:` config of a stack: the chart's sections mapped by the importer of
its KubeFATE release, then what the result itself decides (Pod Security level, the passwords it needs, the public
host), then every key no step read refused (or, not strict, noted)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fate_pulumi.importer.addresses import public_host, serving_registry
from fate_pulumi.importer.kubefate_v1_11 import cluster_file as kubefate
from fate_pulumi.importer.mapping import ClusterFileRefused, Result, Section

# KubeFATE v1.11.2 is the release read; v2.0.0's chart `fate` (docs/kubefate-2.0-import.md) gets a package of its own
# beside kubefate_v1_11, chosen here by the file's chartVersion (its fate-exchange chart is v1.11.2's)


def import_cluster(data: dict[str, Any], strict: bool = True,
                   peers: Sequence[tuple[str, dict[str, Any]]] = ()) -> Result:
    """Map a parsed cluster.yaml; raises ClusterFileRefused listing every refused key. `peers` (name, parsed cluster
    file): the federation's other files, read only for where they reach this deployment."""
    res = Result()
    root = Section(data, "", res)
    kubefate.import_file(root, res)
    kubefate.kubefate_service_types(data, res)
    if not res.problems:
        _pod_security(res)
        _required_secrets(res)
    if not res.problems:
        public_host(data, res, peers)
        serving_registry(res, peers)
    leftovers = [k for k in root.leftovers()]
    for key in leftovers:
        message = (f"{key}: not a KubeFATE {kubefate.RELEASE} option for chart {data.get('chartName')} "
                   "(KubeFATE ignored it)")
        (res.problems if strict else res.notes).append(message + ("; remove it" if strict else ""))
    if res.problems:
        raise ClusterFileRefused(res.problems)
    return res


def _pod_security(res: Result) -> None:
    """podSecurityPolicy.enabled -> Pod Security Admission labels on the namespace (PSP is gone since Kubernetes 1.25):
    baseline matches KubeFATE's policy (no privileged pods), unless a deployed module needs a capability it refuses."""
    if res.get("podSecurity.admission") != "baseline":
        return
    from components.registry import capabilities
    from components.security import beyond_baseline
    from stacks.config import ConfigError, load_config

    try:
        modules = set(load_config({**res.config, "development": True, "podSecurity": {}}).enabled_modules)
    except ConfigError:
        return  # reported by _required_secrets
    refused = beyond_baseline(capabilities(modules))
    if refused:
        res.set("podSecurity", {"admission": "privileged"})
    why = "; the baseline level would refuse " + ", ".join(f"{m} ({'/'.join(c)})" for m, c in refused.items()) \
        + ", so the level is privileged" if refused else ""
    res.notes.append("podSecurityPolicy.enabled: PodSecurityPolicy was removed in Kubernetes 1.25; imported as Pod "
                     f"Security Admission labels on the namespace (podSecurity.admission: "
                     f"{res.get('podSecurity.admission')}){why}")


def _required_secrets(res: Result) -> None:
    """List every password the imported deployment needs, not only those the file happened to contain."""
    from stacks.config import SECRET_KEYS, ConfigError, load_config, required_secrets

    try:
        cfg = load_config({**res.config, "development": True})
    except ConfigError as err:
        res.problems += [res.in_their_words(p.key, p.message) for p in err.problems]
        return
    found = {k for k, _ in res.secrets}
    for key in required_secrets(cfg):
        if key not in found:
            res.secrets.append((key, f"a new password; KubeFATE's default was {SECRET_KEYS[key][1]!r}"))
