"""The config is typed where it is used: the type checker knows every section the registry adds to DeploymentConfig
(and every Ingress route and password), so a misspelt section or setting fails `mypy`, not a deployment."""

from __future__ import annotations

import ast
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from components import registry
from stacks.config import STATIC_VIEWS, DeploymentBase, DeploymentConfig, ModuleSections, tables
from tests.conftest import ROOT


def _generated(model: type[BaseModel]) -> list[tuple[str, object]]:
    """The fields create_model added to the model's base, in order, with their types."""
    base = model.__mro__[1]
    assert issubclass(base, BaseModel)
    return [(name, info.annotation) for name, info in model.model_fields.items() if name not in base.model_fields]


@pytest.mark.parametrize("model,view", STATIC_VIEWS, ids=[m.__name__ for m, _v in STATIC_VIEWS])
def test_the_static_view_spells_out_what_the_registry_generates(model, view):
    assert list(typing.get_type_hints(view).items()) == _generated(model)


def test_the_module_sections_are_the_registry_entries():
    assert DeploymentConfig.__mro__[1] is DeploymentBase
    assert list(typing.get_type_hints(ModuleSections).items()) == [(m.attr, m.section) for m in registry.MODULES]


def _spelt_out() -> dict[str, tuple[str, ...]]:
    """The Literals stacks/config/tables.py spells out for the type checker (its `if TYPE_CHECKING:` block)."""
    tree = ast.parse((ROOT / "stacks" / "config" / "tables.py").read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    out = {}
    for node in block.body:
        assert isinstance(node, ast.Assign) and isinstance(node.value, ast.Subscript), ast.unparse(node)
        out[ast.unparse(node.targets[0])] = tuple(ast.literal_eval(node.value.slice))
    return out


def test_the_engine_literals_the_type_checker_sees_are_the_registrys():
    """Backends and engine words are derived from the registry when the program runs (a federation module's
    `federation` adds its engine); the spelling the type checker sees must say the same."""
    spelt = _spelt_out()
    assert set(spelt) == {"Backend", "Computing", "Federation", "StorageEngine"}
    for name, values in spelt.items():
        assert typing.get_args(getattr(tables, name)) == values, name
    assert typing.get_args(tables.Backend) == tuple(registry.BACKEND_ENGINES)
    assert typing.get_args(tables.Federation) == tuple(m.federation for m in registry.MODULES if m.federation)


CORRECT = """
from stacks.config import load_config

cfg = load_config({"partyId": 9999, "development": True})
port: int = cfg.rollsite.exchange.port if cfg.rollsite.exchange is not None else 0
sni = cfg.traffic_server.sni_routes
hosts = cfg.ingress.fateboard.hosts
password = cfg.secrets.mysql_password
"""

MISSPELT = {
    'cfg.rollsite.exchnge.prot + cfg.no_such_section': [
        '"RollsiteConfig" has no attribute "exchnge"', '"DeploymentConfig" has no attribute "no_such_section"'],
    "cfg.trafic_server.sni_routes": ['"DeploymentConfig" has no attribute "trafic_server"'],
    "cfg.python.spark.port_max_retry": ['"SparkCores" has no attribute "port_max_retry"'],
    "cfg.ingress.fatebord.hosts": ['"IngressConfig" has no attribute "fatebord"'],
    "cfg.secrets.mysql_pasword": ['"Secrets" has no attribute "mysql_pasword"'],
}


def _mypy(program: str, path: Path) -> subprocess.CompletedProcess[str]:
    # the project's own settings (pyproject.toml: the pydantic plugin); its cache, warm after `mypy` ran (.ci/run)
    path.write_text(program)
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_mypy_accepts_the_config_spelt_right_and_rejects_each_misspelling(tmp_path):
    right = _mypy(CORRECT, tmp_path / "right.py")
    assert right.returncode == 0, right.stdout + right.stderr
    program = CORRECT + "".join(f"wrong_{i} = {expr}\n" for i, expr in enumerate(MISSPELT))
    wrong = _mypy(program, tmp_path / "wrong.py")
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    errors = [line for line in wrong.stdout.splitlines() if ": error: " in line]
    lines = program.splitlines()
    for i, (expr, expected) in enumerate(MISSPELT.items()):
        number = lines.index(f"wrong_{i} = {expr}") + 1
        # mypy's cache may name the file by the path of an earlier run with the same text: match its line only
        on_line = [e for e in errors if e.split(": error: ")[0].endswith(f"wrong.py:{number}")]
        for message in expected:
            assert any(message in e and "[attr-defined]" in e for e in on_line), (expr, on_line)
    assert len(errors) == sum(len(expected) for expected in MISSPELT.values()), errors
