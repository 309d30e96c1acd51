"""fateboard: FATE's web UI for jobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
from pydantic import Field

from . import endpoints
from .context import Context
from .fateflow import PythonConfig
from .files import password_properties, properties
from .istio import virtual_service
from .kube import Module, Site, http_probes
from .outputs import OrOutput
from .settings import ExposedModule, IngressRoute

# --------------------------------------------------------------------------------------------------------------
# Config section
# --------------------------------------------------------------------------------------------------------------


class FateboardConfig(ExposedModule):
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
    """What FATE-Board takes besides its section: its image, the login password, where FATE Flow runs."""

    image: str
    password: OrOutput[str]
    fateflow_replicas: int = 1
    ingress: IngressRoute = IngressRoute()


class Fateboard(Module):
    """Deployment and Service `fateboard` (8080), ConfigMap `fateboard-config`, Secret `fateboard-secret`,
    Ingress `fateboard` (or an Istio VirtualService)."""

    TYPE = "fate:fateboard:Fateboard"
    APP = "fateboard"
    COMPONENT = "ui"

    def __init__(self, name: str, site: Site, section: FateboardConfig, args: FateboardArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        self.config_map(CONFIG_MAP, {"application.properties": properties(
            application_properties(section.username, args.fateflow_replicas))})
        self.secret(SECRET, {LOGIN_PART: password_properties(PASSWORD_KEY, args.password)})
        conf = self.assembled_file("fateboard-conf", CONF_PATH, [("configMap", CONFIG_MAP, "application.properties"),
                                                                 ("secret", SECRET, LOGIN_PART)])
        port = endpoints.FATEBOARD.port("http")
        container = self.container(
            "fateboard", args.image, section, DEFAULT_RESOURCES,
            ports=[{"name": "http", "containerPort": port}],
            volumeMounts=[conf.mount],
            **http_probes(port),
        )
        pod = self.pod_spec([container], section, conf.volumes, init_containers=[conf.init_container])
        self.service(endpoints.FATEBOARD.name, endpoints.FATEBOARD.ports, section.service)
        annotations = {"sidecar.istio.io/rewriteAppHTTPProbers": "false"} if site.istio else None
        self.deployment("fateboard", 1, pod, pod_annotations=annotations)
        hosts = [h.name for h in args.ingress.hosts]
        if site.istio:
            virtual_service(self, "fateboard", hosts, endpoints.FATEBOARD.name, port)
            self.ui_port(port)
        else:
            self.ingress("fateboard", args.ingress, endpoints.FATEBOARD.name, port)
        self.done({"endpoint": endpoints.FATEBOARD.address("http"), "hosts": hosts})


def build(ctx: Context) -> Fateboard:
    return Fateboard("fateboard", ctx.site, ctx.section(FateboardConfig), FateboardArgs(
        image=ctx.site.images.fate("fateboard"), password=ctx.secret("fateboardPassword"),
        fateflow_replicas=ctx.section(PythonConfig).replicas, ingress=ctx.ingress("fateboard")), ctx.opts)
