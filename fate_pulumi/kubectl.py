"""kubectl, as adopt, backup / restore and import --compare-live talk to a cluster (`$KUBECTL`, default `kubectl`
on PATH, with --kubeconfig / --context)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from typing import Optional


class ClusterError(Exception):
    """A step against the cluster failed or was refused: the command's exit 1, with this one line."""


def resource_of(api_version: str, kind: str) -> str:
    """kubectl's fully qualified resource argument: Kind.version.group (core kinds by Kind alone)."""
    group, _, version = api_version.rpartition("/")
    return f"{kind}.{version}.{group}" if group else kind


class Kubectl:
    """kubectl with the kubeconfig and context given; a command that fails raises ClusterError (its stderr)."""

    def __init__(self, kubeconfig: Optional[str] = None, context: Optional[str] = None, binary: Optional[str] = None):
        self.base = [binary or os.environ.get("KUBECTL") or "kubectl"]
        if kubeconfig:
            self.base.append(f"--kubeconfig={kubeconfig}")
        if context:
            self.base.append(f"--context={context}")

    def run(self, *args: str, stdin: Optional[str] = None, check: bool = True) -> subprocess.CompletedProcess:
        try:
            proc = subprocess.run([*self.base, *args], input=stdin, capture_output=True, text=True, timeout=300)
        except FileNotFoundError:
            raise ClusterError(f"{self.base[0]} not found: install kubectl or set KUBECTL") from None
        if check and proc.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(a for a in args if not a.startswith('{'))[:200]}: {_stderr(proc)}")
        return proc

    def get(self, resource: str, name: str, namespace: Optional[str]) -> Optional[dict]:
        args = ["get", resource, name, "-o", "json", "--show-managed-fields"] + (["-n", namespace] if namespace else [])
        proc = self.run(*args, check=False)
        if proc.returncode != 0:
            if "NotFound" in proc.stderr or "not found" in proc.stderr:
                return None
            raise ClusterError(f"kubectl get {resource} {name}: {_stderr(proc)}")
        return json.loads(proc.stdout)

    def list(self, resource: str, namespace: str, selector: Optional[str] = None) -> list[dict]:
        args = ["get", resource, "-n", namespace, "-o", "json", "--show-managed-fields"] + (
            ["-l", selector] if selector else []
        )
        return json.loads(self.run(*args).stdout).get("items", [])

    def obj(self, obj: dict) -> Optional[dict]:
        return self.get(
            resource_of(obj["apiVersion"], obj["kind"]), obj["metadata"]["name"], obj["metadata"].get("namespace")
        )

    def json_patch(self, obj: dict, ops: Sequence[dict]) -> dict:
        args = ["patch", resource_of(obj["apiVersion"], obj["kind"]), obj["metadata"]["name"], "--type=json",
                "-p", json.dumps(ops), "-o", "json"]
        if obj["metadata"].get("namespace"):
            args += ["-n", obj["metadata"]["namespace"]]
        return json.loads(self.run(*args).stdout)

    def replace(self, obj: dict) -> dict:
        return json.loads(self.run("replace", "-o", "json", "-f", "-", stdin=json.dumps(obj)).stdout)

    def create(self, obj: dict) -> dict:
        return json.loads(self.run("create", "-o", "json", "-f", "-", stdin=json.dumps(obj)).stdout)

    def delete(self, obj: dict) -> None:
        args = [
            "delete",
            resource_of(obj["apiVersion"], obj["kind"]),
            obj["metadata"]["name"],
            "--ignore-not-found",
            "--wait=false",
        ]
        if obj["metadata"].get("namespace"):
            args += ["-n", obj["metadata"]["namespace"]]
        self.run(*args)


def _stderr(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if not line.startswith("WARNING: Kubernetes configuration file")]
    return " ".join(lines).strip()[:1000] or f"exit {proc.returncode}"
