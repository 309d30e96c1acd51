"""The federation picture: who reaches whom, from the stack files alone."""

from __future__ import annotations

import shutil

import pytest

from stacks.picture import federation, load_stack, main, to_graphviz
from tests.conftest import EXAMPLES, ROOT


def _stacks(pattern: str):
    return {p.name.removeprefix("Pulumi.").removesuffix(".yaml"): load_stack(p) for p in sorted((ROOT / "examples").glob(pattern))}


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
