"""fateboard: FATE's web UI for jobs."""

from __future__ import annotations

from pydantic import Field

from dataclasses import dataclass
from typing import ClassVar, Optional

import pulumi

from . import endpoints
from .files import properties
from .istio import virtual_service
from .kube import Exposure, IngressRoute, Module, Placement, Site, http_probes
from .settings import ExposedModule


# --------------------------------------------------------------------------------------------------------------
# Config section
# --------------------------------------------------------------------------------------------------------------


class FateboardConfig(ExposedModule):
    exposable_ports: ClassVar[tuple[str, ...]] = ("http",)

    username: str = Field(default="admin", min_length=1)


CONFIG_MAP = "fateboard-config"
SECRET = "fateboard-secret"
CONF_PATH = "/data/projects/fate/fateboard/conf/application.properties"
DEFAULT_RESOURCES = {"requests": {"cpu": "250m", "memory": "512Mi"}}


def application_properties(username: str, fateflow_replicas: int) -> list[tuple[str, object]]:
    """fateboard's application.properties, without the login password (that part comes from the Secret)."""
    http = endpoints.FATEFLOW.port("http")
    flow_pods = ";".join(f"http://python-{i}.{endpoints.FATEFLOW.name}:{http}" for i in range(fateflow_replicas))
    return [
        ("server.port", endpoints.FATEBOARD.port("http")),
        ("fateflow.url", f"http://{endpoints.FATEFLOW.name}:{http}"),
        ("fateflow.url-list", flow_pods),  # one URL per FATE Flow pod, preferred over fateflow.url
        ("fateflow.http_app_key", ""),
        ("fateflow.http_secret_key", ""),
        ("server.servlet.encoding.charset", "UTF-8"),
        ("server.servlet.encoding.enabled", True),
        ("server.tomcat.uri-encoding", "UTF-8"),
        ("fateboard.front_end.cors", False),
        ("fateboard.front_end.url", "http://localhost:8028"),
        ("server.tomcat.threads.max", 1000),  # Spring Boot 2.7 no longer reads server.tomcat.max-threads
        ("server.tomcat.max-connections", 20000),
        ("spring.servlet.multipart.max-file-size", "10MB"),
        ("spring.servlet.multipart.max-request-size", "100MB"),
        ("server.compression.enabled", True),
        ("server.compression.mime-types", "application/json,application/xml,text/html,text/xml,text/plain"),
        ("server.board.login.username", username),
        ("server.board.encrypt.private_key", ""),
        ("server.board.encrypt.enable", False),
        ("server.servlet.session.timeout", "4h"),
        ("server.servlet.session.cookie.max-age", "4h"),
        ("management.endpoints.web.exposure.exclude", "*"),
        ("feign.client.config.default.connectTimeout", 10000),
        ("feign.client.config.default.readTimeout", 10000),
    ]


# FATE-Board's UserService checks a login against conf/application.properties (relative to the image's WORKDIR),
# reloaded with java.util.Properties on every attempt; Spring's environment is never consulted for it
# (FATE-Board v1.11.1 UserService.java L64-105). The password must be in that file.
PASSWORD_KEY = "server.board.login.password"
LOGIN_PART = "login.properties"


@dataclass(frozen=True)
class FateboardArgs:
    image: str
    username: str
    password: str
    fateflow_replicas: int = 1
    placement: Placement = Placement()
    exposure: Exposure = Exposure()
    ingress: IngressRoute = IngressRoute()
    ingress_class: Optional[str] = None


class Fateboard(Module):
    """Deployment and Service `fateboard` (8080), ConfigMap `fateboard-config`, Secret `fateboard-secret`,
    Ingress `fateboard` (or an Istio VirtualService)."""

    TYPE = "fate:fateboard:Fateboard"
    APP = "fateboard"
    COMPONENT = "ui"

    def __init__(self, name: str, site: Site, args: FateboardArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        self.config_map(CONFIG_MAP, {"application.properties": properties(
            application_properties(args.username, args.fateflow_replicas))})
        self.secret(SECRET, {LOGIN_PART: properties([(PASSWORD_KEY, args.password)])})
        conf = self.assembled_file("fateboard-conf", CONF_PATH, [("configMap", CONFIG_MAP, "application.properties"),
                                                                 ("secret", SECRET, LOGIN_PART)])
        port = endpoints.FATEBOARD.port("http")
        container = self.container(
            "fateboard", args.image, args.placement, DEFAULT_RESOURCES,
            ports=[{"name": "http", "containerPort": port}],
            volumeMounts=[conf.mount],
            **http_probes(port),
        )
        pod = self.pod_spec([container], args.placement, conf.volumes, init_containers=[conf.init_container])
        self.service(endpoints.FATEBOARD.name, endpoints.FATEBOARD.ports, args.exposure)
        annotations = {"sidecar.istio.io/rewriteAppHTTPProbers": "false"} if site.istio else None
        self.workload = self.deployment("fateboard", 1, pod, pod_annotations=annotations)
        if site.istio:
            virtual_service(self, "fateboard", [h for h, _ in args.ingress.hosts], endpoints.FATEBOARD.name, port)
            self.ui_port(port)
        else:
            self.ingress("fateboard", args.ingress, endpoints.FATEBOARD.name, port, args.ingress_class)
        self.done({"endpoint": endpoints.FATEBOARD.address("http"),
                               "hosts": [h for h, _ in args.ingress.hosts]})
