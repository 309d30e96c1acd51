"""Bad input to every command: one line naming the file (and line and column for YAML) and the fix, a non-zero exit,
no traceback, nothing written. The commands run in-process through `fate-pulumi`'s dispatcher (an exception
escaping would fail the test); one case runs the installed console script as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from fate_pulumi import cli
from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "Pulumi.party-9999-eggroll.yaml"
CLUSTER = {"name": "fate-9999", "namespace": "fate-9999", "chartName": "fate", "chartVersion": "v1.11.2",
           "partyId": 9999, "computing": "Eggroll", "federation": "Eggroll", "storage": "Eggroll",
           "modules": ["rollsite", "clustermanager", "nodemanager", "mysql", "python", "fateboard", "client"]}
TOPOLOGY = {"name": "demo", "development": True, "parties": [{"partyId": 9999, "address": "198.51.100.10"}]}


def _write(tmp: Path, name: str, content) -> Path:
    path = tmp / name
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return path


def _stack(tmp: Path, **config) -> Path:
    return _write(tmp, "Pulumi.x.yaml", {"config": {f"fate:{k}": v for k, v in {"partyId": 9999, "development": True,
                                                                                 **config}.items()}})


# id -> (build argv in tmp, what the one line must contain, exit code)
CASES: dict[str, tuple[Callable[[Path], list[str]], str, int]] = {
    # render
    "render-missing-file": (lambda t: ["render", str(t / "nope.yaml"), str(t / "out")], "nope.yaml: no such file", 2),
    "render-directory": (lambda t: ["render", str(t), str(t / "out")], "is a directory", 2),
    "render-bad-yaml": (
        lambda t: ["render", str(_write(t, "Pulumi.x.yaml", "config:\n  fate:partyId: [9999\n")), str(t / "out")],
        "Pulumi.x.yaml:3:1:",
        2,
    ),
    "render-duplicate-key": (
        lambda t: [
            "render",
            str(_write(t, "Pulumi.x.yaml", "config:\n  fate:partyId: 1\n  fate:partyId: 2\n")),
            str(t / "out"),
        ],
        "Pulumi.x.yaml:3:3: duplicate key 'fate:partyId' (first at line 2)",
        2,
    ),
    "render-kubefate-file": (
        lambda t: ["render", str(_write(t, "cluster.yaml", CLUSTER)), str(t / "out")],
        "a KubeFATE cluster file, not a stack file — import it first: fate-pulumi import",
        2,
    ),
    "render-topology-file": (
        lambda t: ["render", str(_write(t, "fed.yaml", TOPOLOGY)), str(t / "out")],
        "a federation topology, not a stack file — use: fate-pulumi federation preview",
        2,
    ),
    "render-no-config": (
        lambda t: ["render", str(_write(t, "Pulumi.x.yaml", {"encryptionsalt": "v1:x"})), str(t / "out")],
        "no `config:` section",
        2,
    ),
    "render-no-fate-keys": (
        lambda t: ["render", str(_write(t, "Pulumi.x.yaml", {"config": {"kubernetes:context": "x"}})), str(t / "out")],
        "no `fate:` keys under config",
        2,
    ),
    "render-list-not-mapping": (
        lambda t: ["render", str(_write(t, "Pulumi.x.yaml", "- 1\n- 2\n")), str(t / "out")],
        "no mapping at the top",
        2,
    ),
    "render-unknown-key": (
        lambda t: ["render", str(_stack(t, partyID=1)), str(t / "out")],
        "fate:partyID: unknown key",
        2,
    ),
    "render-party-id-abc": (lambda t: ["render", str(_stack(t, partyId="abc")), str(t / "out")], "fate:partyId:", 2),
    "render-out-is-a-file": (
        lambda t: ["render", str(EXAMPLE), str(_write(t, "out", "x"))],
        "exists and is not a directory",
        2,
    ),
    "render-not-utf8": (
        lambda t: ["render", str(_bytes(t, "Pulumi.x.yaml", b"config:\n  fate:partyId: \xff\n")), str(t / "out")],
        "not UTF-8 text",
        2,
    ),
    # import
    "import-missing-file": (lambda t: ["import", str(t / "cluster.yaml")], "cluster.yaml: no such file", 2),
    "import-bad-yaml": (
        lambda t: ["import", str(_write(t, "cluster.yaml", "partyId: 9999\n  modules: x\n"))],
        "cluster.yaml:2:",
        2,
    ),
    "import-party-id-abc": (
        lambda t: ["import", str(_write(t, "cluster.yaml", {**CLUSTER, "partyId": "abc"}))],
        "partyId: 'abc' is not a whole number",
        2,
    ),
    "import-port-not-a-number": (
        lambda t: [
            "import",
            str(_write(t, "cluster.yaml", {**CLUSTER, "rollsite": {"type": "NodePort", "nodePort": "30091a"}})),
        ],
        "rollsite.nodePort: '30091a'",
        2,
    ),
    "import-unknown-chart": (
        lambda t: ["import", str(_write(t, "cluster.yaml", {**CLUSTER, "chartName": "fate-x"}))],
        "chartName: 'fate-x' is not one of",
        2,
    ),
    "import-unknown-key": (
        lambda t: ["import", str(_write(t, "cluster.yaml", {**CLUSTER, "typo": 1}))],
        "typo: not a KubeFATE v1.11.2 option",
        2,
    ),
    "import-a-stack-file": (lambda t: ["import", str(EXAMPLE)], "a Pulumi stack file already — render it", 2),
    "import-output-dir-missing": (
        lambda t: ["import", str(_write(t, "cluster.yaml", CLUSTER)), "-o", str(t / "no" / "Pulumi.x.yaml")],
        "no such directory",
        2,
    ),
    "import-output-is-dir": (
        lambda t: ["import", str(_write(t, "cluster.yaml", CLUSTER)), "-o", str(t)],
        "is a directory — give a file name",
        2,
    ),
    "import-refused-writes-nothing": (
        lambda t: ["import", str(_write(t, "cluster.yaml", {**CLUSTER, "typo": 1})), "-o", str(t / "Pulumi.x.yaml")],
        "typo:",
        2,
    ),
    # federation
    "federation-missing-file": (lambda t: ["federation", "preview", str(t / "fed.yaml")], "fed.yaml: no such file", 2),
    "federation-a-stack-file": (
        lambda t: ["federation", "preview", str(EXAMPLE)],
        "a Pulumi stack file, not a topology",
        2,
    ),
    "federation-a-cluster-file": (
        lambda t: ["federation", "up", str(_write(t, "c.yaml", CLUSTER))],
        "a KubeFATE cluster file, not a topology",
        2,
    ),
    "federation-bad-backend": (
        lambda t: [
            "federation",
            "preview",
            str(
                _write(
                    t,
                    "fed.yaml",
                    {**TOPOLOGY, "parties": [{"partyId": 1, "address": "198.51.100.1", "backend": "spark"}]},
                )
            ),
        ],
        "parties.0.backend:",
        2,
    ),
    "federation-party-twice": (
        lambda t: [
            "federation",
            "preview",
            str(_write(t, "fed.yaml", {**TOPOLOGY, "parties": TOPOLOGY["parties"] * 2})),
        ],
        "party id 9999 is listed twice",
        2,
    ),
    "federation-bad-yaml": (
        lambda t: ["federation", "preview", str(_write(t, "fed.yaml", "parties: [\n"))],
        "fed.yaml:2:",
        2,
    ),
    # ca
    "ca-out-is-a-file": (lambda t: ["ca", "--cn", "CA", "--out", str(_write(t, "ca", "x"))], "is not a directory", 2),
    "ca-key-exists": (lambda t: ["ca", "--cn", "CA", "--out", str(_key(t))], "a CA key is never overwritten", 2),
    # drift
    "drift-no-project": (lambda t: ["drift", "--stack", "x", "--work-dir", str(t)], "no Pulumi.yaml", 2),
    # adopt
    "adopt-missing-stack-file": (
        lambda t: ["adopt", "take-over", str(t / "Pulumi.x.yaml"), "--backup", str(t / "b.json")],
        "Pulumi.x.yaml: no such file",
        2,
    ),
    # adopt rollback / take-over's other inputs, MySQL backup and restore (issue 23)
    "adopt-rollback-missing-backup": (
        lambda t: ["adopt", "rollback", "--backup", str(t / "kubefate-fate-9999.json")],
        "kubefate-fate-9999.json: no such file",
        2,
    ),
    "adopt-rollback-backup-is-a-stack-file": (
        lambda t: ["adopt", "rollback", "--backup", str(EXAMPLE)],
        "not a backup written by fate-pulumi adopt take-over",
        2,
    ),
    "adopt-rollback-binary-backup": (
        lambda t: ["adopt", "rollback", "--backup", str(_bytes(t, "b.json", b"\x89PNG\r\n\x1a\n\x00\xff"))],
        "b.json: not UTF-8 text",
        2,
    ),
    "adopt-take-over-not-adoptable": (
        lambda t: ["adopt", "take-over", str(_stack(t)), "--backup", str(t / "b.json")],
        "Pulumi.x.yaml: fate:adoptKubefate: not set",
        2,
    ),
    "adopt-take-over-mysql-backup-dir-missing": (
        lambda t: ["adopt", "take-over", str(_adoptable(t)), "--backup", str(t / "b.json"),
                   "--mysql-backup", str(t / "no" / "m.sql")],
        "no such directory",
        2,
    ),
    "adopt-take-over-mysql-backup-not-a-backup": (
        lambda t: ["adopt", "take-over", str(_adoptable(t)), "--backup", str(t / "b.json"),
                   "--mysql-backup", str(_write(t, "m.sql", "SELECT 1;\n"))],
        "m.sql: no `-- fate-pulumi backup:` line at its end",
        2,
    ),
    "backup-missing-stack-file": (
        lambda t: ["backup", str(t / "Pulumi.x.yaml"), "-o", str(t / "m.sql")],
        "Pulumi.x.yaml: no such file",
        2,
    ),
    "backup-output-exists": (
        lambda t: ["backup", str(EXAMPLE), "-o", str(_write(t, "m.sql", "x"))],
        "m.sql: exists — a backup is never overwritten",
        2,
    ),
    "backup-output-dir-missing": (
        lambda t: ["backup", str(EXAMPLE), "-o", str(t / "no" / "m.sql")],
        "no such directory",
        2,
    ),
    "backup-no-mysql": (
        lambda t: ["backup", str(ROOT / "examples" / "Pulumi.exchange-rollsite.yaml"), "-o", str(t / "m.sql")],
        "the stack deploys no MySQL",
        2,
    ),
    "restore-missing-backup": (
        lambda t: ["restore", str(EXAMPLE), "--from", str(t / "m.sql")],
        "m.sql: no such file",
        2,
    ),
    "restore-from-a-stack-file": (
        lambda t: ["restore", str(EXAMPLE), "--from", str(EXAMPLE)],
        "not a MySQL backup fate-pulumi wrote",
        2,
    ),
    "restore-from-a-binary-file": (
        lambda t: ["restore", str(EXAMPLE), "--from", str(_bytes(t, "m.sql", b"\x00\xff\xfe" * 100))],
        "not a MySQL backup fate-pulumi wrote",
        2,
    ),
    "restore-missing-stack-file": (
        lambda t: ["restore", str(t / "Pulumi.x.yaml"), "--from", str(_mysql_backup(t))],
        "Pulumi.x.yaml: no such file",
        2,
    ),
    "restore-corrupt-backup": (  # a failure, not bad input: checked before the cluster is touched
        lambda t: ["restore", str(EXAMPLE), "--from", str(_mysql_backup(t, corrupt=True))],
        "its sha256 is not the one recorded when it was taken",
        1,
    ),
    # preflight
    "preflight-nothing-given": (lambda t: ["preflight"], "give stack files or --topology FILE", 2),
    "preflight-bad-external": (lambda t: ["preflight", "--external", "db", str(EXAMPLE)], "'db' is not HOST:PORT", 2),
    "preflight-missing-stack-file": (lambda t: ["preflight", str(t / "Pulumi.y.yaml")], "Pulumi.y.yaml: no such file",
                                     2),
    "preflight-bad-config": (lambda t: ["preflight", str(_stack(t, rollsite={"nodeport": 1}))],
                             "fate:rollsite.nodeport: unknown key", 2),
    # the dispatcher
    "unknown-command": (lambda t: ["renderr", "x"], "unknown command 'renderr'", 2),
}


def _adoptable(tmp: Path) -> Path:
    """The example party as fate-pulumi import --adopt leaves it (passwords set, fate:adoptKubefate)."""
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["config"]["fate:adoptKubefate"] = True
    return _write(tmp, "Pulumi.party-9999.yaml", doc)


def _mysql_backup(tmp: Path, corrupt: bool = False) -> Path:
    """A backup file as fate-pulumi backup writes it (its trailer line over mysqldump's output)."""
    import hashlib
    import json

    body = b"CREATE DATABASE `eggroll_meta`;\nUSE `eggroll_meta`;\n-- Dump completed on 2024-05-01 10:00:00\n"
    meta = {"version": 1, "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body), "namespace": "fate-9999",
            "pod": "mysql-0", "databases": ["eggroll_meta"], "tables": {"eggroll_meta": {}}}
    return _bytes(tmp, "m.sql", (body.replace(b"CREATE", b"create") if corrupt else body) +
                  b"-- fate-pulumi backup: " + json.dumps(meta).encode() + b"\n")


def _bytes(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def _key(tmp: Path) -> Path:
    out = tmp / "ca"
    out.mkdir()
    (out / "ca.key").write_text("existing")
    return out


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gets_one_line_a_non_zero_exit_and_writes_nothing(case, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", os.environ["PATH"])  # drift needs a PATH; its case has no project either way
    build, expected, code = CASES[case]
    argv = build(tmp_path)
    before = {p: p.stat().st_mtime for p in tmp_path.rglob("*")}
    assert cli.main(argv) == code
    out = capsys.readouterr()
    lines = [line for line in out.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), out.err
    assert expected in lines[0], lines[0]
    assert "Traceback" not in out.err + out.out
    after = {p: p.stat().st_mtime for p in tmp_path.rglob("*")}
    assert after == before, f"written: {sorted(set(after) - set(before))}"


def test_a_password_drift_and_federation_need_their_programs(tmp_path, capsys, monkeypatch):
    """Without the Pulumi CLI, drift and federation say how to get it, in one line."""
    (tmp_path / "Pulumi.yaml").write_text("name: fate\nruntime: python\n")
    monkeypatch.setenv("PATH", str(tmp_path))  # no pulumi
    assert cli.main(["drift", "--stack", "x", "--work-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == ("error: pulumi: the Pulumi CLI is not on PATH — install it (README: "
                                               "Install Pulumi) or source the toolchain's env.sh")
    topology = _write(tmp_path, "fed.yaml", TOPOLOGY)
    assert cli.main(["federation", "preview", str(topology)]) == 2
    assert "the Pulumi CLI is not on PATH" in capsys.readouterr().err


def test_an_empty_notebook_password_is_refused(capsys, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))
    assert cli.main(["password", "--stdin"]) == 2
    assert capsys.readouterr().err.startswith("error: empty password")


def test_the_notebook_password_is_a_hash_jupyter_accepts(capsys, monkeypatch):
    """The hash verifies against the password with argon2 as jupyter_server's passwd_check does."""
    import io

    from argon2 import PasswordHasher

    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret pass\n"))
    assert cli.main(["password", "--stdin"]) == 0
    hashed = capsys.readouterr().out.strip()
    algorithm, _, encoded = hashed.partition(":")
    assert algorithm == "argon2" and PasswordHasher().verify(encoded, "s3cret pass")


def test_a_typo_of_the_fate_namespace_warns(tmp_path, capsys):
    stack = _write(tmp_path, "Pulumi.x.yaml", {"config": {"fate:partyId": 9999, "fate:development": True,
                                                          "fat:backend": "spark_pulsar"}})
    assert cli.main(["render", str(stack), str(tmp_path / "out")]) == 0
    assert "warning: " + str(stack) + ": fat:backend looks like fate:backend" in capsys.readouterr().err


def test_import_writes_its_output_only_on_success(tmp_path, capsys):
    out = tmp_path / "Pulumi.party-9999.yaml"
    assert cli.main(["import", str(_write(tmp_path, "cluster.yaml", CLUSTER)), "-o", str(out)]) == 0
    assert yaml.safe_load(out.read_text())["config"]["fate:partyId"] == 9999


def test_the_console_script_is_installed_and_fails_cleanly(tmp_path):
    """As a user runs it: the `fate-pulumi` script of `pip install -e .`."""
    script = shutil.which("fate-pulumi", path=str(Path(sys.executable).parent))
    assert script, "fate-pulumi is not installed in this environment: pip install -e ."
    res = subprocess.run([script, "render", str(tmp_path / "missing.yaml"), str(tmp_path / "out")],
                         capture_output=True, text=True)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr, res.stderr
    assert subprocess.run([script, "--help"], capture_output=True, text=True).stdout.count("fate-pulumi") >= 2


def test_an_exchange_without_parties_is_said_but_rendered(tmp_path, capsys):
    stack = _write(tmp_path, "Pulumi.ex.yaml", {"config": {"fate:kind": "exchange", "fate:partyId": 1}})
    assert cli.main(["render", str(stack), str(tmp_path / "out")]) == 0
    assert "this exchange routes to no party yet" in capsys.readouterr().err
