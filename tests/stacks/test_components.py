"""The deployments as components another Pulumi program uses: `Party`, `Exchange`, `Serving` take the stack
config's settings, several live in one program, passwords may arrive as secrets, bad settings name their key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pulumi
import pytest

from components.kube import CHECKSUM_ANNOTATION
from fate_pulumi.mocks import Rendered, referenced_outputs, run_under_mocks, to_manifest
from fate_pulumi.render import engine_config
from stacks.config import SECRET_KEYS, load_config
from stacks.deployment import KINDS, Exchange, Party
from tests.conftest import ROOT, TEST_SECRETS, party, stack_config
from tests.stacks.test_golden import CASES, FIXED_CA, OUTPUTS, documents, golden_file, snapshot


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


# --------------------------------------------------------------------------------------------------------------
# Passwords other resources compute: every object is created when the program runs (issue 24)
# --------------------------------------------------------------------------------------------------------------


def _component(values: dict, password: Callable[[str, str], Any], preview: bool = False) -> Rendered:
    """The deployment of stack values built as its component, each password given as `password(key, value)`, under
    the name the stack program gives it (so its resources are the stack's)."""
    cfg = load_config(values, SECRET_KEYS)

    def program() -> dict:
        given = {k: password(k, v) if k in SECRET_KEYS else v for k, v in values.items()}
        KINDS[cfg.kind](cfg.deployment_name, given)
        return {}

    config, _ = engine_config({f"fate:{k}": v for k, v in values.items()})
    return run_under_mocks(program, stack_outputs=referenced_outputs(config), preview=preview)


@pytest.mark.parametrize("case", sorted(CASES))
def test_passwords_given_as_outputs_render_exactly_what_the_stack_renders(case):
    """Secret Outputs (as another program hands them over) give byte-identical objects to the golden render of the
    stack, Secret values and checksum annotations included."""
    r = _component(CASES[case][1], lambda _k, v: pulumi.Output.secret(v))
    # every resource's document as recorded (the outputs are the stack program's, not a component's)
    have, want = documents(snapshot(case, r)), documents(golden_file(case).read_text())
    assert {k: v for k, v in have.items() if k not in ("", OUTPUTS)} == \
        {k: v for k, v in want.items() if k not in ("", OUTPUTS)}


def _unknown_in_a_preview(key: str, value: str) -> pulumi.Output[str]:
    """A password another resource returns once created: unknown in a preview (mocks return no `result`)."""
    source = pulumi.CustomResource("test:index:PasswordSource", f"{key}-source", {"result": None})
    return pulumi.Output.secret(cast(Any, source).result)


_TLS = {"generate": True, "caCertificate": (FIXED_CA / "ca.pem").read_text(), "validFrom": "2026-06-01"}
PREVIEWED = {
    # every password of a party: eggroll with issued rollsite certificates, Hive, the ZooKeeper ACL
    "party-eggroll-tls-hive-zookeeper": party(
        rollsite={"tls": {"enabled": True}}, publicHost="203.0.113.10", tls=_TLS,
        tlsCaKey=(FIXED_CA / "ca.key").read_text(), hivePassword=TEST_SECRETS["hivePassword"],
        python={"hive": {"host": "hive.example.org"}},
        serving={"zookeeper": {"hosts": ["zk.example.org:2181"], "useAcl": True, "user": "fate"}},
        zookeeperPassword=TEST_SECRETS["zookeeperPassword"]),
    "party-spark-rabbitmq": party(backend="spark_rabbitmq"),
    # Pulsar's broker certificate and the exchange's Traffic Server certificate
    "party-spark-pulsar-tls": party(backend="spark_pulsar", tls=_TLS, tlsCaKey=(FIXED_CA / "ca.key").read_text(),
                                    pulsar={"exchange": {"host": "203.0.113.1", "port": 443}}),
    "exchange-pulsar-tls": {"kind": "exchange", "partyId": 1, "modules": ["trafficServer", "nginx"], "tls": _TLS,
                            "tlsCaKey": (FIXED_CA / "ca.key").read_text()},
    "serving": {**stack_config(ROOT / "examples" / "Pulumi.serving-9999.yaml"),
                "servingRedisPassword": TEST_SECRETS["servingRedisPassword"]},
}


@pytest.mark.parametrize("case", sorted(PREVIEWED))
def test_a_preview_with_unknown_passwords_shows_every_object(case):
    """While a password is unknown (a preview, the password from a resource not created yet) the deployment
    registers every object it registers with plain passwords: only the values made from the password are unknown."""
    values = PREVIEWED[case]
    known = _component(values, lambda _k, v: v, preview=True)
    unknown = _component(values, _unknown_in_a_preview, preview=True)
    passwords = [k for k in values if k in SECRET_KEYS]
    assert passwords
    sources = {("test:index:PasswordSource", f"{k}-source") for k in passwords}
    registered = {(x.type, x.name) for x in unknown.resources}
    assert sources <= registered
    assert registered - sources == {(x.type, x.name) for x in known.resources}
    assert sum(t.startswith("kubernetes:") for t, _ in registered) > 5
    # the Secrets holding a password are there, their values unknown; every other object is as with plain passwords,
    # but for the workloads' checksum annotation (unknown where the module holds a password)
    unknown_objects = {(o["kind"], o["metadata"]["name"]): o for o in unknown.raw_objects}
    for obj in known.raw_objects:
        twin = unknown_objects[obj["kind"], obj["metadata"]["name"]]
        if obj["kind"] != "Secret":
            assert _without_checksum(twin) == _without_checksum(obj), obj["metadata"]["name"]


def _without_checksum(obj: dict) -> dict:
    template = obj.get("spec", {}).get("template", {}).get("metadata", {})
    template.get("annotations", {}).pop(CHECKSUM_ANNOTATION, None)
    return obj


def _refused(values: dict) -> tuple[str, Rendered]:
    into = Rendered()
    with pytest.raises(pulumi.RunError) as err:
        run_under_mocks(lambda: Party("p", values) and {}, into=into)
    return str(err.value), into


@pytest.mark.parametrize("given, key, fix", [
    ({"publicHost": pulumi.Output.from_input("203.0.113.10")}, "fate:publicHost", "give it as a plain value"),
    ({"rollsite": {"exchange": {"host": pulumi.Output.from_input("rollsite.fate-exchange"), "port": 9370}}},
     "fate:rollsite.exchange.host", "give it as a plain value"),
    ({"kubernetes": {"kubeconfig": pulumi.Output.secret("apiVersion: v1")}}, "fate:kubernetes.kubeconfig",
     "give the component a Kubernetes provider made from it instead"),
    ({"modules": ["mysql", pulumi.Output.from_input("python")]}, "fate:modules[1]", "give it as a plain value"),
])
def test_settings_other_than_passwords_given_as_outputs_are_refused_with_their_key(given, key, fix):
    message, into = _refused(party(**given))
    assert f"invalid settings of fate:index:Party p:\n  {key}: is a value another resource computes" in message
    assert fix in message and "only the passwords may be Outputs" in message
    assert not [x for x in into.resources if x.type.startswith(("kubernetes:", "pulumi:providers:"))]


def test_a_ca_key_given_as_an_output_is_checked_once_known():
    values = {**PREVIEWED["party-eggroll-tls-hive-zookeeper"], "tlsCaKey": pulumi.Output.secret(
        (ROOT / "tests" / "fixtures" / "golden-ca" / "ca.pem").read_text())}
    with pytest.raises(pulumi.RunError, match="fate:tlsCaKey: not a PEM private key"):
        run_under_mocks(lambda: Party("p", values) and {})
