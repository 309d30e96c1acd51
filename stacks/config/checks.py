"""The cross-section checks of a parsed config: what no single section can see (the modules a kind and backend take,
routes, jobs, NodePorts, volumes, the cluster target, the images); each problem names its key."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Optional

from components import registry
from components.security import beyond_baseline
from components.settings import NODE_PORT_RANGE, IngressRoute, ServiceSettings, StorageSettings
from stacks.config.errors import Problem, config_key
from stacks.config.model import DeploymentConfig, section_at
from stacks.config.secrets import check_secrets, check_tls
from stacks.config.tables import (
    BACKEND_MODULES,
    EXCHANGE_BACKEND_MODULES,
    EXCHANGE_MODULES,
    FATE_VERSION,
    KIND_SECTIONS,
    PARTY_22_BACKEND,
    PARTY_22_MODULES,
    PARTY_MODULES,
    SERVING_MODULES,
)

_IMAGE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/:]*[A-Za-z0-9]$|^[A-Za-z0-9]$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def check(cfg: DeploymentConfig, set_keys: set[str]) -> list[Problem]:
    """Every cross-section problem of `cfg`; `set_keys` are the top-level keys the stack sets."""
    modules = set(cfg.enabled_modules)
    if cfg.release == "2.2":
        refused = _check_release_22(cfg, set_keys)
        if refused:  # what the 1.11 checks would add about the same keys would only repeat it in 1.11's words
            return refused
    p = _check_kind_keys(cfg, set_keys)
    if cfg.modules is not None:
        p += _check_module_list(cfg, cfg.modules)
        if not cfg.modules:  # the one problem: what each backend then misses would only repeat it
            return p + [Problem(config_key(["modules"]),
                                "empty module list; omit the key to deploy the backend's modules")]
    if cfg.kind == "party":
        p += _check_party(cfg, modules)
        p += _check_jobs(cfg, modules)
    elif cfg.kind == "exchange":
        p += _check_exchange(cfg, set_keys)
    else:
        p += _check_serving(cfg, modules)
    p += _check_routes(cfg, modules)
    p += _check_services(cfg, modules)
    p += _check_storage(cfg, modules)
    p += check_secrets(cfg, modules)
    p += _check_target(cfg)
    p += check_tls(cfg)
    p += _check_images(cfg)
    return p


def _check_kind_keys(cfg: DeploymentConfig, set_keys: set[str]) -> list[Problem]:
    """Sections that belong to another kind of deployment."""
    all_sections = set().union(*KIND_SECTIONS.values())
    return [
        Problem(
            config_key([key]),
            f"not used by a deployment of kind {cfg.kind}; remove it "
            f"(it belongs to kind {', '.join(k for k, s in KIND_SECTIONS.items() if key in s)})",
        )
        for key in sorted(set_keys & (all_sections - KIND_SECTIONS[cfg.kind]))
    ]


def _check_module_list(cfg: DeploymentConfig, listed: list[str]) -> list[Problem]:
    """`modules` names modules of this kind, each once."""
    p: list[Problem] = []
    allowed = {"party": PARTY_MODULES, "exchange": EXCHANGE_MODULES, "serving": SERVING_MODULES}[cfg.kind]
    for i, m in enumerate(listed):
        if m not in allowed:
            p.append(Problem(config_key(["modules", i]),
                             f"unknown module {m!r} for kind {cfg.kind}; allowed: {', '.join(allowed)}"))
    for m, n in Counter(listed).items():
        if n > 1:
            p.append(Problem(config_key(["modules"]), f"module {m!r} is listed {n} times"))
    return p


def _check_exchange(cfg: DeploymentConfig, set_keys: set[str]) -> list[Problem]:
    p: list[Problem] = []
    if cfg.rollsite.exchange_list:
        p.append(
            Problem(
                config_key(["rollsite", "exchangeList"]),
                "an exchange chains to one upstream exchange: use rollsite.exchange",
            )
        )
    if cfg.backend == "spark_rabbitmq":
        p.append(
            Problem(
                config_key(["backend"]),
                "spark_rabbitmq has no exchange (RabbitMQ federates peer to peer); "
                "use eggroll (rollsite) or spark_pulsar / spark_local_pulsar (trafficServer + nginx)",
            )
        )
    if "backend" in set_keys and cfg.modules is not None and cfg.backend in EXCHANGE_BACKEND_MODULES:
        served = EXCHANGE_BACKEND_MODULES[cfg.backend]
        for i, m in enumerate(cfg.modules):
            if m not in served:
                p.append(Problem(config_key(["modules", i]),
                                 f"{m!r} does not serve backend {cfg.backend}; allowed: {', '.join(served)}"))
    return p


def _check_images(cfg: DeploymentConfig) -> list[Problem]:
    p: list[Problem] = []
    if cfg.registry is not None and not _IMAGE_REF.match(cfg.registry.rstrip("/")):
        p.append(
            Problem(
                config_key(["registry"]),
                f"{cfg.registry!r} is not a registry prefix like harbor.example.org/federatedai",
            )
        )
    if cfg.image_tag is not None and not _TAG.match(cfg.image_tag):
        p.append(Problem(config_key(["imageTag"]), f"{cfg.image_tag!r} is not a valid image tag"))
    return p


# What a FATE 2.2 party of this step is (README "FATE 2.2 (preview)"), said in every refusal.
SUPPORTED_22 = (f"release 2.2 supports a party (kind party, backend {PARTY_22_BACKEND}, modules "
                f"{', '.join(PARTY_22_MODULES)}): FATE Flow 2.2 computing standalone in its pod, federation RabbitMQ, "
                "partner calls through nginx")
# Top-level keys a 2.2 party does not take yet: what they change is 1.11's (images and engines of 1.11, FateJob's
# 1.11 DSL runner, FATE-Serving 2.1 which serves no 2.x model: FATE #5624) or not wired for 2.2 yet.
NOT_YET_22 = ("imageTag", "algorithm", "device", "computing", "federation", "storage", "serving", "jobs", "verify",
              "istio", "tls", "adoptKubefate")


def _check_release_22(cfg: DeploymentConfig, set_keys: set[str]) -> list[Problem]:
    """`release: "2.2"`: what this step renders for FATE 2.2, and a one-line refusal of the rest."""
    p: list[Problem] = []
    if cfg.kind != "party":
        p.append(Problem(config_key(["kind"]), f"{cfg.kind} is not deployable with release 2.2 yet; {SUPPORTED_22} "
                                               "— set release: 1.11.2 for this deployment"))
        return p
    if cfg.backend != PARTY_22_BACKEND:
        p.append(Problem(config_key(["backend"]), f"{cfg.backend} is not supported by release 2.2 yet (eggroll 3 + "
                                                  f"OSX, Spark and Pulsar are not there); {SUPPORTED_22} — set "
                                                  f"backend: {PARTY_22_BACKEND}"))
    for key in NOT_YET_22:
        if key in set_keys:
            p.append(Problem(config_key([key]), f"not supported by release 2.2 yet; {SUPPORTED_22} — remove {key}"))
    for i, m in enumerate(cfg.modules or ()):
        if m not in PARTY_22_MODULES:
            p.append(Problem(config_key(["modules", i]), f"{m!r} is not deployable with release 2.2 yet; "
                                                         f"{SUPPORTED_22} — remove it"))
    missing = [m for m in PARTY_22_MODULES if m not in cfg.enabled_modules and m not in cfg.external_services]
    if missing:
        p.append(Problem(config_key(["modules"]), f"release 2.2 needs module(s) {', '.join(missing)}; "
                                                  f"{SUPPORTED_22} — add them or omit modules"))
    for m in sorted(cfg.external_services):
        ext = registry.BY_NAME[m].external
        assert ext is not None
        p.append(Problem(config_key(list(ext.key)), f"an external {m} is not supported by release 2.2 yet; "
                                                    f"{SUPPORTED_22} — remove it to deploy the {m} module"))
    py = cfg.python
    if py.replicas != 1:
        p.append(Problem(config_key(["python", "replicas"]), "release 2.2 runs one FATE Flow: its standalone "
                                                              "computing keeps tables in the pod's volume — set 1"))
    for key, value in (("hive", py.hive), ("gpuCount", py.gpu_count)):
        if value is not None:
            p.append(Problem(config_key(["python", key]), f"not supported by release 2.2 yet; {SUPPORTED_22} — "
                                                          f"remove python.{key}"))
    if cfg.nginx.exchange is not None:
        p.append(Problem(config_key(["nginx", "exchange"]), f"an nginx exchange is not supported by release 2.2 "
                                                            f"yet; {SUPPORTED_22} — route each peer in "
                                                            "nginx.routeTable"))
    for pid, route in cfg.nginx.route_table.items():
        if not route.fateflow:
            # FATE Flow 2.2 sends every partner call with `service: fateflow` (Flow@v2.2.0 runtime/system_settings.py
            # L74-78); FATE's proxy then reads routeTable[<party>].fateflow and fails on a party without it
            # (FATE@v2.2.0 c/proxy/lua/route_table.lua L74-95)
            p.append(Problem(config_key(["nginx", "routeTable", pid]),
                             "FATE Flow 2.2 reaches a peer as service fateflow: give fateflow: [{host, httpPort, "
                             "grpcPort}] (the peer's nginx)"))
    return p


def _check_party(cfg: DeploymentConfig, modules: set[str]) -> list[Problem]:
    if cfg.release == "2.2":  # its modules are checked by _check_release_22
        return _check_engines(cfg) + _check_serving_link(cfg)
    return (_check_engines(cfg) + _check_party_modules(cfg, modules) + _check_image_flavour(cfg)
            + _check_istio(cfg) + _check_spark_driver(cfg) + _check_serving_link(cfg)
            + _check_exchanges(cfg, modules) + _check_polling(cfg) + _check_rollsite_tls(cfg, modules))


def _check_engines(cfg: DeploymentConfig) -> list[Problem]:
    """computing, federation and storage, when set, say what the backend implies."""
    p: list[Problem] = []
    computing, federation, storage = cfg.engines
    for key, given, implied in (("computing", cfg.computing, computing), ("federation", cfg.federation, federation),
                                ("storage", cfg.storage, storage)):
        if given is not None and given != implied:
            p.append(Problem(config_key([key]), f"{given!r} contradicts backend {cfg.backend} ({key} {implied}); "
                                                f"set backend to the combination you want or remove {key}"))
    return p


def _check_party_modules(cfg: DeploymentConfig, modules: set[str]) -> list[Problem]:
    """A party's `modules` belong to its backend, leave out its external services and keep what it needs."""
    p: list[Problem] = []
    if cfg.modules is None:
        return p
    spec = BACKEND_MODULES[cfg.backend]
    external = cfg.external_services
    for i, m in enumerate(cfg.modules):
        if m in PARTY_MODULES and m not in spec["required"] and m not in spec["optional"]:
            p.append(Problem(config_key(["modules", i]), f"{m!r} is not part of backend {cfg.backend}; modules "
                                                         f"allowed: {', '.join(spec['required'] + spec['optional'])}"))
        if m in external:
            p.append(Problem(config_key(["modules", i]), f"{m!r} is configured as an external service; remove it "
                                                         f"from modules or remove the external setting"))
    for m in spec["required"]:
        if m not in modules and m not in external:
            ext = registry.BY_NAME[m].external
            hint = f" or {ext.hint}" if ext else ""
            p.append(Problem(config_key(["modules"]), f"backend {cfg.backend} needs module {m!r}; add it{hint}"))
    return p


def _check_image_flavour(cfg: DeploymentConfig) -> list[Problem]:
    """FATE's images exist for some algorithm and device pairs only; a GPU count needs the GPU image."""
    p: list[Problem] = []
    if cfg.algorithm == "ALL" and cfg.device == "CPU" or cfg.device == "IPCL" and cfg.algorithm != "Basic" \
            or cfg.device == "GPU" and cfg.algorithm == "Basic":
        p.append(
            Problem(
                config_key(["algorithm"]),
                f"FATE {FATE_VERSION} ships no image for algorithm {cfg.algorithm} on device "
                f"{cfg.device}; supported: CPU with Basic/NN, IPCL with Basic, GPU with NN/ALL",
            )
        )
    if cfg.python.gpu_count is not None and cfg.device != "GPU":
        p.append(Problem(config_key(["python", "gpuCount"]), "only used with device GPU"))
    return p


def _check_istio(cfg: DeploymentConfig) -> list[Problem]:
    if cfg.istio.enabled and cfg.engines[0] != "Eggroll":
        return [
            Problem(
                config_key(["istio", "enabled"]),
                "Istio mode is only supported with the eggroll backend (KubeFATE docs: not compatible with Spark)",
            )
        ]
    return []


def _check_spark_driver(cfg: DeploymentConfig) -> list[Problem]:
    """The Spark driver's exposed ports come as a range: its starts and its length."""
    p: list[Problem] = []
    sp = cfg.python.spark
    if sp.port_max_retries is not None and (sp.driver_start_port is None or sp.block_manager_start_port is None):
        p.append(Problem(config_key(["python", "spark", "portMaxRetries"]),
                         "needs python.spark.driverStartPort and python.spark.blockManagerStartPort"))
    if sp.driver_host_type is not None and sp.port_max_retries is None:
        p.append(
            Problem(
                config_key(["python", "spark", "driverHostType"]),
                "needs python.spark.portMaxRetries (the driver ports to expose)",
            )
        )
    return p


def _check_serving_link(cfg: DeploymentConfig) -> list[Problem]:
    """How FATE Flow finds FATE-Serving: its ZooKeeper registry, or one serving-server endpoint."""
    p: list[Problem] = []
    if cfg.serving.use_registry and cfg.serving.zookeeper is None:
        p.append(
            Problem(
                config_key(["serving", "zookeeper"]),
                "serving.useRegistry needs serving.zookeeper.hosts (the FATE-Serving ZooKeeper)",
            )
        )
    if (cfg.serving.host is None) != (cfg.serving.port is None):
        p.append(
            Problem(
                config_key(["serving"]),
                "set both serving.host and serving.port (the serving-server endpoint) or neither",
            )
        )
    return p


def _check_exchanges(cfg: DeploymentConfig, modules: set[str]) -> list[Problem]:
    """A party's exchange: Pulsar's needs the pulsar module; rollsite takes one exchange or a list, not both."""
    p: list[Problem] = []
    if cfg.pulsar.exchange is not None and "pulsar" not in modules:
        p.append(Problem(config_key(["pulsar", "exchange"]), "needs the pulsar module"))
    if cfg.rollsite.exchange_list and cfg.rollsite.exchange is not None:
        p.append(
            Problem(
                config_key(["rollsite", "exchangeList"]),
                "use either rollsite.exchange (one exchange) or "
                "rollsite.exchangeList (load-balanced exchanges), not both",
            )
        )
    return p


def _check_polling(cfg: DeploymentConfig) -> list[Problem]:
    """rollsite polling: a client knows what it polls, a server knows its clients."""
    p: list[Problem] = []
    polling = cfg.rollsite.polling
    if not polling.enabled:
        return p
    # eggroll 2.5.1 (and 2.5.3): a polling client polls its default route (Polling.scala L81, Router.query("default"))
    # and sends by its route table like any rollsite (EggSiteServicer.scala L80, Push.scala L430): partyList peers
    # directly, every other party over the default route — the exchange(s) when set, else polling.server
    exchange = ("exchange" if cfg.rollsite.exchange is not None
                else "exchangeList" if cfg.rollsite.exchange_list else None)
    if polling.type is None:
        p.append(
            Problem(config_key(["rollsite", "polling", "type"]), "required when polling is enabled: client or server")
        )
    if polling.type == "client" and polling.server is None and exchange is None:
        p.append(Problem(config_key(["rollsite", "polling", "server"]),
                         "a polling client needs the server's host and port (or an exchange: it polls its "
                         "default route)"))
    if polling.type == "client" and polling.server is not None and exchange is not None:
        p.append(Problem(config_key(["rollsite", "polling", "server"]),
                         f"unused: a polling client polls its default route, which is rollsite.{exchange}; "
                         "remove one of them"))
    if polling.type == "server" and not polling.client_list:
        p.append(
            Problem(
                config_key(["rollsite", "polling", "clientList"]), "a polling server needs the party ids of its clients"
            )
        )
    return p


def reachable_parties(cfg: DeploymentConfig) -> Optional[set[int]]:
    """The party ids this party's routes reach (itself included); None when a default route (an exchange) leads
    anywhere."""
    modules = set(cfg.enabled_modules)
    if any(m in modules and getattr(cfg.module(m), "exchange", None) for m in ("rollsite", "nginx", "pulsar")):
        return None
    ids = {cfg.party_id}
    if "rollsite" in modules:
        ids |= {peer.party_id for peer in cfg.rollsite.party_list}
        if cfg.rollsite.exchange_list:
            return None
    for m in ("nginx", "pulsar", "rabbitmq"):
        if m in modules:
            ids |= set(cfg.module(m).route_table)
    return ids


def _check_jobs(cfg: DeploymentConfig, modules: set[str]) -> list[Problem]:
    """FATE jobs go to this party's FATE Flow, as their initiator, towards parties its routes reach."""
    p: list[Problem] = []
    if not cfg.jobs and not cfg.verify.toy:
        return p
    if "python" not in modules:
        p.append(Problem(config_key(["jobs" if cfg.jobs else "verify"]),
                         "FATE jobs run on FATE Flow: needs module python"))
    names = Counter(j.name for j in cfg.fate_jobs)
    reachable = reachable_parties(cfg)
    for i, job in enumerate(cfg.jobs):
        if names[job.name] > 1:
            clash = " (verify.toy names its tests toy-<peer>)" if job.name.startswith("toy-") else ""
            p.append(Problem(config_key(["jobs", i, "name"]),
                             f"{job.name!r} names more than one job{clash}; rename one"))
        initiator = job.initiator
        if initiator is not None and initiator.party_id != cfg.party_id:
            p.append(Problem(config_key(["jobs", i, "conf", "initiator", "party_id"]),
                             f"the job is submitted to this party's FATE Flow, so this party ({cfg.party_id}) "
                             f"initiates it, not {initiator.party_id}"))
        unknown = sorted(job.parties - reachable) if reachable is not None else []
        if unknown:
            p.append(Problem(config_key(["jobs", i, "conf", "role"]),
                             f"no route of this party leads to {', '.join(map(str, unknown))}: add them to the "
                             f"routes (rollsite.partyList, the route tables) or route through an exchange"))
    for i, peer in enumerate(cfg.verify.toy):
        if reachable is not None and peer not in reachable:
            p.append(Problem(config_key(["verify", "toy", i]), f"no route of this party leads to {peer}: add it to "
                                                               f"the routes or route through an exchange"))
    for peer, n in Counter(cfg.verify.toy).items():
        if n > 1:
            p.append(Problem(config_key(["verify", "toy"]), f"party {peer} is listed {n} times"))
    return p


def _check_rollsite_tls(cfg: DeploymentConfig, modules: set[str]) -> list[Problem]:
    """A secure route needs this rollsite's client certificate; a certificate the stack issues must name the address
    peers dial (grpc-java checks the server certificate against the route's host)."""
    rs = cfg.rollsite
    if "rollsite" not in modules:
        return []
    p: list[Problem] = []
    secure = [(["rollsite", "partyList", i, "secure"]) for i, r in enumerate(rs.party_list) if r.secure]
    if rs.exchange is not None and rs.exchange.secure:
        secure.append(["rollsite", "exchange", "secure"])
    if not rs.tls.enabled:
        if "rollsiteTls" in rs.service.node_ports:
            p.append(Problem(config_key(["rollsite", "service", "nodePorts", "rollsiteTls"]),
                             "rollsite serves TLS only with rollsite.tls.enabled"))
        p += [
            Problem(
                config_key(path),
                "dialling with TLS needs this rollsite's client certificate; set rollsite.tls.enabled "
                "(Secret " + rs.tls.secret_name + ")",
            )
            for path in secure
        ]
        if rs.tls.refuse_plaintext:
            p.append(Problem(config_key(["rollsite", "tls", "refusePlaintext"]), "needs rollsite.tls.enabled"))
    elif cfg.tls.generate and cfg.public_host is None and rs.service.type in ("NodePort", "LoadBalancer"):
        p.append(Problem(config_key(["publicHost"]), "peers verify the issued rollsite certificate against the "
                                                     "address they dial; set publicHost to it"))
    return p


def _check_serving(cfg: DeploymentConfig, modules: set[str]) -> list[Problem]:
    p: list[Problem] = []
    if "servingServer" in modules and cfg.serving_server.fateflow is None:
        p.append(
            Problem(
                config_key(["servingServer", "fateflow"]),
                "required: the FATE Flow HTTP endpoint of this party (host: fateflow node/LB address, port: its "
                "http NodePort) "
                "for model transfer",
            )
        )
    if cfg.serving_server.cache_type == "redis" and "servingRedis" not in modules and cfg.serving_server.redis is None:
        p.append(
            Problem(
                config_key(["servingServer", "cacheType"]),
                "redis cache needs the servingRedis module or servingServer.redis",
            )
        )
    if cfg.serving_server.redis is not None and "servingRedis" in modules:
        p.append(
            Problem(
                config_key(["servingServer", "redis"]),
                "an external Redis replaces the servingRedis module; remove one of them",
            )
        )
    return p


def _duplicates(ids: Iterable[int]) -> list[int]:
    return sorted(i for i, n in Counter(ids).items() if n > 1)


def _check_routes(cfg: DeploymentConfig, modules: set[str]) -> list[Problem]:
    """Party lists and route tables: no duplicates, and a party never lists itself (its own route is generated)."""
    p: list[Problem] = []
    own = cfg.party_id
    lists = {
        "rollsite.partyList": [r.party_id for r in cfg.rollsite.party_list],
        "servingProxy.partyList": [r.party_id for r in cfg.serving_proxy.party_list],
    }
    for key, ids in lists.items():
        for dup in _duplicates(ids):
            p.append(Problem(config_key(key.split(".")),
                             f"party {dup} is listed more than once; keep one entry per party"))
        if own in ids:
            p.append(
                Problem(
                    config_key(key.split(".")),
                    f"lists this party itself ({own}); its own route is generated, remove the entry",
                )
            )
    tables: dict[str, Mapping[int, object]] = {
        "nginx.routeTable": cfg.nginx.route_table, "rabbitmq.routeTable": cfg.rabbitmq.route_table,
        "pulsar.routeTable": cfg.pulsar.route_table}
    for key, table in tables.items():
        if own in table and not (cfg.kind == "exchange" and key == "nginx.routeTable"):
            p.append(
                Problem(
                    config_key(key.split(".") + [str(own)]),
                    f"route for this party itself ({own}); its own route is generated from the local service, "
                    "remove the entry",
                )
            )
    polling = cfg.rollsite.polling
    if polling.enabled and polling.type == "server":
        for dup in _duplicates(polling.client_list):
            p.append(Problem(config_key(["rollsite", "polling", "clientList"]),
                             f"party {dup} is listed more than once"))
        clash = set(polling.client_list) & set(lists["rollsite.partyList"])
        for pid in sorted(clash):
            p.append(Problem(config_key(["rollsite", "polling", "clientList"]),
                             f"party {pid} is both a polling client and in rollsite.partyList; keep one"))
    fqdns = [r.fqdn for r in cfg.traffic_server.sni_routes]
    for fqdn, n in Counter(fqdns).items():
        if n > 1:
            p.append(Problem(config_key(["trafficServer", "sniRoutes"]), f"fqdn {fqdn} is routed {n} times"))
    return p


def _check_services(cfg: DeploymentConfig, modules: set[str]) -> list[Problem]:
    p: list[Problem] = []
    seen: dict[int, str] = {}
    for module, path, service in registry.EXPOSED:
        section = section_at(cfg, path)
        svc: ServiceSettings = section.service
        base = list(path) + ["service"]
        for name, port in svc.node_ports.items():
            key = config_key(base + ["nodePorts", name])
            if name not in service.keys:
                p.append(Problem(key, f"{module} has no port {name!r}; ports: {', '.join(service.keys)}"))
            if svc.type == "ClusterIP":
                p.append(
                    Problem(
                        key,
                        f"a NodePort needs {'.'.join(path)}.service.type NodePort or LoadBalancer (type is ClusterIP)",
                    )
                )
            if module in modules:
                if port in seen:
                    p.append(
                        Problem(
                            key,
                            f"NodePort {port} is already used by {seen[port]}; NodePorts must be unique in the stack",
                        )
                    )
                else:
                    seen[port] = ".".join(base + ["nodePorts", name])
        if svc.load_balancer_ip and svc.type != "LoadBalancer":
            p.append(Problem(config_key(base + ["loadBalancerIP"]), "only used with service type LoadBalancer"))
        if svc.load_balancer_source_ranges and svc.type != "LoadBalancer":
            p.append(Problem(config_key(base + ["loadBalancerSourceRanges"]),
                             "only used with service type LoadBalancer"))
    driver = cfg.python.spark
    if driver.driver_host_type in ("NodePort", "LoadBalancer") and driver.port_max_retries:
        for start, what in (
            (driver.driver_start_port, "driverStartPort"),
            (driver.block_manager_start_port, "blockManagerStartPort"),
        ):
            if start is None:
                continue
            for port in range(start, start + driver.port_max_retries):
                key = config_key(["python", "spark", what])
                if not NODE_PORT_RANGE[0] <= port <= NODE_PORT_RANGE[1]:
                    p.append(
                        Problem(
                            key,
                            f"driver port {port} is exposed as a NodePort and must be within "
                            f"{NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]}",
                        )
                    )
                    break
                if port in seen:
                    p.append(Problem(key, f"driver port {port} collides with NodePort of {seen[port]}"))
                seen[port] = f"python.spark.{what}"
    for route in (m.name for m in registry.MODULES if m.ui):
        ing: IngressRoute = getattr(cfg.ingress, registry.snake(route))
        hosts = [h.name for h in ing.hosts]
        for host, n in Counter(hosts).items():
            if n > 1:
                p.append(Problem(config_key(["ingress", route, "hosts"]), f"host {host} is listed {n} times"))
        if (ing.hosts or ing.tls) and route not in modules:
            p.append(
                Problem(
                    config_key(["ingress", route]),
                    f"module {route} is not deployed; remove its ingress or add the module",
                )
            )
        if ing.tls and not ing.hosts:
            p.append(Problem(config_key(["ingress", route, "tls"]), "TLS without hosts; add ingress hosts"))
    if cfg.istio.enabled and cfg.kind == "exchange":
        p.append(Problem(config_key(["istio"]), "not used by an exchange"))
    return p


def _check_storage(cfg: DeploymentConfig, modules: set[str]) -> list[Problem]:
    p: list[Problem] = []
    for _module, path in registry.STORAGE_SECTIONS:
        st: StorageSettings = section_at(cfg, path).storage
        replicas = getattr(section_at(cfg, path), "replicas", 1)
        if st.existing_claim and replicas > 1 and st.access_mode == "ReadWriteOnce":
            p.append(
                Problem(
                    config_key(list(path) + ["storage", "existingClaim"]),
                    f"{replicas} replicas cannot share one ReadWriteOnce claim; use ReadWriteMany or drop "
                    "existingClaim "
                    f"(each replica then gets its own volume)",
                )
            )
    return p


def check_admission(cfg: DeploymentConfig) -> list[Problem]:
    if cfg.pod_security.admission != "baseline":
        return []
    refused = beyond_baseline(registry.capabilities(cfg.enabled_modules))
    if not refused:
        return []
    why = ", ".join(f"{m} ({'/'.join(caps)})" for m, caps in refused.items())
    return [Problem(config_key(["podSecurity", "admission"]),
                    f"the baseline level refuses {why}: use privileged, or leave those modules out")]


def _check_target(cfg: DeploymentConfig) -> list[Problem]:
    t = cfg.kubernetes
    if t.stack_reference is not None and (t.kubeconfig or t.render_yaml_to_directory):
        return [
            Problem(
                config_key(["kubernetes", "stackReference"]),
                "the kubeconfig comes from the referenced stack; remove kubernetes.kubeconfig / renderYamlToDirectory",
            )
        ]
    if t.render_yaml_to_directory and (t.kubeconfig or t.context or t.cluster):
        return [
            Problem(
                config_key(["kubernetes", "renderYamlToDirectory"]),
                "the Kubernetes provider renders without a cluster; remove kubernetes.kubeconfig/context/cluster",
            )
        ]
    return []
