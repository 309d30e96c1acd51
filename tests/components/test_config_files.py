"""Config files as data: the builders and serialisers each module uses."""

from __future__ import annotations

import json

import yaml

from components import eggroll, endpoints
from components.eggroll_meta import TABLES, create_tables_sql
from components.fateflow import Database, FlowSettings, service_conf, spark_defaults, SparkDriver
from components.files import hadoop_xml, parse_properties, properties
from components.kube import Images, Site
from components.nginx import exchange_route_table, party_route_table, render_nginx, nginx_conf
from components.pulsar_standalone import standalone_conf
from components.rollsite import RollsiteArgs, Route, rollsite_extra_properties, route_table
from components.trafficserver import records_config, render_records, sni_yaml


def test_properties_escape_round_trip():
    tricky = {"password": "p@ss=w:rd\\with#hash", "lead": " spaced", "empty": None, "flag": True}
    text = properties(tricky)
    assert parse_properties(text) == {"password": "p@ss=w:rd\\with#hash", "lead": " spaced", "empty": "", "flag": "true"}
    assert properties([]) == ""
    assert properties({"a": 1}, header="[eggroll]").splitlines() == ["[eggroll]", "a=1"]


def test_image_names():
    default = Images(registry=None, tag="1.11.2-release")
    assert default.fate("eggroll-nn-gpu") == "federatedai/eggroll-nn-gpu:1.11.2-release"
    assert default.third_party(("fluent/fluent-bit", "2.1.4")) == "fluent/fluent-bit:2.1.4"
    private = Images(registry="harbor.bank.example/fate/", tag="1.11.2-release")
    assert private.fate("client") == "harbor.bank.example/fate/client:1.11.2-release"
    assert private.third_party(("fluent/fluent-bit", "2.1.4")) == "harbor.bank.example/fate/fluent-bit:2.1.4"
    assert eggroll.image_suffix("ALL", "GPU") == "-all-gpu" and eggroll.image_suffix("Basic", "IPCL") == "-ipcl"


SITE = Site(name="fate-9999", namespace="fate-9999", party_id=9999, kind="party", images=Images(None, "t"))


def test_rollsite_default_route_precedence():
    exchange = RollsiteArgs(image="x", exchange=Route(0, "10.0.0.1", 30000),
                            polling="client", polling_server=Route(0, "10.0.0.2", 9370))
    assert route_table(SITE, exchange)["route_table"]["default"]["default"] == [{"ip": "10.0.0.1", "port": 30000}]
    polling = RollsiteArgs(image="x", polling="client", polling_server=Route(0, "10.0.0.2", 9370))
    assert route_table(SITE, polling)["route_table"]["default"]["default"] == [{"ip": "10.0.0.2", "port": 9370}]
    local = route_table(SITE, RollsiteArgs(image="x"))["route_table"]
    assert local["default"]["default"] == [{"ip": "rollsite", "port": 9370}]
    assert set(local) == {"default", "9999"}


def test_rollsite_polling_server_and_tls_keys():
    args = RollsiteArgs(image="x", polling="server", polling_clients=(10000,), polling_concurrency=80, tls_secret="certs")
    table = route_table(SITE, args)["route_table"]
    assert table["10000"] == {"default": [{"port": -1, "ip": "", "is_polling": True}]}
    extra = dict(rollsite_extra_properties(args))
    assert extra["eggroll.rollsite.polling.server.enabled"] is True
    assert extra["eggroll.rollsite.polling.concurrency"] == 80  # KubeFATE wrote "= 80" with a space
    assert {k for k, _ in eggroll.tls_properties()} <= set(extra)
    exchange = route_table(SITE, RollsiteArgs(image="x", route_fateflow=False))["route_table"]
    assert "fateflow" not in exchange["9999"]


def test_eggroll_start_script_composes_then_execs():
    cmd = eggroll.start_script(["/a/eggroll.properties", "/b/x.properties"], "Main -c conf")
    script = cmd[-1]
    assert cmd[:2] == ["bash", "-c"]
    assert "cat /a/eggroll.properties /b/x.properties > /data/projects/fate/eggroll/conf/eggroll.properties" in script
    assert script.splitlines()[-1].startswith("exec java")
    assert "$$" not in script


def _settings(**kw):
    base = dict(party_id=9999, computing="Spark", federation="Pulsar", storage="HDFS",
                database=Database("mysql", 3306, "eggroll_meta", "fate", "Secret-Pw"),
                rabbitmq={"password": "R-pw"}, hive={"password": "H-pw"}, zookeeper={"hosts": ["zk:2181"], "password": "Z-pw"})
    base.update(kw)
    return FlowSettings(**base)


def test_service_conf_redaction_empties_every_password():
    full = yaml.safe_load(yaml.safe_dump(service_conf(_settings())))
    red = service_conf(_settings(), redact=True)
    assert full["database"]["passwd"] == "Secret-Pw" and red["database"]["passwd"] == ""
    text = json.dumps(red)
    assert not any(s in text for s in ("Secret-Pw", "R-pw", "H-pw", "Z-pw"))
    assert red["fateflow"]["proxy"] == "nginx"
    assert service_conf(_settings(computing="Eggroll"))["fateflow"]["proxy"] == "rollsite"
    assert service_conf(_settings(computing="Spark_local"))["default_engines"]["computing"] == "spark"


def test_spark_defaults():
    entries = dict(spark_defaults(SparkDriver(master="spark://m:7077", block_manager_start_port=31100, pyspark_python="py")))
    assert entries["spark.driver.host"] == "fateflow_ip"
    assert entries["spark.driver.bindAddress"] == "0.0.0.0"
    assert entries["spark.pyspark.driver.python"] == "python"


def test_nginx_route_tables():
    table = party_route_table(9999, {10000: {"fateflow": [{"host": "h", "http_port": 1, "grpc_port": 2}]}}, None)
    assert "default" not in table and table[9999]["proxy"][0]["host"] == "nginx" and 10000 in table
    with_exchange = party_route_table(9999, {}, {"host": "ex", "http_port": 30003, "grpc_port": 30008})
    assert with_exchange["default"] == {"proxy": [{"host": "ex", "http_port": 30003, "grpc_port": 30008}]}
    ex = exchange_route_table(1, {9999: {"proxy": []}})
    assert ex["default"] == ex[1] == {"proxy": [{"host": "nginx", "http_port": 9300, "grpc_port": 9310}]}
    conf = render_nginx(nginx_conf("127.0.0.1", 9300, 9310))
    assert "server 127.0.0.1:9300;" in conf and conf.count("{") == conf.count("}")


def test_pulsar_tls_switch():
    plain = dict(standalone_conf(False, 10, 60, 6650, 6651, 8080, 8081))
    tls = dict(standalone_conf(True, 5, 30, 6650, 6651, 8080, 8081))
    assert plain["brokerServicePort"] == 6650 and "brokerServicePortTls" not in plain and plain["tlsEnabled"] == "false"
    assert tls["brokerServicePortTls"] == 6651 and "brokerServicePort" not in tls and tls["tlsEnabled"] == "true"
    assert tls["backlogQuotaDefaultLimitGB"] == 5 and tls["brokerDeleteInactiveTopicsFrequencySeconds"] == 30
    assert plain["managedLedgerDefaultEnsembleSize"] == "1"  # one bookie in standalone mode


def test_eggroll_meta_sql():
    sql = create_tables_sql("fate_meta")
    assert sql.startswith("CREATE DATABASE IF NOT EXISTS `fate_meta`;\nUSE `fate_meta`;")
    assert sql.count("CREATE TABLE IF NOT EXISTS") == len(TABLES) == 10
    assert "CREATE UNIQUE INDEX `idx_u_store_locator_ns_n` ON `store_locator` (`namespace`(120), `name`(640));" in sql


def test_traffic_server_files():
    records = render_records(records_config())
    assert "CONFIG proxy.config.http.server_ports STRING 8080 8080:ipv6 443:ssl" in records
    assert sni_yaml([("9999.fate.org", "10.0.0.1:30099")]) == {"sni": [{"fqdn": "9999.fate.org", "tunnel_route": "10.0.0.1:30099"}]}


def test_hadoop_xml():
    assert "<name>fs.default.name</name>\n    <value>hdfs://0.0.0.0:9000</value>" in hadoop_xml({"fs.default.name": "hdfs://0.0.0.0:9000"})


def test_endpoint_table_port_keys_match_config_exposable_ports():
    """The config's NodePort names are the Service port keys of the endpoint table (one naming, two layers)."""
    import types

    from components import fateboard, fateflow, hdfs, nginx, pulsar, rabbitmq, rollsite, serving, spark, trafficserver

    c = types.SimpleNamespace(**{k: v for m in (fateboard, fateflow, hdfs, nginx, pulsar, rabbitmq, rollsite, serving,
                                                 spark, trafficserver) for k, v in vars(m).items()})
    pairs = [(c.RollsiteConfig, endpoints.ROLLSITE), (c.PythonConfig, endpoints.FATEFLOW_CLIENT), (c.FateboardConfig, endpoints.FATEBOARD),
             (c.SparkMaster, endpoints.SPARK_CLIENT), (c.NameNode, endpoints.NAMENODE), (c.NginxConfig, endpoints.NGINX),
             (c.RabbitmqConfig, endpoints.RABBITMQ), (c.PulsarConfig, endpoints.PULSAR), (c.TrafficServerConfig, endpoints.TRAFFIC_SERVER),
             (c.ServingProxyConfig, endpoints.SERVING_PROXY), (c.ServingServerConfig, endpoints.SERVING_SERVER)]
    for model, svc in pairs:
        assert set(model.exposable_ports) <= set(svc.keys), (model.__name__, svc.name)
