"""`fate-pulumi status`'s verdict, table and JSON, and the command line `logs` runs, from recorded API objects (no
cluster): tests/fixtures/status/party-9999.json is what `status` observed of the engine test's party
(tests/engine/test_status.py: its outputs and the live objects, managedFields left out) on the local control plane;
each case changes it the way the engine test changes the cluster."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from fate_pulumi import logs, status
from fate_pulumi.drift import CHECKED_TAG, RESULT_TAG
from fate_pulumi.kubectl import Kubectl
from tests.conftest import ROOT

RECORDED = ROOT / "tests" / "fixtures" / "status" / "party-9999.json"
NOW = dt.datetime(2026, 12, 8, 12, 0, tzinfo=dt.timezone.utc)


def recorded() -> status.Observed:
    doc = json.loads(RECORDED.read_text())
    return status.Observed(doc["stack"], doc["outputs"], doc["tags"], doc["live"])


def _obj(obs: status.Observed, resource: str, name: str) -> dict[str, Any]:
    return next(o for o in obs.live[resource] if o["metadata"]["name"] == name)


def scaled_to_zero(obs: status.Observed, name: str) -> status.Observed:
    """As `kubectl scale --replicas=0` leaves a Deployment once its pods are gone."""
    obs = copy.deepcopy(obs)
    w = _obj(obs, "deployments", name)
    w["spec"]["replicas"] = 0
    w["status"] = {"observedGeneration": w["status"].get("observedGeneration", 1), "replicas": 0}
    app = w["spec"]["template"]["metadata"]["labels"][status.APP]
    obs.live["pods"] = [p for p in obs.live["pods"] if p["metadata"]["labels"].get(status.APP) != app]
    return obs


def crash_looping(obs: status.Observed, pod: str, finished: dt.datetime, ready: bool = False) -> status.Observed:
    """As a kubelet leaves a container that keeps failing (the engine test writes the same through kwok)."""
    obs = copy.deepcopy(obs)
    p = _obj(obs, "pods", pod)
    at = finished.strftime("%Y-%m-%dT%H:%M:%SZ")
    for c in p["status"]["containerStatuses"]:
        c.update(restartCount=5, ready=ready, lastState={"terminated": {
            "exitCode": 1, "reason": "Error", "startedAt": at, "finishedAt": at}})
        if not ready:
            c["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
    return obs


def test_the_recorded_party_is_healthy() -> None:
    report = status.assess(recorded(), NOW)
    assert report["healthy"] and report["problems"] == [] and status.exit_code([report]) == 0
    assert (report["stack"], report["kind"], report["partyId"], report["namespace"], report["release"]) == \
        ("party-9999-status", "party", 9999, "fate-9999", "1.11.2")
    by_name = {w["name"]: w for w in report["workloads"]}
    assert sorted(by_name) == ["clustermanager", "mysql", "nodemanager", "python", "rollsite"]
    assert [(w["ready"], w["desired"]) for w in by_name.values()] == [(1, 1), (1, 1), (2, 2), (1, 1), (1, 1)]
    # the toy test's Job pod is the job's, not a workload's
    assert all(not c["pod"].startswith("fate-job-") for w in report["workloads"] for c in w["containers"])
    assert [c["tag"] for c in by_name["python"]["containers"]] == ["1.11.2-release"]
    assert {"service": "rollsite", "port": "tcp-rollsite", "type": "NodePort", "host": "192.0.2.10",
            "nodePort": 30091} in report["exposed"]
    assert report["routes"] == [{"module": "rollsite", "peer": "10000", "host": "192.0.2.20", "port": 30091,
                                 "secure": False}]
    assert [(j["name"], j["status"], j["problem"]) for j in report["jobs"]] == [("toy-10000", "not run", None)]
    assert report["drift"] == {"lastCheck": None, "lastResult": None, "due": True}


def test_a_workload_scaled_to_zero_is_degraded_and_named() -> None:
    report = status.assess(scaled_to_zero(recorded(), "clustermanager"), NOW)
    assert not report["healthy"] and status.exit_code([report]) == 1
    assert report["problems"] == ["clustermanager: scaled to 0"]
    text = status.table([report])
    assert re.search(r"^  clustermanager +0/0 ", text, re.M), text
    assert "  ! clustermanager: scaled to 0" in text.splitlines()


def test_a_crash_looping_container_is_degraded_with_restarts_and_reason() -> None:
    report = status.assess(crash_looping(recorded(), "python-0", NOW - dt.timedelta(seconds=30)), NOW)
    assert status.exit_code([report]) == 1
    assert report["problems"] == [
        "python: python-0/fateflow: waiting: CrashLoopBackOff, 5 restarts, last terminated: Error"]
    (c,) = next(w for w in report["workloads"] if w["name"] == "python")["containers"]
    assert (c["restarts"], c["lastTermination"]["reason"], c["state"]) == (5, "Error", "waiting: CrashLoopBackOff")
    row = next(line for line in status.table([report]).splitlines() if line.split()[:1] == ["python"])
    assert row.split()[2:4] == ["5", "Error"], row


def test_restarts_long_ago_are_shown_but_not_a_problem() -> None:
    """A container that restarted days ago and runs now is healthy; its restarts and reason stay visible."""
    report = status.assess(crash_looping(recorded(), "python-0", NOW - dt.timedelta(days=3), ready=True), NOW)
    assert report["healthy"], report["problems"]
    row = next(line for line in status.table([report]).splitlines() if line.split()[:1] == ["python"])
    assert row.split()[1:4] == ["1/1", "5", "Error"], row
    # within the hour it is still restarting
    report = status.assess(crash_looping(recorded(), "python-0", NOW - dt.timedelta(minutes=20), ready=True), NOW)
    assert report["problems"] == ["python: python-0/fateflow: 5 restarts, last terminated: Error"]


def test_a_failed_job_is_degraded_with_fates_message() -> None:
    obs = copy.deepcopy(recorded())
    (cm,) = obs.live["configmaps"]
    cm["data"] = {"status": "failed", "jobId": "202612080000000000001",
                  "message": "FATE job 202612080000000000001 failed (failed reader_0: no table)"}
    report = status.assess(obs, NOW)
    assert report["problems"] == [
        "job toy-10000: failed (FATE job 202612080000000000001 failed (failed reader_0: no table))"]
    cm["data"] = {"status": "success", "jobId": "202612080000000000001"}
    assert status.assess(obs, NOW)["healthy"]


def _ca(days: int) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=days))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_certificates_and_a_ca_about_to_expire_are_degraded() -> None:
    obs = copy.deepcopy(recorded())
    obs.outputs.update(tlsCertificatesExpire="2027-06-01", tlsCaCertificate=_ca(3650))
    report = status.assess(obs, NOW)
    assert report["healthy"] and report["certificates"]["certificatesExpire"] == "2027-06-01"
    assert report["certificates"]["caExpires"] == (NOW + dt.timedelta(days=3650)).date().isoformat()
    obs.outputs.update(tlsCertificatesExpire="2026-12-20", tlsCaCertificate=_ca(10))
    assert status.assess(obs, NOW)["problems"] == ["the certificates expire on 2026-12-20 (12 days)",
                                                   "the CA expires on 2026-12-18 (10 days)"]
    obs.outputs.update(tlsCertificatesExpire="2026-12-01")
    assert "the certificates expired on 2026-12-01" in status.assess(obs, NOW)["problems"]


def test_a_drift_check_is_due_six_hours_after_the_last() -> None:
    obs = copy.deepcopy(recorded())
    obs.tags = {CHECKED_TAG: "2026-12-08T07:00:00Z", RESULT_TAG: "clean"}
    assert status.assess(obs, NOW)["drift"] == {"lastCheck": "2026-12-08T07:00:00Z", "lastResult": "clean",
                                                "due": False}
    obs.tags[CHECKED_TAG] = "2026-12-08T05:59:59Z"
    report = status.assess(obs, NOW)
    assert report["drift"]["due"] and report["healthy"]  # due is said, not a fault of the deployment
    assert "drift: last 2026-12-08T05:59:59Z (clean), a check is due" in status.table([report])


def test_a_stack_that_cannot_be_read_is_degraded_with_the_reason() -> None:
    report = status.assess(status.Observed("demo-party-10000", {}, error="outputs: no stack named 'x' found"), NOW)
    assert not report["healthy"] and report["problems"] == ["outputs: no stack named 'x' found"]
    assert status.exit_code([status.assess(recorded(), NOW), report]) == 1
    assert "! outputs: no stack named 'x' found" in status.table([report])


def test_colour_only_when_asked() -> None:
    reports = [status.assess(recorded(), NOW), status.assess(scaled_to_zero(recorded(), "rollsite"), NOW)]
    assert "\033[" not in status.table(reports)
    coloured = status.table(reports, colour=True)
    assert "\033[32mhealthy\033[0m" in coloured and "\033[31mdegraded\033[0m" in coloured
    assert re.sub("\033\\[[0-9;]*m", "", coloured) == status.table(reports)


def test_the_json_keys_are_the_ones_the_readme_documents() -> None:
    """--json's keys are an interface: each one the report has is in the README's list, and nothing more."""
    report = status.assess(crash_looping(recorded(), "python-0", NOW), NOW)
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Status and logs"):]
    section = section[:section.index("\n#", 1)]
    documented = set(re.findall(r"`([a-zA-Z]+)`", section))
    keys = set(report) | set(report["workloads"][0]) | set(report["workloads"][0]["containers"][0]) | \
        set(report["workloads"][0]["containers"][0]["lastTermination"] or {}) | set(report["exposed"][0]) | \
        set(report["routes"][0]) | set(report["certificates"]) | set(report["jobs"][0]) | set(report["drift"])
    assert keys - documented == set()


def test_the_logs_command_line() -> None:
    kubectl = Kubectl("/k/config", "bank-a", binary="kubectl")
    assert logs.command(kubectl, "fate-9999", "fate-9999", "python") == [
        "kubectl", "--kubeconfig=/k/config", "--context=bank-a", "logs", "-n", "fate-9999",
        "-l", "app.kubernetes.io/instance=fate-9999,app.kubernetes.io/name=python", "--prefix",
        "--max-log-requests=20", "--all-containers"]
    assert logs.command(kubectl, "ns", "fate-9999", "nodemanager", follow=True, since="10m", container="nodemanager",
                        tail=100)[-4:] == ["--container=nodemanager", "--follow", "--since=10m", "--tail=100"]
    assert logs.command(kubectl, "ns", "fate-9999", "python", previous=True)[-1] == "--previous"


@pytest.mark.parametrize("since", ["5s", "10m", "2h", "1h30m"])
def test_since_takes_kubectls_durations(since: str) -> None:
    assert logs.SINCE.match(since)


def test_a_stacks_own_cluster(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.p.yaml").write_text(
        "config:\n  fate:partyId: 9999\n  fate:kubernetes: {kubeconfig: /k/bank-a, context: bank-a}\n")
    assert status.stack_kubectl("p", tmp_path).base[1:] == ["--kubeconfig=/k/bank-a", "--context=bank-a"]
    (tmp_path / "Pulumi.q.yaml").write_text("config:\n  fate:partyId: 9999\n")
    assert status.stack_kubectl("q", tmp_path).base[1:] == []


def test_a_topology_is_every_stack_of_its_federation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """--topology reads the stacks the federation driver names; one not created yet is degraded, not refused."""
    (tmp_path / "Pulumi.yaml").write_text("name: fate\n")
    topology = tmp_path / "fed.yaml"
    topology.write_text("name: demo\nexchange: {address: 203.0.113.5}\nparties:\n"
                        "  - {partyId: 10000, address: 203.0.113.11}\n  - {partyId: 9999, address: 203.0.113.10}\n")
    monkeypatch.setattr("shutil.which", lambda name, *a, **k: f"/usr/bin/{name}")  # no CLI is run here
    seen: list[str] = []

    def observe(stack: str, work_dir: Path, kubectl: Any = None) -> status.Observed:
        seen.append(stack)
        if stack == "demo-party-10000":
            return status.Observed(stack, {}, error="outputs: no stack named 'demo-party-10000' found")
        obs = recorded()
        obs.stack = stack
        return obs

    monkeypatch.setattr(status, "observe", observe)
    assert status.main(["--topology", str(topology), "--work-dir", str(tmp_path), "--json"]) == 1
    assert seen == ["demo-exchange", "demo-party-9999", "demo-party-10000"]
    doc = json.loads(capsys.readouterr().out)
    assert doc["healthy"] is False
    assert [(s["stack"], s["healthy"]) for s in doc["stacks"]] == [
        ("demo-exchange", True), ("demo-party-9999", True), ("demo-party-10000", False)]
