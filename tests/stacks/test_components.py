"""The deployments as components another Pulumi program uses: `Party`, `Exchange`, `Serving` take the stack
config's settings, several live in one program, passwords may arrive as secrets, bad settings name their key."""

from __future__ import annotations

import pulumi
import pytest

from fate_pulumi.mocks import Rendered, run_under_mocks, to_manifest
from stacks.deployment import Exchange, Party
from tests.conftest import TEST_SECRETS, party


def _objects(rendered: Rendered, kind: str, name: str, namespace: str) -> list[dict]:
    return [o for o in rendered.objects if o["kind"] == kind and o["metadata"]["name"] == name
            and o["metadata"].get("namespace", namespace) == namespace]


def test_two_parties_and_an_exchange_in_one_program():
    def program():
        exchange = Exchange("exchange", {"partyId": 1, "rollsite": {"partyList": [
            {"partyId": 9999, "host": "rollsite.fate-9999", "port": 9370},
            {"partyId": 10000, "host": "rollsite.fate-10000", "port": 9370}]}})
        parties = [Party(f"party-{pid}", party(partyId=pid, rollsite={"exchange": {"host": "rollsite.fate-exchange",
                                                                                   "port": 9370}}))
                   for pid in (9999, 10000)]
        return {"exchange": exchange.connect, **{p._name: p.connect for p in parties}}

    r = run_under_mocks(program)
    for ns in ("fate-9999", "fate-10000"):
        assert len(_objects(r, "StatefulSet", "mysql", ns)) == 1
        assert len(_objects(r, "ConfigMap", "eggroll-config", ns)) == 1
    assert len(_objects(r, "Deployment", "rollsite", "fate-exchange")) == 1
    names = [(x.type, x.name) for x in r.resources]
    assert len(names) == len(set(names))  # no two resources share a URN: each carries its component's name
    assert {n for t, n in names if t == "pulumi:providers:kubernetes"} == {
        "exchange-kubernetes", "party-9999-kubernetes", "party-10000-kubernetes"}
    assert r.outputs["party-9999"]["partyId"] == 9999


def test_passwords_given_as_secrets_reach_the_secrets_and_outputs_stay_readable():
    def program():
        values = party()
        values["mysqlPassword"] = pulumi.Output.secret(TEST_SECRETS["mysqlPassword"])
        p = Party("p", values)
        return {"connect": p.connect, "summary": p.summary}

    r = run_under_mocks(program)
    secret = _objects(r, "Secret", "mysql-secret", "fate-9999")
    assert secret and secret[0]["stringData"] == {"mysql-password": "<redacted>"}
    mysql = next(x for x in r.resources if x.type == "kubernetes:core/v1:Secret" and x.name == "p-mysql-secret")
    assert to_manifest(mysql.inputs, keep_secrets=True)["stringData"]["mysql-password"] == TEST_SECRETS["mysqlPassword"]
    assert r.outputs["connect"]["partyId"] == 9999 and "FATE party 9999" in r.outputs["summary"]


def test_bad_settings_name_the_component_and_the_key():
    with pytest.raises(pulumi.RunError) as err:
        run_under_mocks(lambda: Party("p", party(rollsite={"service": {"type": "Nodeport"}})) and {})
    message = str(err.value)
    assert "invalid settings of fate:index:Party p" in message and "fate:rollsite.service.type" in message
    with pytest.raises(pulumi.RunError, match="kind 'exchange' is not 'party'"):
        run_under_mocks(lambda: Party("p", party(kind="exchange")) and {})


def test_a_provider_the_caller_gives_is_used_instead_of_one_from_the_settings():
    def program():
        given = pulumi.ProviderResource("kubernetes", "platform", {})
        Party("p", party(), opts=pulumi.ResourceOptions(providers={"kubernetes": given}))
        return {}

    r = run_under_mocks(program)
    providers = [x.name for x in r.resources if x.type == "pulumi:providers:kubernetes"]
    assert providers == ["platform"]
    k8s = [x for x in r.resources if x.type.startswith("kubernetes:")]
    assert k8s and all("::platform::" in (x.provider or "") for x in k8s)
