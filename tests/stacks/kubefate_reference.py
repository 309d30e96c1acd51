"""What KubeFATE v1.11.2 renders for the same configurations (../shared/reference/kubefate-v1.11.2.md, section 2).

These lists are transcribed from the reference, not from fate-pulumi's output: the parity tests check that every
object KubeFATE creates exists here too (fate-pulumi adds Secrets, a Namespace, a few fixes listed in the README).
"""

EGGROLL = {
    "ConfigMap": {
        "eggroll-config",
        "fluentd-config",
        "rollsite-config",
        "fateboard-config",
        "python-config",
        "pulsar-route-table",
        "rabbitmq-route-table",
        "mysql-config",
    },
    "Service": {
        "clustermanager",
        "nodemanager",
        "rollsite",
        "notebook",
        "fateboard",
        "fateflow",
        "fateflow-client",
        "mysql",
    },
    "Deployment": {"clustermanager", "rollsite", "fateboard"},
    "StatefulSet": {"nodemanager", "client", "mysql", "python"},
    "Ingress": {"client", "fateboard"},
}

_SPARK_COMMON = {
    "ConfigMap": {"namenode-config", "namenode-env", "datanode-env", "nginx-config", "spark-worker-config",
                  "fateboard-config", "python-config", "pulsar-route-table", "rabbitmq-route-table", "mysql-config"},
    "Service": {"datanode", "namenode", "nginx", "spark-master", "spark-client", "spark-worker-1", "notebook",
                "fateboard", "fateflow", "fateflow-client", "mysql"},
    "Deployment": {"nginx", "spark-master", "spark-worker", "fateboard"},
    "StatefulSet": {"datanode", "namenode", "client", "mysql", "python"},
    "Ingress": {"spark", "client", "fateboard"},
}


def _plus(base: dict, extra: dict) -> dict:
    return {k: base.get(k, set()) | extra.get(k, set()) for k in set(base) | set(extra)}


SPARK_PULSAR = _plus(_SPARK_COMMON, {"ConfigMap": {"pulsar-config"}, "Service": {"pulsar"}, "StatefulSet": {"pulsar"},
                                      "Ingress": {"pulsar"}})
SPARK_RABBITMQ = _plus(_SPARK_COMMON, {"ConfigMap": {"rabbitmq-config"}, "Service": {"rabbitmq"},
                                        "Deployment": {"rabbitmq"}, "Ingress": {"rabbitmq"}})
SPARK_LOCAL_PULSAR = {
    "ConfigMap": {"nginx-config", "pulsar-config", "fateboard-config", "python-config", "pulsar-route-table",
                  "rabbitmq-route-table", "mysql-config"},
    "Service": {"nginx", "pulsar", "notebook", "fateboard", "fateflow", "fateflow-client", "mysql"},
    "Deployment": {"nginx", "fateboard"},
    "StatefulSet": {"pulsar", "client", "mysql", "python"},
    "Ingress": {"pulsar", "client", "fateboard"},
}
SERVING = {
    "ConfigMap": {"serving-admin-config", "serving-proxy-config", "serving-redis-config", "serving-server-config"},
    "Service": {"serving-admin", "serving-proxy", "serving-redis", "serving-server", "serving-zookeeper"},
    "Deployment": {"serving-admin", "serving-proxy", "serving-redis", "serving-server"},
    "StatefulSet": {"serving-zookeeper"},
    "Ingress": {"serving-proxy", "serving-admin"},
}
EXCHANGE_ROLLSITE = {"ConfigMap": {"rollsite-config"}, "Deployment": {"rollsite"}, "Service": {"rollsite"}}
EXCHANGE_TRAFFIC_SERVER_NGINX = {
    "ConfigMap": {"traffic-server-config", "traffic-server-sni", "nginx-config"},
    "Deployment": {"traffic-server", "nginx"},
    "Service": {"traffic-server", "nginx"},
}

# Render counts KubeFATE reports for these files (reference 2.1).
COUNTS = {"eggroll": 25, "spark_rabbitmq": 37, "spark_pulsar": 37, "spark_local_pulsar": 23, "serving": 16,
          "exchange_rollsite": 3, "exchange_pulsar": 7}

# Service ports (reference 2.4, 2.6, 2.7): name -> set of ports, and whether the Service is headless.
SERVICE_PORTS = {
    "rollsite": ({9370}, False),
    "clustermanager": ({4670}, True),
    "nodemanager": ({4671}, True),
    "fateflow": ({9360, 9380}, True),
    "fateflow-client": ({9360, 9380}, False),
    "fateboard": ({8080}, False),
    "notebook": ({20000}, False),
    "mysql": ({3306}, False),
    "spark-master": ({8080, 7077, 6066}, True),
    "spark-client": ({8080, 7077, 6066}, False),
    "spark-worker-1": ({8081}, True),
    "namenode": ({9000, 9870}, False),
    "datanode": ({9000, 9864}, False),
    "nginx": ({9300, 9310}, False),
    "rabbitmq": ({5672, 15672}, False),
    "pulsar": ({6650, 6651, 8080, 8081}, False),
    "traffic-server": ({443}, False),
    "serving-proxy": ({8059, 8869, 8879}, False),
    "serving-server": ({8000}, False),
    "serving-redis": ({6379}, False),
    "serving-admin": ({8350}, False),
    "serving-zookeeper": ({2181, 2888, 3888}, False),
    "serving-zookeeper-headless": ({2181, 2888, 3888}, True),  # fate-pulumi addition (KubeFATE named it only)
}

# Which container port a NodePort config key targets (reference 4.1 and 1.3).
NODE_PORT_TARGETS = {
    ("rollsite", "rollsite"): 9370, ("fateflow-client", "grpc"): 9360, ("fateflow-client", "http"): 9380,
    ("nginx", "http"): 9300, ("nginx", "grpc"): 9310, ("rabbitmq", "amqp"): 5672, ("pulsar", "broker"): 6650,
    ("pulsar", "brokerTls"): 6651, ("serving-server", "grpc"): 8000, ("serving-proxy", "inter"): 8869,
    ("traffic-server", "tls"): 443,
}

# Keys KubeFATE writes into each config file (reference section 3) that FATE reads; where the reading code says
# otherwise (docs/config-contract.md) the set is corrected and the comment says why.
EGGROLL_PROPERTIES_KEYS = {
    "eggroll.resourcemanager.clustermanager.jdbc.driver.class.name",
    "eggroll.resourcemanager.clustermanager.jdbc.url",
    "eggroll.resourcemanager.clustermanager.jdbc.username",
    "eggroll.data.dir",
    "eggroll.logs.dir",
    "eggroll.resourcemanager.clustermanager.host",
    "eggroll.resourcemanager.clustermanager.port",
    "eggroll.resourcemanager.nodemanager.port",
    "eggroll.resourcemanager.process.tag",
    "eggroll.bootstrap.root.script",
    "eggroll.resourcemanager.bootstrap.egg_pair.exepath",
    "eggroll.resourcemanager.bootstrap.egg_pair.pythonpath",
    "eggroll.resourcemanager.bootstrap.egg_pair.filepath",
    "eggroll.resourcemanager.bootstrap.egg_frame.exepath",
    "eggroll.resourcemanager.bootstrap.egg_frame.javahome",
    "eggroll.resourcemanager.bootstrap.egg_frame.classpath",
    "eggroll.resourcemanager.bootstrap.egg_frame.mainclass",
    "eggroll.core.grpc.channel.keepalive.timeout.sec",
    "arrow.enable_unsafe_memory_access",
    "hadoop.fs.defaultFS",
    "eggroll.session.processors.per.node",
    "eggroll.session.start.timeout.ms",
    "eggroll.rollpair.transferpair.sendbuf.size",
    "eggroll.rollsite.coordinator",
    "eggroll.rollsite.host",
    "eggroll.rollsite.port",
    "eggroll.rollsite.party.id",
    "eggroll.rollsite.route.table.path",
    "eggroll.rollsite.route.table.whitelist",
    "eggroll.rollsite.jvm.options",
    "eggroll.rollsite.push.max.retry",
    "eggroll.rollsite.push.long.retry",
    "eggroll.rollsite.push.batches.per.stream",
    "eggroll.rollsite.adapter.sendbuf.size",
    "eggroll.resourcemanager.nodemanager.containers.data.dir",
    "eggroll.container.deepspeed.python.exec",
    "eggroll.container.deepspeed.distributed.backend",
}
EGGROLL_TLS_KEYS = {
    "eggroll.core.security.secure.cluster.enabled", "eggroll.core.security.secure.client.auth.enabled",
    "eggroll.core.security.ca.crt.path", "eggroll.core.security.crt.path", "eggroll.core.security.key.path",
    "eggroll.core.security.client.ca.crt.path", "eggroll.core.security.client.crt.path",
    "eggroll.core.security.client.key.path",
}
SERVICE_CONF_SECTIONS = {
    "use_registry", "use_deserialize_safe_module", "dependent_distribution", "encrypt_password", "encrypt_module",
    "private_key", "private_key_file", "party_id", "hook_module", "hook_server_name", "authentication", "permission",
    "fateflow", "database", "default_engines", "fate_on_standalone", "fate_on_eggroll", "fate_on_spark", "fateboard",
    "enable_model_store", "model_store_address", "servings", "zookeeper",
}
FATE_ON_SPARK_SECTIONS = {"spark", "linkis_spark", "hive", "linkis_hive", "hdfs", "rabbitmq", "pulsar", "nginx"}
FATEBOARD_KEYS = {
    "server.port",
    "fateflow.url",
    "fateflow.url-list",
    "fateflow.http_app_key",
    "fateflow.http_secret_key",
    "server.servlet.encoding.charset",
    "server.servlet.encoding.enabled",
    "server.tomcat.uri-encoding",
    # server.tomcat.max-threads: removed in Spring Boot 2.5; FATE-Board 1.11 runs on 2.7 and reads
    # server.tomcat.threads.max
    "fateboard.front_end.cors",
    "fateboard.front_end.url",
    "server.tomcat.threads.max",
    "server.tomcat.max-connections",
    "spring.servlet.multipart.max-file-size",
    "spring.servlet.multipart.max-request-size",
    "server.compression.enabled",
    "server.compression.mime-types",
    "server.board.login.username",
    "server.board.encrypt.private_key",
    "server.board.encrypt.enable",
    "server.servlet.session.timeout",
    "server.servlet.session.cookie.max-age",
    "management.endpoints.web.exposure.exclude",
}
SERVING_SERVER_KEYS = {  # party.id: written by KubeFATE, read by no code of FATE-Serving 2.1.6
    "port", "remoteModelInferenceResultCacheSwitch", "cache.type", "model.cache.path", "redis.ip",
    "redis.port", "proxy", "feature.single.adaptor", "feature.batch.adaptor", "http.adapter.url", "model.transfer.url",
    "zk.url", "useRegister", "useZkRouter",
}
SERVING_PROXY_KEYS = {"coordinator", "server.port", "zk.url", "useZkRouter"}
SERVING_ADMIN_KEYS = {"server.port", "zk.url", "admin.username", "spring.mvc.pathmatch.matching-strategy"}
PULSAR_STANDALONE_KEYS = {
    "maxMessageSize",
    "nettyMaxFrameSizeBytes",
    "bindAddress",
    "clusterName",
    "brokerDeleteInactiveTopicsEnabled",
    "allowAutoTopicCreation",
    "allowAutoTopicCreationType",
    "webSocketServiceEnabled",
    "authenticationEnabled",
    "authorizationEnabled",
    "tlsCertificateFilePath",
    "tlsKeyFilePath",
    "tlsTrustCertsFilePath",
    "bookkeeperTLSTrustCertsFilePath",
    "defaultNumberOfNamespaceBundles",
    "ttlDurationDefaultInSeconds",
    "diskUsageThreshold",
    "diskUsageWarnThreshold",
    "allowLoopback",
    "ledgerStorageClass",
    "transactionMetadataStoreProviderClassName",
    "backlogQuotaDefaultLimitGB",
    "brokerDeleteInactiveTopicsFrequencySeconds",
    "managedLedgerDefaultEnsembleSize",
    "managedLedgerDefaultWriteQuorum",
    "managedLedgerDefaultAckQuorum",
}
TRAFFIC_SERVER_RECORDS = {
    "proxy.config.http.cache.http", "proxy.config.reverse_proxy.enabled", "proxy.config.url_remap.remap_required",
    "proxy.config.url_remap.pristine_host_hdr", "proxy.config.http.response_server_enabled",
    "proxy.config.http.server_ports", "proxy.config.http.connect_ports", "proxy.config.ssl.CA.cert.filename",
    "proxy.config.ssl.CA.cert.path", "proxy.config.ssl.server.cert.path", "proxy.config.ssl.servername.filename",
}
EGGROLL_TABLES = {"store_locator", "store_option", "store_partition", "server_node", "session_main", "session_option",
                  "session_processor", "processor_resource", "node_resource", "session_ranks"}
