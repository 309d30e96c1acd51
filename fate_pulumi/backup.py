"""Back up a party's MySQL (FATE Flow's jobs, eggroll's metadata) to a file, and restore such a file into a party.

    fate-pulumi backup Pulumi.party-9999.yaml -o mysql-fate-9999.sql
    fate-pulumi restore Pulumi.party-9999.yaml --from mysql-fate-9999.sql

Both reach the party's MySQL (the pod of the StatefulSet `mysql` in the stack's namespace: KubeFATE's and
fate-pulumi's alike) through `kubectl exec` into its `mysql` container, and log in there as the user of the container's
environment: `MYSQL_USER` with `MYSQL_PASSWORD`, whom the mysql image's entrypoint created with every privilege on
`MYSQL_DATABASE` (docker-library/mysql 8.0 `docker-entrypoint.sh`, `docker_setup_db`). The password goes from that
environment into `MYSQL_PWD` inside the pod: it is on no command line, here or there.

backup: `mysqldump` of every database that user sees except MySQL's own, in one transaction (`--single-transaction`:
a consistent snapshot while FATE Flow keeps writing), streamed into a new file of mode 0600 (an existing file is never
overwritten). The dump must end with mysqldump's `-- Dump completed` line; then one line is appended:

    -- fate-pulumi backup: {"version": 1, "sha256": "...", "tables": {"eggroll_meta": {"store_locator": 12, ...}}, ...}

`sha256` is over every byte before that line (`head -n -1 FILE | sha256sum`), `tables` the rows of each table as the
dump holds them (counted from its INSERT statements). The file stays a plain SQL script that `mysql` loads.

restore: checks the checksum (and mysqldump's last line) before touching anything; stops the programs that write the
database — FATE Flow (`python`) and eggroll's `clustermanager`, scaled to 0 and waited for — so nothing writes while the
tables are replaced; saves what the database holds now to `<FILE>.before-restore-<time>.sql` (the same kind of file);
loads the backup (each of its tables is dropped and recreated, replacing what FATE Flow and the clustermanager created
when they first started against the empty database); counts the rows of every table of the backup; scales the programs
back to their replicas. Exit 1 naming each table whose count differs from the backup's.

Exit status: 0 done, 1 the operation failed (or the counts differ, or the file is corrupt), 2 bad input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Optional

from components import endpoints
from components.mysql import CLIENTS
from fate_pulumi.inputs import InputError, OneLineParser, output_file
from fate_pulumi.kubectl import ClusterError, Kubectl
from fate_pulumi.managed import ManagedStack, managed_stack

FORMAT_VERSION = 1
TRAILER = b"-- fate-pulumi backup: "
DUMP_COMPLETED = b"-- Dump completed"  # mysqldump's last line (MySQL and MariaDB), unless --skip-comments
SYSTEM_DATABASES = frozenset({"mysql", "sys", "performance_schema", "information_schema"})
WORKLOAD = endpoints.MYSQL.name  # the StatefulSet `mysql` (KubeFATE core/mysql/statefulSet.yaml; components/mysql.py)
CONTAINER = "mysql"
DATA_DIR = "/var/lib/mysql"
# both mysqldumps (MySQL 8.0, MariaDB) know these. --no-tablespaces: MySQL 8.0.21+ otherwise needs PROCESS, which
# the image's user lacks; --hex-blob keeps binary columns as 0x… text; DROP TABLE before each CREATE is mysqldump's
# default (--opt), which makes a restore replace the tables
DUMP_OPTIONS = ("--single-transaction", "--no-tablespaces", "--hex-blob", "--triggers",
                "--default-character-set=utf8mb4")
# the user of the container's environment, its password in MYSQL_PWD (read by mysql and mysqldump, MySQL and MariaDB)
LOGIN = 'MYSQL_PWD="$MYSQL_PASSWORD" exec {program} -u"$MYSQL_USER" {args}'


class BackupError(ClusterError):
    """The operation failed (exit 1)."""


# ---------------------------------------------------------------------------------------------------------------
# Where the commands run: kubectl exec into the mysql container (or, in tests, a local process)
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class MysqlExec:
    """Runs mysql / mysqldump where MySQL's environment is: `prefix` is what comes before `sh -c SCRIPT`
    (`kubectl exec -i -n NS POD -c mysql --`), `env` the environment of a local process (None: inherit)."""

    prefix: list[str]
    where: str
    env: Optional[dict[str, str]] = None

    @classmethod
    def kubectl(cls, kubectl: Kubectl, namespace: str, pod: str) -> MysqlExec:
        return cls([*kubectl.base, "exec", "-i", "-n", namespace, pod, "-c", CONTAINER, "--"],
                   f"pod {namespace}/{pod}")

    def argv(self, program: str, args: Sequence[str] = ()) -> list[str]:
        return [*self.prefix, "sh", "-c", LOGIN.format(program=program, args=" ".join(map(shlex.quote, args)))]

    def popen(self, program: str, args: Sequence[str], stdin: Any, stdout: Any, stderr: Any) -> subprocess.Popen:
        try:
            return subprocess.Popen(self.argv(program, args), stdin=stdin, stdout=stdout, stderr=stderr, env=self.env)
        except FileNotFoundError:
            raise BackupError(f"{self.argv(program)[0]} not found: install kubectl or set KUBECTL") from None

    def query(self, sql: str) -> list[list[str]]:
        """Rows of a query (given on stdin, so nothing of it passes through a shell), tab-separated as `mysql -B`."""
        proc = self.popen("mysql", ["-N", "-B"], subprocess.PIPE, subprocess.PIPE, subprocess.PIPE)
        out, err = proc.communicate(sql.encode(), timeout=600)
        if proc.returncode != 0:
            raise BackupError(f"mysql in {self.where}: {_tail(err)}")
        return [line.split("\t") for line in out.decode().splitlines()]

    def databases(self) -> list[str]:
        return [row[0] for row in self.query("SHOW DATABASES") if row[0] not in SYSTEM_DATABASES]


def _tail(err: bytes) -> str:
    lines = [line for line in err.decode(errors="replace").splitlines()
             if line.strip() and not line.startswith("WARNING: Kubernetes configuration file")]
    return " ".join(lines)[-800:] or "no message"


def ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


# ---------------------------------------------------------------------------------------------------------------
# The dump: rows per table, counted from mysqldump's statements
# ---------------------------------------------------------------------------------------------------------------

_NAME = rb"`((?:[^`]|``)+)`"
USE = re.compile(rb"^USE " + _NAME + rb";")
CREATE_DATABASE = re.compile(rb"^CREATE DATABASE (?:/\*!\d+ IF NOT EXISTS\*/ )?" + _NAME)
CREATE_TABLE = re.compile(rb"^CREATE TABLE " + _NAME + rb" \(")
# MySQL 8.0's mysqldump names the columns when a table has generated or invisible ones
INSERT = re.compile(rb"^INSERT INTO " + _NAME + rb"(?: \((?:`(?:[^`]|``)*`,?)*\))? VALUES")
STRING = re.compile(rb"'[^'\\]*(?:\\.[^'\\]*)*'", re.S)  # mysqldump escapes ' and \ with a backslash
ROWS = re.compile(rb"\([^()]*\)(?:,\([^()]*\))*")


def _name(raw: bytes) -> str:
    return raw.decode().replace("``", "`")


def count_rows(fragment: bytes) -> tuple[int, bool]:
    """The rows in one line of an INSERT's VALUES list, and whether the statement ends there. MySQL's mysqldump
    writes `(...),(...);` on the INSERT's line, MariaDB's one row a line after it; either escapes a line break inside
    a string, and a string (removed first) is the only place a parenthesis can be in but as a row's bounds."""
    body = STRING.sub(b"''", fragment).strip()
    end = body.endswith(b";")
    body = body.removesuffix(b";").rstrip().removesuffix(b",").rstrip()
    if not body:
        return 0, end
    if not ROWS.fullmatch(body):
        raise ValueError(f"not a list of rows: {fragment[:80]!r}")
    return body.count(b"("), end


class DumpCounter:
    """Reads a mysqldump output as it streams: its databases, tables and their rows, and whether it completed."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, int]] = {}
        self.database: Optional[str] = None
        self.inserting: Optional[str] = None  # the table of an INSERT that goes on over the next lines
        self.last_line = b""
        self._partial = b""

    def feed(self, chunk: bytes) -> None:
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            self.line(line)

    def close(self) -> None:
        if self._partial:
            self.line(self._partial)
            self._partial = b""
            self.last_line = b""  # no newline after it: cut short

    def _rows(self, table: str, fragment: bytes) -> None:
        assert self.database is not None
        try:
            rows, end = count_rows(fragment)
        except ValueError as err:
            raise BackupError(f"cannot count the rows of table {self.database}.{table} in the dump: {err}") from None
        self.tables[self.database][table] = self.tables[self.database].get(table, 0) + rows
        self.inserting = None if end else table

    def line(self, line: bytes) -> None:
        if line.strip():
            self.last_line = line
        if self.inserting is not None:
            self._rows(self.inserting, line)
        elif line.startswith(b"INSERT INTO "):
            match = INSERT.match(line)
            if match is None or self.database is None:
                raise BackupError(f"cannot read this INSERT of the dump: {line[:120]!r}")
            self._rows(_name(match.group(1)), line[match.end():])
        elif match := CREATE_TABLE.match(line):
            if self.database is None:
                raise BackupError("the dump creates a table before it names a database (USE)")
            self.tables[self.database].setdefault(_name(match.group(1)), 0)
        elif (match := USE.match(line)) or (match := CREATE_DATABASE.match(line)):
            self.database = _name(match.group(1))
            self.tables.setdefault(self.database, {})

    @property
    def completed(self) -> bool:
        return self.inserting is None and self.last_line.startswith(DUMP_COMPLETED)


def trailer_line(meta: dict) -> bytes:
    return TRAILER + json.dumps(meta, sort_keys=True).encode() + b"\n"


def dump(mysql: MysqlExec, path: Path, source: dict[str, str], out: IO[str] = sys.stdout) -> dict:
    """mysqldump of every database the user sees (but MySQL's own) into a new file of mode 0600, with its trailer line.
    Nothing is left behind when it fails."""
    databases = mysql.databases()
    if not databases:
        raise BackupError(f"the MySQL user of {mysql.where} sees no database to back up")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(f"{path}: exists — a backup is never overwritten: name a new file") from None
    started = time.time()
    try:
        with os.fdopen(fd, "wb") as fh, tempfile.TemporaryFile() as err:
            proc = mysql.popen("mysqldump", [*DUMP_OPTIONS, "--databases", *databases], subprocess.DEVNULL,
                               subprocess.PIPE, err)
            assert proc.stdout is not None
            digest, counter, size = hashlib.sha256(), DumpCounter(), 0
            try:
                for chunk in iter(lambda: proc.stdout.read(1 << 16), b""):  # type: ignore[union-attr]
                    fh.write(chunk)
                    digest.update(chunk)
                    counter.feed(chunk)
                    size += len(chunk)
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            proc.wait()
            counter.close()
            if proc.returncode != 0:
                err.seek(0)
                raise BackupError(f"mysqldump in {mysql.where} failed (exit {proc.returncode}): {_tail(err.read())}")
            if not counter.completed:
                raise BackupError(f"the dump from {mysql.where} stops before mysqldump's `-- Dump completed` line "
                                  f"({size} bytes): it is incomplete")
            meta: dict[str, Any] = {"version": FORMAT_VERSION, "sha256": digest.hexdigest(), "bytes": size,
                    "taken": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), **source,
                    "databases": databases, "tables": counter.tables}
            fh.write(trailer_line(meta))
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    rows = sum(n for tables in meta["tables"].values() for n in tables.values())
    print(f"backed up {', '.join(databases)} from {mysql.where}: {sum(map(len, meta['tables'].values()))} tables, "
          f"{rows} rows, {size} bytes in {time.time() - started:.1f}s -> {path} (mode 0600, sha256 {meta['sha256']})",
          file=out)
    return meta


# ---------------------------------------------------------------------------------------------------------------
# Reading a backup file back
# ---------------------------------------------------------------------------------------------------------------


def read_trailer(path: Path) -> dict:
    """The trailer line of a backup file (bad input when there is none: not a backup, or one cut short)."""
    if not path.exists():
        raise InputError(f"{path}: no such file — check the path of the MySQL backup")
    if path.is_dir():
        raise InputError(f"{path}: is a directory — give the file fate-pulumi backup wrote")
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - (4 << 20)))
            tail = fh.read()
    except PermissionError:
        raise InputError(f"{path}: not readable — check its permissions") from None
    start = tail.rfind(b"\n" + TRAILER, 0, max(0, len(tail) - 1))
    meta: Any = None
    if start >= 0 and tail.endswith(b"\n"):
        try:
            meta = json.loads(tail[start + 1 + len(TRAILER):])
        except ValueError:
            meta = None
    if not isinstance(meta, dict) or not {"sha256", "bytes", "tables", "databases"} <= set(meta):
        raise InputError(f"{path}: no `{TRAILER.decode().strip()}` line at its end — not a MySQL backup fate-pulumi "
                         "wrote, or one cut short: give the file fate-pulumi backup -o (or adopt take-over "
                         "--mysql-backup) wrote")
    if meta.get("version") != FORMAT_VERSION:
        raise InputError(f"{path}: backup format {meta.get('version')!r}, this fate-pulumi reads {FORMAT_VERSION} — "
                         "restore it with the fate-pulumi release that wrote it")
    meta["_body"] = size - (len(tail) - start - 1)
    return meta


def verify(path: Path, meta: dict) -> None:
    """The bytes before the trailer are the ones backed up (sha256), and end with mysqldump's last line."""
    digest, body = hashlib.sha256(), meta["_body"]
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(min(1 << 20, body - fh.tell())), b""):
            digest.update(chunk)
        fh.seek(max(0, body - 4096))
        last = [line for line in fh.read(body - fh.tell()).splitlines() if line.strip()][-1:]
    if body != meta["bytes"] or digest.hexdigest() != meta["sha256"]:
        raise BackupError(f"{path}: its sha256 is not the one recorded when it was taken ({meta['sha256'][:16]}…): "
                          "the file was changed or damaged — use another copy")
    if not last or not last[0].startswith(DUMP_COMPLETED):
        raise BackupError(f"{path}: the dump does not end with mysqldump's `-- Dump completed` line: incomplete")


# ---------------------------------------------------------------------------------------------------------------
# Restoring
# ---------------------------------------------------------------------------------------------------------------


def load(mysql: MysqlExec, path: Path) -> None:
    """The whole file into MySQL (the trailer is an SQL comment); mysql stops at the first error."""
    with open(path, "rb") as fh, tempfile.TemporaryFile() as err:
        proc = mysql.popen("mysql", ["--default-character-set=utf8mb4"], fh, subprocess.DEVNULL, err)
        proc.wait()
        if proc.returncode != 0:
            err.seek(0)
            raise BackupError(f"loading {path} into {mysql.where} failed: {_tail(err.read())}")


def table_rows(mysql: MysqlExec, tables: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """COUNT(*) of each of `tables` that exists (exact: information_schema's row counts are InnoDB estimates)."""
    if not tables:
        return {}
    schemas = ", ".join("'" + db.replace("\\", "\\\\").replace("'", "\\'") + "'" for db in tables)
    present = {(db, t) for db, t in mysql.query(
        f"SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
        f"AND table_schema IN ({schemas})")}
    wanted = [(db, t) for db, names in tables.items() for t in names if (db, t) in present]
    out: dict[str, dict[str, int]] = {db: {} for db in tables}
    if wanted:
        rows = mysql.query(" UNION ALL ".join(f"SELECT {i}, COUNT(*) FROM {ident(db)}.{ident(t)}"
                                              for i, (db, t) in enumerate(wanted)))
        for i, n in rows:
            db, t = wanted[int(i)]
            out[db][t] = int(n)
    return out


def differences(expected: dict[str, dict[str, int]], found: dict[str, dict[str, int]]) -> list[str]:
    """`db.table: N rows, backup M` for every table whose rows differ (or which is missing)."""
    out = []
    for db, tables in sorted(expected.items()):
        for table, n in sorted(tables.items()):
            got = found.get(db, {}).get(table)
            if got != n:
                out.append(f"{db}.{table}: {'missing' if got is None else f'{got} rows'}, the backup has {n}")
    return out


def restore_into(mysql: MysqlExec, path: Path, meta: dict, keep: Path, source: dict[str, str],
                 out: IO[str] = sys.stdout) -> list[str]:
    """Save what MySQL holds now to `keep`, load the backup, return the tables whose rows differ from the backup's.
    The caller has stopped whatever writes the database."""
    visible = mysql.databases()
    missing = [db for db in meta["databases"] if db not in visible]
    if missing:
        raise BackupError(f"the MySQL user of {mysql.where} has no database {', '.join(missing)} (it has: "
                          f"{', '.join(visible) or 'none'}): restore into a party whose fate:mysql.database is "
                          f"{missing[0]}")
    dump(mysql, keep, source, out)
    started = time.time()
    load(mysql, path)
    found = table_rows(mysql, meta["tables"])
    n = sum(map(len, meta["tables"].values()))
    print(f"restored {path} into {mysql.where} in {time.time() - started:.1f}s; counted the rows of its {n} tables",
          file=out)
    return differences(meta["tables"], found)


@dataclass
class Writer:
    resource: str  # statefulset / deployment
    name: str
    replicas: int
    selector: str


def _selector(workload: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(workload["spec"]["selector"]["matchLabels"].items()))


def _wait(what: str, done: Callable[[], bool], timeout: float) -> None:
    deadline = time.time() + timeout
    while not done():
        if time.time() > deadline:
            raise BackupError(f"{what} after {timeout:.0f}s")
        time.sleep(1)


def find_writers(kubectl: Kubectl, namespace: str) -> list[Writer]:
    """The workloads of the programs that write FATE's database, with their replicas now."""
    writers = []
    for name in CLIENTS:
        for resource in ("statefulset", "deployment"):
            live = kubectl.get(resource, name, namespace)
            if live is not None:
                writers.append(Writer(resource, name, int(live["spec"].get("replicas", 1)), _selector(live)))
                break
    return writers


def stop_writers(kubectl: Kubectl, namespace: str, writers: list[Writer], timeout: float,
                 out: IO[str] = sys.stdout) -> None:
    """Scale the programs that write FATE's database to 0 and wait until their pods are gone."""
    if not writers:
        return
    print(f"stopping {', '.join(f'{w.resource}/{w.name}' for w in writers)} (they write the database) until the "
          "restore is done; if this command is interrupted, `pulumi up --refresh` starts them again", file=out)
    for w in writers:
        if w.replicas:
            kubectl.run("scale", w.resource, w.name, "-n", namespace, "--replicas=0")
    for w in writers:
        def gone(selector: str = w.selector) -> bool:
            return not kubectl.list("pods", namespace, selector)

        _wait(f"pods of {w.resource}/{w.name} still run", gone, timeout)


def start_writers(kubectl: Kubectl, namespace: str, writers: Iterable[Writer], timeout: float,
                  out: IO[str] = sys.stdout) -> None:
    writers = [w for w in writers if w.replicas]
    for w in writers:
        kubectl.run("scale", w.resource, w.name, "-n", namespace, f"--replicas={w.replicas}")
    for w in writers:
        kubectl.run("rollout", "status", f"{w.resource}/{w.name}", "-n", namespace, f"--timeout={int(timeout)}s")
    if writers:
        print(f"started {', '.join(f'{w.resource}/{w.name} ({w.replicas})' for w in writers)} again", file=out)


def restore(kubectl: Kubectl, plan: ManagedStack, path: Path, meta: dict, wait: float = 300,
            out: IO[str] = sys.stdout) -> int:
    """Check the file, stop the writers, save and replace the database, compare the rows, start the writers."""
    verify(path, meta)
    ns = plan.namespace
    _, pod = mysql_pod(kubectl, ns)
    mysql = MysqlExec.kubectl(kubectl, ns, pod)
    mysql.databases()  # logs in before anything is stopped
    print(f"{path}: sha256 verified; taken {meta.get('taken')} from {meta.get('namespace')}/{meta.get('pod')}",
          file=out)
    keep = path.with_name(
        f"{path.name}.before-restore-{dt.datetime.now(dt.timezone.utc).strftime('%Y%m%dT%H%M%SZ')}.sql")
    writers = find_writers(kubectl, ns)
    try:
        stop_writers(kubectl, ns, writers, wait, out)
        differ = restore_into(mysql, path, meta, keep, {"namespace": ns, "pod": pod}, out)
    finally:
        start_writers(kubectl, ns, writers, wait, out)
    if differ:
        print(f"error: the restored database differs from {path} in {len(differ)} table(s): " + "; ".join(differ) +
              f" — what it held before is in {keep}", file=sys.stderr)
        return 1
    print(f"every table has the rows of the backup ({sum(map(len, meta['tables'].values()))} tables); what the "
          f"database held before is in {keep}", file=out)
    return 0


# ---------------------------------------------------------------------------------------------------------------
# The party's MySQL in the cluster
# ---------------------------------------------------------------------------------------------------------------


def mysql_workload(kubectl: Kubectl, namespace: str) -> Optional[dict]:
    for resource in ("statefulset", "deployment"):
        live = kubectl.get(resource, WORKLOAD, namespace)
        if live is not None:
            return live
    return None


def mysql_pod(kubectl: Kubectl, namespace: str) -> tuple[dict, str]:
    """The MySQL workload of a namespace and its ready pod."""
    workload = mysql_workload(kubectl, namespace)
    if workload is None:
        raise BackupError(f"no StatefulSet {WORKLOAD} in namespace {namespace}: is the party deployed there "
                          "(--kubeconfig, --context)?")
    ready = [p["metadata"]["name"] for p in kubectl.list("pods", namespace, _selector(workload))
             if not p["metadata"].get("deletionTimestamp") and any(
                 c.get("type") == "Ready" and c.get("status") == "True"
                 for c in (p.get("status") or {}).get("conditions") or [])]
    if not ready:
        raise BackupError(f"no ready pod of {workload['kind']} {WORKLOAD} in namespace {namespace} "
                          f"(kubectl -n {namespace} get pods -l {_selector(workload)})")
    return workload, sorted(ready)[0]


def ephemeral_data(workload: dict) -> Optional[str]:
    """How MySQL's data directory lives when it does not outlive the pod ("an emptyDir" — KubeFATE with persistence
    off, core/mysql/statefulSet.yaml); None when it is on a volume claim or a host path."""
    spec = workload.get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") or {}
    containers = pod.get("containers") or [{}]
    container = next((c for c in containers if c.get("name") == CONTAINER), containers[0])
    mount = next((m for m in container.get("volumeMounts") or [] if m.get("mountPath", "").rstrip("/") == DATA_DIR),
                 None)
    if mount is None:
        return f"the container's own filesystem (no volume at {DATA_DIR})"
    if mount["name"] in {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates") or []}:
        return None
    volume: dict = next((v for v in pod.get("volumes") or [] if v.get("name") == mount["name"]), {})
    if "emptyDir" in volume or "ephemeral" in volume:
        return "an emptyDir" if "emptyDir" in volume else "an ephemeral volume"
    return None


def party_mysql(plan: ManagedStack) -> None:
    if plan.mysql is None:
        raise InputError(f"{plan.path}: fate:modules / fate:mysql.external: the stack deploys no MySQL (an exchange, "
                         "FATE-Serving, or an external MySQL) — back up an external MySQL with its own tools")


# ---------------------------------------------------------------------------------------------------------------


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = OneLineParser(prog=prog, description=description,
                           epilog="exit status: 0 done, 1 failed (restore: or a table's rows differ), 2 bad input")
    parser.add_argument("stack_file", type=Path, help="the party's Pulumi.<stack>.yaml (namespace, MySQL)")
    parser.add_argument("--kubeconfig")
    parser.add_argument("--context")
    return parser


def main(argv: Optional[list[str]] = None, prog: str = "fate-pulumi backup") -> int:
    parser = _parser(prog, "back up a party's MySQL (every FATE database) to a new file of mode 0600")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the backup file (never overwritten)")
    args = parser.parse_args(argv)
    if args.output.exists():
        raise InputError(f"{args.output}: exists — a backup is never overwritten: name a new file")
    output_file(args.output)
    plan = managed_stack(args.stack_file)
    party_mysql(plan)
    kubectl = Kubectl(args.kubeconfig, args.context)
    try:
        _, pod = mysql_pod(kubectl, plan.namespace)
        dump(MysqlExec.kubectl(kubectl, plan.namespace, pod), args.output, {"namespace": plan.namespace, "pod": pod})
    except ClusterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def restore_main(argv: Optional[list[str]] = None, prog: str = "fate-pulumi restore") -> int:
    parser = _parser(prog, "restore a backup of fate-pulumi backup into a party's MySQL, then compare every "
                           "table's rows with the backup's")
    parser.add_argument("--from", dest="source", type=Path, required=True, help="the file fate-pulumi backup wrote")
    parser.add_argument("--wait", type=int, default=300,
                        help="seconds to wait for FATE Flow and the clustermanager to stop, and to start again")
    args = parser.parse_args(argv)
    meta = read_trailer(args.source)
    plan = managed_stack(args.stack_file)
    party_mysql(plan)
    try:
        return restore(Kubectl(args.kubeconfig, args.context), plan, args.source, meta, args.wait)
    except ClusterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    from fate_pulumi.cli import guarded

    sys.exit(guarded(main))
