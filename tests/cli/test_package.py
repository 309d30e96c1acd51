"""The `fate` package's schema: derived from the stack config's models, complete, every reference resolvable, the
passwords secret; one set of keys with the stack config (a setting added there appears here without a second copy)."""

from __future__ import annotations

import json
import subprocess
import sys

from components import registry
from fate_pulumi.package import kind_args, schema
from stacks.config import SECRET_KEYS
from tests.conftest import ROOT


def _refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_reference_resolves_and_every_property_has_a_type():
    s = schema()
    for ref in _refs(s):
        if ref.startswith("#/types/"):
            assert ref.removeprefix("#/types/") in s["types"], ref
        else:
            assert ref == "pulumi.json#/Any", ref
    for token, spec in s["types"].items():
        assert token.startswith("fate:index:")
        for key, prop in spec.get("properties", {}).items():
            assert "type" in prop or "$ref" in prop, (token, key)


def test_components_take_the_stack_config_keys_of_their_kind():
    s = schema()
    party = s["resources"]["fate:index:Party"]
    inputs = set(party["inputProperties"])
    assert {"partyId", "rollsite", "python", "mysql", "backend", "serving", "persistence", "tls"} <= inputs
    assert not {"servingProxy", "trafficServer", "kind", "secrets"} & inputs
    assert party["requiredInputs"] == ["partyId"]
    assert party["inputProperties"]["mysqlPassword"]["secret"] is True
    exchange = set(s["resources"]["fate:index:Exchange"]["inputProperties"])
    assert {"rollsite", "trafficServer", "nginx"} <= exchange and "python" not in exchange
    serving = set(s["resources"]["fate:index:Serving"]["inputProperties"])
    assert {m.name for m in registry.MODULES if m.serving} <= serving and "servingRedisPassword" in serving
    for kind in ("party", "exchange", "serving"):
        component = s["resources"][f"fate:index:{kind.capitalize()}"]
        assert set(component["inputProperties"]) - set(SECRET_KEYS) == kind_args(kind)
        assert {"connect", "summary", "partyId"} <= set(component["properties"])


def test_descriptions_and_choices_come_from_the_models():
    s = schema()
    rollsite = s["types"]["fate:index:RollsiteConfig"]["properties"]
    assert rollsite["exchange"]["description"] == "Send every unknown party to this exchange"
    assert s["types"]["fate:index:Backend"]["enum"] == [
        {"value": v} for v in ("eggroll", "spark_rabbitmq", "spark_pulsar", "spark_local_pulsar")]
    assert s["types"]["fate:index:ServiceSettingsType"]["enum"][0] == {"value": "ClusterIP"}
    route = s["types"]["fate:index:PulsarConfig"]["properties"]["routeTable"]
    assert route["type"] == "object" and route["additionalProperties"] == {"$ref": "#/types/fate:index:PulsarRoute"}


def test_the_provider_prints_its_schema():
    done = subprocess.run([sys.executable, "-m", "fate_pulumi.package", "schema"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(json.dumps(schema()))
