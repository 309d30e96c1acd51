"""Configurations beyond the examples that switch on the conditional objects of reference section 2.2."""

from tests.conftest import TEST_SECRETS, party

VARIANTS = {
    # the toy test and a DSL job: Kubernetes Jobs in the client image (components/fatejob.py)
    "eggroll-jobs": party(
        verify={"toy": [10000]},
        jobs=[{"name": "hetero-lr", "dsl": {"components": {"reader_0": {"module": "Reader"}}},
               "conf": {"dsl_version": 2, "initiator": {"role": "guest", "party_id": 9999},
                        "role": {"guest": [9999], "host": [10000]}}, "timeout": 7200}],
        rollsite={"partyList": [{"partyId": 10000, "host": "10.0.0.2", "port": 30101}]},
    ),
    "eggroll-persistence-tls-polling-server": party(
        persistence={"enabled": True, "retainOnDestroy": False},
        nodemanager={"replicas": 3, "storage": {"storageClass": "fast", "size": "20Gi"}},
        mysql={"storage": {"existingClaim": "bank-mysql-data"}},
        rollsite={
            "tls": {"enabled": True},
            "service": {
                "type": "LoadBalancer",
                "loadBalancerIP": "10.0.0.10",
                "loadBalancerSourceRanges": ["203.0.113.0/24"],
            },
            "polling": {"enabled": True, "type": "server", "clientList": [10000, 10001]},
        },
        python={"replicas": 2},
    ),
    "eggroll-polling-client-gpu": party(
        algorithm="NN",
        device="GPU",
        rollsite={
            "polling": {"enabled": True, "type": "client", "server": {"host": "exchange.fate.example", "port": 9370}}
        },
        python={
            "nodeSelector": {"nvidia.com/gpu.present": "true"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        },
    ),
    "eggroll-lbrollsite-subpaths": party(
        rollsite={
            "exchangeList": [{"host": "10.0.1.1", "port": 30910}, {"host": "10.0.2.1", "port": 30910}],
            "maxBodySize": "8M",
        },
        mysql={"storage": {"subPath": "fate-mysql"}},
        client={"storage": {"subPath": "notebooks"}},
    ),
    "eggroll-istio": party(
        istio={"enabled": True},
        ingress={
            "fateboard": {"hosts": [{"name": "board.bank.example"}]},
            "client": {"hosts": [{"name": "notebook.bank.example"}]},
        },
    ),
    "eggroll-external-mysql": party(mysql={"external": {"host": "mysql.db.bank.example", "port": 3307}}),
    "spark-external-spark-driver-ports": party(
        backend="spark_pulsar",
        modules=["mysql", "python", "nginx", "hdfs", "pulsar", "fateboard"],
        python={
            "spark": {
                "master": "spark://spark.bank.example:7077",
                "driverHost": "10.1.2.3",
                "driverHostType": "NodePort",
                "portMaxRetries": 2,
                "driverStartPort": 31000,
                "blockManagerStartPort": 31100,
                "pysparkPython": "/opt/venv/bin/python",
            }
        },
        pulsar={"publicLB": {"enabled": True}, "env": [{"name": "PULSAR_MEM", "value": "-Xms2g -Xmx2g"}]},
        hdfs={
            "datanode": {"replicas": 2, "service": {"type": "ClusterIP"}},
            "namenode": {"service": {"type": "NodePort", "nodePorts": {"rpc": 30900}}},
        },
        spark={"master": {"service": {"type": "NodePort", "nodePorts": {"webUi": 30977}}}},
    ),
    "spark-rabbitmq-hive-registry": {
        **party(
            backend="spark_rabbitmq",
            registry="harbor.bank.example/federatedai",
            imageTag="1.11.2-release",
            pullPolicy="Always",
            python={"hive": {"host": "hive.bank.example", "username": "fate"}},
            serving={
                "host": "10.0.0.5",
                "port": 30095,
                "useRegistry": True,
                "zookeeper": {"hosts": ["zk.serving.example:2181"], "useAcl": True, "user": "fate"},
            },
        ),
        "hivePassword": TEST_SECRETS["hivePassword"],
        "zookeeperPassword": TEST_SECRETS["zookeeperPassword"],
    },
    "serving-external-redis-istio": {
        "kind": "serving",
        "partyId": 9999,
        "istio": {"enabled": True},
        "modules": ["servingProxy", "servingServer", "servingZookeeper", "servingAdmin"],
        "servingServer": {
            "fateflow": {"host": "fateflow.fate-9999", "port": 9380},
            "redis": {"host": "redis.cache.example", "port": 6380},
        },
        "servingRedisPassword": TEST_SECRETS["servingRedisPassword"],
        "servingAdminPassword": TEST_SECRETS["servingAdminPassword"],
    },
    "exchange-all-modules-tls": {
        "kind": "exchange",
        "partyId": 1,
        "modules": ["rollsite", "trafficServer", "nginx"],
        "rollsite": {
            "tls": {"enabled": True},
            "exchange": {"host": "upstream.exchange.example", "port": 9370},
            "partyList": [{"partyId": 9999, "host": "10.9.0.1", "port": 30091}],
        },
        "trafficServer": {
            "service": {"type": "LoadBalancer"},
            "sniRoutes": [{"fqdn": "9999.fate.org", "tunnelRoute": "10.9.0.1:30099"}],
        },
        "nginx": {"replicas": 2},
    },
}
