"""Run a rendered pod's start commands the way the kubelet would lay them out, without a container runtime.

Each container runs in its own bubblewrap mount namespace: an empty root with the host's programs (sh, cat, sed ...)
read-only, the image's directories (empty, writable, plus the few image files a start command edits), and every
volume at its mountPath — ConfigMaps and Secrets read-only with their real values, emptyDirs and claims shared by the
containers of the pod, subPath mounts as the kubelet makes them. Init containers run first, in order. The program a
command finally starts (java, python, openresty ...) is replaced by a stub that records how it was called; after the
command ends, the directories the contract names are copied out, so a test reads the files exactly where the
program would have opened them.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from tests.contract.contract import POD_IP, Image

STUB = """#!/bin/sh
# contract stub: records how the program was started, then ends as if it had run
{ printf '%s\\n' "$0"; pwd; env -0 | od -An -tx1 | tr -d ' \\n'; printf '\\n'
  for a in "$@"; do printf '%s' "$a" | od -An -tx1 | tr -d ' \\n'; printf '\\n'; done; } \\
  > "/contract-out/calls/$(date +%s%N)-$$"
exit 0
"""
# runs the container's command as a child, then copies out what the contract reads (the program's view of it)
WRAPPER = """#!/bin/sh
"$@"
rc=$?
echo "$rc" > /contract-out/rc
for root in $CONTRACT_CAPTURE; do
  [ -e "$root" ] && tar -C / -chf "/contract-out/capture/$(echo "$root" | tr / _).tar" "${root#/}" 2>/dev/null
done
for f in $CONTRACT_WRITABLE; do
  if [ -w "$f" ]; then echo "$f" >> /contract-out/writable; fi
done
exit 0
"""
HOST_DIRS = ("/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64", "/usr/libexec", "/usr/share")
HOST_ETC = ("passwd", "group", "hosts", "nsswitch.conf", "ld.so.cache", "localtime", "alternatives")


def available() -> Optional[str]:
    """Why the sandbox cannot run here, or None."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed (Debian: apt-get install bubblewrap)"
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"bwrap cannot create a namespace here: {probe.stderr.strip()}"
    return None


@dataclass
class Call:
    program: str
    cwd: str
    env: dict[str, str]  # the environment the program was started with
    argv: list[str]


@dataclass
class ContainerRun:
    name: str
    rc: int
    calls: list[Call]
    files: dict[str, bytes] = field(default_factory=dict)  # absolute path -> content, as the container saw it
    writable: set[str] = field(default_factory=set)
    env: dict[str, str] = field(default_factory=dict)
    stderr: str = ""

    def read(self, path: str, cwd: Optional[str] = None) -> bytes:
        """A captured file, by absolute path or relative to `cwd` (the program's working directory)."""
        full = os.path.normpath(path if path.startswith("/") else os.path.join(cwd or "/", path))
        if full not in self.files:
            near = sorted(p for p in self.files if p.startswith(os.path.dirname(full)))[:8]
            raise FileNotFoundError(f"{self.name}: {full} does not exist where the program looks (next to it: {near})")
        return self.files[full]

    def exists(self, path: str, cwd: Optional[str] = None) -> bool:
        try:
            self.read(path, cwd)
            return True
        except FileNotFoundError:
            return False

    @property
    def call(self) -> Call:
        """The program the command finally started (the last stub called)."""
        if not self.calls:
            raise AssertionError(
                f"{self.name}: the start command never reached its program (exit {self.rc}): {self.stderr}"
            )
        return self.calls[-1]


def _env_value(entry: dict, objects: dict[tuple[str, str], dict], pod_name: str) -> Optional[str]:
    if "value" in entry:
        return str(entry["value"])
    ref = entry["valueFrom"]
    if "secretKeyRef" in ref:
        s = ref["secretKeyRef"]
        return _data(objects[("Secret", s["name"])])[s["key"]]
    if "configMapKeyRef" in ref:
        c = ref["configMapKeyRef"]
        return _data(objects[("ConfigMap", c["name"])])[c["key"]]
    field_path = ref["fieldRef"]["fieldPath"]
    return {"status.podIP": POD_IP, "metadata.name": pod_name}[field_path]


def _data(obj: dict) -> dict[str, str]:
    return {**obj.get("data", {}), **obj.get("stringData", {})}


_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def expand(text: str, env: dict[str, str]) -> str:
    """The kubelet's $(VAR) expansion of command and args ($$ escapes; unknown references stay as written)."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        m = _VAR.match(text, i)
        if m and m.group(1) in env:
            out.append(env[m.group(1)])
            i = m.end()
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def _etc(work: Path, hosts: Optional[dict[str, str]]) -> list[str]:
    """bwrap arguments for the host's /etc files a start command needs; /etc/hosts from `hosts` when given (the
    sandbox has no resolv.conf: beyond those names, only a DNS server on loopback could answer, as glibc's default)."""
    args = []
    for name in HOST_ETC:
        if Path("/etc", name).exists() and not (name == "hosts" and hosts is not None):
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    if hosts is not None:
        (work / "hosts").write_text("127.0.0.1 localhost\n" + "".join(f"{ip} {n}\n" for n, ip in hosts.items()))
        args += ["--ro-bind", str(work / "hosts"), "/etc/hosts"]
    return args


class Pod:
    """One workload's pod template, with the rendered objects its volumes and env refer to."""

    def __init__(self, workload: dict, objects: dict[tuple[str, str], dict], root: Path):
        self.workload = workload
        self.objects = objects
        self.spec = workload["spec"]["template"]["spec"]
        suffix = "-0" if workload["kind"] == "StatefulSet" else "-5d4f8b7c9-x2x7q"
        self.pod_name = workload["metadata"]["name"] + suffix
        self.root = root
        self.volumes = {v["name"]: v for v in self.spec.get("volumes", [])}
        for claim in workload["spec"].get("volumeClaimTemplates", []):
            self.volumes[claim["metadata"]["name"]] = {"name": claim["metadata"]["name"], "persistentVolumeClaim": {}}
        self._shared: dict[str, Path] = {}  # emptyDir and claims: one host directory for the whole pod
        self._copies = 0  # ConfigMap and Secret volumes: a fresh read-only copy per mount

    # ---------------------------------------------------------------- volumes

    def _volume_dir(self, name: str) -> tuple[Path, bool]:
        """The host directory holding volume `name`, and whether it is read-only."""
        vol = self.volumes[name]
        if "emptyDir" in vol or "persistentVolumeClaim" in vol:
            if name not in self._shared:
                self._shared[name] = self.root / "volumes" / name
                self._shared[name].mkdir(parents=True)
            return self._shared[name], False
        kind = "configMap" if "configMap" in vol else "secret"
        ref = vol[kind]
        # a Secret the stack does not create (certificates a user provides) is mounted empty here
        obj = self.objects.get(
            ("ConfigMap" if kind == "configMap" else "Secret", ref.get("name") or ref["secretName"]), {}
        )
        data = _data(obj)
        items = ref.get("items") or [{"key": k, "path": k} for k in data]
        self._copies += 1
        target = self.root / "volumes" / f"{name}-{self._copies}"
        target.mkdir(parents=True)
        for item in items:
            path = target / item["path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(data[item["key"]])
        return target, True

    # ---------------------------------------------------------------- containers

    def run(
        self, container: dict, image: Image, program: list[str], capture: list[str], writable: list[str],
        hosts: Optional[dict[str, str]] = None,
    ) -> ContainerRun:
        """`hosts`: the names the pod's DNS answers (name -> IPv4 address), as its /etc/hosts; None: the host's."""
        work = self.root / "run" / container["name"]
        (work / "out" / "calls").mkdir(parents=True)
        (work / "out" / "capture").mkdir()
        image_root = work / "image"
        for directory in image.dirs:
            (image_root / directory.lstrip("/")).mkdir(parents=True, exist_ok=True)
        for path, text in image.files.items():
            target = image_root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        stub = work / "stub"
        stub.write_text(STUB)
        stub.chmod(0o755)
        stubs = work / "stubs"
        stubs.mkdir()
        for prog in program:
            if prog.startswith("/"):
                target = image_root / prog.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(stub, target)
            elif "/" in prog:  # relative to the working directory
                target = image_root / image.workdir.lstrip("/") / prog
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(stub, target)
            else:
                shutil.copy(stub, stubs / prog)
        wrapper = work / "wrapper"
        wrapper.write_text(WRAPPER)
        wrapper.chmod(0o755)

        args = ["bwrap", "--die-with-parent", "--unshare-pid", "--unshare-uts", "--hostname", self.pod_name,
                "--tmpfs", "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
                "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin", "--symlink", "usr/lib", "/lib",
                "--symlink", "usr/lib64", "/lib64"]
        for d in HOST_DIRS:
            if Path(d).exists():
                args += ["--ro-bind", d, d]
        args += _etc(work, hosts)
        for top in sorted({Path(p).parts[1] for p in (*image.dirs, *image.files, *program) if p.startswith("/")}):
            args += ["--bind", str(image_root / top), f"/{top}"]
        args += ["--ro-bind", str(stubs), "/contract/stubs", "--ro-bind", str(wrapper), "/contract/run",
                 "--bind", str(work / "out"), "/contract-out"]
        for mount in container.get("volumeMounts", []):
            host, read_only = self._volume_dir(mount["name"])
            if mount.get("subPath"):
                host = host / mount["subPath"]
                if not host.exists():  # the kubelet creates a missing subPath directory
                    host.mkdir(parents=True)
            read_only = read_only or mount.get("readOnly", False)
            args += ["--ro-bind" if read_only else "--bind", str(host), mount["mountPath"].rstrip("/") or "/"]

        env = {"PATH": "/contract/stubs:/usr/local/bin:/usr/bin:/bin", "HOME": "/root", "HOSTNAME": self.pod_name,
               **image.env}
        for src in container.get("envFrom", []):
            env.update(_data(self.objects[("ConfigMap", src["configMapRef"]["name"])]))
        for entry in container.get("env", []):
            value = _env_value(entry, self.objects, self.pod_name)
            if value is not None:
                env[entry["name"]] = expand(value, env)
        command = container.get("command") or image.entrypoint
        cmd_args = container.get("args") if "args" in container else (image.cmd if not container.get("command") else [])
        argv = [expand(a, env) for a in [*command, *(cmd_args or [])]]
        if not argv:
            raise AssertionError(f"{container['name']}: no command and no image command in the contract")
        run_env = {**env, "CONTRACT_CAPTURE": " ".join(capture), "CONTRACT_WRITABLE": " ".join(writable)}
        cwd = container.get("workingDir") or image.workdir
        args += ["--chdir", cwd, "--clearenv"]
        for k, v in run_env.items():
            args += ["--setenv", k, v]
        proc = subprocess.run(args + ["/contract/run", *argv], capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise AssertionError(
                f"{container['name']}: the sandbox did not start: {proc.stderr.strip()}\n{shlex.join(args)}"
            )
        out = work / "out"
        run = ContainerRun(container["name"], int((out / "rc").read_text() or 1), [], env=env, stderr=proc.stderr)
        for path in sorted((out / "calls").iterdir()):
            lines = path.read_text().splitlines()
            env = dict(v.split("=", 1) for v in bytes.fromhex(lines[2]).decode().split("\0") if "=" in v)
            run.calls.append(Call(lines[0], lines[1], env, [bytes.fromhex(x).decode() for x in lines[3:]]))
        for tar in (out / "capture").glob("*.tar"):
            with tarfile.open(tar) as t:
                for member in t.getmembers():
                    content = t.extractfile(member) if member.isfile() else None
                    if content is not None:
                        run.files["/" + member.name] = content.read()
        if (out / "writable").exists():
            run.writable = set((out / "writable").read_text().split())
        return run


