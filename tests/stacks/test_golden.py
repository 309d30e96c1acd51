"""Renders kept byte for byte, as YAML a reviewer can read: every example stack, every variant and a stack that issues
its own certificates renders exactly what tests/golden/<case>.yaml holds — every resource the program registers
(`--- # <Pulumi type> <name>`, components and the provider included) with its inputs (a Kubernetes object as the
offline render writes it, Secret values included), then the stack outputs. A refactoring must leave the files
unchanged; a deliberate change of what is deployed updates them in the same commit, with the reason:

    python -m tests.stacks.test_golden --update

A failing check prints, per resource that changed, a unified diff of its YAML.

Secret values are shown as they are: the cases' passwords are the tests' fake ones (tests/conftest.py TEST_SECRETS)
and the development defaults, so a changed Secret (a password moved into another file of a Secret, a key renamed)
reads as plainly as a ConfigMap. PEM blocks (the test CA of tests/fixtures/golden-ca and what the stack issues from
it) are summarized — subject, issuer, SANs, validity, usages, public key — with a digest of the PEM text, so a
changed byte of a certificate or key still changes the file.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from fate_pulumi.mocks import Rendered, Resource, to_manifest
from fate_pulumi.render import dump
from tests.conftest import ROOT, STACK_FILES, render, stack_config
from tests.stacks.variants import VARIANTS

GOLDEN = ROOT / "tests" / "golden"
FIXED_CA = ROOT / "tests" / "fixtures" / "golden-ca"  # a CA for tests only, kept so issued certificates are the same
# on every run
UPDATE = "python -m tests.stacks.test_golden --update"
DOCUMENT = "--- # "  # the line that opens each resource's document: `--- # <type> <name>`
OUTPUTS = "stack outputs"
MAX_DIFF_LINES = 400


def _cases() -> dict[str, tuple[str, dict[str, Any]]]:
    """case -> (where its config comes from, the `fate:*` values)."""
    cases = {p.name.removeprefix("Pulumi.").removesuffix(".yaml"): (str(p.relative_to(ROOT)), stack_config(p))
             for p in STACK_FILES}
    cases.update({f"variant-{k}": (f"tests/stacks/variants.py, VARIANTS[{k!r}]", v) for k, v in VARIANTS.items()})
    # certificates issued by the stack, with a fixed start (a renewing one moves with the date)
    tls = {"generate": True, "caCertificate": (FIXED_CA / "ca.pem").read_text(), "validFrom": "2026-06-01"}
    cases["issued-eggroll-tls"] = (
        "tests/stacks/test_golden.py: VARIANTS['eggroll-persistence-tls-polling-server'] with certificates issued "
        "from tests/fixtures/golden-ca",
        {**VARIANTS["eggroll-persistence-tls-polling-server"], "tls": tls,
         "tlsCaKey": (FIXED_CA / "ca.key").read_text(), "publicHost": "203.0.113.10"})
    return cases


CASES = _cases()


# ------------------------------------------------------------------------------------------- PEM blocks, summarized

_PEM = re.compile(r"-----BEGIN (?P<label>[A-Z0-9 ]+)-----\n[A-Za-z0-9+/=\n]*?-----END (?P=label)-----")


_KEY_USAGES = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
               "key_cert_sign", "crl_sign")
_EXTENDED_USAGES = {oid: name.lower() for name, oid in vars(ExtendedKeyUsageOID).items()
                    if isinstance(oid, x509.ObjectIdentifier)}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _public_key(key: Any) -> str:
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    kind = f"EC {key.curve.name}" if isinstance(key, ec.EllipticCurvePublicKey) else type(key).__name__
    return f"{kind}, sha256:{_digest(spki)}"


def _certificate(pem: str) -> list[str]:
    cert = x509.load_pem_x509_certificate(pem.encode())
    lines = [f"subject: {cert.subject.rfc4514_string()}", f"issuer: {cert.issuer.rfc4514_string()}",
             f"serial: {cert.serial_number:#x}",
             f"valid: {cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ} to {cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}"]
    for ext in cert.extensions:
        value = ext.value
        if isinstance(value, x509.SubjectAlternativeName):
            lines.append("SANs: " + ", ".join(f"{'IP' if isinstance(n, x509.IPAddress) else 'DNS'}:{n.value}"
                                               for n in value))
        elif isinstance(value, x509.BasicConstraints):
            lines.append(f"CA: {value.ca}" + (f", path length {value.path_length}" if value.ca else ""))
        elif isinstance(value, x509.KeyUsage):
            lines.append("key usage: " + ", ".join(u for u in _KEY_USAGES if getattr(value, u)))
        elif isinstance(value, x509.ExtendedKeyUsage):
            lines.append("extended key usage: " + ", ".join(_EXTENDED_USAGES.get(u, u.dotted_string) for u in value))
    lines.append(f"public key: {_public_key(cert.public_key())}")
    return lines


def _private_key(pem: str) -> list[str]:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    return [f"public key: {_public_key(key.public_key())}"]


def _summary(match: re.Match) -> str:
    """A PEM block as what a reviewer checks, and the digest of its exact text (any changed byte shows)."""
    pem, label = match.group(0), match.group("label")
    try:
        details = _certificate(pem) if label == "CERTIFICATE" else _private_key(pem) if label == "PRIVATE KEY" else []
    except (ValueError, TypeError, UnsupportedAlgorithm):  # not parseable: the digest alone
        details = ["(does not parse)"]
    return "\n".join([f"<{label.lower()} PEM sha256:{_digest(pem.encode())}>", *(f"  {d}" for d in details)])


def summarize_pem(value: Any) -> Any:
    if isinstance(value, str):
        return _PEM.sub(_summary, value)
    if isinstance(value, dict):
        return {k: summarize_pem(v) for k, v in value.items()}
    if isinstance(value, list):
        return [summarize_pem(v) for v in value]
    return value


# ------------------------------------------------------------------------------------------------------ snapshot


def header(resource: Resource) -> str:
    return f"{resource.type} {resource.name}"


def document(resource: Resource) -> str:
    """One resource's document: its inputs with secret values in clear (a Kubernetes object as the render writes it)."""
    return f"{DOCUMENT}{header(resource)}\n{dump(summarize_pem(to_manifest(resource.inputs, keep_secrets=True)))}"


def snapshot(case: str, rendered: Rendered) -> str:
    """The whole file: what the case is, every resource ordered by type and name, then the stack outputs."""
    intro = (f"# {case}: the render of {CASES[case][0]}\n"
             f"# (tests/stacks/test_golden.py; after a deliberate change: {UPDATE})\n")
    docs = [document(r) for r in sorted(rendered.resources, key=lambda r: (r.type, r.name))]
    outputs = json.loads(json.dumps(rendered.outputs, default=str))
    return intro + "".join(docs) + f"{DOCUMENT}{OUTPUTS}\n{dump(summarize_pem(outputs))}"


def documents(text: str) -> dict[str, str]:
    """A snapshot's documents by header (`` for the lines before the first)."""
    out: dict[str, str] = {}
    name = ""
    for line in text.splitlines(keepends=True):
        if line.startswith(DOCUMENT):
            name = line[len(DOCUMENT):].rstrip("\n")
        out[name] = out.get(name, "") + line
    return out


def difference(case: str, want: str, have: str) -> str:
    """What changed between the recorded snapshot and the render: resources added and removed, and a unified diff
    of every resource whose YAML differs. Empty when they are the same."""
    if want == have:
        return ""
    old, new = documents(want), documents(have)
    lines = [f"{case}: the render differs from tests/golden/{case}.yaml ({UPDATE} records a deliberate change)"]
    lines += [f"  added: {k}" for k in new if k not in old] + [f"  removed: {k}" for k in old if k not in new]
    for key in [k for k in old if k in new and old[k] != new[k]]:
        lines += [d.rstrip("\n") for d in difflib.unified_diff(
            old[key].splitlines(keepends=True), new[key].splitlines(keepends=True),
            f"tests/golden/{case}.yaml: {key or 'header'}", f"render: {key or 'header'}")]
    if len(lines) > MAX_DIFF_LINES:
        lines = lines[:MAX_DIFF_LINES] + [f"... {len(lines) - MAX_DIFF_LINES} more lines: run {UPDATE}, then "
                                          "git diff tests/golden shows all"]
    return "\n".join(lines)


def golden_file(case: str) -> Path:
    return GOLDEN / f"{case}.yaml"


# ------------------------------------------------------------------------------------------------------- checks


@pytest.mark.parametrize("case", sorted(CASES))
def test_render_is_unchanged(case):
    path = golden_file(case)
    assert path.exists(), f"{case} has no recorded render ({path}): {UPDATE}"
    found = difference(case, path.read_text(), snapshot(case, render(CASES[case][1])))
    if found:
        pytest.fail(found, pytrace=False)


def test_every_case_has_a_snapshot_and_no_snapshot_is_orphaned():
    recorded = {p.name for p in GOLDEN.iterdir()}
    assert recorded == {golden_file(c).name for c in CASES}, (
        f"missing: {sorted({golden_file(c).name for c in CASES} - recorded)}; "
        f"orphaned: {sorted(recorded - {golden_file(c).name for c in CASES})} ({UPDATE} rewrites the directory)")


def _leaves(value: Any, path: tuple = ()) -> list[tuple]:
    """Paths of every dict key and every scalar leaf."""
    if isinstance(value, dict):
        return [path + (("key", k),) for k in value] + [p for k, v in value.items() for p in _leaves(v, path + (k,))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, path + (i,))]
    return [path]


def _leaf(value: Any, path: tuple) -> Any:
    for step in path:
        value = step[1] if isinstance(step, tuple) else value[step]
    return value


def _one_byte_changed(value: Any, path: tuple, tail: bool = False) -> Any:
    """`value` with one byte changed at `path`: a character of a string (or key) — the middle one, or with `tail` the
    40th from the end (of a PEM block: in the signature) —, a number + 1, a boolean flipped."""
    def changed(leaf: Any) -> Any:
        if isinstance(leaf, bool):
            return not leaf
        if isinstance(leaf, (int, float)):
            return leaf + 1
        if leaf is None:
            return ""
        text = str(leaf)
        i = max(len(text) - 40, 0) if tail else len(text) // 2
        return text[:i] + ("A" if text[i:i + 1] != "A" else "B") + text[i + 1:] if text else "x"

    value = json.loads(json.dumps(value))  # a deep copy, several times faster than copy.deepcopy
    *parents, last = path or [None]
    if last is None:
        return changed(value)
    node = value
    for step in parents:
        node = node[step]
    if isinstance(last, tuple):  # a key
        node[changed(last[1])] = node.pop(last[1])
    else:
        node[last] = changed(node[last])
    return value


# the case with issued certificates and keys and every password in Secrets, and the one with the most objects
@pytest.mark.parametrize("case", ["issued-eggroll-tls", "variant-eggroll-jobs"])
def test_a_one_byte_change_of_any_object_changes_its_document(case):
    """The snapshot is exact: each document loads back as the object (PEM blocks as their summary), and changing
    one byte anywhere in any resource's inputs (a key, a value, inside an embedded file or a PEM block) changes that
    resource's document; the check then names the resource and shows the changed line."""
    rendered = render(CASES[case][1])
    recorded = documents(golden_file(case).read_text())
    tried = 0
    for resource in rendered.resources:
        inputs = to_manifest(resource.inputs, keep_secrets=True)
        text = document(resource)
        assert recorded[header(resource)] == text
        assert yaml.load(text, Loader=yaml.CSafeLoader) == summarize_pem(inputs)
        for path in _leaves(inputs):
            leaf = _leaf(inputs, path)
            for tail in (False, True) if isinstance(leaf, str) and "\n" in leaf else (False,):
                changed = Resource(resource.type, resource.name, _one_byte_changed(inputs, path, tail),
                                   resource.provider)
                assert document(changed) != text, (header(resource), path, tail)
                tried += 1
    assert tried > 2500
    # end to end: the check's message names the resource and shows the line
    secret = next(r for r in rendered.resources if r.type == "kubernetes:core/v1:Secret")
    key = next(iter(to_manifest(secret.inputs, keep_secrets=True)["stringData"]))
    mutated = Rendered([r if r is not secret else Resource(r.type, r.name, _one_byte_changed(
        to_manifest(r.inputs, keep_secrets=True), ("stringData", key)), r.provider) for r in rendered.resources],
        rendered.outputs)
    message = difference(case, golden_file(case).read_text(), snapshot(case, mutated))
    assert f"--- tests/golden/{case}.yaml: {header(secret)}\n+++ render: {header(secret)}\n" in message
    assert len([line for line in message.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]) >= 2


def test_pem_blocks_read_as_certificates_and_keys_and_keep_their_digest():
    issued = render(CASES["issued-eggroll-tls"][1])
    certs = next(o for o in issued.raw_objects if o["kind"] == "Secret" and "server.crt" in o.get("stringData", {}))
    summary = summarize_pem(certs["stringData"])
    assert "BEGIN" not in yaml.safe_dump(summary)
    server = summary["server.crt"]
    assert "subject: CN=rollsite\n" in server and "IP:203.0.113.10" in server and "DNS:rollsite.fate-9999" in server
    assert "valid: 2026-06-01T00:00:00Z to 2027-06-01T00:00:00Z" in server and "server_auth" in server
    # the key's summary names the public key of its certificate
    key_line = summary["server.key"].splitlines()[1].strip()
    assert key_line.startswith("public key: EC secp256r1, sha256:") and key_line in server


def main(argv: list[str]) -> int:
    if argv != ["--update"]:
        print(__doc__)
        return 2
    GOLDEN.mkdir(exist_ok=True)
    wanted = {golden_file(c) for c in CASES}
    for stale in set(GOLDEN.iterdir()) - wanted:
        stale.unlink()
        print(f"{stale}: removed (no such case)")
    for case, (_, values) in sorted(CASES.items()):
        path = golden_file(case)
        text = snapshot(case, render(values))
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"{path}: written")
    print(f"{GOLDEN}: {len(CASES)} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
