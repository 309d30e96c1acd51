"""A module is its own file plus one registry entry: a new module added exactly that way, to a copy of the program,
is configured, checked, composed and rendered like the others — a federation module too: its routes reach the
NetworkPolicies, preflight and the picture, FATE Flow's service_conf.yaml points at it, and KubeFATE's section of it
imports; a registry entry that forgets a fact fails at import."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

from components import registry
from tests.conftest import ROOT

ECHO = '''
"""echo: a test module (a web server answering on 5678)."""

from __future__ import annotations

from typing import Any, Optional

import pulumi
from pydantic import Field

from .context import Context
from .endpoints import Svc
from .kube import Module, ServicePort, Site, tcp_probes
from .settings import ExposedModule, IngressRoute, StorageSettings

ECHO = Svc("echo", (ServicePort("http", "tcp-echo", 5678),))


class EchoConfig(ExposedModule):
    text: str = Field(default="hello", min_length=1)
    storage: StorageSettings = Field(default_factory=StorageSettings)


class Echo(Module):
    TYPE = "fate:echo:Echo"
    APP = "echo"
    COMPONENT = "test"

    def __init__(self, name: str, site: Site, section: EchoConfig, password: str, ingress: IngressRoute,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        self.config_map("echo-config", {"text": section.text})
        self.secret("echo-secret", {"password": password})
        volume, claim = self.data_volume("data", section.storage)
        port = ECHO.port("http")
        container = self.container("echo", site.images.third_party(("hashicorp/http-echo", "1.0")), section, None,
                                   args=[f"-text={section.text}", f"-listen=:{port}"], **tcp_probes(port))
        self.service(ECHO.name, ECHO.ports, section.service)
        self.ingress("echo", ingress, ECHO.name, port)
        self.stateful_set("echo", ECHO.name, 1, self.pod_spec([container], section, [volume] if volume else []),
                          claim_templates=[claim] if claim else [])
        self.done({"endpoint": ECHO.address("http")})


def build(ctx: Context) -> Echo:
    return Echo("echo", ctx.site, ctx.section(EchoConfig), ctx.secret("echoPassword"), ctx.ingress("echo"), ctx.opts)
'''

ENTRY = ('    ModuleSpec("echo", echo.EchoConfig, echo.build, party=ALL, services=(((), echo.ECHO),), ui=True,\n'
         '               passwords=(Password("echoPassword", "dev", "echo password"),)),\n')


PARTS = ("components", "stacks", "fate_pulumi")


def _program_with(tmp: Path, entry: str, modules: Optional[dict[str, str]] = None) -> Path:
    """A copy of the program whose registry gains `entry` (and components/<module>.py for each of `modules`, by
    default echo)."""
    modules = modules if modules is not None else {"echo": ECHO}
    copy = tmp / "program"
    for part in PARTS:
        shutil.copytree(ROOT / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    reg = copy / "components" / "registry.py"
    text = reg.read_text()
    for name, source in modules.items():
        (copy / "components" / f"{name}.py").write_text(source)
        text = text.replace("from . import (\n", f"from . import (\n    {name},\n", 1)
    anchor = '    ModuleSpec(\n        "servingProxy",'
    assert text.count(anchor) == 1 and all(f"    {name},\n" in text for name in modules)
    reg.write_text(text.replace(anchor, entry + anchor, 1))
    return copy


def _changed_files(copy: Path) -> list[str]:
    """The files of the copy that differ from the program's or are new: what adding the module took."""
    out: list[str] = []

    def walk(cmp: filecmp.dircmp, at: str) -> None:
        out.extend(f"{at}/{f}" for f in cmp.diff_files + cmp.left_only if not f.startswith("__pycache__"))
        for name, sub in cmp.subdirs.items():
            if name != "__pycache__":
                walk(sub, f"{at}/{name}")

    for part in PARTS:
        walk(filecmp.dircmp(copy / part, ROOT / part, ignore=["__pycache__"]), part)
    return sorted(out)


def _stack(tmp: Path, name: str, config: dict) -> Path:
    stack = tmp / f"Pulumi.{name}.yaml"
    stack.write_text(yaml.safe_dump({"config": {f"fate:{k}": v for k, v in config.items()}}))
    return stack


def _run(program: Path, *args: str) -> subprocess.CompletedProcess:
    """`fate-pulumi <args>` of the copy of the program."""
    env = {**os.environ, "PYTHONPATH": str(program)}
    return subprocess.run([sys.executable, "-m", "fate_pulumi.cli", *args], cwd=program, env=env,
                          capture_output=True, text=True, timeout=300)


def _render(program: Path, tmp: Path, config: dict, name: str = "echo") -> subprocess.CompletedProcess:
    return _run(program, "render", str(_stack(tmp, name, config)), str(tmp / "out"))


@pytest.fixture(scope="module")
def echo_program(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("registry")
    return _program_with(tmp, ENTRY)


def test_a_module_from_its_file_and_one_registry_entry(echo_program, tmp_path):
    config = {"partyId": 9999, "development": True,
              "modules": ["rollsite", "clustermanager", "nodemanager", "mysql", "python", "echo"],
              "echo": {"text": "hi", "resourcesPreset": "small",
                       "service": {"type": "NodePort", "nodePorts": {"http": 31234}}},
              "ingress": {"echo": {"hosts": [{"name": "echo.bank.example"}]}}}
    done = _render(echo_program, tmp_path, config)
    assert done.returncode == 0, done.stderr
    assert "fate:echoPassword is not set" in done.stderr  # its password is a stack secret like every other
    objects = yaml.safe_load_all((tmp_path / "out" / "manifests.yaml").read_text())
    by = {(o["kind"], o["metadata"]["name"]): o for o in objects if o}
    sts = by[("StatefulSet", "echo")]
    c = sts["spec"]["template"]["spec"]["containers"][0]
    assert c["args"][0] == "-text=hi"
    assert c["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "1536Mi"}}  # preset
    assert "fate.federatedai.io/config-checksum" in sts["spec"]["template"]["metadata"]["annotations"]
    assert by[("Service", "echo")]["spec"]["ports"][0]["nodePort"] == 31234
    assert by[("Ingress", "echo")]["spec"]["rules"][0]["host"] == "echo.bank.example"
    assert ("NetworkPolicy", "echo") in by and ("Secret", "echo-secret") in by
    outputs = json.loads((tmp_path / "out" / "outputs.json").read_text())
    assert "echo" in outputs["modules"]


def test_the_new_module_is_checked_like_the_others(echo_program, tmp_path):
    modules = ["rollsite", "clustermanager", "nodemanager", "mysql", "python", "echo"]
    typo = _render(echo_program, tmp_path, {"partyId": 9999, "development": True, "modules": modules,
                                            "echo": {"txt": "typo"}})
    assert typo.returncode == 2 and "fate:echo.txt" in typo.stderr and "Traceback" not in typo.stderr
    port = _render(echo_program, tmp_path, {"partyId": 9999, "development": True, "modules": modules,
                                            "echo": {"service": {"type": "NodePort", "nodePorts": {"grpc": 31235}}}})
    assert port.returncode == 2 and "fate:echo.service.nodePorts.grpc" in port.stderr
    assert "echo has no port 'grpc'; ports: http" in port.stderr
    # a party without the module refuses its section only when it belongs to another kind; an exchange does
    exchange = _render(echo_program, tmp_path, {"kind": "exchange", "partyId": 1, "echo": {"text": "x"}})
    assert exchange.returncode == 2 and "fate:echo" in exchange.stderr and "kind exchange" in exchange.stderr


def test_an_entry_that_forgets_its_service_fails_at_import(tmp_path):
    forgetful = ENTRY.replace("services=(((), echo.ECHO),), ", "")
    program = _program_with(tmp_path, forgetful)
    done = subprocess.run([sys.executable, "-c", "import components.registry"], cwd=program,
                          env={**os.environ, "PYTHONPATH": str(program)}, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "echo: section echo has a service but no Service in services" in done.stderr


def test_every_table_comes_from_the_registry():
    from stacks import config

    assert config.PARTY_MODULES == tuple(m.name for m in registry.MODULES if m.party)
    assert set(config.SECRET_KEYS) >= set(registry.PASSWORDS)
    assert {path for _m, path, _svc in registry.EXPOSED} == {
        ("rollsite",), ("mysql",), ("python",), ("fateboard",), ("spark", "master"), ("hdfs", "namenode"),
        ("hdfs", "datanode"), ("trafficServer",), ("nginx",), ("rabbitmq",), ("pulsar",), ("servingProxy",),
        ("servingServer",)}


RELAY = '''
"""relay: a test federation module: a TCP relay between parties on 7070, routed by a party list."""

from __future__ import annotations

from typing import Any, Optional

import pulumi
from pydantic import Field

from .context import Context
from .endpoints import Svc
from .files import to_json
from .kube import Module, ServicePort, Site, node_port_outputs, tcp_probes
from .routing import Address, Sections
from .settings import ExposedModule, PartyRoute

RELAY = Svc("relay", (ServicePort("grpc", "tcp-relay", 7070),))


class RelayConfig(ExposedModule):
    party_list: list[PartyRoute] = Field(default_factory=list)
    window: int = Field(default=8, ge=1)


class Relay(Module):
    TYPE = "fate:relay:Relay"
    APP = "relay"
    COMPONENT = "federation"
    PEER_FACING = True

    def __init__(self, name: str, site: Site, section: RelayConfig, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        table = {str(p.party_id): f"{p.host}:{p.port}" for p in section.party_list}
        self.config_map("relay-config", {"routes.json": to_json({"routes": table, "window": section.window})})
        port = RELAY.port("grpc")
        container = self.container("relay", site.images.third_party(("alpine/socat", "1.8.0.0")), section, None,
                                   args=[f"TCP-LISTEN:{port},fork", "STDOUT"], **tcp_probes(port))
        service = self.service(RELAY.name, RELAY.ports, section.service)
        self.deployment("relay", 1, self.pod_spec([container], section, []))
        self.node_ports = node_port_outputs(service)
        self.done({"endpoint": RELAY.address("grpc"), "nodePorts": self.node_ports})


def routes(of: Sections) -> list[Address]:
    return [(p.host, p.port) for p in of.section(RelayConfig).party_list]


def fateflow_link(ctx: Context, client: None) -> dict[str, Any]:
    return {"host": RELAY.name, "port": RELAY.port("grpc")}


def build(ctx: Context) -> Relay:
    return Relay("relay", ctx.site, ctx.section(RelayConfig), ctx.opts)
'''

RELAY_ENTRY = (
    '    ModuleSpec("relay", relay.RelayConfig, relay.build, party=ALL, services=(((), relay.RELAY),),\n'
    '               entry_point=True, connect="relay", routes=Routes(relay.routes, traffic=("relay", "#404040")),\n'
    '               fateflow=FateflowLink(("fate_on_eggroll", "relay"), relay.fateflow_link),\n'
    '               kubefate=KubefateSection(node_ports={"nodePort": "grpc"}, party_list="partyList",\n'
    '                                        keys={"window": "window"})),\n')

EGGROLL = ["rollsite", "clustermanager", "nodemanager", "mysql", "python"]


@pytest.fixture(scope="module")
def relay_program(tmp_path_factory):
    return _program_with(tmp_path_factory.mktemp("relay"), RELAY_ENTRY, {"relay": RELAY})


def _party(party_id: int, host: str, node_port: Optional[int], peers: list[tuple[int, str, int]]) -> dict:
    service = {"type": "NodePort", "nodePorts": {"grpc": node_port}} if node_port else {"type": "ClusterIP"}
    return {"partyId": party_id, "development": True, "publicHost": host, "modules": [*EGGROLL, "relay"],
            "relay": {"service": service,
                      "partyList": [{"partyId": p, "host": h, "port": port} for p, h, port in peers]}}


def test_a_federation_module_from_its_file_and_one_registry_entry(relay_program, tmp_path):
    """Adding the router took its file and its registry entry, nothing else; the party deploys it, FATE Flow's
    service_conf.yaml points at it, its routes open its NetworkPolicy to the peer's namespace (a peer in the same
    cluster, its Service not exposed), its Service is in the stack output."""
    assert _changed_files(relay_program) == ["components/registry.py", "components/relay.py"]
    config = _party(9999, "203.0.113.9", None, [(10000, "relay.fate-10000", 7070), (10001, "203.0.113.11", 31071)])
    done = _render(relay_program, tmp_path, config, "party-9999")
    assert done.returncode == 0, done.stderr
    objects = yaml.safe_load_all((tmp_path / "out" / "manifests.yaml").read_text())
    by = {(o["kind"], o["metadata"]["name"]): o for o in objects if o}
    routes = json.loads(by[("ConfigMap", "relay-config")]["data"]["routes.json"])["routes"]
    assert routes == {"10000": "relay.fate-10000:7070", "10001": "203.0.113.11:31071"}
    conf = yaml.safe_load(by[("ConfigMap", "python-config")]["data"]["service_conf.yaml"])
    assert conf["fate_on_eggroll"]["relay"] == {"host": "relay", "port": 7070}
    assert conf["fate_on_eggroll"]["rollsite"] == {"host": "rollsite", "port": 9370}  # the others' links stay
    peer: dict[str, Any] = {
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "fate-10000"}}}],
        "ports": [{"port": 7070, "protocol": "TCP"}]}
    assert peer in by[("NetworkPolicy", "relay")]["spec"]["ingress"]
    assert peer["from"][0] in by[("NetworkPolicy", "rollsite")]["spec"]["ingress"][-1]["from"]  # all peer-facing
    assert by[("Service", "relay")]["spec"]["type"] == "ClusterIP"
    outputs = json.loads((tmp_path / "out" / "outputs.json").read_text())
    assert "relay" in outputs["connect"]["nodePorts"]


def test_preflight_and_the_picture_follow_its_routes(relay_program, tmp_path):
    """Two parties' relays route to each other's public address: preflight finds each target and the way back, and
    says so when one has no route back; the picture draws the relay's arrows in its colour."""
    a = _stack(tmp_path, "party-9999", _party(9999, "203.0.113.9", 31070, [(10000, "203.0.113.10", 31070)]))
    b = _stack(tmp_path, "party-10000", _party(10000, "203.0.113.10", 31070, [(9999, "203.0.113.9", 31070)]))
    both = _run(relay_program, "preflight", str(a), str(b))
    assert "party-9999/relay -> 203.0.113.10:31070" in both.stdout, both.stdout + both.stderr
    assert "party-10000/relay -> 203.0.113.9:31070" in both.stdout
    assert "has no route back" not in both.stdout
    one_way = _stack(tmp_path, "party-10000", _party(10000, "203.0.113.10", 31070, []))
    lonely = _run(relay_program, "preflight", str(a), str(one_way))
    assert lonely.returncode == 1 and "party-10000 has no route back to party-9999" in lonely.stdout, lonely.stdout
    dot = tmp_path / "federation.dot"
    drawn = _run(relay_program, "picture", "--out", str(dot), str(a), str(b))
    assert drawn.returncode == 0, drawn.stderr
    arrows = [line for line in dot.read_text().splitlines() if "->" in line and "203.0.113.10:31070" in line]
    assert arrows and all('color="#404040"' in line for line in arrows), arrows


def test_kubefate_section_of_the_federation_module_imports(relay_program, tmp_path):
    """A KubeFATE cluster file's section of the router imports by its registry entry: Service, scheduling, party
    list (the own party dropped), plain settings; a key it does not know is refused, naming it."""
    cluster: dict[str, Any] = {
               "name": "fate-9999", "namespace": "fate-9999", "chartName": "fate", "chartVersion": "v1.11.2",
               "partyId": 9999, "computing": "Eggroll", "federation": "Eggroll", "storage": "Eggroll",
               "device": "CPU", "modules": [*EGGROLL, "relay"],
               "relay": {"type": "NodePort", "nodePort": 31070, "nodeSelector": {"zone": "a"}, "window": 16,
                         "partyList": [{"partyId": 10000, "partyIp": "203.0.113.10", "partyPort": 31070},
                                       {"partyId": 9999, "partyIp": "203.0.113.9", "partyPort": 31070}]}}
    source = tmp_path / "cluster.yaml"
    source.write_text(yaml.safe_dump(cluster))
    out = tmp_path / "Pulumi.imported.yaml"
    done = _run(relay_program, "import", str(source), "-o", str(out))
    assert done.returncode == 0, done.stderr
    imported = yaml.safe_load(out.read_text())["config"]
    assert imported["fate:relay"] == {
        "service": {"type": "NodePort", "nodePorts": {"grpc": 31070}}, "nodeSelector": {"zone": "a"}, "window": 16,
        "partyList": [{"partyId": 10000, "host": "203.0.113.10", "port": 31070}]}
    assert "relay" in imported["fate:modules"]
    rendered = _run(relay_program, "render", "--development", str(out), str(tmp_path / "out"))
    assert rendered.returncode == 0, rendered.stderr  # the import is a stack the program deploys
    cluster["relay"]["windw"] = 3
    source.write_text(yaml.safe_dump(cluster))
    typo = _run(relay_program, "import", str(source), "-o", str(tmp_path / "Pulumi.typo.yaml"))
    assert typo.returncode == 2 and "relay.windw" in typo.stderr, typo.stderr


def test_a_federation_link_to_no_python_setting_fails_at_import(tmp_path):
    wrong = RELAY_ENTRY.replace("relay.fateflow_link)", 'relay.fateflow_link, client="relai")')
    program = _program_with(tmp_path, wrong, {"relay": RELAY})
    done = subprocess.run([sys.executable, "-c", "import components.registry"], cwd=program,
                          env={**os.environ, "PYTHONPATH": str(program)}, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "relay: its FATE Flow link's client python.relai does not exist" in done.stderr
