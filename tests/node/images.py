"""The real node's test images, built here from Debian packages: FATE's and Docker Hub's images cannot be pulled.

Each image is named as a rendered stack with `fate:registry: fate-local.test` names it (`Images.third_party`: the
key an air-gapped site uses for its own registry), so the rendered pods run them unchanged; `fate-local.test` is a
reserved test domain: nothing is ever pulled from it, and nothing here carries an official name. What each image
stands in for, and what differs from the official image, is in its `differs` line and in tests/node/README.md.

An image's files are the data of the Debian packages it names and their dependencies (`apt-get` resolves the
closure against an empty package database; `apt-get download` fetches them into the cache), laid out as a merged-/usr
Debian system (/bin, /sbin, /lib are links into /usr, as on bookworm), plus the few files a package's maintainer
scripts would have made (users, links of `update-alternatives`) and the image's own files (tests/node/files/). No
maintainer script runs, no chroot, no registry; the archive is reproducible (tests/node/oci.py).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import re
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from components.kube import BUSYBOX_IMAGE, MYSQL_IMAGE, REDIS_IMAGE, Images
from tests.node import oci

REGISTRY = "fate-local.test"
PAUSE = f"{REGISTRY}/pause:local"  # the node's sandbox image (containerd's sandbox_image)
CACHE = Path(os.environ.get("FATE_PULUMI_CACHE", Path.home() / ".cache" / "fate-pulumi"))
DEBS = CACHE / "debs"
ARCHIVES = CACHE / "images"
FILES = Path(__file__).resolve().parent / "files"
# bookworm's merged /usr: these top-level directories are links into /usr
MERGED = {"/bin": "/usr/bin", "/sbin": "/usr/sbin", "/lib": "/usr/lib", "/lib64": "/usr/lib64"}
# what an image built from Debian packages needs besides its packages' dependencies: the Essential packages a
# dependency never names (the shell, coreutils ...) that the images' start scripts use
BASE = ("base-files", "base-passwd", "bash", "dash", "coreutils", "sed", "grep", "findutils", "hostname", "procps")
NOT_INSTALLED = frozenset({"usrmerge"})  # converts an unmerged system; ours is merged from the start
# left out as the official images' debian:*-slim base leaves them out (its /etc/dpkg/dpkg.cfg.d/docker path-exclude
# lines): documentation but the licences, manual pages, translations
SLIM_EXCLUDE = ("/usr/share/doc/", "/usr/share/man/", "/usr/share/groff/", "/usr/share/info/", "/usr/share/lintian/",
                "/usr/share/linda/", "/usr/share/locale/")


def local_name(image: tuple[str, str]) -> str:
    """The name a stack with `fate:registry: fate-local.test` renders for a third-party image."""
    return Images(registry=REGISTRY, tag="").third_party(image)


@dataclass(frozen=True)
class Image:
    name: str
    stands_in_for: str
    differs: str
    packages: tuple[str, ...] = ()
    config: oci.ImageConfig = field(default_factory=oci.ImageConfig)
    users: tuple[tuple[str, int], ...] = ()  # (name, uid): a user and its group of the same id
    dirs: tuple[tuple[str, int, int], ...] = ()  # (path, mode, uid=gid)
    links: tuple[tuple[str, str], ...] = ()  # (path, target): what update-alternatives would have made
    files: tuple[tuple[str, str, int], ...] = ()  # (path in the image, file under tests/node/files, mode)
    extra: Optional[Callable[[oci.Layer], None]] = None  # files that come from elsewhere (the pause binary)


# ------------------------------------------------------------------------------------------------------ Debian


def _apt_env() -> dict[str, str]:
    return {**os.environ, "LC_ALL": "C"}


def closure(packages: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(name, version, architecture) of the packages and everything they depend on, as apt would install them on a
    system with nothing installed (Recommends left out, as in the official images' `--no-install-recommends`)."""
    empty = DEBS / "empty-status"
    DEBS.mkdir(parents=True, exist_ok=True)
    empty.touch()
    proc = subprocess.run(["apt-get", "-s", "-o", f"Dir::State::status={empty}", "install",
                           "--no-install-recommends", *packages], capture_output=True, text=True, env=_apt_env())
    if proc.returncode != 0:
        raise RuntimeError(f"apt-get cannot resolve {' '.join(packages)}: {proc.stderr.strip()[-600:]}")
    out = []
    for line in proc.stdout.splitlines():
        # Inst libgcc-s1 (12.2.0-14+deb12u1 Debian:12.15/oldstable [amd64]) []
        m = re.match(r"Inst (\S+) \((\S+) [^\[]*\[([a-z0-9]+)\]", line)
        if m and m[1] not in NOT_INSTALLED:
            out.append((m[1], m[2], m[3]))
    return sorted(out)


def deb_path(name: str, version: str, arch: str) -> Path:
    """Where `apt-get download` leaves a package (the epoch's colon URL-quoted)."""
    return DEBS / f"{name}_{version.replace(':', '%3a')}_{arch}.deb"


def download(pkgs: list[tuple[str, str, str]]) -> list[Path]:
    missing = [f"{n}={v}" for n, v, a in pkgs if not deb_path(n, v, a).exists()]
    if missing:
        proc = subprocess.run(["apt-get", "-o", "APT::Sandbox::User=root", "download", *missing], cwd=DEBS,
                              capture_output=True, text=True, env=_apt_env())
        if proc.returncode != 0:
            raise RuntimeError(f"apt-get download failed: {proc.stderr.strip()[-600:]}")
    return [deb_path(*p) for p in pkgs]


def deb_data(path: Path) -> tarfile.TarFile:
    """The data.tar of a .deb (an ar archive: debian-binary, control.tar.*, data.tar.*)."""
    raw = path.read_bytes()
    if not raw.startswith(b"!<arch>\n"):
        raise RuntimeError(f"{path}: not a .deb")
    pos = 8
    while pos + 60 <= len(raw):
        header = raw[pos:pos + 60]
        member = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        data = raw[pos + 60:pos + 60 + size]
        pos += 60 + size + (size % 2)
        if member.startswith("data.tar"):
            if member.endswith(".zst"):
                raise RuntimeError(f"{path}: zstd-compressed data (Python's tarfile reads xz, gzip, bzip2)")
            return tarfile.open(fileobj=io.BytesIO(data), mode="r:*")
    raise RuntimeError(f"{path}: no data.tar member")


def merged(path: str) -> str:
    for top, usr in MERGED.items():
        if path == top or path.startswith(top + "/"):
            return usr + path[len(top):]
    return path


def unpack(deb: Path, layer: oci.Layer) -> None:
    """A package's files into the layer, at their merged-/usr paths; hard links become copies."""
    with deb_data(deb) as tar:
        for m in tar:
            original = posixpath.normpath("/" + m.name.lstrip("./")) if m.name not in (".", "./") else "/"
            if original == "/":
                continue
            path = merged(original)
            if original in MERGED:  # the package's /bin directory itself: ours is a link into /usr
                continue
            if path.startswith(SLIM_EXCLUDE) and not (path.startswith("/usr/share/doc/") and
                                                      path.endswith("/copyright")):
                continue
            if m.isdir():
                if path not in layer.entries or layer.entries[path].kind != "dir":
                    layer.dir(path, m.mode, m.uid, m.gid)
            elif m.issym():
                target = m.linkname
                if path != original and not target.startswith("/"):  # moved: keep pointing at the same file
                    target = merged(posixpath.normpath(posixpath.join(posixpath.dirname(original), target)))
                layer.symlink(path, target)
            elif m.islnk():
                source = layer.entries[merged(posixpath.normpath("/" + m.linkname.lstrip("./")))]
                layer.file(path, source.data, source.mode, source.uid, source.gid)
            elif m.isfile():
                f = tar.extractfile(m)
                layer.file(path, f.read() if f else b"", m.mode, m.uid, m.gid)


# ------------------------------------------------------------------------------------------------------ images


def _users(layer: oci.Layer, users: tuple[tuple[str, int], ...]) -> None:
    """/etc/passwd and /etc/group: base-passwd's master files (what its postinst copies), then the image's users."""
    def master(name: str, fallback: str) -> str:
        entry = layer.entries.get(f"/usr/share/base-passwd/{name}.master")
        return entry.data.decode() if entry else fallback

    passwd = master("passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    group = master("group", "root:x:0:\nnogroup:x:65534:\n")
    for name, uid in users:
        passwd += f"{name}:x:{uid}:{uid}::/nonexistent:/usr/sbin/nologin\n"
        group += f"{name}:x:{uid}:\n"
    layer.file("/etc/passwd", passwd.encode())
    layer.file("/etc/group", group.encode())


def _busybox_links(layer: oci.Layer) -> None:
    """A link for every applet, where Debian's busybox puts it (`busybox --list-full`), as the busybox image has."""
    binary = layer.entries["/usr/bin/busybox"]
    tool = DEBS / "busybox-for-applet-list"
    tool.write_bytes(binary.data)
    tool.chmod(0o755)
    listed = subprocess.run([str(tool), "--list-full"], capture_output=True, text=True, check=True).stdout.split()
    tool.unlink()
    for applet in listed:
        path = merged("/" + applet)
        if path not in layer.entries:
            layer.symlink(path, "/usr/bin/busybox")


def _pause(layer: oci.Layer) -> None:
    binary = CACHE / "bin" / "pause"
    if not binary.exists():
        raise RuntimeError(f"{binary} is missing: run tools/build-toolchain.sh cluster")
    layer.file("/pause", binary.read_bytes(), 0o755)


IMAGES: dict[str, Image] = {i.name: i for i in (
    Image(PAUSE, "the pod sandbox image (registry.k8s.io/pause)",
          "tools/pause, our Go build of the same few lines (hold the namespaces, reap, exit on SIGTERM)",
          config=oci.ImageConfig(entrypoint=("/pause",), user="65535:65535"), extra=_pause),
    Image(local_name(BUSYBOX_IMAGE), f"busybox:{BUSYBOX_IMAGE[1]} (Docker Hub; init containers: wait-*, assemble-*)",
          "Debian's busybox 1.35 (dynamically linked: busybox-static's shell runs its own applets before any "
          "program on PATH) with every applet linked, but `nc` is netcat-openbsd's: Debian builds busybox without "
          "nc's netcat-1.10 options (-z), which the wait-* init containers use (`nc -z -w 2`)",
          packages=("busybox", "netcat-openbsd"), config=oci.ImageConfig(cmd=("sh",)),
          dirs=(("/tmp", 0o1777, 0),), links=(("/usr/bin/nc", "nc.openbsd"),), extra=_busybox_links),
    Image(local_name(MYSQL_IMAGE), f"mysql:{MYSQL_IMAGE[1]} (Docker Hub; the mysql module)",
          "MariaDB 10.11 from Debian (mariadb-server), not MySQL 8.0; its docker-entrypoint.sh is ours "
          "(tests/node/files/mysql-entrypoint.sh): the official script's MYSQL_* environment and "
          "/docker-entrypoint-initdb.d contract, on mariadb-install-db; no time zone tables; gosu from Debian",
          packages=(*BASE, "mariadb-server", "mariadb-client", "gosu"),
          config=oci.ImageConfig(entrypoint=("docker-entrypoint.sh",), cmd=("mysqld",), ports=(3306,)),
          users=(("mysql", 999),),
          dirs=(("/var/lib/mysql", 0o1777, 999), ("/run/mysqld", 0o1777, 999),
                ("/docker-entrypoint-initdb.d", 0o755, 0), ("/tmp", 0o1777, 0)),
          links=(("/etc/mysql/my.cnf", "mariadb.cnf"), ("/usr/bin/awk", "gawk")),
          files=(("/usr/local/bin/docker-entrypoint.sh", "mysql-entrypoint.sh", 0o755),
                 ("/etc/mysql/mariadb.conf.d/99-docker.cnf", "mysql-docker.cnf", 0o644))),
    Image(local_name(REDIS_IMAGE), f"redis:{REDIS_IMAGE[1]} (Docker Hub; FATE-Serving's serving-redis)",
          "Redis 7.0 from Debian (redis-server), not Redis 5; no docker-entrypoint.sh (the rendered pod runs "
          "`redis-server` itself, which bypasses it); WORKDIR /data as the official image",
          packages=(*BASE, "redis-server"),
          config=oci.ImageConfig(cmd=("redis-server",), workdir="/data", ports=(6379,)),
          users=(("redis", 999),), dirs=(("/data", 0o755, 999), ("/tmp", 0o1777, 0))),
)}


def _layer(image: Image) -> oci.Layer:
    layer = oci.Layer()
    for top, usr in MERGED.items():
        layer.dir(usr)
        layer.symlink(top, usr.lstrip("/"))
    if image.packages:
        for deb in download(closure(image.packages)):
            unpack(deb, layer)
    _users(layer, image.users)
    for path, mode, uid in image.dirs:
        layer.dir(path, mode, uid, uid)
    for path, target in image.links:
        layer.symlink(path, target)
    for path, source, mode in image.files:
        layer.file(path, (FILES / source).read_bytes(), mode)
    if image.extra:
        image.extra(layer)
    return layer


def _key(image: Image) -> str:
    """What the archive depends on: this builder, the image's definition and files, the package versions."""
    h = hashlib.sha256()
    for source in (Path(__file__), Path(oci.__file__)):
        h.update(source.read_bytes())
    h.update(repr((image.name, image.packages, image.config, image.users, image.dirs, image.links,
                   image.files)).encode())
    for _, name, _ in image.files:
        h.update((FILES / name).read_bytes())
    if image.packages:
        h.update(json.dumps(closure(image.packages)).encode())
    if image.extra is _pause:
        h.update((CACHE / "bin" / "pause").read_bytes())
    return h.hexdigest()


def build(image: Image) -> tuple[Path, str]:
    """The image's OCI archive (built unless the cache holds this very one) and its manifest digest."""
    repo, tag = image.name.split("/", 1)[1].rsplit(":", 1)
    out = ARCHIVES / f"{repo}_{tag}.tar"
    stamp = out.with_suffix(".key")
    key = _key(image)
    digest = oci.manifest_digest(out) if out.exists() and stamp.exists() and stamp.read_text() == key else None
    if digest is None:
        digest = oci.archive(image.name, [_layer(image).tar()], image.config, out)
        stamp.write_text(key)
    return out, digest


def readme_line(image: Image) -> str:
    """The image's line in tests/node/README.md."""
    return f"| `{image.name}` | {image.stands_in_for} | {image.differs} |"
