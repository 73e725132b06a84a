"""The deployment spec: what an infra team writes once per stack (`gpuforge:deployment`).

Pydantic v2 models, no Pulumi import. `load_spec()` validates a raw mapping and raises one
`SpecError` listing every problem (schema errors, unknown keys, unknown model ids with the
nearest catalog ids, impossible combinations), each with its config path and fix.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gpuforge.errors import Problem, SpecError
from gpuforge.inputs import check_data, load_json, load_yaml, read_text
from gpuforge.spec_checks import (
    contradiction_problems,
    model_config_problems,
    stack_problems,
    stack_shape_problems,
)

CONFIG_KEY = "gpuforge:deployment"
# gpuforge's precision vocabulary is the engine's (gpuforge.engine.vllm.PRECISIONS)
Precision = Literal["bf16", "fp16", "fp8", "int8", "int4-awq", "int4-gptq", "mxfp4", "nvfp4"]
KvCacheDtype = Literal["auto", "fp8"]
CloudChoice = Literal["aws", "azure", "either"]
CapacityType = Literal["on-demand", "spot", "capacity-block", "reserved"]

_DNS1123 = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSpec(_Strict):
    """Which model to serve. Exactly one of `id` and `config` (or both: `config` overrides)."""

    id: str | None = Field(
        None,
        description="Catalog id (`gpuforge catalog models`) or Hugging Face repo id (`org/name`); a repo outside the catalog is read from the Hub and cached (docs/models.md).",
    )
    config: str | dict[str, Any] | None = Field(
        None, description="Architecture: a path to a config.json, or its fields inline."
    )
    hf_id: str | None = Field(None, description="Repo vLLM loads when `id` is a catalog id or absent.")
    revision: str | None = Field(None, description="Branch, tag or commit of the Hugging Face repo; a repo read from the Hub is served at the commit it was sized at.")
    precision: Precision | list[Precision] | None = Field(
        None, description="Weight precision, or the list the planner may choose from. Default: the checkpoint's."
    )
    kv_cache_dtype: KvCacheDtype | list[KvCacheDtype] = Field("auto", description="KV-cache dtype(s) allowed.")
    served_name: str | None = Field(None, description="Name clients send as `model`; default: the catalog id.")
    hf_token_config_key: str | None = Field(
        None,
        description="Stack config key of a Pulumi secret holding the Hugging Face token (e.g. `hfToken`): given to the pods, and used to read gated repos from the Hub at plan time.",
    )

    def precisions(self) -> list[str] | None:
        if self.precision is None:
            return None
        return [self.precision] if isinstance(self.precision, str) else list(self.precision)

    def kv_dtypes(self) -> list[str]:
        return [self.kv_cache_dtype] if isinstance(self.kv_cache_dtype, str) else list(self.kv_cache_dtype)


class WorkloadSpec(_Strict):
    input_tokens: Annotated[int, Field(gt=0, description="Typical prompt length (p50), tokens.")] = 1024
    output_tokens: Annotated[int, Field(gt=0, description="Typical completion length, tokens.")] = 256
    max_model_len: Annotated[int | None, Field(gt=0, description="Longest context served (vLLM --max-model-len).")] = None
    peak_concurrency: Annotated[int, Field(gt=0, description="Concurrent requests at peak, all replicas.")] = 32
    requests_per_second: Annotated[float | None, Field(gt=0, description="Peak arrival rate; default derived.")] = None


class SlaSpec(_Strict):
    ttft_p95_ms: Annotated[float, Field(gt=0, description="Time to first token, p95, ms.")] = 2000
    itl_p95_ms: Annotated[float | None, Field(gt=0, description="Inter-token latency, p95, ms.")] = None
    min_tokens_per_s_per_user: Annotated[float | None, Field(gt=0, description="Alternative to itl_p95_ms.")] = None
    min_replicas: Annotated[int, Field(ge=1, description="Replicas always running (availability).")] = 1
    spread_zones: bool = Field(False, description="Replicas must run in different zones.")
    headroom: Annotated[float, Field(ge=0, lt=0.9, description="Share of ttft_p95_ms and itl_p95_ms the plan keeps free (0.1: predictions at most 90% of the SLA).")] = 0.10

    def itl_limit_ms(self) -> float:
        limits = [self.itl_p95_ms] if self.itl_p95_ms else []
        if self.min_tokens_per_s_per_user:
            limits.append(1000.0 / self.min_tokens_per_s_per_user)
        return min(limits) if limits else 100.0


class TargetSpec(_Strict):
    cloud: CloudChoice = "aws"
    region: str | None = Field(None, description="Default: us-east-1 on AWS, eastus on Azure.")
    azure_region: str | None = Field(None, description="Region on Azure when cloud is `either`.")
    zone: str | None = Field(None, description="Zone for pools whose replicas span nodes (required there).")
    regions: list[str] | None = Field(
        None,
        description="Acceptable regions, of either cloud (e.g. [eu-west-1, eu-central-1, westeurope]); "
        "the planner compares their real prices. Replaces region / azure_region.",
    )
    capacity_type: CapacityType = "on-demand"
    capacity_price_usd_per_hour: Annotated[float | None, Field(gt=0, description=(
        "Per-node $/h of the capacity block you bought (upfront fee / hours / instances): "
        "AWS quotes it per offering, not in the public price list."
    ))] = None
    capacity_reservation_id: str | None = None
    capacity_block_instance_count: Annotated[int | None, Field(gt=0)] = None
    instance_families: list[str] | None = Field(None, description="Allowed families, e.g. [p5, g6e, NDv5].")
    instance_types: list[str] | None = Field(None, description="Allowed exact instance types / VM sizes.")
    max_nodes_per_replica: Annotated[int, Field(ge=1, le=16)] = 2
    max_replicas: Annotated[int | None, Field(ge=1, description="Autoscaling ceiling; default 2x planned.")] = None


class BudgetSpec(_Strict):
    max_monthly_usd: Annotated[float | None, Field(gt=0)] = None


class PrometheusSpec(_Strict):
    """An existing Prometheus (with the prometheus-operator CRDs) that gpuforge uses instead of
    installing kube-prometheus-stack."""

    url: str = Field(description="In-cluster URL KEDA queries, e.g. http://prometheus-operated.monitoring.svc:9090.")
    namespace: Annotated[str, Field(pattern=_DNS1123)] = Field(description="Namespace the Prometheus runs in.")
    selector_labels: dict[str, str] = Field(
        default_factory=dict,
        description="Labels its serviceMonitorSelector / podMonitorSelector / ruleSelector require on monitors and rules.",
    )


class ClusterSpec(_Strict):
    mode: Literal["new", "existing"] = "new"
    name: str | None = Field(None, description="Cluster name (required for `existing`).")
    resource_group: str | None = Field(
        None, description="Azure: resource group of the cluster. New clusters create it unless resource_group_exists."
    )
    resource_group_exists: bool = Field(False, description="Azure, new cluster: use the existing resource_group instead of creating it.")
    public_endpoint_cidrs: list[str] = Field(
        default_factory=list,
        description="New cluster: CIDRs allowed to reach the API server (where `pulumi up` runs). Required unless private_endpoint_only.",
    )
    private_endpoint_only: bool = Field(
        False, description="New cluster: no public API endpoint; `pulumi up` must run inside the VPC / VNet (docs/deploy.md)."
    )
    allow_api_from_anywhere: bool = Field(
        False, description="Explicit opt-in for 0.0.0.0/0 in public_endpoint_cidrs (the API server open to the internet)."
    )
    admin_principals: list[str] = Field(default_factory=list, description="IAM ARNs / Entra object ids given admin.")
    creator_admin: bool | None = Field(
        None,
        description="EKS: also give the identity running `pulumi up` admin through bootstrapClusterCreatorAdminPermissions. "
        "Default: only when admin_principals is empty (EKS rejects a second access entry for the same principal). "
        "Set only at creation: keep true for clusters created with it.",
    )
    vpc_id: str | None = Field(None, description="AWS, existing cluster: the VPC of its node subnets.")
    subnet_ids_by_zone: dict[str, str] = Field(default_factory=dict, description="AWS, existing cluster: private subnet id per zone.")
    subnet_id: str | None = Field(None, description="Azure: node subnet id (required for an existing cluster).")
    kube_prometheus_stack: bool | None = Field(
        None, description="Install kube-prometheus-stack (Prometheus, Alertmanager, Grafana). Default: yes, unless `prometheus` names an existing one."
    )
    prometheus: PrometheusSpec | None = Field(None, description="An existing Prometheus to use instead of installing one.")
    node_autoscaler: bool = Field(
        True, description="Grow and shrink the GPU pools with the replicas KEDA asks for (EKS: Cluster Autoscaler; AKS: cluster autoscaler)."
    )
    register_infiniband_feature: bool = Field(
        False,
        description="Azure: register the AKSInfinibandSupport subscription feature from the stack (subscription-wide; "
        "default: listed as a precondition, `az feature register` is idempotent).",
    )
    installed_addons: list[
        Literal[
            "nvidia-device-plugin", "gpu-operator", "dcgm-exporter", "aws-efa-k8s-device-plugin", "network-operator",
            "node-feature-discovery", "keda", "lws", "kube-prometheus-stack",
        ]
    ] = Field(default_factory=list, description="Add-ons the (existing) cluster already runs: gpuforge does not install them again.")

    def installs_prometheus(self) -> bool:
        """Whether gpuforge installs kube-prometheus-stack on this cluster."""
        return self.prometheus is None if self.kube_prometheus_stack is None else self.kube_prometheus_stack

    def creator_is_admin(self) -> bool:
        """Whether the identity running `pulumi up` gets EKS's bootstrap admin access entry."""
        return (not self.admin_principals) if self.creator_admin is None else self.creator_admin


class SharedCacheSpec(_Strict):
    """A model cache shared by every replica (ReadWriteMany): EFS or FSx for Lustre on AWS, Azure
    Files or Azure Blob (BlobFuse) on Azure. The StorageClass must exist on the cluster."""

    storage_class: str | None = Field(None, description="StorageClass of a new ReadWriteMany claim (efs-sc, fsx-sc, azurefile-csi-premium, azureblob-fuse-premium).")
    claim_name: str | None = Field(None, description="An existing ReadWriteMany claim in the serving namespace, or the name of the new one.")
    size_gib: Annotated[float | None, Field(gt=0, description="Size of a new claim; default from the checkpoint's download size.")] = None


class ServingSpec(_Strict):
    namespace: Annotated[str, Field(pattern=_DNS1123)] = "llm"
    allowed_namespaces: list[str] = Field(default_factory=list, description="Namespaces allowed to call the API.")
    expose: Literal["cluster", "gateway", "ingress"] = "cluster"
    gateway_name: str | None = None
    hostname: str | None = None
    gpu_memory_utilization: Annotated[float, Field(gt=0.5, le=0.98)] = 0.9
    efa_image: str | None = Field(None, description="Multi-node replicas on EFA: the image built from images/vllm-efa/Dockerfile (vLLM + libfabric + aws-ofi-nccl).")
    shared_cache: SharedCacheSpec | None = Field(None, description="Share one model cache between replicas instead of a cache per node.")
    drain_seconds: Annotated[int | None, Field(ge=0, le=3600, description="vLLM --shutdown-timeout; default: a planned-length request at the SLA.")] = None


class DeploymentSpec(_Strict):
    """One model deployment: the whole of `gpuforge:deployment` (or one entry of `deployments`)."""

    name: Annotated[str, Field(pattern=_DNS1123, max_length=40)]
    model: ModelSpec
    workload: WorkloadSpec = WorkloadSpec()
    sla: SlaSpec = SlaSpec()
    target: TargetSpec = TargetSpec()
    budget: BudgetSpec = BudgetSpec()
    cluster: ClusterSpec = ClusterSpec()
    serving: ServingSpec = ServingSpec()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return v


class StackSpec(_Strict):
    """A stack with several deployments sharing one cluster and platform."""

    cluster: ClusterSpec = ClusterSpec()
    target: TargetSpec = TargetSpec()
    deployments: list[DeploymentSpec]


# ---------------------------------------------------------------------------------------------


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("str", "dict[str,any]", "list[literal[...]]", "literal[...]") or "[" in str(part):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


_FIXES = {
    "extra_forbidden": "remove the key, or check its spelling against `gpuforge schema`",
    "missing": "add it",
    "literal_error": "use one of the allowed values",
    "greater_than": "use a larger value",
    "string_pattern_mismatch": "use lower-case letters, digits and '-' (a DNS-1123 label)",
}


def _pydantic_problems(err: ValidationError, prefix: str) -> list[Problem]:
    seen: dict[str, Problem] = {}
    for e in err.errors():
        path = _loc(e["loc"])
        if prefix:
            path = f"{prefix}.{path}" if path else prefix
        reason = e["msg"]
        if e["type"] == "extra_forbidden":
            reason = f"unknown key {e['loc'][-1]!r}"
        if "input" in e and e["type"] not in ("missing", "extra_forbidden") and not isinstance(e["input"], dict):
            reason += f" (got {e['input']!r})"
        # a union type reports one error per branch; keep the first per path
        seen.setdefault(path, Problem(path, reason, _FIXES.get(e["type"], "see `gpuforge schema` for the field")))
    return list(seen.values())


def semantic_problems(spec: DeploymentSpec, prefix: str = "") -> list[Problem]:
    """Problems pydantic cannot see: catalog look-ups and impossible combinations."""
    from gpuforge import catalog

    p = f"{prefix}." if prefix else ""
    problems: list[Problem] = []
    m = spec.model
    if m.id is None and m.config is None:
        problems.append(Problem(f"{p}model", "neither `id` nor `config` is given", "set model.id to a catalog id, or model.config to a config.json"))
    if m.id and m.config is None:
        problems += _unknown_model_id(m.id, f"{p}model.id")
    if isinstance(m.config, str) and not Path(m.config).is_file():
        problems.append(Problem(f"{p}model.config", f"no file at {m.config!r}", "give a path relative to where gpuforge runs, or inline the fields"))
    if m.config is not None and not (m.hf_id or (m.id and "/" in m.id) or (m.id and catalog.find_model(m.id))):
        problems.append(Problem(f"{p}model.hf_id", "the repo vLLM should load is unknown", "set model.hf_id (e.g. org/Model-Name)"))
    w = spec.workload
    if w.max_model_len is not None and w.max_model_len < w.input_tokens + w.output_tokens:
        problems.append(
            Problem(
                f"{p}workload.max_model_len",
                f"{w.max_model_len} is shorter than input_tokens + output_tokens = {w.input_tokens + w.output_tokens}",
                f"raise max_model_len to at least {w.input_tokens + w.output_tokens}",
            )
        )
    t = spec.target
    clouds = ["aws", "azure"] if t.cloud == "either" else [t.cloud]
    for i, name in enumerate(t.regions or []):
        if not any(catalog.find_region(c, name) for c in clouds):
            names = [r.name for r in catalog.all_regions() if r.cloud in clouds]
            near = catalog.nearest(name, names)
            problems.append(
                Problem(
                    f"{p}target.regions[{i}]",
                    f"{name!r} is not a {' or '.join(clouds)} region the catalog knows",
                    (f"did you mean {', '.join(near)}? " if near else "") + "See `gpuforge catalog regions`.",
                )
            )
    if t.regions is not None and not t.regions:
        problems.append(Problem(f"{p}target.regions", "empty list", "list at least one region, or drop the key"))
    for cloud in clouds if not t.regions else []:
        region = region_for(t, cloud)
        try:
            r = catalog.get_region(cloud, region)
        except KeyError as exc:
            problems.append(Problem(f"{p}target.region", str(exc.args[0]), f"use a {cloud} region from `gpuforge catalog regions`"))
            continue
        if t.zone and len(clouds) == 1 and t.zone not in r.zones:
            problems.append(Problem(f"{p}target.zone", f"{t.zone!r} is not a zone of {region}", f"use one of {', '.join(r.zones)}"))
    if t.capacity_type == "capacity-block":
        if "azure" in clouds:
            problems.append(Problem(f"{p}target.capacity_type", "capacity blocks are an AWS offering", "use on-demand or reserved on Azure, or target aws"))
        if not t.capacity_reservation_id:
            problems.append(Problem(f"{p}target.capacity_reservation_id", "a capacity block needs its reservation id", "set capacity_reservation_id (cr-...)"))
        if t.capacity_price_usd_per_hour is None:
            problems.append(
                Problem(
                    f"{p}target.capacity_price_usd_per_hour",
                    "a capacity block's price is quoted per offering (EC2 DescribeCapacityBlockOfferings upfrontFee), "
                    "not in the public price list, so the plan cannot cost it",
                    "set capacity_price_usd_per_hour to the block's upfront fee / hours / instances",
                )
            )
    elif t.capacity_price_usd_per_hour is not None:
        problems.append(
            Problem(
                f"{p}target.capacity_price_usd_per_hour",
                f"set with capacity_type {t.capacity_type!r}; {t.capacity_type} is costed at the catalog's regional price",
                "drop it, or use capacity_type: capacity-block",
            )
        )
    if t.capacity_type == "reserved" and "aws" in clouds and not t.capacity_reservation_id:
        problems.append(Problem(f"{p}target.capacity_reservation_id", "an on-demand capacity reservation needs its id", "set capacity_reservation_id (cr-...)"))
    for i, it in enumerate(t.instance_types or []):
        try:
            inst = catalog.get_instance(it)
            if inst.cloud not in clouds:
                problems.append(Problem(f"{p}target.instance_types[{i}]", f"{it!r} is an {inst.cloud} type but the target is {t.cloud}", "remove it or change target.cloud"))
        except KeyError as exc:
            problems.append(Problem(f"{p}target.instance_types[{i}]", str(exc.args[0]), "use a name from `gpuforge catalog instances`"))
    if spec.cluster.mode == "existing" and not spec.cluster.name:
        problems.append(Problem(f"{p}cluster.name", "an existing cluster needs its name", "set cluster.name"))
    problems += cluster_problems(spec.cluster, f"{p}cluster")
    if spec.serving.expose == "gateway" and not spec.serving.gateway_name:
        problems.append(Problem(f"{p}serving.gateway_name", "expose: gateway needs the Gateway to attach to", "set serving.gateway_name"))
    if spec.sla.spread_zones and spec.sla.min_replicas < 2:
        problems.append(Problem(f"{p}sla.min_replicas", "spread_zones needs at least 2 replicas", "set sla.min_replicas: 2 or more"))
    problems += model_config_problems(spec, prefix)
    problems += contradiction_problems(spec, prefix)
    return problems


# Sources a public endpoint never sees: RFC 1918, shared address space (RFC 6598), loopback and
# link-local. Documentation ranges (TEST-NET, RFC 5737) stay allowed for examples.
_NEVER_PUBLIC = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16")
)


def api_endpoint_problems(cluster: ClusterSpec, path: str) -> list[Problem]:
    """The API endpoint rules of a new cluster.

    A new cluster's API must be reachable from where `pulumi up` runs (the same program creates
    the Kubernetes objects), so it either lists the CIDRs allowed to reach its public endpoint
    (EKS publicAccessCidrs, AKS apiServerAccessProfile.authorizedIPRanges) or says, explicitly,
    that it is private-only. The whole internet (a /0) needs its own explicit opt-in.
    """
    out: list[Problem] = []
    cidrs = cluster.public_endpoint_cidrs
    if cluster.mode == "existing":
        for key in ("public_endpoint_cidrs", "private_endpoint_only", "allow_api_from_anywhere"):
            if getattr(cluster, key):
                out.append(Problem(f"{path}.{key}", "the API endpoint of an existing cluster is not managed here",
                                   f"drop {key}; change the endpoint on the cluster itself"))
        return out
    if cluster.private_endpoint_only and cidrs:
        out.append(Problem(f"{path}.public_endpoint_cidrs", "set together with private_endpoint_only: true",
                           "drop public_endpoint_cidrs for a private-only API, or drop private_endpoint_only"))
    elif not cluster.private_endpoint_only and not cidrs:
        out.append(Problem(
            f"{path}.public_endpoint_cidrs",
            "empty: the new cluster's API would be unreachable from where `pulumi up` runs, so no Kubernetes object could be created",
            "list the egress CIDRs of the machines that run pulumi (e.g. your office /32s and the CI runner's), "
            "or set private_endpoint_only: true and run pulumi from inside the network (docs/deploy.md)",
        ))
    world: list[str] = []
    for i, text in enumerate(cidrs):
        try:
            net = ipaddress.ip_network(text, strict=True)
        except ValueError as exc:
            out.append(Problem(f"{path}.public_endpoint_cidrs[{i}]", f"{text!r} is not a CIDR block ({exc})",
                               "write it as a.b.c.d/n with the host bits zero, e.g. 203.0.113.0/24"))
            continue
        if not isinstance(net, ipaddress.IPv4Network):
            # EKS publicAccessCidrs and AKS authorizedIPRanges are IPv4 CIDR lists.
            out.append(Problem(f"{path}.public_endpoint_cidrs[{i}]", f"{text} is IPv6", "list the IPv4 egress ranges"))
        elif net.prefixlen == 0:
            world.append(text)
        elif any(net.subnet_of(r) for r in _NEVER_PUBLIC):
            out.append(Problem(f"{path}.public_endpoint_cidrs[{i}]",
                               f"{text} is a private range; the public endpoint only ever sees public source addresses",
                               "list the public egress address (curl -s https://checkip.amazonaws.com), or use private_endpoint_only"))
    if world and not cluster.allow_api_from_anywhere:
        out.append(Problem(f"{path}.public_endpoint_cidrs", f"{', '.join(world)} opens the Kubernetes API to the whole internet",
                           "list your egress CIDRs instead; if you really mean everyone, also set allow_api_from_anywhere: true"))
    if cluster.allow_api_from_anywhere and not world:
        out.append(Problem(f"{path}.allow_api_from_anywhere", "set, but no 0.0.0.0/0 is listed",
                           "drop allow_api_from_anywhere"))
    return out


def cluster_problems(cluster: ClusterSpec, path: str) -> list[Problem]:
    """Cluster choices that cannot work together. The API endpoint rules and cloud-specific
    ones are checked when a cluster is built (GpuCluster), so a spec can be planned without them."""
    out: list[Problem] = []
    if cluster.kube_prometheus_stack and cluster.prometheus is not None:
        out.append(Problem(f"{path}.prometheus", "an existing Prometheus is named and kube_prometheus_stack is also on",
                           "drop kube_prometheus_stack to use the existing Prometheus, or drop prometheus to install one"))
    if cluster.kube_prometheus_stack is False and cluster.prometheus is None:
        out.append(Problem(f"{path}.kube_prometheus_stack",
                           "off, and no existing Prometheus is named: the ServiceMonitors, PodMonitors and PrometheusRules "
                           "would have no CRDs and KEDA no metrics to scale on",
                           "name the existing one under cluster.prometheus (url, namespace, selector_labels), or drop kube_prometheus_stack: false"))
    if cluster.prometheus is not None and not re.match(r"^https?://[^/\s]+", cluster.prometheus.url):
        out.append(Problem(f"{path}.prometheus.url", f"{cluster.prometheus.url!r} is not an http(s) URL",
                           "write the in-cluster address, e.g. http://prometheus-operated.monitoring.svc:9090"))
    return out


DEFAULT_REGION = {"aws": "us-east-1", "azure": "eastus"}


def region_for(target: TargetSpec, cloud: str) -> str:
    if cloud == "azure" and target.cloud == "either":
        return target.azure_region or DEFAULT_REGION["azure"]
    return target.region or DEFAULT_REGION[cloud]


def _partial_problems(raw: Any, prefix: str = "") -> list[Problem]:
    """Catalog look-ups that can run while the schema has errors elsewhere (model id)."""

    p = f"{prefix}." if prefix else ""
    model = raw.get("model") if isinstance(raw, dict) else None
    mid = model.get("id") if isinstance(model, dict) else None
    if isinstance(model, dict) and isinstance(mid, str) and model.get("config") is None:
        return _unknown_model_id(mid, f"{p}model.id")
    return []


def _unknown_model_id(mid: str, path: str) -> list[Problem]:
    """A model id that is neither a catalog id nor a Hugging Face repo id (`org/name`).

    A repo id that is not in the catalog is fine here: the planner reads it from the Hub
    (gpuforge.hub), so a spec never needs the network to validate.
    """
    from gpuforge import catalog
    from gpuforge.hub import is_repo_id

    if catalog.find_model(mid) is not None or is_repo_id(mid):
        return []
    near = catalog.nearest(mid, catalog.model_keys())
    return [
        Problem(
            path,
            f"{mid!r} is not in the catalog and is not a Hugging Face repo id (org/name)",
            (f"did you mean {', '.join(near)}? " if near else "")
            + "Or give the Hugging Face repo id (e.g. google/gemma-3-4b-it), or model.config: the path to the model's config.json.",
        )
    ]


def load_spec(raw: Any, subject: str | None = None) -> DeploymentSpec:
    """Validate one deployment mapping; raise SpecError with every problem."""
    check_data(raw, subject or "deployment")  # plain JSON data, finite, bounded
    name = raw.get("name") if isinstance(raw, dict) else None
    subject = subject or (f"deployment {name!r}" if name else "deployment")
    try:
        spec = DeploymentSpec.model_validate(raw)
    except ValidationError as err:
        problems = _pydantic_problems(err, "")
        problems += [p for p in _partial_problems(raw) if p.path not in {q.path for q in problems}]
        raise SpecError(subject, problems) from None
    problems = semantic_problems(spec)
    if problems:
        raise SpecError(subject, problems)
    return spec


def load_stack(raw: Any) -> list[DeploymentSpec]:
    """Validate a stack's `gpuforge:deployment` value: one deployment or `deployments: [...]`.

    Stack-level `cluster` and `target` are defaults for each deployment (a deployment's own
    keys win), so several models share one cluster.
    """
    check_data(raw, "stack")  # plain JSON data, finite, bounded (raw may come from anywhere)
    if isinstance(raw, dict) and "deployments" in raw:
        shape = stack_shape_problems(raw)
        if shape:
            raise SpecError("stack", shape)
        shared = {k: v for k, v in raw.items() if k != "deployments"}
        unknown = set(shared) - {"cluster", "target"}
        problems = [Problem(k, f"unknown key {k!r}", "a multi-model stack takes cluster, target and deployments") for k in sorted(unknown)]
        specs = []
        for i, d in enumerate(raw.get("deployments") or []):
            merged = dict(d) if isinstance(d, dict) else d
            if isinstance(merged, dict):
                for key in ("cluster", "target"):
                    if key in shared:
                        merged[key] = {**shared[key], **(merged.get(key) or {})}
            try:
                spec = DeploymentSpec.model_validate(merged)
            except ValidationError as err:
                found = _pydantic_problems(err, f"deployments[{i}]")
                problems += found + [p for p in _partial_problems(merged, f"deployments[{i}]") if p.path not in {q.path for q in found}]
                continue
            problems += semantic_problems(spec, f"deployments[{i}]")
            specs.append(spec)
        names = [s.name for s in specs]
        for n in {n for n in names if names.count(n) > 1}:
            problems.append(Problem("deployments", f"name {n!r} is used twice", "give each deployment its own name"))
        if not raw.get("deployments"):
            problems.append(Problem("deployments", "empty", "list at least one deployment"))
        problems += stack_problems(specs)
        if problems:
            raise SpecError("stack", problems)
        return specs
    return [load_spec(raw)]


def read_spec_file(path: str | Path) -> Any:
    """The raw spec from a stack file (`config: gpuforge:deployment:`) or a plain YAML/JSON spec."""
    text = read_text(path)
    data = load_json(text, str(path)) if str(path).endswith(".json") else load_yaml(text, str(path))
    if isinstance(data, dict) and isinstance(data.get("config"), dict) and CONFIG_KEY in data["config"]:
        return data["config"][CONFIG_KEY]
    if isinstance(data, dict) and CONFIG_KEY in data:
        return data[CONFIG_KEY]
    return data


def json_schema() -> dict[str, Any]:
    """JSON Schema of one deployment (what editors validate stack files against)."""
    schema = DeploymentSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "gpuforge deployment spec (stack config key gpuforge:deployment)"
    return schema
