"""FateJob (`fate:index:FateJob`): a FATE job as a resource. `pulumi up` submits it to the party's FATE Flow, waits
until it ends and fails with FATE Flow's message when it fails; an unchanged job does not run again.

The job runs as a Kubernetes Job in the party's namespace, with the party's client image and the program in
components/fatejob_runner.py. The Job's name carries a digest of what it runs (DSL and conf or pipeline script, image,
the FATE Flow address and timeout the runner is given), so a changed definition makes a new Job (Pulumi replaces it: a
new FATE job) and an unchanged one is left alone. The runner is not part of that digest: it comes from a ConfigMap of
a stable name, which a release that edits the runner updates in place. A Job's pod template is immutable (the
provider replaces a Job whose template changes, and a replaced Job runs again), so the template names only that
ConfigMap, never the runner's text or its digest: every user's finished jobs stay finished. The
Kubernetes provider awaits a Job until it completes, and fails with its pods' termination message when it does not;
the runner writes that message and records job id, status and model in a ConfigMap of its own, which the component
reads back (after the Job, on every `up`) into its outputs. The Job keeps no TTL: a Job deleted behind Pulumi's back
is created, and run, again at the next `up` after a refresh.

Config: `fate:jobs` (FateJobConfig per job) and `fate:verify` (FATE's toy test from this party to each listed peer:
the same `secure_add_example` job `flow test toy` submits, fate_client 1.11.2 flow_sdk/client/api/test.py).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional, Union

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pydantic import Field, field_validator, model_validator

from . import endpoints
from .kube import Module, Site, env
from .settings import K8sName, Model, PartyId

RUNNER = Path(__file__).with_name("fatejob_runner.py")
JOB_DIR = "/fate-job"  # the job: job.json (DSL and conf) or pipeline.py
RUNNER_DIR = "/fate-job-runner"  # runner.py
DEFAULT_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}
# on top of the job's own time: the pod's start (image pull) and the runner's stop of an overdue job
GRACE_SECONDS = 300
ROLES = ("guest", "host", "arbiter", "local")


def _document(value: Union[dict[str, Any], str], what: str) -> dict[str, Any]:
    """An inline object, or the path of a JSON or YAML file (relative to the Pulumi project directory)."""
    if isinstance(value, dict):
        return value
    path = Path(value)
    try:
        loaded = yaml.safe_load(path.read_text())
    except OSError as err:
        raise ValueError(f"cannot read the {what} file {value!r}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise ValueError(f"the {what} file {value!r} is neither JSON nor YAML: {err}") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"the {what} file {value!r} holds no object")
    return loaded


class Initiator(Model):
    role: Literal["guest", "host", "arbiter", "local"]
    party_id: PartyId = Field(alias="party_id")


class FateJobConfig(Model):
    """One FATE job: a DSL and its runtime conf (FATE 1.11, dsl_version 2), or a FATE pipeline script."""

    name: K8sName = Field(max_length=40, description="The job's name here (its Kubernetes objects are named after it)")
    dsl: Optional[Union[dict[str, Any], str]] = Field(
        default=None, description="The job DSL (`components`), inline or a JSON/YAML file's path")
    conf: Optional[Union[dict[str, Any], str]] = Field(
        default=None, description="The job's runtime conf (roles, initiator, parameters), inline or a file's path")
    pipeline: Optional[str] = Field(
        default=None, description="A FATE pipeline script's path, instead of dsl and conf")
    timeout: int = Field(default=3600, ge=60, le=7 * 24 * 3600,
                         description="Seconds the job may run; then it is stopped and `pulumi up` fails")

    @field_validator("dsl")
    @classmethod
    def _dsl(cls, value: Optional[Union[dict[str, Any], str]]) -> Optional[dict[str, Any]]:
        if value is None:
            return None
        dsl = _document(value, "dsl")
        components = dsl.get("components")
        if not isinstance(components, dict) or not components:
            raise ValueError("a DSL names its components: {components: {<name>: {module: <FATE module>}}}")
        for name, component in components.items():
            if not isinstance(component, dict) or not component.get("module"):
                raise ValueError(f"component {name!r} names no module (e.g. module: Reader)")
        return dsl

    @field_validator("conf")
    @classmethod
    def _conf(cls, value: Optional[Union[dict[str, Any], str]]) -> Optional[dict[str, Any]]:
        if value is None:
            return None
        conf = _document(value, "conf")
        if conf.get("dsl_version", 2) != 2:
            raise ValueError("FATE 1.11 runs dsl_version 2 jobs: set dsl_version: 2")
        roles = conf.get("role")
        if not isinstance(roles, dict) or not roles:
            raise ValueError("the conf has no role: {role: {guest: [<party id>], host: [<party id>]}}")
        for role, ids in roles.items():
            if role not in ROLES:
                raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
            if not isinstance(ids, list) or not ids or not all(isinstance(i, int) and i > 0 for i in ids):
                raise ValueError(f"role {role!r} needs a list of party ids (positive integers)")
        initiator = conf.get("initiator")
        if not isinstance(initiator, dict):
            raise ValueError("the conf has no initiator: {initiator: {role: guest, party_id: <party id>}}")
        who = Initiator.model_validate(initiator)
        if who.party_id not in roles.get(who.role, []):
            raise ValueError(f"the initiator (party {who.party_id} as {who.role}) is not among the conf's "
                             f"{who.role} parties {roles.get(who.role, [])}")
        return conf

    @field_validator("pipeline")
    @classmethod
    def _pipeline(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        try:
            text = Path(value).read_text()
        except OSError as err:
            raise ValueError(f"cannot read the pipeline script {value!r}: {err.strerror}") from None
        try:
            compile(text, value, "exec")
        except SyntaxError as err:
            raise ValueError(f"the pipeline script {value!r} is not Python: line {err.lineno}: {err.msg}") from None
        return text

    @model_validator(mode="after")
    def _one_kind(self) -> FateJobConfig:
        if self.pipeline is not None and (self.dsl is not None or self.conf is not None):
            raise ValueError("give either dsl and conf, or pipeline")
        if self.pipeline is None and (self.dsl is None or self.conf is None):
            raise ValueError("a job needs dsl and conf (or a pipeline script)")
        return self

    @property
    def initiator(self) -> Optional[Initiator]:
        return Initiator.model_validate(self.conf["initiator"]) if isinstance(self.conf, dict) else None

    @property
    def parties(self) -> set[int]:
        """Every party id the conf names (a pipeline script's are known only when it runs)."""
        roles = self.conf.get("role", {}) if isinstance(self.conf, dict) else {}
        return {i for ids in roles.values() for i in ids}


class VerifyConfig(Model):
    """Checks the party runs once it is up."""

    toy: list[PartyId] = Field(
        default_factory=list, description="Run FATE's toy test (`flow test toy`) from this party to each peer")
    timeout: int = Field(default=600, ge=60, le=24 * 3600, description="Seconds each toy test may run")


def toy_job(guest: int, host: int, timeout: int = 600) -> FateJobConfig:
    """FATE's toy test from `guest` (this party, the initiator) to `host`: the secure-add example job, as
    `flow test toy -gid GUEST -hid HOST` submits it (fate_client 1.11.2, flow_sdk/client/api/test.py Test.toy_conf)."""
    component = "secure_add_example_0"
    return FateJobConfig(
        name=f"toy-{host}",
        dsl={"components": {component: {"module": "SecureAddExample"}}},
        conf={
            "dsl_version": 2,
            "initiator": {"role": "guest", "party_id": guest},
            "role": {"guest": [guest], "host": [host]},
            "job_parameters": {"common": {"task_cores": 2},
                               "role": {"guest": {"0": {"user": ""}}, "host": {"0": {"user": ""}}}},
            "component_parameters": {
                "role": {"guest": {"0": {component: {"seed": 123}}}, "host": {component: {"seed": 321}}},
                "common": {component: {"partition": 4, "data_num": 1000}},
            },
        },
        timeout=timeout,
    )


@dataclass(frozen=True)
class FateJobArgs:
    job: FateJobConfig
    image: str  # the party's client image: Python 3.8 and FATE's pipeline package
    flow_host: str = endpoints.FATEFLOW.name
    flow_port: int = endpoints.FATEFLOW.port("http")
    read_result: bool = True  # False where nothing can be read back (manifests rendered to a directory)


# what the runner records in its result ConfigMap, and the component outputs
RESULT_NAME = "fate-job-{name}-result"
# (kind, name glob, field) the runner changes on purpose: not drift (fate_pulumi/drift.py)
RUNNER_WRITES = ("ConfigMap", RESULT_NAME.format(name="*"), "data")
RESULT_KEYS = ("jobId", "status", "modelId", "modelVersion", "boardUrl", "message")


class FateJob(Module):
    """A FATE job run to its end by `pulumi up`: ConfigMap `fate-job-<name>-<digest>` (the job), Job of the same name,
    ConfigMap `fate-job-<name>-runner` (the runner), ServiceAccount/Role/RoleBinding `fate-job-<name>` (may write one
    ConfigMap: `fate-job-<name>-result`, read back into the outputs)."""

    TYPE = "fate:index:FateJob"
    APP = "fate-job"
    COMPONENT = "job"

    job_id: pulumi.Output[Optional[str]]
    status: pulumi.Output[Optional[str]]

    def __init__(self, name: str, site: Site, args: FateJobArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, site, opts)
        job = args.job
        base = f"fate-job-{job.name}"
        runner_name = f"{base}-runner"
        files: dict[str, str] = {}
        if job.pipeline is not None:
            files["pipeline.py"] = job.pipeline
        else:
            files["job.json"] = json.dumps({"dsl": job.dsl, "conf": job.conf}, sort_keys=True, indent=1)
        result_name = RESULT_NAME.format(name=job.name)
        environment = [
            env("FATE_FLOW_HOST", args.flow_host),
            env("FATE_FLOW_PORT", args.flow_port),
            env("FATE_JOB_DIR", JOB_DIR),
            env("FATE_JOB_TIMEOUT", job.timeout),
            env("FATE_JOB_RESULT", f"{site.namespace}/{result_name}"),
        ]
        digest = hashlib.sha256(json.dumps([files, args.image, environment], sort_keys=True).encode()).hexdigest()[:8]
        run_name = f"{base}-{digest}"

        # the one object the runner may change: its result (never rolled back by Pulumi: data is the runner's)
        result = k8s.core.v1.ConfigMap(
            *self.child(result_name, ignore_changes=["data"]), metadata=self.meta(result_name, app=self.APP),
            data={"status": "not run", "jobName": run_name})
        account = k8s.core.v1.ServiceAccount(*self.child(base), metadata=self.meta(base, app=self.APP),
                                             automount_service_account_token=False)
        role = k8s.rbac.v1.Role(*self.child(base), metadata=self.meta(base, app=self.APP), rules=[{
            "apiGroups": [""], "resources": ["configmaps"], "resourceNames": [result_name],
            "verbs": ["get", "patch"]}])
        binding = k8s.rbac.v1.RoleBinding(
            *self.child(base), metadata=self.meta(base, app=self.APP),
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": base},
            subjects=[{"kind": "ServiceAccount", "name": base, "namespace": site.namespace}])
        k8s.core.v1.ConfigMap(*self.child(run_name), metadata=self.meta(run_name, app=self.APP), data=files,
                              immutable=True)
        # updated in place by a release that changes the runner; the Job depends on it, so a job that does run again
        # (a changed definition) starts with the new runner
        runner = k8s.core.v1.ConfigMap(*self.child(runner_name), metadata=self.meta(runner_name, app=self.APP),
                                       data={"runner.py": RUNNER.read_text()})
        container = self.container(
            "fate-job", args.image, None, DEFAULT_RESOURCES,
            command=["python", f"{RUNNER_DIR}/runner.py"], env=environment,
            volumeMounts=[{"name": "job", "mountPath": JOB_DIR, "readOnly": True},
                          {"name": "runner", "mountPath": RUNNER_DIR, "readOnly": True}],
            terminationMessagePolicy="FallbackToLogsOnError",
        )
        pod = self.pod_spec([container], volumes=[{"name": "job", "configMap": {"name": run_name}},
                                                  {"name": "runner", "configMap": {"name": runner_name}}],
                            service_account=base, automountServiceAccountToken=True)
        pod["restartPolicy"] = "Never"  # a FATE job is submitted once: a retry would be a second job
        run = k8s.batch.v1.Job(
            *self.child(run_name, depends_on=[result, account, role, binding, runner],
                        custom_timeouts=pulumi.CustomTimeouts(create=f"{job.timeout + GRACE_SECONDS}s")),
            metadata=self.meta(run_name, app=self.APP),
            spec={"backoffLimit": 0, "activeDeadlineSeconds": job.timeout + GRACE_SECONDS,
                  "template": {"metadata": self._template_meta(self.APP, {}), "spec": pod}},
        )
        outputs: dict[str, Any] = {"name": job.name, "kubernetesJob": run_name}
        if args.read_result:
            # read once the Job is complete (its id is known then; unknown in a preview of a new or changed job)
            read = k8s.core.v1.ConfigMap.get(
                self.site.pulumi_name(f"{result_name}-read"),
                run.id.apply(lambda _: f"{site.namespace}/{result_name}"),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[run]))
            for key in RESULT_KEYS:
                outputs[key] = read.data.apply(functools.partial(_result_value, key=key))
        else:
            outputs.update({key: None for key in RESULT_KEYS})
        self.job_id = outputs["jobId"]
        self.status = outputs["status"]
        self.outputs = outputs
        self.register_outputs(outputs)


def _result_value(data: Optional[dict[str, str]], key: str) -> Optional[str]:
    return (data or {}).get(key)
