"""Importing KubeFATE cluster files: the rendered result has KubeFATE's objects, Service ports, images and route
tables. The expected values are worked out here from KubeFATE's rules (../shared/reference section 1-3),
independently of the importer.

The cluster files are fate-pulumi's own (tests/fixtures/kubefate): one per case of KubeFATE v1.11.2's example files
(FIXTURE_OF), with the same keys and the same kind of value, other names and addresses. Where KubeFATE's examples sit
beside the clone (../shared/kubefate-examples) they are checked too: each has its fixture, and each imports and
renders like KubeFATE; elsewhere those tests are skipped with the reason.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from fate_pulumi.importer import ClusterFileRefused, import_cluster, main, to_stack_file
from stacks.config import load_config, required_secrets
from tests.conftest import ROOT, TEST_SECRETS, render
from tests.stacks import kubefate_reference as ref

FIXTURES = ROOT / "tests" / "fixtures" / "kubefate"
FILES = sorted(FIXTURES.glob("*.yaml"))

# KubeFATE's example (k8s-deploy/examples/<name>/cluster.yaml) -> the fixture that stands in for it
FIXTURE_OF = {
    "party-9999-cluster": "party-9999-eggroll", "party-10000-cluster": "party-10000-eggroll",
    "party-9999-cluster-gpu": "party-9999-eggroll-gpu", "party-10000-cluster-gpu": "party-10000-eggroll-gpu",
    "party-9999-cluster-serving": "party-9999-serving", "party-10000-cluster-serving": "party-10000-serving",
    "party-9999-cluster-spark-rabbitmq": "party-9999-spark-rabbitmq",
    "party-10000-cluster-spark-rabbitmq": "party-10000-spark-rabbitmq",
    "party-9999-cluster-spark-pulsar": "party-9999-spark-pulsar",
    "party-10000-cluster-spark-pulsar": "party-10000-spark-pulsar",
    "party-9999-cluster-spark-local-pulsar": "party-9999-spark-local-pulsar",
    "party-10000-cluster-spark-local-pulsar": "party-10000-spark-local-pulsar",
    "party-exchange-rollsite": "exchange-rollsite", "party-exchange-trafficServer": "exchange-traffic-server",
    "k8s-deploy-cluster": "defaults-eggroll", "k8s-deploy-cluster-spark-rabbitmq": "defaults-spark-rabbitmq",
    "k8s-deploy-cluster-spark-pulsar": "defaults-spark-pulsar",
    "k8s-deploy-cluster-spark-slim": "defaults-spark-local-pulsar",
    "k8s-deploy-cluster-serving": "defaults-serving",
}

# KubeFATE's own example files: optional, only in a workspace that has them beside the clone
KUBEFATE_EXAMPLES = ROOT.parent / "shared" / "kubefate-examples"
SHARED = sorted(KUBEFATE_EXAMPLES.glob("*/cluster.yaml"))
NO_SHARED = (f"KubeFATE's example cluster files are not beside this clone ({KUBEFATE_EXAMPLES}); the comparison with "
             "them runs only where they are. The fixtures in tests/fixtures/kubefate cover the same cases.")
SHARED_PARAMS = [pytest.param(p, id=p.parent.name) for p in SHARED] or \
    [pytest.param(None, id="kubefate-examples-absent", marks=pytest.mark.skip(reason=NO_SHARED))]


def fixture_file(name: str) -> Path:
    """One of fate-pulumi's KubeFATE cluster files (tests/fixtures/kubefate/<name>.yaml)."""
    path = FIXTURES / f"{name}.yaml"
    assert path.is_file(), path
    return path


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@functools.cache
def _rendered(path: Path):
    """Import and render a cluster file (cached per path: tests must not change the result)."""
    res = import_cluster(_load(path))
    cfg = load_config({**res.config, "development": True})
    values = {**res.config, **{k: TEST_SECRETS[k] for k in required_secrets(cfg)}}
    return res, render(values)


def _kind(data: dict) -> str:
    if data["chartName"] == "fate-serving":
        return "serving"
    if data["chartName"] == "fate-exchange":
        return "exchange_pulsar" if "trafficServer" in data["modules"] else "exchange_rollsite"
    return {("Eggroll",) * 3: "eggroll", ("Spark", "RabbitMQ", "HDFS"): "spark_rabbitmq",
            ("Spark", "Pulsar", "HDFS"): "spark_pulsar", ("Spark_local", "Pulsar", "LocalFS"): "spark_local_pulsar"}[
        (data["computing"], data["federation"], data["storage"])]


EXPECTED = {"eggroll": ref.EGGROLL, "spark_rabbitmq": ref.SPARK_RABBITMQ, "spark_pulsar": ref.SPARK_PULSAR,
            "spark_local_pulsar": ref.SPARK_LOCAL_PULSAR, "serving": ref.SERVING,
            "exchange_rollsite": ref.EXCHANGE_ROLLSITE, "exchange_pulsar": ref.EXCHANGE_TRAFFIC_SERVER_NGINX}
INGRESS_OF = {
    "fateboard": "fateboard",
    "client": "client",
    "spark": "spark",
    "rabbitmq": "rabbitmq",
    "pulsar": "pulsar",
    "servingProxy": "serving-proxy",
    "servingAdmin": "serving-admin",
}


def test_fixtures_are_there():
    """One fixture per case of KubeFATE's examples: every backend, both parties, GPU, serving, both exchanges, and
    the files with every module section left out."""
    assert sorted(p.stem for p in FILES) == sorted(FIXTURE_OF.values()), f"expected the cluster files in {FIXTURES}"
    data = {p.stem: _load(p) for p in FILES}
    assert {_kind(d) for d in data.values()} == set(EXPECTED)
    for kind in ("eggroll", "spark_rabbitmq", "spark_pulsar", "spark_local_pulsar", "serving"):
        assert {d["partyId"] for d in data.values() if _kind(d) == kind} >= {9999, 10000}, kind
    assert {d["partyId"] for d in data.values() if d.get("device") == "GPU"} == {9999, 10000}
    top_level = {"chartName", "chartVersion", "name", "namespace", "partyId", "registry", "pullPolicy",
                 "imagePullSecrets", "persistence", "istio", "podSecurityPolicy", "ingressClassName", "modules",
                 "computing", "federation", "storage", "algorithm", "device", "skippedKeys"}
    without_sections = {_kind(d) for d in data.values() if set(d) <= top_level}
    assert without_sections == {"eggroll", "spark_rabbitmq", "spark_pulsar", "spark_local_pulsar", "serving"}


@pytest.mark.skipif(not SHARED, reason=NO_SHARED)
def test_kubefate_examples_are_there():
    assert len(SHARED) >= 19, f"expected KubeFATE's example cluster files in {KUBEFATE_EXAMPLES}"
    assert {p.parent.name for p in SHARED} == set(FIXTURE_OF), "every KubeFATE example needs its fixture (FIXTURE_OF)"


# Values a fixture may choose freely: names, addresses, ports, credentials. Every other value is the example's.
FREE_KEYS = {"name", "namespace", "partyIp", "partyPort", "nodePort", "httpNodePort", "grpcNodePort", "httpsNodePort",
             "ip", "port", "host", "http_port", "grpc_port", "sslPort", "tunnelRoute", "servingIp", "servingPort",
             "AdapterURL", "username", "password"}


def _leaves(node, path=()) -> dict[tuple, Any]:
    """Every key path of a cluster file -> its value; sections and lists of sections are walked (list items by
    index), lists of plain values are kept whole."""
    if isinstance(node, dict):
        out: dict[tuple, Any] = {path: "section"} if path else {}
        for key, value in node.items():
            out.update(_leaves(value, (*path, str(key))))
        return out
    if isinstance(node, list) and any(isinstance(item, (dict, list)) for item in node):
        out = {path: "list"}
        for i, item in enumerate(node):
            out.update(_leaves(item, (*path, str(i))))
        return out
    return {path: node}


def _shape(value) -> str:
    return "empty" if value in (None, "") else type(value).__name__


def _own_route(path: tuple, own: str) -> bool:
    """A path inside a route table's entry for the party itself."""
    return "route_table" in path and path[path.index("route_table") + 1:path.index("route_table") + 2] == (own,)


@pytest.mark.parametrize("example", SHARED_PARAMS)
def test_fixture_covers_its_kubefate_example(example):
    """The fixture has the same keys as KubeFATE's example, each value of the same kind (empty, text, number, flag,
    section, list) and equal to the example's except names, addresses, ports and credentials (FREE_KEYS); the
    route-table entries of the party itself and the modules are the example's."""
    theirs = _load(example)
    ours = _load(fixture_file(FIXTURE_OF[example.parent.name]))
    their_leaves, our_leaves = _leaves(theirs), _leaves(ours)
    assert set(our_leaves) == set(their_leaves), set(our_leaves) ^ set(their_leaves)
    own = str(theirs["partyId"])
    for path, value in their_leaves.items():
        assert _shape(our_leaves[path]) == _shape(value), path
        if isinstance(value, list):  # modules, skippedKeys: the same entries, in any order
            assert sorted(our_leaves[path]) == sorted(value), path
        elif path[-1] not in FREE_KEYS or _own_route(path, own):
            assert our_leaves[path] == value, path
    assert (ours["name"] == ours["namespace"]) == (theirs["name"] == theirs["namespace"])


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_imported_file_renders_kubefates_objects(path):
    data = _load(path)
    _res, r = _rendered(path)
    expected = EXPECTED[_kind(data)]
    have = r.kinds_names()
    # Ingresses: KubeFATE makes one per UI module (example.com when no host); fate-pulumi only for configured hosts
    with_hosts = {INGRESS_OF[k] for k, v in (data.get("ingress") or {}).items() if v and v.get("hosts")}
    missing = {(k, n) for k, names in expected.items() for n in names
               if (k, n) not in have and not (k == "Ingress" and n not in with_hosts)}
    assert not missing, missing
    extra = {(k, n) for k, n in have if n not in expected.get(k, set())} - {("Service", "serving-zookeeper-headless")}
    # createNamespace is off: KubeFATE's namespace exists already
    assert {k for k, _ in extra} <= {"Secret", "NetworkPolicy", "PodDisruptionBudget"}, extra
    assert ("Namespace", data["namespace"]) not in have


def _kubefate_service_types(data: dict) -> dict[str, tuple[str, dict[int, int]]]:
    """Service -> (type, {port: nodePort}) as KubeFATE renders them from this file (reference 1.3-1.5, 2.4)."""
    out: dict[str, tuple[str, dict[int, int]]] = {}
    modules = data["modules"]

    def add(name, section, ports, default_type="ClusterIP", defaults=None):
        sec = data.get(section) if isinstance(section, str) else section
        svc_type = (sec or {}).get("type") or (default_type if sec is None or defaults is None else "ClusterIP")
        node_ports = {}
        if svc_type in ("NodePort", "LoadBalancer"):
            for key, port in ports.items():
                value = (sec or {}).get(key) if sec else (defaults or {}).get(key)
                if value:
                    node_ports[port] = int(value)
        out[name] = (svc_type, node_ports)

    if data["chartName"] == "fate":
        if "rollsite" in modules:
            add("rollsite", "rollsite", {"nodePort": 9370})
        if "python" in modules:
            add("fateflow-client", "python", {"grpcNodePort": 9360, "httpNodePort": 9380})
        if "nginx" in modules:
            add("nginx", "nginx", {"httpNodePort": 9300, "grpcNodePort": 9310})
        if "rabbitmq" in modules:
            add("rabbitmq", "rabbitmq", {"nodePort": 5672})
        if "pulsar" in modules:
            add("pulsar", "pulsar", {"httpNodePort": 6650, "httpsNodePort": 6651})
    elif data["chartName"] == "fate-exchange":
        if "rollsite" in modules:
            add("rollsite", "rollsite", {"nodePort": 9370})
        if "trafficServer" in modules:
            add("traffic-server", "trafficServer", {"nodePort": 443})
        if "nginx" in modules:
            add("nginx", "nginx", {"httpNodePort": 9300, "grpcNodePort": 9310}, "NodePort",
                {"httpNodePort": 30003, "grpcNodePort": 30008})
    else:
        add("serving-proxy", "servingProxy", {"nodePort": 8869}, "NodePort", {"nodePort": 30109})
        add("serving-server", "servingServer", {"nodePort": 8000}, "NodePort", {"nodePort": 30209})
    return out


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_imported_services_match_kubefate(path):
    data = _load(path)
    _res, r = _rendered(path)
    for name, (svc_type, node_ports) in _kubefate_service_types(data).items():
        svc = r.get("Service", name)["spec"]
        assert svc["type"] == svc_type, name
        assert {p["port"]: p["nodePort"] for p in svc["ports"] if "nodePort" in p} == node_ports, name
    for obj in r.objects:
        if obj["kind"] == "Service":
            ports, headless = ref.SERVICE_PORTS[obj["metadata"]["name"]]
            assert {p["port"] for p in obj["spec"]["ports"]} == ports


def _kubefate_images(data: dict) -> set[str]:
    """FATE-built images KubeFATE pulls for this file (reference 1.2)."""
    registry = data.get("registry") or "federatedai"
    tag = "2.1.6-release" if data["chartName"] == "fate-serving" else "1.11.2-release"
    modules = data["modules"]
    if data["chartName"] == "fate-serving":
        return {
            f"{registry}/{m}:{tag}"
            for m, key in (
                ("serving-proxy", "servingProxy"),
                ("serving-server", "servingServer"),
                ("serving-admin", "servingAdmin"),
            )
            if key in modules
        }
    if data["chartName"] == "fate-exchange":
        images = set()
        if "rollsite" in modules:
            images.add(f"{registry}/eggroll:{tag}")
        if "nginx" in modules:
            images.add(f"{registry}/nginx:{tag}")
        return images
    flavour = {"NN": "-nn", "ALL": "-all"}.get(data.get("algorithm", ""), "") + \
        {"IPCL": "-ipcl", "GPU": "-gpu"}.get(data.get("device", ""), "")
    spark = "-spark" if data["computing"] in ("Spark", "Spark_local") else ""
    images = {f"{registry}/fateflow{spark}{flavour}:{tag}"}
    if "rollsite" in modules:
        images.add(f"{registry}/eggroll{flavour}:{tag}")
    for m in ("fateboard", "client", "nginx"):
        if m in modules:
            images.add(f"{registry}/{m}:{tag}")
    if "spark" in modules:
        images |= {f"{registry}/spark-master:{tag}", f"{registry}/spark-worker{flavour}:{tag}"}
    if "hdfs" in modules:
        images |= {
            f"{registry}/hadoop-namenode:2.0.0-hadoop3.2.1-java8",
            f"{registry}/hadoop-datanode:2.0.0-hadoop3.2.1-java8",
        }
    if "rabbitmq" in modules:
        images.add(f"{registry}/rabbitmq:3.8.3-management")
    if "pulsar" in modules:
        images.add(f"{registry}/pulsar:2.10.1")
    return images


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_imported_images_match_kubefate(path):
    data = _load(path)
    _res, r = _rendered(path)
    images = {c["image"] for o in r.objects if o["kind"] in ("Deployment", "StatefulSet")
              for c in o["spec"]["template"]["spec"]["containers"]}
    assert _kubefate_images(data) <= images
    fate_built = {i for i in images if i.startswith("federatedai/")}
    assert fate_built - _kubefate_images(data) <= {"federatedai/trafficserver:latest"}  # KubeFATE pulls it untagged


def _own(data):
    return int(data["partyId"])


def _config_file(rendered, config_map: str, name: str):
    """A config file of a rendered ConfigMap, parsed (JSON or YAML by its name)."""
    text = rendered.get("ConfigMap", config_map)["data"][name]
    return json.loads(text) if name.endswith(".json") else yaml.safe_load(text)


@pytest.mark.parametrize("path", [p for p in FILES if "rollsite" in _load(p)["modules"]], ids=lambda p: p.stem)
def test_imported_rollsite_route_table(path):
    data = _load(path)
    _res, r = _rendered(path)
    table = _config_file(r, "rollsite-config", "route_table.json")["route_table"]
    rs = data.get("rollsite") or {}
    exchange = rs.get("exchange")
    assert table["default"] == {"default": [{"ip": exchange["ip"], "port": exchange["port"]} if exchange
                                            else {"ip": "rollsite", "port": 9370}]}
    for p in rs.get("partyList") or []:
        assert table[str(p["partyId"])] == {"default": [{"ip": p["partyIp"], "port": p["partyPort"]}]}
    assert table[str(_own(data))]["default"] == [{"ip": "rollsite", "port": 9370}]


@pytest.mark.parametrize("path", [p for p in FILES if "pulsar" in _load(p)["modules"]], ids=lambda p: p.stem)
def test_imported_pulsar_route_table(path):
    data = _load(path)
    _res, r = _rendered(path)
    table = _config_file(r, "pulsar-route-table", "pulsar_route_table.yaml")
    pulsar = data.get("pulsar") or {}
    expected: dict[int | str, Any] = {
        int(k): {**v, "proxy": v.get("proxy", "")} for k, v in (pulsar.get("route_table") or {}).items()}
    expected.setdefault(_own(data), {"host": "pulsar", "port": 6650, "sslPort": 6651, "proxy": ""})
    if pulsar.get("exchange"):
        ex = pulsar["exchange"]
        expected["default"] = {"proxy": f"{ex['ip']}:{ex['port']}", "domain": ex.get("domain", "fate.org")}
    assert table == expected


@pytest.mark.parametrize("path", [p for p in FILES if "rabbitmq" in _load(p)["modules"]], ids=lambda p: p.stem)
def test_imported_rabbitmq_route_table(path):
    data = _load(path)
    _res, r = _rendered(path)
    table = _config_file(r, "rabbitmq-route-table", "rabbitmq_route_table.yaml")
    expected = {int(k): v for k, v in ((data.get("rabbitmq") or {}).get("route_table") or {}).items()}
    expected.setdefault(_own(data), {"host": "rabbitmq", "port": 5672})
    assert table == expected


@pytest.mark.parametrize("path", [p for p in FILES if "nginx" in _load(p)["modules"]], ids=lambda p: p.stem)
def test_imported_nginx_route_table(path):
    data = _load(path)
    res, r = _rendered(path)
    table = _config_file(r, "nginx-config", "route_table.yaml")
    nginx = data.get("nginx") or {}
    expected: dict[int | str, Any] = {
        int(k): {
            kk: [{"host": str(h["host"]).strip(), "http_port": h["http_port"], "grpc_port": h["grpc_port"]} for h in vv]
            for kk, vv in v.items()
        }
        for k, v in (nginx.get("route_table") or {}).items()
    }
    if data["chartName"] == "fate":
        expected[_own(data)] = {"proxy": [{"host": "nginx", "http_port": 9300, "grpc_port": 9310}],
                                "fateflow": [{"host": "fateflow", "http_port": 9380, "grpc_port": 9360}]}
        if nginx.get("exchange"):
            ex = nginx["exchange"]
            expected["default"] = {
                "proxy": [{"host": ex["ip"], "http_port": ex["httpPort"], "grpc_port": ex["grpcPort"]}]
            }
        else:  # KubeFATE's leaked example exchange is the one deliberate difference, and it is noted
            assert any("192.168.10.1" in n for n in res.notes)
    else:
        local = {"proxy": [{"host": "nginx", "http_port": 9300, "grpc_port": 9310}]}
        expected["default"] = local
        expected[_own(data)] = local
    assert table == expected


@pytest.mark.parametrize("path", [p for p in FILES if _load(p)["chartName"] == "fate-serving"], ids=lambda p: p.stem)
def test_imported_serving(path):
    data = _load(path)
    res, r = _rendered(path)
    table = _config_file(r, "serving-proxy-config", "route_table.json")["route_table"]
    for p in (data.get("servingProxy") or {}).get("partyList") or []:
        assert table[str(p["partyId"])] == {"default": [{"ip": p["partyIp"], "port": int(p["partyPort"])}]}
    props = r.get("ConfigMap", "serving-server-config")["data"]["serving-server.properties"]
    ff = (data.get("servingServer") or {}).get("fateflow") or {"ip": "fateflow", "port": 9380}
    assert f"model.transfer.url=http://{ff['ip']}:{ff['port']}/v1/model/transfer" in props


@pytest.mark.parametrize("path", SHARED_PARAMS)
def test_kubefate_example_imports_and_renders(path):
    """Each of KubeFATE's own example files still imports and renders with KubeFATE's objects, Services, images and
    route tables (the checks above, on the original instead of the fixture)."""
    data = _load(path)
    test_imported_file_renders_kubefates_objects(path)
    test_imported_services_match_kubefate(path)
    test_imported_images_match_kubefate(path)
    for module, check in (
        ("rollsite", test_imported_rollsite_route_table),
        ("pulsar", test_imported_pulsar_route_table),
        ("rabbitmq", test_imported_rabbitmq_route_table),
        ("nginx", test_imported_nginx_route_table),
    ):
        if module in data["modules"]:
            check(path)
    if data["chartName"] == "fate-serving":
        test_imported_serving(path)


def test_exchange_sni_routes_imported():
    path = fixture_file("exchange-traffic-server")
    data = _load(path)
    _res, r = _rendered(path)
    sni = _config_file(r, "traffic-server-sni", "sni.yaml")["sni"]
    assert sni == [
        {"fqdn": s["fqdn"], "tunnel_route": s["tunnelRoute"]} for s in data["trafficServer"]["route_table"]["sni"]
    ]


def test_passwords_are_never_copied(tmp_path):
    data = _load(fixture_file("party-9999-serving"))
    data["servingRedis"] = {"password": "Very-Secret-Redis"}
    res = import_cluster(data)
    text = to_stack_file(res, "x")
    assert "Very-Secret-Redis" not in text
    assert "pulumi config set --secret fate:servingRedisPassword '<value of servingRedis.password>'" in text
    assert "fate:servingAdminPassword" in text  # needed although the file had none


def test_quirks_are_noted_not_hidden():
    data = _load(fixture_file("defaults-spark-pulsar"))
    data["python"] = {"type": "ClusterIP", "failedTaskAutoRetryTimes": 5}
    data["nodemanager"] = {"replicas": 3}
    data["rabbitmq"] = {"user": "admin"}
    res = import_cluster(data)
    notes = "\n".join(res.notes)
    assert "python.storageClass is not set: KubeFATE would request a StorageClass named 'python'" in notes
    assert "python.failedTaskAutoRetryTimes: emitted by KubeFATE but used by none of its templates" in notes
    assert "rabbitmq.user: KubeFATE ignored it" in notes
    assert "sessionProcessorsPerNode is not set in a nodemanager section" in notes
    assert res.config["nodemanager"]["sessionProcessorsPerNode"] == 2


@pytest.mark.parametrize(
    "change,key",
    [
        (lambda d: d["rollsite"].update(nodeport=30091), "rollsite.nodeport"),
        (lambda d: d.update(imageTag="1.11.2-release"), "imageTag"),
        (lambda d: d.update(chartVersion="v1.10.0"), "chartVersion"),
        (
            lambda d: d.update(computing="Spark_local", federation="RabbitMQ", storage="LocalFS"),
            "computing/federation/storage",
        ),
    ],
)
def test_refused_keys_are_named(change, key):
    data = _load(fixture_file("party-9999-eggroll"))
    change(data)
    with pytest.raises(ClusterFileRefused) as err:
        import_cluster(data)
    assert any(p.startswith(key) for p in err.value.problems), err.value.problems


def test_cli(tmp_path, capsys):
    assert main([str(fixture_file("exchange-rollsite"))]) == 0
    out = capsys.readouterr().out
    stack = yaml.safe_load(out)["config"]
    assert stack["fate:kind"] == "exchange" and len(stack["fate:rollsite"]["partyList"]) == 2
    bad = tmp_path / "cluster.yaml"
    bad.write_text(yaml.safe_dump({**_load(fixture_file("exchange-rollsite")), "typo": 1}))
    assert main([str(bad)]) == 2
    assert "typo: not a KubeFATE v1.11.2 option" in capsys.readouterr().err


def _variant(**changes) -> Path:
    """The eggroll party fixture with changes, written where the importer can read it."""
    import tempfile

    data = _load(fixture_file("party-9999-eggroll"))
    for key, value in changes.items():
        data[key] = value
    path = Path(tempfile.mkdtemp()) / "cluster.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_imported_exchange_tls_and_polling_client():
    path = _variant(rollsite={"type": "NodePort", "nodePort": 30091, "enableTLS": True,
                              "exchange": {"ip": "192.168.0.1", "port": 30000}})
    test_imported_rollsite_route_table(path)
    res, r = _rendered(path)
    props = r.get("ConfigMap", "rollsite-config")["data"]["rollsite.properties"]
    assert "eggroll.rollsite.secure.port=9380" in props and "eggroll.core.security.crt.path=" in props
    assert any("never marked a route secure" in n for n in res.notes), res.notes
    client = _variant(
        rollsite={"polling": {"enabled": True, "type": "client", "server": {"ip": "10.1.1.1", "port": 9370}}}
    )
    _res, r = _rendered(client)
    table = _config_file(r, "rollsite-config", "route_table.json")["route_table"]
    assert table["default"] == {"default": [{"ip": "10.1.1.1", "port": 9370}]}  # KubeFATE: the polling server
    server = _variant(rollsite={"polling": {"enabled": True, "type": "server", "clientList": [{"partID": 10000}],
                                            "concurrency": 80}})
    _res, r = _rendered(server)
    table = _config_file(r, "rollsite-config", "route_table.json")["route_table"]
    assert table["10000"] == {"default": [{"port": -1, "ip": "", "is_polling": True}]}
    assert (
        "eggroll.rollsite.polling.concurrency=80"
        in r.get("ConfigMap", "rollsite-config")["data"]["rollsite.properties"]
    )


def test_imported_lbrollsite():
    data = _load(fixture_file("party-9999-eggroll"))
    data["modules"] = ["lbrollsite" if m == "rollsite" else m for m in data["modules"]]
    data["lbrollsite"] = {"type": "NodePort", "nodePort": 30091, "size": "4M",
                          "exchangeList": [{"id": 1, "ip": "10.0.0.1", "port": 30910}]}
    data.pop("rollsite")
    import tempfile
    path = Path(tempfile.mkdtemp()) / "cluster.yaml"
    path.write_text(yaml.safe_dump(data))
    _res, r = _rendered(path)
    assert ("Service", "exchange") in r.kinds_names()  # reference 2.2: lbrollsite adds Service exchange
    table = _config_file(r, "rollsite-config", "route_table.json")["route_table"]
    assert table["default"] == {"default": [{"ip": "exchange", "port": 9390}]}
    assert "server 10.0.0.1:30910;" in r.get("ConfigMap", "rollsite-config")["data"]["nginx.conf"]


def test_imported_external_mysql_and_spark():
    path = _variant(externalMysqlIp="db.bank.example", externalMysqlPort=3307, externalMysqlDatabase="fate",
                    externalMysqlUser="fateuser", externalMysqlPassword="x")
    res, r = _rendered(path)
    assert ("StatefulSet", "mysql") not in r.kinds_names()
    props = r.get("ConfigMap", "eggroll-config")["data"]["eggroll.properties"]
    assert "jdbc:mysql://db.bank.example:3307/fate?" in props and "jdbc.username=fateuser" in props
    assert ("mysqlPassword", "externalMysqlPassword") in res.secrets


LB_PARTY: dict[str, Any] = {  # an eggroll party with lbrollsite and a rollsite section, as KubeFATE's docs pair them
    "name": "fate-9999",
    "namespace": "fate-9999",
    "chartName": "fate",
    "chartVersion": "v1.11.2",
    "partyId": 9999,
    "computing": "Eggroll",
    "federation": "Eggroll",
    "storage": "Eggroll",
    "algorithm": "Basic",
    "device": "CPU",
    "modules": ["lbrollsite", "clustermanager", "nodemanager", "mysql", "python", "fateboard", "client"],
    "lbrollsite": {
        "type": "NodePort",
        "nodePort": 30091,
        "size": "4M",
        "exchangeList": [{"id": 1, "ip": "10.0.0.1", "port": 30910}, {"id": 2, "ip": "10.0.0.2", "port": 30910}],
    },
    "rollsite": {
        "type": "ClusterIP",
        "partyList": [{"partyId": 10000, "partyIp": "192.168.10.1", "partyPort": 30101}],
        "polling": {"enabled": True, "type": "server", "clientList": [{"partID": 10001}], "concurrency": 60},
    },
}


def test_lbrollsite_with_a_rollsite_section_keeps_peers_and_polling():
    """KubeFATE renders both sections: peers (top-level partyList) and polling come from `rollsite`, the Deployment,
    Service and balancer from `lbrollsite` (FATE chart values-template.yaml, templates/backends/eggroll/lb-rollsite)."""
    res = import_cluster(LB_PARTY)
    assert res.config["rollsite"]["partyList"] == [{"partyId": 10000, "host": "192.168.10.1", "port": 30101}]
    assert res.config["rollsite"]["polling"] == {
        "enabled": True,
        "type": "server",
        "clientList": [10001],
        "concurrency": 60,
    }
    assert res.config["rollsite"]["service"] == {"type": "NodePort", "nodePorts": {"rollsite": 30091}}
    assert [m["host"] for m in res.config["rollsite"]["exchangeList"]] == ["10.0.0.1", "10.0.0.2"]
    assert any(n.startswith("rollsite.type: not used with lbrollsite") for n in res.notes), res.notes
    cfg = load_config({**res.config, "development": True})
    table = json.loads(render({**res.config, **{k: TEST_SECRETS[k] for k in required_secrets(cfg)}})
                       .get("ConfigMap", "rollsite-config")["data"]["route_table.json"])["route_table"]
    assert table["10000"] == {"default": [{"ip": "192.168.10.1", "port": 30101}]}
    assert table["default"] == {"default": [{"ip": "exchange", "port": 9390}]}
    assert table["10001"] == {"default": [{"port": -1, "ip": "", "is_polling": True}]}


def test_lbrollsite_and_rollsite_both_listed_is_refused_with_the_reason():
    with pytest.raises(ClusterFileRefused) as err:
        import_cluster({**LB_PARTY, "modules": ["rollsite", *LB_PARTY["modules"]]})
    assert any("two Deployments named rollsite" in p for p in err.value.problems), err.value.problems


@pytest.mark.parametrize("modules, level", [
    (LB_PARTY["modules"], "privileged"),  # mysql (SYS_NICE) and nodemanager (SYS_PTRACE) are beyond baseline
    (["rollsite"], "baseline"),
])
def test_pod_security_policy_is_imported_as_pod_security_admission(modules, level):
    chart = "fate-exchange" if modules == ["rollsite"] else "fate"
    data = {**LB_PARTY, "chartName": chart, "modules": modules, "podSecurityPolicy": {"enabled": True}}
    if chart == "fate-exchange":
        data = {k: v for k, v in data.items() if k not in ("computing", "federation", "storage", "algorithm", "device",
                                                            "lbrollsite")}
        data["partyId"], data["rollsite"] = 1, {"partyList": LB_PARTY["rollsite"]["partyList"]}
    res = import_cluster(data)
    assert res.config["podSecurity"] == {"admission": level}
    assert any(n.startswith("podSecurityPolicy.enabled: PodSecurityPolicy was removed") for n in res.notes), res.notes
    cfg = load_config({**res.config, "development": True})
    rendered = render({**res.config, **{k: TEST_SECRETS[k] for k in required_secrets(cfg)}})
    # KubeFATE's namespace exists already: the labels arrive by a patch, enforce/warn/audit at the level
    patch = next(r for r in rendered.resources if r.type == "kubernetes:core/v1:NamespacePatch")
    assert patch.inputs["metadata"]["labels"] == {
        f"pod-security.kubernetes.io/{m}": level for m in ("enforce", "warn", "audit")
    }


def test_an_ingress_class_the_network_policies_cannot_place_is_noted():
    res = import_cluster({**LB_PARTY, "ingressClassName": "haproxy"})
    assert res.config["ingress"]["className"] == "haproxy"
    assert any("networkPolicy.ingressNamespaces" in n for n in res.notes), res.notes
    assert not any("networkPolicy" in n for n in import_cluster({**LB_PARTY, "ingressClassName": "nginx"}).notes)


# ------------------------------------------------------------------------------------------------------------------
# Writing the stack file (issue 23 item 2): never over the cluster file; over an existing stack file, merged


SALTED = """\
# party 9999 of the bank federation (ops team)
encryptionsalt: v1:Ks6NjhEa5pA=:v1:Eb0NpmTLWfY6xB1O:9qP4cTr5Kz2S0gk2lRjv0ZrUV2dHpw==
secretsprovider: awskms://alias/fate?region=eu-west-1
encryptedkey: AQICAHhV2ZxYq1cT8bGf0fFqZfJk
config:
  kubernetes:context: bank-prod
  fate:partyId: 9999
  fate:mysqlPassword:
    secure: AAABAJ2r0bYf3c8Xw==
  fate:rollsite:
    service:
      type: NodePort
      nodePorts:
        rollsite: 30000
    tls:
      enabled: true
"""


def _files(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


def test_import_over_a_stack_file_keeps_its_salt_secrets_and_keys(tmp_path, capsys):
    """`pulumi stack init` salted the file and a password was set: the import merges into it. Kept: the encryption
    salt, secrets provider and key, the `secure:` value, the keys the import does not produce (another provider's,
    rollsite.tls), the owner's comment and the file's mode; the cluster file's values win elsewhere."""
    out = tmp_path / "Pulumi.party-9999.yaml"
    out.write_text(SALTED)
    out.chmod(0o640)
    before = yaml.safe_load(SALTED)
    assert main([str(fixture_file("party-9999-eggroll")), "-o", str(out)]) == 0
    summary = capsys.readouterr().err
    doc = yaml.safe_load(out.read_text())
    for key in ("encryptionsalt", "secretsprovider", "encryptedkey"):
        assert doc[key] == before[key], key
    config = doc["config"]
    assert config["fate:mysqlPassword"] == before["config"]["fate:mysqlPassword"]
    assert config["kubernetes:context"] == "bank-prod"
    assert config["fate:rollsite"]["tls"] == {"enabled": True}
    assert config["fate:rollsite"]["service"]["nodePorts"] == {"rollsite": 31910}  # the cluster file's
    assert config["fate:backend"] == "eggroll" and config["fate:rollsite"]["partyList"][0]["partyId"] == 10000
    text = out.read_text()
    assert "# party 9999 of the bank federation (ops team)" in text
    assert "pulumi config set --secret fate:fateboardPassword" in text
    assert "pulumi config set --secret fate:mysqlPassword" not in text  # already set
    assert oct(out.stat().st_mode & 0o777) == oct(0o640)
    assert _files(tmp_path) == {out.name}  # no temporary file left
    assert "changed fate:rollsite.service.nodePorts.rollsite" in summary
    parts = summary.strip().split("; ")
    kept = next(part for part in parts if part.startswith("kept ")).removeprefix("kept ").split(", ")
    assert "its comments (1 lines) kept under the header" in parts
    assert sorted(kept) == sorted(["encryptionsalt", "secretsprovider", "encryptedkey", "kubernetes:context",
                                   "fate:mysqlPassword (secure)", "fate:rollsite.tls"]), summary
    # importing again changes nothing, and the kept comment is not repeated
    assert main([str(fixture_file("party-9999-eggroll")), "-o", str(out)]) == 0
    assert out.read_text() == text
    assert "added" not in capsys.readouterr().err


def test_import_over_a_freshly_initialised_stack_file(tmp_path, capsys):
    out = tmp_path / "Pulumi.ex.yaml"
    out.write_text("encryptionsalt: v1:abc=:v1:def:ghi==\n")
    assert main([str(fixture_file("exchange-rollsite")), "-o", str(out)]) == 0
    doc = yaml.safe_load(out.read_text())
    assert doc["encryptionsalt"] == "v1:abc=:v1:def:ghi==" and doc["config"]["fate:kind"] == "exchange"
    assert list(doc) == ["encryptionsalt", "config"]
    assert "kept encryptionsalt" in capsys.readouterr().err


def test_a_failed_write_leaves_the_stack_file_as_it_was_and_no_script(tmp_path, monkeypatch, capsys):
    """The script is written after the stack file's text is staged and before it replaces the file: when the script
    cannot be written, the old stack file stays and nothing new is left behind."""
    from fate_pulumi import cli
    from fate_pulumi.importer import command

    out = tmp_path / "Pulumi.party-9999.yaml"
    out.write_text(SALTED)

    def full(path, text):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(command, "write_private", full)
    script = tmp_path / "secrets.sh"
    assert cli.main(["import", str(fixture_file("party-9999-eggroll")), "-o", str(out),
                     "--secrets-script", str(script)]) == 2
    assert "secrets.sh: cannot be written (No space left on device)" in capsys.readouterr().err
    assert out.read_text() == SALTED and _files(tmp_path) == {out.name}


def test_import_with_a_script_over_a_stack_file_writes_both(tmp_path):
    from fate_pulumi import cli

    out, script = tmp_path / "Pulumi.party-9999.yaml", tmp_path / "secrets.sh"
    out.write_text(SALTED)
    assert cli.main(["import", str(fixture_file("party-9999-serving")), "-o", str(out), "--secrets-script",
                     str(script)]) == 2
    assert out.read_text() == SALTED and not script.exists()  # a serving file over a party's stack file: refused
    assert main([str(fixture_file("party-9999-eggroll")), "-o", str(out), "--secrets-script", str(script)]) == 0
    assert yaml.safe_load(out.read_text())["encryptionsalt"] == yaml.safe_load(SALTED)["encryptionsalt"]
    assert oct(script.stat().st_mode & 0o777) == oct(0o600) and "pulumi config set --secret" in script.read_text()


def test_render_says_how_to_review_an_imported_file_before_its_passwords_are_set(tmp_path, capsys):
    from fate_pulumi import cli

    out = tmp_path / "Pulumi.party-9999.yaml"
    assert main([str(fixture_file("party-9999-eggroll")), "-o", str(out)]) == 0
    assert f"fate-pulumi render --development {out} out/" in out.read_text()
    capsys.readouterr()
    assert cli.main(["render", str(out), str(tmp_path / "out")]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert errors and all(f"fate-pulumi render --development {out} {tmp_path / 'out'}" in e for e in errors), errors
    assert cli.main(["render", "--development", str(out), str(tmp_path / "out")]) == 0


# ------------------------------------------------------------------------------------------------------------------
# Where peers reach an imported deployment (issue 23 items 5 and 6)


FEDERATION = ("party-9999-eggroll", "party-10000-eggroll", "party-9999-serving", "party-10000-serving")


def _import_files(tmp_path: Path, names, *extra: str) -> dict[str, Path]:
    from fate_pulumi import cli

    out = {}
    for name in names:
        out[name] = tmp_path / f"Pulumi.{name}.yaml"
        assert cli.main(["import", str(fixture_file(name)), "-o", str(out[name]), *extra]) == 0
    return out


def _notes(path: Path) -> list[str]:
    return [line.removeprefix("# note: ") for line in path.read_text().splitlines() if line.startswith("# note: ")]


def _set(path: Path, key: str, value) -> None:
    doc = yaml.safe_load(path.read_text())
    doc["config"][f"fate:{key}"] = value
    path.write_text(yaml.safe_dump(doc))


def _preflight(capsys, *args) -> tuple[int, str]:
    from fate_pulumi import cli

    capsys.readouterr()
    code = cli.main(["preflight", *map(str, args)])
    return code, capsys.readouterr().out


def _peer_entry(peer: str, section: str, party: int) -> str:
    """What the peer's cluster file gives as the address of `party` (its partyList entry)."""
    return next(e["partyIp"] for e in _load(fixture_file(peer))[section]["partyList"] if e["partyId"] == party)


def test_imported_parties_pass_preflight_once_their_notes_are_followed(tmp_path, capsys):
    """Two parties and their FATE-Serving, imported one file at a time: none of the files names its own address, so
    each note says to set fate:publicHost and where KubeFATE's peers name it; set so, every check passes."""
    stacks = _import_files(tmp_path, FEDERATION)
    notes = {name: _notes(path) for name, path in stacks.items()}
    code, table = _preflight(capsys, *stacks.values())
    assert code == 1 and "FAILED" in table
    for name in stacks:
        note = next(n for n in notes[name] if n.startswith("publicHost is not set"))
        assert "set fate:publicHost to it" in note, note
    # what the notes point at: the partyIp the other party lists, the partyIp its FATE-Serving peer lists
    for party, peer in ((9999, 10000), (10000, 9999)):
        assert f"the partyIp of partyId {party} in the other parties' or the exchange's rollsite.partyList" in \
            " ".join(notes[f"party-{party}-eggroll"])
        assert f"the partyIp of partyId {party} in the other parties' servingProxy.partyList" in \
            " ".join(notes[f"party-{party}-serving"])
        _set(stacks[f"party-{party}-eggroll"], "publicHost", _peer_entry(f"party-{peer}-eggroll", "rollsite", party))
        _set(stacks[f"party-{party}-serving"], "publicHost",
             _peer_entry(f"party-{peer}-serving", "servingProxy", party))
    code, table = _preflight(capsys, *stacks.values())
    assert code == 0, table
    assert table.count(" ok ") == 10 and "FAILED" not in table  # 8 targets, 2 ways back
    # the two parties alone: their FATE-Serving is named to preflight as the note on servingIp says
    parties = [stacks["party-9999-eggroll"], stacks["party-10000-eggroll"]]
    external = []
    for name in ("party-9999-eggroll", "party-10000-eggroll"):
        note = next(n for n in notes[name] if n.startswith("servingIp/servingPort"))
        external += ["--external", note.rpartition("--external ")[2]]
    code, table = _preflight(capsys, *parties, *external)
    assert code == 0 and "FAILED" not in table, table


def test_peer_cluster_files_give_the_public_host(tmp_path, capsys):
    """--peer: the federation's other cluster files, read for the address they reach this deployment at. Imported
    so, the four stacks pass preflight as they are."""
    peers = {"party-9999-eggroll": ("party-10000-eggroll", "party-9999-serving"),
             "party-10000-eggroll": ("party-9999-eggroll",),
             "party-9999-serving": ("party-9999-eggroll",),
             "party-10000-serving": ("party-9999-serving",)}
    stacks = {}
    for name, others in peers.items():
        extra = [arg for other in others for arg in ("--peer", str(fixture_file(other)))]
        stacks.update(_import_files(tmp_path, [name], *extra))
    hosts = {name: yaml.safe_load(path.read_text())["config"]["fate:publicHost"] for name, path in stacks.items()}
    assert hosts == {"party-9999-eggroll": "172.16.99.10", "party-10000-eggroll": "172.16.100.10",
                     "party-9999-serving": "172.16.99.10", "party-10000-serving": "172.16.100.10"}
    note = next(n for n in _notes(stacks["party-9999-eggroll"]) if n.startswith("publicHost: "))
    assert "party-10000-eggroll.yaml: rollsite.partyList[0].partyIp" in note
    assert "party-9999-serving.yaml: servingServer.fateflow.ip" in note
    code, table = _preflight(capsys, *stacks.values())
    assert code == 0 and "FAILED" not in table, table


@pytest.mark.parametrize("name, peer, key", [
    ("party-9999-spark-pulsar", "party-10000-spark-pulsar", "pulsar.route_table.9999.host"),
    ("party-10000-spark-rabbitmq", "party-9999-spark-rabbitmq", "rabbitmq.route_table.10000.host"),
    ("party-9999-spark-pulsar", "exchange-traffic-server", "trafficServer.route_table.sni[1].tunnelRoute"),
    ("party-10000-spark-local-pulsar", "exchange-traffic-server", "nginx.route_table.10000.proxy[0].host"),
])
def test_every_backends_routes_name_the_public_host(name, peer, key):
    """Spark parties are reached by their peers' Pulsar, RabbitMQ and nginx route tables, and by an exchange's
    Traffic Server SNI routes (<partyId>.<domain> -> host:port); the address is the one at this party's ports."""
    res = import_cluster(_load(fixture_file(name)), peers=[(peer, _load(fixture_file(peer)))])
    own = _load(fixture_file(name))["partyId"]
    assert res.config["publicHost"] == ("172.16.99.10" if own == 9999 else "172.16.100.10")
    assert any(n.startswith("publicHost: ") and f"{peer}: {key}" in n for n in res.notes), res.notes


def test_the_public_host_from_the_file_itself():
    """A partyList that lists the party itself at its rollsite NodePort, or a load balancer's fixed IP, names the
    address; a route to another port or an in-cluster name does not."""
    data = _load(fixture_file("party-9999-eggroll"))
    data["rollsite"]["partyList"].append({"partyId": 9999, "partyIp": "203.0.113.9", "partyPort": 31910})
    assert import_cluster(data).config["publicHost"] == "203.0.113.9"
    data["rollsite"]["partyList"][-1]["partyPort"] = 31000  # not a port of this party: another address
    assert "publicHost" not in import_cluster(data).config
    data["rollsite"]["partyList"][-1] = {"partyId": 9999, "partyIp": "rollsite.fl-9999", "partyPort": 9370}
    assert "publicHost" not in import_cluster(data).config
    lb = _load(fixture_file("exchange-rollsite"))
    lb["rollsite"] = {**lb["rollsite"], "type": "LoadBalancer", "loadBalancerIP": "198.51.100.7"}
    res = import_cluster(lb)
    assert res.config["publicHost"] == "198.51.100.7"
    assert any(n.startswith("publicHost: 198.51.100.7, where peers reach this exchange (rollsite.loadBalancerIP)")
               for n in res.notes), res.notes


def test_peers_naming_two_addresses_leave_the_choice_to_the_user():
    data = _load(fixture_file("party-9999-eggroll"))
    peer = _load(fixture_file("party-10000-eggroll"))
    peer["rollsite"]["partyList"][0]["partyIp"] = "172.16.99.11"  # another node of the same cluster
    res = import_cluster(data, peers=[("a.yaml", _load(fixture_file("exchange-rollsite"))), ("b.yaml", peer)])
    assert "publicHost" not in res.config
    note = next(n for n in res.notes if n.startswith("publicHost is not set"))
    assert "172.16.99.10: a.yaml: rollsite.partyList[1].partyIp; 172.16.99.11: b.yaml" in note


def _zookeeper_admits(values: dict, namespace: str) -> bool:
    """Whether the rendered NetworkPolicy of serving-zookeeper lets pods of `namespace` reach it on 2181."""
    cfg = load_config({**values, "development": True})
    policy = render({**values, **{k: TEST_SECRETS[k] for k in required_secrets(cfg)}}).get(
        "NetworkPolicy", "serving-zookeeper")
    for rule in policy["spec"]["ingress"]:
        sources = [f.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                   for f in rule.get("from", [])]
        ports = {p["port"] for p in rule.get("ports", [])} or {2181}
        if namespace in sources and 2181 in ports:
            return True
    return False


def test_fate_flow_reaching_an_imported_serving_zookeeper(tmp_path):
    """KubeFATE's layout: FATE Flow (namespace fl-9999) registers with serving-zookeeper.fl-serving-9999:2181. The
    serving cluster file cannot know that namespace; the note names the key that admits it, and following the note
    (or giving the party's file with --peer) admits it."""
    serving = _load(fixture_file("party-9999-serving"))
    res = import_cluster(serving)
    assert not _zookeeper_admits(res.config, "fl-9999")  # the denial the note is about
    note = next(n for n in res.notes if n.startswith("servingZookeeper: FATE Flow of party 9999 registers"))
    assert "list that namespace in fate:networkPolicy.allowNamespaces" in note
    assert _zookeeper_admits({**res.config, "networkPolicy": {"allowNamespaces": ["fl-9999"]}}, "fl-9999")
    assert "host fateflow-client.<that namespace>, port 9380" in note  # the narrower way the note names
    assert _zookeeper_admits({**res.config, "servingServer": {**res.config["servingServer"], "fateflow": {
        "host": "fateflow-client.fl-9999", "port": 9380}}}, "fl-9999")
    party = _load(fixture_file("party-9999-eggroll"))
    party["serving"] = {"useRegistry": True, "zookeeper": {"hosts": ["serving-zookeeper.fl-serving-9999:2181"]}}
    res = import_cluster(serving, peers=[("party.yaml", party)])
    assert res.config["networkPolicy"] == {"allowNamespaces": ["fl-9999"]}
    assert _zookeeper_admits(res.config, "fl-9999")
    # a party file that does not use the registry: nothing to admit, nothing said
    res = import_cluster(serving, peers=[("party.yaml", _load(fixture_file("party-9999-eggroll")))])
    assert "networkPolicy" not in res.config and not any(n.startswith("servingZookeeper:") for n in res.notes)


# ------------------------------------------------------------------------------------------------------------------
# A polling client beside exchanges (issue 23 item 6): eggroll 2.5.1/2.5.3's rollsite polls its default route
# (Polling.scala L81) and sends by its route table whether or not it polls (EggSiteServicer.scala L80, Push.scala
# L430); KubeFATE renders the partyList routes and the exchange as the default route. Imported as rendered.


def _polling_client_route_table(data: dict):
    res = import_cluster(data)
    cfg = load_config({**res.config, "development": True})
    r = render({**res.config, **{k: TEST_SECRETS[k] for k in required_secrets(cfg)}})
    props = r.get("ConfigMap", "rollsite-config")["data"]["rollsite.properties"]
    return res, _config_file(r, "rollsite-config", "route_table.json")["route_table"], props


def test_a_polling_client_beside_lbrollsite_exchanges_is_imported_as_kubefate_renders_it():
    import copy

    data = copy.deepcopy(LB_PARTY)
    data["rollsite"]["polling"] = {"enabled": True, "type": "client", "server": {"ip": "10.0.0.9", "port": 30910}}
    res, table, props = _polling_client_route_table(data)
    # KubeFATE's lb-rollsite/configmap.yaml: default -> the balancer (exchange:9390), each partyList peer direct
    assert table["default"] == {"default": [{"ip": "exchange", "port": 9390}]}
    assert table["10000"] == {"default": [{"ip": "192.168.10.1", "port": 30101}]}
    assert "eggroll.rollsite.polling.client.enabled=true" in props
    assert "server" not in res.config["rollsite"]["polling"]  # KubeFATE renders it nowhere
    assert any(n.startswith("rollsite.polling.server: not used") and "lbrollsite.exchangeList" in n
               for n in res.notes), res.notes


def test_a_polling_client_with_an_exchange_is_imported_as_kubefate_renders_it():
    data = _load(fixture_file("party-9999-eggroll"))
    data["rollsite"]["exchange"] = {"ip": "192.0.2.1", "port": 30001}
    data["rollsite"]["polling"] = {"enabled": True, "type": "client", "server": {"ip": "192.0.2.1", "port": 30001}}
    res, table, props = _polling_client_route_table(data)
    # KubeFATE's rollsite/configmap.yaml: `exchange` comes before the polling server for the default route
    assert table["default"] == {"default": [{"ip": "192.0.2.1", "port": 30001}]}
    assert table["10000"] == {"default": [{"ip": "172.16.100.10", "port": 32010}]}
    assert "eggroll.rollsite.polling.client.enabled=true" in props
