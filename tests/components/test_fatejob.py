"""FateJob: the runner (components/fatejob_runner.py, the container's program) run as the container runs it, against a
FATE Flow stand-in on loopback (tests/fakeflow.py); the job definitions' checks; the objects a job makes."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from components import fatejob
from components.fatejob import RUNNER, FateJobConfig, toy_job
from stacks.config import SECRET_KEYS, ConfigError, DeploymentConfig
from stacks.config import load_config as _load_config
from tests.conftest import party, render
from tests.fakeflow import JOB_ID, FakeFlow, Scenario

DSL = {"components": {"reader_0": {"module": "Reader"}}}
CONF = {"dsl_version": 2, "initiator": {"role": "guest", "party_id": 9999},
        "role": {"guest": [9999], "host": [10000]}}


def load_config(values: dict[str, Any]) -> DeploymentConfig:
    return _load_config(values, SECRET_KEYS)


PEERS = {"rollsite": {"partyList": [{"partyId": 10000, "host": "10.0.0.2", "port": 30101}]}}


def run_runner(tmp_path: Path, flow_port: int, job: dict[str, Any] | None = None, timeout: int = 30,
               pipeline: str | None = None, path_dirs: str = "") -> tuple[subprocess.CompletedProcess, str]:
    """The runner as the Job's container runs it: `python /fate-job/runner.py` over the ConfigMap's files."""
    job_dir = tmp_path / "fate-job"
    job_dir.mkdir(exist_ok=True)
    if pipeline is not None:
        (job_dir / "pipeline.py").write_text(pipeline)
    else:
        (job_dir / "job.json").write_text(json.dumps(job or {"dsl": DSL, "conf": CONF}))
    termination = tmp_path / "termination-log"
    env = {"PATH": f"{path_dirs}:{os.environ['PATH']}" if path_dirs else os.environ["PATH"],
           "FATE_FLOW_HOST": "127.0.0.1", "FATE_FLOW_PORT": str(flow_port), "FATE_JOB_DIR": str(job_dir),
           "FATE_JOB_TIMEOUT": str(timeout), "FATE_JOB_POLL": "0.05",
           "FATE_JOB_RESULT": "fate-9999/fate-job-lr-result", "FATE_JOB_API": f"http://127.0.0.1:{flow_port}",
           "FATE_JOB_TOKEN": str(tmp_path / "no-token"), "FATE_JOB_TERMINATION_LOG": str(termination)}
    done = subprocess.run([sys.executable, str(RUNNER)], env=env, capture_output=True, text=True, timeout=120)
    return done, termination.read_text() if termination.exists() else ""


def test_runner_is_python_3_8_and_standard_library_only():
    """The client image runs Python 3.8 (FATE-Builder's base image): newer syntax would not even start."""
    tree = ast.parse(RUNNER.read_text(), feature_version=(3, 8))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)


def test_a_job_that_succeeds(tmp_path):
    with FakeFlow() as flow:
        done, message = run_runner(tmp_path, flow.port)
    assert done.returncode == 0, done.stdout + done.stderr
    assert flow.bodies("/v1/job/submit") == [{"job_dsl": DSL, "job_runtime_conf": CONF}]
    # the initiator's view of the job, as `flow test toy` queries it
    assert flow.bodies("/v1/job/query")[-1] == {"job_id": JOB_ID, "role": "guest", "party_id": 9999}
    assert len(flow.bodies("/v1/job/query")) == 3  # waiting, running, success: then it stops asking
    assert message == f"FATE job {JOB_ID} succeeded"
    assert flow.result["status"] == "success" and flow.result["jobId"] == JOB_ID
    assert flow.result["modelVersion"] == JOB_ID and flow.result["modelId"] == "guest-9999#host-10000#model"
    patches = [p for m, p, _ in flow.requests if m == "PATCH"]
    assert set(patches) == {"/api/v1/namespaces/fate-9999/configmaps/fate-job-lr-result"}
    assert f"job {JOB_ID} is running" in done.stdout


def test_a_job_that_fails_says_which_component_and_why(tmp_path):
    report = "Traceback (most recent call last):\n  File \"*****\", line 1\nValueError: no data in table t1\n"
    scenario = Scenario(statuses=["running", "failed"], failed_tasks=[
        {"f_component_name": "reader_0", "f_status": "failed", "f_error_report": report}])
    with FakeFlow(scenario) as flow:
        done, message = run_runner(tmp_path, flow.port)
    assert done.returncode == 1
    assert message == f"FATE job {JOB_ID} failed (failed reader_0: ValueError: no data in table t1)"
    assert flow.result["status"] == "failed" and flow.result["message"] == message


def test_a_refused_job_reports_the_error_not_the_traceback(tmp_path):
    traceback = ("Traceback (most recent call last):\n  File \"/data/projects/fate/fateflow/python/fate_flow/"
                 "scheduler/dag_scheduler.py\", line 80, in submit\n"
                 "Exception: initiator party id 1 not in role parties\n")
    with FakeFlow(Scenario(refuse=traceback)) as flow:
        done, message = run_runner(tmp_path, flow.port)
    assert done.returncode == 2
    assert message == "FATE Flow refused the job (retcode 103): Exception: initiator party id 1 not in role parties"
    assert "dag_scheduler.py" in done.stdout  # the whole traceback stays in the pod's log
    assert flow.bodies("/v1/job/query") == []


def test_a_job_past_its_time_is_stopped(tmp_path):
    with FakeFlow(Scenario(statuses=["running"])) as flow:
        done, message = run_runner(tmp_path, flow.port, timeout=1)
    assert done.returncode == 4
    assert flow.bodies("/v1/job/stop") == [{"job_id": JOB_ID}]
    assert message.startswith(f"FATE job {JOB_ID} did not finish within 1s (last status running); stopped it")
    assert flow.result["status"] == "timeout"


def test_fate_flow_restarting_while_the_job_runs_is_waited_out(tmp_path):
    with FakeFlow(Scenario(query_errors=3)) as flow:
        done, message = run_runner(tmp_path, flow.port)
    assert done.returncode == 0, done.stdout
    assert "query failed: HTTP 502" in done.stdout


def test_fate_flow_down_fails_with_its_address(tmp_path):
    with FakeFlow() as flow:
        port = flow.port
    started = time.time()
    done, message = run_runner(tmp_path, port, timeout=1)
    assert done.returncode == 3
    assert message.startswith(f"FATE Flow at http://127.0.0.1:{port} is unreachable: job/submit:")
    assert time.time() - started < 30


def test_a_pipeline_script_runs_with_the_party_flow_and_its_job_id_is_kept(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pipeline").write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/pipeline-init\n")
    (bin_dir / "pipeline").chmod(0o755)
    script = "print('Job id is 202612010000000000042')\nprint('done')\n"
    with FakeFlow() as flow:
        done, message = run_runner(tmp_path, flow.port, pipeline=script, path_dirs=str(bin_dir))
    assert done.returncode == 0, done.stdout
    assert (tmp_path / "pipeline-init").read_text().split() == ["init", "--ip", "127.0.0.1", "--port", str(flow.port)]
    assert flow.result["jobId"] == "202612010000000000042" and flow.result["status"] == "success"

    failing = "print('Job id is 202612010000000000043')\nraise SystemExit('job 202612010000000000043 failed')\n"
    with FakeFlow() as flow:
        done, message = run_runner(tmp_path, flow.port, pipeline=failing, path_dirs=str(bin_dir))
    assert done.returncode == 1
    assert message == "pipeline script failed (exit 1): job 202612010000000000043 failed"
    assert flow.result["jobId"] == "202612010000000000043"


# ---------------------------------------------------------------------------------------------------- definitions


def test_toy_is_fate_flows_toy_job():
    toy = toy_job(9999, 10000)
    assert toy.name == "toy-10000"
    assert toy.dsl == {"components": {"secure_add_example_0": {"module": "SecureAddExample"}}}
    assert isinstance(toy.conf, dict) and toy.conf["initiator"] == {"role": "guest", "party_id": 9999}
    assert toy.conf["role"] == {"guest": [9999], "host": [10000]}


@pytest.mark.parametrize(("job", "message"), [
    ({"name": "lr", "dsl": DSL}, "a job needs dsl and conf (or a pipeline script)"),
    ({"name": "lr", "dsl": DSL, "conf": CONF, "pipeline": "x.py"}, "cannot read the pipeline script 'x.py'"),
    ({"name": "lr", "dsl": {"components": {}}, "conf": CONF}, "a DSL names its components"),
    ({"name": "lr", "dsl": {"components": {"r": {}}}, "conf": CONF}, "component 'r' names no module"),
    ({"name": "lr", "dsl": DSL, "conf": {**CONF, "dsl_version": 1}}, "FATE 1.11 runs dsl_version 2 jobs"),
    ({"name": "lr", "dsl": DSL, "conf": {**CONF, "role": {"guest": [9999], "judge": [1]}}}, "role 'judge' is not"),
    ({"name": "lr", "dsl": DSL, "conf": {**CONF, "initiator": {"role": "host", "party_id": 9999}}},
     "the initiator (party 9999 as host) is not among the conf's host parties [10000]"),
    ({"name": "lr", "dsl": DSL, "conf": {k: v for k, v in CONF.items() if k != "initiator"}}, "has no initiator"),
    ({"name": "Lr", "dsl": DSL, "conf": CONF}, "is not a valid Kubernetes name"),
])
def test_bad_job_definitions_are_refused(job, message):
    with pytest.raises(ConfigError) as err:
        load_config(party(jobs=[job]))
    assert message in str(err.value), str(err.value)
    assert all(k.startswith("fate:jobs[0]") for k in err.value.keys), err.value.keys


def test_job_files_are_read_relative_to_the_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "dsl.json").write_text(json.dumps(DSL))
    (tmp_path / "jobs" / "conf.yaml").write_text("dsl_version: 2\ninitiator: {role: guest, party_id: 9999}\n"
                                                 "role: {guest: [9999]}\n")
    job = FateJobConfig.model_validate({"name": "lr", "dsl": "jobs/dsl.json", "conf": "jobs/conf.yaml"})
    assert job.dsl == DSL and isinstance(job.conf, dict) and job.conf["role"] == {"guest": [9999]}
    (tmp_path / "jobs" / "bad.yaml").write_text("a: [")
    with pytest.raises(ConfigError, match="the conf file 'jobs/bad.yaml' is neither JSON nor YAML"):
        load_config(party(jobs=[{"name": "lr", "dsl": DSL, "conf": "jobs/bad.yaml"}]))


@pytest.mark.parametrize(("values", "key", "message"), [
    (party(jobs=[{"name": "lr", "dsl": DSL, "conf": {**CONF, "initiator": {"role": "host", "party_id": 10000}}}],
           **PEERS), "fate:jobs[0].conf.initiator.party_id", "this party (9999) initiates it, not 10000"),
    (party(jobs=[{"name": "lr", "dsl": DSL, "conf": {**CONF, "role": {"guest": [9999], "host": [10001]}}}], **PEERS),
     "fate:jobs[0].conf.role", "no route of this party leads to 10001"),
    (party(verify={"toy": [10001]}, **PEERS), "fate:verify.toy[0]", "no route of this party leads to 10001"),
    (party(verify={"toy": [10000]}, jobs=[{"name": "toy-10000", "dsl": DSL, "conf": CONF}], **PEERS),
     "fate:jobs[0].name", "'toy-10000' names more than one job (verify.toy names its tests toy-<peer>)"),
    (party(verify={"toy": [10000]}, modules=["mysql", "rollsite", "clustermanager", "nodemanager"], **PEERS),
     "fate:verify", "FATE jobs run on FATE Flow: needs module python"),
    ({"kind": "exchange", "partyId": 1, "verify": {"toy": [9999]}}, "fate:verify", "not used by a deployment of kind"),
])
def test_jobs_fit_the_party(values, key, message):
    with pytest.raises(ConfigError) as err:
        load_config(values)
    assert key in err.value.keys, str(err.value)
    assert message in str(err.value)


def test_an_exchange_route_reaches_any_party():
    cfg = load_config(party(verify={"toy": [10000, 10001]},
                            rollsite={"exchange": {"host": "10.0.0.9", "port": 30001}}))
    assert [j.name for j in cfg.fate_jobs] == ["toy-10000", "toy-10001"]


# ---------------------------------------------------------------------------------------------------- objects


def _job_objects(values: dict[str, Any]) -> dict[str, dict]:
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in render(values).objects
            if o["metadata"]["name"].startswith("fate-job-")}


def test_a_changed_job_is_a_new_kubernetes_job_an_unchanged_one_the_same():
    lr = {"name": "lr", "dsl": DSL, "conf": CONF}
    first = _job_objects(party(jobs=[lr], **PEERS))
    again = _job_objects(party(jobs=[lr], **PEERS))
    changed = _job_objects(party(jobs=[{**lr, "conf": {**CONF, "job_parameters": {"common": {"task_cores": 1}}}}],
                                 **PEERS))
    jobs = [sorted(k for k in objs if k.startswith("Job/")) for objs in (first, again, changed)]
    assert jobs[0] == jobs[1] and len(jobs[0]) == 1
    assert jobs[2] != jobs[0] and jobs[2][0].startswith("Job/fate-job-lr-")
    # the result ConfigMap, the runner and the runner's rights keep their names: they follow the job by its name
    stable = {k for k in first if not k.startswith(("Job/", "ConfigMap/fate-job-lr-")) or k.endswith(("-result",
                                                                                                   "-runner"))}
    assert {"ConfigMap/fate-job-lr-result", "ConfigMap/fate-job-lr-runner"} <= stable <= set(changed)


def _job(objs: dict[str, dict]) -> dict:
    return next(o for k, o in objs.items() if k.startswith("Job/"))


def test_a_changed_runner_reruns_no_job(tmp_path, monkeypatch):
    """A release that edits the runner updates the runner's ConfigMap in place: the Job keeps its name and its spec
    (a Job's pod template is immutable; the provider would replace the Job, which runs the FATE job again)."""
    lr = {"name": "lr", "dsl": DSL, "conf": CONF}
    toy_pipeline = tmp_path / "pipeline.py"
    toy_pipeline.write_text("print('Job id is 202612010000000000042')\n")
    values = party(jobs=[lr, {"name": "pipe", "pipeline": str(toy_pipeline)}], verify={"toy": [10000]}, **PEERS)
    before = _job_objects(values)
    edited = tmp_path / "fatejob_runner.py"
    edited.write_text(RUNNER.read_text() + "\n# a later release's runner\n")
    monkeypatch.setattr(fatejob, "RUNNER", edited)
    after = _job_objects(values)

    jobs = {k: o for k, o in before.items() if k.startswith("Job/")}
    assert len(jobs) == 3
    assert {k: o for k, o in after.items() if k.startswith("Job/")} == jobs
    assert set(after) == set(before)  # every ConfigMap too: the job's own (named with the Job) kept its name
    changed = sorted(k for k in before if before[k] != after[k])
    assert changed == ["ConfigMap/fate-job-lr-runner", "ConfigMap/fate-job-pipe-runner",
                       "ConfigMap/fate-job-toy-10000-runner"]
    assert after["ConfigMap/fate-job-lr-runner"]["data"] == {"runner.py": edited.read_text()}


@pytest.mark.parametrize("change", [
    {"jobs": [{"name": "lr", "dsl": {"components": {"reader_1": {"module": "Reader"}}}, "conf": CONF}]},
    {"jobs": [{"name": "lr", "dsl": DSL, "conf": {**CONF, "job_parameters": {"common": {"task_cores": 1}}}}]},
    {"jobs": [{"name": "lr", "dsl": DSL, "conf": CONF, "timeout": 7200}]},
    {"imageTag": "1.11.1-release"},
    {"registry": "registry.example.com/federatedai"},
])
def test_what_the_job_runs_reruns_it(change):
    """DSL, conf, timeout and the client image each make a new Kubernetes Job (a new FATE job)."""
    base = party(jobs=[{"name": "lr", "dsl": DSL, "conf": CONF}], **PEERS)
    before, after = _job(_job_objects(base)), _job(_job_objects({**base, **change}))
    names = before["metadata"]["name"], after["metadata"]["name"]
    assert all(n.startswith("fate-job-lr-") for n in names) and names[0] != names[1], names


def test_the_runner_may_write_its_result_and_nothing_else():
    objs = _job_objects(party(jobs=[{"name": "lr", "dsl": DSL, "conf": CONF}], **PEERS))
    job = next(o for k, o in objs.items() if k.startswith("Job/"))
    role = objs["Role/fate-job-lr"]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"],
                              "resourceNames": ["fate-job-lr-result"], "verbs": ["get", "patch"]}]
    assert objs["RoleBinding/fate-job-lr"]["subjects"] == [
        {"kind": "ServiceAccount", "name": "fate-job-lr", "namespace": "fate-9999"}]
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "fate-job-lr" and pod["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] == 0  # one submission per job: a retry would be a second FATE job
    assert "ttlSecondsAfterFinished" not in job["spec"]  # a vanished Job would run again at the next up
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["FATE_JOB_RESULT"] == "fate-9999/fate-job-lr-result"
    assert (env["FATE_FLOW_HOST"], env["FATE_FLOW_PORT"]) == ("fateflow", "9380")
    files = objs[f"ConfigMap/{job['metadata']['name']}"]["data"]
    assert files.keys() == {"job.json"} and json.loads(files["job.json"]) == {"dsl": DSL, "conf": CONF}
    assert objs["ConfigMap/fate-job-lr-runner"]["data"] == {"runner.py": RUNNER.read_text()}
    # what the container runs: the runner from its ConfigMap, over the job's files in FATE_JOB_DIR
    container = pod["containers"][0]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v}
    assert container["command"] == ["python", "/fate-job-runner/runner.py"]
    assert volumes[mounts["/fate-job-runner"]] == "fate-job-lr-runner"
    assert volumes[mounts[env["FATE_JOB_DIR"]]] == job["metadata"]["name"]


def test_job_outputs_and_no_jobs_without_config():
    rendered = render(party(verify={"toy": [10000]}, **PEERS))
    assert set(rendered.outputs["jobs"]) == {"toy-10000"}
    assert rendered.outputs["jobs"]["toy-10000"]["kubernetesJob"].startswith("fate-job-toy-10000-")
    assert "jobs" not in render(party()).outputs
