"""Runs one FATE job from inside the party's cluster: the program of a FateJob's Kubernetes Job (components/fatejob.py).

It runs in the party's client image (FATE-Builder's client: Python 3.8), from a ConfigMap, so it uses the standard
library only and Python 3.8 syntax. FATE Flow's HTTP API as FATE Flow 1.11 serves it (docs/config-contract.md,
"FATE jobs"): POST /v1/job/submit with `job_dsl` and `job_runtime_conf`, then POST /v1/job/query until the
initiator's job reaches a final status; a job that outlives its time is stopped (POST /v1/job/stop).

A pipeline script instead runs with the client image's own `pipeline` package (`pipeline init` pointed at the
party's FATE Flow first); its job id is the one FATE's pipeline logs ("Job id is ...").

The outcome goes to three places: the exit code (the Kubernetes Job fails when the FATE job does, so `pulumi up`
fails), one line in the container's termination message (Pulumi prints it with the failure), and the job's result
ConfigMap (`FATE_JOB_RESULT` = namespace/name; the component reads it back into its outputs).

Environment: FATE_FLOW_HOST, FATE_FLOW_PORT, FATE_JOB_DIR (job.json or pipeline.py), FATE_JOB_TIMEOUT (seconds),
FATE_JOB_POLL (seconds between queries), FATE_JOB_RESULT, FATE_JOB_API (the Kubernetes API; default the in-cluster
one), FATE_JOB_TERMINATION_LOG.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Optional

# exit codes: what went wrong, for people reading `kubectl get pods` (the message says the rest)
OK, JOB_FAILED, REFUSED, UNREACHABLE, TIMED_OUT = 0, 1, 2, 3, 4
FINAL = ("success", "failed", "canceled", "timeout")  # FATE Flow's final job statuses (JobStatus)
SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
JOB_ID_LINE = re.compile(r"Job id is (\S+)")  # what FATE's pipeline logs when it submits a job


class FlowError(Exception):
    """FATE Flow could not be reached, or answered with something that is not its JSON."""


def env(name: str, default: Optional[str] = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise SystemExit(f"fate-job: environment variable {name} is not set")
    return value


def flow_post(base: str, endpoint: str, body: dict[str, Any], timeout: int = 30) -> dict[str, Any]:
    """POST a JSON body to FATE Flow's /v1/<endpoint>; its JSON answer (retcode 0 = done)."""
    request = urllib.request.Request(f"{base}/v1/{endpoint}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        text = err.read().decode("utf-8", "replace")
        if not text.strip().startswith("{"):
            raise FlowError(f"HTTP {err.code} from {endpoint}: {text.strip()[:300]}") from None
    except (urllib.error.URLError, OSError) as err:
        raise FlowError(f"{endpoint}: {getattr(err, 'reason', err)}") from None
    try:
        answer = json.loads(text)
    except ValueError:
        raise FlowError(f"{endpoint} answered something that is not JSON: {text.strip()[:300]}") from None
    if not isinstance(answer, dict):
        raise FlowError(f"{endpoint} answered {text.strip()[:300]}")
    return answer


def log(message: str) -> None:
    sys.stdout.write(f"[fate-job {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stdout.flush()


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return lines[-1][-1000:] if lines else ""


class Result:
    """What the run found out, written where Pulumi and people read it."""

    def __init__(self) -> None:
        self.data = {"status": "submitting"}
        self.target = os.environ.get("FATE_JOB_RESULT", "")
        self.api = os.environ.get("FATE_JOB_API", "")
        if not self.api and os.environ.get("KUBERNETES_SERVICE_HOST"):
            self.api = (f"https://{os.environ['KUBERNETES_SERVICE_HOST']}:"
                        f"{os.environ.get('KUBERNETES_SERVICE_PORT', '443')}")

    def update(self, **values: Any) -> None:
        self.data.update({k: str(v) for k, v in values.items() if v is not None})
        if not self.target or not self.api:
            return
        namespace, name = self.target.split("/", 1)
        url = f"{self.api}/api/v1/namespaces/{namespace}/configmaps/{name}"
        headers = {"Content-Type": "application/merge-patch+json"}
        token_file = os.environ.get("FATE_JOB_TOKEN", f"{SERVICE_ACCOUNT}/token")
        if os.path.exists(token_file):
            with open(token_file) as f:
                headers["Authorization"] = f"Bearer {f.read().strip()}"
        context = ssl.create_default_context(cafile=f"{SERVICE_ACCOUNT}/ca.crt") if url.startswith("https:") else None
        request = urllib.request.Request(url, data=json.dumps({"data": self.data}).encode(), headers=headers,
                                         method="PATCH")
        try:
            with urllib.request.urlopen(request, timeout=15, context=context):
                pass
        except (urllib.error.URLError, OSError) as err:
            # the outcome still reaches Pulumi through the exit code and the termination message
            log(f"could not record the result in ConfigMap {self.target}: {getattr(err, 'reason', err)}")


def finish(result: Result, code: int, message: str, **values: Any) -> int:
    """Record the outcome and say it; the exit code."""
    result.update(message=message, **values)
    log(message)
    try:
        with open(os.environ.get("FATE_JOB_TERMINATION_LOG", "/dev/termination-log"), "w") as f:
            f.write(message[:4000])
    except OSError:
        pass
    return code


def submit(base: str, job: dict[str, Any], deadline: float, poll: float) -> dict[str, Any]:
    """Submit a DSL job; FATE Flow down is retried until a minute (or the time) is up, a refusal is final."""
    body = {"job_dsl": job["dsl"], "job_runtime_conf": job["conf"]}
    give_up = min(deadline, time.time() + 60)
    while True:
        try:
            return flow_post(base, "job/submit", body)
        except FlowError as err:
            if time.time() + poll > give_up:
                raise
            log(f"FATE Flow not answering ({err}); trying again")
            time.sleep(poll)


def run_dsl(base: str, job: dict[str, Any], result: Result, timeout: int, poll: float) -> int:
    deadline = time.time() + timeout
    initiator = job["conf"]["initiator"]
    try:
        answer = submit(base, job, deadline, poll)
    except FlowError as err:
        return finish(result, UNREACHABLE, f"FATE Flow at {base} is unreachable: {err}", status="unsubmitted")
    if answer.get("retcode") != 0:
        # FATE Flow's retmsg is the whole Python traceback (DAGScheduler.submit): the log keeps it, the message its
        # last line, the error itself
        reason = str(answer.get("retmsg") or "")
        if "\n" in reason:
            log(reason)
        return finish(result, REFUSED, f"FATE Flow refused the job (retcode {answer.get('retcode')}): "
                                       f"{last_line(reason)}", status="refused", jobId=answer.get("jobId"))
    data = answer.get("data") or {}
    job_id = answer.get("jobId") or data.get("job_id")
    model = data.get("model_info") or {}
    known = {"jobId": job_id, "modelId": model.get("model_id"), "modelVersion": model.get("model_version"),
             "boardUrl": data.get("board_url")}
    result.update(status="waiting", **known)
    log(f"submitted job {job_id} (model {known['modelId']}, version {known['modelVersion']})")
    status, last = "waiting", ""
    query = {"job_id": job_id, "role": initiator["role"], "party_id": initiator["party_id"]}
    while time.time() < deadline:
        try:
            answer = flow_post(base, "job/query", query)
        except FlowError as err:  # FATE Flow restarting: the job goes on, so does the wait
            if str(err) != last:
                log(f"query failed: {err}")
            last = str(err)
            time.sleep(poll)
            continue
        # no match is retcode 0 with an empty list (FATE Flow's query_job)
        jobs = (answer.get("data") or []) if answer.get("retcode") == 0 else []
        if jobs and jobs[0].get("f_status", status) != status:
            status = jobs[0]["f_status"]
            result.update(status=status, progress=jobs[0].get("f_progress"))
            log(f"job {job_id} is {status}")
        if status == "success":
            return finish(result, OK, f"FATE job {job_id} succeeded", status=status, **known)
        if status in FINAL:
            return finish(result, JOB_FAILED, f"FATE job {job_id} {status}{failed_tasks(base, query)}",
                          status=status, **known)
        time.sleep(poll)
    try:
        flow_post(base, "job/stop", {"job_id": job_id})
        stopped = "; stopped it"
    except FlowError as err:
        stopped = f"; stopping it failed: {err}"
    return finish(result, TIMED_OUT, f"FATE job {job_id} did not finish within {timeout}s (last status {status})"
                                     f"{stopped}", status="timeout", **known)


def failed_tasks(base: str, query: dict[str, Any]) -> str:
    """Which components failed and why, from FATE Flow's task list (`f_error_report`, the task's traceback with
    paths masked); best effort: the job's status is the verdict."""
    try:
        answer = flow_post(base, "job/task/query", {**query, "status": "failed"})
    except FlowError:
        return ""
    reports = [f"{t['f_component_name']}: {last_line(t.get('f_error_report') or 'no error report')}"
               for t in answer.get("data") or [] if t.get("f_component_name")]
    return f" (failed {'; '.join(reports)})" if reports else ""


def run_pipeline(host: str, port: int, script: str, result: Result, timeout: int) -> int:
    """A FATE pipeline script, run with the client image's `pipeline` (pointed at this party's FATE Flow first)."""
    init = subprocess.run(["pipeline", "init", "--ip", host, "--port", str(port)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    if init.returncode != 0:
        return finish(result, UNREACHABLE, f"pipeline init failed: {init.stdout.strip()[-500:]}",
                      status="unsubmitted")
    result.update(status="running")
    job_ids: list[str] = []
    lines: list[str] = []
    process = subprocess.Popen([sys.executable, script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    for line in process.stdout or []:
        sys.stdout.write(line)
        lines.append(line.rstrip())
        found = JOB_ID_LINE.search(line)
        if found and found.group(1) not in job_ids:
            job_ids.append(found.group(1))
            result.update(jobId=" ".join(job_ids))
    code = process.wait()
    timed_out = not timer.is_alive()
    timer.cancel()
    jobs = " ".join(job_ids) or None
    if timed_out:
        return finish(result, TIMED_OUT, f"pipeline script did not finish within {timeout}s", status="timeout",
                      jobId=jobs)
    if code != 0:
        tail = next((ln for ln in reversed(lines) if ln.strip()), "")
        return finish(result, JOB_FAILED, f"pipeline script failed (exit {code}): {tail[-500:]}", status="failed",
                      jobId=jobs)
    return finish(result, OK, f"pipeline script succeeded (jobs {jobs or 'none'})", status="success", jobId=jobs)


def main() -> int:
    host, port = env("FATE_FLOW_HOST"), int(env("FATE_FLOW_PORT", "9380"))
    directory = env("FATE_JOB_DIR", "/fate-job")
    timeout = int(env("FATE_JOB_TIMEOUT", "3600"))
    poll = float(env("FATE_JOB_POLL", "5"))
    result = Result()
    script = os.path.join(directory, "pipeline.py")
    if os.path.exists(script):
        return run_pipeline(host, port, script, result, timeout)
    with open(os.path.join(directory, "job.json")) as f:
        job = json.load(f)
    return run_dsl(f"http://{host}:{port}", job, result, timeout, poll)


if __name__ == "__main__":
    sys.exit(main())
