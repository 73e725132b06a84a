"""The components gpuforge offers to every Pulumi language, as the analyzer sees them.

One wrapper per exported component (`gpuforge.aws`, `gpuforge.azure`, `gpuforge.k8s`) plus
`PlannedStack`, which does what gpuforge's own program does (spec -> plan -> cluster and
model deployments) for a program in TypeScript, Go, C# or YAML. A wrapper registers as
`gpuforge:index:<Name>` (the token the generated SDKs use), builds the real component as its
child from the translated args (`gpuforge.provider.translate`) and re-exports the component's
plain outputs. Why wrappers and not the Args themselves: the host hands a component a dict,
while the real components call methods on their Args object, and Python users keep the Args
they have; the wrappers are derived from the Args at import time, so they cannot drift.
"""

from __future__ import annotations

import collections.abc
import typing
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import pulumi

from gpuforge.provider.translate import MODULE, Translator, own_hints

_TypedDict: Any = TypedDict
_Optional: Any = typing.Optional
_Input: Any = pulumi.Input


@dataclass(frozen=True)
class Exported:
    """One component offered to other languages."""

    name: str  # schema name (gpuforge:index:<name>)
    module: str
    component: str
    args: str


EXPORTED = (
    Exported("AwsNetwork", "gpuforge.aws", "Network", "NetworkArgs"),
    Exported("EksCluster", "gpuforge.aws", "EksCluster", "EksClusterArgs"),
    Exported("AwsGpuNodePool", "gpuforge.aws", "GpuNodePool", "GpuNodePoolArgs"),
    Exported("AzureNetwork", "gpuforge.azure", "Network", "NetworkArgs"),
    Exported("AksCluster", "gpuforge.azure", "AksCluster", "AksClusterArgs"),
    Exported("AzureGpuNodePool", "gpuforge.azure", "GpuNodePool", "GpuNodePoolArgs"),
    Exported("GpuPlatform", "gpuforge.k8s", "GpuPlatform", "GpuPlatformArgs"),
    Exported("ModelServer", "gpuforge.k8s", "ModelServer", "ModelServerArgs"),
    Exported("ServingMonitoring", "gpuforge.k8s", "ServingMonitoring", "ServingMonitoringArgs"),
)

_SIMPLE = (str, int, float, bool)


def _output_type(t: Any) -> Any | None:
    """The analyzer type of a component output worth exporting (plain data), else None."""
    origin, args = typing.get_origin(t), typing.get_args(t)
    if t in _SIMPLE:
        return t
    if origin is pulumi.Output:
        inner = _output_type(args[0])
        return None if inner is None else pulumi.Output[inner]  # type: ignore[valid-type]
    if origin in (typing.Union, __import__("types").UnionType):
        rest = [a for a in args if a is not type(None)]
        inner = _output_type(rest[0]) if len(rest) == 1 else None
        return None if inner is None else _Optional[inner]
    if origin in (list, tuple, collections.abc.Sequence):
        inner = _output_type(args[0]) if args else None
        return None if inner is None else list[_plain(inner)]  # type: ignore[misc]
    if origin in (dict, collections.abc.Mapping) and args and args[0] is str:
        inner = _output_type(args[1])
        return None if inner is None else dict[str, _plain(inner)]  # type: ignore[misc]
    return None  # resources (providers, releases) and records stay Python-only


def _plain(t: Any) -> Any:
    if typing.get_origin(t) is pulumi.Output:
        return typing.get_args(t)[0]
    return t


def _resolve(value: Any) -> Any:
    """A component attribute as a value the host can serialise (lists of outputs joined)."""
    if isinstance(value, (list, tuple)):
        return pulumi.Output.all(*value) if any(isinstance(v, pulumi.Output) for v in value) else list(value)
    if isinstance(value, dict):
        if any(isinstance(v, pulumi.Output) for v in value.values()):
            keys = list(value)
            joined: pulumi.Output[Any] = pulumi.Output.all(*[value[k] for k in keys])
            return joined.apply(lambda vs: dict(zip(keys, vs, strict=True)))
        return dict(value)
    return value


def _make(spec: Exported, tr: Translator) -> type[pulumi.ComponentResource]:
    import importlib

    mod = importlib.import_module(spec.module)
    real, real_args = getattr(mod, spec.component), getattr(mod, spec.args)
    args_td, to_args = tr.record(real_args, f"{spec.name}Args")
    hints = own_hints(real)
    outputs = {k: o for k, t in hints.items() if not k.startswith("_") and (o := _output_type(t)) is not None}
    token = f"gpuforge:index:{spec.name}"

    def __init__(self: Any, name: str, args: Any, opts: pulumi.ResourceOptions | None = None) -> None:
        pulumi.ComponentResource.__init__(self, token, name, None, opts)
        inner = real(name, to_args(args), pulumi.ResourceOptions(parent=self))
        values = {k: _resolve(getattr(inner, k, None)) for k in outputs}
        for k, v in values.items():
            setattr(self, k, v)
        self.register_outputs({k: v for k, v in values.items() if v is not None})

    __init__.__annotations__ = {"name": str, "args": args_td, "opts": _Optional[pulumi.ResourceOptions], "return": None}
    doc = (real.__doc__ or "").strip().split("\n\n")[0]
    cls = type(
        spec.name,
        (pulumi.ComponentResource,),
        {"__init__": __init__, "__doc__": f"{doc} (`{spec.module}.{spec.component}`)", "__module__": MODULE, "__annotations__": outputs},
    )
    return cls


# --- the whole stack from a spec ---------------------------------------------------------------
def _planned_stack(tr: Translator) -> type[pulumi.ComponentResource]:
    from gpuforge.spec import StackSpec

    spec_td, to_spec = tr.record(StackSpec, "StackSpec")
    args_td = _TypedDict(
        "PlannedStackArgs",
        {
            "spec": spec_td,
            "hf_tokens": NotRequired[dict[str, _Input[str]]],
            "cluster_name": NotRequired[str],
        },
    )
    args_td.__module__ = MODULE
    args_td.__doc__ = "A gpuforge spec (the `deployments:` form; see `gpuforge schema`), the Hugging Face token per deployment."
    tr.types["PlannedStackArgs"] = args_td

    def __init__(self: Any, name: str, args: Any, opts: pulumi.ResourceOptions | None = None) -> None:
        from gpuforge.program import build, plan_stack
        from gpuforge.report import render_plans

        pulumi.ComponentResource.__init__(self, "gpuforge:index:PlannedStack", name, None, opts)
        raw = {k: v for k, v in to_spec(args.get("spec") or {}).items() if v is not None}
        specs, results = plan_stack(raw)  # SpecError / NoFeasiblePlan: every problem, path and fix
        plans = [r.to_plan() for r in results]
        cluster_name = args.get("cluster_name") or specs[0].cluster.name or f"gpuforge-{name}"
        tokens = args.get("hf_tokens") or {}

        def token_of(spec: Any) -> Any:
            token = tokens.get(spec.name)
            return pulumi.Output.secret(token) if token is not None else None

        cluster, deployments = build(specs, plans, cluster_name, token_of, pulumi.ResourceOptions(parent=self))
        endpoints = {n: dep.endpoint for n, dep in deployments.items()}
        self.cluster_name = cluster.cluster_name
        self.endpoints = _resolve(endpoints)
        self.plan_markdown = render_plans(results, "markdown")
        self.register_outputs({"cluster_name": self.cluster_name, "endpoints": self.endpoints, "plan_markdown": self.plan_markdown})

    __init__.__annotations__ = {"name": str, "args": args_td, "opts": _Optional[pulumi.ResourceOptions], "return": None}
    return type(
        "PlannedStack",
        (pulumi.ComponentResource,),
        {
            "__init__": __init__,
            "__doc__": "A whole gpuforge stack from its spec: the sizing plan, the GPU cluster and one model deployment per entry "
            "(what gpuforge's own Pulumi program builds from `gpuforge:deployment`).",
            "__module__": MODULE,
            "__annotations__": {"cluster_name": pulumi.Output[str], "endpoints": pulumi.Output[dict[str, str]], "plan_markdown": str},
        },
    )


def build() -> tuple[list[type[pulumi.ComponentResource]], Translator]:
    """Every component offered to other languages, and the translator that holds their types."""
    tr = Translator()
    comps = [_make(spec, tr) for spec in EXPORTED]
    comps.append(_planned_stack(tr))
    return comps, tr
