"""What would fit: re-plan a spec with one constraint relaxed at a time.

When nothing meets the spec, a reviewer needs two facts: how much the SLA really costs (the
amount a budget must allow) and the cheapest single change that fits. Both are computed by
running the planner itself on relaxed copies of the spec, never estimated, so a suggestion
is only made when the planner finds a plan for it (priced, offered instance types only: the
planner's own rules).

Relaxations tried, one at a time, everything else kept:
- no budget (gives the amount needed);
- fp8 weights, fp8 KV cache (when not already allowed and the model ships 16-bit weights);
- a looser TTFT / ITL p95 (the value the cheapest plan without that limit reaches, checked by
  re-planning with exactly that value);
- another region of the same cloud;
- any instance family / type (when the target restricts them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gpuforge import catalog
from gpuforge.errors import Problem, SpecError
from gpuforge.spec import DeploymentSpec


@dataclass(frozen=True)
class Fit:
    """One change to the spec and the cheapest plan it gives."""

    path: str  # config path of the change, e.g. "model.precision"
    change: str  # what to write, e.g. "allow fp8 weights: model.precision: [bf16, fp8]"
    cost_per_month: float
    layout: str  # the plan's candidate.describe()
    within_budget: bool

    def problem(self) -> Problem:
        return Problem(self.path, f"would fit: {self.layout} at ${self.cost_per_month:,.0f}/month", self.change)


def _copy(spec: DeploymentSpec, part: str, **update: Any) -> DeploymentSpec:
    return spec.model_copy(update={part: getattr(spec, part).model_copy(update=update)})


def _plan(spec: DeploymentSpec, hf_token: str | None = None) -> Any | None:
    """The planner's result for `spec`, or None when it finds nothing (or needs a zone)."""
    from gpuforge.sizing.planner import plan_deployment  # the planner imports this module

    try:
        return plan_deployment(spec, alternatives=0, hf_token=hf_token, explain=False)
    except SpecError:
        return None


def budget_needed(spec: DeploymentSpec, hf_token: str | None = None) -> Any | None:
    """The cheapest plan that meets everything but the budget (None: the SLA itself is infeasible)."""
    if spec.budget.max_monthly_usd is None:
        return None
    return _plan(_copy(spec, "budget", max_monthly_usd=None), hf_token)


def _round_up(ms: float, step: float) -> float:
    return math.ceil(ms / step) * step


def relaxations(spec: DeploymentSpec, checkpoint_precision: str) -> list[tuple[str, str, DeploymentSpec]]:
    """(path, change, relaxed spec) for every single relaxation that applies to `spec`."""
    out: list[tuple[str, str, DeploymentSpec]] = []
    m = spec.model
    precisions = m.precisions()
    sixteen_bit = precisions is None or all(p in ("bf16", "fp16") for p in precisions)
    # fp8 weights from a 16-bit checkpoint (vLLM quantizes on load); a quantized checkpoint
    # ships in one precision only
    if sixteen_bit and "fp8" not in (precisions or []) and checkpoint_precision in ("bf16", "fp16"):
        allowed = [*(precisions or [checkpoint_precision]), "fp8"]
        out.append(("model.precision", f"allow fp8 weights: model.precision: [{', '.join(allowed)}]", _copy(spec, "model", precision=allowed)))
    if "fp8" not in m.kv_dtypes():
        kv = [*m.kv_dtypes(), "fp8"]
        out.append(("model.kv_cache_dtype", f"allow an fp8 KV cache: model.kv_cache_dtype: [{', '.join(kv)}]", _copy(spec, "model", kv_cache_dtype=kv)))
    t = spec.target
    if t.instance_families or t.instance_types:
        out.append(
            (
                "target.instance_families",
                "allow every instance family: remove target.instance_families / instance_types",
                _copy(spec, "target", instance_families=None, instance_types=None),
            )
        )
    if t.cloud in ("aws", "azure") and not t.zone and not t.regions and t.capacity_type in ("on-demand", "spot"):
        from gpuforge.spec import region_for

        here = region_for(t, t.cloud)
        for r in catalog.all_regions(t.cloud):
            if r.name != here:
                out.append(("target.region", f"target.region: {r.name}", _copy(spec, "target", region=r.name)))
    return out


def _latency_fit(spec: DeploymentSpec, which: str, hf_token: str | None = None) -> tuple[str, str, Any] | None:
    """The loosest-needed TTFT / ITL limit: plan without it, then re-plan at the value reached."""
    if which == "ttft":
        loose = _plan(_copy(spec, "sla", ttft_p95_ms=1e9), hf_token)
        if loose is None:
            return None
        # the planner keeps sla.headroom free: the limit must sit that far above the prediction
        need = _round_up(loose.chosen.performance.ttft_p95_ms / (1 - spec.sla.headroom), 100)
        if need <= spec.sla.ttft_p95_ms:
            return None
        relaxed = _copy(spec, "sla", ttft_p95_ms=need)
        return "sla.ttft_p95_ms", f"sla.ttft_p95_ms: {need:g} (from {spec.sla.ttft_p95_ms:g})", _plan(relaxed, hf_token)
    if spec.sla.min_tokens_per_s_per_user:
        return None  # two ITL knobs: the reviewer picks; the TTFT / precision fits still apply
    loose = _plan(_copy(spec, "sla", itl_p95_ms=1e9), hf_token)
    if loose is None:
        return None

    need = _round_up(loose.chosen.performance.itl_p95_ms / (1 - spec.sla.headroom), 5)
    if need <= spec.sla.itl_limit_ms():
        return None
    relaxed = _copy(spec, "sla", itl_p95_ms=need)
    return "sla.itl_p95_ms", f"sla.itl_p95_ms: {need:g} (from {spec.sla.itl_limit_ms():g})", _plan(relaxed, hf_token)


def fits(spec: DeploymentSpec, model: Any, hf_token: str | None = None, limit: int = 3) -> list[Fit]:
    """The cheapest single changes that give a feasible plan, cheapest first (at most `limit`).

    `model` is the planner's resolved model: its checkpoint precision decides whether fp8
    weights are a change to try."""
    found: list[Fit] = []
    budget = spec.budget.max_monthly_usd
    tried: list[tuple[str, str, Any]] = [
        (path, change, _plan(relaxed, hf_token)) for path, change, relaxed in relaxations(spec, model.checkpoint_precision)
    ]
    for which in ("ttft", "itl"):
        lat = _latency_fit(spec, which, hf_token)
        if lat is not None:
            tried.append(lat)
    best_region: Fit | None = None
    for path, change, result in tried:
        if result is None:
            continue
        ev = result.chosen
        fit = Fit(path, change, ev.cost_per_month, ev.candidate.describe(), budget is None or ev.cost_per_month <= budget)
        if path == "target.region":
            # one line for the cheapest other region, not one per region
            if best_region is None or fit.cost_per_month < best_region.cost_per_month:
                best_region = fit
            continue
        found.append(fit)
    if best_region is not None:
        found.append(best_region)
    found.sort(key=lambda f: (f.cost_per_month, f.path))
    return found[:limit]


def explain(spec: DeploymentSpec, model: Any, hf_token: str | None = None) -> list[Problem]:
    """Problems to add to a NoFeasiblePlan: the amount a budget needs and the changes that fit."""
    problems: list[Problem] = []
    budget = spec.budget.max_monthly_usd
    if budget is not None:
        unbounded = budget_needed(spec, hf_token)
        if unbounded is not None:
            ev = unbounded.chosen
            problems.append(
                Problem(
                    "budget.max_monthly_usd",
                    f"the cheapest plan that meets the SLA costs ${ev.cost_per_month:,.0f}/month "
                    f"(${ev.cost_per_month - budget:,.0f} over the ${budget:,.0f} budget): {ev.candidate.describe()}",
                    f"raise budget.max_monthly_usd to at least {math.ceil(ev.cost_per_month)}, or make one of the changes below",
                )
            )
    problems += [f.problem() for f in fits(spec, model, hf_token)]
    return problems
