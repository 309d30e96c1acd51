"""Import a KubeFATE v1.11.2 cluster.yaml (chart fate, fate-exchange or fate-serving) as a fate-pulumi stack file.

    fate-pulumi import cluster.yaml -o Pulumi.party-9999.yaml

Every key KubeFATE reads is mapped, or refused with a message naming it; none is dropped silently. Where KubeFATE
behaves differently from what the file says (defaults that depend on whether a section exists, leaked example
addresses, options its templates never use) the output carries a note. Passwords are never copied into the stack
file: the importer lists the `pulumi config set --secret` commands to run instead.
Exit status: 0 imported, 2 the file has keys or values fate-pulumi refuses (each listed on stderr).
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from components import registry
from stacks.clouds import INGRESS_CONTROLLERS

CHARTS = {"fate": ("party", "v1.11.2"), "fate-exchange": ("exchange", "v1.11.2"), "fate-serving": ("serving", "v2.1.6")}
ENGINES_TO_BACKEND = {v: k for k, v in {
    "eggroll": ("Eggroll", "Eggroll", "Eggroll"), "spark_rabbitmq": ("Spark", "RabbitMQ", "HDFS"),
    "spark_pulsar": ("Spark", "Pulsar", "HDFS"), "spark_local_pulsar": ("Spark_local", "Pulsar", "LocalFS")}.items()}
SCHEDULING = ("nodeSelector", "tolerations", "affinity")
# KubeFATE's example addresses that leak into configs when a section is left out (reference section 0)
LEAKS = {
    "nginx.exchange": "KubeFATE would send unknown parties to its example exchange 192.168.10.1:30003/30008 "
                      "(values.yaml leak); fate-pulumi sets no default route",
    "servingProxy.exchange": "KubeFATE would send unknown parties to its example serving exchange 192.168.0.1:30100 "
                             "(values.yaml leak); fate-pulumi routes them locally",
    "serving.zookeeper": "KubeFATE writes the ZooKeeper host of party 9999 (serving-zookeeper.fate-serving-9999:2181) "
                         "whatever the party; fate-pulumi writes none",
}


class ImportError_(Exception):
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


def _int(value: Any, key: str = "a value") -> Optional[int]:
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())):
        raise ImportError_([f"{key}: {value!r} is not a whole number; KubeFATE would fail to render it"])
    return int(value)


def _storage(
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


def _scheduling(src: Section, dst: str, res: Result, resources: bool = True) -> None:
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


def _service(src: Section, dst: str, res: Result, ports: dict[str, str], type_default: Optional[str] = None) -> None:
    """type / loadBalancerIP / NodePort keys -> service; `ports` maps KubeFATE's key to our port name."""
    svc_type = src.take("type") or type_default
    svc: dict[str, Any] = {}
    if svc_type:
        svc["type"] = svc_type
        res.came_from(f"{dst}.service.type", src.key("type"))
    node_ports = {}
    for theirs, ours in ports.items():
        value = _int(src.take(theirs), src.key(theirs))
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


def _party_routes(items: Any, key: str, res: Result, own: int, dst: str, id_key: str = "partyId") -> list[dict]:
    """KubeFATE's partyList entries as the peers of `dst` (the party itself dropped)."""
    routes: list[dict] = []
    for i, item in enumerate(items or []):
        if not isinstance(item, dict):
            res.problems.append(f"{key}[{i}]: expected {{partyId, partyIp, partyPort}}")
            continue
        pid = _int(item.get(id_key), f"{key}[{i}].{id_key}")
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
                "port": _int(item.get("partyPort"), f"{key}[{i}].partyPort"),
            }
        )
    return routes


def _route_table(table: Any, key: str, res: Result, own: int, convert: Callable[[Any], Any],
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


def _hops(items: Any) -> list[dict]:
    return [
        {"host": str(h["host"]).strip(), "httpPort": int(h["http_port"]), "grpcPort": int(h["grpc_port"])}
        for h in items or []
    ]


# ----------------------------------------------------------------------------------------------------------------


def _top(src: Section, res: Result) -> None:
    chart = src.take("chartName")
    version = src.take("chartVersion")
    if chart not in CHARTS:
        res.problems.append(f"chartName: {chart!r} is not one of {', '.join(CHARTS)}" if chart is not None else
                            f"chartName: required — a KubeFATE cluster file names its chart: {', '.join(CHARTS)}")
        raise ImportError_(res.problems)
    res.kind, want = CHARTS[chart]
    if str(version) != want:
        res.problems.append(f"chartVersion: {version!r}; this importer reads {chart} {want} files")
    if res.kind != "party":
        res.set("kind", res.kind)
    party_id = _int(src.take("partyId"), src.key("partyId"))
    if party_id is None:
        res.problems.append("partyId: required")
        raise ImportError_(res.problems)
    res.set("partyId", party_id)
    name = src.take("name")
    namespace = src.take("namespace")
    if name:
        res.set("name", str(name))
    if namespace and namespace != name:
        res.set("namespace", str(namespace))
    res.set("createNamespace", False)  # KubeFATE needs the namespace to exist already
    registry = src.take("registry")
    if registry:
        res.set("registry", str(registry))
    pull = src.take("pullPolicy")
    if pull:
        res.set("pullPolicy", pull)
    secrets = src.take("imagePullSecrets")
    if secrets:
        res.set("imagePullSecrets", [s["name"] if isinstance(s, dict) else str(s) for s in secrets])
    persistence = src.take("persistence")
    res.set("persistence", {"enabled": bool(persistence)})  # KubeFATE default off, fate-pulumi default on
    istio = src.sub("istio")
    if istio.take("enabled"):
        if res.kind == "exchange":
            res.notes.append("istio.enabled: ignored by the fate-exchange chart")
        else:
            res.set("istio", {"enabled": True})
    psp = src.sub("podSecurityPolicy")
    if psp.take("enabled"):
        # KubeFATE's PSP forbade privileged pods; the Pod Security level closest to it that still admits the
        # party's capabilities is chosen once the modules are known (_pod_security)
        res.set("podSecurity", {"admission": "baseline"})
    elif psp.present:
        res.notes.append("podSecurityPolicy.enabled=false: nothing to create (PodSecurityPolicy no longer exists)")
    skipped = src.take("skippedKeys")
    if skipped:
        res.notes.append(f"skippedKeys {skipped}: only for KubeFATE's CLI validation; fate-pulumi validates every key")
    ingress_class = src.take("ingressClassName")
    if ingress_class:
        res.set("ingress.className", ingress_class)
        if ingress_class not in INGRESS_CONTROLLERS:
            res.notes.append(
                f"ingressClassName {ingress_class!r}: the UIs' NetworkPolicies must admit its controller; set "
                "networkPolicy.ingressNamespaces (its namespace) or networkPolicy.ingressSources (CIDRs)"
            )


def _ingress(src: Section, res: Result, names: tuple[str, ...], modules: list[str]) -> None:
    ing = src.sub("ingress")
    for name in names:
        route = ing.sub(name)
        if not route.present:
            continue
        if name not in modules:
            for key in list(route.data):
                route.take(key)
            res.notes.append(
                f"ingress.{name}: module {name} is not deployed, so KubeFATE creates no Ingress; not imported"
            )
            continue
        out: dict[str, Any] = {}
        hosts = route.take("hosts")
        if hosts:
            out["hosts"] = [{"name": h["name"], **({"path": h["path"]} if h.get("path") else {})} for h in hosts]
        tls = route.take("tls")
        if tls:
            out["tls"] = [
                {"secretName": t["secretName"], **({"hosts": t["hosts"]} if t.get("hosts") else {})} for t in tls
            ]
        annotations = route.take("annotations")
        if annotations:
            out["annotations"] = annotations
        if out:
            res.set(f"ingress.{name}", out)


def _import_party(src: Section, res: Result) -> None:
    own = res.config["partyId"]
    _import_engines(src, res)
    modules, lb = _import_modules(src, res)
    _import_external_mysql(src, res, modules)
    _import_serving_link(src, res)
    _import_rollsite(src, res, modules, own, lb)
    _import_eggroll(src, res, modules)
    _import_mysql(src, res, modules)
    _import_python(src.sub("python"), res, modules)
    _import_uis(src, res)
    _import_spark(src, res)
    _import_hdfs(src, res)
    _import_nginx(src.sub("nginx"), res, modules, own)
    _import_rabbitmq(src, res, own)
    _import_pulsar(src, res, own)
    res.set("modules", modules)


def _import_engines(src: Section, res: Result) -> None:
    """computing/federation/storage -> backend; algorithm and device."""
    engines = tuple(src.take(k) for k in ("computing", "federation", "storage"))
    if None in engines:
        res.problems.append("computing, federation, storage: all three are needed (KubeFATE renders broken engines "
                            "and plain images without them)")
    elif engines not in ENGINES_TO_BACKEND:
        res.problems.append(f"computing/federation/storage {'/'.join(engines)}: fate-pulumi supports "
                            + ", ".join("/".join(e) for e in ENGINES_TO_BACKEND))
    else:
        res.set("backend", ENGINES_TO_BACKEND[engines])
    algorithm, device = src.take("algorithm"), src.take("device")
    if algorithm and algorithm != "Basic":
        res.set("algorithm", algorithm)
    if device and device != "CPU":
        res.set("device", device)
    if device is None:
        res.notes.append("device is not set: KubeFATE then uses plain images (no -ipcl despite its values.yaml); "
                         "fate-pulumi's default CPU does the same")


def _import_modules(src: Section, res: Result) -> tuple[list[str], bool]:
    """The module list (lbrollsite is rollsite with a balancer) and whether lbrollsite was chosen."""
    modules = list(src.take("modules") or [])
    lb = "lbrollsite" in modules
    if lb and "rollsite" in modules:
        res.problems.append(
            "modules: lists both rollsite and lbrollsite; KubeFATE renders two Deployments named rollsite "
            "and the install fails. Keep lbrollsite (load-balanced exchanges) or rollsite"
        )
    modules = list(dict.fromkeys("rollsite" if m == "lbrollsite" else m for m in modules))
    res.set("modules", modules)
    _ingress(src, res, tuple(m.name for m in registry.MODULES if m.ui and "party" in m.kinds), modules)
    return modules, lb



def _import_external_mysql(src: Section, res: Result, modules: list[str]) -> None:
    ext = {k: src.take(f"externalMysql{k}") for k in ("Ip", "Port", "Database", "User", "Password")}
    for key, field_name in (("Database", "database"), ("User", "user")):
        if ext[key]:
            res.set(f"mysql.{field_name}", str(ext[key]))
    if ext["Ip"]:
        res.set("mysql.external", {"host": str(ext["Ip"]), **({"port": _int(ext["Port"])} if ext["Port"] else {})})
        if "mysql" in modules:
            modules.remove("mysql")
            res.notes.append(
                "externalMysqlIp is set: the mysql module is not deployed (KubeFATE deployed it anyway, unused)"
            )
    res.secret("mysqlPassword", "externalMysqlPassword", ext["Password"])



def _import_serving_link(src: Section, res: Result) -> None:
    """Where the party's FATE Flow publishes models: serving-server, the FATE-Serving ZooKeeper."""
    serving_ip, serving_port = src.take("servingIp"), _int(src.take("servingPort"), src.key("servingPort"))
    if serving_ip and serving_port:
        res.set("serving.host", str(serving_ip))
        res.set("serving.port", serving_port)
        res.notes.append(f"servingIp/servingPort: serving-server of FATE-Serving, a deployment of its own: import its "
                         f"cluster file (chart fate-serving) too, or name it to fate-pulumi preflight with --external "
                         f"{serving_ip}:{serving_port}")
    serving = src.sub("serving")
    if serving.take("useRegistry"):
        res.set("serving.useRegistry", True)
    zk = serving.sub("zookeeper")
    if zk.present:
        hosts = zk.take("hosts")
        if hosts:
            res.set("serving.zookeeper", {"hosts": hosts, **({"useAcl": True} if zk.take("use_acl") else {}),
                                          **({"user": zk.take("user")} if zk.has("user") else {})})
        res.secret("zookeeperPassword", "serving.zookeeper.password", zk.take("password"))
        zk.take("use_acl"), zk.take("user")
    elif res.get("serving.useRegistry"):
        res.problems.append(f"serving.zookeeper: {LEAKS['serving.zookeeper']}; set serving.zookeeper.hosts")



def _import_eggroll(src: Section, res: Result, modules: list[str]) -> None:
    """clustermanager and nodemanager."""
    cm = src.sub("clustermanager")
    tz = cm.take("mysqlServerTimezone")
    if tz and tz != "UTC":
        res.set("clustermanager.mysqlServerTimezone", tz)
    _scheduling(cm, "clustermanager", res)

    nm = src.sub("nodemanager")
    if nm.present:
        for theirs in ("replicas", "count"):
            count = _int(nm.take(theirs), nm.key(theirs))
            if count is not None:
                res.set("nodemanager.replicas", count)
        spn = _int(nm.take("sessionProcessorsPerNode"), nm.key("sessionProcessorsPerNode"))
        if spn is None:
            spn = 2
            res.notes.append(
                "nodemanager.sessionProcessorsPerNode is not set in a nodemanager section: KubeFATE then uses "
                "2 (template fallback, not values.yaml's 4); imported as 2"
            )
        res.set("nodemanager.sessionProcessorsPerNode", spn)
        _scheduling(nm, "nodemanager", res)
        _storage(nm, "nodemanager", res, "nodemanager", present_default_class="nodemanager")
    elif "nodemanager" in modules:
        res.notes.append("no nodemanager section: KubeFATE requests cpu 4 / memory 4Gi per nodemanager (values.yaml); "
                         "fate-pulumi requests less by default, set nodemanager.resources to match")



def _import_mysql(src: Section, res: Result, modules: list[str]) -> None:
    my = src.sub("mysql")
    if my.present:
        _service(my, "mysql", res, {})
        _scheduling(my, "mysql", res)
        for key in ("database", "user"):
            value = my.take(key)
            if value:
                res.set(f"mysql.{key}", str(value))
        ip, port = my.take("ip"), _int(my.take("port"), my.key("port"))
        if ip not in (None, "mysql") or port not in (None, 3306):
            if "mysql" in modules:
                res.problems.append(
                    f"{my.key('ip')}/{my.key('port')}: clients of a deployed mysql module use mysql:3306; "
                    "for another MySQL use externalMysqlIp"
                )
            else:
                res.set("mysql.external", {"host": str(ip or "mysql"), **({"port": port} if port else {})})
        res.secret("mysqlPassword", "mysql.password", my.take("password"))
        my.take("claimName")
        _storage(my, "mysql", res, "mysql")



def _import_uis(src: Section, res: Result) -> None:
    """fateboard and client (the notebook)."""
    fb = src.sub("fateboard")
    if fb.present:
        _service(fb, "fateboard", res, {})
        _scheduling(fb, "fateboard", res)
        user = fb.take("username")
        if user:
            res.set("fateboard.username", str(user))
        res.secret("fateboardPassword", "fateboard.password", fb.take("password"))

    cl = src.sub("client")
    if cl.present:
        _scheduling(cl, "client", res)
        res.secret("notebookHashedPassword", "client.notebook_hashed_password", cl.take("notebook_hashed_password"))
        _storage(cl, "client", res, "client", present_default_class="client")



def _import_spark(src: Section, res: Result) -> None:
    sp = src.sub("spark")
    if sp.present:
        for role, ports in (("master", {"nodePort": "webUi"}), ("worker", {})):
            part = sp.sub(role)
            if not part.present:
                continue
            for theirs, ours in (("Image", "image"), ("ImageTag", "imageTag")):
                value = part.take(theirs)
                if value:
                    res.set(f"spark.{role}.{ours}", str(value))
            replicas = _int(part.take("replicas"), part.key("replicas"))
            if replicas is not None:
                res.set(f"spark.{role}.replicas", replicas)
            _scheduling(part, f"spark.{role}", res)
            if role == "master":
                _service(part, "spark.master", res, ports)
            else:
                wtype = part.take("type")
                if wtype not in (None, "ClusterIP"):
                    res.problems.append(
                        f"{part.key('type')}: {wtype} is invalid on spark-worker's headless Service; use ClusterIP"
                    )



def _import_hdfs(src: Section, res: Result) -> None:
    hd = src.sub("hdfs")
    if hd.present:
        for role in ("namenode", "datanode"):
            part = hd.sub(role)
            if not part.present:
                res.problems.append(f"hdfs.{role}: KubeFATE's template fails without it (an hdfs section needs both)")
                continue
            _scheduling(part, f"hdfs.{role}", res)
            _service(part, f"hdfs.{role}", res, {"nodePort": "rpc"} if role == "namenode" else {})
            replicas = _int(part.take("replicas"), part.key("replicas"))
            if replicas is not None:
                res.set(f"hdfs.{role}.replicas", replicas)
            _storage(part, f"hdfs.{role}", res, role)



def _import_rabbitmq(src: Section, res: Result, own: int) -> None:
    rq = src.sub("rabbitmq")
    if rq.present:
        _service(rq, "rabbitmq", res, {"nodePort": "amqp"})
        _scheduling(rq, "rabbitmq", res)
        for key in ("default_user", "default_pass", "user", "password"):
            value = rq.take(key)
            if value not in (None, "fate"):
                res.notes.append(
                    f"{rq.key(key)}: KubeFATE ignored it (credentials were hard-coded fate/fate); fate-pulumi "
                    "uses rabbitmq.user and the rabbitmqPassword secret"
                )
        table = _route_table(
            rq.take("route_table"),
            rq.key("route_table"),
            res,
            own,
            lambda r: {"host": str(r["host"]), "port": int(r["port"])},
            {"host": "rabbitmq", "port": 5672},
        )
        if table:
            res.set("rabbitmq.routeTable", table)



def _import_pulsar(src: Section, res: Result, own: int) -> None:
    pu = src.sub("pulsar")
    if pu.present:
        _service(pu, "pulsar", res, {"httpNodePort": "broker", "httpsNodePort": "brokerTls"})
        _scheduling(pu, "pulsar", res)
        env = pu.take("env")
        if env:
            res.set("pulsar.env", env)
        confs = pu.take("confs")
        if confs:
            res.set("pulsar.confs", {k: int(v) for k, v in confs.items()})
        public = pu.sub("publicLB")
        if public.take("enabled"):
            res.set("pulsar.publicLB", {"enabled": True})
        ex = pu.sub("exchange")
        if ex.present:
            res.set("pulsar.exchange", {"host": str(ex.take("ip")), "port": _int(ex.take("port"), ex.key("port")),
                                        "domain": str(ex.take("domain") or "fate.org")})
        table = _route_table(pu.take("route_table"), pu.key("route_table"), res, own,
                             lambda r: {"host": str(r["host"]), "port": int(r["port"]), "sslPort": int(r["sslPort"]),
                                        **({"proxy": r["proxy"]} if r.get("proxy") else {})},
                             {"host": "pulsar", "port": 6650, "sslPort": 6651})
        if table:
            res.set("pulsar.routeTable", table)
        _storage(pu, "pulsar", res, "pulsar")


def _import_rollsite(src: Section, res: Result, modules: list[str], own: int, lb: bool) -> None:
    """rollsite, or lbrollsite (rollsite behind an in-pod gRPC balancer over several exchanges).

    With lbrollsite KubeFATE renders both sections: the Deployment, Service and balancer come from `lbrollsite`,
    while the peers (`rollsite.partyList`, rendered as the top-level partyList) and polling (eggroll.properties)
    still come from `rollsite` (FATE chart values-template.yaml, templates/backends/eggroll/lb-rollsite/).
    """
    rs = src.sub("rollsite")
    if not (rs.present or lb or "rollsite" in modules):
        return
    if lb:
        lbs = src.sub("lbrollsite")
        _service(lbs, "rollsite", res, {"nodePort": "rollsite"})
        _scheduling(lbs, "rollsite", res)
        members = [{"host": str(e["ip"]), "port": _int(e["port"])} for e in lbs.take("exchangeList") or []]
        if members:
            res.set("rollsite.exchangeList", members)
        size = lbs.take("size")
        if size:
            res.set("rollsite.maxBodySize", str(size))
        # the lbrollsite Deployment and Service read none of these from the rollsite section
        for key in ("type", "nodePort", "loadBalancerIP", "resources", *SCHEDULING):
            if rs.take(key) not in (None, {}, []):
                res.notes.append(f"{rs.key(key)}: not used with lbrollsite (KubeFATE takes it from lbrollsite.{key}); "
                                 "not imported")
        ex = rs.sub("exchange")
        if ex.present:
            res.notes.append(f"{ex.path}: not used with lbrollsite (its route table sends every unknown party to the "
                             "balancer over lbrollsite.exchangeList); not imported")
            ex.take("ip"), ex.take("port")
        if rs.take("enableTLS"):
            res.notes.append(
                f"{rs.key('enableTLS')}: KubeFATE's lbrollsite Deployment mounts no certificates, so TLS was "
                "never in effect; not imported (the balancer speaks plain gRPC to the exchanges)"
            )
    else:
        _service(rs, "rollsite", res, {"nodePort": "rollsite"})
        _scheduling(rs, "rollsite", res)
        ex = rs.sub("exchange")
        if ex.present:
            res.set("rollsite.exchange", {"host": str(ex.take("ip")), "port": _int(ex.take("port"), ex.key("port"))})
            res.came_from("rollsite.exchange.host", ex.key("ip"))
            res.came_from("rollsite.exchange.port", ex.key("port"))
        _rollsite_tls(rs, res)
    plist = _party_routes(rs.take("partyList"), rs.key("partyList"), res, own, "rollsite.partyList")
    if plist:
        res.set("rollsite.partyList", plist)
    polling = rs.sub("polling")
    if polling.take("enabled"):
        ptype = polling.take("type")
        out: dict[str, Any] = {"enabled": True, "type": ptype}
        server = polling.sub("server")
        default_route = ("lbrollsite.exchangeList" if lb
                         else "rollsite.exchange" if res.get("rollsite.exchange") else None)
        if server.present and ptype == "client" and default_route:
            server.take("ip"), server.take("port")
            res.notes.append(f"{server.path}: not used — a polling client polls its default route (eggroll "
                             f"Polling.scala), which KubeFATE's route table sends to {default_route}; not imported")
        elif server.present:
            out["server"] = {"host": str(server.take("ip")), "port": _int(server.take("port"), server.key("port"))}
            res.came_from("rollsite.polling.server.host", server.key("ip"))
            res.came_from("rollsite.polling.server.port", server.key("port"))
        clients = polling.take("clientList")
        if clients:
            out["clientList"] = [_int(c.get("partID")) for c in clients]
        conc = polling.take("concurrency")
        if conc:
            out["concurrency"] = _int(conc)
        res.set("rollsite.polling", out)
        if lb and ptype == "server":
            res.notes.append(
                f"{polling.path}: with lbrollsite KubeFATE enables polling in eggroll.properties but leaves "
                "the polling entries out of the route table; fate-pulumi writes both"
            )
    elif polling.present:
        for k in ("type", "server", "clientList", "concurrency"):
            polling.take(k)


def _rollsite_tls(rs: Section, res: Result) -> None:
    if rs.take("enableTLS"):
        res.set("rollsite.tls", {"enabled": True})
        res.notes.append(f"{rs.key('enableTLS')}: KubeFATE exposed no TLS port and never marked a route secure "
                         "(route_table.json is_secure), so traffic between parties stayed plaintext; fate-pulumi "
                         "serves mutual TLS on 9380 and dials it where a route says `secure: true` with the peer's "
                         "TLS port")


def _import_python(py: Section, res: Result, modules: list[str]) -> None:
    if not py.present:
        return
    _service(py, "python", res, {"httpNodePort": "http", "grpcNodePort": "grpc"})
    _scheduling(py, "python", res)
    for theirs, ours in (("replicas", "replicas"),):
        value = _int(py.take(theirs), py.key(theirs))
        if value is not None:
            res.set(f"python.{ours}", value)
    for theirs, ours in (("logLevel", "logLevel"), ("serviceAccountName", "serviceAccountName")):
        value = py.take(theirs)
        if value:
            res.set(f"python.{ours}", value)
    if py.take("dependent_distribution"):
        res.set("python.dependentDistribution", True)
    for dead in ("failedTaskAutoRetryTimes", "failedTaskAutoRetryDelay", "claimName"):
        if py.take(dead) is not None:
            res.notes.append(f"python.{dead}: emitted by KubeFATE but used by none of its templates; not imported")
    _storage(py, "python", res, "python", present_default_class="python")
    cmn = py.sub("clustermanager")
    for k in ("cores_per_node", "nodes"):
        v = _int(cmn.take(k), cmn.key(k))
        if v is not None:
            res.set(f"python.clustermanager.{_camel(k)}", v)
    _import_python_spark(py, res, modules)
    _import_python_clients(py, res, modules)


def _import_python_spark(py: Section, res: Result, modules: list[str]) -> None:
    """The Spark driver in FATE Flow and the HDFS it uses (external ones replace the modules)."""
    spark = py.sub("spark")
    for k in ("cores_per_node", "nodes", "portMaxRetries", "driverStartPort", "blockManagerStartPort"):
        v = _int(spark.take(k), spark.key(k))
        if v is not None:
            res.set(f"python.spark.{_camel(k)}", v)
    master = spark.take("master")
    if master and master != "spark://spark-master:7077":
        res.set("python.spark.master", master)
        if "spark" in modules:
            modules.remove("spark")
            res.notes.append("python.spark.master points elsewhere: the spark module is not deployed")
    driver_host = spark.take("driverHost")
    if driver_host and driver_host != "fateflow":
        res.set("python.spark.driverHost", driver_host)
    for k in ("driverHostType", "pysparkPython"):
        v = spark.take(k)
        if v:
            res.set(f"python.spark.{k}", v)
    hdfs = py.sub("hdfs")
    name_node = hdfs.take("name_node")
    if name_node and name_node != "hdfs://namenode:9000":
        res.set("python.hdfs.nameNode", name_node)
        if "hdfs" in modules:
            modules.remove("hdfs")
    prefix = hdfs.take("path_prefix")
    if prefix:
        res.set("python.hdfs.pathPrefix", prefix)


def _import_python_clients(py: Section, res: Result, modules: list[str]) -> None:
    """FATE Flow's RabbitMQ, Pulsar, nginx and Hive (external ones replace the modules)."""
    for svc, local_host, keys in (
        ("rabbitmq", "rabbitmq", ("port", "mng_port")),
        ("pulsar", "pulsar", ("port", "mng_port")),
    ):
        part = py.sub(svc)
        host = part.take("host")
        if host and host != local_host:
            res.set(f"python.{svc}.host", host)
            for k in keys:
                v = _int(part.take(k), part.key(k))
                if v is not None:
                    res.set(f"python.{svc}.{_camel(k)}", v)
            if svc in modules:
                modules.remove(svc)
        else:
            for k in keys:
                part.take(k)
        if svc == "rabbitmq":
            part.take("user")
            part.take("password")
        else:
            for k in ("topic_ttl", "cluster", "tenant"):
                v = part.take(k)
                if v not in (None, {"topic_ttl": 3, "cluster": "standalone", "tenant": "fl-tenant"}[k]):
                    res.set(f"python.pulsar.{_camel(k)}", _int(v) if k == "topic_ttl" else v)
    nginx = py.sub("nginx")
    host = nginx.take("host")
    hp, gp = (
        _int(nginx.take("http_port"), nginx.key("http_port")),
        _int(nginx.take("grpc_port"), nginx.key("grpc_port")),
    )
    if host and host != "nginx":
        res.set("python.nginx", {"host": host, **({"httpPort": hp} if hp else {}), **({"grpcPort": gp} if gp else {})})
    hive = py.sub("hive")
    if hive.has("host"):
        res.set(
            "python.hive",
            {
                "host": hive.take("host"),
                **({"port": _int(hive.take("port"), hive.key("port"))} if hive.has("port") else {}),
                **{_camel(k): hive.take(k) for k in ("auth_mechanism", "username") if hive.has(k)},
            },
        )
        res.secret("hivePassword", "python.hive.password", hive.take("password"))
    for k in ("port", "auth_mechanism", "username", "password", "host"):
        hive.take(k)


def _import_nginx(ng: Section, res: Result, modules: list[str], own: int) -> None:
    if not ng.present:
        if "nginx" in modules and res.kind == "party":
            res.notes.append(f"nginx.exchange: {LEAKS['nginx.exchange']}")
        return
    _service(ng, "nginx", res, {"httpNodePort": "http", "grpcNodePort": "grpc"},
             type_default="NodePort" if res.kind == "exchange" else None)
    _scheduling(ng, "nginx", res)
    replicas = _int(ng.take("replicas"), ng.key("replicas"))
    if replicas is not None:
        res.set("nginx.replicas", replicas)
    ex = ng.sub("exchange")
    if ex.present:
        res.set(
            "nginx.exchange",
            {
                "host": str(ex.take("ip")),
                "httpPort": _int(ex.take("httpPort"), ex.key("httpPort")),
                "grpcPort": _int(ex.take("grpcPort"), ex.key("grpcPort")),
            },
        )
    elif res.kind == "party":
        res.notes.append(f"nginx.exchange: {LEAKS['nginx.exchange']}")
    table = ng.take("route_table") or {}
    routes = {}
    for pid, route in table.items():
        pid = int(pid)
        if pid == own and res.kind == "party":
            res.notes.append(f"nginx.route_table.{pid}: the own route is generated; dropped")
            continue
        routes[pid] = {k: _hops(route.get(k)) for k in ("proxy", "fateflow") if route.get(k)}
    if routes:
        res.set("nginx.routeTable", routes)


def _import_exchange(src: Section, res: Result) -> None:
    modules = list(src.take("modules") or [])
    res.set("modules", modules)
    if "trafficServer" in modules:
        res.set("backend", "spark_pulsar")
    own = res.config["partyId"]
    rs = src.sub("rollsite")
    if rs.present:
        _service(rs, "rollsite", res, {"nodePort": "rollsite"})
        _scheduling(rs, "rollsite", res, resources=False)
        _rollsite_tls(rs, res)
        _import_routes(rs, "rollsite", res, own)
    ts = src.sub("trafficServer")
    if ts.present:
        ts_type = ts.data.get("type") or "ClusterIP"
        if ts_type == "ClusterIP" and ts.has("nodePort"):
            res.problems.append(
                f"trafficServer.nodePort with type {ts_type}: KubeFATE renders the nodePort anyway and the "
                "API server refuses the Service; set trafficServer.type: NodePort (or drop nodePort)"
            )
        _service(ts, "trafficServer", res, {"nodePort": "tls"})
        _scheduling(ts, "trafficServer", res, resources=False)
        replicas = _int(ts.take("replicas"), ts.key("replicas"))
        if replicas is not None:
            res.set("trafficServer.replicas", replicas)
        rt = ts.sub("route_table")
        sni = [{"fqdn": r["fqdn"], "tunnelRoute": r["tunnelRoute"]} for r in rt.take("sni") or []]
        if sni:
            res.set("trafficServer.sniRoutes", sni)
    elif "trafficServer" in modules:
        res.problems.append(
            "trafficServer: KubeFATE's defaults render type ClusterIP with nodePort 30007, which the API "
            "server refuses; add a trafficServer section with type NodePort"
        )
    _import_nginx(src.sub("nginx"), res, modules, own)


def _import_routes(section: Section, module: str, res: Result, own: int) -> bool:
    """partyList and exchange of a rollsite or serving proxy; whether the file names an exchange."""
    plist = _party_routes(section.take("partyList"), section.key("partyList"), res, own, f"{module}.partyList")
    if plist:
        res.set(f"{module}.partyList", plist)
    ex = section.sub("exchange")
    if ex.present:
        res.set(f"{module}.exchange", {"host": str(ex.take("ip")), "port": _int(ex.take("port"), ex.key("port"))})
        res.came_from(f"{module}.exchange.host", ex.key("ip"))
        res.came_from(f"{module}.exchange.port", ex.key("port"))
    return ex.present


def _import_serving(src: Section, res: Result) -> None:
    modules = list(src.take("modules") or [])
    res.set("modules", modules)
    own = res.config["partyId"]
    _ingress(src, res, ("servingProxy", "servingAdmin"), modules)
    sp = src.sub("servingProxy")
    if sp.present:
        _service(sp, "servingProxy", res, {"nodePort": "inter"})
        _scheduling(sp, "servingProxy", res, resources=False)
        if not _import_routes(sp, "servingProxy", res, own):
            res.notes.append(f"servingProxy.exchange: {LEAKS['servingProxy.exchange']}")
    elif "servingProxy" in modules:
        # the section is absent: KubeFATE's values.yaml exposes it as NodePort 30109 (and leaks an exchange)
        res.set("servingProxy.service", {"type": "NodePort", "nodePorts": {"inter": 30109}})
        res.notes.append("no servingProxy section: imported KubeFATE's values.yaml default (NodePort 30109); "
                         f"servingProxy.exchange: {LEAKS['servingProxy.exchange']}")
    ss = src.sub("servingServer")
    if ss.present:
        _service(ss, "servingServer", res, {"nodePort": "grpc"})
        _scheduling(ss, "servingServer", res, resources=False)
        ff = ss.sub("fateflow")
        if ff.present:
            res.set(
                "servingServer.fateflow", {"host": str(ff.take("ip")), "port": _int(ff.take("port"), ff.key("port"))}
            )
        cache_type = ss.take("cacheType")
        if cache_type:
            res.set("servingServer.cacheType", cache_type)
        switch = ss.take("cacheSwitch")
        if switch is not None:
            res.set("servingServer.cacheSwitch", bool(switch))
            res.notes.append(
                "servingServer.cacheSwitch: KubeFATE wrote the cache type into this switch (a bug); imported as "
                "the switch"
            )
        for theirs, ours in (
            ("singleAdaptor", "singleAdaptor"),
            ("batchAdaptor", "batchAdaptor"),
            ("AdapterURL", "adapterUrl"),
        ):
            value = ss.take(theirs)
            if value:
                res.set(f"servingServer.{ours}", value)
        _storage(ss, "servingServer", res, "servingServer", present_default_class="serving-redis")
    elif "servingServer" in modules:
        res.set("servingServer.service", {"type": "NodePort", "nodePorts": {"grpc": 30209}})
        res.set("servingServer.cacheType", "redis")
    if "servingServer" in modules and res.get("servingServer.fateflow") is None:
        res.set("servingServer.fateflow", {"host": "fateflow", "port": 9380})
        res.notes.append(
            "servingServer.fateflow is not set: imported KubeFATE's default fateflow:9380, which only resolves "
            "when FATE runs in the serving namespace; set the party's FATE Flow address"
        )
    rd = src.sub("servingRedis")
    if rd.present:
        _scheduling(rd, "servingRedis", res, resources=False)
        res.secret("servingRedisPassword", "servingRedis.password", rd.take("password"))
        _storage(rd, "servingRedis", res, "servingRedis")
    ext_ip, ext_port, ext_pw = (
        src.take("externalRedisIp"),
        _int(src.take("externalRedisPort"), src.key("externalRedisPort")),
        src.take("externalRedisPassword"),
    )
    if ext_ip:
        res.set("servingServer.redis", {"host": str(ext_ip), **({"port": ext_port} if ext_port else {})})
        res.secret("servingRedisPassword", "externalRedisPassword", ext_pw)
        if "servingRedis" in modules:
            modules.remove("servingRedis")
    zk = src.sub("servingZookeeper")
    if zk.present:
        _scheduling(zk, "servingZookeeper", res, resources=False)
        if zk.take("storageClassName") is not None:
            res.notes.append("servingZookeeper.storageClassName: unused by KubeFATE's templates (storageClass is used)")
        _storage(zk, "servingZookeeper", res, "servingZookeeper")
    ad = src.sub("servingAdmin")
    if ad.present:
        _scheduling(ad, "servingAdmin", res, resources=False)
        user = ad.take("username")
        if user:
            res.set("servingAdmin.username", user)
        res.secret("servingAdminPassword", "servingAdmin.password", ad.take("password"))
        if ad.take("ingressHost") is not None:
            res.notes.append("servingAdmin.ingressHost: unused by KubeFATE's templates; use ingress.servingAdmin.hosts")
    res.set("modules", modules)


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p.capitalize() for p in rest)


# Service sections get the type KubeFATE gives them when the cluster file says nothing (ClusterIP; fate-pulumi's
# cloud profiles would otherwise pick NodePort for entry points); web UIs get no Ingress without hosts.


def _kubefate_service_types(data: dict, res: Result) -> None:
    modules = res.config.get("modules", [])
    for module, path, _service in registry.EXPOSED:
        key = ".".join(path)
        if module not in modules or res.kind not in registry.BY_NAME[module].kinds or res.get(f"{key}.service.type"):
            continue
        if res.kind == "exchange" and module == "nginx" and "nginx" not in data:
            res.set("nginx.service", {"type": "NodePort", "nodePorts": {"http": 30003, "grpc": 30008}})
            res.notes.append("no nginx section: imported the exchange chart's default NodePorts 30003/30008")
        else:
            res.set(f"{key}.service.type", "ClusterIP")
    for ui in (m.name for m in registry.MODULES if m.ui and res.kind in m.kinds):
        if ui in modules and not res.get(f"ingress.{ui}.hosts"):
            res.notes.append(
                f"ingress.{ui}: KubeFATE creates an Ingress for an example.com host when none is configured; "
                f"fate-pulumi creates one only for real hosts (set ingress.{ui}.hosts)"
            )


def _pod_security(res: Result) -> None:
    """podSecurityPolicy.enabled -> Pod Security Admission labels on the namespace (PSP is gone since Kubernetes 1.25):
    baseline matches KubeFATE's policy (no privileged pods), unless a deployed module needs a capability it refuses."""
    if res.get("podSecurity.admission") != "baseline":
        return
    from components.security import beyond_baseline
    from stacks.config import ConfigError, load_config

    try:
        modules = set(load_config({**res.config, "development": True, "podSecurity": {}}).enabled_modules)
    except ConfigError:
        return  # reported by _required_secrets
    refused = beyond_baseline(modules)
    if refused:
        res.set("podSecurity", {"admission": "privileged"})
    why = "; the baseline level would refuse " + ", ".join(f"{m} ({'/'.join(c)})" for m, c in refused.items()) \
        + ", so the level is privileged" if refused else ""
    res.notes.append("podSecurityPolicy.enabled: PodSecurityPolicy was removed in Kubernetes 1.25; imported as Pod "
                     f"Security Admission labels on the namespace (podSecurity.admission: "
                     f"{res.get('podSecurity.admission')}){why}")


def _required_secrets(res: Result) -> None:
    """List every password the imported deployment needs, not only those the file happened to contain."""
    from stacks.config import SECRET_KEYS, ConfigError, load_config, required_secrets

    try:
        cfg = load_config({**res.config, "development": True})
    except ConfigError as err:
        res.problems += [res.in_their_words(p.key, p.message) for p in err.problems]
        return
    found = {k for k, _ in res.secrets}
    for key in required_secrets(cfg):
        if key not in found:
            res.secrets.append((key, f"a new password; KubeFATE's default was {SECRET_KEYS[key][1]!r}"))


# ----------------------------------------------------------------------------------------------------------------
# Addresses: where peers reach the deployment (fate:publicHost), and who reaches it from another namespace. A KubeFATE
# cluster file seldom names the deployment's own address: the peers' files do (their partyList, route-table and SNI
# entries, their exchange sections, servingIp / servingServer.fateflow between a party's FATE and FATE-Serving).

_PROBE_HOST = "public-host.invalid"  # stands in for the unknown public host while its ports are looked up

# (kind, module exposed) -> where KubeFATE's peers name the deployment's address, for the note
_PEERS_NAME_IT = {
    ("party", "rollsite"): "the partyIp of partyId {pid} in the other parties' or the exchange's rollsite.partyList",
    ("party", "nginx"): "the proxy host of {pid} in the other parties' nginx.route_table",
    ("party", "pulsar"): "the host of {pid} in the other parties' pulsar.route_table",
    ("party", "rabbitmq"): "the host of {pid} in the other parties' rabbitmq.route_table",
    ("party", "python"): "servingServer.fateflow.ip in party {pid}'s FATE-Serving cluster file",
    ("exchange", "rollsite"): "rollsite.exchange.ip in the parties' cluster files",
    ("exchange", "nginx"): "nginx.exchange.ip in the parties' cluster files",
    ("exchange", "trafficServer"): "pulsar.exchange.ip in the parties' cluster files",
    ("serving", "servingProxy"): "the partyIp of partyId {pid} in the other parties' servingProxy.partyList",
    ("serving", "servingServer"): "servingIp in party {pid}'s FATE cluster file",
}


def _public_ports(res: Result) -> dict[int, str]:
    """Port reachable on the deployment's public host -> module: its NodePorts and load-balancer ports, as preflight
    matches peers' routes against them (preflight.exposed)."""
    from fate_pulumi.preflight import exposed
    from stacks.config import ConfigError, load_config

    try:
        cfg = load_config({**res.config, "development": True, "publicHost": _PROBE_HOST})
    except ConfigError:
        return {}  # reported by _required_secrets
    return {port: owner.split("/")[1] for (host, port), owner in exposed("", cfg).items() if host == _PROBE_HOST}


def _whole(value: Any) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def routes_to(data: dict[str, Any], pid: int, kind: str) -> list[tuple[str, Any, Any]]:
    """(key, host, port) of every route the cluster file `data` gives to deployment `pid` of `kind` (its own file
    included: a partyList may list the party itself)."""
    out: list[tuple[str, Any, Any]] = []
    chart = data.get("chartName")

    def section(*path: str) -> dict[str, Any]:
        node: Any = data
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        return node if isinstance(node, dict) else {}

    def party_list(name: str) -> None:
        for i, entry in enumerate(section(name).get("partyList") or []):
            if isinstance(entry, dict) and _whole(entry.get("partyId")) == pid:
                out.append((f"{name}.partyList[{i}].partyIp", entry.get("partyIp"), entry.get("partyPort")))

    def table_entry(name: str) -> Any:
        table = section(name).get("route_table") or {}
        return next((v for k, v in table.items() if _whole(k) == pid), None) if isinstance(table, dict) else None

    if kind == "party" and chart in ("fate", "fate-exchange"):
        party_list("rollsite")
        for name in ("pulsar", "rabbitmq"):
            route = table_entry(name)
            if isinstance(route, dict):
                for port_key in ("port", "sslPort"):
                    out.append((f"{name}.route_table.{pid}.host", route.get("host"), route.get(port_key)))
        route = table_entry("nginx")
        for i, hop in enumerate((route or {}).get("proxy") or [] if isinstance(route, dict) else []):
            if isinstance(hop, dict):
                for port_key in ("http_port", "grpc_port"):
                    out.append((f"nginx.route_table.{pid}.proxy[{i}].host", hop.get("host"), hop.get(port_key)))
        # an exchange's Traffic Server tunnels <partyId>.<domain> (the party's Pulsar) to host:port
        for i, sni in enumerate(section("trafficServer", "route_table").get("sni") or []):
            if isinstance(sni, dict) and str(sni.get("fqdn", "")).split(".")[0] == str(pid):
                host, _, port = str(sni.get("tunnelRoute", "")).rpartition(":")
                out.append((f"trafficServer.route_table.sni[{i}].tunnelRoute", host, port))
    if kind == "serving" and chart == "fate-serving":
        party_list("servingProxy")
    if kind == "exchange" and chart in ("fate", "fate-serving"):
        for name, port_keys in (("rollsite", ("port",)), ("nginx", ("httpPort", "grpcPort")), ("pulsar", ("port",)),
                                ("servingProxy", ("port",))):
            ex = section(name, "exchange")
            for port_key in port_keys:
                out.append((f"{name}.exchange.ip", ex.get("ip"), ex.get(port_key)))
    if _whole(data.get("partyId")) == pid:  # a party's FATE and FATE-Serving name each other
        if kind == "serving" and chart == "fate":
            out.append(("servingIp", data.get("servingIp"), data.get("servingPort")))
        if kind == "party" and chart == "fate-serving":
            ff = section("servingServer", "fateflow")
            out.append(("servingServer.fateflow.ip", ff.get("ip"), ff.get("port")))
    return out


def _public_host(data: dict[str, Any], res: Result, peers: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """fate:publicHost from the routes that reach one of the deployment's public ports, in its own file or in the
    peers' files given; a note saying what to set when they do not name it (preflight and `connect` need it)."""
    from components import endpoints

    ports = _public_ports(res)
    if not ports or res.get("publicHost"):
        return
    pid = res.config["partyId"]
    kind = "FATE-Serving deployment" if res.kind == "serving" else res.kind
    found: dict[str, list[str]] = {}
    for source, doc in [("", data), *((f"{name}: ", peer) for name, peer in peers)]:
        for key, host, port in routes_to(doc, pid, res.kind):
            host = str(host or "").strip()
            if (not host or _whole(port) not in ports or endpoints.namespace_of(host)
                    or host.lower() in endpoints.SERVICE_NAMES):
                continue  # not this deployment's public address: another port, or an in-cluster name
            where = f"{source}{key}"
            if where not in found.setdefault(host, []):
                found[host].append(where)
    for _module, path, _svc in registry.EXPOSED:
        section = ".".join(path)
        lb = res.get(f"{section}.service.loadBalancerIP")
        if lb and res.get(f"{section}.service.type") == "LoadBalancer":
            found.setdefault(str(lb), []).append(res.origins.get(f"{section}.service.loadBalancerIP", section))
    if len(found) == 1:
        host, keys = next(iter(found.items()))
        res.set("publicHost", host)
        res.notes.append(f"publicHost: {host}, where peers reach this {kind} ({'; '.join(keys)})")
        return
    exposed = ", ".join(f"{m} {p}" for p, m in sorted(ports.items()))
    if found:
        res.notes.append("publicHost is not set: peers reach this " + kind + " at several addresses (" + "; ".join(
            f"{h}: {', '.join(k)}" for h, k in found.items()) + f"); set fate:publicHost to the one that reaches its "
            f"ports ({exposed}) — preflight and the `connect` output match peers' routes against it")
        return
    names = [text.format(pid=pid) for (k, m), text in _PEERS_NAME_IT.items() if k == res.kind and m in ports.values()]
    res.notes.append(
        f"publicHost is not set: this file does not name the address peers reach this {kind} at (its ports: "
        f"{exposed}); set fate:publicHost to it — a node's IP for NodePorts, the load balancer's for LoadBalancer "
        f"Services" + (f"; KubeFATE's peers give it as {' or '.join(names)}" if names else "")
        + " (or import with --peer <their cluster file>). preflight and the `connect` output need it")


def _serving_registry(res: Result, peers: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """FATE Flow registers with the FATE-Serving ZooKeeper from the party's namespace (KubeFATE's layout: fate-9999
    beside fate-serving-9999); the NetworkPolicies admit another namespace's pods only where the stack's routes name
    it (servingServer.fateflow as `fateflow-client.<namespace>`) or networkPolicy.allowNamespaces lists it."""
    from components import endpoints

    if res.kind != "serving" or "servingZookeeper" not in res.config.get("modules", []):
        return
    fateflow = res.get("servingServer.fateflow.host")
    if fateflow and endpoints.namespace_of(str(fateflow)):
        return  # a peer namespace already (stacks/common.peer_namespaces)
    pid = res.config["partyId"]
    here = res.config.get("namespace") or res.config.get("name")
    party = next(((name, doc) for name, doc in peers
                  if doc.get("chartName") == "fate" and _whole(doc.get("partyId")) == pid), None)
    if party is not None:
        name, doc = party
        there = doc.get("namespace") or doc.get("name")
        zk = ((doc.get("serving") or {}).get("zookeeper") or {}).get("hosts") or []
        if not any(endpoints.namespace_of(str(h).rpartition(":")[0]) == here for h in zk) or there == here:
            return  # the party's FATE Flow does not use this registry, or runs in this namespace
        allowed = res.get("networkPolicy.allowNamespaces") or []
        res.set("networkPolicy.allowNamespaces", [*allowed, str(there)])
        res.notes.append(f"networkPolicy.allowNamespaces: {there}, the namespace FATE Flow of party {pid} registers "
                         f"with this ZooKeeper from ({name}: serving.zookeeper.hosts)")
        return
    res.notes.append(
        f"servingZookeeper: FATE Flow of party {pid} registers with this ZooKeeper when it uses the registry (its "
        f"serving.useRegistry, serving.zookeeper.hosts: serving-zookeeper.{here}:2181) from its own namespace "
        f"(KubeFATE's layout: fate-{pid}), which this file does not name, so this stack's NetworkPolicies would refuse "
        "it: list that namespace in fate:networkPolicy.allowNamespaces (admits it to every module; or import with "
        "--peer <the party's cluster file>), or, narrower, have servingServer.fateflow name FATE Flow in the cluster "
        "(host fateflow-client.<that namespace>, port 9380: admits it to ZooKeeper, serving-server and serving-proxy)")


def import_cluster(data: dict[str, Any], strict: bool = True,
                   peers: Sequence[tuple[str, dict[str, Any]]] = ()) -> Result:
    """Map a parsed cluster.yaml; raises ImportError_ listing every refused key. `peers` (name, parsed cluster file):
    the federation's other files, read only for where they reach this deployment."""
    res = Result()
    root = Section(data, "", res)
    _top(root, res)
    {"party": _import_party, "exchange": _import_exchange, "serving": _import_serving}[res.kind](root, res)
    _kubefate_service_types(data, res)
    if not res.problems:
        _pod_security(res)
        _required_secrets(res)
    if not res.problems:
        _public_host(data, res, peers)
        _serving_registry(res, peers)
    leftovers = [k for k in root.leftovers()]
    for key in leftovers:
        message = f"{key}: not a KubeFATE v1.11.2 option for chart {data.get('chartName')} (KubeFATE ignored it)"
        (res.problems if strict else res.notes).append(message + ("; remove it" if strict else ""))
    if res.problems:
        raise ImportError_(res.problems)
    return res


def _header(res: Result, source: str, script: Optional[Path] = None, target: Optional[Path] = None,
            set_already: Collection[str] = ()) -> list[str]:
    """What the stack file says before its YAML: where it came from, the passwords still to set (not those the file
    already holds as secrets), how to review it before, and the notes."""
    lines = [f"# Imported from {source} by `fate-pulumi import`."]
    if script is not None:
        lines.append(f"# Passwords are not copied: run `sh {script}` (mode 0600) in the project directory after "
                     "`pulumi stack init`, then delete it.")
    elif {k for k, _ in res.secrets} - set(set_already):
        lines.append("# Passwords are not copied; set them as secrets:")
        seen = set(set_already)
        for key, where in res.secrets:
            if key in seen:
                continue
            seen.add(key)
            hint = where if where.startswith("a new password") else f"value of {where}"
            lines.append(f"#   pulumi config set --secret fate:{key} '<{hint}>'")
    if res.secrets:
        lines.append(f"# {REVIEW} fate-pulumi render --development {target or '<this file>'} out/")
    for note in res.notes:
        lines.append(f"# note: {note}")
    return lines


def _dump(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, width=120)


def to_stack_file(res: Result, source: str, script: Optional[Path] = None, target: Optional[Path] = None) -> str:
    body = _dump({"config": {f"fate:{k}": v for k, v in res.config.items()}})
    return "\n".join(_header(res, source, script, target)) + "\n" + body


# ----------------------------------------------------------------------------------------------------------------
# Importing over an existing stack file (one `pulumi stack init` salted, or an earlier import whose secrets are set):
# merged so that nothing is lost, or refused


REVIEW = "To review it before the passwords are set:"
KEPT_COMMENTS = "# Comments kept from the stack file this import was merged into:"
_OUR_COMMENTS = ("# Imported from ", "# Passwords are not copied", "#   pulumi config set --secret", f"# {REVIEW}",
                 "# note: ", KEPT_COMMENTS)
# what Pulumi keeps in Pulumi.<stack>.yaml (ProjectStack: pulumi/sdk/go/common/workspace/project.go)
STACK_FILE_KEYS = ("secretsprovider", "encryptedkey", "encryptionsalt", "config", "environment")


@dataclass
class Existing:
    """A stack file the import is written over: its document and the comments its owner wrote."""

    path: Path
    doc: dict[str, Any]
    comments: list[str]


@dataclass
class Merged:
    doc: dict[str, Any]
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    comments: int = 0  # the owner's comment lines, moved under the header

    def summary(self) -> str:
        parts = [f"added {len(self.added)} keys"] if self.added else []
        for what, keys in (("changed", self.changed), ("kept", self.kept)):
            if keys:
                parts.append(f"{what} {', '.join(keys)}")
        if self.comments:
            parts.append(f"its comments ({self.comments} lines) kept under the header")
        return "; ".join(parts) or "nothing changed"


def _secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def read_existing(path: Path) -> Optional[Existing]:
    """The stack file at `path`, or None when there is none; InputError when the file is something else."""
    from fate_pulumi.inputs import InputError, read_text

    if not path.exists():
        return None
    text = read_text(path, "stack file the import is written over")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        raise InputError(f"{path}: exists and is not valid YAML — give another -o FILE, or fix or remove it") from None
    if doc is None:
        return Existing(path, {}, [])
    if not isinstance(doc, dict) or set(doc) - set(STACK_FILE_KEYS) or not isinstance(doc.get("config") or {}, dict):
        what = "a KubeFATE cluster file" if isinstance(doc, dict) and "chartName" in doc else "not a Pulumi stack file"
        raise InputError(f"{path}: exists and is {what} — give another -o FILE (the stack's Pulumi.<stack>.yaml)")
    return Existing(path, doc, _own_comments(path, text, doc))


def _own_comments(path: Path, text: str, doc: Any) -> list[str]:
    """The file's full-line comments other than an earlier import's header. A comment after a value cannot be kept in
    place by a merge that rewrites the YAML: refused. (A `#` line inside a block scalar is text, not a comment: each
    candidate counts as a comment only if the document parses the same without it.)"""
    from fate_pulumi.inputs import InputError

    lines = text.splitlines()

    def parses_same(changed: dict[int, str]) -> bool:
        try:
            return yaml.safe_load("\n".join(changed.get(i, line) for i, line in enumerate(lines))) == doc
        except yaml.YAMLError:
            return False

    full = [i for i, line in enumerate(lines) if line.lstrip().startswith("#")]
    if not parses_same({i: "" for i in full}):
        full = [i for i in full if parses_same({i: ""})]
    for i, line in enumerate(lines):
        if i in full or " #" not in line:
            continue
        cut = line.find(" #")
        while cut >= 0:
            if parses_same({i: line[:cut]}):
                raise InputError(f"{path}:{i + 1}: a comment after a value, which merging the import cannot keep in "
                                 "place — move it onto a line of its own, or give another -o FILE")
            cut = line.find(" #", cut + 1)
    return [lines[i].strip() for i in full if not lines[i].strip().startswith(_OUR_COMMENTS)]


def _merge_values(old: dict[str, Any], new: dict[str, Any], prefix: str, out: Merged) -> dict[str, Any]:
    """`new` over `old`, section by section: what the import produces wins, except a `secure:` value; every key it
    does not produce is kept."""
    merged: dict[str, Any] = {}
    for key, value in new.items():
        name = f"{prefix}{key}"
        if key not in old:
            out.added.append(name)
            merged[key] = value
        elif _secure(old[key]):
            out.kept.append(f"{name} (secure)")
            merged[key] = old[key]
        elif isinstance(old[key], dict) and isinstance(value, dict):
            merged[key] = _merge_values(old[key], value, f"{name}.", out)
        else:
            if old[key] != value:
                out.changed.append(name)
            merged[key] = value
    for key, value in old.items():
        if key not in new:
            out.kept.append(f"{prefix}{key}" + (" (secure)" if _secure(value) else ""))
            merged[key] = value
    return merged


def merge(existing: Existing, res: Result) -> Merged:
    """The import written over an existing stack file: its encryption salt, secrets provider and key, every `secure:`
    value and every key the import does not produce are kept. A file of another party or kind is refused."""
    from fate_pulumi.inputs import InputError

    config = existing.doc.get("config") or {}
    for key, ours in (("partyId", res.config["partyId"]), ("kind", res.config.get("kind", "party"))):
        if "fate:partyId" not in config:
            break  # no fate-pulumi deployment yet (a salted file, other projects' keys)
        theirs = config.get(f"fate:{key}", "party")
        if theirs != ours:
            raise InputError(f"{existing.path}: fate:{key}: the file holds {theirs!r}, the import {ours!r} — this is "
                             "another deployment's stack file; give its own -o FILE")
    out = Merged({}, comments=len(existing.comments))
    new_config = {f"fate:{k}": v for k, v in res.config.items()}
    for key, value in existing.doc.items():
        if key == "config":
            out.doc[key] = _merge_values(config, new_config, "", out)
        else:
            out.kept.append(key)
            out.doc[key] = value
    if "config" not in out.doc:
        out.doc["config"] = _merge_values({}, new_config, "", out)
    return out


def merged_stack_file(existing: Existing, merged: Merged, res: Result, source: str,
                      script: Optional[Path] = None) -> str:
    config = existing.doc.get("config") or {}
    lines = _header(res, source, script, existing.path,
                    set_already=[k.removeprefix("fate:") for k, v in config.items() if _secure(v)])
    if existing.comments:
        lines += [KEPT_COMMENTS, *existing.comments]
    return "\n".join(lines) + "\n" + _dump(merged.doc)


def merge_problems(merged: Merged) -> list[str]:
    """The merged file's fate: keys checked as `render` checks them (a kept key may contradict an imported one)."""
    from fate_pulumi.render import config_problems, engine_config

    values, secret_keys = engine_config(merged.doc.get("config") or {})
    return config_problems({**values, "fate:development": "true"}, secret_keys)


# ----------------------------------------------------------------------------------------------------------------
# Passwords: carried into Pulumi secrets by a script, never into the stack file or onto the terminal


@dataclass
class Password:
    key: str  # fate:<key>
    value: Optional[str]  # None: nothing to carry (a new one must be set)
    origin: str  # where the value comes from, for the script's comments and the warnings (never the value)


def _lookup(data: dict, path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def passwords(res: Result, data: dict, adopt: bool, live: Optional[dict[str, list[tuple[str, str]]]] = None,
              warn: Callable[[str], None] = lambda m: print(f"warning: {m}", file=sys.stderr)) -> list[Password]:
    """The value of every password the stack needs: the cluster file's, else (adopting) the KubeFATE default the party
    runs with. With `live` (what the running party's objects hold, by key), a value that differs from the cluster
    file's is reported and the running one is carried: adopting must keep what MySQL's users and the peers use."""
    from stacks.config import SECRET_KEYS

    out: list[Password] = []
    for key, where in res.secrets:
        if any(p.key == key for p in out):
            continue  # KubeFATE's precedence: the first source listed (externalMysqlPassword before mysql.password)
        if where.startswith("a new password"):
            default = SECRET_KEYS[key][1]
            value, origin = (default, "KubeFATE's default (the cluster file sets none)") if adopt else (None, where)
        else:
            raw = _lookup(data, where)
            value, origin = (None if raw is None else str(raw)), f"the cluster file's {where}"
        running = {v for _, v in (live or {}).get(key, [])}
        sources = ", ".join(src for src, _ in (live or {}).get(key, []))
        if len(running) > 1:
            warn(f"fate:{key}: the running party's objects disagree ({sources}); the cluster file's value is carried, "
                 "check which one the party really uses")
        elif running and value not in running:
            warn(f"fate:{key}: the running party uses another value than {origin} ({sources}); "
                 "the running value is carried")
            value, origin = next(iter(running)), f"the running party ({sources})"
        if value == "":  # e.g. KubeFATE's notebook ran without a password: a stack needs one
            value, origin = None, f"{origin} is empty; set a new one"
        out.append(Password(key, value, origin))
    return out


def secrets_script(items: list[Password], source: str) -> str:
    """A shell script of `pulumi config set --secret` commands; each value reaches pulumi on standard input (printf is
    a shell builtin: the value is in no process's arguments)."""
    import shlex

    lines = ["#!/bin/sh",
             f"# Passwords of {source} for `pulumi config set --secret`, written by fate-pulumi import.",
             "# It holds them in clear: run it once in the project directory, then delete it.",
             "#   sh <this file> [--stack <stack>]",
             "set -eu"]
    for item in items:
        lines.append(f"# fate:{item.key}: {item.origin}")
        if item.value is None:
            lines.append(f"echo 'fate:{item.key} is not set: pulumi config set --secret fate:{item.key} ...' >&2")
        else:
            lines.append(f"printf '%s' {shlex.quote(item.value)} | pulumi config set --secret \"$@\" fate:{item.key}")
    return "\n".join(lines) + "\n"


def write_private(path: Path, text: str) -> None:
    """A new file only its owner can read (refuses to overwrite one)."""
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def _refuse_other_files(path: Path, data: Any) -> None:
    """A file that is not a KubeFATE cluster file, named with what to pass instead."""
    from fate_pulumi.inputs import InputError

    if not isinstance(data, dict):
        raise InputError(f"{path}: not a KubeFATE cluster file (no mapping at the top)")
    if "config" in data and "chartName" not in data:
        raise InputError(f"{path}: a Pulumi stack file already — render it: fate-pulumi render {path} out/")
    if "chartName" not in data and {"partyName", "image"} & set(data):
        # KubeFATE's CLI renders a cluster file into these values (charts' values.yaml: partyName, image.registry);
        # the keys differ (partyName vs name, image.* vs registry, modules as sections), so they are not imported
        raise InputError(f"{path}: Helm values of a KubeFATE chart (values.yaml: partyName, image), not a KubeFATE "
                         "cluster file — pass the cluster.yaml given to `kubefate cluster install` (chartName: fate, "
                         "fate-exchange or fate-serving)")


def _same_file(a: Path, b: Path) -> bool:
    import os

    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return a.resolve() == b.resolve()


def _check_outputs(args: argparse.Namespace) -> Optional[Existing]:
    """Every file the import writes, checked before anything is written: never the cluster file, a script never over
    an existing file (it may hold passwords); a stack file that exists is read to be merged into."""
    from fate_pulumi.inputs import InputError, output_file

    existing = None
    if args.output is not None:
        output_file(args.output)
        if _same_file(args.output, args.cluster_yaml):
            raise InputError(f"{args.output}: is the cluster file being imported — write the stack file elsewhere "
                             "(-o Pulumi.<stack>.yaml)")
        existing = read_existing(args.output)
    if args.secrets_script is not None:
        output_file(args.secrets_script)
        if args.secrets_script.exists() or args.secrets_script.is_symlink():
            raise InputError(f"{args.secrets_script}: exists — remove it first (it may hold passwords) or name a new "
                             "file for --secrets-script")
        if args.output is not None and _same_file(args.output, args.secrets_script):
            raise InputError(f"{args.secrets_script}: is also the -o file — give the script another name")
    return existing


def main(argv: Optional[list[str]] = None, prog: str = "fate-pulumi import") -> int:
    from fate_pulumi.inputs import InputError, read_yaml, write_atomically

    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__.split("\n\n")[0],
        epilog="exit status: 0 imported; 2 the file has keys or values fate-pulumi refuses, or an output cannot be "
               "written (one line each, nothing written); 1 reading the running party failed")
    parser.add_argument(
        "cluster_yaml", type=Path, help="a KubeFATE cluster.yaml (chart fate, fate-exchange or fate-serving)"
    )
    parser.add_argument("-o", "--output", type=Path, metavar="FILE",
                        help="write the stack file here (only when the import succeeds; never over the cluster file); "
                             "a stack file already there is merged into: its encryption salt, secrets and every key "
                             "the import does not produce are kept; default: standard output")
    parser.add_argument(
        "--ignore-unknown", action="store_true", help="report unknown keys as notes instead of refusing"
    )
    parser.add_argument("--adopt", action="store_true",
                        help="take over the running KubeFATE deployment in place (sets fate:adoptKubefate, see README)")
    parser.add_argument("--secrets-script", type=Path, metavar="FILE",
                        help="write the cluster file's passwords as `pulumi config set --secret` commands to FILE "
                             "(a new file, mode 0600); nothing secret goes to the stack file or the terminal")
    parser.add_argument("--compare-live", action="store_true",
                        help="read the passwords the running party uses (KubeFATE's ConfigMaps and workloads, through "
                             "kubectl), warn where they differ from the cluster file, and carry the running ones")
    parser.add_argument("--peer", type=Path, action="append", default=[], metavar="CLUSTER_YAML",
                        help="a cluster file of another deployment of the federation (a peer party, the exchange, the "
                             "party's FATE or FATE-Serving), read only for the address it reaches this one at "
                             "(fate:publicHost) and the namespace FATE Flow reaches FATE-Serving from; repeatable")
    parser.add_argument("--kubeconfig", help="kubeconfig for --compare-live (implies it)")
    parser.add_argument("--context", help="kubeconfig context for --compare-live (implies it)")
    args = parser.parse_args(argv)
    data = read_yaml(args.cluster_yaml, "KubeFATE cluster file")
    _refuse_other_files(args.cluster_yaml, data)
    peers = []
    for peer in args.peer:
        doc = read_yaml(peer, "KubeFATE cluster file of a peer (--peer)")
        if not isinstance(doc, dict) or doc.get("chartName") not in CHARTS:
            raise InputError(f"{peer}: not a KubeFATE cluster file (chartName: fate, fate-exchange or fate-serving) — "
                             "--peer takes the cluster files of the federation's other deployments")
        peers.append((str(peer), doc))
    existing = _check_outputs(args)
    try:
        res = import_cluster(data, strict=not args.ignore_unknown, peers=peers)
        if args.adopt:
            res.set("adoptKubefate", True)
            res.notes.append("adoptKubefate: set every password to the value the running deployment uses (MySQL keeps "
                             "its data and its users' passwords); run fate-pulumi adopt take-over before the "
                             "first `pulumi preview` (README)")
    except ImportError_ as err:
        for problem in err.problems:
            print(f"error: {args.cluster_yaml}: {problem}", file=sys.stderr)
        return 2
    merged = merge(existing, res) if existing is not None else None
    if merged is not None:
        problems = merge_problems(merged)
        for problem in problems:
            print(f"error: {args.output}: {problem} — a key kept from the file contradicts the import: remove it "
                  "there, or give another -o FILE", file=sys.stderr)
        if problems:
            return 2
    live = None
    if args.compare_live or args.kubeconfig or args.context:
        from fate_pulumi.adopt import AdoptError, Kubectl, live_passwords

        namespace = res.config.get("namespace") or res.config.get("name") or data.get("namespace")
        try:
            live = live_passwords(Kubectl(args.kubeconfig, args.context), str(namespace), [k for k, _ in res.secrets])
        except AdoptError as err:
            print(f"error: reading the running party's passwords: {err}", file=sys.stderr)
            return 1
    carried = passwords(res, data, args.adopt, live) if args.secrets_script or live is not None else []

    def write_script() -> None:
        if args.secrets_script is None:
            return
        try:
            write_private(args.secrets_script, secrets_script(carried, str(args.cluster_yaml)))
        except FileExistsError:  # created since it was checked
            raise InputError(f"{args.secrets_script}: exists — remove it first (it may hold passwords) or name a "
                             "new file for --secrets-script") from None
        except OSError as err:
            raise InputError(f"{args.secrets_script}: cannot be written ({err.strerror}) — write the script "
                             "elsewhere") from None

    source = str(args.cluster_yaml)
    if args.output is None:
        write_script()
        sys.stdout.write(to_stack_file(res, source, args.secrets_script))
        return 0
    # the stack file's text is staged beside it, then the script written, then the stack file replaced: a failure
    # on the way leaves neither
    if existing is None or merged is None:
        write_atomically(args.output, to_stack_file(res, source, args.secrets_script, args.output),
                         before_rename=write_script)
        print(f"{args.output}: {res.kind} stack file written ({len(res.notes)} notes inside)", file=sys.stderr)
    else:
        write_atomically(args.output, merged_stack_file(existing, merged, res, source, args.secrets_script),
                         before_rename=write_script)
        print(f"{args.output}: {res.kind} stack file merged into the existing one ({len(res.notes)} notes inside): "
              f"{merged.summary()}", file=sys.stderr)
    return 0

if __name__ == "__main__":
    from fate_pulumi.cli import guarded

    sys.exit(guarded(main))
