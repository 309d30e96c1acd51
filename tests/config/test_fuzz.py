"""Property-based configs (hypothesis): thousands of generated stacks. Every valid one renders and every rendered
object validates against the Kubernetes 1.30 schema; every invalid one fails with a message naming its key and
registers no resource. The counts are printed at the end of the run.

Two profiles: `everyday` (the default, a quick `pytest -q`) and `thorough` (FATE_FUZZ_PROFILE=thorough, what
.ci/run uses: 300 valid and 2,000 invalid stacks); FATE_FUZZ_VALID / FATE_FUZZ_INVALID override either count.
"""

from __future__ import annotations

import copy
import os
from collections import Counter
from collections.abc import Callable
from typing import Any

import pulumi
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fate_pulumi.mocks import Rendered
from stacks.config import BACKEND_MODULES, EXCHANGE_BACKEND_MODULES, ConfigError, load_config
from tests import k8s_schema
from tests.conftest import render

COUNTS: Counter = Counter()
PROFILES = {"everyday": (40, 300), "thorough": (300, 2000)}
PROFILE = os.environ.get("FATE_FUZZ_PROFILE", "everyday")
if PROFILE not in PROFILES:
    raise RuntimeError(f"FATE_FUZZ_PROFILE={PROFILE!r}: one of {', '.join(PROFILES)}")
VALID_EXAMPLES = int(os.environ.get("FATE_FUZZ_VALID", PROFILES[PROFILE][0]))
INVALID_EXAMPLES = int(os.environ.get("FATE_FUZZ_INVALID", PROFILES[PROFILE][1]))

ENTRY_PORTS = {"rollsite": ("rollsite",), "nginx": ("http", "grpc"), "pulsar": ("broker", "brokerTls"),
               "rabbitmq": ("amqp",), "python": ("http", "grpc"), "trafficServer": ("tls",),
               "servingProxy": ("inter",), "servingServer": ("grpc",)}
UIS = {"fateboard", "client", "spark", "rabbitmq", "pulsar"}
hosts = st.one_of(
    st.builds(lambda a, b, c: f"10.{a}.{b}.{c}", st.integers(0, 255), st.integers(0, 255), st.integers(1, 254)),
    st.from_regex(r"[a-z]([a-z0-9-]{0,7}[a-z0-9])?(\.[a-z]([a-z0-9-]{0,7}[a-z0-9])?){1,2}", fullmatch=True),
)
ports = st.integers(1, 65535)


@st.composite
def peers(draw, own: int, max_size: int = 4) -> list[int]:
    ids = draw(st.sets(st.integers(1, 99999).filter(lambda i: i != own), max_size=max_size))
    return sorted(ids)


@st.composite
def expose(draw, cfg: dict, modules: list[str]) -> None:
    """NodePorts for some deployed entry points, unique in the stack."""
    free = draw(st.permutations(range(30000, 30100)))
    used = 0
    for module in modules:
        if module in ENTRY_PORTS and draw(st.booleans()):
            svc: dict[str, Any] = {"type": "NodePort", "nodePorts": {}}
            for port in ENTRY_PORTS[module]:
                if draw(st.booleans()):
                    svc["nodePorts"][port] = free[used]
                    used += 1
            cfg.setdefault(module, {})["service"] = svc


@st.composite
def valid_config(draw) -> dict:
    kind = draw(st.sampled_from(["party", "party", "exchange", "serving"]))
    own = draw(st.integers(1, 99999))
    cfg: dict = {"kind": kind, "partyId": own, "development": True,
                 "persistence": {"enabled": draw(st.booleans()), "retainOnDestroy": draw(st.booleans())},
                 "cloud": {"provider": draw(st.sampled_from(["onprem", "aws", "gcp", "azure"]))},
                 "networkPolicy": {"enabled": draw(st.booleans())}, "podSecurity": {"enabled": draw(st.booleans())}}
    if draw(st.booleans()):
        cfg["registry"] = draw(st.sampled_from(["harbor.bank.example/federatedai", "registry.local:5000/fate"]))
    if kind == "party":
        backend = draw(st.sampled_from(sorted(BACKEND_MODULES)))
        spec = BACKEND_MODULES[backend]
        modules = list(spec["required"]) + sorted(draw(st.sets(st.sampled_from(spec["optional"]))))
        cfg.update(backend=backend, modules=modules)
        algo_device = draw(
            st.sampled_from([("Basic", "CPU"), ("NN", "CPU"), ("Basic", "IPCL"), ("NN", "GPU"), ("ALL", "GPU")])
        )
        cfg.update(algorithm=algo_device[0], device=algo_device[1])
        if "rollsite" in modules:
            cfg["rollsite"] = {"partyList": [{"partyId": p, "host": draw(hosts), "port": draw(ports)}
                                             for p in draw(peers(own))]}
            if draw(st.booleans()):
                cfg["rollsite"]["exchange"] = {"host": draw(hosts), "port": draw(ports)}
            cfg["nodemanager"] = {"replicas": draw(st.integers(0, 5)),
                                  **({"spread": {}} if draw(st.booleans()) else {})}
        if "pulsar" in modules:
            cfg["pulsar"] = {"routeTable": {p: {"host": draw(hosts), "port": draw(ports), "sslPort": draw(ports)}
                                            for p in draw(peers(own))}}
        if "rabbitmq" in modules:
            cfg["rabbitmq"] = {"routeTable": {p: {"host": draw(hosts), "port": draw(ports)} for p in draw(peers(own))}}
        if "nginx" in modules:
            cfg["nginx"] = {
                "routeTable": {
                    p: {"fateflow": [{"host": draw(hosts), "httpPort": draw(ports), "grpcPort": draw(ports)}]}
                    for p in draw(peers(own))
                }
            }
        if "spark" in modules:
            cfg["spark"] = {"worker": {"replicas": draw(st.integers(0, 5))}}
        if "python" in modules:
            cfg["python"] = {
                "replicas": draw(st.integers(1, 3)),
                **(
                    {"resourcesPreset": draw(st.sampled_from(["small", "medium", "large"]))}
                    if draw(st.booleans())
                    else {}
                ),
            }
        ui = [m for m in modules if m in UIS]
        if ui and draw(st.booleans()):
            cfg["ingress"] = {m: {"hosts": [{"name": f"{m}.bank.example"}]} for m in ui}
        draw(expose(cfg, modules))
    elif kind == "exchange":
        backend = draw(st.sampled_from(sorted(EXCHANGE_BACKEND_MODULES)))
        modules = list(EXCHANGE_BACKEND_MODULES[backend])
        cfg.update(backend=backend)
        if "rollsite" in modules:
            cfg["rollsite"] = {"partyList": [{"partyId": p, "host": draw(hosts), "port": draw(ports)}
                                             for p in draw(peers(own, 8))]}
        else:
            cfg["trafficServer"] = {
                "sniRoutes": [
                    {"fqdn": f"{p}.fate.org", "tunnelRoute": f"{draw(hosts)}:{draw(ports)}"}
                    for p in draw(peers(own, 8))
                ]
            }
            cfg["nginx"] = {
                "routeTable": {
                    p: {"proxy": [{"host": draw(hosts), "httpPort": draw(ports), "grpcPort": draw(ports)}]}
                    for p in draw(peers(own, 8))
                }
            }
        draw(expose(cfg, modules))
    else:
        modules = ["servingProxy", "servingServer", "servingRedis", "servingZookeeper", "servingAdmin"]
        cfg["servingServer"] = {"fateflow": {"host": draw(hosts), "port": draw(ports)}}
        cfg["servingProxy"] = {"partyList": [{"partyId": p, "host": draw(hosts), "port": draw(ports)}
                                             for p in draw(peers(own))]}
        draw(expose(cfg, modules))
    return cfg


def _mutations(cfg: dict) -> list[tuple[str, Callable[[dict], Any]]]:
    """Ways to break a valid config, each with the key its error must name."""
    kind = cfg["kind"]
    out = [
        ("fate:partyIdentifier", lambda c: c.update(partyIdentifier=1)),
        ("fate:partyId", lambda c: c.update(partyId=0)),
        ("fate:partyId", lambda c: c.update(partyId="abc")),
        ("fate:persistence.keep", lambda c: c["persistence"].update(keep=True)),
        ("fate:cloud.provider", lambda c: c["cloud"].update(provider="ibm")),
        ("fate:backend", lambda c: c.update(backend="spark_kafka")),
        ("fate:podSecurityPolicy", lambda c: c.update(podSecurityPolicy={"enabled": True})),
        ("fate:imageTag", lambda c: c.update(imageTag="bad tag!")),
    ]
    if kind == "exchange":
        out.append(("fate:backend", lambda c: c.update(backend="spark_rabbitmq")))
    if kind == "party":
        out += [
            ("fate:modules[0]", lambda c: c.update(modules=["kafka"] + c["modules"])),
            ("fate:device", lambda c: c.update(device="TPU")),
            ("fate:python.resources.requests.memory", lambda c: c.setdefault("python", {}).update(
                resources={"requests": {"memory": "lots"}})),
            ("fate:servingProxy", lambda c: c.update(servingProxy={})),
        ]
        if c_rollsite := cfg.get("rollsite"):
            own = cfg["partyId"]
            out += [
                (
                    "fate:rollsite.partyList",
                    lambda c: c["rollsite"]["partyList"].append({"partyId": own, "host": "10.0.0.1", "port": 30091}),
                ),
                (
                    "fate:rollsite.exchange.host",
                    lambda c: c["rollsite"].update(exchange={"host": "http://x:1", "port": 1}),
                ),
                ("fate:nodemanager.replicas", lambda c: c["nodemanager"].update(replicas=-1)),
            ]
            if c_rollsite["partyList"]:
                first = c_rollsite["partyList"][0]
                out.append(("fate:rollsite.partyList", lambda c: c["rollsite"]["partyList"].append(dict(first))))
    exposed = [
        (m, s["service"])
        for m, s in cfg.items()
        if isinstance(s, dict) and "service" in s and s["service"].get("nodePorts")
    ]
    if exposed:
        module, svc = exposed[0]
        port_name = next(iter(svc["nodePorts"]))
        out.append((f"fate:{module}.service.nodePorts.{port_name}",
                    lambda c: c[module]["service"]["nodePorts"].update({port_name: 29999})))
        out.append((f"fate:{module}.service.nodePorts.{port_name}",
                    lambda c: c[module]["service"]["nodePorts"].update({port_name: 40000})))
        if len(exposed) > 1 or sum(len(s["nodePorts"]) for _, s in exposed) > 1:
            taken = [(m, k, p) for m, s in exposed for k, p in s["nodePorts"].items()]
            (m1, k1, p1), (m2, k2, _) = taken[0], taken[1]
            # a clash is reported at whichever of the two Services the check reaches second
            out.append((f"fate:{m2}.service.nodePorts.{k2}|fate:{m1}.service.nodePorts.{k1}",
                        lambda c: c[m2]["service"]["nodePorts"].update({k2: p1})))
    return out


@settings(max_examples=VALID_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(valid_config())
def test_valid_configs_render_and_validate(cfg):
    rendered = render(cfg)
    objects = rendered.objects
    assert objects
    for obj in objects:
        if obj["apiVersion"].startswith("networking.istio.io"):
            continue
        k8s_schema.validate(obj)
    COUNTS["valid configs rendered"] += 1
    COUNTS["objects schema-validated"] += len(objects)


@settings(max_examples=INVALID_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_invalid_configs_fail_with_their_key(data):
    cfg = data.draw(valid_config())
    key, mutate = data.draw(st.sampled_from(_mutations(cfg)))
    broken = copy.deepcopy(cfg)
    mutate(broken)
    keys = key.split("|")
    try:
        load_config({k: v for k, v in broken.items()})
    except ConfigError as err:
        assert any(k == want or k.startswith(want) for k in err.keys for want in keys), (key, err.keys)
    else:
        raise AssertionError(f"accepted although {key} is broken: {broken}")
    registered = Rendered()
    try:
        render(broken, into=registered)
    except pulumi.RunError as err:
        assert any(f"  {want}" in str(err) for want in keys)
    else:
        raise AssertionError("the program accepted a config load_config refuses")
    assert registered.resources == []
    COUNTS["invalid configs rejected"] += 1
    COUNTS[f"rejected at {keys[0].split('.')[0].split('[')[0]}"] += 1
