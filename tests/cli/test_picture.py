"""The federation picture: who reaches whom, from the stack files alone."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fate_pulumi import cli
from fate_pulumi.picture import federation, load_stack, main, to_graphviz
from tests.conftest import EXAMPLES, ROOT

EXAMPLES_DIR = ROOT / "examples"


def _stacks(pattern: str):
    return {
        p.name.removeprefix("Pulumi.").removesuffix(".yaml"): load_stack(p)
        for p in sorted((ROOT / "examples").glob(pattern))
    }


def test_multicloud_star():
    fed = federation(_stacks("Pulumi.multicloud-*.yaml"))
    edges = {(e.source, e.target) for e in fed.edges}
    parties = ["multicloud-party-9999-aws", "multicloud-party-10000-azure", "multicloud-party-10001-gcp",
               "multicloud-party-10002-onprem"]
    for party in parties:
        assert (f"{party}/rollsite", "multicloud-exchange-aws/rollsite") in edges
        assert ("multicloud-exchange-aws/rollsite", f"{party}/rollsite") in edges
    assert len(fed.edges) == 8
    assert not [n for n in fed.nodes.values() if n.stack is None]  # every address belongs to a drawn stack
    labels = {e.label for e in fed.edges}
    assert "192.0.2.200:30091" in labels and "203.0.113.5:9370" in labels


def test_pulsar_star_and_serving():
    fed = federation(_stacks("Pulumi.*spark-local-pulsar.yaml") | _stacks("Pulumi.exchange-pulsar.yaml"))
    edges = {(e.source, e.target, e.label) for e in fed.edges}
    assert ("party-9999-spark-local-pulsar/pulsar", "exchange-pulsar/trafficServer", "192.168.0.1:30007") in edges
    assert ("exchange-pulsar/trafficServer", "party-10000-spark-local-pulsar/pulsar", "192.168.10.1:30109") in edges
    assert ("exchange-pulsar/nginx", "party-9999-spark-local-pulsar/python", "192.168.9.1:30097") in edges


def test_unknown_addresses_are_external_endpoints():
    fed = federation(_stacks("Pulumi.party-9999-eggroll.yaml"))  # its exchange is not drawn
    external = [n for n in fed.nodes.values() if n.stack is None]
    assert sorted(n.label for n in external) == ["192.168.0.1:30000", "192.168.9.1:30095"]  # exchange, serving-server


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is installed by .ci/run")
def test_draws_svg(tmp_path):
    out = tmp_path / "f.svg"
    assert main(["--out", str(out), *map(str, EXAMPLES[:3])]) == 0
    svg = out.read_text()
    assert svg.startswith("<?xml") and "<svg" in svg


def test_dot_source_lists_every_route():
    fed = federation(_stacks("Pulumi.multicloud-*.yaml"))
    source = to_graphviz(fed).source
    assert source.count("->") - source.count("style=invis") == len(fed.edges)


# --- the picture an operator prints: each endpoint once, numeric order, a legend, one-line errors, --out required ---

_DECLARED = re.compile(r"^\t*(?!(?:graph|node|edge) )(\w+) \[", re.M)
_EDGE = re.compile(r"^\t*(\S+) -> (\S+?)(?: \[(.*)\])?$", re.M)


def _dot_edges(source: str) -> list[tuple[str, str, str]]:
    return [(a, b, attrs or "") for a, b, attrs in _EDGE.findall(source) if "style=invis" not in (attrs or "")]


def test_an_endpoint_with_a_port_is_one_node():
    # `a -> "external/192.168.0.1":30000` would be node "external/192.168.0.1" at port 30000: a second node
    fed = federation(_stacks("Pulumi.party-9999-eggroll.yaml"))
    source = to_graphviz(fed).source
    declared = set(_DECLARED.findall(source))
    edges = _dot_edges(source)
    assert len(edges) == len(fed.edges) == 2
    for a, b, _ in edges:
        assert a in declared and b in declared, (a, b)
    for label in ("192.168.0.1:30000", "192.168.9.1:30095"):  # one node each (and the label of its arrow)
        assert len(re.findall(rf'^\t*\w+ \[label="{re.escape(label)}"', source, re.M)) == 1


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is installed by .ci/run")
def test_an_endpoint_with_a_port_is_laid_out_once():
    fed = federation(_stacks("Pulumi.party-9999-eggroll.yaml"))
    plain = to_graphviz(fed).pipe(format="plain").decode()
    nodes = [line.split()[1] for line in plain.splitlines() if line.startswith("node ")]
    assert len(nodes) == len(set(nodes))
    # dot laid out exactly the nodes the picture declared (a node:port reference would have added one)
    assert set(nodes) == set(_DECLARED.findall(to_graphviz(fed).source))
    addresses = [line for line in plain.splitlines() if line.startswith("node ") and "dashed" in line]
    assert len(addresses) == 2


def test_parties_come_in_numeric_order():
    stacks = _stacks("Pulumi.multicloud-*.yaml")
    shuffled = dict(sorted(stacks.items(), reverse=True))
    expected = ["multicloud-exchange-aws", "multicloud-party-9999-aws", "multicloud-party-10000-azure",
                "multicloud-party-10001-gcp", "multicloud-party-10002-onprem"]
    for given in (stacks, shuffled):
        fed = federation(given)
        assert list(fed.stacks) == expected  # 9999 before 10000 (a string sort puts it last)
        titles = re.findall(r"_title \[label=<<B>([^<]+)</B>", to_graphviz(fed).source)
        assert titles == ["exchange", "party 9999", "party 10000", "party 10001", "party 10002"]


def test_exchange_then_parties_then_serving():
    fed = federation(_stacks("Pulumi.serving-*.yaml") | _stacks("Pulumi.party-*-spark-local-pulsar.yaml")
                     | _stacks("Pulumi.exchange-pulsar.yaml"))
    assert list(fed.stacks) == ["exchange-pulsar", "party-9999-spark-local-pulsar", "party-10000-spark-local-pulsar",
                                "serving-9999", "serving-10000"]


def test_arrows_keep_their_direction():
    """Right-to-left routes are written the other way round with dir=back: the arrowhead is still at the target."""
    fed = federation(_stacks("Pulumi.*spark-local-pulsar.yaml") | _stacks("Pulumi.exchange-pulsar.yaml")
                     | _stacks("Pulumi.serving-*.yaml"))
    g = to_graphviz(fed)
    ids = {n: f"n_{re.sub(r'[^A-Za-z0-9_]', '_', n)}" for n in fed.nodes}
    drawn = sorted((b, a) if "dir=back" in attrs else (a, b) for a, b, attrs in _dot_edges(g.source))
    assert drawn == sorted((ids[e.source], ids[e.target]) for e in fed.edges)
    labels = " ".join(attrs for _, _, attrs in _dot_edges(g.source))
    assert all(e.label in labels for e in fed.edges)  # the proxies' pair shares one label


def test_the_picture_has_a_legend():
    fed = federation(_stacks("Pulumi.multicloud-*.yaml"))
    source = to_graphviz(fed).source
    assert "<B>Legend</B>" in source
    for what in ("box", "entry point", "modules", "external endpoint", "arrow", "label"):
        assert re.search(rf"<B>{what} ?</B>", source), what
    assert "arrow colour" in source


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is installed by .ci/run")
def test_the_drawn_legend(tmp_path):
    out = tmp_path / "f.svg"
    assert main(["--out", str(out), *map(str, sorted(EXAMPLES_DIR.glob("Pulumi.multicloud-*.yaml")))]) == 0
    svg = out.read_text()
    for text in ("Legend", "box", "entry point", "modules", "external endpoint", "arrow", "label", "arrow colour"):
        assert re.search(rf">{text} ?</text>", svg), text


def _run(args: list[str], cwd: Path, path: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": path, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "fate_pulumi.picture", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def _picture(args: list[str]) -> int:
    """As `fate-pulumi picture ...` runs it: bad input is one line on stderr and exit 2."""
    return cli.main(["picture", *args])


def test_no_dot_is_one_line_without_traceback(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()  # a PATH without Graphviz
    out = tmp_path / "f.svg"
    r = _run(["--out", str(out), str(EXAMPLES_DIR / "Pulumi.party-9999-eggroll.yaml")], ROOT, str(empty))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"error: {out}: ")
    assert "install Graphviz: apt-get install graphviz" in r.stderr
    assert not out.exists()
    # the DOT source needs no Graphviz
    r = _run(["--out", str(tmp_path / "f.dot"), str(EXAMPLES_DIR / "Pulumi.party-9999-eggroll.yaml")], ROOT,
             str(empty))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "f.dot").read_text().startswith("digraph federation {")


def test_out_is_required_so_nothing_lands_in_the_repository(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    before = set(ROOT.iterdir())
    assert _picture([str(EXAMPLES_DIR / "Pulumi.party-9999-eggroll.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "--out" in err
    assert set(ROOT.iterdir()) == before  # no federation.svg (or anything else) appeared in the repository


def test_help_says_out_is_required(capsys):
    assert _picture(["--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--out FILE" in help_text and "required, there is no default" in help_text


@pytest.mark.parametrize("case", ["missing", "directory", "invalid", "topology-as-stack", "out-is-a-directory",
                                  "out-unwritable", "out-dir-missing", "format", "topology-missing",
                                  "topology-yaml", "topology-keys"])
def test_errors_are_one_line_naming_the_file(case, tmp_path, capsys):
    good = str(EXAMPLES_DIR / "Pulumi.party-9999-eggroll.yaml")
    out = tmp_path / "f.svg"
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text("config:\n  fate:partyId: not-a-number\n")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    topology = tmp_path / "federation.yaml"
    topology.write_text({"topology-yaml": "name: [x\n", "topology-keys": "name: x\nparties: 3\n"}.get(case, ""))
    args, named = {
        "missing": (["--out", str(out), str(tmp_path / "Pulumi.nope.yaml")], tmp_path / "Pulumi.nope.yaml"),
        "directory": (["--out", str(out), str(tmp_path)], tmp_path),
        "invalid": (["--out", str(out), str(bad)], bad),
        "topology-as-stack": (["--out", str(out), str(EXAMPLES_DIR / "federation.yaml")],
                              EXAMPLES_DIR / "federation.yaml"),
        "out-is-a-directory": (["--out", str(tmp_path), good], tmp_path),
        "out-unwritable": (["--out", str(blocker / "f.svg"), good], blocker / "f.svg"),
        "out-dir-missing": (["--out", str(tmp_path / "no" / "f.svg"), good], tmp_path / "no"),
        "format": (["--out", str(tmp_path / "f.xyz"), good], tmp_path / "f.xyz"),
        "topology-missing": (["--out", str(out), "--topology", str(tmp_path / "nope.yaml")], tmp_path / "nope.yaml"),
        "topology-yaml": (["--out", str(out), "--topology", str(topology)], f"{topology}:2:1"),
        "topology-keys": (["--out", str(out), "--topology", str(topology)], f"{topology}: parties"),
    }[case]
    if case == "out-unwritable" and shutil.which("dot") is None:
        pytest.skip("the write comes after dot")
    assert _picture(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {named}: "), err
    assert " — " in err  # what is wrong — how to fix it
    assert not out.exists()
