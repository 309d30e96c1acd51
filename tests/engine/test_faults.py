"""Faults on the local control plane, one trial each (bench/faults.py runs every scenario over several trials and
prints the table of docs/faults.md): a persistent eggroll party survives them after the README's recovery, with
every marker written into its volumes still there.

Run with: python -m pytest -q --engine tests/engine/test_faults.py
"""

from __future__ import annotations

import random

import pytest

from tests.cluster.faults import SCENARIOS, Party, deploy, run
from tests.engine.harness import Engine

# the faults CI can afford on every change (~2 min); the others run in bench/faults.py
IN_CI = ("pulumi killed during up", "pulumi killed during destroy", "two pulumi up at once", "node drained",
         "etcd restarted between two ups")


@pytest.fixture(scope="module")
def party(tmp_path_factory):
    cluster, deployed = deploy(tmp_path_factory.mktemp("faults"))
    assert deployed.markers, "the persistent party has no bound volume to mark"
    yield deployed
    cluster.stop()


@pytest.mark.parametrize("scenario", IN_CI)
def test_party_survives(party: Party, scenario: str):
    assert scenario in SCENARIOS
    outcome = run(party, scenario, random.Random(f"{scenario} 1"))
    assert outcome.converged, f"{scenario} ({outcome.fault}): {outcome.problems}"
    assert (outcome.duplicated, outcome.orphaned, outcome.missing, outcome.markers_lost) == (0, 0, 0, 0)
    assert party.lost_markers() == []


def test_state_sidecar(engine: Engine):
    """The file backend as the README has users log in (`?metadata=skip`) writes each state file by a rename alone,
    no `<stack>.json.attrs` beside it; on a backend logged in without it, a run killed while rewriting that sidecar
    leaves it empty and every command fails with `failed to load checkpoint: EOF` until it is removed (the README's
    fix), after which the state reads as before."""
    name = engine.stack("sidecar", {"partyId": 9999}, {})
    before = engine.run("stack", "export", "--stack", name)
    assert before.rc == 0, before.output
    (checkpoint,) = engine.state.glob(f".pulumi/stacks/*/{name}.json")
    assert list(engine.state.rglob("*.attrs")) == []
    sidecar = checkpoint.with_name(checkpoint.name + ".attrs")
    sidecar.write_text("")  # what the killed rewrite leaves
    broken = engine.run("stack", "export", "--stack", name)
    assert broken.rc != 0 and "failed to load checkpoint: EOF" in broken.output
    sidecar.unlink()
    after = engine.run("stack", "export", "--stack", name)
    assert after.rc == 0 and after.stdout == before.stdout
