"""The MySQL backup's logic without a database: rows counted from mysqldump's statements (MySQL 8.0's and MariaDB's
layouts), the file and its trailer, refusing to overwrite, the command lines, where MySQL keeps its data, and the
take-over's refusals. mysqldump and mysql here are shell stand-ins that print a canned dump; the dump and restore
against real MariaDB are in tests/contract/test_daemons.py (--daemons), the take-over in
tests/engine/test_adopt_helm.py (--engine)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
from pathlib import Path
from typing import Any, Optional

import pytest

from fate_pulumi import adopt, backup
from fate_pulumi.adopt import AdoptError
from fate_pulumi.backup import BackupError, DumpCounter, MysqlExec, count_rows
from fate_pulumi.inputs import InputError
from fate_pulumi.kubectl import Kubectl
from fate_pulumi.managed import ManagedStack
from tests.conftest import party, render

# mysqldump 8.0.28 (MySQL): a table's rows on the INSERT's line
MYSQL_DUMP = b"""\
-- MySQL dump 10.13  Distrib 8.0.28, for Linux (x86_64)
/*!40101 SET NAMES utf8mb4 */;
CREATE DATABASE /*!32312 IF NOT EXISTS*/ `eggroll_meta` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;

USE `eggroll_meta`;
DROP TABLE IF EXISTS `store_locator`;
CREATE TABLE `store_locator` (
  `store_locator_id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `name` varchar(2000) NOT NULL,
  PRIMARY KEY (`store_locator_id`)
) ENGINE=InnoDB;
LOCK TABLES `store_locator` WRITE;
INSERT INTO `store_locator` VALUES (1,'a),(b'),(2,'it\\'s (x)'),(3,'back\\\\'),(4,'semi;colon\\n');
INSERT INTO `store_locator` VALUES (5,NULL);
UNLOCK TABLES;
CREATE TABLE `t_job` (
  `f_job_id` varchar(25) NOT NULL
) ENGINE=InnoDB;
CREATE TABLE `weird``name` (
  `a` int GENERATED ALWAYS AS (1) VIRTUAL, `b` blob
) ENGINE=InnoDB;
INSERT INTO `weird``name` (`b`) VALUES (0x28292C28),(_binary '\\0(');
-- Dump completed on 2024-05-01 10:00:00
"""
# mariadb-dump 10.11: one row a line after the INSERT
MARIADB_DUMP = b"""\
/*M!999999\\- enable the sandbox mode */
-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB
CREATE DATABASE /*!32312 IF NOT EXISTS*/ `fate_flow` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;
USE `fate_flow`;
CREATE TABLE `t_task` (
  `f_id` int(11) NOT NULL
) ENGINE=InnoDB;
INSERT INTO `t_task` VALUES
(1,'(\\','),
(2,''),
(3,'x');
INSERT INTO `t_task` VALUES
(4,'y');
CREATE TABLE `t_empty` (
  `f_id` int(11) NOT NULL
) ENGINE=InnoDB;
-- Dump completed on 2024-05-01 10:00:00
"""


def test_rows_are_counted_from_either_mysqldumps_statements_whatever_the_strings_hold():
    assert count_rows(b" (1,'a),(b'),(2,'it\\'s (x)'),(3,'back\\\\');") == (3, True)
    assert count_rows(b"(1,'(\\','),") == (1, False)  # MariaDB: one row, more follow
    assert count_rows(b"(3,'x');") == (1, True)
    assert count_rows(b"") == (0, False)  # MariaDB's `INSERT INTO `t` VALUES` line itself
    for bad in (b"(1,2", b"garbage;", b"(1,(2));"):
        with pytest.raises(ValueError):
            count_rows(bad)


@pytest.mark.parametrize("dump,tables", [
    (MYSQL_DUMP, {"eggroll_meta": {"store_locator": 5, "t_job": 0, "weird`name": 2}}),
    (MARIADB_DUMP, {"fate_flow": {"t_task": 4, "t_empty": 0}}),
], ids=["mysql-8.0", "mariadb-10.11"])
def test_the_counter_reads_databases_tables_and_rows_in_any_chunking(dump, tables):
    for size in (1, 7, 1 << 16):
        counter = DumpCounter()
        for i in range(0, len(dump), size):
            counter.feed(dump[i:i + size])
        counter.close()
        assert counter.tables == tables and counter.completed


def test_a_dump_cut_short_is_not_complete():
    for cut in (MARIADB_DUMP[:MARIADB_DUMP.index(b"(2,'')")], MYSQL_DUMP[:-5], MYSQL_DUMP.replace(b"-- Dump", b"--")):
        counter = DumpCounter()
        counter.feed(cut)
        counter.close()
        assert not counter.completed


# ------------------------------------------------------------------------------------------- stand-in programs


def _stand_ins(tmp: Path, dump: bytes, dump_exit: int = 0, databases: str = "information_schema\neggroll_meta\n"
               "mysql\nperformance_schema\nsys\n") -> MysqlExec:
    """`mysql` and `mysqldump` on PATH that record their arguments and MYSQL_PWD, and answer from canned output."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    (tmp / "dump.out").write_bytes(dump)
    (tmp / "databases.out").write_text(databases)
    for name, body in (("mysqldump", f'cat "{tmp}/dump.out"; exit {dump_exit}'),
                       ("mysql", f'if [ "$1 $2 $3" = "-ufate -N -B" ]; then cat > "{tmp}/stdin.$$"; '
                                 f'cat "{tmp}/databases.out"; else cat > "{tmp}/loaded"; fi')):
        (bin_dir / name).write_text(
            f'#!/bin/sh\nprintf "%s|" "{name}" "$@" >> "{tmp}/calls"; echo "MYSQL_PWD=$MYSQL_PWD" >> "{tmp}/calls"\n'
            f"{body}\n")
        (bin_dir / name).chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "MYSQL_USER": "fate", "MYSQL_PASSWORD": "S3cret pw'"}
    return MysqlExec([], "a stand-in", env)


def test_a_backup_is_a_new_private_file_with_its_checksum_and_rows_and_the_password_on_no_command_line(tmp_path):
    mysql = _stand_ins(tmp_path, MYSQL_DUMP)
    out = tmp_path / "mysql-fate-9999.sql"
    meta = backup.dump(mysql, out, {"namespace": "fate-9999", "pod": "mysql-0"})
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    data = out.read_bytes()
    assert data.startswith(MYSQL_DUMP) and data.count(b"\n") == MYSQL_DUMP.count(b"\n") + 1
    trailer = json.loads(data[len(MYSQL_DUMP):].removeprefix(b"-- fate-pulumi backup: "))
    assert trailer == meta
    assert trailer["sha256"] == hashlib.sha256(MYSQL_DUMP).hexdigest() and trailer["bytes"] == len(MYSQL_DUMP)
    assert trailer["databases"] == ["eggroll_meta"]  # not MySQL's own
    assert trailer["tables"]["eggroll_meta"]["store_locator"] == 5
    calls = (tmp_path / "calls").read_text()
    assert "mysqldump|-ufate|--single-transaction|--no-tablespaces|--hex-blob|--triggers|" \
           "--default-character-set=utf8mb4|--databases|eggroll_meta|MYSQL_PWD=S3cret pw'" in calls
    assert calls.count("S3cret") == calls.count("MYSQL_PWD=S3cret")  # only in the environment
    # the file reads back and verifies
    read = backup.read_trailer(out)
    backup.verify(out, read)
    assert read["tables"] == meta["tables"]


def test_an_existing_file_is_never_overwritten(tmp_path):
    out = tmp_path / "m.sql"
    out.write_text("the operator's file")
    with pytest.raises(InputError, match="exists — a backup is never overwritten"):
        backup.dump(_stand_ins(tmp_path, MYSQL_DUMP), out, {})
    assert out.read_text() == "the operator's file"


@pytest.mark.parametrize("dump,code,message", [
    (MYSQL_DUMP[:200], 2, "failed (exit 2)"),  # mysqldump died midway
    (MYSQL_DUMP.replace(b"-- Dump completed", b"-- Dump"), 0, "incomplete"),
    (MYSQL_DUMP.replace(b"(5,NULL)", b"(5,NULL"), 0, "cannot count the rows of table eggroll_meta.store_locator"),
])
def test_a_failed_or_unreadable_dump_leaves_no_file(tmp_path, dump, code, message):
    out = tmp_path / "m.sql"
    with pytest.raises(BackupError, match=message.replace("(", r"\(").replace(")", r"\)")):
        backup.dump(_stand_ins(tmp_path, dump, code), out, {})
    assert not out.exists()


def _written(tmp: Path) -> Path:
    out = tmp / "m.sql"
    backup.dump(_stand_ins(tmp, MARIADB_DUMP), out, {"namespace": "fate-9999", "pod": "mysql-0"})
    return out


def test_a_changed_byte_fails_the_checksum_and_a_cut_file_is_not_a_backup(tmp_path):
    out = _written(tmp_path)
    good = out.read_bytes()
    out.write_bytes(good.replace(b"(3,'x')", b"(3,'y')"))
    with pytest.raises(BackupError, match="its sha256 is not the one recorded"):
        backup.verify(out, backup.read_trailer(out))
    for bad in (good[:-40], good[:100], b"\x89PNG\r\n\x1a\n\x00\xff", b"config:\n  fate:partyId: 9999\n"):
        out.write_bytes(bad)
        with pytest.raises(InputError, match="not a MySQL backup fate-pulumi wrote, or one cut short"):
            backup.read_trailer(out)
    with pytest.raises(InputError, match="no such file"):
        backup.read_trailer(tmp_path / "missing.sql")


def test_the_exec_command_line_carries_no_password():
    kubectl = Kubectl("kc", "ctx", binary="kubectl")
    mysql = MysqlExec.kubectl(kubectl, "fate-9999", "mysql-0")
    assert mysql.argv("mysqldump", ["--databases", "eggroll_meta"]) == [
        "kubectl", "--kubeconfig=kc", "--context=ctx", "exec", "-i", "-n", "fate-9999", "mysql-0", "-c", "mysql",
        "--", "sh", "-c", 'MYSQL_PWD="$MYSQL_PASSWORD" exec mysqldump -u"$MYSQL_USER" --databases eggroll_meta']


def test_restored_rows_that_differ_are_named():
    assert backup.differences({"db": {"a": 1, "b": 2, "c": 0}}, {"db": {"a": 1, "b": 3}}) == [
        "db.b: 3 rows, the backup has 2", "db.c: missing, the backup has 0"]


# ------------------------------------------------------------------------------------------- where MySQL's data is


def _mysql(volume: Optional[dict], claim: bool = False) -> dict:
    """MySQL's StatefulSet as KubeFATE v1.11.2's core/mysql/statefulSet.yaml renders it."""
    sts: dict[str, Any] = {"kind": "StatefulSet", "metadata": {"name": "mysql"}, "spec": {"template": {"spec": {
        "containers": [{"name": "mysql", "volumeMounts": [
            {"name": "mysql-confs", "mountPath": "/docker-entrypoint-initdb.d/"},
            {"name": "data", "mountPath": "/var/lib/mysql", "subPath": "mysql"}]}],
        "volumes": [{"name": "mysql-confs", "configMap": {"name": "mysql-config"}}] + ([volume] if volume else [])}}}}
    if claim:
        sts["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}}]
    return sts


def test_mysql_data_in_an_empty_dir_is_found_in_kubefates_and_our_workloads():
    assert backup.ephemeral_data(_mysql({"name": "data", "emptyDir": {}})) == "an emptyDir"  # persistence: false
    assert backup.ephemeral_data(_mysql(None, claim=True)) is None
    assert backup.ephemeral_data(_mysql({"name": "data", "persistentVolumeClaim": {"claimName": "mysql-data"}})) is None
    for enabled, expected in ((False, "an emptyDir"), (True, None)):
        ours = render(party(persistence={"enabled": enabled})).get("StatefulSet", "mysql")
        assert backup.ephemeral_data(ours) == expected


# ------------------------------------------------------------------------------------------- take-over, restore


class FakeKubectl(Kubectl):
    """A cluster holding `objects` ((resource, name) -> object); records every other call."""

    def __init__(self, objects: dict[tuple[str, str], dict]):
        super().__init__(binary="false")
        self.objects = objects
        self.calls: list[tuple[str, ...]] = []

    def get(self, resource, name, namespace):
        self.calls.append(("get", resource, name))
        return self.objects.get((resource, name))

    def list(self, resource, namespace, selector=None):
        self.calls.append(("list", resource, selector))
        return []

    def run(self, *args, stdin=None, check=True):
        self.calls.append(args)
        raise AdoptError(f"not in this test: {args}")


def _plan(tmp: Path, persistence: bool) -> ManagedStack:
    ours = render(party(persistence={"enabled": persistence}, adoptKubefate=True)).get("StatefulSet", "mysql")
    return ManagedStack("fate-9999", "fate-9999", {("StatefulSet", "mysql")}, True, tmp / "Pulumi.party-9999.yaml",
                        ours)


def test_take_over_of_a_mysql_in_an_empty_dir_needs_a_backup_or_the_loss_accepted(tmp_path):
    kubectl = FakeKubectl({("statefulset", "mysql"): _mysql({"name": "data", "emptyDir": {}})})
    release_backup = tmp_path / "kubefate-fate-9999.json"
    with pytest.raises(AdoptError, match="keeps FATE Flow's jobs and eggroll's metadata in an emptyDir.*"
                                         "pass --mysql-backup FILE .* or --accept-data-loss"):
        adopt.take_over(kubectl, _plan(tmp_path, True), release_backup)
    # the new stack keeps persistence off too: the data would be lost again at the next restart
    with pytest.raises(AdoptError, match="Pulumi.party-9999.yaml: fate:persistence.enabled is false.*"
                                         "--accept-data-loss.*--mysql-backup carries the data over"):
        adopt.take_over(kubectl, _plan(tmp_path, False), release_backup, mysql_backup=tmp_path / "m.sql")
    assert not list(tmp_path.iterdir())  # refused before anything was written
    assert not [c for c in kubectl.calls if c[0] not in ("get", "list")]  # nor changed


def test_take_over_with_the_loss_accepted_or_a_persistent_mysql_goes_on(tmp_path):
    """Past the MySQL check, the take-over looks for the release (the fake cluster has none)."""
    cases = [(_mysql({"name": "data", "emptyDir": {}}), False, True), (_mysql(None, claim=True), True, False)]
    out = io.StringIO()
    for live, persistence, accept in cases:
        kubectl = FakeKubectl({("statefulset", "mysql"): live})
        with pytest.raises(AdoptError, match="no Helm release 'fate-9999'"):
            adopt.take_over(kubectl, _plan(tmp_path, persistence), tmp_path / "b.json", accept_data_loss=accept,
                            out=out)
    assert out.getvalue().count("warning: MySQL is not backed up (--accept-data-loss)") == 1


def test_a_restore_checks_the_file_before_it_touches_the_cluster(tmp_path):
    out = _written(tmp_path)
    out.write_bytes(out.read_bytes().replace(b"(4,'y')", b"(4,'z')"))
    kubectl = FakeKubectl({})
    with pytest.raises(BackupError, match="sha256"):
        backup.restore(kubectl, _plan(tmp_path, True), out, backup.read_trailer(out))
    assert kubectl.calls == []


def test_the_writers_are_stopped_then_started_with_their_replicas():
    class Scaling(FakeKubectl):
        def run(self, *args, stdin=None, check=True):
            self.calls.append(args)

    python = {"spec": {"replicas": 1, "selector": {"matchLabels": {"fateMoudle": "python", "name": "fate-9999"}}}}
    cm = {"spec": {"replicas": 2, "selector": {"matchLabels": {"fateMoudle": "clustermanager"}}}}
    kubectl = Scaling({("statefulset", "python"): python, ("deployment", "clustermanager"): cm})
    writers = backup.find_writers(kubectl, "fate-9999")
    backup.stop_writers(kubectl, "fate-9999", writers, 5)
    assert [c for c in kubectl.calls if c[0] != "get"] == [
        ("scale", "statefulset", "python", "-n", "fate-9999", "--replicas=0"),
        ("scale", "deployment", "clustermanager", "-n", "fate-9999", "--replicas=0"),
        ("list", "pods", "fateMoudle=python,name=fate-9999"), ("list", "pods", "fateMoudle=clustermanager")]
    kubectl.calls.clear()
    backup.start_writers(kubectl, "fate-9999", writers, 5)
    assert kubectl.calls == [
        ("scale", "statefulset", "python", "-n", "fate-9999", "--replicas=1"),
        ("scale", "deployment", "clustermanager", "-n", "fate-9999", "--replicas=2"),
        ("rollout", "status", "statefulset/python", "-n", "fate-9999", "--timeout=5s"),
        ("rollout", "status", "deployment/clustermanager", "-n", "fate-9999", "--timeout=5s")]


def test_a_failed_load_still_starts_the_writers_again(tmp_path, monkeypatch):
    class Scaling(FakeKubectl):
        def run(self, *args, stdin=None, check=True):
            self.calls.append(args)

    def failing_load(*args, **kwargs):
        kubectl.calls.append(("load",))
        raise BackupError("ERROR 1044 at line 12")

    out = _written(tmp_path)
    python = {"spec": {"replicas": 1, "selector": {"matchLabels": {"fateMoudle": "python"}}}}
    kubectl = Scaling({("statefulset", "python"): python})
    monkeypatch.setattr(backup, "mysql_pod", lambda kubectl, ns: ({}, "mysql-0"))
    monkeypatch.setattr(backup.MysqlExec, "databases", lambda self: ["eggroll_meta"])
    monkeypatch.setattr(backup, "restore_into", failing_load)
    with pytest.raises(BackupError, match="ERROR 1044"):
        backup.restore(kubectl, _plan(tmp_path, True), out, backup.read_trailer(out), wait=5, out=io.StringIO())
    assert [c[:2] for c in kubectl.calls if c[0] not in ("get", "list")] == [
        ("scale", "statefulset"), ("load",), ("scale", "statefulset"), ("rollout", "status")]
    assert kubectl.calls[-2][-1] == "--replicas=1"


def test_the_rollback_says_when_mysql_restarts_empty():
    saved = _mysql({"name": "data", "emptyDir": {}})
    release = adopt.Backup("fate-9999", "fate-9999", [], [{**saved, "apiVersion": "apps/v1"}], None)
    changed = json.loads(json.dumps(saved))
    changed["spec"]["template"]["metadata"] = {"labels": {"app.kubernetes.io/managed-by": "pulumi"}}

    class Live(FakeKubectl):
        def obj(self, obj):
            return self.objects.get(("live", obj["metadata"]["name"]))

    assert adopt.emptied_by_rollback(Live({("live", "mysql"): changed}), release) == "an emptyDir"
    assert adopt.emptied_by_rollback(Live({("live", "mysql"): saved}), release) is None  # pod not restarted
    persistent = adopt.Backup("fate-9999", "fate-9999", [], [{**_mysql(None, claim=True), "apiVersion": "apps/v1"}],
                              None)
    assert adopt.emptied_by_rollback(Live({("live", "mysql"): changed}), persistent) is None
