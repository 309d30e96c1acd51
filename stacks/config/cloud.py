"""What the cloud profile (stacks/clouds.py) decides: the settings a stack left unset, filled from its profile
(Service types and load-balancer annotations, storage and ingress classes, the ingress controller's sources, GPU pools)
and from resource presets; and the options a profile cannot honour. Settings the stack gives always win."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from components import registry
from components.settings import RESOURCE_PRESETS, IngressRoute, Resources, ServiceSettings, StorageSettings
from stacks.clouds import INGRESS_CONTROLLERS, PROFILES
from stacks.config.errors import Problem, config_key
from stacks.config.model import DeploymentConfig, section_at

# Every config section that is a module (takes scheduling, resources and a preset).
_MODULE_SECTIONS = tuple(path for _module, path in registry.MODULE_SECTIONS)


def _replace(model: BaseModel, path: tuple[str, ...], value: Any) -> Any:
    """A copy of `model` with the section at `path` (config aliases) replaced."""
    attr = registry.snake(path[0])
    if len(path) == 1:
        return model.model_copy(update={attr: value})
    return model.model_copy(update={attr: _replace(getattr(model, attr), path[1:], value)})


def resolve_cloud(cfg: DeploymentConfig) -> DeploymentConfig:
    """Fill what the stack left unset from its cloud profile (stacks/clouds.py): explicit settings always win."""
    prof = PROFILES[cfg.cloud.provider]
    lb = cfg.cloud.load_balancer
    for module, path, _service in registry.EXPOSED:
        section = section_at(cfg, path)
        svc: ServiceSettings = section.service
        entry = registry.BY_NAME[module].entry_point
        svc_type = svc.type or (prof.entry_point_type if entry else "ClusterIP")
        update: dict[str, Any] = {"type": svc_type}
        if svc_type == "LoadBalancer":
            internal = svc.internal if svc.internal is not None else lb.internal
            annotations = dict(prof.internal_annotations if internal else prof.external_annotations) if entry else {}
            if svc.load_balancer_ip and prof.static_ip_annotation:
                annotations[prof.static_ip_annotation] = svc.load_balancer_ip
                update["load_balancer_ip"] = None
            if svc.eip_allocations and prof.eip_allocations_annotation:
                annotations[prof.eip_allocations_annotation] = ",".join(svc.eip_allocations)
            update["annotations"] = {**annotations, **svc.annotations}
            if entry and not svc.load_balancer_source_ranges and lb.source_ranges:
                update["load_balancer_source_ranges"] = list(lb.source_ranges)
        cfg = _replace(cfg, path + ("service",), svc.model_copy(update=update))
    storage_class = cfg.cloud.storage_class or prof.storage_class
    if storage_class:
        for _module, path in registry.STORAGE_SECTIONS:
            st: StorageSettings = section_at(cfg, path).storage
            if st.storage_class is None:
                cfg = _replace(cfg, path + ("storage",), st.model_copy(update={"storage_class": storage_class}))
    if cfg.ingress.class_name is None:
        cfg = _replace(
            cfg,
            ("ingress",),
            cfg.ingress.model_copy(update={"class_name": cfg.cloud.ingress_class or prof.ingress_class}),
        )
    net = cfg.network_policy
    controller = INGRESS_CONTROLLERS.get(cfg.ingress.class_name or "")
    if net.ingress_namespaces is None and net.ingress_sources is None and controller is not None:
        cfg = _replace(cfg, ("networkPolicy",), net.model_copy(update={
            "ingress_namespaces": list(controller.namespaces), "ingress_sources": list(controller.cidrs)}))
    for path in _MODULE_SECTIONS:
        section = section_at(cfg, path)
        if section.resources is None and section.resources_preset is not None:
            preset = Resources.model_validate(RESOURCE_PRESETS[section.resources_preset])
            cfg = _replace(cfg, path, section.model_copy(update={"resources": preset}))
    if cfg.device == "GPU":
        py = cfg.python
        gpu = cfg.cloud.gpu
        update = {}
        if not py.node_selector:
            update["node_selector"] = (
                gpu.node_selector if gpu.node_selector is not None else dict(prof.gpu_node_selector)
            )
        if not py.tolerations:
            update["tolerations"] = (
                gpu.tolerations if gpu.tolerations is not None else [dict(t) for t in prof.gpu_tolerations]
            )
        cfg = _replace(cfg, ("python",), py.model_copy(update=update))
    return cfg


def check_presets(cfg: DeploymentConfig) -> list[Problem]:
    return [Problem(config_key(list(path) + ["resourcesPreset"]),
                    "set either resources or resourcesPreset, not both")
            for path in _MODULE_SECTIONS
            if section_at(cfg, path).resources is not None and section_at(cfg, path).resources_preset is not None]


def check_cloud(cfg: DeploymentConfig) -> list[Problem]:
    """Load-balancer options the chosen cloud cannot honour (checked on the stack's own settings)."""
    p: list[Problem] = []
    name = cfg.cloud.provider
    prof = PROFILES[name]
    if cfg.cloud.load_balancer.internal and not prof.supports_internal:
        p.append(Problem(config_key(["cloud", "loadBalancer", "internal"]),
                         f"{name} has no cloud load balancer to make internal; remove it (entry points use NodePorts)"))
    for _module, path, _service in registry.EXPOSED:
        svc: ServiceSettings = section_at(cfg, path).service
        base = list(path) + ["service"]
        if svc.eip_allocations and prof.eip_allocations_annotation is None:
            p.append(Problem(config_key(base + ["eipAllocations"]),
                             f"Elastic IP allocations exist only on aws (cloud.provider is {name}); "
                             "use service.loadBalancerIP for a static address"))
        if svc.load_balancer_ip and not (prof.static_ip_annotation or prof.static_ip_in_spec):
            p.append(Problem(config_key(base + ["loadBalancerIP"]),
                             f"{name} load balancers take no requested IP; use service.eipAllocations (Elastic IPs)"))
        if svc.internal and not prof.supports_internal:
            p.append(Problem(config_key(base + ["internal"]), f"{name} has no cloud load balancer to make internal"))
        internal = svc.internal if svc.internal is not None else cfg.cloud.load_balancer.internal
        if svc.eip_allocations and internal:
            p.append(Problem(config_key(base + ["eipAllocations"]),
                             "Elastic IPs need an internet-facing load balancer; set service.internal false"))
    return p


def check_lb_type(cfg: DeploymentConfig) -> list[Problem]:
    """LoadBalancer-only options on a Service that (after defaults) is not a LoadBalancer."""
    p: list[Problem] = []
    for _module, path, _service in registry.EXPOSED:
        svc: ServiceSettings = section_at(cfg, path).service
        if svc.type == "LoadBalancer":
            continue
        for key, value in (("eipAllocations", svc.eip_allocations), ("internal", svc.internal)):
            if value:
                p.append(Problem(config_key(list(path) + ["service", key]),
                                 f"only used with service type LoadBalancer (type is {svc.type})"))
    return p


def check_ingress_sources(cfg: DeploymentConfig) -> list[Problem]:
    """An Ingress whose controller's traffic the NetworkPolicies cannot place would be cut off."""
    net = cfg.network_policy
    if not net.enabled or net.ingress_namespaces is not None or net.ingress_sources is not None:
        return []
    routed = [name for name, route in cfg.ingress if isinstance(route, IngressRoute) and route.hosts]
    if not routed:
        return []
    return [Problem(config_key(["networkPolicy", "ingressNamespaces"]),
                    f"the UIs' NetworkPolicies must admit the ingress controller of class {cfg.ingress.class_name!r} "
                    f"(ingress.{routed[0]}.hosts is set): name its namespace here, or the CIDRs its traffic comes "
                    f"from in networkPolicy.ingressSources (known classes: {', '.join(INGRESS_CONTROLLERS)})")]
