"""The modules of components/, stacks/ and fate_pulumi/ import each other without a cycle, and only downwards:
fate_pulumi/ (the command) uses stacks/ and components/, never the other way round. Every import counts, also one
inside a function (a cycle hidden that way is still one); imports only a type checker runs (`if TYPE_CHECKING:`)
do not. Read from the source with ast, so a module that is never imported by a test is checked too."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("components", "stacks", "fate_pulumi")


def _module(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found += [n for child in node.orelse for n in _imports(ast.Module([child], []))]
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        found += _imports(node)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the modules of the three packages it imports: `from a.b import c` imports module a.b.c when there is
    one, else (a name defined in it) a.b; `import a.b.c.d`, the deepest of these that is a module."""
    paths = {_module(p, root): p for package in PACKAGES for p in (root / package).rglob("*.py")}

    def deepest(name: str) -> str:
        while name and name not in paths:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {deepest(alias.name) for alias in node.names}
                continue
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            targets |= {f"{base}.{a.name}" if f"{base}.{a.name}" in paths else deepest(base) for a in node.names}
        graph[name] = targets - {"", name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each set of modules that import one another (strongly connected components of two or more, Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_checker_finds_a_cycle_and_an_upward_import(tmp_path):
    """The checks below would see what they look for: a cycle through an import inside a function, and a relative
    import; an import under TYPE_CHECKING is left out."""
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "fate_pulumi" / "a.py").write_text("from fate_pulumi import b\n")
    (tmp_path / "fate_pulumi" / "b.py").write_text("def f():\n    from .a import x\n")
    (tmp_path / "stacks" / "c.py").write_text("import fate_pulumi.a\n")
    (tmp_path / "stacks" / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                              "    from stacks.c import y\n")
    (tmp_path / "stacks" / "e.py").write_text("from stacks import d\n")
    graph = import_graph(tmp_path)
    assert cycles(graph) == [["fate_pulumi.a", "fate_pulumi.b"]]
    assert graph["stacks.c"] == {"fate_pulumi.a"} and graph["stacks.d"] == set() and graph["stacks.e"] == {"stacks.d"}


def test_no_module_imports_itself_through_others():
    found = cycles(import_graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_components_and_stacks_never_import_the_command():
    graph = import_graph()
    upward = sorted(f"{a} -> {b}" for a, deps in graph.items() if not a.startswith("fate_pulumi")
                    for b in deps if b.startswith("fate_pulumi"))
    assert not upward, upward
    assert {m.split(".")[0] for m in graph} == set(PACKAGES)  # the scan sees the code
    assert graph["fate_pulumi.federation"] >= {"fate_pulumi.topology", "stacks.config"}
