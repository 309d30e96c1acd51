"""Shared test helpers: run the program or one component under Pulumi mocks and look at what it registered."""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

from fate_pulumi.mocks import Rendered, run_program, run_under_mocks
from fate_pulumi.render import engine_config
from stacks.config import SECRET_KEYS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("Pulumi.*.yaml"))
STACK_FILES = [ROOT / "Pulumi.dev.yaml", *EXAMPLES]

# Distinct, recognisable passwords: tests look for them where they must not be.
TEST_SECRETS = {
    "mysqlPassword": "Mysql-Secret-1",
    "fateboardPassword": "Board-Secret-2",
    "rabbitmqPassword": "Rabbit-Secret-3",
    "notebookHashedPassword": "argon2:$argon2id$v=19$m=10240,t=10,p=8$Notebook-Secret-4",
    "servingRedisPassword": "Redis-Secret-5",
    "servingAdminPassword": "Admin-Secret-6",
    "hivePassword": "Hive-Secret-7",
    "zookeeperPassword": "Zk-Secret-8",
}


def stack_config(path: Path) -> dict[str, Any]:
    """The `fate:*` values of a stack file, keys without the namespace, secure values replaced by TEST_SECRETS."""
    doc = yaml.safe_load(path.read_text())["config"]
    out = {}
    for key, value in doc.items():
        name = key.split(":", 1)[1]
        out[name] = TEST_SECRETS[name] if isinstance(value, dict) and "secure" in value else value
    return out


def render(values: dict[str, Any], secret: bool = True, into: Optional[Rendered] = None) -> Rendered:
    """Run the program with `fate:*` values (no namespace); password keys are passed as secret config."""
    config = {f"fate:{k}": v for k, v in values.items()}
    engine, _ = engine_config(config)
    secret_keys = [f"fate:{k}" for k in values if k in SECRET_KEYS] if secret else []
    return run_program(engine, secret_keys, into=into)


@functools.cache
def _render_file(path: str) -> Rendered:
    return render(stack_config(Path(path)))


def render_file(path: Path) -> Rendered:
    """Render a stack file (cached: tests must not mutate the result)."""
    return _render_file(str(path))


def run_component(build: Callable[[], Any]) -> Rendered:
    """Run a function that creates components under mocks."""
    return run_under_mocks(lambda: build() and {})


def with_secrets(values: dict[str, Any], *keys: str) -> dict[str, Any]:
    out = copy.deepcopy(values)
    for k in keys:
        out[k] = TEST_SECRETS[k]
    return out


def party(**values: Any) -> dict[str, Any]:
    """A minimal valid party config with all passwords set, plus overrides."""
    base: dict[str, Any] = {"partyId": 9999, **{k: TEST_SECRETS[k] for k in
                                               ("mysqlPassword", "fateboardPassword", "notebookHashedPassword",
                                                "rabbitmqPassword")}}
    base.update(values)
    return base


def objects_by(rendered: Rendered, kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in rendered.objects if o["kind"] == kind}


def container(obj: dict, name: str) -> dict:
    spec = obj["spec"]["template"]["spec"]
    for c in spec["containers"] + spec.get("initContainers", []):
        if c["name"] == name:
            return c
    raise KeyError(name)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print how many generated configs the property tests checked (tests/config/test_fuzz.py)."""
    import sys

    fuzz = sys.modules.get("tests.config.test_fuzz")
    if fuzz is not None and fuzz.COUNTS:
        terminalreporter.section("generated configurations")
        for what, n in sorted(fuzz.COUNTS.items()):
            terminalreporter.write_line(f"{n:7d}  {what}")


# Tiers that run only when asked for (.ci/run does, after installing what they need); deselected, not skipped,
# otherwise: option -> the tests it selects
TIERS = {"--engine": "tests/engine/", "--daemons": "tests/contract/test_daemons.py", "--fate": "tests/fate/"}


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """The everyday run (no tier asked for) spreads over the machine's cores, up to four, with pytest-xdist; a tier runs
    in one process (one local cluster, one set of daemons). `-n N` on the command line wins."""
    if not hasattr(config.option, "numprocesses") or config.option.numprocesses is not None \
            or hasattr(config, "workerinput"):  # no xdist; -n given; or a worker itself
        return
    tier = any(config.getoption(opt) for opt in TIERS)
    config.option.numprocesses = 0 if tier else min(4, os.cpu_count() or 1)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--engine", action="store_true", help="run the real-engine tier (tests/engine); needs the toolchain"
    )
    parser.addoption("--daemons", action="store_true",
                     help="run the real-software tier (tests/contract/test_daemons.py); needs Debian's daemons")
    parser.addoption("--fate", action="store_true",
                     help="run the real-FATE tier (tests/fate): FATE 2.2 itself; needs tools/fate-2.2.sh's venv")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def tier(item: pytest.Item) -> Optional[str]:
        path = str(item.fspath).replace("\\", "/")
        return next((opt for opt, where in TIERS.items() if where in path), None)

    asked = [opt for opt in TIERS if config.getoption(opt)]
    keep = [i for i in items if tier(i) in asked] if asked else [i for i in items if tier(i) is None]
    dropped = [i for i in items if i not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = keep


@pytest.fixture(params=STACK_FILES, ids=lambda p: p.name)
def stack_file(request: pytest.FixtureRequest) -> Path:
    return request.param
