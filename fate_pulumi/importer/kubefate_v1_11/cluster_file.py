"""A KubeFATE v1.11.2 cluster file: its chart, its top-level keys, the sections of its chart (one module per chart),
and the Service types KubeFATE gives what the file leaves out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from components import registry
from fate_pulumi.importer.kubefate_v1_11.fate import import_party
from fate_pulumi.importer.kubefate_v1_11.fate_exchange import import_exchange
from fate_pulumi.importer.kubefate_v1_11.fate_serving import import_serving
from fate_pulumi.importer.mapping import ClusterFileRefused, Result, Section, whole_number
from stacks.clouds import INGRESS_CONTROLLERS

RELEASE = "v1.11.2"  # the KubeFATE release whose charts these are
# chartName -> (the kind of stack it becomes, the chartVersion KubeFATE v1.11.2 ships)
CHARTS = {"fate": ("party", "v1.11.2"), "fate-exchange": ("exchange", "v1.11.2"), "fate-serving": ("serving", "v2.1.6")}


# the shape of each top-level key that is not a section: (what it must be, a check, an example)
_SHAPES: dict[str, tuple[str, Callable[[Any], bool], str]] = {
    **{key: ("text", lambda v: isinstance(v, str), example) for key, example in (
        ("name", "fate-9999"), ("namespace", "fate-9999"), ("chartName", "fate"), ("chartVersion", "v1.11.2"),
        ("registry", "harbor.example.com/federatedai"), ("pullPolicy", "IfNotPresent"), ("ingressClassName", "nginx"),
        ("computing", "Eggroll"), ("federation", "Eggroll"), ("storage", "Eggroll"), ("algorithm", "Basic"),
        ("device", "CPU"))},
    "persistence": ("true or false", lambda v: isinstance(v, bool), "false"),
    "modules": ("a list of module names", lambda v: isinstance(v, list) and all(isinstance(m, str) for m in v),
                "[rollsite, clustermanager, nodemanager, mysql, python, fateboard, client]"),
    "imagePullSecrets": ("a list of {name: <Secret>}", lambda v: isinstance(v, list) and all(
        isinstance(s, str) or (isinstance(s, dict) and isinstance(s.get("name"), str)) for s in v),
        "[{name: myregistrykey}]"),
    "skippedKeys": ("a list of keys", lambda v: isinstance(v, list), "[]"),
}


def shape_problems(data: dict[str, Any]) -> list[str]:
    """Top-level keys of the wrong shape (a list where KubeFATE reads a name, a number where it reads a list ...),
    each with what it must be: refused before any mapping reads them."""
    out = []
    for key, value in data.items():
        if key in _SHAPES and value not in (None, ""):
            what, ok, example = _SHAPES[key]
            if not ok(value):
                out.append(f"{key}: {value!r} is not {what}; e.g. {key}: {example}")
    return out


def import_file(root: Section, res: Result) -> None:
    """The top-level keys, then the sections of the file's chart."""
    res.problems += shape_problems(root.data)
    if res.problems:
        raise ClusterFileRefused(res.problems)
    _top_level(root, res)
    {"party": import_party, "exchange": import_exchange, "serving": import_serving}[res.kind](root, res)


def _top_level(src: Section, res: Result) -> None:
    chart = src.take("chartName")
    version = src.take("chartVersion")
    if chart not in CHARTS:
        res.problems.append(f"chartName: {chart!r} is not one of {', '.join(CHARTS)}" if chart is not None else
                            f"chartName: required — a KubeFATE cluster file names its chart: {', '.join(CHARTS)}")
        raise ClusterFileRefused(res.problems)
    res.kind, want = CHARTS[chart]
    if str(version) != want:
        res.problems.append(f"chartVersion: {version!r}; this importer reads {chart} {want} files")
    if res.kind != "party":
        res.set("kind", res.kind)
    party_id = whole_number(src.take("partyId"), src.key("partyId"))
    if party_id is None:
        res.problems.append("partyId: required")
        raise ClusterFileRefused(res.problems)
    res.set("partyId", party_id)
    name = src.take("name")
    namespace = src.take("namespace")
    if name:
        res.set("name", str(name))
    if namespace and namespace != name:
        res.set("namespace", str(namespace))
    res.set("createNamespace", False)  # KubeFATE needs the namespace to exist already
    registry = src.take("registry")
    if registry:
        res.set("registry", str(registry))
    pull = src.take("pullPolicy")
    if pull:
        res.set("pullPolicy", pull)
    secrets = src.take("imagePullSecrets")
    if secrets:
        res.set("imagePullSecrets", [s["name"] if isinstance(s, dict) else str(s) for s in secrets])
    persistence = src.take("persistence")
    res.set("persistence", {"enabled": bool(persistence)})  # KubeFATE default off, fate-pulumi default on
    istio = src.sub("istio")
    if istio.take("enabled"):
        if res.kind == "exchange":
            res.notes.append("istio.enabled: ignored by the fate-exchange chart")
        else:
            res.set("istio", {"enabled": True})
    psp = src.sub("podSecurityPolicy")
    if psp.take("enabled"):
        # KubeFATE's PSP forbade privileged pods; the Pod Security level closest to it that still admits the
        # party's capabilities is chosen once the modules are known (cluster._pod_security)
        res.set("podSecurity", {"admission": "baseline"})
    elif psp.present:
        res.notes.append("podSecurityPolicy.enabled=false: nothing to create (PodSecurityPolicy no longer exists)")
    skipped = src.take("skippedKeys")
    if skipped:
        res.notes.append(f"skippedKeys {skipped}: only for KubeFATE's CLI validation; fate-pulumi validates every key")
    ingress_class = src.take("ingressClassName")
    if ingress_class:
        res.set("ingress.className", ingress_class)
        if ingress_class not in INGRESS_CONTROLLERS:
            res.notes.append(
                f"ingressClassName {ingress_class!r}: the UIs' NetworkPolicies must admit its controller; set "
                "networkPolicy.ingressNamespaces (its namespace) or networkPolicy.ingressSources (CIDRs)"
            )


def kubefate_service_types(data: dict, res: Result) -> None:
    """Service sections get the type KubeFATE gives them when the cluster file says nothing (ClusterIP; fate-pulumi's
    cloud profiles would otherwise pick NodePort for entry points); web UIs get no Ingress without hosts."""
    modules = res.config.get("modules", [])
    for module, path, _service in registry.EXPOSED:
        key = ".".join(path)
        if module not in modules or res.kind not in registry.BY_NAME[module].kinds or res.get(f"{key}.service.type"):
            continue
        if res.kind == "exchange" and module == "nginx" and "nginx" not in data:
            res.set("nginx.service", {"type": "NodePort", "nodePorts": {"http": 30003, "grpc": 30008}})
            res.notes.append("no nginx section: imported the exchange chart's default NodePorts 30003/30008")
        else:
            res.set(f"{key}.service.type", "ClusterIP")
    for ui in (m.name for m in registry.MODULES if m.ui and res.kind in m.kinds):
        if ui in modules and not res.get(f"ingress.{ui}.hosts"):
            res.notes.append(
                f"ingress.{ui}: KubeFATE creates an Ingress for an example.com host when none is configured; "
                f"fate-pulumi creates one only for real hosts (set ingress.{ui}.hosts)"
            )
