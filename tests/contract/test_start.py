"""Start-time contract: every pod of every example stack (and the variants) is started the way the kubelet starts
it — rendered ConfigMaps and Secrets with their real values at their mount paths, init containers first, then each
container's real command with its final program replaced by a stub (tests/contract/sandbox.py) — and every file
and variable the contract (tests/contract/contract.py) says the program reads must hold the configured value, read
the way the program reads it (.properties through java.util.Properties itself).

Needs bubblewrap and a JDK (`java`); without them the tests are skipped, saying so, except under
FATE_CONTRACT_REQUIRED=1 (CI), where a missing tool fails them.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from stacks.config import SECRET_KEYS, load_config, required_secrets
from tests.conftest import STACK_FILES, party, render, stack_config
from tests.contract.contract import ABSENT, ENTRIES, PRESENT, Entry, Prefix, Read, Stack, nginx_dns
from tests.contract.sandbox import ContainerRun, Pod, available
from tests.stacks.variants import VARIANTS

HERE = Path(__file__).resolve().parent

# Passwords with every character .properties, YAML, redis.conf and shells treat specially: the contract holds for
# them too (a value survives the writer's escaping and the reader's unescaping unchanged).
HARD_SECRETS = {
    "mysqlPassword": "My:sql= #pw!\\x",
    "fateboardPassword": " board pass#with=colon:and\\backslash ünïcödé",
    "rabbitmqPassword": "rab'bit\"mq $HOME `x`",
    "notebookHashedPassword": "argon2:$argon2id$v=19$m=10240,t=10,p=8$c2FsdA$aGFzaA",
    "servingRedisPassword": "re\"dis pass\\word #1 ü",
    "servingAdminPassword": "!admin: secret=1",
    "hivePassword": "hive pw",
    "zookeeperPassword": "zk:pw",
}


def _why_not() -> str | None:
    reason = available()
    if reason is None and (shutil.which("java") is None or shutil.which("javac") is None):
        reason = "no JDK (java, javac) to read .properties files with java.util.Properties"
    return reason


REASON = _why_not()
if REASON and os.environ.get("FATE_CONTRACT_REQUIRED") == "1":
    raise RuntimeError(f"the contract tier must run here (FATE_CONTRACT_REQUIRED=1): {REASON}")
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"start-time contract not run: {REASON}")


def _issuing(values: dict[str, Any]) -> dict[str, Any]:
    """The same stack issuing its certificates from a CA (the certificates' files are then in the render)."""
    from tests.components.test_tls import ca

    return {**values, "tls": {"generate": True, "caCertificate": ca().certificate_pem}, "tlsCaKey": ca().key_pem,
            "publicHost": values.get("publicHost", "203.0.113.10")}


def _cases() -> dict[str, dict[str, Any]]:
    cases = {p.name: stack_config(p) for p in STACK_FILES}
    cases.update({f"variant-{k}": v for k, v in VARIANTS.items()})
    examples = Path(STACK_FILES[0]).parent / "examples"
    for name in ("Pulumi.party-9999-spark-local-pulsar.yaml", "Pulumi.exchange-pulsar.yaml"):
        cases[f"issued-{name}"] = _issuing(stack_config(examples / name))
    cases["issued-eggroll-tls"] = _issuing(VARIANTS["eggroll-persistence-tls-polling-server"])
    # nginx routes to peers by DNS name (a publicHost name), by address, and to a name that resolves nowhere
    cases["nginx-peer-names-party"] = party(
        backend="spark_rabbitmq",
        nginx={"exchange": {"host": "exchange.fate.example", "httpPort": 30003, "grpcPort": 30008},
               "routeTable": {10000: {"proxy": [{"host": "party10000.fate.example", "httpPort": 30103,
                                                 "grpcPort": 30108}],
                                      "fateflow": [{"host": "10.10.0.1", "httpPort": 30107, "grpcPort": 30102}]},
                              10001: {"proxy": [{"host": "party10001.fate.invalid", "httpPort": 30203,
                                                 "grpcPort": 30208}]}}},
    )
    cases["nginx-peer-names-exchange"] = {
        "kind": "exchange", "partyId": 1, "modules": ["nginx"],
        "nginx": {"routeTable": {9999: {"proxy": [{"host": "party9999.fate.example", "httpPort": 30093,
                                                   "grpcPort": 30098}]},
                                 10000: {"proxy": [{"host": "192.168.10.1", "httpPort": 30103, "grpcPort": 30108}],
                                         "fateflow": [{"host": "party10000.fate.example", "httpPort": 30107,
                                                       "grpcPort": 30102}]}}},
    }
    return cases


CASES = _cases()


@functools.cache
def _rendered(case: str):
    values = CASES[case]
    needed = required_secrets(load_config({**values, "development": True}, [k for k in values if k in SECRET_KEYS]))
    passwords = {k: HARD_SECRETS[k] for k in [*values, *needed] if k in HARD_SECRETS}
    values = {**values, **passwords}
    cfg = load_config({k: v for k, v in values.items()}, [k for k in values if k in SECRET_KEYS])
    return Stack(cfg, passwords), render(values)


WORKLOADS = ("Deployment", "StatefulSet", "Job")


def _workload(obj: dict) -> str:
    """A workload's name in the contract: a Job (a FateJob's: its name ends in a digest of the job) by its app."""
    return obj["metadata"]["labels"]["app.kubernetes.io/name"] if obj["kind"] == "Job" else obj["metadata"]["name"]


def _pods(case: str) -> list[tuple[str, dict]]:
    _, r = _rendered(case)
    return [(o["metadata"]["name"], o) for o in r.raw_objects if o["kind"] in WORKLOADS]


# in one order in every process (pytest-xdist's workers must collect the same tests)
PODS = [(case, name) for case in CASES for name in sorted(name for name, _ in _pods(case))]


def test_every_container_has_a_contract_entry():
    missing = {
        (name, c["name"])
        for case in CASES
        for name, w in _pods(case)
        for c in w["spec"]["template"]["spec"].get("initContainers", []) + w["spec"]["template"]["spec"]["containers"]
        if (_workload(w), c["name"]) not in ENTRIES
    }
    assert not missing, (
        f"add these containers to tests/contract/contract.py and docs/config-contract.md: {sorted(missing)}"
    )


def test_every_contract_image_is_documented():
    doc = (HERE.parent.parent / "docs" / "config-contract.md").read_text()
    undocumented = sorted({e.image.name for e in ENTRIES.values()} - {line.split("`")[1] for line in doc.splitlines()
                                                                      if line.startswith("## `")})
    assert not undocumented, f"docs/config-contract.md has no section '## `<image>`' for {undocumented}"


# ------------------------------------------------------------------------------------------------- readers


@functools.cache
def _java_reader() -> Path:
    """PropertiesDump compiled once per session."""
    import tempfile

    out = Path(tempfile.mkdtemp(prefix="contract-java-"))
    subprocess.run(["javac", "-d", str(out), str(HERE / "PropertiesDump.java")], check=True, capture_output=True)
    return out


def _java_properties(files: dict[str, bytes], tmp: Path) -> dict[str, dict[str, str]]:
    """Each file parsed by java.util.Properties.load, as the FATE programs parse them."""
    if not files:
        return {}
    paths = []
    for i, data in enumerate(files.values()):
        path = tmp / f"p{i}.properties"
        path.write_bytes(data)
        paths.append(str(path))
    out = subprocess.run(
        ["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", str(_java_reader()), "PropertiesDump", *paths],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(zip(files, (json.loads(line) for line in out.stdout.splitlines()), strict=True))


def _dig(data: Any, key: str) -> Any:
    node = data
    for part in key.split("."):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                return ABSENT
            node = node[int(part)]
        elif isinstance(node, dict):
            hit = [k for k in node if str(k) == part]
            if not hit:
                return ABSENT
            node = node[hit[0]]
        else:
            return ABSENT
    return node


def _redis_directives(text: str) -> dict[str, str]:
    """redis.conf directives with their argument unquoted as redis' sdssplitargs does (double quotes, \\xHH)."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition(" ")
        rest = rest.strip()
        if rest.startswith('"'):
            value, i = bytearray(), 1
            while rest[i] != '"':
                if rest[i] == "\\":
                    nxt = rest[i + 1]
                    if nxt == "x":
                        value.append(int(rest[i + 2:i + 4], 16))
                        i += 4
                        continue
                    value += {"n": b"\n", "r": b"\r", "t": b"\t"}.get(nxt, nxt.encode())
                    i += 2
                    continue
                value += rest[i].encode()
                i += 1
            out[name] = value.decode()
        else:
            out[name] = rest
    return out


def _parse(read: Read, data: bytes, props: dict[str, str] | None) -> Any:
    if read.format == "properties":
        return props
    if read.format == "yaml":
        return yaml.safe_load(data)
    if read.format == "json":
        return json.loads(data)
    if read.format == "redis":
        return _redis_directives(data.decode())
    if read.format == "spark":  # spark-defaults.conf: key, whitespace, value
        return dict(
            line.split(None, 1) for line in data.decode().splitlines() if line.strip() and not line.startswith("#")
        )
    if read.format == "pem":
        text = data.decode()
        if "PRIVATE KEY" in text:
            serialization.load_pem_private_key(data, password=None)
        else:
            x509.load_pem_x509_certificates(data)
        return {}
    return data.decode()


def _check_value(where: str, key: str, want: Any, have: Any) -> None:
    if want is PRESENT:
        assert have is not ABSENT, f"{where}: {key} is missing"
    elif want is ABSENT:
        assert have is ABSENT, f"{where}: {key} must not be there, is {have!r}"
    elif isinstance(want, Prefix):
        assert isinstance(have, str) and have.startswith(want), f"{where}: {key} = {have!r}, wanted {want}..."
    elif isinstance(have, str) and not isinstance(want, str):
        assert have == str(want).lower() if isinstance(want, bool) else have == str(want), (
            f"{where}: {key} = {have!r}, wanted {want!r}"
        )
    else:
        assert have == want, f"{where}: {key} = {have!r}, wanted {want!r}"


def _verify(stack: Stack, entry: Entry, run: ContainerRun, where: str, tmp: Path) -> int:
    """Assert the contract of one container on its run; returns how many keys were checked."""
    checked = 0
    program_env = run.call.env if run.calls else run.env
    for var, want in entry.env(stack).items():
        _check_value(f"{where} env", var, want, program_env.get(var, ABSENT))
        checked += 1
    reads = [r for r in entry.reads if r.when(stack)]
    if reads or entry.check:
        call = run.call
        assert call.cwd == entry.image.workdir.rstrip("/") or entry.image.workdir == "/", \
            f"{where}: the program starts in {call.cwd}, the image's working directory is {entry.image.workdir}"
    located: dict[str, bytes] = {}
    for read in reads:
        base = run.call.cwd
        if read.relative_to:
            base = program_env[read.relative_to[1:]] if read.relative_to.startswith("$") else read.relative_to
        located[read.path] = run.read(read.path, base)
        if read.writable:
            full = os.path.normpath(os.path.join(base, read.path))
            assert full in run.writable, f"{where}: {full} must be writable for the program"
    props = _java_properties({r.path: located[r.path] for r in reads if r.format == "properties"}, tmp)
    for read in reads:
        parsed = _parse(read, located[read.path], props.get(read.path))
        for key, want in read.expect(stack).items():
            if read.format == "text":
                assert (key in parsed) == (want is not ABSENT), (
                    f"{where}: {read.path} {'lacks' if want is not ABSENT else 'has'} {key!r}"
                )
            else:
                have = parsed.get(key, ABSENT) if read.format in ("properties", "redis", "spark") else _dig(parsed, key)
                _check_value(f"{where} {read.path}", key, want, have)
            checked += 1
    if entry.check:
        entry.check(stack, run)
        checked += 1
    return checked


def start(stack: Stack, rendered, workload: str, root: Path) -> dict[str, tuple[Entry, ContainerRun]]:
    """Start one pod of a render in the sandbox: every container that is not a wait loop, init containers first."""
    objects = {(o["kind"], o["metadata"]["name"]): o for o in rendered.raw_objects}
    workload_obj = next(o for o in rendered.raw_objects if o["kind"] in WORKLOADS
                        and o["metadata"]["name"] == workload)
    pod = Pod(workload_obj, objects, root)
    spec = workload_obj["spec"]["template"]["spec"]
    runs = {}
    for container in spec.get("initContainers", []) + spec["containers"]:
        entry = ENTRIES[(_workload(workload_obj), container["name"])]
        if entry.waits:
            continue
        writable = [os.path.normpath(os.path.join(entry.image.workdir, r.path)) for r in entry.reads if r.writable]
        run = pod.run(container, entry.image, list(entry.program), list(entry.capture), writable,
                      entry.resolves(stack) if entry.resolves else None)
        assert run.rc == 0, f"{workload}/{container['name']}: the start command failed (exit {run.rc}): {run.stderr}"
        if entry.program:
            assert run.calls, f"{workload}/{container['name']}: the start command never started {entry.program}"
        runs[container["name"]] = (entry, run)
    return runs


@pytest.mark.parametrize("case, workload", PODS, ids=[f"{c}:{w}" for c, w in PODS])
def test_pod_starts_with_the_configured_values_where_its_programs_read_them(case, workload, tmp_path):
    stack, rendered = _rendered(case)
    checked = sum(_verify(stack, entry, run, f"{case} {workload}/{name}", tmp_path)
                  for name, (entry, run) in start(stack, rendered, workload, tmp_path).items())
    obj = dict(_pods(case))[workload]
    key = _workload(obj)
    assert checked or all(ENTRIES[(key, c["name"])].waits or not ENTRIES[(key, c["name"])].reads
                          for c in obj["spec"]["template"]["spec"]["containers"])


def test_nginx_waits_for_its_own_services_to_resolve(tmp_path):
    """A pod can start before its namespace's Services resolve: the nginx start command waits for its own nginx and
    fateflow (it would otherwise keep their names, and those routes would fail until a restart), then writes their
    addresses. The sandbox's DNS learns them only a few seconds after the start."""
    import threading
    import time

    stack, rendered = _rendered("nginx-peer-names-party")
    objects = {(o["kind"], o["metadata"]["name"]): o for o in rendered.raw_objects}
    workload = objects[("Deployment", "nginx")]
    [container] = workload["spec"]["template"]["spec"]["containers"]
    entry = ENTRIES[("nginx", "nginx")]
    dns = nginx_dns(stack)
    own = {"nginx", "fateflow"}
    hosts = tmp_path / "run" / "nginx" / "hosts"

    def services_appear() -> None:
        deadline = time.time() + 30
        while not hosts.exists() and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(3)
        with open(hosts, "a") as f:  # in place: the sandbox has this very file as /etc/hosts
            f.write("".join(f"{dns[name]} {name}\n" for name in sorted(own)))

    thread = threading.Thread(target=services_appear, daemon=True)
    thread.start()
    run = Pod(workload, objects, tmp_path).run(container, entry.image, list(entry.program), list(entry.capture), [],
                                               {k: v for k, v in dns.items() if k not in own})
    thread.join()
    assert run.rc == 0 and run.calls, run.stderr
    assert "route table: waiting for this deployment's Service(s)" in run.stderr, run.stderr
    table = yaml.safe_load(run.read("conf/modifiable/route_table.yaml", "/data/projects/fate/proxy/nginx"))
    assert table[stack.cfg.party_id] == {
        "proxy": [{"host": dns["nginx"], "http_port": 9300, "grpc_port": 9310}],
        "fateflow": [{"host": dns["fateflow"], "http_port": 9380, "grpc_port": 9360}],
    }
