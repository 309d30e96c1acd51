"""The state of deployed stacks, from each stack's outputs and the live cluster: one table, or JSON for scripts.

    fate-pulumi status party-9999 [exchange ...]       # stacks of the project in this directory (or --work-dir)
    fate-pulumi status --topology federation.yaml      # every stack of a federation
    fate-pulumi status party-9999 --json

Per stack: the FATE release, each workload with ready/desired replicas, each container's restarts, state and last
termination reason, image tags, the NodePorts its Services expose, the routes (peer -> address, TLS or not), the
expiry of the certificates it issued and of its CA, the last outcome of each FATE job (`verify`, `jobs`), and the
last drift check (the tags `fate-pulumi drift` records) and whether one is due. The cluster is the stack's own
(`fate:kubernetes.kubeconfig` / `context`), or --kubeconfig / --context; kubectl is `$KUBECTL` or the one on PATH.
Exit status: 0 healthy, 1 degraded (or a stack or its cluster could not be read), 2 bad input.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from fate_pulumi.kubectl import Kubectl

EXIT_HEALTHY, EXIT_DEGRADED = 0, 1
# a container that ended this recently is still restarting; a restart long ago is history, shown but not a problem
RECENT = dt.timedelta(hours=1)
# a FATE job's final statuses that are not a failure: it succeeded, or the stack has not run it (no runner result yet)
JOB_OK = ("success", "not run", None)
DEFAULT_RELEASE = "1.11.2"  # what a stack without the fateVersion output deploys
INSTANCE = "app.kubernetes.io/instance"
APP = "app.kubernetes.io/name"


# --------------------------------------------------------------------------------------------------------------
# What is read: a stack's outputs and tags, and the live objects of its deployment


@dataclass
class Observed:
    """Everything status reads about one stack (what the unit tests record): its outputs, its tags, and the live
    Deployments, StatefulSets, Pods, Services and FATE job result ConfigMaps of its deployment."""

    stack: str
    outputs: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)
    live: dict[str, list[dict]] = field(default_factory=dict)
    error: Optional[str] = None  # the stack or its cluster could not be read: why


def observe(stack: str, work_dir: Path, kubectl: Optional[Kubectl] = None) -> Observed:
    """Read one stack: outputs and tags through the Pulumi CLI, the live objects through kubectl."""
    from fate_pulumi.drift import pulumi_cli, stack_outputs
    from fate_pulumi.kubectl import ClusterError

    try:
        outputs = stack_outputs(stack, work_dir)
    except RuntimeError as err:
        return Observed(stack, {}, error=f"outputs: {err}")
    if not outputs.get("namespace"):
        return Observed(stack, outputs, error="the stack has no outputs: it was never brought up (pulumi up)")
    try:
        tags = {str(k): str(v) for k, v in json.loads(
            pulumi_cli(work_dir, "stack", "tag", "ls", "--json", "--stack", stack) or "{}").items()}
    except (RuntimeError, ValueError):
        tags = {}
    kube = kubectl or stack_kubectl(stack, work_dir)
    ns, selector = outputs["namespace"], f"{INSTANCE}={outputs.get('name', '')}"
    try:
        live = {r: kube.list(r, ns, selector) for r in ("deployments", "statefulsets", "pods", "services")}
        live["configmaps"] = [cm for cm in (kube.get("configmap", f"fate-job-{name}-result", ns)
                                            for name in (outputs.get("jobs") or {})) if cm]
    except ClusterError as err:
        return Observed(stack, outputs, tags, error=f"cluster: {err}")
    return Observed(stack, outputs, tags, live)


def stack_kubectl(stack: str, work_dir: Path) -> Kubectl:
    """kubectl on the stack's own cluster: its `fate:kubernetes` kubeconfig (a path) and context, else the ambient
    kubeconfig."""
    from fate_pulumi.federation import stack_config

    kube = stack_config(work_dir, stack)[0].get("kubernetes") or {}
    kubeconfig = kube.get("kubeconfig") if isinstance(kube, dict) else None
    if isinstance(kubeconfig, str) and "\n" in kubeconfig:
        kubeconfig = None  # the content, not a path: the ambient one (or --kubeconfig) is used
    return Kubectl(kubeconfig, kube.get("context") if isinstance(kube, dict) else None)


# --------------------------------------------------------------------------------------------------------------
# What it means: the report of one stack (the JSON `status --json` prints, one per stack)


def _tag(image: str) -> str:
    name = image.rsplit("/", 1)[-1]
    return name.split("@", 1)[0].partition(":")[2] or "latest"


def _when(text: Optional[str]) -> Optional[dt.datetime]:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _state(status: Mapping[str, Any]) -> str:
    state = status.get("state") or {}
    for key in ("waiting", "terminated"):
        if key in state:
            reason = (state[key] or {}).get("reason")
            return f"{key}" + (f": {reason}" if reason else "")
    return "running" if "running" in state else "unknown"


def containers(pod: Mapping[str, Any], now: dt.datetime) -> list[dict[str, Any]]:
    """Each container of a pod: image, tag, ready, restarts, state and last termination, and its problem if any."""
    out = []
    done = (pod.get("status") or {}).get("phase") == "Succeeded"
    for c in (pod.get("status") or {}).get("containerStatuses") or []:
        last = ((c.get("lastState") or {}).get("terminated")) or None
        entry: dict[str, Any] = {
            "pod": pod["metadata"]["name"], "container": c["name"], "image": c.get("image", ""),
            "tag": _tag(c.get("image", "")), "ready": bool(c.get("ready")), "restarts": int(c.get("restartCount", 0)),
            "state": _state(c),
            "lastTermination": None if last is None else {
                "reason": last.get("reason"), "exitCode": last.get("exitCode"), "finishedAt": last.get("finishedAt")},
            "problem": None,
        }
        finished = _when(last.get("finishedAt")) if last else None
        recent = last is not None and (finished is None or now - finished < RECENT)
        if not done and (not entry["ready"] or recent):
            why = [entry["state"]] if not entry["ready"] else []
            if entry["restarts"]:
                why.append(f"{entry['restarts']} restarts")
            if last is not None:
                why.append(f"last terminated: {last.get('reason') or 'exit ' + str(last.get('exitCode'))}")
            entry["problem"] = ", ".join(why)
        out.append(entry)
    return out


def workloads(obs: Observed, now: dt.datetime) -> list[dict[str, Any]]:
    """Each Deployment and StatefulSet of the deployment, with its pods' containers."""
    pods: dict[str, list[dict]] = {}
    for pod in obs.live.get("pods", []):  # a FATE job's pods (app fate-job) belong to no workload: jobs() reports it
        pods.setdefault((pod["metadata"].get("labels") or {}).get(APP, ""), []).append(pod)
    out = []
    for kind, resource in (("Deployment", "deployments"), ("StatefulSet", "statefulsets")):
        for w in obs.live.get(resource, []):
            meta, spec, st = w["metadata"], w.get("spec") or {}, w.get("status") or {}
            app = ((spec.get("template") or {}).get("metadata") or {}).get("labels", {}).get(APP) or meta["name"]
            desired, ready = int(spec.get("replicas", 1)), int(st.get("readyReplicas", 0))
            cs = [c for pod in sorted(pods.get(app, []), key=lambda p: p["metadata"]["name"])
                  for c in containers(pod, now)]
            problems = []
            if desired == 0:
                problems.append("scaled to 0")
            elif ready < desired:
                problems.append(f"{ready}/{desired} ready")
            problems += [f"{c['pod']}/{c['container']}: {c['problem']}" for c in cs if c["problem"]]
            out.append({"name": meta["name"], "kind": kind, "module": app, "ready": ready, "desired": desired,
                        "images": sorted({c["image"] for c in cs} or {
                            c.get("image", "") for c in ((spec.get("template") or {}).get("spec") or {})
                            .get("containers", [])}),
                        "containers": cs, "problems": problems})
    return sorted(out, key=lambda w: w["name"])


def exposed(obs: Observed) -> list[dict[str, Any]]:
    """Every NodePort the deployment's Services expose, on the host peers are given (`connect.host`)."""
    host = (obs.outputs.get("connect") or {}).get("host")
    out = []
    for svc in obs.live.get("services", []):
        spec = svc.get("spec") or {}
        for p in spec.get("ports") or []:
            if p.get("nodePort"):
                out.append({"service": svc["metadata"]["name"], "port": p.get("name") or str(p.get("port")),
                            "type": spec.get("type"), "host": host, "nodePort": p["nodePort"]})
        for ing in (svc.get("status") or {}).get("loadBalancer", {}).get("ingress") or []:
            out.append({"service": svc["metadata"]["name"], "port": None, "type": spec.get("type"),
                        "host": ing.get("ip") or ing.get("hostname"), "nodePort": None})
    return sorted(out, key=lambda e: (e["service"], e["port"] or ""))


def certificates(outputs: Mapping[str, Any], today: dt.date) -> dict[str, Any]:
    """When the certificates the stack issued expire (output tlsCertificatesExpire) and its CA (tlsCaCertificate)."""
    from stacks.common import EXPIRY_WARNING_DAYS

    out: dict[str, Any] = {"certificatesExpire": outputs.get("tlsCertificatesExpire"), "caExpires": None,
                           "problems": []}
    ca = outputs.get("tlsCaCertificate")
    if isinstance(ca, str) and "BEGIN CERTIFICATE" in ca:
        from cryptography import x509

        out["caExpires"] = x509.load_pem_x509_certificate(ca.encode()).not_valid_after_utc.date().isoformat()
    for what, verb, date in (("the certificates", "expire", out["certificatesExpire"]),
                             ("the CA", "expires", out["caExpires"])):
        if not date:
            continue
        left = (dt.date.fromisoformat(str(date)) - today).days
        if left <= EXPIRY_WARNING_DAYS:
            out["problems"].append(f"{what} expired on {date}" if left < 0
                                   else f"{what} {verb} on {date} ({left} days)")
    return out


def jobs(obs: Observed) -> list[dict[str, Any]]:
    """The last outcome of each FATE job: its live result ConfigMap (the runner writes it) or the stack output."""
    live = {cm["metadata"]["name"]: cm.get("data") or {} for cm in obs.live.get("configmaps", [])}
    out = []
    for name, recorded in sorted((obs.outputs.get("jobs") or {}).items()):
        result = {**(recorded or {}), **live.get(f"fate-job-{name}-result", {})}
        status = result.get("status")
        out.append({"name": name, "status": status, "jobId": result.get("jobId"), "message": result.get("message"),
                    "problem": None if status in JOB_OK else f"job {name}: {status}"
                    + (f" ({result['message']})" if result.get("message") else "")})
    return out


def drift(tags: Mapping[str, str], now: dt.datetime) -> dict[str, Any]:
    """The last drift check `fate-pulumi drift` recorded, and whether the next is due."""
    from fate_pulumi.drift import CHECK_INTERVAL, CHECKED_TAG, RESULT_TAG

    checked = _when(tags.get(CHECKED_TAG))
    return {"lastCheck": tags.get(CHECKED_TAG), "lastResult": tags.get(RESULT_TAG),
            "due": checked is None or now - checked >= CHECK_INTERVAL}


def assess(obs: Observed, now: Optional[dt.datetime] = None) -> dict[str, Any]:
    """The report of one stack: what it is, each part of it, and its problems (`healthy` when there are none)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    o = obs.outputs
    report: dict[str, Any] = {
        "stack": obs.stack, "kind": o.get("kind"), "partyId": o.get("partyId"), "namespace": o.get("namespace"),
        "release": o.get("release") or o.get("fateVersion") or DEFAULT_RELEASE,
        "workloads": [], "exposed": [], "routes": o.get("routes") or [], "certificates": None, "jobs": [],
        "drift": drift(obs.tags, now), "problems": [], "healthy": False,
    }
    if obs.error:
        report["problems"] = [obs.error]
        return report
    report["workloads"] = workloads(obs, now)
    report["exposed"] = exposed(obs)
    report["certificates"] = certificates(o, now.date())
    report["jobs"] = jobs(obs)
    problems = [f"{w['name']}: {p}" for w in report["workloads"] for p in w["problems"]]
    if not report["workloads"]:
        problems.append(f"no workloads of {o.get('name')} in namespace {o.get('namespace')}")
    problems += report["certificates"]["problems"] + [j["problem"] for j in report["jobs"] if j["problem"]]
    report["problems"], report["healthy"] = problems, not problems
    return report


def exit_code(reports: list[dict[str, Any]]) -> int:
    return EXIT_HEALTHY if all(r["healthy"] for r in reports) else EXIT_DEGRADED


# --------------------------------------------------------------------------------------------------------------
# How it is shown


def _paint(text: str, colour: Optional[str], on: bool) -> str:
    codes = {"red": "31", "green": "32", "yellow": "33"}
    return f"\033[{codes[colour]}m{text}\033[0m" if on and colour else text


def _columns(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def table(reports: list[dict[str, Any]], colour: bool = False) -> str:
    """One block per stack: a header line, the workloads table, then addresses, routes, certificates, jobs, drift
    and the problems. `colour`: ANSI colours (only for a terminal)."""
    out: list[str] = []
    for r in reports:
        verdict = _paint("healthy" if r["healthy"] else "degraded", "green" if r["healthy"] else "red", colour)
        what = " ".join(str(x) for x in (r["kind"], r["partyId"]) if x is not None)
        out.append(f"{r['stack']}: {verdict}  ({what}, namespace {r['namespace']}, FATE {r['release']})")
        if r["workloads"]:
            rows = [["WORKLOAD", "READY", "RESTARTS", "LAST TERMINATION", "IMAGE TAGS"]]
            for w in r["workloads"]:
                last = [c["lastTermination"]["reason"] or f"exit {c['lastTermination']['exitCode']}"
                        for c in w["containers"] if c["lastTermination"]]
                rows.append([w["name"], f"{w['ready']}/{w['desired']}",
                             str(sum(c["restarts"] for c in w["containers"])), ", ".join(dict.fromkeys(last)) or "-",
                             ", ".join(sorted({_tag(i) for i in w["images"]}))])
            lines = _columns(rows)
            out.append(lines[0])
            out += [_paint(line, "red" if w["problems"] else None, colour)
                    for line, w in zip(lines[1:], r["workloads"], strict=True)]
        if r["exposed"]:
            out.append("  exposed: " + ", ".join(
                f"{e['service']}/{e['port']} {e['host'] or '<node>'}:{e['nodePort']}" if e["nodePort"]
                else f"{e['service']} {e['host']}" for e in r["exposed"]))
        if r["routes"]:
            out.append("  routes: " + ", ".join(
                f"{x['module']} {x['peer']} -> {x['host']}:{x['port']}{' (TLS)' if x.get('secure') else ''}"
                for x in r["routes"]))
        certs = r["certificates"] or {}
        if certs.get("certificatesExpire") or certs.get("caExpires"):
            out.append(f"  certificates: expire {certs.get('certificatesExpire') or '-'}, "
                       f"CA {certs.get('caExpires') or '-'}")
        if r["jobs"]:
            out.append("  jobs: " + ", ".join(f"{j['name']} {j['status'] or 'unknown'}" for j in r["jobs"]))
        d = r["drift"]
        checked = f"last {d['lastCheck']} ({d['lastResult']})" if d["lastCheck"] else "never checked"
        out.append(f"  drift: {checked}" + (_paint(", a check is due", "yellow", colour) if d["due"] else ""))
        out += [_paint(f"  ! {p}", "red", colour) for p in r["problems"]]
    return "\n".join(out)


# --------------------------------------------------------------------------------------------------------------
# The command


def _parser(prog: str) -> Any:
    from fate_pulumi.inputs import OneLineParser, path_arg

    parser = OneLineParser(prog=prog, description=__doc__.split("\n\n")[0],
                           epilog="exit status: 0 healthy, 1 degraded, 2 bad input")
    parser.add_argument("stacks", nargs="*", metavar="STACK", help="stack names (pulumi stack ls)")
    parser.add_argument("--topology", type=path_arg, help="a federation topology file: every stack of it")
    parser.add_argument("--json", action="store_true", help="one JSON document (keys in the README)")
    parser.add_argument("--work-dir", type=path_arg, default=Path.cwd(), help="the Pulumi project directory")
    parser.add_argument("--kubeconfig", help="instead of the stack's own fate:kubernetes.kubeconfig")
    parser.add_argument("--context", help="instead of the stack's own fate:kubernetes.context")
    return parser


def main(argv: Optional[list[str]] = None, prog: str = "fate-pulumi status") -> int:
    parser = _parser(prog)
    args = parser.parse_args(argv)
    if args.topology is not None and args.stacks:
        parser.error("argument --topology: not with stack names — give the stacks or a topology, not both")
    if args.topology is None and not args.stacks:
        parser.error("no stack — name one or more (pulumi stack ls), or give --topology FILE")
    if any(not s.strip() for s in args.stacks):
        parser.error("an empty stack name (an unset shell variable?)")
    from fate_pulumi.drift import known_stack, project_dir
    from fate_pulumi.topology import load, plan

    # a federation's stacks: those not created yet are reported as such (degraded), not refused
    names = [s.name for s in plan(load(args.topology))] if args.topology is not None else []
    work_dir = project_dir(args.work_dir)
    names = names or [known_stack(s, work_dir) for s in dict.fromkeys(args.stacks)]
    given = Kubectl(args.kubeconfig, args.context) if (args.kubeconfig or args.context) else None
    reports = [assess(observe(name, work_dir, given)) for name in names]
    if args.json:
        print(json.dumps({"healthy": exit_code(reports) == EXIT_HEALTHY, "stacks": reports}, indent=2))
    else:
        print(table(reports, colour=sys.stdout.isatty()))
    return exit_code(reports)


if __name__ == "__main__":
    from fate_pulumi.cli import guarded

    sys.exit(guarded(main))
