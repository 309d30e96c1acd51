"""FateJob on a real API server (the local control plane): `pulumi up` waits for a party's FATE jobs, succeeds when
their pods complete, fails with the job's own message when one fails, reads the outcome back into the stack
outputs, and does not run an unchanged job again.

No FATE runs here: kwok plays the job pods. Its pod-complete stage (replaced by the one below for this module)
completes a Job's pod; the pod-fail stage below fails the pod of one named Job with the termination message the
runner writes for a failed FATE job (tests/components/test_fatejob.py checks the runner writes exactly that).
Run with: python -m pytest -q --engine tests/engine/test_jobs.py
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.cluster.controlplane import LocalCluster
from tests.conftest import TEST_SECRETS, render
from tests.engine.harness import Engine

NS = "fate-9999"
STACK = "party-9999-jobs"
SECRETS = {k: TEST_SECRETS[k] for k in ("mysqlPassword", "fateboardPassword", "notebookHashedPassword")}
DSL = {"components": {"reader_0": {"module": "Reader"}}}
CONF = {"dsl_version": 2, "initiator": {"role": "guest", "party_id": 9999}, "role": {"guest": [9999], "host": [10000]}}
VALUES: dict[str, Any] = {
    "partyId": 9999, "backend": "eggroll", "persistence": {"enabled": False},
    "modules": ["mysql", "python", "rollsite", "clustermanager", "nodemanager"],
    "rollsite": {"partyList": [{"partyId": 10000, "host": "192.0.2.20", "port": 30091}]},
    "verify": {"toy": [10000]},
}
FAILING: dict[str, Any] = {"name": "hetero-lr", "dsl": DSL, "conf": CONF, "timeout": 120}
FAILURE = "FATE job 202612011200000000007 failed (failed reader_0: ValueError: no data in table experiment.t1)"

# a kwok Stage for the pods of Jobs: `match` picks them by the Job's name label, the containers end as `terminated`
STAGE = """\
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: %(name)s
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: '.metadata.deletionTimestamp', operator: DoesNotExist}
    - {key: '.status.phase', operator: In, values: [Running]}
    - {key: '.metadata.ownerReferences.[].kind', operator: In, values: [Job]}
    - {key: '.metadata.labels["batch.kubernetes.io/job-name"]', operator: %(match)s, values: [%(failing)s]}
  next:
    statusTemplate: |
      {{ $now := Now }}
      containerStatuses:
      {{ range $index, $item := .spec.containers }}
      - image: {{ $item.image | Quote }}
        name: {{ $item.name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          terminated: {%(terminated)s, startedAt: {{ $now | Quote }}, finishedAt: {{ $now | Quote }}}
      {{ end }}
      phase: %(phase)s
%(conditions)s"""


def stages(failing: str) -> dict[str, str]:
    """kwok's pod-complete for every Job's pod but `failing`'s, whose pod fails with the message the runner writes."""
    return {
        "pod-complete": STAGE % {"name": "pod-complete", "match": "NotIn", "failing": failing, "phase": "Succeeded",
                                 "terminated": "exitCode: 0, reason: Completed", "conditions": ""},
        "pod-fail": STAGE % {"name": "pod-fail", "match": "In", "failing": failing, "phase": "Failed",
                             "terminated": f"exitCode: 1, reason: Error, message: {json.dumps(FAILURE)}",
                             # as a kubelet leaves a failed pod: not ready (the provider reports a pod's container
                             # errors, the termination message among them, while it is not ready)
                             "conditions": "      conditions:\n" + "".join(
                                 f"      - {{type: {t}, status: \"False\", reason: PodFailed}}\n"
                                 for t in ("Ready", "ContainersReady"))},
    }


def _job_name(values: dict[str, Any], job: str) -> str:
    """The Kubernetes Job a job definition becomes (its name carries the definition's digest)."""
    secrets = {k: TEST_SECRETS[k] for k in ("mysqlPassword", "fateboardPassword", "notebookHashedPassword")}
    return next(o["metadata"]["name"] for o in render({**values, **secrets}).objects
                if o["kind"] == "Job" and o["metadata"]["name"].startswith(f"fate-job-{job}-"))


@pytest.fixture(scope="module")
def failing_job() -> str:
    return _job_name({**VALUES, "jobs": [FAILING]}, FAILING["name"])


@pytest.fixture(scope="module")
def cluster_options(tmp_path_factory, failing_job) -> dict[str, Any]:
    """The module's control plane (the `cluster` fixture, tests/engine/conftest.py) with kwok stages that complete
    every job pod but fail `failing_job`'s."""
    where = tmp_path_factory.mktemp("kwok-stages")
    for name, text in stages(failing_job).items():
        (where / f"{name}.yaml").write_text(text)
    return {"stages": {"pod/fast/pod-complete.yaml": where / "pod-complete.yaml", "pod-fail": where / "pod-fail.yaml"}}


@pytest.fixture(scope="module")
def kube(cluster: LocalCluster, tmp_path_factory) -> Engine:
    engine = Engine(tmp_path_factory.mktemp("jobs-engine"))
    engine.env["KUBECONFIG"] = str(cluster.kubeconfig)
    engine.stack(STACK, {**VALUES, "jobs": [FAILING]}, SECRETS)
    return engine


def _jobs(cluster: LocalCluster) -> dict[str, dict]:
    return {j["metadata"]["name"]: j for j in cluster.get(f"/apis/batch/v1/namespaces/{NS}/jobs")["items"]}


def _outputs(kube: Engine) -> dict:
    res = kube.run("stack", "output", "--json", "--stack", STACK)
    assert res.rc == 0, res.output
    return res.json()


def test_preview_shows_the_jobs_and_reads_nothing_yet(kube):
    res = kube.run("preview", "--json", "--stack", STACK, timeout=600)
    assert res.rc == 0, res.output
    steps = [s for s in res.json()["steps"] if s.get("newState", {}).get("type") == "kubernetes:batch/v1:Job"]
    assert sorted(s["newState"]["inputs"]["metadata"]["name"].rsplit("-", 1)[0] for s in steps) == \
        ["fate-job-hetero-lr", "fate-job-toy-10000"]


def test_a_failing_job_fails_up_with_the_jobs_message(cluster, kube, failing_job):
    res = kube.run("up", "--yes", "--skip-preview", "--stack", STACK, timeout=900)
    assert res.rc != 0, res.output
    assert FAILURE in res.output, res.output[-4000:]
    conditions = _jobs(cluster)[failing_job]["status"].get("conditions", [])
    assert {c["type"] for c in conditions if c["status"] == "True"} & {"Failed", "FailureTarget"}, conditions
    # the party itself came up before any job ran
    assert cluster.not_ready(NS) == []


def test_without_the_failing_job_up_succeeds_and_reports_the_outcome(cluster, kube, failing_job):
    kube.set_values(STACK, {"jobs": []})
    res = kube.run("up", "--yes", "--skip-preview", "--stack", STACK, timeout=900)
    assert res.rc == 0, res.output
    jobs = _jobs(cluster)
    assert failing_job not in jobs  # a job taken out of the stack goes with its Kubernetes Job
    assert [j["status"].get("succeeded") for name, j in jobs.items() if name.startswith("fate-job-toy-10000-")] == [1]
    toy = _outputs(kube)["jobs"]["toy-10000"]
    # no runner ran (kwok): the result is the one the stack created the ConfigMap with
    assert toy["status"] == "not run" and toy["kubernetesJob"].startswith("fate-job-toy-10000-")


def test_the_outcome_the_runner_records_reaches_the_outputs_and_the_job_is_not_run_again(cluster, kube):
    before = {name: j["metadata"]["uid"] for name, j in _jobs(cluster).items()}
    outcome = {"status": "success", "jobId": "202612011200000000001", "modelId": "guest-9999#host-10000#model",
               "modelVersion": "202612011200000000001", "message": "FATE job 202612011200000000001 succeeded"}
    # what the runner does with its ServiceAccount: a merge patch of its own result ConfigMap
    cluster.patch(f"/api/v1/namespaces/{NS}/configmaps/fate-job-toy-10000-result", {"data": outcome},
                  manager="fate-job-runner")
    res = kube.run("up", "--yes", "--skip-preview", "--stack", STACK, timeout=900)
    assert res.rc == 0, res.output
    toy = _outputs(kube)["jobs"]["toy-10000"]
    assert {k: toy[k] for k in outcome} == outcome
    assert {name: j["metadata"]["uid"] for name, j in _jobs(cluster).items()} == before
    res = kube.run("preview", "--expect-no-changes", "--stack", STACK, timeout=600)
    assert res.rc == 0, res.output


def test_a_new_runner_updates_its_configmap_and_runs_no_job_again(cluster, kube):
    """A release that edits the runner (here: the project's copy of it) changes ConfigMap fate-job-<name>-runner in
    place; the Kubernetes Jobs stay the same objects (a changed pod template would make the provider replace them)."""
    before = {name: j["metadata"]["uid"] for name, j in _jobs(cluster).items()}
    assert before
    runner = kube.project / "components" / "fatejob_runner.py"
    original = runner.read_text()
    runner.write_text(original + "\n# the next release's runner\n")
    try:
        res = kube.run("preview", "--json", "--stack", STACK, timeout=600)
        assert res.rc == 0, res.output
        changed = sorted((s["op"], s["urn"].rsplit("::", 1)[-1]) for s in res.json()["steps"]
                         if s["op"] not in ("same", "read"))  # read: the result ConfigMap, read back on every up
        assert changed == [("update", "fate-9999-fate-job-toy-10000-runner")], changed
        res = kube.run("up", "--yes", "--skip-preview", "--stack", STACK, timeout=900)
        assert res.rc == 0, res.output
        live = cluster.get(f"/api/v1/namespaces/{NS}/configmaps/fate-job-toy-10000-runner")
        assert live["data"]["runner.py"] == runner.read_text()
        assert {name: j["metadata"]["uid"] for name, j in _jobs(cluster).items()} == before
    finally:
        runner.write_text(original)
    res = kube.run("up", "--yes", "--skip-preview", "--stack", STACK, timeout=900)
    assert res.rc == 0, res.output
    assert {name: j["metadata"]["uid"] for name, j in _jobs(cluster).items()} == before


def test_destroy_takes_the_jobs_with_the_namespace(cluster, kube):
    res = kube.run("destroy", "--yes", "--skip-preview", "--stack", STACK, timeout=900)
    assert res.rc == 0, res.output
    # the stack created the namespace and keeps no volumes: everything goes with it
    ns = cluster.get(f"/api/v1/namespaces/{NS}")
    assert ns is None or ns["metadata"].get("deletionTimestamp"), ns


def test_stage_files_are_kwoks_format():
    """The stages above are YAML kwok reads, with a status template that is YAML once filled in (a typo would only
    show as a pod that never completes)."""
    for name, text in stages("fate-job-x-1").items():
        stage = yaml.safe_load(text)
        assert stage["kind"] == "Stage" and stage["metadata"]["name"] == name
        filled = stage["spec"]["next"]["statusTemplate"].replace("{{ $now | Quote }}", '"2026-12-01T00:00:00Z"')
        filled = "\n".join(ln for ln in filled.splitlines() if not ln.strip().startswith("{{"))
        assert yaml.safe_load(filled.replace("{{ $item.image | Quote }}", '"i"').replace(
            "{{ $item.name | Quote }}", '"c"'))["phase"] in ("Succeeded", "Failed")
