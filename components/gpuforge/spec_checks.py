"""Contradictions in a spec or stack that would otherwise produce a plan nobody can deploy.

Three layers, each returning `Problem`s with a config path and a fix:

- `contradiction_problems(spec)`: one deployment against itself (called by
  `spec.semantic_problems`);
- `stack_problems(specs)`: deployments that share one cluster must share its cloud;
- `plan_problems(...)`: after planning, what the plans and the stack's provider configuration
  must agree on (one cloud and region for the shared cluster, the provider's region, the
  capacity a block holds).

No Pulumi import: `gpuforge plan`, the preview and the program call the same functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gpuforge.errors import Problem

if TYPE_CHECKING:
    from gpuforge.plan import Plan
    from gpuforge.spec import DeploymentSpec

# The stack config keys of the providers' region (the program uses the default providers).
# https://www.pulumi.com/registry/packages/aws/installation-configuration/ (aws:region)
# https://www.pulumi.com/registry/packages/azure-native/installation-configuration/ (azure-native:location)
PROVIDER_REGION_KEYS = {"aws": "aws:region", "azure": "azure-native:location"}


def contradiction_problems(spec: DeploymentSpec, prefix: str = "") -> list[Problem]:
    """Settings of one deployment that cannot all hold."""
    from gpuforge import catalog

    p = f"{prefix}." if prefix else ""
    t, sla = spec.target, spec.sla
    out: list[Problem] = []
    for key in ("id", "hf_id", "served_name", "revision"):
        value = getattr(spec.model, key)
        if value is not None and not value.strip():
            out.append(Problem(f"{p}model.{key}", "empty", f"give model.{key} a value, or drop the key"))
    if t.max_replicas is not None and t.max_replicas < sla.min_replicas:
        out.append(
            Problem(
                f"{p}target.max_replicas",
                f"{t.max_replicas} is below sla.min_replicas ({sla.min_replicas}): the autoscaler's ceiling is under its floor",
                f"raise target.max_replicas to at least {sla.min_replicas}, or lower sla.min_replicas",
            )
        )
    if sla.spread_zones:
        if t.zone:
            out.append(
                Problem(
                    f"{p}sla.spread_zones",
                    f"replicas must run in different zones, but target.zone pins every node to {t.zone!r}",
                    "drop target.zone (single-node replicas then spread), or drop spread_zones",
                )
            )
        existing = spec.cluster.subnet_ids_by_zone
        if spec.cluster.mode == "existing" and len(existing) == 1:
            out.append(
                Problem(
                    f"{p}sla.spread_zones",
                    f"the existing cluster's node subnets cover one zone ({next(iter(existing))})",
                    "add a subnet of another zone to cluster.subnet_ids_by_zone, or drop spread_zones",
                )
            )
        clouds = ["aws", "azure"] if t.cloud == "either" else [t.cloud]
        from gpuforge.spec import region_for

        for cloud in clouds if not t.regions else []:
            region = catalog.find_region(cloud, region_for(t, cloud))
            if region is not None and len(region.zones) < 2:
                out.append(
                    Problem(
                        f"{p}sla.spread_zones",
                        f"{region.name} has one zone: replicas cannot spread",
                        "target a region with several zones, or drop spread_zones",
                    )
                )
    if t.capacity_reservation_id and t.capacity_type in ("on-demand", "spot"):
        out.append(
            Problem(
                f"{p}target.capacity_reservation_id",
                f"a reservation id with capacity_type {t.capacity_type!r}: the nodes would launch outside the reservation",
                "set capacity_type: reserved (an On-Demand Capacity Reservation) or capacity-block, or drop the id",
            )
        )
    if t.capacity_block_instance_count is not None and t.capacity_type != "capacity-block":
        out.append(
            Problem(
                f"{p}target.capacity_block_instance_count",
                f"set with capacity_type {t.capacity_type!r}",
                "drop it, or use capacity_type: capacity-block",
            )
        )
    if t.capacity_type == "capacity-block" and t.capacity_block_instance_count is not None:
        block = t.capacity_block_instance_count
        if block < sla.min_replicas:
            out.append(
                Problem(
                    f"{p}target.capacity_block_instance_count",
                    f"the block holds {block} instance(s) but sla.min_replicas is {sla.min_replicas} (a replica needs at least one node)",
                    f"buy a block of at least {sla.min_replicas} instances, or lower sla.min_replicas",
                )
            )
        if t.max_replicas is not None and t.max_replicas > block:
            out.append(
                Problem(
                    f"{p}target.max_replicas",
                    f"{t.max_replicas} replicas need at least {t.max_replicas} nodes; the capacity block holds {block}",
                    f"set target.max_replicas to at most {block}",
                )
            )
    return out


def model_config_problems(spec: DeploymentSpec, prefix: str = "") -> list[Problem]:
    """The bounds of config.json (sizing/config_checks.py) on `model.config`, inline or a file."""
    from gpuforge.errors import SpecError
    from gpuforge.inputs import load_json, read_text
    from gpuforge.sizing.config_checks import config_problems

    p = f"{prefix}." if prefix else ""
    config = spec.model.config
    if isinstance(config, dict):
        return config_problems(config, f"{p}model.config")
    if isinstance(config, str) and Path(config).is_file():
        try:
            data = load_json(read_text(config), config)
        except SpecError as err:
            return [Problem(f"{p}model.config", f"{config}: {q.path}: {q.reason}", q.fix) for q in err.problems]
        return config_problems(data, f"{p}model.config")
    return []


def stack_shape_problems(raw: Mapping[str, Any]) -> list[Problem]:
    """A multi-model stack's shape, checked before its shared keys are merged into each entry."""
    out: list[Problem] = []
    deployments = raw.get("deployments")
    if deployments is not None and not isinstance(deployments, list):
        out.append(Problem("deployments", f"a {type(deployments).__name__}, not a list", "write `deployments:` as a list of deployments"))
    for key in ("cluster", "target"):
        if key in raw and not isinstance(raw[key], dict):
            out.append(Problem(key, f"a {type(raw[key]).__name__}, not a mapping", f"write `{key}:` as a mapping of its fields"))
    for i, d in enumerate(deployments if isinstance(deployments, list) else []):
        for key in ("cluster", "target"):
            if isinstance(d, dict) and d.get(key) is not None and not isinstance(d[key], dict):
                out.append(Problem(f"deployments[{i}].{key}", f"a {type(d[key]).__name__}, not a mapping", f"write `{key}:` as a mapping of its fields"))
    return out


def stack_problems(specs: Sequence[DeploymentSpec]) -> list[Problem]:
    """Deployments of one stack share one cluster: one cloud, chosen up front."""
    if len(specs) < 2:
        return []
    out: list[Problem] = []
    clouds = {s.target.cloud for s in specs}
    if len(clouds) > 1:
        for i, s in enumerate(specs):
            if s.target.cloud != specs[0].target.cloud or s.target.cloud == "either":
                out.append(
                    Problem(
                        f"deployments[{i}].target.cloud",
                        f"{s.target.cloud!r} while deployments[0] is {specs[0].target.cloud!r}: deployments of one stack share one cluster",
                        "set target.cloud once at the stack level (aws or azure), or split the stack",
                    )
                )
    elif clouds == {"either"}:
        out.append(
            Problem(
                "target.cloud",
                "`either` lets each deployment be planned onto a different cloud, but they share one cluster",
                "set target.cloud to aws or azure at the stack level",
            )
        )
    return out


def stack_file_config(path: str | Path) -> dict[str, Any]:
    """The `config:` mapping of a stack file; {} for a plain spec file."""
    from gpuforge.inputs import load_json, load_yaml, read_text

    text = read_text(path)
    data = load_json(text, str(path)) if str(path).endswith(".json") else load_yaml(text, str(path))
    config = data.get("config") if isinstance(data, dict) else None
    return config if isinstance(config, dict) else {}


def provider_config(config: Mapping[str, Any]) -> dict[str, str]:
    """The provider region keys of a stack's config (`aws:region`, `azure-native:location`)."""
    out: dict[str, str] = {}
    for key in PROVIDER_REGION_KEYS.values():
        value = config.get(key)
        if isinstance(value, str) and value:
            out[key] = value
    return out


def _norm(cloud: str, region: str) -> str:
    # Azure accepts display names ("East US") as locations; compare the canonical form.
    return region.replace(" ", "").lower() if cloud == "azure" else region


def plan_problems(plans: Sequence[tuple[str, Plan]], providers: Mapping[str, str] | None = None) -> list[Problem]:
    """What the plans of one stack and its provider configuration must agree on.

    Args:
        plans: (deployment path prefix, plan), e.g. ("deployments[1]", plan) or ("", plan).
        providers: `provider_config()` of the stack (empty when unknown).
    """
    out: list[Problem] = []
    providers = providers or {}
    places = {(plan.node_pool.cloud, plan.node_pool.region) for _, plan in plans}
    if len(places) > 1:
        out.append(
            Problem(
                "target",
                f"deployments sharing one cluster were planned onto {sorted(places)}",
                "pin target.cloud and target.region at the stack level so every deployment lands on one cluster",
            )
        )
    for prefix, plan in plans:
        p = f"{prefix}." if prefix else ""
        pool = plan.node_pool
        key = PROVIDER_REGION_KEYS.get(pool.cloud)
        configured = providers.get(key) if key else None
        if configured and _norm(pool.cloud, configured) != _norm(pool.cloud, pool.region):
            out.append(
                Problem(
                    f"{p}target.region",
                    f"planned into {pool.region}, but the stack's {key} is {configured}: "
                    f"the {pool.cloud} resources would be created in {configured}",
                    f"set target.region: {configured}, or {key}: {pool.region}",
                )
            )
        block = pool.capacity_block_instance_count
        if pool.capacity_type == "capacity-block" and block is not None and pool.max_nodes > block:
            out.append(
                Problem(
                    f"{p}target.max_replicas",
                    f"the pool scales up to {pool.max_nodes} nodes, but the capacity block holds {block}",
                    f"lower target.max_replicas until the pool needs at most {block} nodes, or buy a larger block",
                )
            )
    return out
