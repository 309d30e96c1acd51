"""Config files as data: the builders and serialisers each module uses."""

from __future__ import annotations

import json

import pulumi
import yaml

from components import eggroll
from components.eggroll_meta import TABLES, create_tables_sql
from components.fateflow import SparkCores, redacted, service_conf, spark_defaults
from components.files import hadoop_xml, parse_properties, properties
from components.kube import Images
from components.nginx import exchange_route_table, nginx_conf, party_route_table, render_nginx
from components.pulsar_standalone import standalone_conf
from components.rollsite import RollsiteConfig, rollsite_extra_properties, route_table
from components.trafficserver import SniRoute, records_config, render_records, sni_yaml
from stacks.common import Composition
from stacks.config import load_config
from tests.conftest import TEST_SECRETS, party


def test_properties_escape_round_trip():
    tricky = {"password": "p@ss=w:rd\\with#hash", "lead": " spaced", "empty": None, "flag": True}
    text = properties(tricky)
    assert parse_properties(text) == {
        "password": "p@ss=w:rd\\with#hash",
        "lead": " spaced",
        "empty": "",
        "flag": "true",
    }
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


def _rollsite(**values) -> RollsiteConfig:
    return RollsiteConfig.model_validate(values)


def test_rollsite_default_route_precedence():
    exchange = _rollsite(exchange={"host": "10.0.0.1", "port": 30000},
                         polling={"enabled": True, "type": "client", "server": {"host": "10.0.0.2", "port": 9370}})
    assert route_table(9999, exchange)["route_table"]["default"]["default"] == [{"ip": "10.0.0.1", "port": 30000}]
    polling = _rollsite(polling={"enabled": True, "type": "client", "server": {"host": "10.0.0.2", "port": 9370}})
    assert route_table(9999, polling)["route_table"]["default"]["default"] == [{"ip": "10.0.0.2", "port": 9370}]
    local = route_table(9999, _rollsite())["route_table"]
    assert local["default"]["default"] == [{"ip": "rollsite", "port": 9370}]
    assert set(local) == {"default", "9999"}
    # polling that is not enabled changes nothing
    off = _rollsite(polling={"type": "client", "server": {"host": "10.0.0.2", "port": 9370}})
    assert route_table(9999, off)["route_table"]["default"]["default"] == [{"ip": "rollsite", "port": 9370}]


def test_rollsite_polling_server_and_tls_keys():
    section = _rollsite(polling={"enabled": True, "type": "server", "clientList": [10000], "concurrency": 80},
                        tls={"enabled": True, "secretName": "certs"})
    table = route_table(9999, section)["route_table"]
    assert table["10000"] == {"default": [{"port": -1, "ip": "", "is_polling": True}]}
    extra = dict(rollsite_extra_properties(section))
    assert extra["eggroll.rollsite.polling.server.enabled"] is True
    assert extra["eggroll.rollsite.polling.concurrency"] == 80  # KubeFATE wrote "= 80" with a space
    assert {k for k, _ in eggroll.tls_properties()} <= set(extra)
    exchange = route_table(9999, section, exchange=True)["route_table"]
    assert "fateflow" not in exchange["9999"] and "10000" not in exchange


def test_eggroll_start_script_composes_then_execs():
    cmd = eggroll.start_script(["/a/eggroll.properties", "/b/x.properties"], "Main -c conf")
    script = cmd[-1]
    assert cmd[:2] == ["bash", "-c"]
    assert "cat /a/eggroll.properties /b/x.properties > /data/projects/fate/eggroll/conf/eggroll.properties" in script
    assert script.splitlines()[-1].startswith("exec java")
    assert "$$" not in script


def _context(**values) -> Composition:
    secrets = {k: TEST_SECRETS[k] for k in ("hivePassword", "zookeeperPassword")}
    cfg = load_config(party(**secrets, **values), [*secrets, "mysqlPassword", "rabbitmqPassword", "fateboardPassword",
                                                     "notebookHashedPassword"])
    return Composition(cfg, pulumi.ResourceOptions())


def test_service_conf_redaction_empties_every_password():
    ctx = _context(backend="spark_rabbitmq", python={"hive": {"host": "hive.bank.example"}},
                   serving={"zookeeper": {"hosts": ["zk:2181"], "useAcl": True}})
    full = yaml.safe_load(yaml.safe_dump(service_conf(ctx)))
    red = redacted(ctx, service_conf(ctx))
    secrets = [TEST_SECRETS[k] for k in ("mysqlPassword", "rabbitmqPassword", "hivePassword", "zookeeperPassword")]
    assert full["database"]["passwd"] == TEST_SECRETS["mysqlPassword"] and red["database"]["passwd"] == ""
    assert all(s in json.dumps(full) for s in secrets)
    assert not any(s in json.dumps(red) for s in secrets)
    assert red["fateflow"]["proxy"] == "nginx"
    assert service_conf(_context())["fateflow"]["proxy"] == "rollsite"
    assert service_conf(_context(backend="spark_local_pulsar"))["default_engines"]["computing"] == "spark"


def test_spark_defaults():
    spark = SparkCores(driver_host=None, block_manager_start_port=31100, pyspark_python="py")
    entries = dict(spark_defaults(spark, "spark://m:7077"))
    assert entries["spark.master"] == "spark://m:7077"
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
    conf = render_nginx(nginx_conf())
    assert "server 0.0.0.1 down;" in conf and conf.count("{") == conf.count("}")


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
    route = SniRoute(fqdn="9999.fate.org", tunnel_route="10.0.0.1:30099")
    assert sni_yaml([route]) == {"sni": [{"fqdn": "9999.fate.org", "tunnel_route": "10.0.0.1:30099"}]}


def test_hadoop_xml():
    assert "<name>fs.default.name</name>\n    <value>hdfs://0.0.0.0:9000</value>" in hadoop_xml({"fs.default.name": "hdfs://0.0.0.0:9000"})
