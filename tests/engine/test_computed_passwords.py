"""Passwords another resource computes, with the real engine: a Python program gives Party and Serving passwords
that a resource returns only once it is created (its id: unknown in `pulumi preview`). The preview lists every
object the same deployments with plain passwords list, and `pulumi up` (rendering manifests, no cluster) writes
the same files, Secret values and checksum annotations included. Before, such a deployment was built inside an
apply of its inputs: the preview showed the component alone."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import yaml

from tests.conftest import ROOT, TEST_SECRETS
from tests.engine.harness import Engine

CA = ROOT / "tests" / "fixtures" / "golden-ca"
TLS = {"generate": True, "caCertificate": (CA / "ca.pem").read_text(), "validFrom": "2026-06-01"}

# each deployment with every password it takes: party (eggroll, issued rollsite certificates, Hive, the ZooKeeper
# ACL), party (Spark and RabbitMQ), FATE-Serving
DEPLOYMENTS = {
    "party-eggroll": ("Party", {
        "partyId": 9999, "publicHost": "203.0.113.10", "rollsite": {"tls": {"enabled": True}}, "tls": TLS,
        "python": {"hive": {"host": "hive.example.org"}},
        "serving": {"zookeeper": {"hosts": ["zk.example.org:2181"], "useAcl": True, "user": "fate"}},
    }, ("mysqlPassword", "fateboardPassword", "notebookHashedPassword", "hivePassword", "zookeeperPassword",
        "tlsCaKey")),
    "party-spark": ("Party", {"partyId": 10000, "backend": "spark_rabbitmq"},
                    ("mysqlPassword", "fateboardPassword", "notebookHashedPassword", "rabbitmqPassword")),
    "serving": ("Serving", {"partyId": 9999, "servingServer": {"fateflow": {"host": "192.168.9.1", "port": 30097},
                                                              "cacheType": "redis"}},
                ("servingRedisPassword", "servingAdminPassword")),
}

PROGRAM = '''
import json
import sys

sys.path.insert(0, {root!r})  # this checkout's components

import pulumi
import pulumi_kubernetes as k8s

from stacks.deployment import Party, Serving

config = pulumi.Config()
out = config.require("out")
# a resource whose id the engine learns only by creating it: in a preview every value made from it is unknown
source = k8s.core.v1.ConfigMap(
    "password-source", metadata={{"name": "password-source", "namespace": "default"}},
    opts=pulumi.ResourceOptions(provider=k8s.Provider("source", render_yaml_to_directory=f"{{out}}/source",
                                                      kubeconfig="")))


def computed(password):
    return pulumi.Output.secret(source.id.apply(lambda _id: password))


with open("deployments.json") as f:
    deployments = json.load(f)
for name, (kind, settings, passwords) in deployments.items():
    component = {{"Party": Party, "Serving": Serving}}[kind]
    for how, given in (("computed", computed), ("given", lambda password: password)):
        component(f"{{name}}-{{how}}", {{
            **settings, **{{key: given(value) for key, value in passwords.items()}},
            "kubernetes": {{"renderYamlToDirectory": f"{{out}}/{{name}}-{{how}}"}}}})
'''


def _passwords(keys: tuple[str, ...]) -> dict[str, str]:
    return {k: (CA / "ca.key").read_text() if k == "tlsCaKey" else TEST_SECRETS[k] for k in keys}


def _planned(preview: dict, deployment: str) -> set[tuple[str, str]]:
    """(type, name without the component's name) of what the preview creates under one deployment component."""
    out = set()
    for step in preview["steps"]:
        type_, name = step["urn"].split("::")[-2].split("$")[-1], step["urn"].split("::")[-1]
        if step["op"] == "create" and name.startswith(f"{deployment}-"):
            out.add((type_, name.removeprefix(f"{deployment}-")))
    return out


def _files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*.yaml"))}


def test_passwords_unknown_in_a_preview_show_every_object_and_render_the_same(engine: Engine):
    project = engine.root / "computed-passwords"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(
        {"name": "computed-passwords",
         "runtime": {"name": "python", "options": {"virtualenv": str(ROOT / ".venv")}}}))
    (project / "__main__.py").write_text(PROGRAM.format(root=str(ROOT)))
    out = engine.root / "rendered-computed-passwords"
    deployments = {name: (kind, settings, _passwords(keys)) for name, (kind, settings, keys) in DEPLOYMENTS.items()}
    assert engine.run("stack", "init", "computed", "--secrets-provider", "passphrase", cwd=project).rc == 0
    assert engine.run("config", "set", "out", str(out), cwd=project).rc == 0
    (project / "deployments.json").write_text(json.dumps(deployments))

    res = engine.run("preview", "--json", cwd=project, timeout=900)
    assert res.rc == 0, res.output[-3000:]
    preview = json.loads(res.stdout)
    for name in DEPLOYMENTS:
        given, computed = _planned(preview, f"{name}-given"), _planned(preview, f"{name}-computed")
        assert sum(t.startswith("kubernetes:") for t, _ in given) > 10, name
        assert computed == given, (name, sorted(given - computed))

    res = engine.run("up", "--yes", "--skip-preview", cwd=project, timeout=900)
    assert res.rc == 0, res.output[-3000:]
    for name in DEPLOYMENTS:
        given_files, computed_files = _files(out / f"{name}-given"), _files(out / f"{name}-computed")
        assert len(given_files) > 10 and set(computed_files) == set(given_files), name
        different = [f for f in given_files if not filecmp.cmp(given_files[f], computed_files[f], shallow=False)]
        assert not different, (name, different)
