"""Valid configurations: defaults, derived names and modules, and how Pulumi's string config is read."""

from __future__ import annotations

from fate_pulumi.render import engine_config
from stacks.config import BACKEND_MODULES, load_config, required_secrets
from stacks.program import parse_value
from tests.conftest import ROOT, TEST_SECRETS, party


def cfg_of(**values):
    values = party(**values)
    return load_config(values, secret_keys=[k for k in values if k in TEST_SECRETS])


def test_defaults_are_safe():
    cfg = cfg_of()
    assert cfg.kind == "party" and cfg.backend == "eggroll"
    assert cfg.deployment_name == "fate-9999" and cfg.target_namespace == "fate-9999"
    assert cfg.persistence.enabled and cfg.persistence.retain_on_destroy
    assert cfg.rollsite.exchange is None and cfg.nginx.exchange is None and cfg.serving_proxy.exchange is None
    assert cfg.serving.host is None and cfg.serving.zookeeper is None  # no example addresses
    # on-premises (the default cloud profile) federation entry points are NodePorts; the rest stays in the cluster
    assert all(getattr(cfg, m).service.type == "NodePort" for m in ("rollsite", "nginx", "pulsar", "rabbitmq"))
    assert all(getattr(cfg, m).service.type == "ClusterIP" for m in ("python", "fateboard", "mysql"))
    assert cfg.cloud.provider == "onprem" and cfg.ingress.class_name == "nginx"
    assert cfg.mysql.storage.storage_class is None  # the cluster's default StorageClass
    assert cfg.fate_image_tag == "1.11.2-release"
    assert not cfg.development


def test_kind_names_and_tags():
    exchange = load_config({"kind": "exchange", "partyId": 1})
    assert exchange.deployment_name == "fate-exchange" and exchange.enabled_modules == ("rollsite",)
    pulsar_exchange = load_config({"kind": "exchange", "partyId": 1, "backend": "spark_pulsar"})
    assert pulsar_exchange.enabled_modules == ("trafficServer", "nginx")
    serving = load_config({"kind": "serving", "partyId": 10000, "development": True,
                           "servingServer": {"fateflow": {"host": "10.0.0.1", "port": 30107}}})
    assert serving.deployment_name == "fate-serving-10000" and serving.fate_image_tag == "2.1.6-release"
    assert set(serving.enabled_modules) == {
        "servingProxy",
        "servingServer",
        "servingRedis",
        "servingZookeeper",
        "servingAdmin",
    }


def test_backend_modules_by_default():
    for backend, spec in BACKEND_MODULES.items():
        cfg = cfg_of(backend=backend)
        assert set(cfg.enabled_modules) == set(spec["required"]) | set(spec["optional"]), backend
        assert (
            cfg.engines
            == {
                "eggroll": ("Eggroll", "Eggroll", "Eggroll"),
                "spark_rabbitmq": ("Spark", "RabbitMQ", "HDFS"),
                "spark_pulsar": ("Spark", "Pulsar", "HDFS"),
                "spark_local_pulsar": ("Spark_local", "Pulsar", "LocalFS"),
            }[backend]
        )


def test_external_services_replace_modules():
    cfg = cfg_of(backend="spark_pulsar", mysql={"external": {"host": "db.bank.example"}},
                 python={"spark": {"master": "spark://spark.bank.example:7077"}, "hdfs": {"nameNode": "hdfs://nn:8020"}})
    assert {"mysql", "spark", "hdfs"}.isdisjoint(cfg.enabled_modules)
    assert {"python", "nginx", "pulsar", "fateboard", "client"} <= set(cfg.enabled_modules)


def test_optional_modules_can_be_left_out():
    cfg = cfg_of(modules=["rollsite", "clustermanager", "nodemanager", "mysql", "python"])
    assert "client" not in cfg.enabled_modules and "notebookHashedPassword" not in required_secrets(cfg)


def test_secrets_are_required_only_where_used():
    assert required_secrets(cfg_of()) == ["mysqlPassword", "fateboardPassword", "notebookHashedPassword"]
    assert "rabbitmqPassword" in required_secrets(cfg_of(backend="spark_rabbitmq"))
    assert required_secrets(load_config({"kind": "exchange", "partyId": 1})) == []


def test_engine_strings_parse_like_the_pulumi_engine():
    config, secrets = engine_config(
        {
            "fate:partyId": 9999,
            "fate:development": True,
            "fate:rollsite": {"partyList": [{"partyId": 10000, "host": "10.0.0.1", "port": 30101}]},
        }
    )
    assert config["fate:partyId"] == "9999" and config["fate:development"] == "true"
    values = {k.split(":")[1]: parse_value(v) for k, v in config.items()}
    cfg = load_config(values)
    assert cfg.party_id == 9999 and cfg.development and cfg.rollsite.party_list[0].port == 30101
    assert secrets == []


def test_every_option_is_documented_in_the_readme():
    from stacks.config import model_keys

    readme = (ROOT / "README.md").read_text()
    missing = [k for k in model_keys() if f"`{k}`" not in readme]
    assert not missing, f"README config reference lacks: {missing}"
