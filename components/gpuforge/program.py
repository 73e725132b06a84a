"""The Pulumi program: stack config -> validated spec -> plans -> components -> exports.

`infra/__main__.py` calls `run()`. Components never read config themselves; this is the only
place that does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi

from gpuforge.errors import SpecError
from gpuforge.plan import Plan
from gpuforge.spec import DeploymentSpec, load_stack
from gpuforge.spec_checks import provider_config

CONFIG_NAMESPACE = "gpuforge"


def plan_stack(
    raw: Any, config: pulumi.Config | None = None, providers: Mapping[str, str] | None = None
) -> tuple[list[DeploymentSpec], list[Any]]:
    """Validate the stack's spec and plan every deployment (SpecError / NoFeasiblePlan on failure).

    With `config`, a deployment's `model.hf_token_config_key` names the secret whose value is
    sent to the Hugging Face Hub when its model is not in the catalog (gpuforge.hub); the
    value is used for that request only and never becomes a resource input.
    `providers` are the stack's provider regions (`spec_checks.provider_config`); the plans
    must agree with them and with each other (one cluster: one cloud and region).
    """
    from gpuforge.sizing.planner import plan_deployment
    from gpuforge.spec_checks import plan_problems

    specs = load_stack(raw)
    results = [plan_deployment(s, hf_token=_hub_token(config, s)) for s in specs]
    prefixes = [f"deployments[{i}]" if len(specs) > 1 else "" for i in range(len(specs))]
    plans = [(p, r.to_plan()) for p, r in zip(prefixes, results, strict=True)]
    problems = plan_problems(plans, providers)
    if problems:
        raise SpecError("stack", problems)
    return specs, results


def _hub_token(config: pulumi.Config | None, spec: DeploymentSpec) -> str | None:
    from gpuforge.preview import SECURE_PLACEHOLDER

    key = spec.model.hf_token_config_key
    if config is None or not key:
        return None
    # Config.get returns a secret's plain value inside the program; the offline preview has
    # only a placeholder (it cannot decrypt), which is not a token.
    value = config.get(key)
    return None if not value or value == SECURE_PLACEHOLDER else value


def build(specs: list[DeploymentSpec], plans: list[Plan], cluster_name: str, token_of: Callable[[DeploymentSpec], Any],
          opts: pulumi.ResourceOptions | None = None) -> tuple[Any, dict[str, Any]]:
    """The GPU cluster the plans need and one model deployment per spec (the program's and the
    `PlannedStack` component's one wiring); `token_of(spec)` is the spec's HF token (a secret
    Output) or None. Returns (cluster, {deployment name: ModelDeployment})."""
    from gpuforge.stack import GpuCluster, GpuClusterArgs, ModelDeployment, ModelDeploymentArgs

    first = specs[0]
    cluster = GpuCluster(
        cluster_name,
        GpuClusterArgs(
            name=cluster_name,
            plans=plans,
            cluster=first.cluster,
            kube_prometheus_stack=first.cluster.kube_prometheus_stack,
            serving_namespaces=tuple(sorted({s.serving.namespace for s in specs})),
        ),
        opts,
    )
    deployments = {
        spec.name: ModelDeployment(spec.name, ModelDeploymentArgs(spec=spec, plan=plan, cluster=cluster, hf_token=token_of(spec)), opts)
        for spec, plan in zip(specs, plans, strict=True)
    }
    return cluster, deployments


def run() -> dict[str, Any]:
    """Build the whole stack from `gpuforge:deployment`; returns the exported values."""
    config = pulumi.Config(CONFIG_NAMESPACE)
    raw = config.require_object("deployment")
    providers = {"aws:region": pulumi.Config("aws").get("region"), "azure-native:location": pulumi.Config("azure-native").get("location")}
    specs, results = plan_stack(raw, config, provider_config(providers))
    cluster_name = specs[0].cluster.name or f"gpuforge-{pulumi.get_stack()}"
    cluster, deployments = build(
        specs, [r.to_plan() for r in results], cluster_name,
        lambda spec: config.get_secret(spec.model.hf_token_config_key) if spec.model.hf_token_config_key else None,
    )
    exports: dict[str, Any] = {"cluster_name": cluster.cluster_name, "cloud": cluster.cloud}
    exports.update({name: dep.outputs for name, dep in deployments.items()})
    for key, value in exports.items():
        pulumi.export(key, value)
    return exports


def run_or_explain() -> None:
    """`run()`, turning spec and planning errors into one readable Pulumi error (no traceback)."""
    from gpuforge.sizing.planner import NoFeasiblePlan

    try:
        run()
    except (SpecError, NoFeasiblePlan) as exc:
        raise pulumi.RunError(str(exc)) from None
