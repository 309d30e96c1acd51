"""The real Pulumi engine as the engine tier and bench/ drive it: the CLI, our Python language host and the
Kubernetes provider built by tools/build-toolchain.sh, with a local file backend and a passphrase secrets provider
(tests/engine/conftest.py gives tests an `engine` and a `cluster`; bench/ builds its own)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

from tests.conftest import ROOT, TEST_SECRETS

CACHE = Path(os.environ.get("FATE_PULUMI_CACHE", Path.home() / ".cache" / "fate-pulumi"))
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "stacks", "components", "fate_pulumi", "policy")
# a kubeconfig for a cluster that is not there: the provider previews without one and renders without one
UNREACHABLE_KUBECONFIG = {
    "apiVersion": "v1", "kind": "Config", "current-context": "fate",
    "clusters": [{"name": "fate", "cluster": {"server": "https://127.0.0.1:1"}}],
    "users": [{"name": "fate", "user": {"token": "none"}}],
    "contexts": [{"name": "fate", "context": {"cluster": "fate", "user": "fate"}}],
}


def toolchain_env() -> dict[str, str]:
    env_file = CACHE / "env.sh"
    if not env_file.exists():
        raise RuntimeError(f"{env_file} is missing: run tools/build-toolchain.sh first")
    env = dict(os.environ)
    for line in env_file.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            env[key] = value.strip('"').replace("$PATH", os.environ.get("PATH", ""))
    return env


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


class Engine:
    """A copy of the project with its own file backend; stacks are created from plain config + secrets."""

    def __init__(self, root: Path):
        self.root = root
        self.project = root / "project"
        self.project.mkdir(parents=True)
        for name in PROJECT_FILES:
            src = ROOT / name
            (shutil.copytree if src.is_dir() else shutil.copy)(src, self.project / name)
        (self.project / ".venv").symlink_to(ROOT / ".venv")
        self.state = root / "state"
        self.state.mkdir()
        self.kubeconfig = root / "kubeconfig"
        self.kubeconfig.write_text(yaml.safe_dump(UNREACHABLE_KUBECONFIG))
        self.env = toolchain_env()
        self.env.update({
            # the file backend as the README has users log in: no sidecar `.attrs` files, whose non-atomic rewrite
            # a killed run can leave empty (gocloud.dev fileblob setAttrs; docs/faults.md)
            "PULUMI_BACKEND_URL": f"file://{self.state}?metadata=skip",
            "PULUMI_CONFIG_PASSPHRASE": "fate-engine-tests",
            "KUBECONFIG": str(self.kubeconfig),
        })

    def run(self, *args: str, cwd: Optional[Path] = None, timeout: int = 600) -> Result:
        proc = subprocess.run(["pulumi", *args, "--non-interactive"], cwd=cwd or self.project, env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def stack(self, name: str, values: dict[str, Any], secrets: dict[str, str], cwd: Optional[Path] = None) -> str:
        """Create stack `name` with `fate:*` values (plain) and secrets (encrypted with the passphrase)."""
        cwd = cwd or self.project
        res = self.run("stack", "init", name, "--secrets-provider", "passphrase", cwd=cwd)
        assert res.rc == 0, res.output
        stack_file = cwd / f"Pulumi.{name}.yaml"
        doc = yaml.safe_load(stack_file.read_text()) if stack_file.exists() else {}
        doc = doc or {}
        doc["config"] = {f"fate:{k}": v for k, v in values.items()}
        stack_file.write_text(yaml.safe_dump(doc))
        for key, value in secrets.items():
            res = self.run("config", "set", "--secret", f"fate:{key}", value, "--stack", name, cwd=cwd)
            assert res.rc == 0, res.output
        return name

    def set_values(self, name: str, values: dict[str, Any], cwd: Optional[Path] = None) -> None:
        """Replace plain `fate:*` values of an existing stack (secrets stay as they are)."""
        stack_file = (cwd or self.project) / f"Pulumi.{name}.yaml"
        doc = yaml.safe_load(stack_file.read_text())
        doc["config"].update({f"fate:{k}": v for k, v in values.items()})
        stack_file.write_text(yaml.safe_dump(doc))


# the stack a party references for its cluster (kubernetes.stackReference); a DIY backend names stacks
# organization/<project>/<stack>
CLUSTER_STACK = "organization/eks-cluster/prod"


def stack_file_values(path: Path) -> tuple[dict, dict]:
    """A stack file's plain values and its secrets (placeholders replaced by test passwords), its stack reference
    pointed at CLUSTER_STACK."""
    doc = yaml.safe_load(path.read_text())["config"]
    values, secrets = {}, {}
    for key, value in doc.items():
        name = key.split(":", 1)[1]
        if isinstance(value, dict) and "secure" in value:
            secrets[name] = TEST_SECRETS[name]
        else:
            values[name] = value
    kube = values.get("kubernetes", {})
    if "stackReference" in kube:
        kube["stackReference"]["stack"] = CLUSTER_STACK
    return values, secrets
