"""The federation driver's plan (fate_pulumi/federation.py): every route comes from the topology, and the stacks it
plans reach each other — checked on what the planned stacks render, not on the plan's own numbers."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from fate_pulumi import cli, federation
from fate_pulumi.federation import Status
from fate_pulumi.picture import federation as picture_of
from fate_pulumi.topology import PlannedStack, Topology, configs, plan
from tests.conftest import ROOT, TEST_SECRETS, render

EGGROLL_STAR: dict[str, Any] = {
    "name": "star",
    "exchange": {"backend": "eggroll", "address": "198.51.100.1"},
    "parties": [{"partyId": 9999, "address": "198.51.100.10"}, {"partyId": 10000, "address": "198.51.100.20"},
                {"partyId": 10001, "address": "198.51.100.30"}],
}
PULSAR_STAR: dict[str, Any] = {
    "name": "pulsar",
    "exchange": {"backend": "spark_pulsar", "address": "198.51.100.1"},
    "parties": [{"partyId": 9999, "backend": "spark_pulsar", "address": "198.51.100.10"},
                {"partyId": 10000, "backend": "spark_local_pulsar", "address": "198.51.100.20"}],
}
PEER_TO_PEER: dict[str, Any] = {
    "name": "p2p",
    "parties": [{"partyId": 9999, "backend": "spark_rabbitmq", "address": "198.51.100.10"},
                {"partyId": 10000, "backend": "spark_rabbitmq", "address": "198.51.100.20"},
                {"partyId": 10001, "backend": "eggroll", "address": "198.51.100.30"},
                {"partyId": 10002, "backend": "eggroll", "address": "198.51.100.40"}],
}
TLS = {"rollsite": {"tls": {"enabled": True}}}
EGGROLL_STAR_TLS: dict[str, Any] = {  # mutual TLS between the exchange and two parties; the third stays plaintext
    "name": "tls",
    "exchange": {"backend": "eggroll", "address": "198.51.100.1", "config": TLS},
    "parties": [{"partyId": 9999, "address": "198.51.100.10", "config": TLS},
                {"partyId": 10000, "address": "198.51.100.20", "config": TLS},
                {"partyId": 10001, "address": "198.51.100.30"}],
}
TOPOLOGIES: dict[str, dict[str, Any]] = {"eggroll-star": EGGROLL_STAR, "pulsar-star": PULSAR_STAR,
                                          "peer-to-peer": PEER_TO_PEER, "eggroll-star-tls": EGGROLL_STAR_TLS}


def _topology(doc: dict, **changes: Any) -> Topology:
    return Topology.model_validate({**doc, **changes})


def _rendered(topo: Topology) -> dict[str, Any]:
    out = {}
    for s in plan(topo):
        secrets = {k: v for k, v in TEST_SECRETS.items() if k in ("mysqlPassword", "fateboardPassword",
                                                                   "notebookHashedPassword", "rabbitmqPassword")}
        out[s.name] = render({**s.config, **secrets})
    return out


def _exposed(rendered) -> set[tuple[str, int]]:
    """(host, NodePort) pairs a rendered stack really opens: its publicHost and its Services' nodePorts."""
    host = rendered.outputs["connect"]["host"]
    return {(host, p["nodePort"]) for o in rendered.objects if o["kind"] == "Service"
            for p in o["spec"]["ports"] if "nodePort" in p}


ROUTE_FILES = (
    "route_table.json",
    "route_table.yaml",
    "pulsar_route_table.yaml",
    "rabbitmq_route_table.yaml",
    "sni.yaml",
)


def _addresses(node: Any) -> set[tuple[str, int]]:
    """Every (host, port) a parsed route file names: {ip|host, port|http_port|grpc_port|sslPort} or "host:port"."""
    out: set[tuple[str, int]] = set()
    if isinstance(node, dict):
        host = node.get("ip", node.get("host"))
        if host is not None:
            out |= {(str(host), int(node[k])) for k in ("port", "http_port", "grpc_port", "sslPort") if k in node}
        for key, value in node.items():
            if key in ("proxy", "tunnel_route") and isinstance(value, str) and ":" in value:
                h, _, port = value.rpartition(":")
                out.add((h, int(port)))
            else:
                out |= _addresses(value)
    elif isinstance(node, list):
        for item in node:
            out |= _addresses(item)
    return out


def _dialled(rendered) -> set[tuple[str, int]]:
    """(host, port) pairs the stack's route files send traffic to outside its cluster (in-cluster names have no dot)."""
    out = set()
    for o in rendered.objects:
        if o["kind"] == "ConfigMap":
            for name, text in o.get("data", {}).items():
                if name in ROUTE_FILES:
                    out |= {(h, p) for h, p in _addresses(yaml.safe_load(text)) if "." in h}
    return out


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_every_route_reaches_a_port_another_planned_stack_opens(name):
    rendered = _rendered(_topology(TOPOLOGIES[name]))
    opened = {stack: _exposed(r) for stack, r in rendered.items()}
    routes = 0
    for stack, r in rendered.items():
        others = set().union(*(ports for other, ports in opened.items() if other != stack))
        dialled = _dialled(r)
        assert dialled <= others, f"{stack} routes to {dialled - others}, which no other stack opens"
        routes += len(dialled)
    assert routes >= len(rendered)  # every stack routes somewhere


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_picture_of_a_topology_has_no_route_to_an_unknown_address(name):
    fed = picture_of(configs(plan(_topology(TOPOLOGIES[name])), need_secrets=False))
    assert fed.edges
    assert [e for e in fed.edges if e.target.startswith("external/")] == []


def test_exchange_comes_first_and_parties_go_through_it():
    stacks = plan(_topology(EGGROLL_STAR))
    assert [s.kind for s in stacks] == ["exchange", "party", "party", "party"]
    exchange = stacks[0].config
    assert {p["partyId"] for p in exchange["rollsite"]["partyList"]} == {9999, 10000, 10001}
    for s in stacks[1:]:
        assert s.config["rollsite"]["exchange"] == {"host": "198.51.100.1",
                                                    "port": exchange["rollsite"]["service"]["nodePorts"]["rollsite"]}
        assert "partyList" not in s.config["rollsite"]


def test_parties_on_other_engines_than_the_exchange_federate_peer_to_peer():
    topo = _topology(EGGROLL_STAR, parties=EGGROLL_STAR["parties"] + [
        {"partyId": 20000, "backend": "spark_pulsar", "address": "198.51.100.50"},
        {"partyId": 20001, "backend": "spark_local_pulsar", "address": "198.51.100.60"}])
    stacks = {s.party_id: s.config for s in plan(topo)}
    assert set(stacks[20000]["pulsar"]["routeTable"]) == {20001}  # same engine (Pulsar), other computing
    assert {p["partyId"] for p in stacks[1]["rollsite"]["partyList"]} == {9999, 10000, 10001}


def test_planned_node_ports_are_distinct_and_in_range():
    topo = _topology(EGGROLL_STAR, parties=[{"partyId": 100 + i, "address": "198.51.100.10"} for i in range(200)])
    ports = [p for s in plan(topo) for m in s.config.values() if isinstance(m, dict)
             for p in (m.get("service", {}).get("nodePorts") or {}).values()]
    assert len(ports) == len(set(ports))
    assert all(30000 <= p <= 32767 for p in ports)


@pytest.mark.parametrize(
    "change, key",
    [
        (
            {"parties": [{"partyId": 9999, "address": "198.51.100.10"}, {"partyId": 9999, "address": "198.51.100.20"}]},
            "parties: party id 9999",
        ),
        (
            {"parties": [{"partyId": 9999, "address": "198.51.100.10", "nodePortBase": 30000}]},
            "parties[0].nodePortBase",
        ),
        (
            {"parties": [{"partyId": 100 + i, "address": "198.51.100.10"} for i in range(300)]},
            ".nodePortBase: NodePort",
        ),
        (
            {"parties": [{"partyId": 9999, "address": "198.51.100.10", "config": {"partyId": 1}}]},
            "parties[0].config.partyId",
        ),
        (  # every route to the party leads to its planned port: one set here would be dialled by nobody
            {"parties": [{"partyId": 9999, "address": "198.51.100.10",
                          "config": {"rollsite": {"service": {"nodePorts": {"rollsite": 31999}}}}}]},
            "parties[0].config.rollsite.service.nodePorts: set by the topology",
        ),
        (
            {"parties": [{"partyId": 9999, "address": "198.51.100.10", "secrets": {"mysqlPassword": "hunter2"}}]},
            "parties[0].secrets.mysqlPassword: must be env:",
        ),
        (
            {"parties": [{"partyId": 9999, "address": "198.51.100.10", "secrets": {"password": "env:X"}}]},
            "parties[0].secrets.password: not a password key",
        ),
    ],
)
def test_inconsistent_topology_is_refused_with_the_entry_named(change, key):
    with pytest.raises(ValueError) as err:
        configs(plan(_topology(EGGROLL_STAR, **change)), need_secrets=False)
    assert key in str(err.value)


@pytest.mark.parametrize("doc, loc", [
    ({"parties": [{"partyId": 1, "address": "198.51.100.10", "backend": "spark"}]}, "parties.0.backend"),
    ({"exchange": {"backend": "spark_rabbitmq", "address": "198.51.100.1"}}, "exchange.backend"),
    ({"parties": [{"partyId": 1, "address": "not an address!"}]}, "parties.0.address"),
    ({"parties": [{"partyId": 1, "address": "198.51.100.10", "colour": "red"}]}, "parties.0.colour"),
    ({"parties": []}, "parties"),
])
def test_malformed_topology_is_refused_with_the_field_named(doc, loc):
    with pytest.raises(ValidationError) as err:
        _topology(EGGROLL_STAR, **doc)
    assert loc in str(err.value)


def test_a_party_config_error_names_the_topology_entry_and_the_key():
    topo = _topology(EGGROLL_STAR, parties=[{"partyId": 9999, "address": "198.51.100.10",
                                             "config": {"nodemanager": {"replicaz": 2}}}])
    with pytest.raises(ValueError) as err:
        configs(plan(topo), need_secrets=False)
    assert "parties[0] (star-party-9999)" in str(err.value) and "fate:nodemanager.replicaz" in str(err.value)


def test_missing_passwords_say_how_to_give_them(monkeypatch):
    topo = _topology(EGGROLL_STAR, parties=[{"partyId": 9999, "address": "198.51.100.10",
                                             "secrets": {"mysqlPassword": "env:FED_TEST_MYSQL"}}])
    monkeypatch.delenv("FED_TEST_MYSQL", raising=False)
    with pytest.raises(ValueError, match=r"FED_TEST_MYSQL \(parties\[0\].secrets.mysqlPassword\) — export it"):
        configs(plan(topo))
    monkeypatch.setenv("FED_TEST_MYSQL", "from-the-environment")
    with pytest.raises(ValueError) as err:  # fateboard and notebook passwords are still missing
        configs(plan(topo))
    assert "fate:fateboardPassword" in str(err.value) and "env:<VARIABLE>" in str(err.value)
    assert "from-the-environment" not in str(err.value)


def test_every_missing_variable_is_named_at_once(monkeypatch):
    """One run names every variable to export, of every party, not the first party's only."""
    parties = [{"partyId": pid, "address": "198.51.100.10",
                "secrets": {"mysqlPassword": f"env:FED_{pid}_MYSQL", "fateboardPassword": f"env:FED_{pid}_BOARD"}}
               for pid in (9999, 10000)]
    for pid in (9999, 10000):
        monkeypatch.delenv(f"FED_{pid}_MYSQL", raising=False)
        monkeypatch.delenv(f"FED_{pid}_BOARD", raising=False)
    with pytest.raises(ValueError) as err:
        configs(plan(_topology(EGGROLL_STAR, parties=parties)))
    for var in ("FED_9999_MYSQL", "FED_9999_BOARD", "FED_10000_MYSQL", "FED_10000_BOARD"):
        assert var in str(err.value)
    assert str(err.value).count("\n") == 0  # one line


def test_example_topology_plans_and_validates(monkeypatch):
    topo = federation.load(ROOT / "examples" / "federation.yaml")
    stacks = plan(topo)
    for s in stacks:
        for var in s.secret_refs.values():
            monkeypatch.setenv(var, "example-secret")
    assert set(configs(stacks)) == {s.name for s in stacks}


def test_status_table_lists_every_stack_with_its_time():
    out = io.StringIO()
    federation._print_table([Status("demo-exchange", "exchange", 1, "succeeded", "rollsite:30001", 12.34),
                             Status("demo-party-9999", "party", 9999, "error", "boom", 3.0),
                             Status("demo-party-9999", "verify", 9999, "unverified", "toy 9999 -> 10000: not run")],
                            out)
    lines = out.getvalue().splitlines()
    rows = [line.split() for line in lines[:-1]]
    assert rows[0] == ["stack", "kind", "party", "result", "time", "detail"]
    assert [r[:5] for r in rows[1:]] == [["demo-exchange", "exchange", "1", "succeeded", "12.3s"],
                                         ["demo-party-9999", "party", "9999", "error", "3.0s"],
                                         ["demo-party-9999", "verify", "9999", "unverified", "-"]]
    # verification rows are not stacks: two stacks, median of 12.34 and 3.0
    assert lines[-1] == "2 stacks in 15.3s, 7.7s per stack (median)"


def _project(where: Path) -> Path:
    """A Pulumi project directory (its Pulumi.yaml) for the driver's --work-dir."""
    where.mkdir(parents=True, exist_ok=True)
    (where / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    return where / "Pulumi.yaml"


def test_cli_refuses_a_bad_topology_before_touching_any_stack(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**EGGROLL_STAR, "parties": EGGROLL_STAR["parties"] * 2}))
    project = _project(tmp_path)
    assert federation.main(["up", str(bad), "--work-dir", str(tmp_path)]) == 2
    assert "listed twice" in capsys.readouterr().err
    assert sorted(tmp_path.iterdir()) == sorted([bad, project])  # no Pulumi.<stack>.yaml written


def _service_port(rendered, node_port: int) -> int:
    return next(p["port"] for o in rendered.objects if o["kind"] == "Service" for p in o["spec"]["ports"]
                if p.get("nodePort") == node_port)


def test_rollsite_tls_is_dialled_where_both_ends_have_certificates():
    """Secure routes (is_secure) go to the TLS listener (9380) of a stack that serves it; a party without
    certificates keeps plaintext both ways (eggroll 2.5.1 serves 9370 in any case)."""
    rendered = _rendered(_topology(EGGROLL_STAR_TLS))
    by_address = {r.outputs["connect"]["host"]: r for r in rendered.values()}
    secure_routes = 0
    for stack, r in rendered.items():
        table = json.loads(r.get("ConfigMap", "rollsite-config")["data"]["route_table.json"])["route_table"]
        for party, roles in table.items():
            hop = roles["default"][0]
            if hop.get("ip") not in by_address:
                continue
            peer = by_address[hop["ip"]]
            both_tls = "tls-party-10001" not in stack and peer is not rendered["tls-party-10001"]
            assert hop.get("is_secure", False) is both_tls, (stack, party, hop)
            assert _service_port(peer, hop["port"]) == (9380 if both_tls else 9370), (stack, party, hop)
            secure_routes += both_tls
    assert secure_routes == 4  # exchange -> 9999, 10000 and back


def test_every_route_is_verified_once_from_the_party_with_the_lower_id():
    for parties in (EGGROLL_STAR["parties"], EGGROLL_STAR["parties"][::-1]):  # whatever their order in the file
        pairs = {s.party_id: s.toy for s in plan(_topology(EGGROLL_STAR, parties=parties)) if s.kind == "party"}
        assert pairs == {9999: [10000, 10001], 10000: [10001], 10001: []}
    # peer to peer: only parties on the same federation engine have a route to verify
    pairs = {s.party_id: s.toy for s in plan(_topology(PEER_TO_PEER))}
    assert pairs == {9999: [10000], 10000: [], 10001: [10002], 10002: []}
    # the toy tests are valid settings of the party that runs them (its routes reach the peers)
    for s in plan(_topology(PEER_TO_PEER)):
        cfg = configs([PlannedStack(s.name, s.kind, s.party_id, {**s.config, "verify": {"toy": s.toy}},
                                    where=s.where)], need_secrets=False)[s.name]
        assert [j.name for j in cfg.fate_jobs] == [f"toy-{peer}" for peer in s.toy]


class _Output:
    def __init__(self, value: Any):
        self.value = value


class _UpResult:
    def __init__(self, outputs: dict[str, Any]):
        self.outputs = {k: _Output(v) for k, v in outputs.items()}
        self.summary = type("Summary", (), {"result": "succeeded"})()


def test_up_reports_each_pair_verified_or_failed_with_fates_reason(monkeypatch, tmp_path):
    """The verification pass after every stack is up: each party's stack gets its toy tests, each pair a row."""
    ran: list[tuple[str, dict]] = []
    toy = {"toy-10000": {"status": "success", "jobId": "1", "message": "FATE job 1 succeeded"},
           "toy-10001": {"status": "failed", "jobId": "2", "message": "failed secure_add_example_0: ValueError: "
                                                                    "no route to 10001"}}

    class Stack:
        def __init__(self, p):
            self.plan = p

        def up(self):
            ran.append((self.plan.name, self.plan.config.get("verify")))
            if self.plan.config.get("verify", {}).get("toy") == [10001]:
                raise RuntimeError("error: update failed\n  kubernetes:batch/v1:Job fate-job-toy-10001-x: "
                                   "[Error] FATE Flow refused the job (retcode 103): Exception: federated error\n")
            outputs: dict[str, Any] = {"connect": {"nodePorts": {}}}
            if self.plan.config.get("verify"):
                outputs["jobs"] = toy
            return _UpResult(outputs)

    monkeypatch.setattr(federation, "_workspace_stack", lambda p, work_dir: Stack(p))
    out = io.StringIO()
    results = federation.run("up", plan(_topology(EGGROLL_STAR)), tmp_path, out)
    assert [(name, verify) for name, verify in ran if verify] == [
        ("star-party-9999", {"toy": [10000, 10001]}), ("star-party-10000", {"toy": [10001]})]
    rows = [(r.stack, r.result, r.detail) for r in results if r.kind == "verify"]
    assert rows == [
        # the job id once: in FATE's message, or after it
        ("star-party-9999", "verified", "toy 9999 -> 10000: FATE job 1 succeeded"),
        ("star-party-9999", "failed", "toy 9999 -> 10001: " + toy["toy-10001"]["message"] + " (FATE job 2)"),
        ("star-party-10000", "failed", "toy 10000 -> 10001: kubernetes:batch/v1:Job fate-job-toy-10001-x: [Error] "
                                       "FATE Flow refused the job (retcode 103): Exception: federated error"),
    ]
    assert "verified" in out.getvalue()
    # nothing to verify while a stack failed, and none with --no-verify
    ran.clear()
    federation.run("up", plan(_topology(EGGROLL_STAR)), tmp_path, io.StringIO(), verify=False)
    assert not [v for _, v in ran if v]


# ------------------------------------------------------------------ stacks run concurrently (issue 27, --parallel N)

class _Recorder:
    """The engine faked (`_workspace_stack` and `drift.check` replaced) to test only the driver's scheduling: when
    each stack started and finished, and how many ran at once. A stack waits (up to 2 s) for the bound to be reached,
    so a scheduler that runs fewer at once than it may is seen, not hidden by timing."""

    def __init__(self, bound: int, fail: tuple[str, ...] = ()):
        import threading

        self.bound, self.fail, self.active, self.most = bound, fail, 0, 0
        self.events: list[tuple[str, str]] = []  # ("start" | "end", stack), in the order they happened
        self.cond = threading.Condition()

    def work(self, name: str, result: Any) -> Any:
        with self.cond:
            self.active += 1
            self.most = max(self.most, self.active)
            self.events.append(("start", name))
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.active >= self.bound, timeout=2)
        time.sleep(0.01 * (5 - len(self.events) % 5))  # later stacks finish first: the table must not follow that
        with self.cond:
            self.active -= 1
            self.events.append(("end", name))
        if name in self.fail:
            raise RuntimeError(f"error: update failed\n  {name}: boom")
        return result

    def stack(self, p: PlannedStack, work_dir: Path) -> Any:
        recorder = self

        class Stack:
            def preview(self):
                return recorder.work(p.name, type("Preview", (), {"change_summary": {"create": 3}})())

            def up(self):
                return recorder.work(p.name, _UpResult({"connect": {"nodePorts": {"rollsite": {"tcp": 31001}}}}))

        return Stack()

    def started(self) -> list[str]:
        return [name for what, name in self.events if what == "start"]


def _scheduled(monkeypatch, command: str, parallel: int, topo: dict = EGGROLL_STAR, fail: tuple[str, ...] = ()):
    from fate_pulumi import drift

    recorder = _Recorder(parallel, fail)
    monkeypatch.setattr(federation, "_workspace_stack", recorder.stack)
    monkeypatch.setattr(drift, "check", lambda name, work_dir: recorder.work(name, []))
    out = io.StringIO()
    stacks = plan(_topology(topo))
    results = federation.run(command, stacks, Path("unused"), out, verify=False, parallel=parallel)
    return recorder, stacks, results, out.getvalue()


@pytest.mark.parametrize("command", ["preview", "drift", "up"])
@pytest.mark.parametrize("parallel", [1, 2, 3])
def test_stacks_run_at_most_n_at_once_and_the_table_keeps_the_planned_order(monkeypatch, command, parallel):
    recorder, stacks, results, out = _scheduled(monkeypatch, command, parallel)
    # 4 stacks, the first (the exchange) alone: then the bound is reached, never passed (1: one after the other)
    assert recorder.most == parallel
    assert sorted(recorder.started()) == sorted(s.name for s in stacks)
    assert [r.stack for r in results] == [s.name for s in stacks]  # planned order, whatever finished first
    rows = [line.split()[0] for line in out.splitlines()[1:-1]]
    assert rows == [s.name for s in stacks]
    assert all(r.seconds is not None and r.seconds > 0 for r in results)
    assert out.splitlines()[-1].endswith(f"(median), {parallel} at a time" if parallel > 1 else "(median)")


@pytest.mark.parametrize("command", ["preview", "drift", "up"])
def test_the_first_stack_finishes_before_any_other_starts(monkeypatch, command):
    """On up, no party is brought up before its exchange; on preview/drift the first run creates what the project's
    first run creates (its virtualenv, the backend's metadata) alone."""
    recorder, stacks, _, _ = _scheduled(monkeypatch, command, 3)
    assert stacks[0].kind == "exchange"
    assert recorder.events[:2] == [("start", stacks[0].name), ("end", stacks[0].name)]


def test_up_brings_no_party_up_when_the_exchange_fails(monkeypatch):
    recorder, stacks, results, _ = _scheduled(monkeypatch, "up", 2, fail=("star-exchange",))
    assert recorder.started() == ["star-exchange"]
    assert [(r.stack, r.result) for r in results] == [("star-exchange", "error")]
    assert results[0].detail.strip() == "star-exchange: boom"  # the engine error's last line


@pytest.mark.parametrize("command", ["preview", "up"])
def test_one_partys_error_stops_no_other_party(monkeypatch, command):
    recorder, stacks, results, _ = _scheduled(monkeypatch, command, 2, fail=("star-party-10000",))
    assert sorted(recorder.started()) == sorted(s.name for s in stacks)
    ok = "succeeded" if command == "up" else "ok"
    assert [(r.stack, r.result) for r in results] == [("star-exchange", ok), ("star-party-9999", ok),
                                                      ("star-party-10000", "error"), ("star-party-10001", ok)]


def test_peer_to_peer_up_runs_its_parties_concurrently(monkeypatch):
    recorder, stacks, results, _ = _scheduled(monkeypatch, "up", 2, topo=PEER_TO_PEER)
    assert all(s.kind == "party" for s in stacks) and recorder.most == 2
    assert [r.result for r in results] == ["succeeded"] * len(stacks)


# ------------------------------------------------------------------ NodePorts stay with their party (issue 23, item 4)

def _routes(cfg: dict[str, Any]) -> dict[tuple[str, int], Any]:
    """Every route of a stack's config, by (where it is, the party id it leads to; 1 for the exchange)."""
    out: dict[tuple[str, int], Any] = {}
    for route in cfg.get("rollsite", {}).get("partyList", []):
        out[("rollsite.partyList", route["partyId"])] = route
    for module in ("pulsar", "rabbitmq", "nginx"):
        for peer, route in cfg.get(module, {}).get("routeTable", {}).items():
            out[(f"{module}.routeTable", peer)] = route
        if "exchange" in cfg.get(module, {}):
            out[(f"{module}.exchange", 1)] = cfg[module]["exchange"]
    if "exchange" in cfg.get("rollsite", {}):
        out[("rollsite.exchange", 1)] = cfg["rollsite"]["exchange"]
    for route in cfg.get("trafficServer", {}).get("sniRoutes", []):
        out[("trafficServer.sniRoutes", int(route["fqdn"].split(".")[0]))] = route
    return out


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_adding_removing_or_reordering_parties_moves_no_other_partys_ports_or_routes(name):
    doc = TOPOLOGIES[name]
    before = {s.name: s.config for s in plan(_topology(doc))}
    newcomer = {**doc["parties"][0], "partyId": 9998, "address": "198.51.100.99"}
    changes = {"reordered": doc["parties"][::-1], "added at the top": [newcomer, *doc["parties"]],
               "first removed": doc["parties"][1:], "last removed": doc["parties"][:-1]}
    for change, parties in changes.items():
        after = {s.name: s.config for s in plan(_topology(doc, parties=parties))}
        moved = {p["partyId"] for p in parties} ^ {p["partyId"] for p in doc["parties"]}
        for stack in before.keys() & after.keys():
            assert federation.node_ports(after[stack]) == federation.node_ports(before[stack]), (change, stack)
            kept = {k: v for k, v in _routes(before[stack]).items() if k[1] not in moved}
            assert {k: v for k, v in _routes(after[stack]).items() if k[1] not in moved} == kept, (change, stack)
        if change == "reordered":
            assert after == before


def test_a_party_added_at_the_top_leaves_every_other_party_as_it_is():
    """The issue's report: 9998 listed first moved 9999's rollsite from 30011 to 30021 and every route with it.
    In a star, the other parties' stacks stay exactly as they are (nothing to roll out); the exchange gains a route."""
    before = {s.name: s.config for s in plan(_topology(EGGROLL_STAR))}
    grown = {s.name: s.config for s in plan(_topology(EGGROLL_STAR, parties=[
        {"partyId": 9998, "address": "198.51.100.99"}, *EGGROLL_STAR["parties"]]))}
    assert {k: grown[k] for k in before if k != "star-exchange"} == {k: v for k, v in before.items()
                                                                     if k != "star-exchange"}
    old_routes = before["star-exchange"]["rollsite"]["partyList"]
    new_routes = grown["star-exchange"]["rollsite"]["partyList"]
    assert [r for r in new_routes if r["partyId"] != 9998] == old_routes
    assert len(new_routes) == len(old_routes) + 1


def _write_topology(path, doc) -> str:
    path.write_text(yaml.safe_dump(doc))
    return str(path)


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_plan_writes_the_same_files_whatever_the_order_of_the_parties(name, tmp_path, capsys):
    doc = {**TOPOLOGIES[name], "development": True}
    orders = {"as-given": doc["parties"], "reversed": doc["parties"][::-1],
              "rotated": doc["parties"][1:] + doc["parties"][:1]}
    written = {}
    for label, parties in orders.items():
        topology = _write_topology(tmp_path / f"{label}.yaml", {**doc, "parties": parties})
        out = tmp_path / label
        project = _project(tmp_path / "project").parent
        assert federation.main(["plan", topology, "-o", str(out), "--work-dir", str(project)]) == 0
        written[label] = {p.name: p.read_bytes() for p in out.iterdir()}
    assert written["as-given"] == written["reversed"] == written["rotated"]
    assert set(written["as-given"]) == {f"Pulumi.{s.name}.yaml" for s in plan(_topology(doc))}


def test_plan_files_hold_what_up_sets_and_no_secret(tmp_path, monkeypatch, capsys):
    doc = {**EGGROLL_STAR, "parties": [
        {"partyId": 9999, "address": "198.51.100.10", "config": {"nodemanager": {"replicas": 2}},
         "secrets": {"mysqlPassword": "env:FED_PLAN_MYSQL", "fateboardPassword": "env:FED_PLAN_BOARD",
                     "notebookHashedPassword": "env:FED_PLAN_NOTEBOOK"}},
        {"partyId": 10000, "address": "198.51.100.20", "secrets": {"mysqlPassword": "env:FED_PLAN_MYSQL_B"}}]}
    monkeypatch.setenv("FED_PLAN_MYSQL", "s3cret-in-the-environment")  # set or not: never written
    out = tmp_path / "plan"
    topology = _write_topology(tmp_path / "fed.yaml", doc)
    _project(tmp_path)
    assert federation.main(["plan", topology, "-o", str(out), "--work-dir", str(tmp_path)]) == 0
    assert "3 stack files" in capsys.readouterr().out
    text = (out / "Pulumi.star-party-9999.yaml").read_text()
    assert "s3cret" not in text
    assert "#   fate:mysqlPassword: env:FED_PLAN_MYSQL\n" in text  # the variable, in a comment
    [s] = [s for s in plan(_topology(doc)) if s.name == "star-party-9999"]
    config = yaml.safe_load(text)["config"]
    assert config.pop(federation.OWNED) == sorted({*s.config, "verify", "mysqlPassword", "fateboardPassword",
                                                   "notebookHashedPassword"})
    assert config == {f"fate:{k}": v for k, v in s.config.items()} | {"fate:verify": {"toy": [10000]}}
    # a reviewable stack file: the readers of stack files take it (its passwords are the environment's)
    from fate_pulumi.inputs import stack_file
    assert stack_file(out / "Pulumi.star-party-9999.yaml")[0]["fate:partyId"] == 9999


def test_plan_never_overwrites_a_file_it_did_not_write(tmp_path, capsys):
    doc = {**EGGROLL_STAR, "development": True}
    topology = _write_topology(tmp_path / "fed.yaml", doc)
    out = tmp_path / "plan"
    out.mkdir()
    mine = out / "Pulumi.star-party-10000.yaml"
    mine.write_text("config:\n  fate:partyId: 10000\n")
    _project(tmp_path)
    argv = ["plan", topology, "-o", str(out), "--work-dir", str(tmp_path)]
    assert cli.main(["federation", *argv]) == 2
    assert "exists and was not written by fate-pulumi federation plan" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == [mine.name] and mine.read_text() == "config:\n  fate:partyId: 10000\n"
    mine.rename(tmp_path / "kept.yaml")
    (out / "notes.txt").write_text("mine")
    assert cli.main(["federation", *argv]) == 0
    assert cli.main(["federation", *argv]) == 0  # its own files: rewritten
    # a party leaves the topology: its earlier plan file goes, the user's file stays
    _write_topology(tmp_path / "fed.yaml", {**doc, "parties": EGGROLL_STAR["parties"][:2]})
    assert cli.main(["federation", *argv]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["Pulumi.star-exchange.yaml", "Pulumi.star-party-10000.yaml",
                                                     "Pulumi.star-party-9999.yaml", "notes.txt"]


def _stack_file(project, stack: str, config: dict[str, Any]) -> None:
    """A stack file as the Automation API leaves it: plain values as strings, objects as JSON strings."""
    from fate_pulumi.render import engine_string

    (project / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({
        "encryptionsalt": "v1:c2FsdA==:v1:aXY=:Y3Q=",
        "config": {k if ":" in k else f"fate:{k}": engine_string(v) for k, v in config.items()}}))


def test_stacks_planned_by_file_order_keep_their_node_ports(tmp_path):
    """Stacks deployed by an earlier fate-pulumi have the ports of their place in the file (party i: 30000 + 10*i +
    slot). Each keeps them, every route to it follows, and a newcomer gets a block from its party id."""
    for i, pid in enumerate((9999, 10000, 10001), start=1):
        base = 30000 + 10 * i
        _stack_file(tmp_path, f"star-party-{pid}", {
            "partyId": pid, "python": {"service": {"type": "NodePort", "nodePorts": {"http": base + 7,
                                                                                      "grpc": base + 2}}},
            "rollsite": {"service": {"type": "NodePort", "nodePorts": {"rollsite": base + 1}},
                         "exchange": {"host": "198.51.100.1", "port": 30001}}})
    _stack_file(tmp_path, "star-exchange", {"kind": "exchange", "rollsite": {"service": {"nodePorts": {
        "rollsite": 30001}}}})
    (tmp_path / "Pulumi.other-party-10001.yaml").write_text("config: {fate:partyId: 1}\n")  # another federation's
    topo = _topology(EGGROLL_STAR, parties=[{"partyId": 10002, "address": "198.51.100.40"},
                                            *EGGROLL_STAR["parties"][::-1]])
    stacks = {s.name: s.config for s in plan(topo, federation.recorded_node_ports(topo, tmp_path))}
    for i, pid in enumerate((9999, 10000, 10001), start=1):
        base = 30000 + 10 * i
        assert federation.node_ports(stacks[f"star-party-{pid}"]) == {
            "fateflowHttp": base + 7, "fateflowGrpc": base + 2, "rollsite": base + 1}
    assert {r["partyId"]: r["port"] for r in stacks["star-exchange"]["rollsite"]["partyList"]} == {
        9999: 30011, 10000: 30021, 10001: 30031, 10002: 30000 + 10 * (1 + 10002 % 275) + 1}
    assert stacks["star-exchange"]["rollsite"]["service"]["nodePorts"] == {"rollsite": 30001}


def test_two_sites_on_one_block_are_refused_with_a_free_block_named(tmp_path):
    """Party ids 275 apart derive the same block: refused, naming both and a block nobody holds."""
    parties = [{"partyId": 10275, "address": "198.51.100.20"}, {"partyId": 10000, "address": "198.51.100.10"}]
    with pytest.raises(ValueError) as err:
        plan(_topology(EGGROLL_STAR, parties=parties))
    assert str(err.value) == (
        "parties[0].nodePortBase: NodePorts 31010-31019 of parties[0] (party 10275) (from its party id) overlap "
        "31010-31019 of parties[1] (party 10000) (from its party id) — give one of them a free block: "
        "nodePortBase: 30010")
    fixed = plan(_topology(EGGROLL_STAR, parties=[{**parties[0], "nodePortBase": 30010}, parties[1]]))
    assert federation.node_ports(fixed[1].config)["rollsite"] == 31011  # 10000 keeps its block
    assert federation.node_ports(fixed[2].config)["rollsite"] == 30011
    # a party gone from the topology still holds its block while its stack file is there (it may still run)
    _stack_file(tmp_path, "star-party-10000", {"rollsite": {"service": {"nodePorts": {"rollsite": 31011}}}})
    topo = _topology(EGGROLL_STAR, parties=parties[:1])
    with pytest.raises(ValueError, match=r"parties\[0\].nodePortBase: .* overlap 31010-31019 of stack "
                                         r"star-party-10000 \(not in the topology\)"):
        plan(topo, federation.recorded_node_ports(topo, tmp_path))
    # a stack whose ports are not one block (edited by hand): which to keep is the operator's call
    _stack_file(tmp_path, "star-party-10275", {"rollsite": {"service": {"nodePorts": {"rollsite": 31011}}},
                                               "python": {"service": {"nodePorts": {"http": 30517}}}})
    with pytest.raises(ValueError, match=r"parties\[0\].nodePortBase: its stack's NodePorts \(fateflowHttp 30517, "
                                         r"rollsite 31011\) are not one block"):
        plan(topo, federation.recorded_node_ports(topo, tmp_path))


# ------------------------------------------------- each stack's fate: config is what the topology derives (item 3)

def test_keys_not_from_the_topology_are_reported_and_up_refuses_them(tmp_path, capsys, monkeypatch):
    """A key the driver wrote before (recorded) is its own to remove; a key it never wrote is the operator's: named,
    with the fix; `up` stops before touching anything, `preview` goes on."""
    doc = {**EGGROLL_STAR, "development": True}
    topology = _write_topology(tmp_path / "fed.yaml", doc)
    _stack_file(tmp_path, "star-party-9999", {"partyId": 9999, "imageTag": "1.11.2-release-patch1",
                                              "nodemanager": {"replicas": 2}, "mysqlPassword": "x",
                                              federation.OWNED: ["nodemanager", "partyId"]})
    before = (tmp_path / "Pulumi.star-party-9999.yaml").read_text()
    ran = []

    def run(command, *a, **k):
        ran.append(command)
        return []

    monkeypatch.setattr(federation, "run", run)
    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/" + name)
    _project(tmp_path)
    assert federation.main(["up", topology, "--work-dir", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    stack_file = tmp_path / "Pulumi.star-party-9999.yaml"
    assert lines == [
        f"error: {stack_file}: fate:imageTag: in the stack but not from the topology (set by hand, or by an earlier "
        f"fate-pulumi) — move it into parties[0].config of {topology}, or remove it: pulumi config rm fate:imageTag "
        "--stack star-party-9999",
        f"error: {stack_file}: fate:mysqlPassword: in the stack but not from the topology (set by hand, or by an "
        f"earlier fate-pulumi) — give it in parties[0].secrets of {topology} as mysqlPassword: env:<VARIABLE>, or "
        "remove it: pulumi config rm fate:mysqlPassword --stack star-party-9999"]
    assert ran == [] and stack_file.read_text() == before
    _project(tmp_path)
    assert federation.main(["preview", topology, "--work-dir", str(tmp_path)]) == 0
    warnings = capsys.readouterr().err.splitlines()
    assert [w.split(": ")[2] for w in warnings] == ["fate:imageTag", "fate:mysqlPassword"]
    assert all(w.startswith("warning: ") and ", and up refuses it — " in w for w in warnings)
    assert ran == ["preview"]


def test_a_verified_pair_is_not_run_again_and_a_new_one_waits_for_the_verification_pass():
    """The first `up` of a party keeps the toy tests its stack already runs (unchanged jobs are not re-run) and
    leaves the others to the verification pass, once every peer is up."""
    [party] = [s for s in plan(_topology(EGGROLL_STAR)) if s.party_id == 9999]
    assert party.verified()["verify"] == {"toy": [10000, 10001]}
    assert "verify" not in party.first_pass({})
    assert party.first_pass({"verify": {"toy": [10000]}})["verify"] == {"toy": [10000]}
    assert party.first_pass({"verify": {"toy": [10001, 10000]}}) == party.verified()
    assert party.first_pass({"verify": {"toy": [10000, 10005]}})["verify"] == {"toy": [10000]}  # 10005 is gone
    given = _topology(EGGROLL_STAR, parties=[{**EGGROLL_STAR["parties"][0], "config": {"verify": {"timeout": 900}}},
                                             *EGGROLL_STAR["parties"][1:]])
    [party] = [s for s in plan(given) if s.party_id == 9999]
    assert party.first_pass({})["verify"] == {"timeout": 900}
    assert party.verified()["verify"] == {"timeout": 900, "toy": [10000, 10001]}


class _DeployedStack:
    """What pulumi.automation.select_stack answers for a deployed stack (its outputs only)."""

    def __init__(self, node_ports: dict[str, dict[str, int]]):
        self._outputs = {"connect": _Output({"partyId": 10000, "nodePorts": node_ports})}

    def outputs(self) -> dict[str, _Output]:
        return self._outputs


def test_a_running_stack_without_its_stack_file_is_not_moved(tmp_path, monkeypatch):
    from pulumi import automation as auto

    _project(tmp_path)
    [party] = [s for s in plan(_topology(EGGROLL_STAR)) if s.name == "star-party-10000"]
    planned = sorted(federation.node_ports(party.config).values())
    monkeypatch.setattr(auto, "select_stack", lambda **_: _DeployedStack({"rollsite": {"tcp-rollsite": 30021}}))
    why = federation.moved_ports(party, tmp_path)
    assert why is not None and "runs with NodePorts 30021" in why and "Pulumi.star-party-10000.yaml" in why
    # the same ports as planned, or the stack file in the project (its ports were kept): nothing to refuse
    monkeypatch.setattr(auto, "select_stack", lambda **_: _DeployedStack({"rollsite": {"tcp-rollsite": planned[0]}}))
    assert federation.moved_ports(party, tmp_path) is None
    (tmp_path / "Pulumi.star-party-10000.yaml").write_text("config: {}\n")
    monkeypatch.setattr(auto, "select_stack", lambda **_: _DeployedStack({"rollsite": {"tcp-rollsite": 30021}}))
    assert federation.moved_ports(party, tmp_path) is None


def test_a_stack_not_deployed_yet_is_not_refused(tmp_path, monkeypatch):
    from pulumi import automation as auto

    def missing(**_: Any) -> None:
        raise auto.StackNotFoundError(auto.CommandResult("", "no stack named 'star-party-10000' found", 255))

    monkeypatch.setattr(auto, "select_stack", missing)
    [party] = [s for s in plan(_topology(EGGROLL_STAR)) if s.name == "star-party-10000"]
    assert federation.moved_ports(party, tmp_path) is None


# KubeFATE's example plan for a party, `30<party><slot>` (kubefate-examples party-9999-cluster / party-10000-cluster)
KUBEFATE_PARTY = """\
name: fate-{pid}
namespace: fate-{pid}
chartName: fate
chartVersion: v1.11.2
partyId: {pid}
persistence: false
modules: [rollsite, clustermanager, nodemanager, mysql, python, fateboard, client]
computing: Eggroll
federation: Eggroll
storage: Eggroll
rollsite:
  type: NodePort
  nodePort: {base1}
  partyList:
    - partyId: {peer}
      partyIp: {peer_ip}
      partyPort: {peer_port}
python:
  type: NodePort
  httpNodePort: {base7}
  grpcNodePort: {base2}
"""


def _kubefate_party(pid: int, base: int, peer: int, peer_ip: str, peer_base: int) -> dict[str, Any]:
    from fate_pulumi.importer import import_cluster

    text = KUBEFATE_PARTY.format(pid=pid, base1=base + 1, base2=base + 2, base7=base + 7, peer=peer, peer_ip=peer_ip,
                                 peer_port=peer_base + 1)
    return import_cluster(yaml.safe_load(text)).config


def test_a_taken_over_federation_keeps_kubefates_node_ports_in_a_topology(tmp_path):
    """The runbook's whole federation: parties imported from KubeFATE's 30<party><slot> plan, then one topology whose
    entries give each its KubeFATE block as nodePortBase — or whose stacks' files (named as the driver names them)
    hold those ports: the plan gives every party exactly the NodePorts it runs with, and routes to them."""
    imported = {9999: _kubefate_party(9999, 30090, 10000, "192.0.2.20", 30100),
                10000: _kubefate_party(10000, 30100, 9999, "192.0.2.10", 30090)}
    address = {9999: "192.0.2.10", 10000: "192.0.2.20"}
    topology: dict[str, Any] = {"name": "demo", "development": True, "parties": [
        {"partyId": pid, "address": address[pid], "nodePortBase": base}
        for pid, base in ((9999, 30090), (10000, 30100))]}
    for recorded in (False, True):
        doc = topology
        if recorded:  # no nodePortBase: the stacks' own files keep the ports
            doc = {**topology, "parties": [{k: v for k, v in p.items() if k != "nodePortBase"}
                                           for p in topology["parties"]]}
            _project(tmp_path)
            for pid, config in imported.items():
                (tmp_path / f"Pulumi.demo-party-{pid}.yaml").write_text(
                    yaml.safe_dump({"config": {f"fate:{k}": v for k, v in config.items()}}))
        topo = _topology(doc)
        stacks = {s.party_id: s for s in plan(topo, federation.recorded_node_ports(topo, tmp_path))}
        for pid, config in imported.items():
            ours = stacks[pid].config
            assert ours["rollsite"]["service"]["nodePorts"] == config["rollsite"]["service"]["nodePorts"], recorded
            assert ours["python"]["service"]["nodePorts"] == config["python"]["service"]["nodePorts"], recorded
            [peer] = ours["rollsite"]["partyList"]
            [theirs] = config["rollsite"]["partyList"]
            assert (peer["host"], peer["port"]) == (theirs["host"], theirs["port"]), recorded
