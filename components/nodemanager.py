"""nodemanager: eggroll's worker nodes (they run the egg_pair processes that compute)."""

from __future__ import annotations

from typing import Optional

import pulumi

from . import eggroll, endpoints, fateflow
from .context import Context
from .eggroll import NodeManagerConfig
from .kube import FLUENT_BIT_IMAGE, Module, Site, http_probes, tcp_probes

LOG_CONFIG_MAP = "fluentd-config"  # KubeFATE's name; it now holds a config fluent-bit really reads
LOG_DIR = f"{eggroll.EGGROLL_HOME}/logs"
FLUENT_BIT_HEALTH_PORT = 2020
DEFAULT_RESOURCES = {"requests": {"cpu": "1", "memory": "2Gi"}}
SIDECAR_RESOURCES = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}


def fluent_bit_config() -> list[tuple[str, list[tuple[str, str]]]]:
    """Tail the egg_pair logs into the sidecar's stdout, so `kubectl logs -c nodemanager-eggrollpair` shows them.
    (KubeFATE mounted a fluentd config into the fluent-bit sidecar, which fluent-bit does not read.)"""
    return [
        # the built-in HTTP server answers the sidecar's health probe
        ("SERVICE", [("Flush", "2"), ("Log_Level", "info"), ("HTTP_Server", "On"), ("HTTP_Listen", "0.0.0.0"),
                     ("HTTP_Port", str(FLUENT_BIT_HEALTH_PORT)), ("Health_Check", "On")]),
        ("INPUT", [
            ("Name", "tail"),
            ("Path", f"{LOG_DIR}/*/*.*"),
            ("Exclude_Path", f"{LOG_DIR}/eggroll/*"),
            ("DB", f"{LOG_DIR}/fluent-bit.db"),
            ("Tag", "eggroll"),
            ("Refresh_Interval", "5"),
        ]),
        ("OUTPUT", [("Name", "stdout"), ("Match", "*"), ("Format", "json_lines")]),
    ]


def render_fluent_bit(sections: list[tuple[str, list[tuple[str, str]]]]) -> str:
    out = []
    for name, entries in sections:
        out.append(f"[{name}]")
        out += [f"    {k:<16} {v}" for k, v in entries]
    return "\n".join(out) + "\n"


# Beyond the root image set of components/kube.py: kept from KubeFATE v1.11.2's nodemanager StatefulSet.
# Pod Security "baseline" refuses it (registry `capabilities`).
CAPABILITIES = ("SYS_PTRACE",)


class NodeManager(Module):
    """StatefulSet and headless Service `nodemanager` (4671), ConfigMap `fluentd-config`; PVCs
    `data-dir-nodemanager-<i>`."""

    TYPE = "fate:nodemanager:NodeManager"
    APP = "nodemanager"
    COMPONENT = "computing"

    def __init__(
        self,
        name: str,
        site: Site,
        section: NodeManagerConfig,
        image: str,
        config_checksums: tuple[str, ...] = (),
        opts: Optional[pulumi.ResourceOptions] = None,
    ):
        """`config_checksums`: of the eggroll-config and python-config the nodemanagers mount (a change rolls them)."""
        super().__init__(name, site, opts)
        self.config_map(LOG_CONFIG_MAP, {"fluent-bit.conf": render_fluent_bit(fluent_bit_config())})
        for checksum in config_checksums:
            self.uses_config(checksum)

        data_volume, claim = self.data_volume("data-dir", section.storage)
        port = endpoints.NODEMANAGER.port("nodemanager")
        sidecar = self.container(
            "nodemanager-eggrollpair",
            site.images.third_party(FLUENT_BIT_IMAGE),
            None,
            SIDECAR_RESOURCES,
            volumeMounts=[
                {"name": "eggroll-log", "mountPath": LOG_DIR},
                {
                    "name": "fluent-bit-conf",
                    "mountPath": "/fluent-bit/etc/fluent-bit.conf",
                    "subPath": "fluent-bit.conf",
                },
            ],
            ports=[{"name": "health", "containerPort": FLUENT_BIT_HEALTH_PORT}],
            **http_probes(FLUENT_BIT_HEALTH_PORT, path="/api/v1/health"),
        )
        nodemanager = self.container(
            "nodemanager",
            image,
            section,
            DEFAULT_RESOURCES,
            command=eggroll.start_script(
                [f"{eggroll.EGGROLL_CONF_PARTS}/eggroll/eggroll.properties"],
                eggroll.bootstrap_args("com.webank.eggroll.core.resourcemanager.NodeManagerBootstrap", port),
                use_tini=True,
            ),
            env=[{"name": "HUGGINGFACE_HUB_CACHE", "value": "/data/projects/fate/llm"}],
            # egg_pair debugging (py-spy) needs ptrace, as in KubeFATE
            securityContext={"capabilities": {"add": list(CAPABILITIES)}},
            ports=[{"name": "nodemanager", "containerPort": port}],
            volumeMounts=[
                {"name": "eggroll-log", "mountPath": LOG_DIR},
                {"name": "eggroll-confs", "mountPath": f"{eggroll.EGGROLL_CONF_PARTS}/eggroll", "readOnly": True},
                {"name": "python-confs", "mountPath": "/data/projects/fate/conf", "readOnly": True},
                {
                    "name": "data-dir",
                    "mountPath": f"{eggroll.EGGROLL_HOME}/data",
                    "subPath": section.storage.path("nodemanager"),
                },
                {"name": "data-dir", "mountPath": "/data/projects/fate/llm", "subPath": "llm"},
            ],
            **tcp_probes(port),
        )
        volumes = [
            {"name": "eggroll-log", "emptyDir": {}},
            eggroll.config_map_volume(LOG_CONFIG_MAP, "fluent-bit-conf"),
            eggroll.config_map_volume(eggroll.EGGROLL_CONFIG_MAP, "eggroll-confs"),
            eggroll.config_map_volume(fateflow.CONFIG_MAP, "python-confs", items=["service_conf.yaml"]),
        ]
        if data_volume:
            volumes.append(data_volume)
        self.service(endpoints.NODEMANAGER.name, endpoints.NODEMANAGER.ports, headless=True)
        self.stateful_set(
            "nodemanager", endpoints.NODEMANAGER.name, section.replicas,
            # nodemanagers register with the clustermanager at start
            self.pod_spec([sidecar, nodemanager], section, volumes,
                          init_containers=self.wait_for("wait-clustermanager", endpoints.CLUSTERMANAGER.name,
                                                        endpoints.CLUSTERMANAGER.port("clustermanager"))),
            claim_templates=[claim] if claim else [],
            # nodemanagers are independent workers: start them all at once
            **self.fresh_only(podManagementPolicy="Parallel"),
        )
        self.done({"endpoint": endpoints.NODEMANAGER.address("nodemanager"), "replicas": section.replicas})


def build(ctx: Context) -> NodeManager:
    checksums = (eggroll.eggroll_config_checksum(ctx), fateflow.python_config_checksum(ctx))
    return NodeManager("nodemanager", ctx.site, ctx.section(NodeManagerConfig),
                       eggroll.eggroll_image(ctx.site.images, ctx.algorithm, ctx.device),
                       tuple(c for c in checksums if c is not None), ctx.opts)
