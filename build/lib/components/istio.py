"""Istio mode: one Gateway per deployment and VirtualServices that replace the web UIs' Ingresses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from .kube import Module, Site

API_VERSION = "networking.istio.io/v1beta1"


@dataclass(frozen=True)
class HttpsHosts:
    """Hosts served over HTTPS with a credential (a TLS Secret in istio-system, created by the user)."""

    port_name: str
    credential: str
    hosts: tuple[str, ...]


def gateway_name(site: Site) -> str:
    return f"{site.name}-gateway"


class IstioGateway(Module):
    """Gateway `<name>-gateway` on the istio ingress gateway: HTTP on 80 and HTTPS on 443 per credential."""

    TYPE = "fate:istio:Gateway"
    APP = "istio-gateway"
    COMPONENT = "ingress"

    def __init__(
        self, name: str, site: Site, https: Sequence[HttpsHosts] = (), opts: Optional[pulumi.ResourceOptions] = None
    ):
        super().__init__(name, site, opts)
        servers: list[dict] = [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]
        for h in https:
            if h.hosts:
                servers.append({"port": {"number": 443, "name": h.port_name, "protocol": "HTTPS"},
                                "tls": {"mode": "SIMPLE", "credentialName": h.credential}, "hosts": list(h.hosts)})
        self.name = gateway_name(site)
        pulumi_name, opts = self.child(self.name)
        k8s.apiextensions.CustomResource(
            pulumi_name, api_version=API_VERSION, kind="Gateway", metadata=self.meta(self.name),
            spec={"selector": {"istio": "ingressgateway"}, "servers": servers}, opts=opts)
        self.register_outputs({"gateway": self.name})


def virtual_service(module: Module, name: str, hosts: Sequence[str], service: str, port: int,
                    prefix: str = "/", rewrite: Optional[str] = None) -> k8s.apiextensions.CustomResource:
    """A VirtualService of `module` routing its hosts through the deployment's Gateway to `service:port`."""
    route: dict = {"match": [{"uri": {"prefix": prefix}}],
                   "route": [{"destination": {"host": service, "port": {"number": port}}}]}
    if rewrite is not None:
        route["rewrite"] = {"uri": rewrite}
    pulumi_name, opts = module.child(name)
    return k8s.apiextensions.CustomResource(
        pulumi_name, api_version=API_VERSION, kind="VirtualService", metadata=module.meta(name),
        spec={"hosts": list(hosts) or ["*"], "gateways": [gateway_name(module.site)], "http": [route]}, opts=opts)
