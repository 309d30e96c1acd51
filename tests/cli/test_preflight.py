"""fate-pulumi preflight: a federation's addresses, routes and certificates checked from the stacks' settings."""

from __future__ import annotations

import datetime as dt
import socket

import pytest

from fate_pulumi import preflight
from fate_pulumi.picture import load_stack
from fate_pulumi.preflight import Finding, live_checks, static_checks
from stacks.config import load_config
from tests.components.test_tls import ca
from tests.conftest import ROOT

EXAMPLES = ROOT / "examples"


def _cfg(**values):
    return load_config({"development": True, **values}, [])


def _failed(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.check, f.subject) for f in findings if not f.ok]


def _star(**party_extra):
    """An exchange and party 9999 wired to each other, as raw settings."""
    exchange = {"kind": "exchange", "partyId": 1, "publicHost": "192.0.2.1",
                "rollsite": {"service": {"type": "NodePort", "nodePorts": {"rollsite": 30001}},
                             "partyList": [{"partyId": 9999, "host": "192.0.2.9", "port": 30091}]}}
    member = {"partyId": 9999, "publicHost": "192.0.2.9",
              "rollsite": {"service": {"type": "NodePort", "nodePorts": {"rollsite": 30091}},
                           "exchange": {"host": "192.0.2.1", "port": 30001}}}
    member.update(party_extra)
    return {"exchange": exchange, "party-9999": member}


def _load(raw: dict) -> dict:
    return {name: load_config({"development": True, **values}, [k for k in values if k == "tlsCaKey"])
            for name, values in raw.items()}


def test_the_examples_check_out():
    stacks = {p.stem: load_stack(p) for p in sorted(EXAMPLES.glob("Pulumi.*-eggroll.yaml"))}
    stacks.update({p.stem: load_stack(p) for p in sorted(EXAMPLES.glob("Pulumi.serving-*.yaml"))})
    stacks["exchange"] = load_stack(EXAMPLES / "Pulumi.exchange-rollsite.yaml")
    findings = static_checks(stacks)
    assert findings and _failed(findings) == []
    assert ("reverse", "Pulumi.exchange-rollsite <-> Pulumi.party-9999-eggroll") not in _failed(findings)


def test_an_address_nobody_exposes_fails_unless_declared_external():
    stacks = _load(_star(python={"rabbitmq": {"host": "mq.bank.example"}}))
    assert ("target", "party-9999/python -> mq.bank.example:5672") in _failed(static_checks(stacks))
    assert _failed(static_checks(stacks, external=[("mq.bank.example", 5672)])) == []


def test_two_deployments_claiming_one_address_and_a_missing_way_back():
    raw = _star()
    raw["party-10000"] = {"partyId": 10000, "publicHost": "192.0.2.9",  # the same host and NodePort as 9999
                          "rollsite": {"service": {"type": "NodePort", "nodePorts": {"rollsite": 30091}}}}
    assert ("address", "192.0.2.9:30091") in _failed(static_checks(_load(raw)))
    lonely = _star(rollsite={"service": {"type": "NodePort", "nodePorts": {"rollsite": 30091}}})  # no exchange route
    findings = static_checks(_load(lonely))
    assert ("reverse", "exchange <-> party-9999") in _failed(findings)
    assert "party-9999 has no route back to exchange" in next(f.detail for f in findings if f.check == "reverse")


def _tls(authority, trusted=(), valid_from=None):
    tls = {"generate": True, "caCertificate": authority.certificate_pem, "trustedCaCertificates": list(trusted)}
    if valid_from:
        tls["validFrom"] = valid_from
    return {"tls": tls, "tlsCaKey": authority.key_pem}


def test_certificates_trust_each_other_name_the_dialled_host_and_do_not_expire_soon():
    a, b = ca("federation A"), ca("federation B")

    def star(party_trusts, exchange_trusts, valid_from=None, dialled="192.0.2.1"):
        raw = _star(rollsite={"service": {"type": "NodePort", "nodePorts": {"rollsite": 30091, "rollsiteTls": 30092}},
                              "tls": {"enabled": True},
                              "exchange": {"host": dialled, "port": 30002 if dialled == "192.0.2.1" else 9380,
                                           "secure": True}},
                    **_tls(a, party_trusts))
        raw["exchange"]["rollsite"] = {
            "service": {"type": "NodePort", "nodePorts": {"rollsite": 30001, "rollsiteTls": 30002}},
            "tls": {"enabled": True},
            "partyList": [{"partyId": 9999, "host": "192.0.2.9", "port": 30092, "secure": True}]}
        raw["exchange"].update(_tls(b, exchange_trusts, valid_from))
        return _load(raw)

    today = dt.date.today()
    good = static_checks(star([b.certificate_pem], [a.certificate_pem]), today=today)
    assert _failed(good) == [] and sum(f.check == "tls" for f in good) >= 4
    one_way = static_checks(star([], [a.certificate_pem]), today=today)
    assert any("party-9999 does not trust exchange's CA" in f.detail for f in one_way if not f.ok)
    assert any("party-9999 does not trust exchange's CA (mutual TLS)" in f.detail for f in one_way if not f.ok)
    # the party dials the exchange by its in-cluster name: the exchange's certificate names that too
    inside = static_checks(star([b.certificate_pem], [a.certificate_pem], dialled="rollsite.fate-exchange"),
                           today=today)
    assert ("tls", "party-9999/rollsite -> exchange/rollsite (rollsite.fate-exchange)") not in _failed(inside)
    soon = (today - dt.timedelta(days=350)).isoformat()  # 365-day certificates started 350 days ago
    expiring = static_checks(star([b.certificate_pem], [a.certificate_pem], valid_from=soon), today=today)
    assert ("tls", "exchange certificates") in _failed(expiring)


def test_live_dials_every_address():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead = closed.getsockname()[1]
    closed.close()
    try:
        found = live_checks([Finding("target", f"a/rollsite -> 127.0.0.1:{port}", True),
                             Finding("target", f"b/rollsite -> 127.0.0.1:{dead}", False)], timeout=1)
    finally:
        server.close()
    assert [(f.subject, f.ok) for f in found] == [(f"127.0.0.1:{port}", True), (f"127.0.0.1:{dead}", False)]


def test_command_line(capsys):
    good = [str(EXAMPLES / n) for n in ("Pulumi.party-9999-eggroll.yaml", "Pulumi.party-10000-eggroll.yaml",
                                        "Pulumi.exchange-rollsite.yaml", "Pulumi.serving-9999.yaml",
                                        "Pulumi.serving-10000.yaml")]
    assert preflight.main(good) == 0
    assert "0 failed" in capsys.readouterr().out
    assert preflight.main(good[:3]) == 1  # FATE Flow's serving-server is in no given stack
    assert "FAILED" in capsys.readouterr().out
    assert preflight.main([*good[:3], "--external", "192.168.9.1:30095", "--external", "192.168.10.1:30105"]) == 0
    with pytest.raises(SystemExit) as err:
        preflight.main(["--external", "nonsense", *good])
    assert err.value.code == 2
    assert preflight.main(["--topology", str(EXAMPLES / "federation.yaml")]) == 0
