"""What fate_pulumi/mocks.py relies on, pinned against the SDK version requirements.txt pins — the one SDK internal
(the secret marker) and the behaviour of repeated runs in one process: an SDK upgrade that changes them fails
here, by name, instead of somewhere in a render."""

from __future__ import annotations

from importlib.metadata import version

import pulumi

from fate_pulumi import mocks
from tests.conftest import ROOT


def test_the_sdk_is_the_pinned_one():
    pinned = next(line.split("==")[1] for line in (ROOT / "requirements.txt").read_text().splitlines()
                  if line.startswith("pulumi=="))
    assert version("pulumi") == pinned


def test_secret_values_are_marked_as_the_harness_expects():
    rendered = mocks.run_under_mocks(lambda: pulumi.CustomResource("test:index:Thing", "t", {
        "plain": "a", "hidden": pulumi.Output.secret("b")}) and {})
    inputs = rendered.resources[0].inputs
    assert inputs["hidden"] == {mocks.SECRET_SIG: mocks.SECRET_KIND, "value": "b"}
    assert mocks.to_manifest(inputs) == {"plain": "a", "hidden": mocks.REDACTED}
    assert mocks.to_manifest(inputs, keep_secrets=True) == {"plain": "a", "hidden": "b"}


def test_runs_in_one_process_do_not_see_each_other():
    def program():
        pulumi.CustomResource("test:index:Thing", "t", {})
        return {"n": 1}

    first, second = mocks.run_under_mocks(program), mocks.run_under_mocks(program)
    assert [r.name for r in first.resources] == [r.name for r in second.resources] == ["t"]
    assert first.outputs == second.outputs == {"n": 1}
