"""A stand-in FATE Flow on loopback, answering as FATE Flow 1.11 answers (docs/config-contract.md, "FATE jobs"):
the /v1 envelope (retcode, retmsg, jobId, data; keys whose value is None left out; HTTP 200 even for errors),
job/submit, job/query (retcode 0 and an empty list when nothing matches), job/task/query, job/stop. It also plays
the Kubernetes API for the one call the job runner makes (a merge patch of its result ConfigMap).

A scenario says how the job goes: the statuses successive queries see, or a refusal; everything received is kept.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

JOB_ID = "202612011200000000001"


@dataclass
class Scenario:
    statuses: list[str] = field(default_factory=lambda: ["waiting", "running", "success"])  # one per query
    refuse: Optional[str] = None  # a traceback FATE Flow answers the submission with (retcode 103)
    failed_tasks: list[dict[str, Any]] = field(default_factory=list)  # job/task/query rows of failed tasks
    query_errors: int = 0  # the first N queries fail (FATE Flow restarting): HTTP 502 with an HTML body
    model_id: str = "guest-9999#host-10000#model"


class FakeFlow:
    def __init__(self, scenario: Optional[Scenario] = None):
        self.scenario = scenario or Scenario()
        self.requests: list[tuple[str, str, Any]] = []  # (method, path, body)
        self.result: dict[str, str] = {}  # the result ConfigMap's data as patched
        self._queries = 0
        flow = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> Any:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    return json.loads(raw or b"null")
                except ValueError:
                    return raw.decode()

            def _send(self, status: int, payload: Any, content_type: str = "application/json") -> None:
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = self._body()
                flow.requests.append(("POST", self.path, body))
                status, payload = flow.answer(self.path, body)
                self._send(status, payload, "application/json" if status == 200 else "text/html")

            def do_PATCH(self) -> None:
                body = self._body()
                flow.requests.append(("PATCH", self.path, body))
                if self.headers.get("Content-Type") != "application/merge-patch+json":
                    self._send(415, {"kind": "Status", "code": 415})
                    return
                flow.result.update((body or {}).get("data") or {})
                self._send(200, {"kind": "ConfigMap", "data": flow.result})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeFlow:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, path: str, body: Any) -> tuple[int, Any]:
        s = self.scenario
        if path == "/v1/job/submit":
            if not isinstance(body, dict):
                return 200, {"retcode": 100, "retmsg": "TypeError('argument after ** must be a mapping')"}
            if s.refuse is not None:
                return 200, {"retcode": 103, "retmsg": s.refuse, "jobId": JOB_ID}
            conf = body.get("job_runtime_conf") or body.get("runtime_conf") or {}
            initiator = conf.get("initiator", {})
            return 200, {"retcode": 0, "retmsg": "success", "jobId": JOB_ID, "data": {
                "job_id": JOB_ID, "code": 0, "message": "success",
                "model_info": {"model_id": s.model_id, "model_version": JOB_ID},
                "logs_directory": f"/data/projects/fate/fateflow/logs/{JOB_ID}",
                "board_url": f"http://fateboard:8080/index.html#/dashboard?job_id={JOB_ID}&role="
                             f"{initiator.get('role')}&party_id={initiator.get('party_id')}"}}
        if path == "/v1/job/query":
            self._queries += 1
            if self._queries <= s.query_errors:
                return 502, b"<html>502 Bad Gateway</html>"
            if not isinstance(body, dict) or body.get("job_id") != JOB_ID:
                return 200, {"retcode": 0, "retmsg": "no job could be found", "data": []}
            status = s.statuses[min(self._queries - s.query_errors - 1, len(s.statuses) - 1)]
            return 200, {"retcode": 0, "retmsg": "success", "data": [{
                "f_job_id": JOB_ID, "f_status": status, "f_role": body.get("role"),
                "f_party_id": str(body.get("party_id")), "f_progress": 100 if status == "success" else 10}]}
        if path == "/v1/job/task/query":
            rows = [t for t in s.failed_tasks if body.get("status") in (None, t.get("f_status"))]
            return 200, {"retcode": 0, "retmsg": "success", "data": rows}
        if path == "/v1/job/stop":
            return 200, {"retcode": 0, "retmsg": "success"}
        return 404, b"<html>404 Not Found</html>"

    def bodies(self, path: str) -> list[Any]:
        return [body for method, p, body in self.requests if p == path]
