"""bench/ (benchmarks run by hand, tests/engine's toolchain) builds on the suite's public support modules —
tests/conftest.py's shared helpers, tests/cluster/, tests/engine/harness.py and kubefate.py — never on a test file
(test_*.py), a tier's fixtures (tests/<tier>/conftest.py) or a private name; and every benchmark starts."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BENCH = sorted(p for p in (ROOT / "bench").glob("*.py") if p.name != "__init__.py")


def _test_imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of everything `path` imports from tests/ (name "" for `import tests.x`)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "tests":
            out += [(node.module or "", alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            out += [(alias.name, "") for alias in node.names if alias.name.split(".")[0] == "tests"]
    return out


def test_bench_imports_only_public_test_support():
    found = {p.name: _test_imports(p) for p in BENCH}
    assert any(found.values()), "bench/ imports nothing from tests/: this check looks at the wrong files"
    wrong = [
        f"bench/{name}: {module}{'.' + what if what else ''}"
        for name, imports in found.items() for module, what in imports
        if any(part.startswith(("test_", "_")) for part in module.split("."))
        or module.endswith(".conftest") and module != "tests.conftest" or what.startswith("_")
    ]
    assert wrong == [], "move what bench/ needs into a public support module (tests/engine/harness.py, ...)"


@pytest.mark.parametrize("path", [p for p in BENCH if p.name != "measure.py"], ids=lambda p: p.name)  # measure.py:
# the others' library, no command
def test_every_benchmark_answers_help(path: Path, monkeypatch, capsys):
    """What `python -m bench.<name> --help` runs, in this process."""
    module = importlib.import_module(f"bench.{path.stem}")
    monkeypatch.setattr(sys, "argv", [path.name, "--help"])
    try:
        code = module.main(["--help"]) if path.stem == "floor" else module.main()
    except SystemExit as done:  # argparse's --help
        code = done.code
    assert code == 0 and path.stem in capsys.readouterr().out
