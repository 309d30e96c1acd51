"""Upgrading the program never replaces a deployed resource: stacks brought up (render mode, real engine) by the
program of an earlier commit are previewed by this one; no step may create, delete or replace anything (updates
may: a deliberate change of what is deployed). A replaced StatefulSet or PVC would be data lost on a live party.

BASELINE is the commit before the module-registry redesign. It needs the repository's history; a clone without it
(a shallow one) reports this test as skipped, with the reason.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT, SECRET_KEYS, stack_config
from tests.engine.harness import Engine

BASELINE = "2d4b489"
STACKS = ("Pulumi.party-9999-eggroll.yaml", "Pulumi.party-9999-spark-pulsar.yaml", "Pulumi.exchange-pulsar.yaml",
          "Pulumi.serving-9999.yaml")
CHANGE_OPS = {"create", "delete", "replace", "create-replacement", "delete-replaced", "discard-replaced"}


@pytest.fixture(scope="module")
def baseline(engine: Engine) -> Path:
    """The program at BASELINE, beside the current one, sharing its state backend."""
    found = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{BASELINE}^{{commit}}"], capture_output=True)
    if found.returncode != 0:
        pytest.skip(f"commit {BASELINE} is not in this clone (shallow?): no earlier program to upgrade from")
    old = engine.root / "baseline"
    old.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASELINE], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(old, filter="data")
    (old / ".venv").symlink_to(ROOT / ".venv")
    return old


@pytest.mark.parametrize("name", STACKS)
def test_upgrade_replaces_nothing(engine: Engine, baseline: Path, name: str):
    path = next(p for p in EXAMPLES if p.name == name)
    values = stack_config(path)
    secrets = {k: v for k, v in values.items() if k in SECRET_KEYS}
    plain = {k: v for k, v in values.items() if k not in SECRET_KEYS}
    # render mode: no cluster; a relative directory, so both programs give the provider the same input
    plain["kubernetes"] = {"renderYamlToDirectory": "rendered"}
    stack = "upgrade-" + name.removeprefix("Pulumi.").removesuffix(".yaml")
    engine.stack(stack, plain, secrets, cwd=baseline)
    up = engine.run("up", "--yes", "--skip-preview", "--stack", stack, cwd=baseline, timeout=900)
    assert up.rc == 0, up.output[-3000:]
    (engine.project / f"Pulumi.{stack}.yaml").write_text((baseline / f"Pulumi.{stack}.yaml").read_text())
    preview = engine.run("preview", "--json", "--stack", stack, timeout=900)
    assert preview.rc == 0, preview.output[-3000:]
    result = json.loads(preview.stdout)
    # the one thing an upgrade may add: the deployment's new top-level component (fate:index:Party ...), which
    # holds no object of its own; everything else was there and stays, under its new name (aliases)
    new_components = [s for s in result["steps"] if s["op"] == "create" and _type(s["urn"]).startswith("fate:index:")]
    changed = [(s["op"], s["urn"].rsplit("::", 1)[-1]) for s in result["steps"]
               if s["op"] in CHANGE_OPS and s not in new_components]
    assert not changed, changed
    summary = result["changeSummary"]  # the steps list leaves out unchanged resources; the summary counts them
    assert summary.get("create", 0) == len(new_components) <= 1, summary
    assert not set(summary) & (CHANGE_OPS - {"create"}) and summary.get("same", 0) > 5, summary


def _type(urn: str) -> str:
    """The resource's own type in a URN (the last of its type chain)."""
    return urn.split("::")[-2].split("$")[-1]
