"""The engine tier's fixtures: the real Pulumi engine (tests/engine/harness.py), no cluster needed, and a local
control plane (tests/cluster/controlplane.py) per test module.

Run with: python -m pytest -q --engine tests/engine
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cluster.controlplane import LocalCluster
from tests.engine.harness import Engine, toolchain_env


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    if shutil.which("pulumi", path=toolchain_env().get("PATH")) is None:
        raise RuntimeError("the pulumi CLI is not built: run tools/build-toolchain.sh")
    return Engine(tmp_path_factory.mktemp("engine"))


@pytest.fixture(scope="module")
def cluster_options() -> dict[str, Any]:
    """Options of the module's control plane (LocalCluster's keyword arguments); a module overrides this fixture to
    give its own (test_jobs.py: kwok stages that complete and fail pods)."""
    return {}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, cluster_options: dict[str, Any]) -> Iterator[LocalCluster]:
    """A local control plane for the test module, stopped after its last test."""
    local = LocalCluster(tmp_path_factory.mktemp("cluster"), **cluster_options).start()
    yield local
    local.stop()
