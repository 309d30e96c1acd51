"""A module is its own file plus one registry entry: a new module added exactly that way, to a copy of the program,
is configured, checked, composed and rendered like the others; a registry entry that forgets a fact fails at import."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components import registry
from tests.conftest import ROOT

ECHO = '''
"""echo: a test module (a web server answering on 5678)."""

from __future__ import annotations

from typing import Optional

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


def _program_with(tmp: Path, entry: str) -> Path:
    """A copy of the program whose registry gains `entry` (and components/echo.py)."""
    copy = tmp / "program"
    for part in ("components", "stacks", "fate_pulumi"):
        shutil.copytree(ROOT / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "components" / "echo.py").write_text(ECHO)
    reg = copy / "components" / "registry.py"
    text = reg.read_text().replace("from . import (\n", "from . import (\n    echo,\n", 1)
    anchor = '    ModuleSpec(\n        "servingProxy",'
    assert text.count(anchor) == 1 and "    echo,\n" in text
    reg.write_text(text.replace(anchor, entry + anchor, 1))
    return copy


def _render(program: Path, tmp: Path, config: dict) -> subprocess.CompletedProcess:
    stack = tmp / "Pulumi.echo.yaml"
    stack.write_text(yaml.safe_dump({"config": {f"fate:{k}": v for k, v in config.items()}}))
    env = {**os.environ, "PYTHONPATH": str(program)}
    return subprocess.run([sys.executable, "-m", "fate_pulumi.cli", "render", str(stack), str(tmp / "out")],
                          cwd=program, env=env, capture_output=True, text=True, timeout=300)


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
