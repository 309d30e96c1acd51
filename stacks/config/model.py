"""DeploymentConfig: one deployment's whole configuration (the deployment-wide keys, and one section per module of the
registry), and the facts the compositions derive from it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, TypeVar

from pydantic import BaseModel, Field

from components import registry
from components.client import ClientConfig
from components.eggroll import ClusterManagerConfig, NodeManagerConfig
from components.fateboard import FateboardConfig
from components.fateflow import PythonConfig, ServingLink
from components.fatejob import FateJobConfig, VerifyConfig, toy_job
from components.hdfs import HdfsConfig
from components.mysql import MysqlConfig
from components.nginx import NginxConfig
from components.pulsar import PulsarConfig
from components.rabbitmq import RabbitmqConfig
from components.registry import BACKEND_ENGINES
from components.rollsite import RollsiteConfig
from components.serving import (
    ServingAdminConfig,
    ServingProxyConfig,
    ServingRedisConfig,
    ServingServerConfig,
    ServingZookeeperConfig,
)
from components.settings import Host, K8sName, Model, PartyId
from components.spark import SparkConfig
from components.trafficserver import TrafficServerConfig
from stacks.config.sections import (
    CloudConfig,
    DriftIgnore,
    IngressConfig,
    IngressRoutes,
    IstioConfig,
    KubernetesTarget,
    NetworkPolicyConfig,
    PersistenceConfig,
    PodSecurityConfig,
    Secrets,
    SecretValues,
    TlsConfig,
    extend,
)
from stacks.config.tables import (
    BACKEND_MODULES,
    EXCHANGE_BACKEND_MODULES,
    EXCHANGE_MODULES,
    FATE_22_VERSION,
    FATE_IMAGE_TAG,
    FATE_VERSION,
    PARTY_22_MODULES,
    PARTY_MODULES,
    SERVING_IMAGE_TAG,
    SERVING_MODULES,
    Algorithm,
    Backend,
    Computing,
    Device,
    Federation,
    Kind,
    PullPolicy,
    Release,
    StorageEngine,
)

S = TypeVar("S", bound=BaseModel)


class DeploymentBase(Model):
    """One deployment: a FATE party, an exchange or a FATE-Serving cluster. The modules' sections (rollsite,
    python ...) are added from the registry (`DeploymentConfig`)."""

    release: Release = Field(
        default="1.11.2", description="FATE release: 1.11.2, or 2.2 (a preview: README \"FATE 2.2 (preview)\")")
    kind: Kind = "party"
    party_id: PartyId = Field(description="FATE party id (an exchange conventionally uses 1)")
    name: Optional[K8sName] = Field(
        default=None,
        description="Deployment name (KubeFATE cluster name); "
                    "default fate-<partyId>, fate-exchange, fate-serving-<partyId>",
    )
    namespace: Optional[K8sName] = Field(default=None, description="Target namespace; default = name")
    create_namespace: bool = True
    development: bool = Field(default=False, description="Allow development fallbacks for unset passwords (warns)")
    public_host: Optional[Host] = Field(
        default=None, description="Address other parties use to reach this deployment's NodePorts/LoadBalancers")
    kubernetes: KubernetesTarget = Field(default_factory=KubernetesTarget)
    adopt_kubefate: bool = Field(
        default=False, description="Take over a running KubeFATE deployment in place (its selectors and volume claims)")
    cloud: CloudConfig = Field(default_factory=CloudConfig)

    registry: Optional[str] = Field(
        default=None, description="Image registry prefix for every image, e.g. harbor.bank.example/federatedai")
    image_tag: Optional[str] = Field(
        default=None, description="FATE image tag; default 1.11.2-release (serving 2.1.6-release)"
    )
    pull_policy: PullPolicy = "IfNotPresent"
    image_pull_secrets: list[K8sName] = Field(default_factory=list)
    persistence: PersistenceConfig = Field(default_factory=PersistenceConfig)
    ingress: IngressConfig = Field(default_factory=IngressConfig)
    istio: IstioConfig = Field(default_factory=IstioConfig)
    network_policy: NetworkPolicyConfig = Field(default_factory=NetworkPolicyConfig)
    tls: TlsConfig = Field(default_factory=TlsConfig)
    pod_security: PodSecurityConfig = Field(default_factory=PodSecurityConfig)
    drift_ignore: list[DriftIgnore] = Field(
        default_factory=list, description="Fields `fate-pulumi drift` does not report, as Kind/name:field (`*` "
                                          "matches any), e.g. Deployment/*:spec.replicas under an autoscaler",
        examples=[["Deployment/*:spec.replicas"]])

    backend: Backend = "eggroll"
    computing: Optional[Computing] = None
    federation: Optional[Federation] = None
    storage: Optional[StorageEngine] = None
    algorithm: Algorithm = "Basic"
    device: Device = "CPU"
    modules: Optional[list[str]] = Field(default=None, description="Modules to deploy; default = all of the backend",
                                         examples=[["rollsite", "clustermanager", "nodemanager", "mysql", "python"]])

    serving: ServingLink = Field(default_factory=ServingLink)

    jobs: list[FateJobConfig] = Field(
        default_factory=list, description="FATE jobs `pulumi up` runs on this party once it is up "
                                          "(components/fatejob.py)")
    verify: VerifyConfig = Field(default_factory=VerifyConfig)

    secrets: Secrets = Field(default_factory=Secrets, exclude=True)

    # ---- derived facts (computed once, used by the compositions) ----

    @property
    def deployment_name(self) -> str:
        if self.name:
            return self.name
        return {
            "party": f"fate-{self.party_id}",
            "exchange": "fate-exchange",
            "serving": f"fate-serving-{self.party_id}",
        }[self.kind]

    @property
    def target_namespace(self) -> str:
        return self.namespace or self.deployment_name

    @property
    def engines(self) -> tuple[str, str, str]:
        """(computing, federation, storage) in FATE's words."""
        return BACKEND_ENGINES[self.backend]

    @property
    def fate_version(self) -> str:
        """The FATE version the deployment runs (the stack output `fateVersion`)."""
        return FATE_22_VERSION if self.release == "2.2" else FATE_VERSION

    @property
    def fate_image_tag(self) -> str:
        return self.image_tag or (SERVING_IMAGE_TAG if self.kind == "serving" else FATE_IMAGE_TAG)

    @property
    def enabled_modules(self) -> tuple[str, ...]:
        """Modules that are deployed, in a stable order."""
        if self.kind == "exchange":
            chosen = self.modules if self.modules is not None else EXCHANGE_BACKEND_MODULES.get(self.backend, ())
            return tuple(m for m in EXCHANGE_MODULES if m in chosen)
        if self.kind == "serving":
            chosen = self.modules if self.modules is not None else SERVING_MODULES
            return tuple(m for m in SERVING_MODULES if m in chosen)
        if self.release == "2.2":  # this step's 2.2 party (stacks/config/checks.py refuses other modules)
            chosen = self.modules if self.modules is not None else PARTY_22_MODULES
            return tuple(m for m in PARTY_MODULES if m in chosen)
        spec = BACKEND_MODULES[self.backend]
        if self.modules is not None:
            party = set(self.modules)
        else:
            party = (set(spec["required"]) | set(spec["optional"])) - self.external_services
        return tuple(m for m in PARTY_MODULES if m in party)

    @property
    def fate_jobs(self) -> list[FateJobConfig]:
        """The jobs `pulumi up` runs: the toy tests of `verify`, then `jobs`."""
        return [toy_job(self.party_id, peer, self.verify.timeout) for peer in self.verify.toy] + list(self.jobs)

    @property
    def external_services(self) -> set[str]:
        """Party modules replaced by an external service the user configured."""
        return {
            m.name for m in registry.MODULES if m.external is not None and section_at(self, m.external.key) is not None
        }

    def module(self, name: str) -> Any:
        """The config section of a module, by its FATE name (e.g. 'trafficServer')."""
        return getattr(self, registry.snake(name))

    def section(self, model: type[S]) -> S:
        """The top-level section of this model type (the one Context.section of the components means)."""
        name = _SECTION_OF.get(model)
        if name is None:
            raise KeyError(f"no config section of type {model.__name__}")
        value = getattr(self, name)
        assert isinstance(value, model)
        return value


class ModuleSections:
    """The module sections of DeploymentConfig as the type checker sees them: at run time DeploymentConfig has one per
    registry entry (components/registry.py), in its order; tests/config/test_static_types.py fails when the two
    differ. A module added to the registry gets its line here."""

    rollsite: RollsiteConfig
    clustermanager: ClusterManagerConfig
    nodemanager: NodeManagerConfig
    mysql: MysqlConfig
    python: PythonConfig
    fateboard: FateboardConfig
    client: ClientConfig
    spark: SparkConfig
    hdfs: HdfsConfig
    traffic_server: TrafficServerConfig
    nginx: NginxConfig
    rabbitmq: RabbitmqConfig
    pulsar: PulsarConfig
    serving_proxy: ServingProxyConfig
    serving_server: ServingServerConfig
    serving_redis: ServingRedisConfig
    serving_zookeeper: ServingZookeeperConfig
    serving_admin: ServingAdminConfig


if TYPE_CHECKING:
    class DeploymentConfig(DeploymentBase, ModuleSections):
        pass
else:
    DeploymentConfig = extend("DeploymentConfig", DeploymentBase, {
        m.attr: (m.section, Field(default_factory=m.section)) for m in registry.MODULES}, __name__)

_SECTION_OF: dict[type, str] = {m.section: m.attr for m in registry.MODULES}
_SECTION_OF.update({info.annotation: name for name, info in DeploymentBase.model_fields.items()
                    if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)})

# The models built from the registry and the classes that spell their generated fields out for the type checker.
STATIC_VIEWS: tuple[tuple[type[BaseModel], type], ...] = (
    (DeploymentConfig, ModuleSections), (IngressConfig, IngressRoutes), (Secrets, SecretValues))


def section_at(cfg: BaseModel, path: tuple[str, ...]) -> Any:
    """The section at a config path (config keys, e.g. ("hdfs", "namenode"))."""
    obj: Any = cfg
    for part in path:
        obj = getattr(obj, registry.snake(part))
    return obj
