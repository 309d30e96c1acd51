"""OCI image archives from files, with the standard library only: what `ctr -n k8s.io images import` loads into the
real node's containerd, so that no registry is needed.

Reproducible: the same files give the same layer, config, manifest and archive bytes (every mtime is EPOCH, the
entries are sorted, owners are numeric, the layer is an uncompressed tar), hence the same image digest.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Optional

EPOCH = 0  # the mtime of every entry of every layer and archive
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"


@dataclass
class Entry:
    """One entry of a layer: a directory, a regular file (data) or a symbolic link (target)."""

    kind: str  # "dir" | "file" | "symlink"
    mode: int = 0o755
    uid: int = 0
    gid: int = 0
    data: bytes = b""
    target: str = ""


@dataclass
class Layer:
    """A root filesystem being assembled: absolute path -> entry. Parents are added as directories when missing."""

    entries: dict[str, Entry] = field(default_factory=dict)

    def _parents(self, path: str) -> None:
        for parent in reversed(PurePosixPath(path).parents):
            p = str(parent)
            if p != "/" and p not in self.entries:
                self.entries[p] = Entry("dir")

    def dir(self, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> None:
        self._parents(path)
        self.entries[path] = Entry("dir", mode, uid, gid)

    def file(self, path: str, data: bytes, mode: int = 0o644, uid: int = 0, gid: int = 0) -> None:
        self._parents(path)
        self.entries[path] = Entry("file", mode, uid, gid, data=data)

    def symlink(self, path: str, target: str) -> None:
        self._parents(path)
        self.entries[path] = Entry("symlink", 0o777, target=target)

    def tar(self) -> bytes:
        """The layer as an uncompressed tar, entries sorted by path components (a directory before its content)."""
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(self.entries, key=lambda p: PurePosixPath(p).parts):
                e = self.entries[path]
                info = tarfile.TarInfo(path.lstrip("/"))
                info.mtime, info.uid, info.gid, info.mode, info.uname, info.gname = EPOCH, e.uid, e.gid, e.mode, "", ""
                if e.kind == "dir":
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif e.kind == "symlink":
                    info.type, info.linkname = tarfile.SYMTYPE, e.target
                    tar.addfile(info)
                else:
                    info.size = len(e.data)
                    tar.addfile(info, io.BytesIO(e.data))
        return out.getvalue()


@dataclass(frozen=True)
class ImageConfig:
    """The runtime part of an OCI image config (what `docker inspect` shows as Config)."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
    user: str = ""
    workdir: str = ""
    ports: tuple[int, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()


def _blob(data: bytes) -> tuple[str, bytes]:
    return "sha256:" + hashlib.sha256(data).hexdigest(), data


def _json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def archive(name: str, layers: Iterable[bytes], config: ImageConfig, out: Path) -> str:
    """Write an OCI image layout archive for `name` (registry/repository:tag) to `out`; the manifest digest."""
    layers = list(layers)
    layer_blobs = [_blob(data) for data in layers]
    runtime: dict[str, Any] = {"Env": list(config.env)}
    if config.entrypoint:
        runtime["Entrypoint"] = list(config.entrypoint)
    if config.cmd:
        runtime["Cmd"] = list(config.cmd)
    if config.user:
        runtime["User"] = config.user
    if config.workdir:
        runtime["WorkingDir"] = config.workdir
    if config.ports:
        runtime["ExposedPorts"] = {f"{p}/tcp": {} for p in config.ports}
    if config.labels:
        runtime["Labels"] = dict(config.labels)
    config_blob = _blob(_json({
        "architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z", "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": [digest for digest, _ in layer_blobs]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "tests/node/oci.py"} for _ in layers],
    }))
    manifest = _blob(_json({
        "schemaVersion": 2, "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": config_blob[0], "size": len(config_blob[1])},
        "layers": [{"mediaType": LAYER_MEDIA_TYPE, "digest": d, "size": len(b)} for d, b in layer_blobs],
    }))
    tag = name.rsplit(":", 1)[1]
    index = _json({
        "schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE,
        "manifests": [{"mediaType": MANIFEST_MEDIA_TYPE, "digest": manifest[0], "size": len(manifest[1]),
                       "platform": {"architecture": "amd64", "os": "linux"},
                       # containerd's importer names the image after this annotation (images/archive/importer.go)
                       "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag}}],
    })
    files: dict[str, bytes] = {"oci-layout": _json({"imageLayoutVersion": "1.0.0"}), "index.json": index}
    for digest, data in [*layer_blobs, config_blob, manifest]:
        files[f"blobs/sha256/{digest.split(':', 1)[1]}"] = data
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for dirname in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(dirname)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, EPOCH
            tar.addfile(info)
        for path in sorted(files):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(files[path]), 0o644, EPOCH
            tar.addfile(info, io.BytesIO(files[path]))
    tmp.replace(out)
    return manifest[0]


def manifest_digest(path: Path) -> Optional[str]:
    """The manifest digest an archive written by `archive` holds (None when it is not one)."""
    try:
        with tarfile.open(path) as tar:
            member = tar.extractfile("index.json")
            if member is None:
                return None
            return json.loads(member.read())["manifests"][0]["digest"]
    except (OSError, tarfile.TarError, KeyError, ValueError):
        return None
