"""The GitHub workflows shipped in .github/workflows run in a user's fork as written: every secret they read is one
the README's table documents, the CLI they install is the one requirements.txt's SDK is tested with, each stack's
kubeconfig secret follows the documented naming, and the `fate-pulumi` commands they run are accepted."""

from __future__ import annotations

import re

import pytest
import yaml

from fate_pulumi import cli
from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
README = (ROOT / "README.md").read_text()


def _steps(doc: dict) -> list[dict]:
    return [step for job in doc["jobs"].values() for step in job["steps"]]


def _secrets(text: str) -> set[str]:
    return set(re.findall(r"secrets\.([A-Z0-9_]+)", text))


def test_both_workflows_ship():
    assert [p.name for p in WORKFLOWS] == ["drift.yml", "preview.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_secret_read_is_documented_in_the_readme(path):
    text = path.read_text()
    table = README.split("repository secrets (Settings", 1)[1].split("\n\n", 2)[1]
    documented = set(re.findall(r"^\| `([A-Z0-9_<>]+)` \|", table, re.M))
    assert {"PULUMI_ACCESS_TOKEN", "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "KUBECONFIG_<STACK>"} <= documented
    assert _secrets(text) <= documented, _secrets(text) - documented
    # the per-stack kubeconfig secret: KUBECONFIG_ + the stack name upper-cased, '-' as '_'
    doc = yaml.safe_load(text)
    stacks = [entry for job in doc["jobs"].values() for entry in job.get("strategy", {}).get("matrix", {})
              .get("include", [])]
    assert stacks, "the stacks are listed under matrix.include"
    for entry in stacks:
        assert entry["kubeconfig"] == "KUBECONFIG_" + entry["stack"].upper().replace("-", "_"), entry
    assert "secrets[matrix.kubeconfig]" in text


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_the_cli_installed_is_the_pinned_one(path):
    found = re.search(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert found is not None, "requirements.txt pins no pulumi"
    pinned = found.group(1)
    actions = [s for s in _steps(yaml.safe_load(path.read_text())) if s.get("uses", "").startswith("pulumi/actions@")]
    assert actions
    for step in actions:
        assert str(step["with"]["pulumi-version"]) == pinned


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_backend_and_passphrase_reach_every_pulumi_step(path):
    for step in _steps(yaml.safe_load(path.read_text())):
        runs_pulumi = "fate-pulumi" in step.get("run", "") or step.get("with", {}).get("command")
        if not runs_pulumi:
            continue
        env = step.get("env", {})
        assert {"PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE"} <= set(env), step
        backend = "PULUMI_BACKEND_URL" in env or "PULUMI_BACKEND_URL" in str(step.get("with", {}).get("cloud-url"))
        assert backend, step


def test_the_drift_command_the_workflow_runs_is_accepted(tmp_path, capsys):
    doc = yaml.safe_load((ROOT / ".github" / "workflows" / "drift.yml").read_text())
    [line] = [s["run"] for s in _steps(doc) if "fate-pulumi" in s.get("run", "")]
    argv = line.replace("${{ matrix.stack }}", "party-9999").split()[1:]
    assert argv[:1] == ["drift"]
    # the arguments parse; without a project in --work-dir it stops at that (exit 2), not at the arguments
    assert cli.main([*argv, "--work-dir", str(tmp_path)]) == 2
    assert "no Pulumi.yaml" in capsys.readouterr().err
