"""`pulumi preview` / `pulumi up` with the real engine and Kubernetes provider, no cluster
(tests/engine/harness.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stacks.program import INTERRUPTED
from tests.conftest import ROOT, STACK_FILES, TEST_SECRETS, render_file
from tests.engine.harness import CLUSTER_STACK, UNREACHABLE_KUBECONFIG, Engine, stack_file_values


@pytest.fixture(scope="session")
def cluster_stack(engine: Engine) -> str:
    """The stack a party hands its cluster from: a program that only exports a kubeconfig."""
    project = engine.root / "eks-cluster"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(
        {"name": "eks-cluster", "runtime": {"name": "python", "options": {"virtualenv": str(ROOT / ".venv")}}}))
    (project / "__main__.py").write_text(
        "import json, pulumi\n"
        f"pulumi.export('kubeconfig', pulumi.Output.secret(json.dumps({UNREACHABLE_KUBECONFIG!r})))\n")
    res = engine.run("stack", "init", CLUSTER_STACK, "--secrets-provider", "passphrase", cwd=project)
    assert res.rc == 0, res.output
    res = engine.run("up", "--yes", "--skip-preview", "--stack", CLUSTER_STACK, cwd=project)
    assert res.rc == 0, res.output
    return CLUSTER_STACK


def _preview(engine: Engine, name: str, *extra: str):
    return engine.run("preview", "--json", "--stack", name, *extra)


def _created(preview: dict) -> set[tuple[str, str]]:
    return {(s["urn"].split("::")[-2].split("$")[-1], s["urn"].split("::")[-1])
            for s in preview["steps"] if s["op"] == "create"}


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_preview_every_stack(engine: Engine, cluster_stack: str, path: Path):
    values, secrets = stack_file_values(path)
    name = engine.stack(path.stem.removeprefix("Pulumi."), values, secrets)
    res = _preview(engine, name)
    assert res.rc == 0, res.output
    preview = res.json()
    # the engine plans exactly the Kubernetes objects the offline render shows
    expected = {(r.type, r.name) for r in render_file(path).resources if r.type.startswith("kubernetes:")}
    planned = {(t, n) for t, n in _created(preview) if t.startswith("kubernetes:")}
    assert planned == expected
    # the deployment's own provider, named after it, as offline
    own = {(r.type, r.name) for r in render_file(path).resources if r.type == "pulumi:providers:kubernetes"}
    assert len(own) == 1 and own <= _created(preview)
    assert any(t.startswith("fate:") for t, _ in _created(preview))  # the module components


def test_broken_config_fails_with_the_keyed_message(engine: Engine):
    name = engine.stack("broken", {"partyId": 9999, "development": True, "rollsite": {"nodeport": 30091}}, {})
    res = _preview(engine, name)
    assert res.rc != 0
    assert "fate:rollsite.nodeport: unknown key; allowed here:" in res.output
    missing = engine.stack("no-password", {"partyId": 9999}, {})
    res = _preview(engine, missing)
    assert res.rc != 0 and "pulumi config set --secret fate:mysqlPassword" in res.output


RENDERED = [
    "Pulumi.party-9999-eggroll.yaml",
    "Pulumi.party-9999-spark-rabbitmq.yaml",
    "Pulumi.party-9999-spark-pulsar.yaml",
    "Pulumi.party-9999-spark-local-pulsar.yaml",
    "Pulumi.exchange-rollsite.yaml",
    "Pulumi.serving-9999.yaml",
]


@pytest.mark.parametrize("file_name", RENDERED)
def test_up_renders_yaml_with_the_real_provider(engine: Engine, file_name: str):
    """kubernetes.renderYamlToDirectory: `pulumi up` writes manifests (GitOps) - the same objects as offline."""
    path = ROOT / "examples" / file_name
    values, secrets = stack_file_values(path)
    out = engine.root / f"rendered-{path.stem}"
    values["kubernetes"] = {"renderYamlToDirectory": str(out)}
    name = engine.stack(f"render-{path.stem.removeprefix('Pulumi.')}", values, secrets)
    res = engine.run("up", "--yes", "--skip-preview", "--stack", name)
    assert res.rc == 0, res.output
    written = set()
    for f in (out / "1-manifest").glob("*.yaml"):
        for obj in yaml.safe_load_all(f.read_text()):
            if obj:
                written.add((obj["kind"], obj["metadata"]["name"]))
    assert written == render_file(path).kinds_names()


def test_policy_pack_passes_on_examples_and_stops_a_violation(engine: Engine):
    path = ROOT / "examples" / "Pulumi.party-9999-spark-pulsar.yaml"
    values, secrets = stack_file_values(path)
    ok = engine.stack("policy-ok", values, secrets)
    res = engine.run("preview", "--stack", ok, "--policy-pack", str(engine.project / "policy"))
    assert res.rc == 0, res.output
    bad_values = {**values, "persistence": {"enabled": True, "retainOnDestroy": False}}
    bad = engine.stack("policy-violation", bad_values, secrets)
    res = engine.run("preview", "--stack", bad, "--policy-pack", str(engine.project / "policy"))
    assert res.rc != 0
    assert "fate-persistent-data-retained" in res.output and "deletes its PVCs" in res.output


def test_a_failed_up_says_so_in_one_line_without_a_traceback(engine: Engine):
    """The cluster is unreachable: the first object fails, the engine ends the update and closes the language host
    with SIGINT to its process group while the program still waits for the engine (stacks/program.py
    stop_quietly_on_interrupt). Python's default printed two KeyboardInterrupt tracebacks of the SDK's internals."""
    values = {"partyId": 9999, "persistence": {"enabled": False}}
    secrets = {k: TEST_SECRETS[k] for k in ("mysqlPassword", "fateboardPassword", "notebookHashedPassword")}
    name = engine.stack("unreachable-up", values, secrets)
    res = engine.run("up", "--yes", "--skip-preview", "--stack", name)
    assert res.rc != 0
    assert "cluster is unreachable" in res.output, res.output[-4000:]
    assert "Traceback" not in res.output and "KeyboardInterrupt" not in res.output, res.output[-4000:]
    assert res.output.count(INTERRUPTED) == 2, res.output[-4000:]  # the Stack's line, and the summary's
