"""The checks of the fate-pulumi policy pack, as plain functions on Kubernetes objects (testable without Pulumi).

Each returns the violations it finds as messages that say what to fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Optional

NODE_PORT_RANGE = (30000, 32767)
# Docker Hub images fate-pulumi uses by default, i.e. when the stack sets no registry
DEFAULT_HUB_IMAGES = ("mysql:", "fluent/fluent-bit:", "busybox:", "redis:", "bitnami/zookeeper:", "nginx:")
DEFAULT_REGISTRY = "federatedai"
# FATE images published only as :latest (federatedai/trafficserver has no versioned tag)
UNVERSIONED_IMAGES = ("trafficserver",)
RETAIN_ANNOTATION = "fate.federatedai.io/retain-on-destroy"
_PASSWORD_NAME = re.compile(r"PASS(WORD|WD)?|SECRET|TOKEN", re.IGNORECASE)
# key=value / key: value lines whose key names a password and whose value is not empty
_PASSWORD_LINE = re.compile(r"^[ \t]*[\w.\-]*(password|passwd|secret)[\w.\-]*[ \t]*[=:][ \t]*(?P<value>\S.*)$",
                            re.IGNORECASE | re.MULTILINE)
# Redis's password directives (redis.conf: `requirepass <password>`)
_PASSWORD_DIRECTIVE = re.compile(r"^[ \t]*(requirepass|masterauth)[ \t]+(?P<value>\S.*)$", re.IGNORECASE | re.MULTILINE)
_KEY_END = re.compile(r"[=:\s]")
# values that are no password: empty, null, or a yes/no switch such as encrypt_password: false
_NOT_A_PASSWORD = {"''", '""', "null", "~", "true", "false", "True", "False", "yes", "no", "1", "0"}


def pod_spec(obj: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
    if obj.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return (obj.get("spec") or {}).get("template", {}).get("spec") or {}
    if obj.get("kind") == "Pod":
        return obj.get("spec") or {}
    return None


def containers(obj: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    spec = pod_spec(obj)
    if spec is None:
        return []
    return list(spec.get("containers") or []) + list(spec.get("initContainers") or [])


def image_violations(obj: Mapping[str, Any], registry: Optional[str]) -> list[str]:
    """Images only from the stack's registry (or, without one, federatedai and the few pinned Docker Hub images)."""
    out = []
    for c in containers(obj):
        image = c.get("image", "")
        if registry:
            ok = image.startswith(registry.rstrip("/") + "/")
        else:
            ok = image.startswith(DEFAULT_REGISTRY + "/") or image.startswith(DEFAULT_HUB_IMAGES)
        if not ok:
            out.append(
                f"container {c.get('name')} pulls {image!r}, not from "
                f"{registry or 'federatedai or the pinned Docker Hub images'}; "
                f"set fate:registry and mirror the image there"
            )
        name, _, tag = image.rsplit("/", 1)[-1].partition(":")
        if not tag or tag == "latest" and name not in UNVERSIONED_IMAGES:
            out.append(f"container {c.get('name')} pulls {image!r} without a pinned tag")
    return out


def resource_violations(obj: Mapping[str, Any]) -> list[str]:
    out = []
    for c in containers(obj):
        requests = (c.get("resources") or {}).get("requests") or {}
        missing = [k for k in ("cpu", "memory") if k not in requests]
        if missing:
            out.append(
                f"container {c.get('name')} has no {' / '.join(missing)} request; set resources or resourcesPreset"
            )
    return out


def password_violations(obj: Mapping[str, Any]) -> list[str]:
    """No password in clear: ConfigMap data (password settings, Redis's requirepass, keys named for a password) and
    literal env values."""
    out = []
    if obj.get("kind") == "ConfigMap":
        for key, text in (obj.get("data") or {}).items():
            # a key named for a password holding one value (as a Secret's mysql-password does)
            if _PASSWORD_NAME.search(key) and "\n" not in str(text).strip() and str(text).strip() not in \
                    _NOT_A_PASSWORD | {""}:
                out.append(f"ConfigMap key {key} holds a password in clear; move it to a Secret")
                continue
            for m in [*_PASSWORD_LINE.finditer(str(text)), *_PASSWORD_DIRECTIVE.finditer(str(text))]:
                if m.group("value").strip() not in _NOT_A_PASSWORD:
                    name = _KEY_END.split(m.group(0).strip(), maxsplit=1)[0]  # the setting, never its value
                    out.append(f"ConfigMap key {key} holds a password in clear ({name}); move it to a Secret")
    for c in containers(obj):
        for env in c.get("env") or []:
            if _PASSWORD_NAME.search(env.get("name", "")) and str(
                env.get("value", "")
            ).strip() not in _NOT_A_PASSWORD | {""}:
                out.append(f"container {c.get('name')} sets {env['name']} in clear; use valueFrom.secretKeyRef")
    return out


def node_port_violations(services: Iterable[Mapping[str, Any]]) -> list[str]:
    """NodePorts in range and unique over the stack's Services."""
    out = []
    seen: dict[int, str] = {}
    for svc in services:
        name = str((svc.get("metadata") or {}).get("name"))
        for port in (svc.get("spec") or {}).get("ports") or []:
            given = port.get("nodePort")
            if given is None:
                continue
            node_port = int(given)
            if not NODE_PORT_RANGE[0] <= node_port <= NODE_PORT_RANGE[1]:
                out.append(f"Service {name}: NodePort {node_port} is outside {NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]}")
            if node_port in seen:
                out.append(f"Service {name}: NodePort {node_port} is also used by Service {seen[node_port]}")
            seen[node_port] = name
    return out


def retention_violations(obj: Mapping[str, Any]) -> list[str]:
    """Persistent data survives `pulumi destroy`."""
    kind = obj.get("kind")
    if kind == "StatefulSet":
        spec = obj.get("spec") or {}
        if spec.get("volumeClaimTemplates"):
            policy = (spec.get("persistentVolumeClaimRetentionPolicy") or {}).get("whenDeleted", "Retain")
            if policy != "Retain":
                return [f"StatefulSet {obj['metadata']['name']} deletes its PVCs with it (whenDeleted {policy}); "
                        f"set fate:persistence.retainOnDestroy true"]
    if kind == "PersistentVolumeClaim":
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if annotations.get(RETAIN_ANNOTATION) != "true":
            return [f"PVC {obj['metadata']['name']} is deleted on destroy; set fate:persistence.retainOnDestroy true"]
    return []
