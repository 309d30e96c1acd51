"""`pip install .` into an empty virtualenv gives a `fate-pulumi` that works: the wheel carries the program's
packages (components, stacks) and the command (fate_pulumi) and nothing else of the repository as a top-level
package, declares what they import, and renders a stack file from outside the checkout.

Needs PyPI (or the pip cache) for the dependencies; in the engine tier because it installs for minutes, not seconds.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import yaml

from tests.conftest import ROOT


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=1200)


def _source_tree(dest: Path) -> Path:
    """The repository's files as git sees them (tracked, and new ones it does not ignore), copied: setuptools builds
    in the source tree (`build/`), which must not be the user's checkout — a stale build/lib there would also put
    modules the checkout no longer has into later wheels."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def test_pip_install_of_the_repository_gives_a_working_command(tmp_path):
    had_build = (ROOT / "build").exists()
    source = _source_tree(tmp_path / "source")
    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                 str(tmp_path / "dist"), str(source), cwd=tmp_path)
    assert built.returncode == 0, built.stderr[-2000:]
    [wheel] = (tmp_path / "dist").glob("fate_pulumi-*.whl")
    with zipfile.ZipFile(wheel) as whl:
        top = {name.split("/", 1)[0] for name in whl.namelist() if not name.split("/", 1)[0].endswith(".dist-info")}
    assert top == {"components", "stacks", "fate_pulumi"}, top
    assert (ROOT / "build").exists() == had_build, "the wheel was built in the checkout (build/ written there)"

    venv.create(tmp_path / "venv", with_pip=True)
    pip = tmp_path / "venv" / "bin" / "pip"
    installed = _run(str(pip), "install", "-q", "--disable-pip-version-check", str(wheel), cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr[-2000:]
    command = tmp_path / "venv" / "bin" / "fate-pulumi"

    version = _run(str(command), "--version", cwd=tmp_path)
    assert version.returncode == 0, version.stderr
    project_version = yaml.safe_load("x: " + (ROOT / "pyproject.toml").read_text().split('version = "', 1)[1]
                                     .split('"', 1)[0])["x"]
    assert version.stdout.startswith(f"fate-pulumi {project_version} (deploys FATE 1.11.2;"), version.stdout

    # from a directory with nothing of the checkout: the program comes from the installed packages
    work = tmp_path / "elsewhere"
    work.mkdir()
    shutil.copy(ROOT / "Pulumi.dev.yaml", work / "Pulumi.dev.yaml")
    rendered = _run(str(command), "render", "Pulumi.dev.yaml", "out", cwd=work)
    assert rendered.returncode == 0, rendered.stdout[-2000:] + rendered.stderr[-2000:]
    objects = list(yaml.safe_load_all((work / "out" / "manifests.yaml").read_text()))
    assert {"StatefulSet", "Deployment", "Service", "ConfigMap"} <= {o["kind"] for o in objects if o}
