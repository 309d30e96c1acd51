"""Passwords live only in Secrets, as Pulumi secrets; never in a ConfigMap, an env value or the rendered output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fate_pulumi.mocks import SECRET_SIG
from fate_pulumi.render import stack_file_config, write
from tests.conftest import EXAMPLES, TEST_SECRETS, render, render_file
from tests.stacks.variants import VARIANTS

CASES: dict[str, tuple[str, Any]] = {**{p.name: ("file", p) for p in EXAMPLES},
                                     **{name: ("variant", cfg) for name, cfg in VARIANTS.items()}}


def _rendered(case):
    kind, value = CASES[case]
    return render_file(value) if kind == "file" else render(value)


def _contains_secret(value) -> list[str]:
    text = json.dumps(value)
    return [k for k, v in TEST_SECRETS.items() if v in text or json.dumps(v)[1:-1] in text]


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_password_outside_secrets(case):
    rendered = _rendered(case)
    secret_objects = 0
    for obj in rendered.raw_objects:
        if obj["kind"] == "Secret":
            secret_objects += 1
            continue
        leaked = _contains_secret(obj)
        assert not leaked, f"{obj['kind']}/{obj['metadata']['name']} holds {leaked}"
    assert secret_objects > 0 or case.startswith("Pulumi.exchange") or "exchange" in case


@pytest.mark.parametrize("case", sorted(CASES))
def test_secret_values_are_pulumi_secrets(case):
    """Every Secret's stringData reaches the engine marked secret (encrypted in state, masked in output)."""
    for r in _rendered(case).resources:
        if r.type == "kubernetes:core/v1:Secret":
            assert SECRET_SIG in r.inputs["stringData"], r.name


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_output_is_redacted(case, tmp_path: Path):
    rendered = _rendered(case)
    write(rendered, tmp_path)
    text = (tmp_path / "manifests.yaml").read_text() + (tmp_path / "outputs.json").read_text()
    for path in (tmp_path / "objects").iterdir():
        text += path.read_text()
    leaked = [k for k, v in TEST_SECRETS.items() if v in text]
    assert not leaked


def test_secrets_hold_what_the_modules_need():
    """The values did reach their Secrets (so the tests above are not vacuous)."""
    rendered = render_file(EXAMPLES[0].parent / "Pulumi.party-9999-spark-rabbitmq.yaml")
    secrets = {o["metadata"]["name"]: o["stringData"] for o in rendered.raw_objects if o["kind"] == "Secret"}
    assert secrets["mysql-secret"]["mysql-password"] == TEST_SECRETS["mysqlPassword"]
    assert f"passwd: {TEST_SECRETS['mysqlPassword']}" in secrets["python-secret"]["service_conf.yaml"]
    assert f"password: {TEST_SECRETS['rabbitmqPassword']}" in secrets["python-secret"]["service_conf.yaml"]
    assert secrets["rabbitmq-secret"]["password"] == TEST_SECRETS["rabbitmqPassword"]
    assert secrets["fateboard-secret"]["login.properties"] == \
        f"server.board.login.password={TEST_SECRETS['fateboardPassword']}\n"
    assert secrets["client-secret"]["notebook-hashed-password"] == TEST_SECRETS["notebookHashedPassword"]


def test_clustermanager_gets_the_jdbc_password_from_its_secret():
    rendered = render_file(EXAMPLES[0].parent / "Pulumi.party-9999-eggroll.yaml")
    secret = next(
        o for o in rendered.raw_objects if o["kind"] == "Secret" and o["metadata"]["name"] == "clustermanager-secret"
    )
    assert secret["stringData"]["jdbc.properties"] == \
        f"eggroll.resourcemanager.clustermanager.jdbc.password={TEST_SECRETS['mysqlPassword']}\n"
    cm = rendered.get("Deployment", "clustermanager")["spec"]["template"]["spec"]["containers"][0]
    script = cm["command"][-1]
    assert (
        "conf-k8s/secret/jdbc.properties" in script
        and "> /data/projects/fate/eggroll/conf/eggroll.properties" in script
    )


def test_offline_render_of_encrypted_values_uses_a_placeholder():
    config, secret_keys = stack_file_config(EXAMPLES[0].parent / "Pulumi.party-9999-eggroll.yaml")
    assert secret_keys and all(config[k] == "offline-render-placeholder" for k in secret_keys)
