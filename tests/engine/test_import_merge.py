"""Importing over a stack file the real Pulumi CLI made (issue 23 item 2): `pulumi stack init` salted it and
`pulumi config set --secret` encrypted a password into it; after `fate-pulumi import -o` over it, the same CLI still
decrypts that password with the same passphrase and reads the imported keys and another provider's key."""

from __future__ import annotations

import yaml

from fate_pulumi import cli
from tests.cli.test_importer import fixture_file


def test_the_cli_reads_secrets_and_keys_of_a_stack_file_an_import_was_merged_into(engine, capsys):
    stack = "import-merge"
    assert engine.run("stack", "init", stack, "--secrets-provider", "passphrase").rc == 0
    for args in (("--secret", "fate:mysqlPassword", "it's a $ecret #1"), ("kubernetes:context", "bank-prod")):
        res = engine.run("config", "set", *args, "--stack", stack)
        assert res.rc == 0, res.output
    stack_file = engine.project / f"Pulumi.{stack}.yaml"
    before = yaml.safe_load(stack_file.read_text())
    assert cli.main(["import", str(fixture_file("party-9999-eggroll")), "-o", str(stack_file)]) == 0
    assert "kept encryptionsalt" in capsys.readouterr().err
    after = yaml.safe_load(stack_file.read_text())
    assert after["encryptionsalt"] == before["encryptionsalt"]

    def get(key: str) -> str:
        res = engine.run("config", "get", key, "--stack", stack)
        assert res.rc == 0, res.output
        return res.stdout.strip()

    assert get("fate:mysqlPassword") == "it's a $ecret #1"  # decrypted with the kept salt
    assert get("kubernetes:context") == "bank-prod"
    assert get("fate:partyId") == "9999"
    assert yaml.safe_load(get("fate:rollsite"))["service"]["nodePorts"] == {"rollsite": 31910}
    # the CLI's own writes still work on the merged file and keep the imported keys
    res = engine.run("config", "set", "--secret", "fate:fateboardPassword", "board", "--stack", stack)
    assert res.rc == 0, res.output
    assert get("fate:fateboardPassword") == "board" and get("fate:partyId") == "9999"
