"""Bad input to every command: one line naming the file (and line and column for YAML) and the fix, a non-zero exit,
no traceback, nothing written. The commands run in-process through `fate-pulumi`'s dispatcher (an exception
escaping would fail the test); one case runs the installed console script as a user would."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from fate_pulumi import cli
from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "Pulumi.party-9999-eggroll.yaml"
CLUSTER = {"name": "fate-9999", "namespace": "fate-9999", "chartName": "fate", "chartVersion": "v1.11.2",
           "partyId": 9999, "computing": "Eggroll", "federation": "Eggroll", "storage": "Eggroll",
           "modules": ["rollsite", "clustermanager", "nodemanager", "mysql", "python", "fateboard", "client"]}
# the top of a KubeFATE chart's values.yaml (FATE chart v1.11.2), which Helm installs take instead of a cluster file
HELM_VALUES = {"image": {"registry": "federatedai", "isThridParty": None, "tag": "1.11.2-release"}, "partyId": 9999,
               "partyName": "fate-9999", "computing": "Eggroll", "federation": "Eggroll", "storage": "Eggroll",
               "modules": {"rollsite": {"include": True, "type": "ClusterIP"}}}
TOPOLOGY: dict[str, Any] = {"name": "demo", "development": True,
                            "parties": [{"partyId": 9999, "address": "198.51.100.10"}]}


def _write(tmp: Path, name: str, content) -> Path:
    path = tmp / name
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return path


def _stack(tmp: Path, **config) -> Path:
    return _write(tmp, "Pulumi.x.yaml", {"config": {f"fate:{k}": v for k, v in {"partyId": 9999, "development": True,
                                                                                 **config}.items()}})


# id -> (build argv in tmp, what the one line must contain, exit code)
CASES: dict[str, tuple[Callable[[Path], list[str]], str, int]] = {
    # render
    "render-missing-file": (lambda t: ["render", str(t / "nope.yaml"), str(t / "out")], "nope.yaml: no such file", 2),
    "render-directory": (lambda t: ["render", str(t), str(t / "out")], "is a directory", 2),
    "render-bad-yaml": (
        lambda t: ["render", str(_write(t, "Pulumi.x.yaml", "config:\n  fate:partyId: [9999\n")), str(t / "out")],
        "Pulumi.x.yaml:3:1:",
        2,
    ),
    "render-duplicate-key": (
        lambda t: [
            "render",
            str(_write(t, "Pulumi.x.yaml", "config:\n  fate:partyId: 1\n  fate:partyId: 2\n")),
            str(t / "out"),
        ],
        "Pulumi.x.yaml:3:3: duplicate key 'fate:partyId' (first at line 2)",
        2,
    ),
    "render-kubefate-file": (
        lambda t: ["render", str(_write(t, "cluster.yaml", CLUSTER)), str(t / "out")],
        "a KubeFATE cluster file, not a stack file — import it first: fate-pulumi import",
        2,
    ),
    "render-topology-file": (
        lambda t: ["render", str(_write(t, "fed.yaml", TOPOLOGY)), str(t / "out")],
        "a federation topology, not a stack file — use: fate-pulumi federation preview",
        2,
    ),
    "render-no-config": (
        lambda t: ["render", str(_write(t, "Pulumi.x.yaml", {"encryptionsalt": "v1:x"})), str(t / "out")],
        "no `config:` section",
        2,
    ),
    "render-no-fate-keys": (
        lambda t: ["render", str(_write(t, "Pulumi.x.yaml", {"config": {"kubernetes:context": "x"}})), str(t / "out")],
        "no `fate:` keys under config",
        2,
    ),
    "render-list-not-mapping": (
        lambda t: ["render", str(_write(t, "Pulumi.x.yaml", "- 1\n- 2\n")), str(t / "out")],
        "no mapping at the top",
        2,
    ),
    "render-unknown-key": (
        lambda t: ["render", str(_stack(t, partyID=1)), str(t / "out")],
        "fate:partyID: unknown key",
        2,
    ),
    "render-party-id-abc": (lambda t: ["render", str(_stack(t, partyId="abc")), str(t / "out")], "fate:partyId:", 2),
    "render-out-is-a-file": (
        lambda t: ["render", str(EXAMPLE), str(_write(t, "out", "x"))],
        "exists and is not a directory",
        2,
    ),
    "render-not-utf8": (
        lambda t: ["render", str(_bytes(t, "Pulumi.x.yaml", b"config:\n  fate:partyId: \xff\n")), str(t / "out")],
        "not UTF-8 text",
        2,
    ),
    # render: a section of the wrong shape says the shape, with an example (stacks.config.shape_message)
    "render-section-not-a-mapping": (
        lambda t: ["render", str(_stack(t, persistence=True)), str(t / "out")],
        "fate:persistence: expects a mapping of settings, not 'true' — e.g. {enabled: true}; its keys: enabled,",
        2,
    ),
    "render-section-a-string": (
        lambda t: ["render", str(_stack(t, rollsite="x")), str(t / "out")],
        "fate:rollsite: expects a mapping of settings, not 'x' — e.g. {",
        2,
    ),
    "render-route-not-a-mapping": (
        lambda t: ["render", str(_stack(t, rollsite={"partyList": ["10000"]})), str(t / "out")],
        "fate:rollsite.partyList[0]: expects a mapping of settings, not '10000' — e.g. {partyId: <partyId>, "
        "host: <host>, port: <port>}",
        2,
    ),
    "render-list-given-a-string": (
        lambda t: ["render", str(_stack(t, modules="rollsite")), str(t / "out")],
        "fate:modules: expects a list, not 'rollsite' — e.g. [rollsite, clustermanager",
        2,
    ),
    "render-empty-module-list": (  # one line, not one more per module the backend then misses
        lambda t: ["render", str(_stack(t, modules=[])), str(t / "out")],
        "fate:modules: empty module list",
        2,
    ),
    # release 2.2 (a preview): what it does not support yet is refused, naming what it supports
    "render-22-unknown-release": (
        lambda t: ["render", str(_stack(t, release="2.1")), str(t / "out")],
        "fate:release: '2.1' is not allowed; use '1.11.2' or '2.2'",
        2,
    ),
    "render-22-eggroll": (
        lambda t: ["render", str(_stack(t, release="2.2")), str(t / "out")],
        "fate:backend: eggroll is not supported by release 2.2 yet (eggroll 3 + OSX, Spark and Pulsar are not there); "
        "release 2.2 supports a party (kind party, backend spark_rabbitmq, modules mysql, python, nginx, rabbitmq)",
        2,
    ),
    "render-22-exchange": (
        lambda t: ["render", str(_stack(t, release="2.2", kind="exchange", backend="spark_pulsar")), str(t / "out")],
        "fate:kind: exchange is not deployable with release 2.2 yet; release 2.2 supports a party",
        2,
    ),
    "render-22-module": (
        lambda t: ["render", str(_stack(t, release="2.2", backend="spark_rabbitmq",
                                        modules=["mysql", "python", "nginx", "rabbitmq", "fateboard"])),
                   str(t / "out")],
        "fate:modules[4]: 'fateboard' is not deployable with release 2.2 yet; release 2.2 supports",
        2,
    ),
    "render-22-toy-test": (
        lambda t: ["render", str(_stack(t, release="2.2", backend="spark_rabbitmq", verify={"toy": [10000]})),
                   str(t / "out")],
        "fate:verify: not supported by release 2.2 yet; release 2.2 supports",
        2,
    ),
    "render-22-external-mysql": (
        lambda t: ["render", str(_stack(t, release="2.2", backend="spark_rabbitmq", modules=["python", "nginx",
                                        "rabbitmq"], mysql={"external": {"host": "db.example"}})), str(t / "out")],
        "fate:mysql.external: an external mysql is not supported by release 2.2 yet",
        2,
    ),
    "render-22-peer-without-fateflow": (
        lambda t: ["render", str(_stack(t, release="2.2", backend="spark_rabbitmq", nginx={"routeTable": {10000: {
            "proxy": [{"host": "198.51.100.2", "httpPort": 9300, "grpcPort": 9310}]}}})), str(t / "out")],
        "fate:nginx.routeTable[10000]: FATE Flow 2.2 reaches a peer as service fateflow: give fateflow:",
        2,
    ),
    "render-ca-certificate-garbage": (
        lambda t: ["render", str(_stack(t, tls={"generate": True, "caCertificate": "ca.pem"})), str(t / "out")],
        "fate:tls.caCertificate: not a PEM certificate",
        2,
    ),
    "render-date-in-words": (
        lambda t: ["render", str(_stack(t, tls={"validFrom": "yesterday"})), str(t / "out")],
        "fate:tls.validFrom: Input should be a valid date or datetime, input is too short; write a date as YYYY-MM-DD",
        2,
    ),
    "render-party-id-huge": (
        lambda t: ["render", str(_stack(t, partyId=10**20)), str(t / "out")],
        "fate:partyId: Input should be less than or equal to 2147483647",
        2,
    ),
    "render-replicas-negative": (
        lambda t: ["render", str(_stack(t, nodemanager={"replicas": -3})), str(t / "out")],
        "fate:nodemanager.replicas: Input should be greater than or equal to 0 (got -3)",
        2,
    ),
    "render-number-as-key": (
        lambda t: ["render", str(_write(t, "Pulumi.x.yaml", "config:\n  fate:partyId: 9\n  5: x\n")), str(t / "out")],
        "config: key 5 is not a config key",
        2,
    ),
    "render-public-host-with-port": (
        lambda t: ["render", str(_stack(t, publicHost="192.0.2.10:30091")), str(t / "out")],
        "fate:publicHost: '192.0.2.10:30091' is not an IP address or DNS name — give the host alone, '192.0.2.10'",
        2,
    ),
    "render-public-host-a-url": (
        lambda t: ["render", str(_stack(t, publicHost="https://party.example.org/")), str(t / "out")],
        "give the host alone, 'party.example.org'",
        2,
    ),
    "render-null-key": (
        lambda t: ["render", str(_write(t, "Pulumi.x.yaml", "config:\n  fate:partyId: 9\n  ~: x\n")), str(t / "out")],
        "config: key null is not a config key",
        2,
    ),
    "render-empty-file": (
        lambda t: ["render", str(_write(t, "Pulumi.x.yaml", "")), str(t / "out")],
        "not a Pulumi stack file (no mapping at the top)",
        2,
    ),
    "render-device-file": (lambda t: ["render", "/proc/self/mem", str(t / "out")], "/proc/self/mem: cannot read it", 2),
    "render-stack-file-empty-argument": (  # an unset shell variable: never the current directory
        lambda t: ["render", "", str(t / "out")],
        "argument stack_file: an empty path",
        2,
    ),
    "render-out-empty-argument": (lambda t: ["render", str(EXAMPLE), ""], "argument out_dir: an empty path", 2),
    "render-out-proc": (lambda t: ["render", str(EXAMPLE), "/proc"], "/proc: cannot write into it", 2),
    "render-out-sys": (lambda t: ["render", str(EXAMPLE), "/sys"], "/sys: cannot write into it", 2),
    "render-out-under-a-file": (
        lambda t: ["render", str(EXAMPLE), str(_write(t, "f", "x") / "out")],
        "cannot create it (Not a directory)",
        2,
    ),
    "render-out-holds-a-users-manifests": (  # a render replaces manifests.yaml: only an earlier render's
        lambda t: ["render", str(EXAMPLE), str(_write(t, "manifests.yaml", "kind: List\n").parent)],
        "manifests.yaml: exists and is not from an earlier render",
        2,
    ),
    "render-out-missing": (lambda t: ["render", str(EXAMPLE)], "the following arguments are required: out_dir", 2),
    "render-misspelt-flag": (
        lambda t: ["render", "--developement", str(EXAMPLE), str(t / "out")],
        "unrecognized arguments: --developement",
        2,
    ),
    # import
    "import-missing-file": (lambda t: ["import", str(t / "cluster.yaml")], "cluster.yaml: no such file", 2),
    # a key of the wrong shape: its key, what it must be and an example (they were tracebacks)
    "import-chart-name-a-list": (lambda t: ["import", str(_write(t, "c.yaml", {**CLUSTER, "chartName": ["fate"]}))],
                                 "chartName: ['fate'] is not text; e.g. chartName: fate", 2),
    "import-computing-a-number": (lambda t: ["import", str(_write(t, "c.yaml", {**CLUSTER, "computing": 5}))],
                                  "computing: 5 is not text; e.g. computing: Eggroll", 2),
    "import-modules-a-boolean": (lambda t: ["import", str(_write(t, "c.yaml", {**CLUSTER, "modules": True}))],
                                 "modules: True is not a list of module names", 2),
    "import-pull-secrets-a-number": (lambda t: ["import", str(_write(t, "c.yaml", {**CLUSTER, "imagePullSecrets": 3}))],
                                     "imagePullSecrets: 3 is not a list of {name: <Secret>}", 2),
    "import-ingress-class-a-list": (
        lambda t: ["import", str(_write(t, "c.yaml", {**CLUSTER, "ingressClassName": ["nginx"]}))],
        "ingressClassName: ['nginx'] is not text; e.g. ingressClassName: nginx", 2),
    "import-persistence-a-word": (lambda t: ["import", str(_write(t, "c.yaml", {**CLUSTER, "persistence": "yes"}))],
                                  "persistence: 'yes' is not true or false", 2),
    "import-section-a-number": (lambda t: ["import", str(_write(t, "c.yaml", {**CLUSTER, "rollsite": 5}))],
                                "rollsite: expects a mapping of rollsite's settings", 2),
    "import-bad-yaml": (
        lambda t: ["import", str(_write(t, "cluster.yaml", "partyId: 9999\n  modules: x\n"))],
        "cluster.yaml:2:",
        2,
    ),
    "import-party-id-abc": (
        lambda t: ["import", str(_write(t, "cluster.yaml", {**CLUSTER, "partyId": "abc"}))],
        "partyId: 'abc' is not a whole number",
        2,
    ),
    "import-port-not-a-number": (
        lambda t: [
            "import",
            str(_write(t, "cluster.yaml", {**CLUSTER, "rollsite": {"type": "NodePort", "nodePort": "30091a"}})),
        ],
        "rollsite.nodePort: '30091a'",
        2,
    ),
    "import-unknown-chart": (
        lambda t: ["import", str(_write(t, "cluster.yaml", {**CLUSTER, "chartName": "fate-x"}))],
        "chartName: 'fate-x' is not one of",
        2,
    ),
    "import-unknown-key": (
        lambda t: ["import", str(_write(t, "cluster.yaml", {**CLUSTER, "typo": 1}))],
        "typo: not a KubeFATE v1.11.2 option",
        2,
    ),
    "import-a-stack-file": (lambda t: ["import", str(EXAMPLE)], "a Pulumi stack file already — render it", 2),
    "import-output-dir-missing": (
        lambda t: ["import", str(_write(t, "cluster.yaml", CLUSTER)), "-o", str(t / "no" / "Pulumi.x.yaml")],
        "no such directory",
        2,
    ),
    "import-output-is-dir": (
        lambda t: ["import", str(_write(t, "cluster.yaml", CLUSTER)), "-o", str(t)],
        "is a directory — give a file name",
        2,
    ),
    "import-refused-writes-nothing": (
        lambda t: ["import", str(_write(t, "cluster.yaml", {**CLUSTER, "typo": 1})), "-o", str(t / "Pulumi.x.yaml")],
        "typo:",
        2,
    ),
    # import: where the output goes (issue 23 item 2), what is passed, whose key a problem is under
    "import-output-is-the-input": (
        lambda t: ["import", str(_write(t, "cluster.yaml", CLUSTER)), "-o", str(t / "cluster.yaml")],
        "is the cluster file being imported — write the stack file elsewhere",
        2,
    ),
    "import-output-links-to-the-input": (
        lambda t: ["import", str(_write(t, "cluster.yaml", CLUSTER)), "-o",
                   str(_link(t, "Pulumi.x.yaml", "cluster.yaml"))],
        "is the cluster file being imported",
        2,
    ),
    "import-output-under-a-file": (
        lambda t: ["import", str(_write(t, "cluster.yaml", CLUSTER)), "-o", str(t / "cluster.yaml" / "Pulumi.x.yaml")],
        "/cluster.yaml is not a directory — write the output elsewhere",
        2,
    ),
    "import-output-into-proc": (
        lambda t: ["import", str(_write(t, "cluster.yaml", CLUSTER)), "-o", "/proc/Pulumi.x.yaml"],
        "/proc/Pulumi.x.yaml: cannot create a file in /proc",
        2,
    ),
    "import-output-into-sys": (
        lambda t: ["import", str(_write(t, "cluster.yaml", CLUSTER)), "-o", "/sys/Pulumi.x.yaml"],
        "/sys/Pulumi.x.yaml: cannot create a file in /sys",
        2,
    ),
    "import-output-a-pipe": (  # as /dev/null: a rename would replace the device (as root) with a file
        lambda t: ["import", str(_write(t, "cluster.yaml", CLUSTER)), "-o", str(_fifo(t, "Pulumi.x.yaml"))],
        "Pulumi.x.yaml: not a regular file",
        2,
    ),
    "import-output-another-partys-stack-file": (
        lambda t: ["import", str(_write(t, "cluster.yaml", CLUSTER)), "-o",
                   str(_write(t, "Pulumi.x.yaml", {"encryptionsalt": "v1:x", "config": {"fate:partyId": 10000}}))],
        "fate:partyId: the file holds 10000, the import 9999 — this is another deployment's stack file",
        2,
    ),
    "import-output-a-cluster-file": (
        lambda t: ["import", str(_write(t, "cluster.yaml", CLUSTER)), "-o", str(_write(t, "other.yaml", CLUSTER))],
        "other.yaml: exists and is a KubeFATE cluster file — give another -o FILE",
        2,
    ),
    "import-output-comment-after-a-value": (
        lambda t: ["import", str(_write(t, "cluster.yaml", CLUSTER)), "-o",
                   str(_write(t, "Pulumi.x.yaml", "encryptionsalt: v1:x  # from pulumi stack init\n"))],
        "Pulumi.x.yaml:1: a comment after a value, which merging the import cannot keep in place",
        2,
    ),
    "import-output-kept-key-contradicts": (
        lambda t: ["import", str(_write(t, "cluster.yaml", CLUSTER)), "-o",
                   str(_write(t, "Pulumi.x.yaml", {"config": {"fate:partyId": 9999,
                                                              "fate:rollsite": {"nodeport": 1}}}))],
        "fate:rollsite.nodeport: unknown key",
        2,
    ),
    "import-secrets-script-exists": (
        lambda t: ["import", str(_write(t, "cluster.yaml", CLUSTER)), "--secrets-script", str(_write(t, "s.sh", "x")),
                   "-o", str(t / "Pulumi.x.yaml")],
        "s.sh: exists — remove it first (it may hold passwords)",
        2,
    ),
    "import-helm-values": (
        lambda t: ["import", str(_write(t, "values.yaml", HELM_VALUES))],
        "values.yaml: Helm values of a KubeFATE chart (values.yaml: partyName, image), not a KubeFATE cluster file — "
        "pass the cluster.yaml given to `kubefate cluster install`",
        2,
    ),
    "import-no-chart-name": (
        lambda t: ["import", str(_write(t, "cluster.yaml", {k: v for k, v in CLUSTER.items() if k != "chartName"}))],
        "cluster.yaml: chartName: required",
        2,
    ),
    "import-peer-not-a-cluster-file": (
        lambda t: ["import", str(_write(t, "cluster.yaml", CLUSTER)), "--peer", str(EXAMPLE), "-o",
                   str(t / "Pulumi.x.yaml")],
        "Pulumi.party-9999-eggroll.yaml: not a KubeFATE cluster file (chartName: fate, fate-exchange or fate-serving) "
        "— --peer takes the cluster files",
        2,
    ),
    "import-peer-missing": (
        lambda t: ["import", str(_write(t, "cluster.yaml", CLUSTER)), "--peer", str(t / "peer.yaml")],
        "peer.yaml: no such file",
        2,
    ),
    "import-node-port-80-under-the-users-key": (
        lambda t: ["import",
                   str(_write(t, "cluster.yaml", {**CLUSTER, "rollsite": {"type": "NodePort", "nodePort": 80}}))],
        "cluster.yaml: rollsite.nodePort: Input should be greater than or equal to 30000",
        2,
    ),
    # federation
    "federation-missing-file": (lambda t: ["federation", "preview", str(t / "fed.yaml")], "fed.yaml: no such file", 2),
    "federation-a-stack-file": (
        lambda t: ["federation", "preview", str(EXAMPLE)],
        "a Pulumi stack file, not a topology",
        2,
    ),
    "federation-a-cluster-file": (
        lambda t: ["federation", "up", str(_write(t, "c.yaml", CLUSTER))],
        "a KubeFATE cluster file, not a topology",
        2,
    ),
    "federation-bad-backend": (
        lambda t: [
            "federation",
            "preview",
            str(
                _write(
                    t,
                    "fed.yaml",
                    {**TOPOLOGY, "parties": [{"partyId": 1, "address": "198.51.100.1", "backend": "spark"}]},
                )
            ),
        ],
        "parties.0.backend:",
        2,
    ),
    "federation-party-twice": (
        lambda t: [
            "federation",
            "preview",
            str(_write(t, "fed.yaml", {**TOPOLOGY, "parties": TOPOLOGY["parties"] * 2})),
        ],
        "party id 9999 is listed twice",
        2,
    ),
    "federation-bad-yaml": (
        lambda t: ["federation", "preview", str(_write(t, "fed.yaml", "parties: [\n"))],
        "fed.yaml:2:",
        2,
    ),
    # federation: the topology's shape, keys, variables and NodePorts; the stacks' hand-set keys; plan's output
    "federation-topology-a-list": (
        lambda t: ["federation", "preview", str(_write(t, "fed.yaml", TOPOLOGY["parties"]))],
        "fed.yaml: a list, not a topology — a topology is a mapping, e.g. name: demo, parties: [{partyId: 9999,",
        2,
    ),
    "federation-party-not-a-mapping": (
        lambda t: ["federation", "preview", str(_write(t, "fed.yaml", {**TOPOLOGY, "parties": [9999]}))],
        "parties.0: 9999, not a party — a party is a mapping, e.g. {partyId: 9999, address: 203.0.113.10}",
        2,
    ),
    "federation-parties-not-a-list": (
        lambda t: ["federation", "preview",
                   str(_write(t, "fed.yaml", {**TOPOLOGY, "parties": TOPOLOGY["parties"][0]}))],
        "parties: a mapping, not a list — e.g. parties: [{partyId: 9999, address: 203.0.113.10}]",
        2,
    ),
    "federation-key-typo": (  # named first, not hidden behind the "partyId: Field required" it causes
        lambda t: ["federation", "preview", str(_write(t, "fed.yaml", {**TOPOLOGY, "parties": [
            {"partyID": 9999, "address": "198.51.100.10"}]}))],
        "fed.yaml: parties.0.partyID: unknown key — did you mean partyId? A party's keys: address, backend, config, "
        "kubernetes, namespace, nodePortBase, partyId, secrets",
        2,
    ),
    "federation-missing-variables": (  # every party's, at once
        lambda t: ["federation", "preview", str(_write(t, "fed.yaml", {**TOPOLOGY, "parties": [
            {"partyId": pid, "address": "198.51.100.10", "secrets": {"mysqlPassword": f"env:BAD_INPUT_{pid}_MYSQL"}}
            for pid in (9999, 10000)]}))],
        "secrets: environment variables not set: BAD_INPUT_9999_MYSQL (parties[0].secrets.mysqlPassword), "
        "BAD_INPUT_10000_MYSQL (parties[1].secrets.mysqlPassword) — export each",
        2,
    ),
    "federation-node-port-clash": (
        lambda t: ["federation", "preview", str(_write(t, "fed.yaml", {**TOPOLOGY, "parties": [
            {"partyId": 10000, "address": "198.51.100.10"}, {"partyId": 10275, "address": "198.51.100.20"}]})),
            "--work-dir", str(t)],
        "parties[1].nodePortBase: NodePorts 31010-31019 of parties[1] (party 10275) (from its party id) overlap "
        "31010-31019 of parties[0] (party 10000) (from its party id) — give one of them a free block: "
        "nodePortBase: 30010",
        2,
    ),
    "federation-config-sets-a-node-port": (
        lambda t: ["federation", "preview", str(_write(t, "fed.yaml", {**TOPOLOGY, "parties": [
            {"partyId": 9999, "address": "198.51.100.10", "config": {"python": {"service": {"nodePorts": {
                "http": 31234}}}}}]})), "--work-dir", str(t)],
        "parties[0].config.python.service.nodePorts: set by the topology",
        2,
    ),
    "federation-up-key-set-by-hand": (
        lambda t: ["federation", "up", str(_write(t, "fed.yaml", TOPOLOGY)), "--work-dir", str(_write(
            _project(t), "Pulumi.demo-party-9999.yaml", {"config": {"fate:partyId": "9999", "fate:imageTag": "x"}}
        ).parent)],
        "Pulumi.demo-party-9999.yaml: fate:imageTag: in the stack but not from the topology",
        2,
    ),
    "federation-no-project": (  # the stacks' files, whose NodePorts running parties keep, are in the project
        lambda t: ["federation", "plan", str(_write(t, "fed.yaml", TOPOLOGY)), "-o", str(t / "plan")],
        "no Pulumi.yaml — run it in the fate-pulumi project",
        2,
    ),
    "federation-plan-without-out": (
        lambda t: ["federation", "plan", str(_write(t, "fed.yaml", TOPOLOGY))],
        "-o DIR is where `plan` writes",
        2,
    ),
    # federation --parallel: how many stacks run at once, at least one (checked before the topology is read)
    "federation-parallel-zero": (lambda t: ["federation", "preview", str(t / "fed.yaml"), "--parallel", "0"],
                                 "argument --parallel: 0 is below 1", 2),
    "federation-parallel-negative": (lambda t: ["federation", "up", str(t / "fed.yaml"), "--parallel", "-2"],
                                     "argument --parallel: -2 is below 1", 2),
    "federation-parallel-not-a-number": (lambda t: ["federation", "drift", str(t / "fed.yaml"), "--parallel", "two"],
                                         "argument --parallel: 'two' is not a whole number", 2),
    "federation-plan-over-a-users-file": (
        lambda t: ["federation", "plan", str(_write(t, "fed.yaml", TOPOLOGY)), "-o", str(t), "--work-dir",
                   str(_write(_project(t), "Pulumi.demo-party-9999.yaml", {"config": {"fate:partyId": 9999}}).parent)],
        "Pulumi.demo-party-9999.yaml: exists and was not written by fate-pulumi federation plan",
        2,
    ),
    # ca
    "ca-out-is-a-file": (lambda t: ["ca", "--cn", "CA", "--out", str(_write(t, "ca", "x"))], "is not a directory", 2),
    "ca-key-exists": (lambda t: ["ca", "--cn", "CA", "--out", str(_key(t))], "a CA key is never overwritten", 2),
    # ca: a CA valid long enough, a common name X.509 takes, nothing overwritten, nothing half written
    "ca-days-negative": (lambda t: ["ca", "--cn", "CA", "--out", str(t / "ca"), "--days", "-5"],
                         "argument --days: -5 is below 31", 2),
    "ca-days-zero": (lambda t: ["ca", "--cn", "CA", "--out", str(t / "ca"), "--days", "0"],
                     "argument --days: 0 is below 31", 2),
    "ca-days-within-the-expiry-warning": (lambda t: ["ca", "--cn", "CA", "--out", str(t / "ca"), "--days", "30"],
                                          "flagged by every preview and by preflight", 2),
    "ca-days-past-year-9999": (lambda t: ["ca", "--cn", "CA", "--out", str(t / "ca"), "--days", "3000000"],
                               "ends after the year 9999", 2),
    "ca-days-in-words": (lambda t: ["ca", "--cn", "CA", "--out", str(t / "ca"), "--days", "ten"],
                         "argument --days: invalid int value: 'ten'", 2),
    "ca-cn-empty": (lambda t: ["ca", "--cn", "", "--out", str(t / "ca")], "argument --cn: empty", 2),
    "ca-cn-blank": (lambda t: ["ca", "--cn", "  ", "--out", str(t / "ca")], "argument --cn: empty", 2),
    "ca-cn-too-long": (lambda t: ["ca", "--cn", "C" * 65, "--out", str(t / "ca")],
                       "argument --cn: 65 characters — a common name has at most 64", 2),
    "ca-cn-missing": (lambda t: ["ca", "--out", str(t / "ca")], "the following arguments are required: --cn", 2),
    "ca-out-empty": (lambda t: ["ca", "--cn", "CA", "--out", ""], "argument --out: an empty path", 2),
    "ca-certificate-exists": (
        lambda t: ["ca", "--cn", "CA", "--out", str(_write(t, "ca.pem", "existing").parent)],
        "ca.pem: exists — a CA certificate is never overwritten",
        2,
    ),
    "ca-out-under-a-file": (lambda t: ["ca", "--cn", "CA", "--out", str(_write(t, "f", "x") / "ca")],
                            "cannot create it (Not a directory)", 2),
    "ca-out-proc": (lambda t: ["ca", "--cn", "CA", "--out", "/proc"], "/proc: cannot write into it", 2),
    "ca-out-sys": (lambda t: ["ca", "--cn", "CA", "--out", "/sys/fate-ca"], "/sys/fate-ca: cannot create it", 2),
    # password (standard input is empty here, and not a terminal)
    "password-no-terminal": (lambda t: ["password"], "standard input is not a terminal — to read the password from "
                                                     "it, add --stdin", 2),
    "password-stdin-empty": (lambda t: ["password", "--stdin"], "standard input is empty", 2),
    "password-as-argument": (lambda t: ["password", "s3cret"], "unrecognized arguments: s3cret", 2),
    # drift
    "drift-no-project": (lambda t: ["drift", "--stack", "x", "--work-dir", str(t)], "no Pulumi.yaml", 2),
    "drift-no-stack": (lambda t: ["drift"], "one of the arguments --stack --all is required", 2),
    "drift-empty-stack": (lambda t: ["drift", "--stack", ""], "argument --stack: empty", 2),
    "drift-stack-and-all": (lambda t: ["drift", "--stack", "x", "--all"], "not allowed with argument --stack", 2),
    "drift-work-dir-a-file": (lambda t: ["drift", "--stack", "x", "--work-dir", str(_write(t, "Pulumi.yaml", "x"))],
                              "a file, not a directory — give the project directory", 2),
    "drift-work-dir-empty": (lambda t: ["drift", "--stack", "x", "--work-dir", ""],
                             "argument --work-dir: an empty path", 2),
    # status, logs (an unknown stack or workload needs a project's stacks: tests/engine/test_status.py)
    "status-no-stack": (lambda t: ["status"], "no stack — name one or more (pulumi stack ls), or give --topology", 2),
    "status-empty-stack": (lambda t: ["status", ""], "an empty stack name", 2),
    "status-stacks-and-topology": (lambda t: ["status", "x", "--topology", str(_write(t, "fed.yaml", TOPOLOGY))],
                                   "argument --topology: not with stack names", 2),
    "status-no-project": (lambda t: ["status", "x", "--work-dir", str(t)], "no Pulumi.yaml", 2),
    "status-topology-missing": (lambda t: ["status", "--topology", str(t / "nope.yaml")], "nope.yaml: no such file",
                                2),
    "status-topology-a-stack-file": (lambda t: ["status", "--topology", str(_stack(t))],
                                     "a Pulumi stack file, not a topology", 2),
    "status-bad-flag": (lambda t: ["status", "x", "--yaml"], "unrecognized arguments: --yaml", 2),
    "logs-no-workload": (lambda t: ["logs", "x"], "the following arguments are required: WORKLOAD", 2),
    "logs-follow-previous": (lambda t: ["logs", "x", "python", "-f", "-p"], "argument --follow: not with --previous",
                             2),
    "logs-since-not-a-duration": (lambda t: ["logs", "x", "python", "--since", "yesterday"],
                                  "argument --since: 'yesterday' is not a duration — e.g. 30s, 10m, 2h", 2),
    "logs-negative-tail": (lambda t: ["logs", "x", "python", "--tail", "-5"], "argument --tail: a negative count", 2),
    "logs-no-project": (lambda t: ["logs", "x", "python", "--work-dir", str(t)], "no Pulumi.yaml", 2),
    # adopt
    "adopt-missing-stack-file": (
        lambda t: ["adopt", "take-over", str(t / "Pulumi.x.yaml"), "--backup", str(t / "b.json")],
        "Pulumi.x.yaml: no such file",
        2,
    ),
    # adopt rollback / take-over's other inputs, MySQL backup and restore (issue 23)
    "adopt-rollback-missing-backup": (
        lambda t: ["adopt", "rollback", "--backup", str(t / "kubefate-fate-9999.json")],
        "kubefate-fate-9999.json: no such file",
        2,
    ),
    "adopt-rollback-backup-is-a-stack-file": (
        lambda t: ["adopt", "rollback", "--backup", str(EXAMPLE)],
        "not a backup written by fate-pulumi adopt take-over",
        2,
    ),
    "adopt-rollback-binary-backup": (
        lambda t: ["adopt", "rollback", "--backup", str(_bytes(t, "b.json", b"\x89PNG\r\n\x1a\n\x00\xff"))],
        "b.json: not UTF-8 text",
        2,
    ),
    "adopt-take-over-not-adoptable": (
        lambda t: ["adopt", "take-over", str(_stack(t)), "--backup", str(t / "b.json")],
        "Pulumi.x.yaml: fate:adoptKubefate: not set",
        2,
    ),
    "adopt-take-over-mysql-backup-dir-missing": (
        lambda t: ["adopt", "take-over", str(_adoptable(t)), "--backup", str(t / "b.json"),
                   "--mysql-backup", str(t / "no" / "m.sql")],
        "no such directory",
        2,
    ),
    "adopt-take-over-mysql-backup-not-a-backup": (
        lambda t: ["adopt", "take-over", str(_adoptable(t)), "--backup", str(t / "b.json"),
                   "--mysql-backup", str(_write(t, "m.sql", "SELECT 1;\n"))],
        "m.sql: no `-- fate-pulumi backup:` line at its end",
        2,
    ),
    "backup-missing-stack-file": (
        lambda t: ["backup", str(t / "Pulumi.x.yaml"), "-o", str(t / "m.sql")],
        "Pulumi.x.yaml: no such file",
        2,
    ),
    "backup-output-exists": (
        lambda t: ["backup", str(EXAMPLE), "-o", str(_write(t, "m.sql", "x"))],
        "m.sql: exists — a backup is never overwritten",
        2,
    ),
    "backup-output-dir-missing": (
        lambda t: ["backup", str(EXAMPLE), "-o", str(t / "no" / "m.sql")],
        "no such directory",
        2,
    ),
    "backup-no-mysql": (
        lambda t: ["backup", str(ROOT / "examples" / "Pulumi.exchange-rollsite.yaml"), "-o", str(t / "m.sql")],
        "the stack deploys no MySQL",
        2,
    ),
    "restore-missing-backup": (
        lambda t: ["restore", str(EXAMPLE), "--from", str(t / "m.sql")],
        "m.sql: no such file",
        2,
    ),
    "restore-from-a-stack-file": (
        lambda t: ["restore", str(EXAMPLE), "--from", str(EXAMPLE)],
        "not a MySQL backup fate-pulumi wrote",
        2,
    ),
    "restore-from-a-binary-file": (
        lambda t: ["restore", str(EXAMPLE), "--from", str(_bytes(t, "m.sql", b"\x00\xff\xfe" * 100))],
        "not a MySQL backup fate-pulumi wrote",
        2,
    ),
    "restore-missing-stack-file": (
        lambda t: ["restore", str(t / "Pulumi.x.yaml"), "--from", str(_mysql_backup(t))],
        "Pulumi.x.yaml: no such file",
        2,
    ),
    "restore-corrupt-backup": (  # a failure, not bad input: checked before the cluster is touched
        lambda t: ["restore", str(EXAMPLE), "--from", str(_mysql_backup(t, corrupt=True))],
        "its sha256 is not the one recorded when it was taken",
        1,
    ),
    # preflight
    "preflight-nothing-given": (lambda t: ["preflight"], "give stack files or --topology FILE", 2),
    "preflight-bad-external": (lambda t: ["preflight", "--external", "db", str(EXAMPLE)], "'db' is not host:port", 2),
    "preflight-missing-stack-file": (lambda t: ["preflight", str(t / "Pulumi.y.yaml")], "Pulumi.y.yaml: no such file",
                                     2),
    "preflight-bad-config": (lambda t: ["preflight", str(_stack(t, rollsite={"nodeport": 1}))],
                             "fate:rollsite.nodeport: unknown key", 2),
    "preflight-external-port-zero": (
        lambda t: ["preflight", "--external", "1.2.3.4:0", str(EXAMPLE)],
        "'1.2.3.4:0' is not host:port (the port '0' is not a number from 1 to 65535)",
        2,
    ),
    "preflight-external-port-too-big": (lambda t: ["preflight", "--external", "db:65536", str(EXAMPLE)],
                                        "the port '65536' is not a number from 1 to 65535", 2),
    "preflight-external-no-host": (lambda t: ["preflight", "--external", ":3306", str(EXAMPLE)],
                                   "'' is not an IP address or DNS name", 2),
    "preflight-external-url": (lambda t: ["preflight", "--external", "http://db:3306", str(EXAMPLE)],
                               "'http://db:3306' is a URL, not host:port — give 'db:3306'", 2),
    "preflight-external-arabic-digits": (lambda t: ["preflight", "--external", "db:\u0663\u0663\u0660\u0666",
                                                    str(EXAMPLE)], "is not a number from 1 to 65535", 2),
    "preflight-same-party-twice": (  # not 25 address clashes
        lambda t: ["preflight", str(EXAMPLE), str(_bytes(t, "Pulumi.copy.yaml", EXAMPLE.read_bytes()))],
        "Pulumi.copy.yaml: fate:partyId: party 9999 is also",
        2,
    ),
    "preflight-two-files-one-stack-name": (
        lambda t: ["preflight", str(_stack(_dir(t, "a"), partyId=1)), str(_stack(_dir(t, "b"), partyId=2))],
        "names stack x, as",
        2,
    ),
    "preflight-topology-as-stack-file": (
        lambda t: ["preflight", str(_write(t, "fed.yaml", TOPOLOGY))],
        "a federation topology, not a stack file — give it as: fate-pulumi preflight --topology",
        2,
    ),
    "preflight-section-wrong-shape": (lambda t: ["preflight", str(_stack(t, tls=[1]))],
                                      "fate:tls: expects a mapping of settings, not [1]", 2),
    "preflight-device-file": (lambda t: ["preflight", "/proc/self/mem"], "/proc/self/mem: cannot read it", 2),
    "preflight-topology-empty-argument": (lambda t: ["preflight", "--topology", ""], "an empty path", 2),
    # picture
    "picture-same-party-twice": (
        lambda t: ["picture", "--out", str(t / "f.svg"), str(EXAMPLE),
                   str(_bytes(t, "Pulumi.copy.yaml", EXAMPLE.read_bytes()))],
        "party 9999 is also",
        2,
    ),
    "picture-section-wrong-shape": (
        lambda t: ["picture", "--out", str(t / "f.svg"), str(_stack(t, cloud="aws"))],
        "fate:cloud: expects a mapping of settings, not 'aws' — e.g. {provider: onprem}",
        2,
    ),
    # the dispatcher
    "unknown-command": (lambda t: ["renderr", "x"], "unknown command 'renderr'", 2),
    "unknown-command-capitals": (lambda t: ["RENDER", "x"], "unknown command 'RENDER' — did you mean render?", 2),
    "unknown-command-empty": (lambda t: [""], "unknown command ''", 2),
    "option-before-command": (lambda t: ["--stack", "x", "drift"], "unknown command '--stack'", 2),
}


def _adoptable(tmp: Path) -> Path:
    """The example party as fate-pulumi import --adopt leaves it (passwords set, fate:adoptKubefate)."""
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["config"]["fate:adoptKubefate"] = True
    return _write(tmp, "Pulumi.party-9999.yaml", doc)


def _mysql_backup(tmp: Path, corrupt: bool = False) -> Path:
    """A backup file as fate-pulumi backup writes it (its trailer line over mysqldump's output)."""
    import hashlib
    import json

    body = b"CREATE DATABASE `eggroll_meta`;\nUSE `eggroll_meta`;\n-- Dump completed on 2024-05-01 10:00:00\n"
    meta = {"version": 1, "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body), "namespace": "fate-9999",
            "pod": "mysql-0", "databases": ["eggroll_meta"], "tables": {"eggroll_meta": {}}}
    return _bytes(tmp, "m.sql", (body.replace(b"CREATE", b"create") if corrupt else body) +
                  b"-- fate-pulumi backup: " + json.dumps(meta).encode() + b"\n")


def _bytes(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def _project(tmp: Path) -> Path:
    """`tmp` as a Pulumi project (its Pulumi.yaml), for a command's --work-dir."""
    (tmp / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    return tmp


def _dir(tmp: Path, name: str) -> Path:
    (tmp / name).mkdir()
    return tmp / name


def _link(tmp: Path, name: str, target: str) -> Path:
    (tmp / name).symlink_to(target)
    return tmp / name


def _fifo(tmp: Path, name: str) -> Path:
    os.mkfifo(tmp / name)
    return tmp / name


def _key(tmp: Path) -> Path:
    out = tmp / "ca"
    out.mkdir()
    (out / "ca.key").write_text("existing")
    return out


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gets_one_line_a_non_zero_exit_and_writes_nothing(case, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", os.environ["PATH"])  # drift needs a PATH; its case has no project either way
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # empty and not a terminal, wherever the tests run
    monkeypatch.chdir(tmp_path)  # what lands in the current directory (an empty path taken for it) is seen too
    build, expected, code = CASES[case]
    argv = build(tmp_path)
    before = {p: p.stat().st_mtime for p in tmp_path.rglob("*")}
    assert cli.main(argv) == code
    out = capsys.readouterr()
    lines = [line for line in out.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), out.err
    assert expected in lines[0], lines[0]
    assert "Traceback" not in out.err + out.out
    after = {p: p.stat().st_mtime for p in tmp_path.rglob("*")}
    assert after == before, f"written: {sorted(set(after) - set(before))}"


def test_a_password_drift_and_federation_need_their_programs(tmp_path, capsys, monkeypatch):
    """Without the Pulumi CLI, drift and federation say how to get it, in one line."""
    (tmp_path / "Pulumi.yaml").write_text("name: fate\nruntime: python\n")
    monkeypatch.setenv("PATH", str(tmp_path))  # no pulumi
    assert cli.main(["drift", "--stack", "x", "--work-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == ("error: pulumi: the Pulumi CLI is not on PATH — install it (README: "
                                               "Install Pulumi) or source the toolchain's env.sh")
    topology = _write(tmp_path, "fed.yaml", TOPOLOGY)
    assert cli.main(["federation", "preview", str(topology)]) == 2
    assert "the Pulumi CLI is not on PATH" in capsys.readouterr().err
    for argv in (["status", "x"], ["logs", "x", "python"]):
        assert cli.main([*argv, "--work-dir", str(tmp_path)]) == 2
        assert "the Pulumi CLI is not on PATH" in capsys.readouterr().err


def test_an_empty_notebook_password_is_refused(capsys, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))
    assert cli.main(["password", "--stdin"]) == 2
    assert capsys.readouterr().err.startswith("error: empty password")


def test_the_notebook_password_is_a_hash_jupyter_accepts(capsys, monkeypatch):
    """The hash verifies against the password with argon2 as jupyter_server's passwd_check does."""
    import io

    from argon2 import PasswordHasher

    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret pass\n"))
    assert cli.main(["password", "--stdin"]) == 0
    hashed = capsys.readouterr().out.strip()
    algorithm, _, encoded = hashed.partition(":")
    assert algorithm == "argon2" and PasswordHasher().verify(encoded, "s3cret pass")


def test_a_typo_of_the_fate_namespace_warns(tmp_path, capsys):
    stack = _write(tmp_path, "Pulumi.x.yaml", {"config": {"fate:partyId": 9999, "fate:development": True,
                                                          "fat:backend": "spark_pulsar"}})
    assert cli.main(["render", str(stack), str(tmp_path / "out")]) == 0
    assert "warning: " + str(stack) + ": fat:backend looks like fate:backend" in capsys.readouterr().err


def test_import_writes_its_output_only_on_success(tmp_path, capsys):
    out = tmp_path / "Pulumi.party-9999.yaml"
    assert cli.main(["import", str(_write(tmp_path, "cluster.yaml", CLUSTER)), "-o", str(out)]) == 0
    assert yaml.safe_load(out.read_text())["config"]["fate:partyId"] == 9999


def test_the_console_script_is_installed_and_fails_cleanly(tmp_path):
    """As a user runs it: the `fate-pulumi` script of `pip install -e .`."""
    script = shutil.which("fate-pulumi", path=str(Path(sys.executable).parent))
    assert script, "fate-pulumi is not installed in this environment: pip install -e ."
    res = subprocess.run([script, "render", str(tmp_path / "missing.yaml"), str(tmp_path / "out")],
                         capture_output=True, text=True)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr, res.stderr
    assert subprocess.run([script, "--help"], capture_output=True, text=True).stdout.count("fate-pulumi") >= 2


def test_an_exchange_without_parties_is_said_but_rendered(tmp_path, capsys):
    stack = _write(tmp_path, "Pulumi.ex.yaml", {"config": {"fate:kind": "exchange", "fate:partyId": 1}})
    assert cli.main(["render", str(stack), str(tmp_path / "out")]) == 0
    assert "this exchange routes to no party yet" in capsys.readouterr().err


def test_the_shortest_ca_fate_pulumi_makes_is_not_flagged_on_its_first_day(tmp_path, capsys):
    """--days has its floor where the expiry checks begin: a CA one day shorter would be flagged by every preview and
    by preflight from the day it is made, which is why it is refused."""
    import datetime as dt

    from fate_pulumi.ca import MIN_DAYS
    from stacks.common import expiry_warnings
    from stacks.config import load_config

    assert cli.main(["ca", "--cn", "CA", "--out", str(tmp_path), "--days", str(MIN_DAYS)]) == 0
    cfg = load_config({"partyId": 9999, "development": True,
                       "tls": {"generate": True, "caCertificate": (tmp_path / "ca.pem").read_text()},
                       "tlsCaKey": (tmp_path / "ca.key").read_text()}, ["tlsCaKey"])
    today = dt.date.today()
    assert not [w for w in expiry_warnings(cfg, today) if "caCertificate" in w]
    assert [w for w in expiry_warnings(cfg, today + dt.timedelta(days=1)) if "caCertificate" in w]


def test_a_refused_ca_leaves_no_directory_and_no_half_of_a_ca(tmp_path):
    """The --out directory a refused run would have made is gone, and a failed certificate write takes the key
    with it (here: ca.pem is a directory, so only the key could be written)."""
    assert cli.main(["ca", "--cn", "", "--out", str(tmp_path / "new")]) == 2
    assert not (tmp_path / "new").exists()
    (tmp_path / "ca.pem").mkdir()
    assert cli.main(["ca", "--cn", "CA", "--out", str(tmp_path)]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ca.pem"]


def test_a_password_line_from_a_windows_file_loses_its_carriage_return(capsys, monkeypatch):
    import io

    from argon2 import PasswordHasher

    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret\r\n"))
    assert cli.main(["password", "--stdin"]) == 0
    assert PasswordHasher().verify(capsys.readouterr().out.strip().partition(":")[2], "s3cret")


def _console_script() -> str:
    script = shutil.which("fate-pulumi", path=str(Path(sys.executable).parent))
    assert script, "fate-pulumi is not installed in this environment: pip install -e ."
    return script


def test_a_password_that_is_not_utf8_is_refused_in_one_line():
    res = subprocess.run([_console_script(), "password", "--stdin"], input=b"\xff\xfe\n", capture_output=True)
    assert res.returncode == 2 and res.stderr == b"error: the password is not UTF-8 text \xe2\x80\x94 type it in a " \
                                                 b"UTF-8 terminal or pipe UTF-8\n", res.stderr


def test_the_password_prompt_on_a_real_terminal(tmp_path):
    """Through a pseudo-terminal that is the command's controlling terminal, as getpass opens /dev/tty: the password
    typed twice gives its hash; end of input (Ctrl-D) at the prompt is one line and exit 2."""
    import pty
    import select

    from argon2 import PasswordHasher

    def run(answers: list[tuple[bytes, bytes]]) -> tuple[int, str]:
        pid, fd = pty.fork()
        if pid == 0:  # the child, whose controlling terminal is the pty
            try:
                os.execv(_console_script(), [_console_script(), "password"])
            finally:
                os._exit(127)
        out = b""

        def read_until(marker: bytes) -> None:
            nonlocal out
            while marker not in out and select.select([fd], [], [], 60)[0]:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # EIO: the child has exited
                    return
                if not chunk:
                    return
                out += chunk

        for prompt, answer in answers:
            read_until(prompt)
            os.write(fd, answer)
        read_until(b"\0")  # everything, to the end
        os.close(fd)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), out.decode(errors="replace")

    code, out = run([(b"notebook password: ", b"s3cret\n"), (b"again: ", b"s3cret\n")])
    hashed = [line for line in out.splitlines() if line.startswith("argon2:")]
    assert code == 0 and len(hashed) == 1, out
    assert PasswordHasher().verify(hashed[0].partition(":")[2].strip(), "s3cret")
    code, out = run([(b"notebook password: ", b"\x04")])
    assert code == 2 and "error: no password entered" in out and "Traceback" not in out, out


def test_an_unreadable_file_is_said_in_one_line(capsys):
    """chmod 000: read as an unprivileged user (root reads anything, so as root the command runs as nobody)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        stack = Path(tmp) / "Pulumi.x.yaml"
        stack.write_text(EXAMPLE.read_text())
        stack.chmod(0o000)
        root = os.geteuid() == 0
        if root:
            os.seteuid(65534)
        try:
            code = cli.main(["render", str(stack), str(Path(tmp) / "out")])
        finally:
            if root:
                os.seteuid(0)
        assert sorted(p.name for p in Path(tmp).iterdir()) == ["Pulumi.x.yaml"]
    err = capsys.readouterr().err
    assert code == 2 and err == f"error: {stack}: not readable — check its permissions and those of its directories\n"


def test_a_reader_that_stops_early_ends_the_command_quietly():
    """`fate-pulumi preflight ... | head -1`: the pipe closes under the table, and no traceback follows."""
    proc = subprocess.Popen([_console_script(), "preflight", str(EXAMPLE)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()  # before the command has written anything (it is still importing)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141 and err == b"", err
