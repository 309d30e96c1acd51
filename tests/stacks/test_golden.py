"""Renders kept byte for byte: every example stack and variant renders exactly the objects recorded in
tests/golden/renders.json (a digest of each object's YAML, Secret values included, and the Pulumi type and name of
every resource, components included). A refactoring must leave it unchanged; a deliberate change of what is
deployed updates it in the same commit, with the reason:

    python -m tests.stacks.test_golden --update
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from fate_pulumi.mocks import Rendered, to_manifest
from fate_pulumi.render import dump
from tests.conftest import STACK_FILES, render, stack_config
from tests.stacks.variants import VARIANTS

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "renders.json"


FIXED_CA = Path(__file__).resolve().parent.parent / "fixtures" / "golden-ca"  # a CA for tests only, kept so issued
# certificates are the same on every run


def _cases() -> dict[str, dict[str, Any]]:
    cases = {p.name: stack_config(p) for p in STACK_FILES}
    cases.update({f"variant-{k}": v for k, v in VARIANTS.items()})
    # certificates issued by the stack, with a fixed start (a renewing one moves with the date)
    tls = {"generate": True, "caCertificate": (FIXED_CA / "ca.pem").read_text(), "validFrom": "2026-06-01"}
    cases["issued-eggroll-tls"] = {**VARIANTS["eggroll-persistence-tls-polling-server"], "tls": tls,
                                   "tlsCaKey": (FIXED_CA / "ca.key").read_text(), "publicHost": "203.0.113.10"}
    return cases


def fingerprint(values: dict[str, Any]) -> dict[str, str]:
    """`<type> <name>` of every resource -> digest of its Kubernetes object (or of its inputs for others)."""
    rendered = render(values)
    out = digests(rendered)
    out["outputs"] = hashlib.sha256(json.dumps(rendered.outputs, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return out


def digests(rendered: Rendered) -> dict[str, str]:
    """`<type> <name>` of every resource -> digest of its Kubernetes object (or of its inputs for others)."""
    out = {}
    for r in rendered.resources:
        body = dump(to_manifest(r.inputs, keep_secrets=True)) if r.type.startswith("kubernetes:") else \
            json.dumps(to_manifest(r.inputs, keep_secrets=True), sort_keys=True, default=str)
        out[f"{r.type} {r.name}"] = hashlib.sha256(body.encode()).hexdigest()[:16]
    return out


CASES = _cases()


@pytest.mark.parametrize("case", sorted(CASES))
def test_render_is_unchanged(case):
    golden = json.loads(GOLDEN.read_text())
    assert case in golden, f"{case} has no recorded render: python -m tests.stacks.test_golden --update"
    have = fingerprint(CASES[case])
    want = golden[case]
    assert set(have) == set(want), {"added": sorted(set(have) - set(want)), "removed": sorted(set(want) - set(have))}
    changed = sorted(k for k in have if have[k] != want[k])
    assert not changed, f"{case}: these resources render differently: {changed}"


def main(argv: list[str]) -> int:
    if argv != ["--update"]:
        print(__doc__)
        return 2
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps({case: fingerprint(values) for case, values in sorted(CASES.items())}, indent=1,
                                 sort_keys=True) + "\n")
    print(f"{GOLDEN}: {len(CASES)} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
