"""Chart `fate` of KubeFATE v1.11.2: a party (engines, modules, rollsite or lbrollsite, eggroll, MySQL, FATE Flow and
its clients, the UIs, Spark, HDFS, nginx, RabbitMQ, Pulsar)."""

from __future__ import annotations

from typing import Any

from components import registry
from fate_pulumi.importer.kubefate_v1_11.shared import LEAKS, import_nginx, ingress, rollsite_tls
from fate_pulumi.importer.mapping import (
    SCHEDULING,
    Result,
    Section,
    address,
    camel,
    import_modules_by_registry,
    party_routes,
    route_table,
    scheduling,
    service,
    storage,
    whole_number,
)

# computing/federation/storage engines (KubeFATE's words are FATE's) -> fate:backend
ENGINES_TO_BACKEND = {words: backend for backend, words in registry.BACKEND_ENGINES.items()}


def import_party(src: Section, res: Result) -> None:
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
    import_nginx(src.sub("nginx"), res, modules, own)
    _import_rabbitmq(src, res, own)
    _import_pulsar(src, res, own)
    import_modules_by_registry(src, res)
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
    ingress(src, res, tuple(m.name for m in registry.MODULES if m.ui and "party" in m.kinds), modules)
    return modules, lb


def _import_external_mysql(src: Section, res: Result, modules: list[str]) -> None:
    ext = {k: src.take(f"externalMysql{k}") for k in ("Ip", "Port", "Database", "User", "Password")}
    for key, field_name in (("Database", "database"), ("User", "user")):
        if ext[key]:
            res.set(f"mysql.{field_name}", str(ext[key]))
    if ext["Ip"]:
        res.set("mysql.external",
                {"host": str(ext["Ip"]), **({"port": whole_number(ext["Port"])} if ext["Port"] else {})})
        if "mysql" in modules:
            modules.remove("mysql")
            res.notes.append(
                "externalMysqlIp is set: the mysql module is not deployed (KubeFATE deployed it anyway, unused)"
            )
    res.secret("mysqlPassword", "externalMysqlPassword", ext["Password"])


def _import_serving_link(src: Section, res: Result) -> None:
    """Where the party's FATE Flow publishes models: serving-server, the FATE-Serving ZooKeeper."""
    serving_ip, serving_port = src.take("servingIp"), whole_number(src.take("servingPort"), src.key("servingPort"))
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
    scheduling(cm, "clustermanager", res)

    nm = src.sub("nodemanager")
    if nm.present:
        for theirs in ("replicas", "count"):
            count = whole_number(nm.take(theirs), nm.key(theirs))
            if count is not None:
                res.set("nodemanager.replicas", count)
        spn = whole_number(nm.take("sessionProcessorsPerNode"), nm.key("sessionProcessorsPerNode"))
        if spn is None:
            spn = 2
            res.notes.append(
                "nodemanager.sessionProcessorsPerNode is not set in a nodemanager section: KubeFATE then uses "
                "2 (template fallback, not values.yaml's 4); imported as 2"
            )
        res.set("nodemanager.sessionProcessorsPerNode", spn)
        scheduling(nm, "nodemanager", res)
        storage(nm, "nodemanager", res, "nodemanager", present_default_class="nodemanager")
    elif "nodemanager" in modules:
        res.notes.append("no nodemanager section: KubeFATE requests cpu 4 / memory 4Gi per nodemanager (values.yaml); "
                         "fate-pulumi requests less by default, set nodemanager.resources to match")


def _import_mysql(src: Section, res: Result, modules: list[str]) -> None:
    my = src.sub("mysql")
    if my.present:
        service(my, "mysql", res, {})
        scheduling(my, "mysql", res)
        for key in ("database", "user"):
            value = my.take(key)
            if value:
                res.set(f"mysql.{key}", str(value))
        ip, port = my.take("ip"), whole_number(my.take("port"), my.key("port"))
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
        storage(my, "mysql", res, "mysql")


def _import_uis(src: Section, res: Result) -> None:
    """fateboard and client (the notebook)."""
    fb = src.sub("fateboard")
    if fb.present:
        service(fb, "fateboard", res, {})
        scheduling(fb, "fateboard", res)
        user = fb.take("username")
        if user:
            res.set("fateboard.username", str(user))
        res.secret("fateboardPassword", "fateboard.password", fb.take("password"))

    cl = src.sub("client")
    if cl.present:
        scheduling(cl, "client", res)
        res.secret("notebookHashedPassword", "client.notebook_hashed_password", cl.take("notebook_hashed_password"))
        storage(cl, "client", res, "client", present_default_class="client")


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
            replicas = whole_number(part.take("replicas"), part.key("replicas"))
            if replicas is not None:
                res.set(f"spark.{role}.replicas", replicas)
            scheduling(part, f"spark.{role}", res)
            if role == "master":
                service(part, "spark.master", res, ports)
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
            scheduling(part, f"hdfs.{role}", res)
            service(part, f"hdfs.{role}", res, {"nodePort": "rpc"} if role == "namenode" else {})
            replicas = whole_number(part.take("replicas"), part.key("replicas"))
            if replicas is not None:
                res.set(f"hdfs.{role}.replicas", replicas)
            storage(part, f"hdfs.{role}", res, role)


def _import_rabbitmq(src: Section, res: Result, own: int) -> None:
    rq = src.sub("rabbitmq")
    if rq.present:
        service(rq, "rabbitmq", res, {"nodePort": "amqp"})
        scheduling(rq, "rabbitmq", res)
        for key in ("default_user", "default_pass", "user", "password"):
            value = rq.take(key)
            if value not in (None, "fate"):
                res.notes.append(
                    f"{rq.key(key)}: KubeFATE ignored it (credentials were hard-coded fate/fate); fate-pulumi "
                    "uses rabbitmq.user and the rabbitmqPassword secret"
                )
        table = route_table(
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
        service(pu, "pulsar", res, {"httpNodePort": "broker", "httpsNodePort": "brokerTls"})
        scheduling(pu, "pulsar", res)
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
            res.set("pulsar.exchange", {**address(ex), "domain": str(ex.take("domain") or "fate.org")})
        table = route_table(pu.take("route_table"), pu.key("route_table"), res, own,
                            lambda r: {"host": str(r["host"]), "port": int(r["port"]), "sslPort": int(r["sslPort"]),
                                       **({"proxy": r["proxy"]} if r.get("proxy") else {})},
                            {"host": "pulsar", "port": 6650, "sslPort": 6651})
        if table:
            res.set("pulsar.routeTable", table)
        storage(pu, "pulsar", res, "pulsar")


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
        _lbrollsite(src.sub("lbrollsite"), rs, res)
    else:
        service(rs, "rollsite", res, {"nodePort": "rollsite"})
        scheduling(rs, "rollsite", res)
        ex = rs.sub("exchange")
        if ex.present:
            res.set("rollsite.exchange", address(ex))
            res.came_from("rollsite.exchange.host", ex.key("ip"))
            res.came_from("rollsite.exchange.port", ex.key("port"))
        rollsite_tls(rs, res)
    plist = party_routes(rs.take("partyList"), rs.key("partyList"), res, own, "rollsite.partyList")
    if plist:
        res.set("rollsite.partyList", plist)
    _rollsite_polling(rs.sub("polling"), res, lb)


def _lbrollsite(lbs: Section, rs: Section, res: Result) -> None:
    """lbrollsite's Service, balancer and exchanges; what the rollsite section says that it does not use."""
    service(lbs, "rollsite", res, {"nodePort": "rollsite"})
    scheduling(lbs, "rollsite", res)
    members = [{"host": str(e["ip"]), "port": whole_number(e["port"])} for e in lbs.take("exchangeList") or []]
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


def _rollsite_polling(polling: Section, res: Result, lb: bool) -> None:
    """rollsite.polling: eggroll's polling mode, where a client rollsite fetches what is sent to it from a server
    instead of being dialled."""
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
            out["server"] = address(server)
            res.came_from("rollsite.polling.server.host", server.key("ip"))
            res.came_from("rollsite.polling.server.port", server.key("port"))
        clients = polling.take("clientList")
        if clients:
            out["clientList"] = [whole_number(c.get("partID")) for c in clients]
        conc = polling.take("concurrency")
        if conc:
            out["concurrency"] = whole_number(conc)
        res.set("rollsite.polling", out)
        if lb and ptype == "server":
            res.notes.append(
                f"{polling.path}: with lbrollsite KubeFATE enables polling in eggroll.properties but leaves "
                "the polling entries out of the route table; fate-pulumi writes both"
            )
    elif polling.present:
        for k in ("type", "server", "clientList", "concurrency"):
            polling.take(k)


def _import_python(py: Section, res: Result, modules: list[str]) -> None:
    if not py.present:
        return
    service(py, "python", res, {"httpNodePort": "http", "grpcNodePort": "grpc"})
    scheduling(py, "python", res)
    for theirs, ours in (("replicas", "replicas"),):
        value = whole_number(py.take(theirs), py.key(theirs))
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
    storage(py, "python", res, "python", present_default_class="python")
    cmn = py.sub("clustermanager")
    for k in ("cores_per_node", "nodes"):
        v = whole_number(cmn.take(k), cmn.key(k))
        if v is not None:
            res.set(f"python.clustermanager.{camel(k)}", v)
    _import_python_spark(py, res, modules)
    _import_python_clients(py, res, modules)


def _import_python_spark(py: Section, res: Result, modules: list[str]) -> None:
    """The Spark driver in FATE Flow and the HDFS it uses (external ones replace the modules)."""
    spark = py.sub("spark")
    for k in ("cores_per_node", "nodes", "portMaxRetries", "driverStartPort", "blockManagerStartPort"):
        v = whole_number(spark.take(k), spark.key(k))
        if v is not None:
            res.set(f"python.spark.{camel(k)}", v)
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
                v = whole_number(part.take(k), part.key(k))
                if v is not None:
                    res.set(f"python.{svc}.{camel(k)}", v)
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
                    res.set(f"python.pulsar.{camel(k)}", whole_number(v) if k == "topic_ttl" else v)
    nginx = py.sub("nginx")
    host = nginx.take("host")
    hp, gp = (
        whole_number(nginx.take("http_port"), nginx.key("http_port")),
        whole_number(nginx.take("grpc_port"), nginx.key("grpc_port")),
    )
    if host and host != "nginx":
        res.set("python.nginx", {"host": host, **({"httpPort": hp} if hp else {}), **({"grpcPort": gp} if gp else {})})
    hive = py.sub("hive")
    if hive.has("host"):
        res.set(
            "python.hive",
            {
                "host": hive.take("host"),
                **({"port": whole_number(hive.take("port"), hive.key("port"))} if hive.has("port") else {}),
                **{camel(k): hive.take(k) for k in ("auth_mechanism", "username") if hive.has(k)},
            },
        )
        res.secret("hivePassword", "python.hive.password", hive.take("password"))
    for k in ("port", "auth_mechanism", "username", "password", "host"):
        hive.take(k)
