"""fate_pulumi/drift.py without an engine: engine events of a preview-only refresh -> drifted objects, exit codes.
(tests/engine/test_cluster.py runs it against a real API server.)"""

from __future__ import annotations

import datetime as dt

from pulumi.automation import events

from fate_pulumi import drift

DEPLOYMENT = "urn:pulumi:party::fate::fate:fateboard:Fateboard$kubernetes:apps/v1:Deployment::fateboard"
SERVICE = "urn:pulumi:party::fate::fate:fateboard:Fateboard$kubernetes:core/v1:Service::fateboard"
CONFIG_MAP = "urn:pulumi:party::fate::fate:rollsite:Rollsite$kubernetes:core/v1:ConfigMap::rollsite-config"


def _state(urn: str, kind: str, name: str) -> dict:
    return {"urn": urn, "type": urn.split("::")[-2].split("$")[-1],
            "outputs": {"kind": kind, "metadata": {"name": name, "namespace": "fate-9999"}}}


def _event(op: str, urn: str, old: dict | None, new: dict | None, detailed: dict | None = None,
           diffs: list | None = None, outputs: bool = True) -> events.EngineEvent:
    meta = {"op": op, "urn": urn, "type": urn.split("::")[-2].split("$")[-1], "provider": "",
            "old": old, "new": new, "detailedDiff": detailed, "diffs": diffs}
    key = "resOutputsEvent" if outputs else "resourcePreEvent"
    return events.EngineEvent.from_json({"sequence": 1, "timestamp": 0, key: {"metadata": meta}})


def test_changed_fields_deleted_objects_and_untouched_ones():
    scaled = _state(DEPLOYMENT, "Deployment", "fateboard")
    found = drift.drift_of_events([
        _event("refresh", DEPLOYMENT, scaled, scaled, {"spec.replicas": {"diffKind": "update", "inputDiff": False}}),
        _event("refresh", SERVICE, _state(SERVICE, "Service", "fateboard"), None),
        _event("same", CONFIG_MAP, _state(CONFIG_MAP, "ConfigMap", "rollsite-config"),
               _state(CONFIG_MAP, "ConfigMap", "rollsite-config")),
        _event("refresh", "urn:pulumi:party::fate::pulumi:pulumi:Stack::fate-party", None, None, diffs=["outputs"]),
    ])
    by_name = {f"{d.kind}/{d.name}": d for d in found}
    assert set(by_name) == {"Deployment/fateboard", "Service/fateboard"}
    assert by_name["Deployment/fateboard"].change == "changed"
    assert by_name["Deployment/fateboard"].fields == ["spec.replicas"]
    assert by_name["Service/fateboard"].change == "deleted"
    assert by_name["Service/fateboard"].urn == SERVICE


def test_a_refresh_without_any_difference_is_no_drift():
    same = _state(CONFIG_MAP, "ConfigMap", "rollsite-config")
    assert drift.drift_of_events([_event("refresh", CONFIG_MAP, same, same, outputs=False),
                                  _event("refresh", CONFIG_MAP, same, same)]) == []


def test_exit_codes_and_report(monkeypatch, capsys, tmp_path):
    reports = {
        "clean": [],
        "drifted": [drift.Drift(DEPLOYMENT, "Deployment", "fateboard", "changed", ["spec.replicas"])],
    }
    monkeypatch.setattr(drift, "check", lambda name, work_dir: reports[name])
    monkeypatch.setattr(drift, "project_stacks", lambda work_dir: ["clean", "drifted"])
    soon = (dt.date.today() + dt.timedelta(days=12)).isoformat()
    monkeypatch.setattr(
        drift, "stack_outputs", lambda name, work_dir: {"tlsCertificatesExpire": soon} if name == "drifted" else {}
    )
    recorded: list[tuple[str, int]] = []
    monkeypatch.setattr(drift, "record_check", lambda name, work_dir, drifted: recorded.append((name, drifted)))
    (tmp_path / "Pulumi.yaml").write_text("name: fate\n")
    monkeypatch.setattr("shutil.which", lambda name, *a, **k: f"/usr/bin/{name}")  # the CLI itself is not needed here
    assert drift.main(["--stack", "clean", "--work-dir", str(tmp_path)]) == drift.EXIT_CLEAN
    assert drift.main(["--all", "--work-dir", str(tmp_path)]) == drift.EXIT_DRIFT
    # every check is recorded for `status` (tests/engine/test_status.py reads the tags back)
    assert recorded == [("clean", 0), ("clean", 0), ("drifted", 1)]
    out = capsys.readouterr().out
    assert "clean: no drift" in out and "drifted: 1 drifted" in out
    assert "Deployment/fateboard  changed: spec.replicas" in out and DEPLOYMENT in out
    assert f"warning: the certificates this stack issued expire on {soon} (12 days)" in out
    assert out.count("warning:") == 1  # the clean stack issues no certificates

    def broken(name, work_dir):
        raise RuntimeError("no stack named 'gone' found")
    monkeypatch.setattr(drift, "check", broken)
    assert drift.main(["--stack", "gone", "--work-dir", str(tmp_path)]) == drift.EXIT_ERROR
    assert "no stack named 'gone'" in capsys.readouterr().err


MANAGED = [
    {"manager": "pulumi-kubernetes-4b1c0e2a", "operation": "Apply", "time": "2026-12-01T05:00:00Z",
     "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {}}, "f:data": {"f:route_table.json": {}}}},
    {"manager": "kubectl-scale", "operation": "Update", "time": "2026-12-01T06:10:00Z",
     "fieldsV1": {"f:spec": {"f:replicas": {}}}},
    {"manager": "kubectl-edit", "operation": "Update", "time": "2026-12-01T06:11:00Z",
     "fieldsV1": {"f:data": {"f:route_table.json": {}}, "f:spec": {"f:ports": {}}}},
]


def test_each_changed_field_names_the_manager_that_owns_it_now():
    assert drift.owners("spec.replicas", MANAGED) == ["kubectl-scale (Update, 2026-12-01T06:10:00Z)"]
    assert drift.owners('data["route_table.json"]', MANAGED) == ["kubectl-edit (Update, 2026-12-01T06:11:00Z)"]
    assert drift.owners("spec.ports[0].port", MANAGED) == ["kubectl-edit (Update, 2026-12-01T06:11:00Z)"]
    assert drift.owners("spec.template.spec", MANAGED) == []  # only fate-pulumi's own manager holds it
    state = _state(DEPLOYMENT, "Deployment", "fateboard")
    state["outputs"]["metadata"]["managedFields"] = MANAGED
    [found] = drift.drift_of_events([_event("refresh", DEPLOYMENT, state, state,
                                            {"spec.replicas": {"diffKind": "update", "inputDiff": False}})])
    assert found.line().startswith("Deployment/fateboard  changed: spec.replicas (by kubectl-scale (Update, ")


def test_ignored_fields_are_not_drift():
    rules = [drift.Ignore.parse("Deployment/*:spec.replicas"), drift.Ignore.parse("*/rollsite-config:data")]
    found = [
        drift.Drift(DEPLOYMENT, "Deployment", "fateboard", "changed", ["spec.replicas"]),
        drift.Drift(DEPLOYMENT, "Deployment", "python", "changed", ["spec.replicas", "spec.template.spec"]),
        drift.Drift(CONFIG_MAP, "ConfigMap", "rollsite-config", "changed", ['data["route_table.json"]']),
        drift.Drift(SERVICE, "Service", "fateboard", "deleted"),
    ]
    left = drift.ignoring(found, rules)
    assert [(d.name, d.change, d.fields) for d in left] == [
        ("python", "changed", ["spec.template.spec"]), ("fateboard", "deleted", [])]
    # the result a FATE job's runner records is never drift; the stack's own entries come after
    runner = drift.Ignore("ConfigMap", "fate-job-*-result", "data")
    assert drift.ignore_rules({"fate:driftIgnore": '["Deployment/*:spec.replicas"]'}) == [runner, rules[0]]
    assert drift.ignore_rules({}) == [runner]
    recorded = drift.Drift(CONFIG_MAP, "ConfigMap", "fate-job-toy-10000-result", "changed", ['data["status"]'])
    assert drift.ignoring([recorded], [runner]) == []
