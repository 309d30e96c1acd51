"""The `fate` package with the real engine: the provider in provider/ serves its schema, and the Pulumi YAML example
(examples/yaml) deploys exactly the objects the stack program deploys for the same settings (both rendered by the
real Kubernetes provider)."""

from __future__ import annotations

import copy
import filecmp
import json
import shutil
from pathlib import Path

import pytest
import yaml

from fate_pulumi.package import schema
from stacks.config import SECRET_KEYS
from tests.conftest import ROOT, TEST_SECRETS
from tests.engine.harness import Engine


def test_the_engine_reads_the_packages_schema(engine: Engine):
    res = engine.run("package", "get-schema", str(ROOT / "provider"), timeout=600)
    assert res.rc == 0, res.output[-2000:]
    served, ours = json.loads(res.stdout), schema()  # the engine hands it back parsed and normalised
    assert served["name"] == "fate" and served["version"] == ours["version"]
    assert set(served["types"]) == set(ours["types"])
    for token, component in ours["resources"].items():
        assert set(served["resources"][token]["inputProperties"]) == set(component["inputProperties"]), token
        assert served["resources"][token]["isComponent"] is True


def _files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*.yaml"))}


def test_the_yaml_example_deploys_what_the_stack_program_deploys(engine: Engine):
    if shutil.which("pulumi-language-yaml", path=engine.env.get("PATH")) is None:
        raise RuntimeError("pulumi-language-yaml is not built: run tools/build-toolchain.sh yaml")
    example = yaml.safe_load((ROOT / "examples" / "yaml" / "Pulumi.yaml").read_text())
    settings = example["resources"]["party"]["properties"]
    passwords = {k: TEST_SECRETS[k] for k in settings if k in SECRET_KEYS}
    assert passwords and all(settings[k] == f"${{{k}}}" for k in passwords)  # the example takes them from config

    # the YAML program, rendering to a directory
    project = engine.root / "yaml-example"
    project.mkdir()
    example["packages"]["fate"] = str(ROOT / "provider")
    settings["kubernetes"] = {"renderYamlToDirectory": str(engine.root / "rendered-yaml")}
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(example, sort_keys=False))
    res = engine.run("stack", "init", "example", "--secrets-provider", "passphrase", cwd=project)
    assert res.rc == 0, res.output
    for key, value in passwords.items():
        res = engine.run("config", "set", "--secret", key, value, cwd=project)
        assert res.rc == 0, res.output
    res = engine.run("up", "--yes", "--skip-preview", cwd=project, timeout=900)
    assert res.rc == 0, res.output[-3000:]
    outputs = json.loads(engine.run("stack", "output", "--json", cwd=project).stdout)

    # the stack program with the same settings
    values = {k: v for k, v in settings.items() if k not in SECRET_KEYS}
    values["kubernetes"] = {"renderYamlToDirectory": str(engine.root / "rendered-stack")}
    name = engine.stack("yaml-twin", values, passwords)
    res = engine.run("up", "--yes", "--skip-preview", "--stack", name, timeout=900)
    assert res.rc == 0, res.output[-3000:]
    stack_outputs = json.loads(engine.run("stack", "output", "--json", "--stack", name).stdout)

    yaml_files, stack_files = _files(engine.root / "rendered-yaml"), _files(engine.root / "rendered-stack")
    assert len(yaml_files) > 30 and set(yaml_files) == set(stack_files)
    different = [f for f in yaml_files if not filecmp.cmp(yaml_files[f], stack_files[f], shallow=False)]
    assert not different, different
    assert outputs["connect"] == stack_outputs["connect"] and outputs["summary"] == stack_outputs["summary"]


def _created(preview: dict, component: str) -> set[tuple[str, str]]:
    """(type, name without the component's name) of the Kubernetes objects a preview creates."""
    out = set()
    for step in preview["steps"]:
        type_, name = step["urn"].split("::")[-2].split("$")[-1], step["urn"].split("::")[-1]
        if step["op"] == "create" and type_.startswith("kubernetes:") and name.startswith(f"{component}-"):
            out.add((type_, name.removeprefix(f"{component}-")))
    return out


def test_the_yaml_examples_preview_lists_every_object_also_while_a_password_is_unknown(engine: Engine):
    """`pulumi preview` of the YAML example (passwords from its secret config) lists every object the stack
    program's preview lists for the same settings; so does the example with a password another resource returns
    once created (its id: unknown in a preview), which reaches the provider as an unknown input."""
    if shutil.which("pulumi-language-yaml", path=engine.env.get("PATH")) is None:
        raise RuntimeError("pulumi-language-yaml is not built: run tools/build-toolchain.sh yaml")
    example = yaml.safe_load((ROOT / "examples" / "yaml" / "Pulumi.yaml").read_text())
    example["packages"]["fate"] = str(ROOT / "provider")
    settings = example["resources"]["party"]["properties"]
    passwords = {k: TEST_SECRETS[k] for k in settings if k in SECRET_KEYS}
    values = {k: v for k, v in settings.items() if k not in SECRET_KEYS}
    name = engine.stack("yaml-preview-twin", values, passwords)
    res = engine.run("preview", "--json", "--stack", name, timeout=900)
    assert res.rc == 0, res.output[-3000:]
    expected = _created(json.loads(res.stdout), f"fate-{settings['partyId']}")
    assert len(expected) > 30

    unknown = copy.deepcopy(example)
    unknown["resources"]["sourceProvider"] = {"type": "pulumi:providers:kubernetes", "properties": {
        "renderYamlToDirectory": str(engine.root / "rendered-password-source"), "kubeconfig": ""}}
    unknown["resources"]["passwordSource"] = {
        "type": "kubernetes:core/v1:ConfigMap", "options": {"provider": "${sourceProvider}"},
        "properties": {"metadata": {"name": "password-source", "namespace": "default"}}}
    unknown["resources"]["party"]["properties"]["fateboardPassword"] = "${passwordSource.id}"
    for program, what in ((example, "yaml-preview"), (unknown, "yaml-preview-unknown")):
        project = engine.root / what
        project.mkdir()
        (project / "Pulumi.yaml").write_text(yaml.safe_dump(program, sort_keys=False))
        res = engine.run("stack", "init", what, "--secrets-provider", "passphrase", cwd=project)
        assert res.rc == 0, res.output
        for key, value in passwords.items():
            res = engine.run("config", "set", "--secret", key, value, cwd=project)
            assert res.rc == 0, res.output
        res = engine.run("preview", "--json", cwd=project, timeout=900)
        assert res.rc == 0, res.output[-3000:]
        planned = _created(json.loads(res.stdout), "party")
        assert planned == expected, (what, sorted(expected - planned))


@pytest.fixture(autouse=True)
def _no_stray_sdks():
    """`pulumi package` commands must not leave generated SDKs in the repository."""
    yield
    assert not (ROOT / "provider" / "sdks").exists()


PROGRAM = '''
import pulumi
from stacks.deployment import Party


def team_label(args: pulumi.ResourceTransformArgs):
    """A platform team's transform: every Kubernetes object gets its label."""
    metadata = args.props.get("metadata")
    if not args.type_.startswith("kubernetes:") or not isinstance(metadata, dict):
        return None
    labels = {**(metadata.get("labels") or {}), "team": "platform"}
    return pulumi.ResourceTransformResult({**args.props, "metadata": {**metadata, "labels": labels}}, args.opts)


config = pulumi.Config()
for pid in (9999, 10000):
    party = Party(f"party-{pid}", {
        "partyId": pid, "kubernetes": {"renderYamlToDirectory": f"{config.require('out')}/{pid}"},
        "mysqlPassword": config.require_secret("mysqlPassword"), "fateboardPassword": "board-pw-1",
        "notebookHashedPassword": "", "development": True,
    }, opts=pulumi.ResourceOptions(transforms=[team_label]))
    pulumi.export(f"party-{pid}", party.connect)
'''


def test_a_python_program_holds_two_parties_and_its_transforms_reach_every_object(engine: Engine):
    project = engine.root / "python-user"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(
        {"name": "platform", "runtime": {"name": "python", "options": {"virtualenv": str(ROOT / ".venv")}}}))
    (project / "__main__.py").write_text(PROGRAM)
    out = engine.root / "rendered-python-user"
    assert engine.run("stack", "init", "user", "--secrets-provider", "passphrase", cwd=project).rc == 0
    assert engine.run("config", "set", "out", str(out), cwd=project).rc == 0
    assert engine.run("config", "set", "--secret", "mysqlPassword", TEST_SECRETS["mysqlPassword"], cwd=project).rc == 0
    res = engine.run("up", "--yes", "--skip-preview", cwd=project, timeout=900)
    assert res.rc == 0, res.output[-3000:]
    for pid in (9999, 10000):
        files = _files(out / str(pid))
        assert len(files) > 30
        for path in files.values():
            for obj in yaml.safe_load_all(path.read_text()):
                if obj:
                    assert obj["metadata"]["labels"]["team"] == "platform", path
                    assert obj["metadata"].get("namespace", f"fate-{pid}") == f"fate-{pid}", path
    outputs = json.loads(engine.run("stack", "output", "--json", cwd=project).stdout)
    assert outputs["party-9999"]["partyId"] == 9999 and outputs["party-10000"]["partyId"] == 10000


def test_package_add_gives_a_python_program_a_typed_sdk(engine: Engine):
    """`pulumi package add` of provider/ (our CLI and language host): an SDK is generated and linked, the program
    imports it and previews a party through the provider."""
    project = engine.root / "sdk-user"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(
        {"name": "sdk-user", "runtime": {"name": "python", "options": {"virtualenv": "venv"}}}))
    (project / "requirements.txt").write_text("pulumi==3.259.0\n")
    (project / "__main__.py").write_text(
        "import pulumi_fate\n\n"
        "pulumi_fate.Party('p', party_id=9999, development=True, kubernetes={'render_yaml_to_directory': 'out'})\n")
    res = engine.run("package", "add", str(ROOT / "provider"), cwd=project, timeout=900)
    assert res.rc == 0, res.output[-3000:]
    assert "sdks/fate" in (project / "requirements.txt").read_text()
    assert yaml.safe_load((project / "Pulumi.yaml").read_text())["packages"]["fate"] == str(ROOT / "provider")
    assert engine.run("stack", "init", "dev", "--secrets-provider", "passphrase", cwd=project).rc == 0
    res = engine.run("preview", "--json", cwd=project, timeout=900)
    assert res.rc == 0, res.output[-3000:]
    types = [s["newState"]["type"] for s in json.loads(res.stdout)["steps"]]
    assert "fate:index:Party" in types and sum(t.startswith("kubernetes:") for t in types) > 30
