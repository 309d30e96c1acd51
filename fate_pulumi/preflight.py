"""Preflight: what can be checked about a federation before any cluster is touched.

    fate-pulumi preflight examples/Pulumi.party-*-eggroll.yaml examples/Pulumi.exchange-rollsite.yaml
    fate-pulumi preflight --topology examples/federation.yaml [--live]

From the stacks' settings alone: every address one deployment dials is one another exposes (its public host and a
NodePort or load-balancer port, or an in-cluster Service name) or is declared `--external`; no two deployments claim
the same address and port; every federation route has its way back; where the stacks issue certificates, each
TLS peer trusts the other's CA, the server certificate names the host its peers dial, and nothing expires within
30 days. With `--live`, every address is dialled (TCP) from where this runs. One table; exit 0 all passed, 1 a
check failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import socket
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Optional

from cryptography import x509

from components import endpoints, registry
from stacks.common import EXPIRY_WARNING_DAYS, routes, tls_plan
from stacks.config import DeploymentConfig, section_at

# modules that federate (their routes lead to peers): a route from one of them to a peer needs the peer's route back
FEDERATION_MODULES = {m.name for m in registry.MODULES if m.routes is not None and m.routes.peers}


@dataclass(frozen=True)
class Finding:
    check: str  # address | target | reverse | tls | live
    subject: str
    ok: bool
    detail: str = ""


Address = tuple[str, int]


def exposed(name: str, cfg: DeploymentConfig) -> dict[Address, str]:
    """(host, port) -> "<stack>/<module>": the public host's NodePorts and load-balancer ports, and the in-cluster
    names of every Service of the deployment's modules."""
    out: dict[Address, str] = {}
    modules = set(cfg.enabled_modules)
    for module, path, service in registry.EXPOSED:
        if module not in modules:
            continue
        settings = section_at(cfg, path).service
        for port in service.ports:
            for host in (f"{service.name}.{cfg.target_namespace}",
                         *endpoints.cluster_names(service.name, cfg.target_namespace)):
                out[(host, port.port)] = f"{name}/{module}"
            if cfg.public_host:
                if settings.type == "LoadBalancer":
                    out[(cfg.public_host, port.port)] = f"{name}/{module}"
                if port.key in settings.node_ports:
                    out[(cfg.public_host, settings.node_ports[port.key])] = f"{name}/{module}"
    return out


def static_checks(stacks: dict[str, DeploymentConfig], external: Iterable[Address] = (),
                  today: Optional[dt.date] = None) -> list[Finding]:
    findings: list[Finding] = []
    owner: dict[Address, str] = {}
    for name, cfg in stacks.items():
        for address, module in exposed(name, cfg).items():
            other = owner.setdefault(address, module)
            if other.split("/")[0] != name:
                findings.append(Finding("address", f"{address[0]}:{address[1]}", False,
                                        f"claimed by {other} and {module}"))
    external = set(external)
    dials: dict[str, set[str]] = {name: set() for name in stacks}  # stack -> stacks its federation modules dial
    for name, cfg in stacks.items():
        for module, host, port in routes(cfg):
            target = owner.get((host, port))
            subject = f"{name}/{module} -> {host}:{port}"
            if target is not None:
                findings.append(Finding("target", subject, True, target))
                if module in FEDERATION_MODULES:
                    dials[name].add(target.split("/")[0])
            elif (host, port) in external:
                findings.append(Finding("target", subject, True, "external (declared)"))
            else:
                findings.append(Finding("target", subject, False, "no deployment exposes it (a typo, a NodePort "
                                        "not set, or a service outside the federation: --external HOST:PORT)"))
    pairs = sorted({tuple(sorted((name, peer))) for name, peers in dials.items() for peer in peers - {name}})
    for a, b in pairs:
        missing = [f"{y} has no route back to {x}" for x, y in ((a, b), (b, a))
                   if y in dials[x] and x not in dials.get(y, set())]
        findings.append(Finding("reverse", f"{a} <-> {b}", not missing, "; ".join(missing)))
    findings += tls_checks(stacks, owner, today or dt.date.today())
    return findings


def _ca_pems(cfg: DeploymentConfig) -> set[str]:
    """The CAs a deployment's TLS peers trust it by (its own issuing CA) and it trusts (plus trustedCaCertificates)."""
    own = {cfg.tls.ca_certificate.strip()} if cfg.tls.ca_certificate else set()
    return own | {pem.strip() for pem in cfg.tls.trusted_ca_certificates}


def tls_checks(stacks: dict[str, DeploymentConfig], owner: dict[Address, str], today: dt.date) -> list[Finding]:
    """Rollsite mutual TLS and the Pulsar / Traffic Server star, where the stacks issue their certificates."""
    findings: list[Finding] = []
    for name, cfg in stacks.items():
        plan = tls_plan(cfg, today)
        if plan is None:
            continue
        left = (plan.expires - today).days
        findings.append(Finding("tls", f"{name} certificates", left > EXPIRY_WARNING_DAYS,
                                f"expire {plan.expires} ({left} days)"))
        for pem in _ca_pems(cfg):
            not_after = x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc.date()
            if (not_after - today).days <= EXPIRY_WARNING_DAYS:
                findings.append(Finding("tls", f"{name} CA", False, f"a CA it uses expires {not_after}"))
        for module, host, port, secure in _tls_routes(cfg):
            target = owner.get((host, port))
            if target is None or not secure:
                continue
            peer_name = target.split("/")[0]
            peer = stacks[peer_name]
            subject = f"{name}/{module} -> {target} ({host})"
            peer_plan = tls_plan(peer, today)
            if peer_plan is None:
                findings.append(Finding("tls", subject, True, "the peer's own certificates (Secret): not checked"))
                continue
            problems = []
            if peer_plan.ca_certificate.strip() not in _ca_pems(cfg):
                problems.append(f"{name} does not trust {peer_name}'s CA (add it to tls.trustedCaCertificates)")
            if plan.ca_certificate.strip() not in _ca_pems(peer):
                problems.append(f"{peer_name} does not trust {name}'s CA (mutual TLS)")
            if module == "rollsite":
                names = _rollsite_names(peer)
                if host not in names:
                    problems.append(f"{peer_name}'s rollsite certificate does not name {host} (set its publicHost)")
            findings.append(Finding("tls", subject, not problems, "; ".join(problems)))
    return findings


def _tls_routes(cfg: DeploymentConfig) -> list[tuple[str, str, int, bool]]:
    """(module, host, port, secure) of the routes dialled with TLS."""
    out: list[tuple[str, str, int, bool]] = []
    modules = set(cfg.enabled_modules)
    if "rollsite" in modules:
        rs = cfg.rollsite
        if rs.exchange:
            out.append(("rollsite", rs.exchange.host, rs.exchange.port, rs.exchange.secure))
        out += [("rollsite", p.host, p.port, p.secure) for p in rs.party_list]
    if "pulsar" in modules and cfg.pulsar.exchange:
        out.append(("pulsar", cfg.pulsar.exchange.host, cfg.pulsar.exchange.port, True))
    return out


def _rollsite_names(cfg: DeploymentConfig) -> set[str]:
    """The names rollsite's server certificate carries (stacks/common, components/rollsite build)."""
    hosts = [cfg.public_host] if cfg.public_host else []
    return {"rollsite", *hosts, *endpoints.cluster_names(endpoints.ROLLSITE.name, cfg.target_namespace)}


def live_checks(findings: list[Finding], timeout: float = 3.0) -> list[Finding]:
    """Dial every target of the static checks (TCP) from here."""
    out = []
    seen: set[Address] = set()
    for f in findings:
        if f.check != "target":
            continue
        host, _, port = f.subject.rsplit(" -> ", 1)[1].rpartition(":")
        address = (host, int(port))
        if address in seen:
            continue
        seen.add(address)
        try:
            with socket.create_connection(address, timeout=timeout):
                out.append(Finding("live", f"{host}:{port}", True, "accepts connections"))
        except OSError as err:
            out.append(Finding("live", f"{host}:{port}", False, err.strerror or str(err)))
    return out


def table(findings: list[Finding]) -> str:
    rows = [("check", "subject", "result", "detail")] + [
        (f.check, f.subject, "ok" if f.ok else "FAILED", f.detail) for f in findings]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join("  ".join(c.ljust(widths[i]) for i, c in enumerate(r[:3])) + "  " + r[3] for r in rows)


def _address(text: str) -> Address:
    """--external HOST:PORT, the host as the stacks' routes write it (an IPv6 address may come in brackets)."""
    from components.settings import split_host_port

    bare = text[1:].replace("]:", ":", 1) if text.startswith("[") and "]:" in text else text
    try:
        return split_host_port(bare)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def main(argv: Optional[list[str]] = None, prog: str = "fate-pulumi preflight") -> int:
    from fate_pulumi import picture
    from fate_pulumi.inputs import OneLineParser, path_arg

    parser = OneLineParser(prog=prog, description=__doc__.split("\n\n")[0],
                                     epilog="exit status: 0 every check passed, 1 a check failed, 2 bad input")
    parser.add_argument("stack_files", nargs="*", type=path_arg, metavar="STACK_FILE",
                        help="Pulumi.<stack>.yaml files")
    parser.add_argument("--topology", type=path_arg, help="a federation topology file (fate-pulumi federation) instead")
    parser.add_argument("--external", type=_address, action="append", default=[], metavar="HOST:PORT",
                        help="an address outside the federation the stacks may dial (an external MySQL ...)")
    parser.add_argument("--live", action="store_true", help="also dial every address (TCP) from here")
    args = parser.parse_args(argv)
    if bool(args.stack_files) == bool(args.topology):
        parser.error("give stack files or --topology FILE")
    stacks = picture._load(argparse.Namespace(topology=args.topology, stack_files=args.stack_files,
                                              out="federation.svg"), prog)
    findings = static_checks(stacks, args.external)
    if args.live:
        findings += live_checks(findings)
    print(table(findings))
    failed = sum(not f.ok for f in findings)
    print(f"{len(stacks)} stacks, {len(findings)} checks, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    from fate_pulumi.cli import guarded

    sys.exit(guarded(main))
