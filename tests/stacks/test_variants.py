"""The conditional objects and settings of KubeFATE's reference section 2.2, switched on by configuration."""

from __future__ import annotations

import json

from components.files import parse_properties
from tests.conftest import container, objects_by, render
from tests.stacks.variants import VARIANTS


def test_lbrollsite_balances_over_exchanges():
    r = render(VARIANTS["eggroll-lbrollsite-subpaths"])
    dep = r.get("Deployment", "rollsite")
    assert [c["name"] for c in dep["spec"]["template"]["spec"]["containers"]] == ["rollsite", "exchange"]
    assert r.get("Service", "exchange")["spec"]["ports"][0]["port"] == 9390
    data = r.get("ConfigMap", "rollsite-config")["data"]
    assert json.loads(data["route_table.json"])["route_table"]["default"] == {
        "default": [{"ip": "exchange", "port": 9390}]
    }
    conf = data["nginx.conf"]
    assert "server 10.0.1.1:30910;" in conf and "server 10.0.2.1:30910;" in conf and "least_conn;" in conf
    assert "client_max_body_size 8M;" in conf and "listen 9390 http2;" in conf
    mounts = container(dep, "exchange")["volumeMounts"]
    assert {"name": "rollsite-parts", "mountPath": "/etc/nginx/nginx.conf", "subPath": "nginx.conf"} in mounts
    sub_paths = {
        m["mountPath"]: m.get("subPath") for m in container(r.get("StatefulSet", "mysql"), "mysql")["volumeMounts"]
    }
    assert sub_paths["/var/lib/mysql"] == "fate-mysql"


def test_rollsite_tls_and_polling_server():
    r = render(VARIANTS["eggroll-persistence-tls-polling-server"])
    c = container(r.get("Deployment", "rollsite"), "rollsite")
    assert {"name": "eggroll-certs", "mountPath": "/data/projects/fate/eggroll/conf/cert", "readOnly": True} in c[
        "volumeMounts"
    ]
    extra = parse_properties(r.get("ConfigMap", "rollsite-config")["data"]["rollsite.properties"])
    # the TLS listener starts when the server certificate and key are configured (eggroll 2.5.1 EggSiteBootstrap)
    assert extra["eggroll.core.security.crt.path"] == "/data/projects/fate/eggroll/conf/cert/server.crt"
    assert extra["eggroll.rollsite.secure.port"] == "9380"
    assert extra["eggroll.rollsite.polling.server.enabled"] == "true"
    # the shared eggroll-config stays free of rollsite-only keys (they crashed other eggroll modules, KubeFATE #703)
    shared = parse_properties(r.get("ConfigMap", "eggroll-config")["data"]["eggroll.properties"])
    assert not any(k.startswith("eggroll.core.security") or "polling" in k for k in shared)
    routes = json.loads(r.get("ConfigMap", "rollsite-config")["data"]["route_table.json"])["route_table"]
    assert routes["10000"] == routes["10001"] == {"default": [{"port": -1, "ip": "", "is_polling": True}]}
    svc = r.get("Service", "rollsite")["spec"]
    assert svc["type"] == "LoadBalancer" and svc["loadBalancerIP"] == "10.0.0.10"
    assert svc["loadBalancerSourceRanges"] == ["203.0.113.0/24"]
    assert r.get("StatefulSet", "python")["spec"]["replicas"] == 2
    board = parse_properties(r.get("ConfigMap", "fateboard-config")["data"]["application.properties"])
    assert board["fateflow.url-list"] == "http://python-0.fateflow:9380;http://python-1.fateflow:9380"
    assert r.get("StatefulSet", "nodemanager")["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "fast"


def test_gpu_party():
    r = render(VARIANTS["eggroll-polling-client-gpu"])
    flow = container(r.get("StatefulSet", "python"), "fateflow")
    assert flow["image"] == "federatedai/fateflow-nn-gpu:1.11.2-release"
    assert flow["resources"]["limits"]["nvidia.com/gpu"] == "1" == flow["resources"]["requests"]["nvidia.com/gpu"]
    assert (
        container(r.get("Deployment", "rollsite"), "rollsite")["image"] == "federatedai/eggroll-nn-gpu:1.11.2-release"
    )
    spec = r.get("StatefulSet", "python")["spec"]["template"]["spec"]
    assert (
        spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"} and spec["tolerations"][0]["key"] == "nvidia.com/gpu"
    )
    extra = parse_properties(r.get("ConfigMap", "rollsite-config")["data"]["rollsite.properties"])
    assert extra == {"eggroll.rollsite.polling.client.enabled": "true"}
    routes = json.loads(r.get("ConfigMap", "rollsite-config")["data"]["route_table.json"])["route_table"]
    assert routes["default"] == {"default": [{"ip": "exchange.fate.example", "port": 9370}]}


def test_istio_replaces_ingresses():
    r = render(VARIANTS["eggroll-istio"])
    kinds = r.kinds_names()
    assert ("Gateway", "fate-9999-gateway") in kinds
    assert ("VirtualService", "fateboard") in kinds and ("VirtualService", "notebook") in kinds
    assert not objects_by(r, "Ingress")
    gateway = r.get("Gateway", "fate-9999-gateway")["spec"]
    assert {s["port"]["name"] for s in gateway["servers"]} == {"http", "fateboard-https", "client-https"}
    vs = r.get("VirtualService", "fateboard")["spec"]
    assert (
        vs["gateways"] == ["fate-9999-gateway"] and vs["http"][0]["route"][0]["destination"]["port"]["number"] == 8080
    )
    python = r.get("StatefulSet", "python")["spec"]["template"]
    assert "initContainers" not in python["spec"]  # no network for init containers before the sidecar
    assert python["metadata"]["annotations"]["sidecar.istio.io/rewriteAppHTTPProbers"] == "false"


def test_external_mysql():
    r = render(VARIANTS["eggroll-external-mysql"])
    assert ("StatefulSet", "mysql") not in r.kinds_names()
    props = parse_properties(r.get("ConfigMap", "eggroll-config")["data"]["eggroll.properties"])
    assert props["eggroll.resourcemanager.clustermanager.jdbc.url"].startswith("jdbc:mysql://mysql.db.bank.example:3307/")
    env = {e["name"]: e.get("value") for e in container(r.get("StatefulSet", "python"), "ping-mysql")["env"]}
    assert env["MYSQL_HOST"] == "mysql.db.bank.example" and env["MYSQL_PORT"] == "3307"


def test_external_spark_driver_ports_and_public_pulsar():
    r = render(VARIANTS["spark-external-spark-driver-ports"])
    kinds = r.kinds_names()
    assert ("Deployment", "spark-master") not in kinds  # external Spark
    driver = r.get("Service", "fateflow-sparkdriver")["spec"]
    assert driver["type"] == "NodePort"
    assert {(p["name"], p["port"], p["nodePort"]) for p in driver["ports"]} == {
        ("spark-driver-port-0", 31000, 31000), ("spark-driver-port-1", 31001, 31001),
        ("spark-block-manager-port-0", 31100, 31100), ("spark-block-manager-port-1", 31101, 31101)}
    defaults = r.get("ConfigMap", "python-config")["data"]["spark-defaults.conf"]
    assert "spark.master                      spark://spark.bank.example:7077" in defaults
    assert "spark.driver.host                 10.1.2.3" in defaults
    public = r.get("Service", "pulsar-public-tls")["spec"]
    assert public["type"] == "LoadBalancer" and [p["port"] for p in public["ports"]] == [6651]
    env = container(r.get("StatefulSet", "pulsar"), "pulsar")["env"]
    assert {"name": "PULSAR_MEM", "value": "-Xms2g -Xmx2g"} in env
    namenode = r.get("StatefulSet", "namenode")["spec"]["template"]["spec"]
    assert namenode["initContainers"][0]["name"] == "delete-lost-found"  # persistence: clear lost+found


def test_private_registry_hive_and_serving_registry():
    r = render(VARIANTS["spark-rabbitmq-hive-registry"])
    images = {
        c["image"]
        for o in r.objects
        if o["kind"] in ("Deployment", "StatefulSet")
        for c in o["spec"]["template"]["spec"]["containers"] + o["spec"]["template"]["spec"].get("initContainers", [])
    }
    assert all(i.startswith("harbor.bank.example/federatedai/") for i in images), images
    assert "harbor.bank.example/federatedai/mysql:8.0.28" in images
    import yaml
    conf = yaml.safe_load(r.get("ConfigMap", "python-config")["data"]["service_conf.yaml"])
    assert conf["use_registry"] is True and conf["zookeeper"]["hosts"] == ["zk.serving.example:2181"]
    assert (
        conf["fate_on_spark"]["hive"]["host"] == "hive.bank.example" and conf["fate_on_spark"]["hive"]["password"] == ""
    )
    assert conf["servings"]["hosts"] == ["10.0.0.5:30095"]
    pulls = {c["imagePullPolicy"] for o in r.objects if o["kind"] == "StatefulSet"
             for c in o["spec"]["template"]["spec"]["containers"]}
    assert pulls == {"Always"}


def test_serving_with_external_redis_and_istio():
    r = render(VARIANTS["serving-external-redis-istio"])
    assert ("Deployment", "serving-redis") not in r.kinds_names()
    props = parse_properties(r.get("ConfigMap", "serving-server-config")["data"]["serving-server.properties"])
    assert (
        props["redis.ip"] == "redis.cache.example" and props["redis.port"] == "6380" and props["cache.type"] == "redis"
    )
    vs = r.get("VirtualService", "fate-serving-ingress")["spec"]["http"][0]
    assert vs["match"] == [{"uri": {"prefix": "/serving-proxy-9999"}}] and vs["rewrite"] == {"uri": "/"}
    assert vs["route"][0]["destination"] == {"host": "serving-proxy", "port": {"number": 8059}}
    zk = r.get("StatefulSet", "serving-zookeeper")
    env = {e["name"]: e.get("value") for e in container(zk, "zookeeper")["env"]}
    assert env["ZOO_SERVERS"].startswith("serving-zookeeper-0.serving-zookeeper-headless.fate-serving-9999.svc")
    assert zk["spec"]["serviceName"] == "serving-zookeeper-headless"


def test_exchange_with_all_modules():
    r = render(VARIANTS["exchange-all-modules-tls"])
    routes = json.loads(r.get("ConfigMap", "rollsite-config")["data"]["route_table.json"])["route_table"]
    assert routes["default"] == {"default": [{"ip": "upstream.exchange.example", "port": 9370}]}
    assert "fateflow" not in routes["1"]
    props = parse_properties(r.get("ConfigMap", "rollsite-config")["data"]["rollsite.properties"])
    assert props["eggroll.core.security.key.path"] == "/data/projects/fate/eggroll/conf/cert/server.key"
    assert r.get("Deployment", "nginx")["spec"]["replicas"] == 2
    # no fateflow on an exchange, and no live placeholder to fall back to (the exchange itself, under KubeFATE)
    assert "server 0.0.0.1 down;" in r.get("ConfigMap", "nginx-config")["data"]["nginx.conf"]
    assert r.get("Service", "traffic-server")["spec"]["type"] == "LoadBalancer"
    assert not objects_by(r, "Secret")  # an exchange holds no password
