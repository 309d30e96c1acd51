"""Faults on the local control plane, one trial each (bench/faults.py runs every scenario over several trials and
prints the table of docs/faults.md): a persistent eggroll party survives them after the README's recovery, with
every marker written into its volumes still there.

Run with: python -m pytest -q --engine tests/engine/test_faults.py
"""

from __future__ import annotations

import random

import pytest

from tests.cluster.faults import SCENARIOS, Party, deploy, run

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
