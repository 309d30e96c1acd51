"""What every importer is built from, whatever the chart and the KubeFATE release: the imported config being
built (Result), the cluster file read section by section so that a key left unread is reported (Section), and the
mappings of the shapes KubeFATE's charts share (storage, scheduling, Service, party lists, route tables)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from components import registry

SCHEDULING = ("nodeSelector", "tolerations", "affinity")


class ClusterFileRefused(Exception):
    """The cluster file has keys or values fate-pulumi refuses: every one of them, in the cluster file's words."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("cannot import:\n" + "\n".join(f"  {p}" for p in problems))


@dataclass
class Result:
    config: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    secrets: list[tuple[str, str]] = field(default_factory=list)  # (fate key, cluster.yaml key holding the value)
    problems: list[str] = field(default_factory=list)
    kind: str = "party"
    # imported key (rollsite.service.nodePorts.rollsite) -> the cluster file's key it came from (rollsite.nodePort)
    origins: dict[str, str] = field(default_factory=dict)

    def set(self, path: str, value: Any) -> None:
        """Set `fate:<a>.<b>...`, creating sections."""
        if value is None:
            return
        parts = path.split(".")
        node = self.config.setdefault(parts[0], {}) if len(parts) > 1 else self.config
        for part in parts[1:-1]:
            node = node.setdefault(part, {})
        node[parts[-1] if len(parts) > 1 else parts[0]] = value

    def get(self, path: str) -> Any:
        node: Any = self.config
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def came_from(self, path: str, source: str) -> None:
        self.origins[path] = source

    def in_their_words(self, key: str, message: str) -> str:
        """A problem of the imported config (`fate:<path>`, message) under the cluster file's keys it came from, so
        that it names what the user wrote; keys with no recorded origin stay as they are."""
        import re

        path = re.sub(r"\[(\d+)\]", r".\1", key.removeprefix("fate:"))
        for ours in sorted(self.origins, key=len, reverse=True):  # longest first: ...nodePorts.grpc before ...grpc
            message = re.sub(rf"(?<![\w.:])(fate:)?{re.escape(ours)}(?![\w.])", self.origins[ours], message)
        return f"{self.origins.get(path, key)}: {message}"

    def secret(self, fate_key: str, source_key: str, value: Any) -> None:
        if value not in (None, ""):
            self.secrets.append((fate_key, source_key))


class Section:
    """A part of the cluster file; keys are consumed as they are mapped, leftovers are reported."""

    def __init__(self, data: Any, path: str, result: Result):
        self.data = copy.deepcopy(data) if isinstance(data, dict) else {}
        self.path = path
        self.result = result
        self.present = isinstance(data, dict)

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def take(self, name: str) -> Any:
        value = self.data.pop(name, None)
        return None if value == "" else value

    def has(self, name: str) -> bool:
        return self.data.get(name) not in (None, "")

    def sub(self, name: str) -> Section:
        value = self.data.pop(name, None)
        if value not in (None, "") and not isinstance(value, dict):  # read as absent, it would be dropped unsaid
            self.result.problems.append(f"{self.key(name)}: expects a mapping of {name}'s settings (`{name}: "
                                        f"{{key: value, ...}}`), not {value!r}")
        sec = Section(value, self.key(name), self.result)
        self._children.append(sec)
        return sec

    @property
    def _children(self) -> list[Section]:
        if not hasattr(self, "_kids"):
            self._kids: list[Section] = []
        return self._kids

    def leftovers(self) -> list[str]:
        out = [self.key(k) for k, v in self.data.items()]
        for child in self._children:
            out += child.leftovers()
        return out


def whole_number(value: Any, key: str = "a value") -> Optional[int]:
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())):
        raise ClusterFileRefused([f"{key}: {value!r} is not a whole number; KubeFATE would fail to render it"])
    return int(value)


def address(src: Section) -> dict[str, Any]:
    """A KubeFATE address section (ip, port) as a route's host and port."""
    return {"host": str(src.take("ip")), "port": whole_number(src.take("port"), src.key("port"))}


def storage(
    src: Section, dst: str, res: Result, section_name: str, present_default_class: Optional[str] = None
) -> None:
    storage = {}
    for ours, theirs in (("existingClaim", "existingClaim"), ("accessMode", "accessMode"), ("size", "size"),
                         ("subPath", "subPath")):
        value = src.take(theirs)
        if value is not None:
            storage[ours] = str(value)
            res.came_from(f"{dst}.storage.{ours}", src.key(theirs))
    cls = src.take("storageClass")
    if cls not in (None, "", "-"):
        storage["storageClass"] = str(cls)
        res.came_from(f"{dst}.storage.storageClass", src.key("storageClass"))
    elif cls is None and src.present and present_default_class:
        res.notes.append(f"{src.key('storageClass')} is not set: KubeFATE would request a StorageClass named "
                         f"'{present_default_class}' (named after the section); fate-pulumi uses the cluster's default "
                         f"class. Set {dst}.storage.storageClass if you relied on it.")
    if storage:
        res.set(f"{dst}.storage", storage)


def scheduling(src: Section, dst: str, res: Result, resources: bool = True) -> None:
    for key in SCHEDULING:
        value = src.take(key)
        if value:
            res.set(f"{dst}.{key}", value)
            res.came_from(f"{dst}.{key}", src.key(key))
    if resources:
        value = src.take("resources")
        if value:
            res.set(f"{dst}.resources", value)
            res.came_from(f"{dst}.resources", src.key("resources"))


def service(src: Section, dst: str, res: Result, ports: dict[str, str], type_default: Optional[str] = None) -> None:
    """type / loadBalancerIP / NodePort keys -> service; `ports` maps KubeFATE's key to our port name."""
    svc_type = src.take("type") or type_default
    svc: dict[str, Any] = {}
    if svc_type:
        svc["type"] = svc_type
        res.came_from(f"{dst}.service.type", src.key("type"))
    node_ports = {}
    for theirs, ours in ports.items():
        value = whole_number(src.take(theirs), src.key(theirs))
        if value is None:
            continue
        if svc_type in ("NodePort", "LoadBalancer"):
            node_ports[ours] = value
            res.came_from(f"{dst}.service.nodePorts.{ours}", src.key(theirs))
        else:
            res.notes.append(f"{src.key(theirs)}={value} ignored: KubeFATE renders a NodePort only for type NodePort "
                             f"or LoadBalancer (type is {svc_type or 'ClusterIP'})")
    if node_ports:
        svc["nodePorts"] = node_ports
    lb = src.take("loadBalancerIP")
    if lb:
        svc["loadBalancerIP"] = str(lb)
        res.came_from(f"{dst}.service.loadBalancerIP", src.key("loadBalancerIP"))
    if svc:
        res.set(f"{dst}.service", svc)


def party_routes(items: Any, key: str, res: Result, own: int, dst: str, id_key: str = "partyId") -> list[dict]:
    """KubeFATE's partyList entries as the peers of `dst` (the party itself dropped)."""
    routes: list[dict] = []
    for i, item in enumerate(items or []):
        if not isinstance(item, dict):
            res.problems.append(f"{key}[{i}]: expected {{partyId, partyIp, partyPort}}")
            continue
        pid = whole_number(item.get(id_key), f"{key}[{i}].{id_key}")
        if pid == own:
            res.notes.append(
                f"{key}[{i}] lists this party itself ({own}): dropped, fate-pulumi generates the own route"
            )
            continue
        extra = set(item) - {id_key, "partyIp", "partyPort"}
        for k in sorted(extra):
            res.problems.append(f"{key}[{i}].{k}: not a KubeFATE option")
        for ours, theirs in (("partyId", id_key), ("host", "partyIp"), ("port", "partyPort")):
            res.came_from(f"{dst}.{len(routes)}.{ours}", f"{key}[{i}].{theirs}")
        routes.append(
            {
                "partyId": pid,
                "host": str(item.get("partyIp")),
                "port": whole_number(item.get("partyPort"), f"{key}[{i}].partyPort"),
            }
        )
    return routes


def route_table(table: Any, key: str, res: Result, own: int, convert: Callable[[Any], Any],
                own_default: Optional[dict] = None) -> dict:
    out = {}
    for pid, route in (table or {}).items():
        pid = int(pid)
        if pid == own:
            if (
                own_default is not None
                and route != own_default
                and {k: v for k, v in (route or {}).items() if v != ""} != own_default
            ):
                res.notes.append(f"{key}.{pid}: the own route {route} is replaced by the generated {own_default}")
            continue
        out[pid] = convert(route)
    return out


def camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p.capitalize() for p in rest)


def import_modules_by_registry(src: Section, res: Result) -> None:
    """The sections of the modules whose registry entry says how KubeFATE's section of them imports
    (components/routing.py KubefateSection): the Service, scheduling, a party list, plain settings."""
    own = res.config["partyId"]
    for m in registry.MODULES:
        if m.kubefate is None or res.kind not in m.kinds:
            continue
        sec = src.sub(m.name)
        if not sec.present:
            continue
        service(sec, m.name, res, dict(m.kubefate.node_ports))
        scheduling(sec, m.name, res)
        if m.kubefate.party_list:
            dst = f"{m.name}.{m.kubefate.party_list}"
            peers = party_routes(sec.take("partyList"), sec.key("partyList"), res, own, dst)
            if peers:
                res.set(dst, peers)
        for theirs, ours in m.kubefate.keys.items():
            value = sec.take(theirs)
            if value is not None:
                res.set(f"{m.name}.{ours}", value)
                res.came_from(f"{m.name}.{ours}", sec.key(theirs))
