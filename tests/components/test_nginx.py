"""nginx's pod: FATE's Lua reads a route table the start command wrote from the ConfigMap, names resolved to
addresses (components/nginx.py start_command; docs/config-contract.md, federatedai/nginx)."""

from __future__ import annotations

import re

from components.kube import CHECKSUM_ANNOTATION
from components.nginx import NGINX_HOME
from tests.conftest import container, party, render

LUA_READS = f"{NGINX_HOME}/conf/modifiable"  # route_table.lua's directory once the start command's sed ran
EXCHANGE = {"kind": "exchange", "partyId": 1, "modules": ["nginx"]}
PEER = {"routeTable": {10000: {"proxy": [{"host": "party10000.fate.example", "httpPort": 30103, "grpcPort": 30108}]}}}


def _nginx(values: dict) -> tuple[dict, dict, dict]:
    r = render(values)
    dep = r.get("Deployment", "nginx")
    return dep, container(dep, "nginx"), r.get("ConfigMap", "nginx-config")


def test_the_route_table_lua_reads_is_written_at_start_into_a_volume_of_its_own():
    dep, c, cm = _nginx(party(backend="spark_rabbitmq", nginx=PEER))
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["mountPath"].rstrip("/"): m for m in c["volumeMounts"]}
    # the table the Lua reads: a writable in-memory emptyDir, not the ConfigMap
    assert "emptyDir" in volumes[mounts[LUA_READS]["name"]] and not mounts[LUA_READS].get("readOnly")
    # the ConfigMap (the source, names as configured): read-only, elsewhere
    [source] = [m for m in c["volumeMounts"] if "configMap" in volumes[m["name"]] and "subPath" not in m]
    assert source["readOnly"] and source["mountPath"].rstrip("/") != LUA_READS
    assert volumes[source["name"]]["configMap"]["name"] == "nginx-config" and "route_table.yaml" in cm["data"]
    assert c["command"][:2] == ["/bin/bash", "-c"]
    script = c["command"][2]
    assert 'sed -i "s#conf/route_table.yaml#conf/modifiable/route_table.yaml#g"' in script
    assert f"src={source['mountPath'].rstrip('/')}/route_table.yaml dst={LUA_READS}/route_table.yaml" in script
    assert "getent ahostsv4" in script
    assert "own=' fateflow nginx '" in script  # the Services it waits for: the party's own entries
    # written whole, then renamed into place, then OpenResty starts (route_table.lua re-reads it every 5 s)
    assert script.index('> "$dst.tmp"') < script.index('mv -f "$dst.tmp" "$dst"') \
        < script.index("exec openresty -g 'daemon off;'")
    _, exchange, _ = _nginx(EXCHANGE)
    assert "own=' nginx '" in exchange["command"][2]


def test_a_failed_peer_is_not_handed_to_a_live_placeholder():
    """balancer.lua's failure falls back to the upstream's servers: FATE's invalid placeholders, marked down."""
    for values in (party(backend="spark_rabbitmq"), EXCHANGE):
        conf = _nginx(values)[2]["data"]["nginx.conf"]
        # the upstreams' servers, nothing else (the stream block's `server {` is a listener)
        assert re.findall(r"^ +server ([^{;\n]*);$", conf, re.M) == ["0.0.0.1 down", "0.0.0.2 down"], conf


def test_a_changed_route_table_rolls_the_pods():
    """Names are resolved at start only: a route table change must restart nginx (checksum annotation)."""
    def checksum(values: dict) -> str:
        return _nginx(values)[0]["spec"]["template"]["metadata"]["annotations"][CHECKSUM_ANNOTATION]

    assert checksum(party(backend="spark_rabbitmq")) != checksum(party(backend="spark_rabbitmq", nginx=PEER))
