"""fate-pulumi backup and restore against the rendered mysql module of a persistence-off party running for real,
through real `kubectl exec` (the engine tier runs the same commands with an exec stand-in, kwok's pods running
nothing). The pod is replaced between the two, as the take-over of such a party replaces it: the new pod's database
is empty (the loss is real and seen), and the restore brings every row back.

Stand-ins: MariaDB 10.11 for mysql 8.0.28 (tests/node/README.md); FATE Flow's and the clustermanager's rows are
written by the test, in their tables (eggroll's server_node from the rendered init SQL, FATE Flow's t_job as a
table of our own making).
"""

from __future__ import annotations

import os
import subprocess
import sys

import yaml

from tests.cluster.controlplane import BIN
from tests.conftest import ROOT
from tests.node import images
from tests.node.conftest import Node, party_objects

PARTY = 10005
NS = f"fate-{PARTY}"
ROWS = """
CREATE TABLE t_job (f_job_id VARCHAR(25) PRIMARY KEY, f_status VARCHAR(50), f_dsl LONGTEXT);
INSERT INTO t_job VALUES ('202401010000000000001', 'success', '{"components": {}}'),
                         ('202401010000000000002', 'failed', NULL);
INSERT INTO server_node (name, host, port, node_type, status) VALUES
  ('clustermanager', 'clustermanager', 4670, 'CLUSTER_MANAGER', 'HEALTHY'),
  ('nodemanager-0', 'nodemanager-0.nodemanager', 4671, 'NODE_MANAGER', 'HEALTHY');
"""
SNAPSHOT = ("SELECT f_job_id, f_status, IFNULL(f_dsl, 'NULL') FROM t_job ORDER BY f_job_id;"
            "SELECT name, host, port, node_type, status FROM server_node ORDER BY server_node_id;")


def fate_pulumi(node: Node, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fate_pulumi.cli", *args, f"--kubeconfig={node.cluster.kubeconfig}"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT,
                          env={**os.environ, "KUBECTL": str(BIN / "kubectl"), "PYTHONPATH": str(ROOT)})


def test_a_persistence_off_party_keeps_its_rows_through_backup_a_new_pod_and_restore(node: Node, tmp_path):
    values = {"partyId": PARTY, "registry": images.REGISTRY, "persistence": {"enabled": False}}
    stack_file = tmp_path / f"Pulumi.party-{PARTY}.yaml"
    stack_file.write_text(yaml.safe_dump({"config": {f"fate:{k}": v for k, v in values.items()}}))
    node.apply(party_objects(PARTY, ("mysql",), persistence={"enabled": False}))
    pod = node.ready_pod(NS, "mysql")
    node.sql(NS, pod["metadata"]["name"], ROWS)
    before = node.sql(NS, pod["metadata"]["name"], SNAPSHOT)
    assert len(before) == 4

    backup = tmp_path / "mysql.sql"
    done = fate_pulumi(node, "backup", str(stack_file), "-o", str(backup))
    assert done.returncode == 0, done.stdout + done.stderr

    node.kubectl("delete", "pod", "-n", NS, pod["metadata"]["name"], "--wait=false")
    pod = node.ready_pod(NS, "mysql", other_than=pod["metadata"]["uid"])
    empty = node.sql(NS, pod["metadata"]["name"], "SELECT COUNT(*) FROM information_schema.tables WHERE "
                                                  "table_schema = DATABASE() AND table_name = 't_job';"
                                                  "SELECT COUNT(*) FROM server_node")
    assert empty == [["0"], ["0"]]  # the new pod's database: the init SQL's empty tables, no t_job

    done = fate_pulumi(node, "restore", str(stack_file), "--from", str(backup))
    assert done.returncode == 0, done.stdout + done.stderr
    assert node.sql(NS, pod["metadata"]["name"], SNAPSHOT) == before
