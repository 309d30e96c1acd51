"""Every example stack under mocks: KubeFATE parity of objects, Services and config files; wiring between stacks."""

from __future__ import annotations

import json

import pytest
import yaml

from components.files import parse_properties
from tests.conftest import EXAMPLES, ROOT, container, objects_by, render_file, stack_config
from tests.stacks import kubefate_reference as ref

KUBEFATE_EQUIVALENT = {
    "eggroll": ref.EGGROLL, "spark-rabbitmq": ref.SPARK_RABBITMQ, "spark-pulsar": ref.SPARK_PULSAR,
    "spark-local-pulsar": ref.SPARK_LOCAL_PULSAR, "serving": ref.SERVING, "exchange-rollsite": ref.EXCHANGE_ROLLSITE,
    "exchange-pulsar": ref.EXCHANGE_TRAFFIC_SERVER_NGINX,
}
COUNT_KEY = {"eggroll": "eggroll", "spark-rabbitmq": "spark_rabbitmq", "spark-pulsar": "spark_pulsar",
             "spark-local-pulsar": "spark_local_pulsar", "serving": "serving", "exchange-rollsite": "exchange_rollsite",
             "exchange-pulsar": "exchange_pulsar"}


def flavour(path) -> str:
    name = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    if name.startswith("multicloud-"):  # the multi-cloud federation is eggroll parties around a rollsite exchange
        return "exchange-rollsite" if "exchange" in name else "eggroll"
    for key in sorted(KUBEFATE_EQUIVALENT, key=len, reverse=True):
        if name.endswith(key) or name.startswith(key):
            return key
    raise AssertionError(f"no KubeFATE equivalent for {name}")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_includes_every_object_kubefate_renders(path):
    expected = dict(KUBEFATE_EQUIVALENT[flavour(path)])
    # KubeFATE renders an Ingress for example.com hosts when none are configured; fate-pulumi only for real hosts
    ingress_key = {"servingProxy": "serving-proxy", "servingAdmin": "serving-admin"}
    ingress = {ingress_key.get(k, k) for k, v in stack_config(path).get("ingress", {}).items()
               if isinstance(v, dict) and v.get("hosts")}
    expected["Ingress"] = {n for n in expected.get("Ingress", set()) if n in ingress}
    have = render_file(path).kinds_names()
    missing = sorted((kind, name) for kind, names in expected.items() for name in names if (kind, name) not in have)
    assert not missing, f"{path.name}: KubeFATE renders these, fate-pulumi does not: {missing}"
    assert sum(len(v) for v in KUBEFATE_EQUIVALENT[flavour(path)].values()) == ref.COUNTS[COUNT_KEY[flavour(path)]]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_extra_objects_are_secrets_and_the_namespace(path):
    """Beyond KubeFATE's objects: the Secrets that keep passwords out of ConfigMaps, the namespace, NetworkPolicies
    and PodDisruptionBudgets (production hardening), and the
    documented additions (serving-zookeeper-headless: KubeFATE referenced it without creating it). With persistence
    (the fate-pulumi default) serving gets the PVCs KubeFATE creates with `persistence: true` (reference 2.2)."""
    expected = KUBEFATE_EQUIVALENT[flavour(path)]
    extra = {(k, n) for k, n in render_file(path).kinds_names() if n not in expected.get(k, set())}
    allowed_kinds = {"Secret", "Namespace", "NetworkPolicy", "PodDisruptionBudget"}
    others = {(k, n) for k, n in extra if k not in allowed_kinds}
    allowed = {("Service", "serving-zookeeper-headless")}
    if stack_config(path).get("persistence", {}).get("enabled", True):
        allowed |= {("PersistentVolumeClaim", "serving-redis-data"), ("PersistentVolumeClaim", "serving-server-data")}
    assert others <= allowed, others


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_services_expose_the_kubefate_ports(path):
    services = objects_by(render_file(path), "Service")
    for name, svc in services.items():
        ports, headless = ref.SERVICE_PORTS[name]
        assert {p["port"] for p in svc["spec"]["ports"]} == ports, name
        assert (svc["spec"].get("clusterIP") == "None") == headless, name
        for p in svc["spec"]["ports"]:
            assert p["targetPort"] == p["port"], name


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_node_ports_are_those_of_the_stack_config(path):
    """Every NodePort in the config lands on the right Service port, and none appears that was not asked for."""
    values = stack_config(path)
    wanted = {}
    section_service = {"rollsite": "rollsite", "python": "fateflow-client", "nginx": "nginx", "rabbitmq": "rabbitmq",
                       "pulsar": "pulsar", "servingServer": "serving-server", "servingProxy": "serving-proxy",
                       "trafficServer": "traffic-server"}
    for section, service in section_service.items():
        for key, node_port in values.get(section, {}).get("service", {}).get("nodePorts", {}).items():
            wanted[node_port] = ref.NODE_PORT_TARGETS[(service, key)], service
    got = {}
    for name, svc in objects_by(render_file(path), "Service").items():
        for p in svc["spec"]["ports"]:
            if "nodePort" in p:
                got[p["nodePort"]] = p["port"], name
    assert got == wanted


def _cm(path, name, key) -> str:
    return render_file(path).get("ConfigMap", name)["data"][key]


def _examples(flav: str):
    return [p for p in EXAMPLES if flavour(p) == flav]


@pytest.mark.parametrize("path", _examples("eggroll"), ids=lambda p: p.name)
def test_eggroll_config_files(path):
    props = parse_properties(_cm(path, "eggroll-config", "eggroll.properties"))
    assert ref.EGGROLL_PROPERTIES_KEYS <= set(props)
    party_id = stack_config(path)["partyId"]
    assert props["eggroll.rollsite.party.id"] == str(party_id)
    assert props["eggroll.resourcemanager.clustermanager.jdbc.url"].startswith("jdbc:mysql://mysql:3306/eggroll_meta?")
    assert "eggroll.resourcemanager.clustermanager.jdbc.password" not in props  # it lives in a Secret
    routes = json.loads(_cm(path, "rollsite-config", "route_table.json"))
    exchange = stack_config(path)["rollsite"]["exchange"]
    assert routes["route_table"]["default"] == {"default": [{"ip": exchange["host"], "port": exchange["port"]}]}
    assert routes["route_table"][str(party_id)]["fateflow"] == [{"ip": "fateflow", "port": 9360}]
    sql = _cm(path, "mysql-config", "create-eggroll-meta-tables.sql")
    for table in ref.EGGROLL_TABLES:
        assert f"CREATE TABLE IF NOT EXISTS `{table}`" in sql


@pytest.mark.parametrize(
    "path",
    [p for p in EXAMPLES if flavour(p) not in ("serving", "exchange-rollsite", "exchange-pulsar")],
    ids=lambda p: p.name,
)
def test_fateflow_service_conf(path):
    values = stack_config(path)
    conf = yaml.safe_load(_cm(path, "python-config", "service_conf.yaml"))
    assert set(conf) == ref.SERVICE_CONF_SECTIONS
    assert set(conf["fate_on_spark"]) == ref.FATE_ON_SPARK_SECTIONS
    assert conf["party_id"] == values["partyId"]
    computing, federation, storage = {
        "eggroll": ("eggroll", "eggroll", "eggroll"),
        "spark-rabbitmq": ("spark", "rabbitmq", "hdfs"),
        "spark-pulsar": ("spark", "pulsar", "hdfs"),
        "spark-local-pulsar": ("spark", "pulsar", "localfs"),
    }[flavour(path)]
    assert conf["default_engines"] == {"computing": computing, "federation": federation, "storage": storage}
    assert conf["fateflow"]["proxy"] == ("rollsite" if computing == "eggroll" else "nginx")
    assert conf["fateflow"]["host"] == "fateflow_ip"  # replaced by the pod IP at start
    assert conf["database"]["passwd"] == ""  # the readable copy carries no password
    assert (
        conf["servings"]["hosts"] == [f"{values['serving']['host']}:{values['serving']['port']}"]
        if "serving" in values
        else conf["servings"]["hosts"] == []
    )
    spark_defaults = _cm(path, "python-config", "spark-defaults.conf")
    master = {"eggroll": "spark://spark-master:7077", "spark-rabbitmq": "spark://spark-master:7077",
              "spark-pulsar": "spark://spark-master:7077", "spark-local-pulsar": "local[*]"}[flavour(path)]
    assert spark_defaults.split("\n")[0].split() == ["spark.master", master]


@pytest.mark.parametrize("path", _examples("spark-pulsar") + _examples("spark-local-pulsar"), ids=lambda p: p.name)
def test_pulsar_route_table_and_broker(path):
    values = stack_config(path)
    own = values["partyId"]
    table = yaml.safe_load(_cm(path, "pulsar-route-table", "pulsar_route_table.yaml"))
    assert table[own] == {"host": "pulsar", "port": 6650, "sslPort": 6651, "proxy": ""}
    conf = parse_properties(_cm(path, "pulsar-config", "standalone.conf"))
    assert ref.PULSAR_STANDALONE_KEYS <= set(conf)
    exchange = values["pulsar"].get("exchange")
    if exchange:
        assert table["default"] == {"proxy": f"{exchange['host']}:{exchange['port']}", "domain": exchange["domain"]}
        assert conf["tlsEnabled"] == "true" and conf["brokerServicePortTls"] == "6651"
        mounts = {
            m["mountPath"] for m in container(render_file(path).get("StatefulSet", "pulsar"), "pulsar")["volumeMounts"]
        }
        assert "/opt/pulsar/certs" in mounts
    else:
        for peer, route in values["pulsar"]["routeTable"].items():
            assert table[int(peer)] == {**route, "proxy": ""}
        assert "default" not in table
        assert conf["tlsEnabled"] == "false" and conf["brokerServicePort"] == "6650"


@pytest.mark.parametrize("path", _examples("spark-rabbitmq"), ids=lambda p: p.name)
def test_rabbitmq_route_table(path):
    values = stack_config(path)
    table = yaml.safe_load(_cm(path, "rabbitmq-route-table", "rabbitmq_route_table.yaml"))
    expected = {values["partyId"]: {"host": "rabbitmq", "port": 5672}}
    expected.update({int(k): v for k, v in values["rabbitmq"]["routeTable"].items()})
    assert table == expected
    assert (
        _cm(path, "rabbitmq-config", "enabled_plugins").strip()
        == "[rabbitmq_federation_management,rabbitmq_federation]."
    )


@pytest.mark.parametrize("path", [p for p in EXAMPLES if flavour(p).startswith("spark")], ids=lambda p: p.name)
def test_nginx_route_table(path):
    values = stack_config(path)
    table = yaml.safe_load(_cm(path, "nginx-config", "route_table.yaml"))
    own = values["partyId"]
    assert table[own] == {"proxy": [{"host": "nginx", "http_port": 9300, "grpc_port": 9310}],
                          "fateflow": [{"host": "fateflow", "http_port": 9380, "grpc_port": 9360}]}
    exchange = values["nginx"].get("exchange")
    if exchange:
        assert table["default"] == {"proxy": [{"host": exchange["host"], "http_port": exchange["httpPort"],
                                               "grpc_port": exchange["grpcPort"]}]}
    else:
        assert "default" not in table  # no leaked example exchange
    for peer, route in values["nginx"].get("routeTable", {}).items():
        assert table[int(peer)]["fateflow"] == [
            {"host": h["host"], "http_port": h["httpPort"], "grpc_port": h["grpcPort"]} for h in route["fateflow"]
        ]
    assert "balancer_by_lua_file" in _cm(path, "nginx-config", "nginx.conf")


@pytest.mark.parametrize("path", [p for p in EXAMPLES if "fateboard" in {n for _, n in render_file(p).kinds_names()}],
                         ids=lambda p: p.name)
def test_fateboard_properties(path):
    props = parse_properties(_cm(path, "fateboard-config", "application.properties"))
    assert ref.FATEBOARD_KEYS <= set(props)
    assert props["fateflow.url-list"] == "http://python-0.fateflow:9380"
    assert "server.board.login.password" not in props  # the password joins the file from the Secret at start


@pytest.mark.parametrize("path", _examples("serving"), ids=lambda p: p.name)
def test_serving_config_files(path):
    values = stack_config(path)
    server = parse_properties(_cm(path, "serving-server-config", "serving-server.properties"))
    assert ref.SERVING_SERVER_KEYS <= set(server)
    ff = values["servingServer"]["fateflow"]
    assert server["model.transfer.url"] == f"http://{ff['host']}:{ff['port']}/v1/model/transfer"
    assert server["remoteModelInferenceResultCacheSwitch"] == "true" and server["cache.type"] == "redis"
    assert "redis.password" not in server
    assert ref.SERVING_PROXY_KEYS <= set(parse_properties(_cm(path, "serving-proxy-config", "application.properties")))
    assert ref.SERVING_ADMIN_KEYS <= set(parse_properties(_cm(path, "serving-admin-config", "application.properties")))
    routes = json.loads(_cm(path, "serving-proxy-config", "route_table.json"))["route_table"]
    for peer in values["servingProxy"]["partyList"]:
        assert routes[str(peer["partyId"])] == {"default": [{"ip": peer["host"], "port": peer["port"]}]}
    assert routes["default"] == {"default": [{"ip": "serving-proxy", "port": 8869}]}  # no leaked example exchange
    assert routes[str(values["partyId"])]["serving"] == [{"ip": "serving-server", "port": 8000}]


def test_exchange_rollsite_routes_every_party():
    path = ROOT / "examples" / "Pulumi.exchange-rollsite.yaml"
    routes = json.loads(_cm(path, "rollsite-config", "route_table.json"))["route_table"]
    for p in stack_config(path)["rollsite"]["partyList"]:
        assert routes[str(p["partyId"])] == {"default": [{"ip": p["host"], "port": p["port"]}]}
    props = parse_properties(_cm(path, "rollsite-config", "eggroll.properties"))
    assert props["eggroll.rollsite.party.id"] == "1" and props["eggroll.rollsite.port"] == "9370"


def test_exchange_pulsar_sni_and_records():
    path = ROOT / "examples" / "Pulumi.exchange-pulsar.yaml"
    sni = yaml.safe_load(_cm(path, "traffic-server-sni", "sni.yaml"))
    routes = stack_config(path)["trafficServer"]["sniRoutes"]
    assert sni == {"sni": [{"fqdn": r["fqdn"], "tunnel_route": r["tunnelRoute"]} for r in routes]}
    records = {line.split()[1] for line in _cm(path, "traffic-server-config", "records.config").splitlines()}
    assert ref.TRAFFIC_SERVER_RECORDS <= records


def _stack(name: str) -> dict:
    return stack_config(ROOT / "examples" / f"Pulumi.{name}.yaml")


def test_examples_are_wired_to_each_other():
    """Reference section 4: each address one stack points at is an entry point another stack exposes."""
    # (host, node port) -> {(section, port key)}; alternatives of one party (rabbitmq or pulsar) share a slot
    exposed: dict[tuple, set] = {}
    for path in EXAMPLES:
        values = stack_config(path)
        for section in (
            "rollsite",
            "python",
            "nginx",
            "rabbitmq",
            "pulsar",
            "servingProxy",
            "servingServer",
            "trafficServer",
        ):
            for key, port in values.get(section, {}).get("service", {}).get("nodePorts", {}).items():
                exposed.setdefault((values["publicHost"], port), set()).add((section, key))

    def reaches(host, port, section, key):
        assert (section, key) in exposed.get((host, port), set()), (host, port, section, key)

    for pid in (9999, 10000):
        egg = _stack(f"party-{pid}-eggroll")
        reaches(egg["rollsite"]["exchange"]["host"], egg["rollsite"]["exchange"]["port"], "rollsite", "rollsite")
        rmq = _stack(f"party-{pid}-spark-rabbitmq")
        for route in rmq["rabbitmq"]["routeTable"].values():
            reaches(route["host"], route["port"], "rabbitmq", "amqp")
        pul = _stack(f"party-{pid}-spark-pulsar")
        for route in pul["pulsar"]["routeTable"].values():
            reaches(route["host"], route["port"], "pulsar", "broker")
            reaches(route["host"], route["sslPort"], "pulsar", "brokerTls")
        for name in (f"party-{pid}-spark-rabbitmq", f"party-{pid}-spark-pulsar"):
            for route in _stack(name)["nginx"]["routeTable"].values():
                for h in route["proxy"]:
                    reaches(h["host"], h["httpPort"], "nginx", "http")
                for h in route["fateflow"]:
                    reaches(h["host"], h["httpPort"], "python", "http")
                    reaches(h["host"], h["grpcPort"], "python", "grpc")
        local = _stack(f"party-{pid}-spark-local-pulsar")
        reaches(local["pulsar"]["exchange"]["host"], local["pulsar"]["exchange"]["port"], "trafficServer", "tls")
        reaches(local["nginx"]["exchange"]["host"], local["nginx"]["exchange"]["httpPort"], "nginx", "http")
        serving = _stack(f"serving-{pid}")
        reaches(
            serving["servingServer"]["fateflow"]["host"], serving["servingServer"]["fateflow"]["port"], "python", "http"
        )
        for peer in serving["servingProxy"]["partyList"]:
            reaches(peer["host"], peer["port"], "servingProxy", "inter")
        reaches(egg["serving"]["host"], egg["serving"]["port"], "servingServer", "grpc")
    for p in _stack("exchange-rollsite")["rollsite"]["partyList"]:
        reaches(p["host"], p["port"], "rollsite", "rollsite")
    for r in _stack("exchange-pulsar")["trafficServer"]["sniRoutes"]:
        host, port = r["tunnelRoute"].rsplit(":", 1)
        reaches(host, int(port), "pulsar", "brokerTls")


def test_multicloud_federation_is_wired():
    """Each party reaches the exchange's load balancer, the exchange each party's (LB port or on-prem NodePort)."""
    exchange = _stack("multicloud-exchange-aws")
    parties = {p["partyId"]: p for p in exchange["rollsite"]["partyList"]}
    names = [p for p in EXAMPLES if p.name.startswith("Pulumi.multicloud-party-")]
    assert len(names) == 4 and set(parties) == {stack_config(p)["partyId"] for p in names}
    for path in names:
        values = stack_config(path)
        assert values["rollsite"]["exchange"] == {"host": exchange["publicHost"], "port": 9370}
        svc = render_file(path).get("Service", "rollsite")["spec"]
        entry = parties[values["partyId"]]
        assert entry["host"] == values["publicHost"]
        if svc["type"] == "LoadBalancer":
            assert entry["port"] == svc["ports"][0]["port"] == 9370
        else:
            assert entry["port"] == svc["ports"][0]["nodePort"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_stack_outputs_say_how_to_connect(path):
    values = stack_config(path)
    out = render_file(path).outputs
    assert out["partyId"] == values["partyId"]
    assert out["connect"]["host"] == values["publicHost"]
    assert out["namespace"] == out["name"]
    assert out["summary"]
    for module, ports in out["connect"]["nodePorts"].items():
        for port in ports.values():
            assert 30000 <= port <= 32767, (module, ports)


REGISTRY_EXAMPLES = [p for p in EXAMPLES if "registry" in stack_config(p)]


def test_an_example_shows_a_private_registry():
    # KubeFATE's examples leave the registry empty; ours name one only where a site mirrors every image
    assert [p.name for p in REGISTRY_EXAMPLES] == ["Pulumi.multicloud-party-10002-onprem.yaml"]


def test_without_a_registry_fate_images_are_federatedais_and_third_party_ones_docker_hubs():
    images = {c["image"] for obj in render_file(ROOT / "examples" / "Pulumi.party-9999-eggroll.yaml").objects
              if obj["kind"] in ("Deployment", "StatefulSet")
              for c in obj["spec"]["template"]["spec"]["containers"] + obj["spec"]["template"]["spec"].get(
                  "initContainers", [])}
    assert "mysql:8.0.28" in images and "busybox:1.36" in images, images
    assert not any(i.startswith("federatedai/") and i.split("/")[1].split(":")[0] in ("mysql", "busybox")
                   for i in images), images


@pytest.mark.parametrize("path", REGISTRY_EXAMPLES, ids=lambda p: p.name)
def test_images_come_from_the_configured_registry(path):
    values = stack_config(path)
    for obj in render_file(path).objects:
        if obj["kind"] not in ("Deployment", "StatefulSet"):
            continue
        spec = obj["spec"]["template"]["spec"]
        for c in spec["containers"] + spec.get("initContainers", []):
            assert c["image"].startswith(values["registry"] + "/"), (obj["metadata"]["name"], c["image"])
            assert ":" in c["image"].rsplit("/", 1)[-1], c["image"]  # always a tag


def test_every_resource_uses_the_explicit_provider(stack_file):
    rendered = render_file(stack_file)
    k8s_resources = [r for r in rendered.resources if r.type.startswith("kubernetes:")]
    assert k8s_resources
    [own] = [r.name for r in rendered.resources if r.type == "pulumi:providers:kubernetes"]
    assert own.endswith("-kubernetes")  # the deployment's own provider, named after it
    for r in k8s_resources:
        assert r.provider and f"pulumi:providers:kubernetes::{own}::" in r.provider, (r.type, r.name, r.provider)
