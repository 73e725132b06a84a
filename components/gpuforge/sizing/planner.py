"""The planner: the cheapest cloud layout that meets the SLA, and why.

Every candidate is cloud x region x instance type x nodes per replica x TP x PP x precision x
KV dtype x replicas. `evaluate()` decides one candidate with reasons (memory, fabric, vLLM's
rules, SLA, budget, capacity type). `plan_deployment()` returns exactly the cheapest feasible
candidate by monthly cost (ties: fewer nodes, then lower p95 TTFT): for each layout it takes
the fewest replicas that meet the SLA (latency only improves with replicas, cost only grows),
which `brute_force()` re-derives by evaluating every replica count.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from gpuforge import catalog
from gpuforge.catalog import Gpu, InstanceType
from gpuforge.cloud import capacity_facts
from gpuforge.cloud import offers as cloud_offers
from gpuforge.cloud.allocatable import node_allocatable, pod_requests
from gpuforge.cloud.offers import Figure, Source
from gpuforge.engine import vllm as engine
from gpuforge.engine.launch import serving_support_problem
from gpuforge.errors import Problem, SpecError
from gpuforge.plan import CAPACITY_LABEL, NodePoolPlan, Plan, ServingPlan
from gpuforge.sizing.memory import MemoryEstimate, MemoryInputs, estimate_memory
from gpuforge.sizing.models import ResolvedModel, precision_problems, resolve
from gpuforge.sizing.performance import Layout, Performance, Workload, predict
from gpuforge.sizing.versions import VLLM_VERSION, engine_constants
from gpuforge.spec import DeploymentSpec, region_for

HOURS_PER_MONTH = 730.0
MAX_REPLICAS = 64
_TP_SIZES = (1, 2, 4, 8)


def memory_quantization(precision: str) -> str:
    """The memory / performance model's name for a precision ("none" for 16-bit weights)."""
    return "none" if precision in engine.UNQUANTIZED else precision


class NoFeasiblePlan(SpecError):
    """Nothing in the catalog meets the spec; names the binding constraint and near misses."""


@dataclass(frozen=True)
class Candidate:
    cloud: str
    region: str
    instance: InstanceType
    nodes_per_replica: int
    tensor_parallel: int
    pipeline_parallel: int
    precision: str
    kv_cache_dtype: str
    replicas: int
    min_nodes: int = 1  # sla.min_replicas >= 2: the replicas spread over at least two nodes

    @property
    def gpus_per_replica(self) -> int:
        return self.tensor_parallel * self.pipeline_parallel

    @property
    def replicas_per_node(self) -> int:
        if self.nodes_per_replica > 1:
            return 1
        return max(1, self.instance.gpu_count // self.gpus_per_replica)

    @property
    def nodes(self) -> int:
        return nodes_for(self, self.replicas)

    def layout_key(self) -> tuple:
        return (self.cloud, self.region, self.instance.name, self.nodes_per_replica, self.tensor_parallel, self.pipeline_parallel, self.precision, self.kv_cache_dtype)

    def describe(self) -> str:
        nodes = f"{self.nodes_per_replica} nodes x " if self.nodes_per_replica > 1 else ""
        return (
            f"{self.cloud} {self.region} {nodes}{self.instance.name} TP{self.tensor_parallel}xPP{self.pipeline_parallel} "
            f"{self.precision} kv={self.kv_cache_dtype} x{self.replicas} replica(s)"
        )


@dataclass
class Evaluation:
    candidate: Candidate
    feasible: bool
    reasons: list[str]
    kinds: set[str]  # memory | fabric | engine | serving | ttft | itl | budget | capacity | price
    cost_per_hour: float
    memory: MemoryEstimate | None = None
    performance: Performance | None = None
    price_as_of: str | None = None
    price_region: str | None = None
    cost: LayoutCost | None = None
    max_model_len: int = 0
    max_num_seqs: int = 0
    per_replica_concurrency: int = 0
    notes: list[str] = field(default_factory=list)
    kv_cache_dtype_run: str = ""  # what vLLM runs for the candidate's --kv-cache-dtype ("" = the same)

    @property
    def kv_label(self) -> str:
        """`--kv-cache-dtype` as passed, and what it runs where the checkpoint decides ("auto->fp8")."""
        kv = self.candidate.kv_cache_dtype
        return f"{kv}->{self.kv_cache_dtype_run}" if self.kv_cache_dtype_run and self.kv_cache_dtype_run != kv else kv

    @property
    def cost_per_month(self) -> float:
        return self.cost_per_hour * HOURS_PER_MONTH

    def sort_key(self) -> tuple:
        ttft = self.performance.ttft_p95_ms if self.performance else float("inf")
        return (round(self.cost_per_month, 6), self.candidate.nodes, ttft, self.candidate.replicas, self.candidate.describe())


@dataclass
class PlanResult:
    spec: DeploymentSpec
    model: ResolvedModel
    chosen: Evaluation
    alternatives: list[Evaluation]
    rejected: list[Evaluation]
    considered: int
    skipped: int = 0  # layouts never sized: their cheapest possible cost was already beaten

    def to_plan(self) -> Plan:
        return build_plan(self)


# ---------------------------------------------------------------------------------------------


def nodes_for(c: Candidate, replicas: int) -> int:
    """Nodes `replicas` replicas of this layout need: whole nodes per multi-node replica, else
    the GPU slots of a node, and never fewer than `min_nodes` (availability) once there are as
    many replicas."""
    if c.nodes_per_replica > 1:
        return c.nodes_per_replica * replicas
    return max(math.ceil(replicas / c.replicas_per_node), min(c.min_nodes, replicas))


def min_nodes(spec: DeploymentSpec) -> int:
    """sla.min_replicas >= 2 asks for availability: the replicas must not share one node."""
    return 2 if spec.sla.min_replicas >= 2 else 1


def default_max_model_len(spec: DeploymentSpec, model: ResolvedModel) -> int:
    """The context to serve: the spec's, else the model's native context (vLLM's own default,
    vllm/config/model.py:2138-2152)."""
    if spec.workload.max_model_len:
        return spec.workload.max_model_len
    return model.default_context


def context_problems(spec: DeploymentSpec, model: ResolvedModel) -> list[Problem]:
    """workload.max_model_len above the model's limit, or the default shorter than a request."""
    w = spec.workload
    mml = default_max_model_len(spec, model)
    out = []
    for reason in engine.context_problems(mml, model.native_context, w.input_tokens, w.output_tokens):
        fix = (
            f"set workload.max_model_len to at most {model.native_context}"
            if mml > model.native_context
            else f"shorten workload.input_tokens / output_tokens to fit {mml} tokens"
        )
        out.append(Problem("workload.max_model_len", reason, fix))
    return out


def allowed_precisions(spec: DeploymentSpec, model: ResolvedModel, gpu: Gpu | None = None) -> list[str]:
    """The spec's precisions, else the checkpoint's; a bf16 checkpoint on a GPU without bf16 is
    served in float16 as vLLM's `--dtype auto` does (config/model.py:1929-1970)."""
    asked = spec.model.precisions()
    if asked:
        return asked
    ckpt = model.checkpoint_precision
    if ckpt == "bf16" and gpu is not None and "bfloat16" not in engine.supported_dtypes(gpu):
        return ["fp16"]
    return [ckpt]


def engine_problems(model: ResolvedModel, gpu: Gpu, tp: int, pp: int, precision: str, kv: str) -> tuple[engine.EngineLayout | None, list[str]]:
    """Every vLLM rule this replica layout breaks (gpuforge.engine.vllm), memoised."""
    key = ("engine", id(model), gpu.id, tp, pp, precision, kv)
    return _memo(key, engine.resolve_layout, model.arch, model.checkpoint_precision, model.arch.quantization_config, gpu, tp, pp, precision, kv)


def target_regions(spec: DeploymentSpec) -> list[tuple[str, str]]:
    """(cloud, region) pairs the spec accepts: `target.regions`, else one region per cloud.

    A named `target.zone` keeps only the regions that have it (AWS zone names carry their
    region; Azure's "1"/"2"/"3" exist in every zonal region).
    """
    t = spec.target
    clouds = ["aws", "azure"] if t.cloud == "either" else [t.cloud]
    if t.regions:
        pairs = [(c, r) for r in t.regions for c in clouds if catalog.find_region(c, r)]
    else:
        pairs = [(c, region_for(t, c)) for c in clouds]
    if t.zone:
        pairs = [(c, r) for c, r in pairs if (reg := catalog.find_region(c, r)) is None or t.zone in reg.zones]
    return list(dict.fromkeys(pairs))


def candidates(spec: DeploymentSpec, model: ResolvedModel) -> Iterator[Candidate]:
    """Every layout (with replicas=1) the spec allows, before any feasibility check."""
    t = spec.target
    families = {f.lower() for f in (t.instance_families or [])}
    types = set(t.instance_types or [])
    for cloud, region in target_regions(spec):
        for inst in catalog.all_instances(cloud):
            if families and inst.family.lower() not in families:
                continue
            if types and inst.name not in types:
                continue
            g = inst.gpu_count
            layouts: list[tuple[int, int, int]] = []
            for tp in _TP_SIZES:
                for pp in (1, 2, 4):
                    if tp * pp <= g and g % (tp * pp) == 0:
                        layouts.append((1, tp, pp))
            # replicas span nodes only from full 8-GPU nodes (one TP group per node, PP across
            # nodes); instances without EFA/InfiniBand are still listed so the reason is shown
            if g >= 8:
                for n in range(2, t.max_nodes_per_replica + 1):
                    layouts.append((n, g, n))
            gpu = catalog.get_gpu(inst.gpu)
            for n, tp, pp in layouts:
                for prec in allowed_precisions(spec, model, gpu):
                    for kv in spec.model.kv_dtypes():
                        yield Candidate(cloud, region, inst, n, tp, pp, prec, kv, 1, min_nodes(spec))


_MEMO: dict[tuple, Any] = {}
# Keys use id() of models and memory estimates (they hold unhashable dicts). Every object
# whose id is in a key is kept alive here, so an id can never be reused by another object
# while a memoised result still refers to it.
_PINNED: dict[int, Any] = {}


def _memo(key: tuple, fn, *args):
    """Memoise pure sizing calls by a key of plain values and pinned object ids."""
    try:
        return _MEMO[key]
    except KeyError:
        if len(_MEMO) > 200_000:
            _MEMO.clear()
            _PINNED.clear()
        for a in args:
            if not isinstance(a, (int, float, str, Gpu, Layout, Workload)):
                _PINNED[id(a)] = a
        value = _MEMO[key] = fn(*args)
        return value


def _memory(model: ResolvedModel, gpu: Gpu, tp: int, pp: int, prec: str, kv: str, max_model_len: int, util: float, max_num_seqs: int) -> MemoryEstimate:
    key = ("mem", id(model), gpu.id, tp, pp, prec, kv, max_model_len, util, max_num_seqs)
    return _memo(key, _memory_uncached, model, gpu, tp, pp, prec, kv, max_model_len, util, max_num_seqs)


def engine_dtype(model: ResolvedModel, gpu: Gpu, precision: str) -> str:
    """vLLM --dtype for a precision on a GPU (gpuforge.engine.vllm.engine_dtype); where no
    16-bit dtype is accepted the layout is infeasible and bfloat16 stands in for sizing."""
    layout, _ = engine_problems(model, gpu, 1, 1, precision, "auto")
    return (layout.dtype if layout else None) or "bfloat16"


def engine_quantization(model: ResolvedModel, precision: str) -> str | None:
    """vLLM --quantization: only for a 16-bit checkpoint quantized at load time (fp8); a
    quantized checkpoint's method comes from its config, and passing another one is refused
    (vllm/config/model.py:986-994)."""
    if model.checkpoint_precision in engine.UNQUANTIZED:
        return engine.ONLINE_QUANTIZATION.get(precision)
    return None


def _memory_uncached(model: ResolvedModel, gpu: Gpu, tp: int, pp: int, prec: str, kv: str, max_model_len: int, util: float, max_num_seqs: int) -> MemoryEstimate:
    dtype, quant = engine_dtype(model, gpu, prec), memory_quantization(prec)
    return estimate_memory(
        model.arch,
        gpu,
        MemoryInputs(tensor_parallel=tp, pipeline_parallel=pp, max_model_len=max_model_len, gpu_memory_utilization=util, dtype=dtype, quantization=quant, kv_cache_dtype=kv, max_num_seqs=max_num_seqs),
    )


def _performance(model: ResolvedModel, layout: Layout, workload: Workload, mem: MemoryEstimate) -> Performance:
    lay = (layout.gpu.id, layout.tensor_parallel, layout.pipeline_parallel, layout.quantization, layout.kv_cache_dtype, layout.gpus_per_node, layout.node_fabric, layout.compute_dtype)
    key = ("perf", id(model), lay, workload.input_tokens, workload.output_tokens, workload.concurrency, workload.request_rate, id(mem))
    return _memo(key, predict, model, layout, workload, mem)


def _engine_max_num_seqs(gpu: Gpu, per_replica: int) -> int:
    """max_num_seqs: twice the planned per-replica load (bursts), within vLLM's default."""
    default = _default_seqs(gpu)
    return min(default, max(16, math.ceil(2 * per_replica / 16) * 16))


def _default_seqs(gpu: Gpu) -> int:
    k = engine_constants()
    big = gpu.memory_gib >= k.large_gpu_threshold_gib and not gpu.id.startswith("a100")
    return k.max_num_seqs_large if big else k.max_num_seqs_small


SPEC_PRICE = Source("spec", "target.capacity_price_usd_per_hour (the price you pay for the block)", "", "as given")


@dataclass(frozen=True)
class LayoutCost:
    """What a layout costs per hour at its capacity type, from the region's own prices.

    Spot plans that ask for availability (sla.min_replicas >= 2 or spread_zones) keep
    `base_nodes` (the nodes min_replicas needs) on on-demand capacity and only the rest on
    spot; `per_hour` adds both at their own prices.
    """

    capacity_type: str
    unit: Figure | None  # price of one node at the capacity type
    base_nodes: int = 0
    base_unit: Figure | None = None  # on-demand price of a base node
    problem: str | None = None
    kind: str | None = None  # region | price | capacity
    per_hour: float = 0.0

    @property
    def ok(self) -> bool:
        return self.problem is None


def wants_on_demand_base(spec: DeploymentSpec) -> bool:
    """A spot plan keeps min_replicas on on-demand when the SLA asks for availability."""
    return spec.target.capacity_type == "spot" and (spec.sla.min_replicas >= 2 or spec.sla.spread_zones)


def _nodes_for(c: Candidate, replicas: int) -> int:
    return _with_replicas(c, replicas).nodes if replicas > 0 else 0


def _offered_elsewhere(cloud: str, instance_type: str, capacity_type: str) -> str:
    where = cloud_offers.regions_offering(cloud, instance_type, capacity_type)
    article = "an" if capacity_type[0] in "aeiou" else "a"
    if not where:
        return f"; no catalog region has {article} {capacity_type} price for it"
    return f"; offered with {article} {capacity_type} price in {', '.join(where)}"


@cache
def _unit_figures(
    cloud: str, instance_type: str, region: str, ct: str, capacity_price: float | None, base: bool, spread: bool, generation: int
) -> tuple[Figure | None, Figure | None, str | None, str | None]:
    """(price of a node at the capacity type, on-demand price of a base node, problem, kind).

    Memoised: it depends only on its arguments and the loaded price files, whose reload bumps
    `generation`.
    """
    o = cloud_offers.offer(cloud, instance_type, region)
    if o is None or o.offered is None:
        why = o.offered_reason if o else "the catalog has no offer row for it"
        return None, None, f"whether {instance_type} is offered in {region} is unknown ({why}){_offered_elsewhere(cloud, instance_type, ct)}", "region"
    if o.offered is False:
        return None, None, f"{instance_type} is not offered in {region}{_offered_elsewhere(cloud, instance_type, ct)}", "region"
    if spread and len(o.zones) == 1:
        # sla.spread_zones puts replicas in different zones; zone IDs from the offer data
        return None, None, f"{instance_type} is offered in one zone of {region} only ({o.zones[0]}); spread_zones needs two or more", "region"
    facts = capacity_facts(cloud, ct)
    if not facts.sold:
        return None, None, f"{ct} is not sold on {cloud}: {facts.notes}", "capacity"
    fig = o.figure(ct)
    if ct == "capacity-block":
        if o.capacity_block.status == "not-sold":
            return None, None, f"{instance_type} is not sold as an EC2 capacity block ({o.capacity_block.reason})", "capacity"
        if capacity_price is not None:
            fig = Figure("priced", SPEC_PRICE, usd_per_hour=capacity_price, as_of="as given")
    if fig.status == "not-sold":
        return None, None, f"{instance_type} is not sold as {ct} in {region} ({fig.reason}){_offered_elsewhere(cloud, instance_type, ct)}", "capacity"
    if not fig.priced:
        return None, None, f"{instance_type} has no {ct} price in {region} ({fig.reason}){_offered_elsewhere(cloud, instance_type, ct)}", "price"
    if base and not o.on_demand.priced:
        return fig, None, f"{instance_type} has no on-demand price in {region} for the min_replicas kept off spot ({o.on_demand.reason})", "price"
    return fig, (o.on_demand if base else None), None, None


def layout_cost(spec: DeploymentSpec, c: Candidate) -> LayoutCost:
    """The cost of a layout in its region, or why it cannot be costed (never a guess)."""
    ct = spec.target.capacity_type
    base = wants_on_demand_base(spec)
    fig, base_unit, problem, kind = _unit_figures(
        c.cloud, c.instance.name, c.region, ct, spec.target.capacity_price_usd_per_hour, base,
        spec.sla.spread_zones and spec.sla.min_replicas >= 2, cloud_offers.generation(),
    )
    if problem is not None or fig is None or fig.usd_per_hour is None:
        return LayoutCost(ct, fig, problem=problem, kind=kind)
    base_nodes = min(c.nodes, _nodes_for(c, spec.sla.min_replicas)) if base_unit is not None else 0
    per_hour = (c.nodes - base_nodes) * fig.usd_per_hour + base_nodes * (base_unit.usd_per_hour or 0.0 if base_unit else 0.0)
    return LayoutCost(ct, fig, base_nodes, base_unit, per_hour=per_hour)


@dataclass
class _Sized:
    """The replica-dependent physics of a candidate: memory, latency and what they fail."""

    memory: MemoryEstimate
    performance: Performance | None
    max_model_len: int
    max_num_seqs: int
    per_replica: int
    kv_need: int
    kv_short: bool
    ttft_over: bool
    itl_over: bool

    @property
    def ok(self) -> bool:
        return self.memory.fits and not (self.kv_short or self.ttft_over or self.itl_over)


def _size(spec: DeploymentSpec, model: ResolvedModel, c: Candidate) -> _Sized:
    """Memory and latency of one candidate at its replica count (memoised)."""
    inst = c.instance
    gpu = catalog.get_gpu(inst.gpu)
    per_replica = math.ceil(spec.workload.peak_concurrency / c.replicas)
    max_model_len = default_max_model_len(spec, model)
    seqs = _engine_max_num_seqs(gpu, per_replica)
    mem = _memory(model, gpu, c.tensor_parallel, c.pipeline_parallel, c.precision, c.kv_cache_dtype, max_model_len, spec.serving.gpu_memory_utilization, seqs)
    need = per_replica * (spec.workload.input_tokens + spec.workload.output_tokens)
    if not mem.fits:
        return _Sized(mem, None, max_model_len, seqs, per_replica, need, False, False, False)
    rate = spec.workload.requests_per_second / c.replicas if spec.workload.requests_per_second else None
    engine_layout, _ = engine_problems(model, gpu, c.tensor_parallel, c.pipeline_parallel, c.precision, c.kv_cache_dtype)
    layout = Layout(
        gpu=gpu,
        tensor_parallel=c.tensor_parallel,
        pipeline_parallel=c.pipeline_parallel,
        quantization=memory_quantization(c.precision),
        kv_cache_dtype=c.kv_cache_dtype,
        gpus_per_node=inst.gpu_count,
        node_fabric=inst.node_fabric,
        compute_dtype=engine_layout.gemm_dtype if engine_layout is not None else None,
    )
    workload = Workload(spec.workload.input_tokens, spec.workload.output_tokens, concurrency=None if rate else per_replica, request_rate=rate)
    perf = _performance(model, layout, workload, mem)
    keep = 1.0 - spec.sla.headroom
    return _Sized(
        mem, perf, max_model_len, seqs, per_replica, need,
        kv_short=mem.kv_cache_tokens < need,
        ttft_over=perf.ttft_p95_ms > spec.sla.ttft_p95_ms * keep,
        itl_over=perf.itl_p95_ms > spec.sla.itl_limit_ms() * keep,
    )


def evaluate(spec: DeploymentSpec, model: ResolvedModel, c: Candidate) -> Evaluation:
    """Decide one candidate: feasible or not, with every reason."""
    inst, gpu = c.instance, catalog.get_gpu(c.instance.gpu)
    reasons: list[str] = []
    kinds: set[str] = set()
    lc = layout_cost(spec, c)
    price = lc.unit.usd_per_hour if lc.ok and lc.unit else None
    ev = Evaluation(
        c, False, reasons, kinds, lc.per_hour,
        price_as_of=lc.unit.as_of if lc.unit else None, price_region=c.region, cost=lc,
    )
    if not lc.ok:
        # not offered or not priced in this region: nothing else about it matters here
        reasons.append(lc.problem or "")
        kinds.add(lc.kind or "price")
        if lc.kind == "region":
            return ev

    # the serving path must be able to deploy the GPU (gpuforge.engine.launch.SERVED_GPU_VENDORS)
    unserved = serving_support_problem(gpu.vendor, gpu.name)
    if unserved:
        reasons.append(unserved)
        kinds.add("serving")
    # engine rules (gpuforge.engine.vllm): precision, capability, dtype, KV cache, divisibility
    problems = [unserved] if unserved else engine_problems(model, gpu, c.tensor_parallel, c.pipeline_parallel, c.precision, c.kv_cache_dtype)[1]
    for r in problems if not unserved else []:
        reasons.append(r)
        kinds.add("engine")
    scheme = None if problems else engine_problems(model, gpu, c.tensor_parallel, c.pipeline_parallel, c.precision, c.kv_cache_dtype)[0].scheme  # type: ignore[union-attr]
    if scheme is not None and scheme.weight_only_on(engine.capability(gpu) or 0):
        ev.notes.append(f"{scheme.description} runs weight-only (Marlin, 16-bit activations) on {gpu.name}")
    if c.precision == "fp16" and model.checkpoint_precision == "bf16" and not spec.model.precisions():
        ev.notes.append(f"{gpu.name} has no bf16: served in float16")
    ev.kv_cache_dtype_run = engine.resolved_kv_cache_dtype(c.kv_cache_dtype, model.arch.quantization_config)
    if ev.kv_cache_dtype_run != c.kv_cache_dtype:
        ev.notes.append(f"--kv-cache-dtype {c.kv_cache_dtype} runs a {ev.kv_cache_dtype_run} KV cache: the checkpoint's kv_cache_quant_algo says so (sized so)")
    if c.nodes_per_replica > 1:
        if inst.node_fabric == "none":
            reasons.append(f"{inst.name} has neither EFA nor InfiniBand for pipeline stages across nodes")
            kinds.add("fabric")
        if spec.sla.spread_zones:
            reasons.append("multi-node replicas stay in one zone; spread_zones would need one pool per zone")
            kinds.add("fabric")
        if spec.target.capacity_type == "capacity-block" and spec.target.capacity_block_instance_count and c.nodes > spec.target.capacity_block_instance_count:
            reasons.append(f"{c.nodes} nodes exceed the capacity block's {spec.target.capacity_block_instance_count}")
            kinds.add("capacity")
    # capacity type
    ct = spec.target.capacity_type
    if ct == "spot" and not inst.spot:
        reasons.append(f"{inst.name} is not offered as spot")
        kinds.add("capacity")
    if ct == "spot" and lc.ok and lc.unit is not None:
        ev.notes.append(
            f"spot costed at {lc.unit.describe()}, the median of its zones' prices; spot prices move and "
            f"the cloud can reclaim nodes"
            + (f"; {lc.base_nodes} node(s) for sla.min_replicas stay on on-demand ({lc.base_unit.describe()})" if lc.base_nodes and lc.base_unit else "")
        )

    # replicas and availability
    if c.replicas < spec.sla.min_replicas:
        reasons.append(f"{c.replicas} replica(s) < sla.min_replicas {spec.sla.min_replicas}")
        kinds.add("availability")

    # memory and SLA
    sized = _size(spec, model, c)
    mem, perf = sized.memory, sized.performance
    ev.memory, ev.performance = mem, perf
    ev.max_model_len, ev.max_num_seqs, ev.per_replica_concurrency = sized.max_model_len, sized.max_num_seqs, sized.per_replica
    if not mem.fits:
        reasons += [f"memory: {p}" for p in mem.problems]
        kinds.add("memory")
    else:
        if sized.kv_short:
            reasons.append(
                f"memory: KV cache holds {mem.kv_cache_tokens} tokens, {sized.per_replica} concurrent requests need {sized.kv_need}"
            )
            kinds.add("memory")
        assert perf is not None
        keep = 1.0 - spec.sla.headroom
        if sized.ttft_over:
            reasons.append(f"TTFT p95 {_ms(perf.ttft_p95_ms)} > {spec.sla.ttft_p95_ms * keep:,.0f} ms (SLA {spec.sla.ttft_p95_ms:g} ms less {spec.sla.headroom:.0%} headroom)")
            kinds.add("ttft")
        if sized.itl_over:
            reasons.append(f"ITL p95 {_ms(perf.itl_p95_ms)} > {spec.sla.itl_limit_ms() * keep:,.1f} ms (SLA {spec.sla.itl_limit_ms():g} ms less {spec.sla.headroom:.0%} headroom)")
            kinds.add("itl")
    # budget
    if spec.budget.max_monthly_usd is not None and price is not None and ev.cost_per_month > spec.budget.max_monthly_usd:
        reasons.append(f"${ev.cost_per_month:,.0f}/month > budget ${spec.budget.max_monthly_usd:,.0f}")
        kinds.add("budget")
    ev.feasible = not reasons
    return ev


def _ms(v: float) -> str:
    return "unbounded (overloaded)" if not math.isfinite(v) else f"{v:,.0f} ms"


def _with_replicas(c: Candidate, r: int) -> Candidate:
    return Candidate(c.cloud, c.region, c.instance, c.nodes_per_replica, c.tensor_parallel, c.pipeline_parallel, c.precision, c.kv_cache_dtype, r, c.min_nodes)


# kinds that more replicas can fix; every other kind stays whatever the replica count
_REPLICA_FIXABLE = {"ttft", "itl", "memory", "availability"}


def replica_ceiling(spec: DeploymentSpec) -> int:
    """The most replicas any layout is tried with (one request per replica at peak)."""
    return min(MAX_REPLICAS, max(spec.sla.min_replicas, spec.workload.peak_concurrency))


def physics_key(c: Candidate) -> tuple:
    """What latency and memory depend on: instances that share it behave identically."""
    i = c.instance
    return (i.gpu, i.gpu_count, i.node_fabric, c.nodes_per_replica, c.tensor_parallel, c.pipeline_parallel, c.precision, c.kv_cache_dtype)


def replicas_needed(spec: DeploymentSpec, model: ResolvedModel, base: Candidate) -> int | None:
    """The replica count the cheapest feasible plan of this layout uses (None: none works).

    Memory per replica and latency only improve as replicas are added, so the smallest count
    that meets the replica-fixable constraints (memory, SLA, min_replicas) is the cheapest;
    cost, budget and capacity-block size only get worse with more replicas. Replicas that fit
    on the nodes already paid for are free, so among those the lowest p95 TTFT wins (the
    planner's tie-break).
    """
    top = replica_ceiling(spec)

    def ok(r: int) -> Evaluation | None:
        # the replica-fixable checks of evaluate(), without building its reasons
        cand = _with_replicas(base, r)
        if r < spec.sla.min_replicas:
            return None
        sized = _size(spec, model, cand)
        if not sized.ok:
            return None
        ev = Evaluation(cand, True, [], set(), 0.0, memory=sized.memory, performance=sized.performance)
        return ev

    best = ok(1)
    if best is None:
        if ok(top) is None:
            return None
        lo, hi = 1, top
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if ok(mid) is None:
                lo = mid
            else:
                hi = mid
        best = ok(hi)
        assert best is not None
    # replicas on nodes already paid for are free and lower the load per replica; latency only
    # falls with load, so the most replicas those nodes hold give the lowest p95 TTFT, and the
    # fewest replicas with that same per-replica load win the remaining tie
    r_min, nodes = best.candidate.replicas, best.candidate.nodes
    r_max = r_min
    while r_max < top and _with_replicas(base, r_max + 1).nodes == nodes:
        r_max += 1
    if r_max == r_min:
        return r_min
    if spec.workload.requests_per_second:
        candidates_r = [r_max]
    else:
        peak = spec.workload.peak_concurrency
        candidates_r = [max(r_min, math.ceil(peak / math.ceil(peak / r_max))), r_max]
    for r in candidates_r:
        ev = ok(r)
        if ev is not None and ev.sort_key()[2:4] < best.sort_key()[2:4]:
            best = ev
    return best.candidate.replicas


def best_for_layout(spec: DeploymentSpec, model: ResolvedModel, base: Candidate, memo: dict | None = None) -> tuple[Evaluation | None, Evaluation]:
    """(cheapest feasible evaluation of this layout, the evaluation that explains a rejection)."""
    lc = layout_cost(spec, base)
    if not lc.ok and lc.kind == "region":
        return None, evaluate(spec, model, base)  # not offered there: nothing to size
    key = physics_key(base)
    if memo is not None and key in memo:
        r = memo[key]
    elif engine_problems(model, catalog.get_gpu(base.instance.gpu), base.tensor_parallel, base.pipeline_parallel, base.precision, base.kv_cache_dtype)[1]:
        r = None  # vLLM refuses the layout: no replica count helps
        if memo is not None:
            memo[key] = r
    else:
        r = replicas_needed(spec, model, base)
        if memo is not None:
            memo[key] = r
    if r is None and _engine_refused(model, base):
        replicas = max(1, spec.sla.min_replicas)  # show the engine's reasons at the smallest count
    else:
        replicas = r or replica_ceiling(spec)
    ev = evaluate(spec, model, _with_replicas(base, replicas))
    return (ev if ev.feasible else None), ev


def _engine_refused(model: ResolvedModel, c: Candidate) -> bool:
    return bool(engine_problems(model, catalog.get_gpu(c.instance.gpu), c.tensor_parallel, c.pipeline_parallel, c.precision, c.kv_cache_dtype)[1])


def plan_deployment(
    spec: DeploymentSpec, alternatives: int | str = 5, *, hf_token: str | None = None, refresh_hub: bool = False, explain: bool = True
) -> PlanResult:
    """The cheapest feasible plan, the nearest alternatives and the rejected layouts.

    `hf_token` is used only to read a repo that is not in the catalog from the Hugging Face
    Hub (gpuforge.hub); `refresh_hub` reads it again instead of using the cached copy. With
    `explain`, a NoFeasiblePlan also says what the SLA costs without the budget and the
    cheapest single changes that fit (`gpuforge.sizing.relax`, which re-plans with it off).
    """
    model = resolve(spec.model.id or "", spec.model.config, spec.model.hf_id, spec.model.revision, token=hf_token, refresh=refresh_hub)
    # a precision the checkpoint cannot load at is a spec error that names the catalog's
    # checkpoints shipping it (gpuforge.sizing.models.precision_problems)
    problems = precision_problems(spec.model.precisions(), model) + context_problems(spec, model)
    if problems:
        raise SpecError(f"deployment {spec.name!r}", problems)
    feasible: list[Evaluation] = []
    rejected: list[Evaluation] = []
    considered = 0
    memo: dict[tuple, int | None] = {}
    want = None if alternatives == "all" else int(alternatives) + 1
    # cheapest first by a lower bound on cost (the nodes min_replicas needs): once `want`
    # feasible plans cost less than the next layout's floor, nothing later can displace them
    layouts = sorted(((_cost_floor(spec, c), i, c) for i, c in enumerate(candidates(spec, model))), key=lambda t: (t[0], t[1]))
    skipped = 0
    cheapest: list[float] = []  # max-heap (negated) of the `want` lowest feasible costs
    for floor, _, base in layouts:
        considered += 1
        if want is not None and len(cheapest) >= want and floor * HOURS_PER_MONTH > -cheapest[0]:
            skipped += 1
            continue
        best, why = best_for_layout(spec, model, base, memo)
        if best is not None:
            feasible.append(best)
            if want is not None:
                heapq.heappush(cheapest, -best.cost_per_month)
                if len(cheapest) > want:
                    heapq.heappop(cheapest)
        else:
            rejected.append(why)
    if not feasible:
        err = _no_plan(spec, rejected)
        if explain:
            from gpuforge.sizing.relax import explain as what_fits

            err = NoFeasiblePlan(err.subject, err.problems + what_fits(spec, model, hf_token))
        raise err
    feasible.sort(key=Evaluation.sort_key)
    chosen = feasible[0]
    if chosen.candidate.nodes_per_replica > 1 and not spec.target.zone:
        region = catalog.get_region(chosen.candidate.cloud, chosen.candidate.region)
        raise SpecError(
            f"deployment {spec.name!r}",
            [
                Problem(
                    "target.zone",
                    f"the cheapest plan ({chosen.candidate.describe()}) spans nodes over "
                    f"{chosen.candidate.instance.node_fabric.upper()}, which needs all nodes of a replica in one zone; "
                    "gpuforge does not guess it",
                    f"set target.zone to the zone where you have capacity. Candidates: {', '.join(region.zones)}",
                )
            ],
        )
    n = len(feasible) if alternatives == "all" else int(alternatives)
    rejected.sort(key=lambda e: (len(e.kinds), e.cost_per_month))
    return PlanResult(spec, model, chosen, feasible[1 : 1 + n], rejected, considered, skipped)


def _cost_floor(spec: DeploymentSpec, c: Candidate) -> float:
    """Dollars per hour this layout costs at the least: the nodes min_replicas needs."""
    lc = layout_cost(spec, _with_replicas(c, max(1, spec.sla.min_replicas)))
    return lc.per_hour if lc.ok else float("inf")


def brute_force(spec: DeploymentSpec, max_replicas: int | None = None) -> Evaluation | None:
    """Evaluate every candidate at every replica count; the reference the planner must match."""
    model = resolve(spec.model.id or "", spec.model.config, spec.model.hf_id, spec.model.revision)
    top = max_replicas or replica_ceiling(spec)
    best = None
    for base in candidates(spec, model):
        for r in range(1, top + 1):
            ev = evaluate(spec, model, _with_replicas(base, r))
            if ev.feasible and (best is None or ev.sort_key() < best.sort_key()):
                best = ev
    return best


_FIX = {
    "memory": "use a larger GPU or more GPUs per replica, allow fp8 (model.precision: [bf16, fp8]) or kv_cache_dtype fp8, or lower workload.max_model_len",
    "ttft": "relax sla.ttft_p95_ms, shorten workload.input_tokens, or allow faster GPUs (target.instance_families)",
    "itl": "relax sla.itl_p95_ms, allow fp8, or allow GPUs with more memory bandwidth",
    "budget": "raise budget.max_monthly_usd or relax the SLA",
    "fabric": "raise target.max_nodes_per_replica only with EFA/InfiniBand instance types, or pick a larger GPU",
    "capacity": "change target.capacity_type or the allowed instance types",
    "engine": "choose a precision the checkpoint ships in (or a pre-quantized checkpoint as model.id), a GPU whose compute capability the method needs, or a TP size the model's dimensions divide",
    "price": "pick instance types or a capacity type the region prices (see `gpuforge catalog prices`), or refresh prices with `gpuforge prices refresh`",
    "availability": "lower sla.min_replicas",
    "region": "pick a region that offers the instance types (target.region or target.regions), or other instance types",
    "serving": "allow NVIDIA GPU instance types (target.instance_types / instance_families)",
}


def _no_plan(spec: DeploymentSpec, rejected: list[Evaluation]) -> NoFeasiblePlan:
    counts: dict[str, int] = {}
    for ev in rejected:
        for k in ev.kinds:
            counts[k] = counts.get(k, 0) + 1
    if not rejected:
        return NoFeasiblePlan(
            f"deployment {spec.name!r}",
            [Problem("target", "no catalog instance type matches the target's cloud, families and types", "widen target.instance_families / instance_types")],
        )
    binding = max(counts, key=lambda k: counts[k])
    # near misses only name types the region offers and prices: a suggestion must be buyable
    priced = [e for e in rejected if not e.kinds & {"region", "price"}]
    closest = sorted(priced, key=lambda e: (len(e.kinds), e.cost_per_month))[:3]
    problems = [
        Problem(
            _path(binding),
            f"no candidate is feasible; the binding constraint is {binding} ({counts[binding]} of {len(rejected)} layouts fail it)",
            _FIX[binding],
        )
    ]
    for ev in closest:
        problems.append(Problem("closest", f"{ev.candidate.describe()}: " + "; ".join(ev.reasons[:3])))
    elsewhere: dict[str, str] = {}
    for ev in rejected:
        if "region" in ev.kinds and ev.candidate.instance.name not in elsewhere:
            elsewhere[ev.candidate.instance.name] = ev.reasons[0]
    if elsewhere:
        shown = list(elsewhere.values())[:3]
        more = f" (and {len(elsewhere) - 3} more)" if len(elsewhere) > 3 else ""
        problems.append(Problem("target.region", "not offered here: " + " | ".join(shown) + more, _FIX["region"]))
    return NoFeasiblePlan(f"deployment {spec.name!r}", problems)


def _path(kind: str) -> str:
    return {
        "memory": "workload.max_model_len",
        "ttft": "sla.ttft_p95_ms",
        "itl": "sla.itl_p95_ms",
        "budget": "budget.max_monthly_usd",
        "fabric": "target.max_nodes_per_replica",
        "capacity": "target.capacity_type",
        "engine": "model.precision",
        "price": "target.instance_types",
        "availability": "sla.min_replicas",
        "region": "target.region",
        "serving": "target.instance_types",
    }[kind]


# ---------------------------------------------------------------------------------------------


def summary(ev: Evaluation, model: ResolvedModel, spec: DeploymentSpec | None = None) -> dict[str, Any]:
    """The `chosen` / alternative object of `gpuforge plan --format json`."""
    c, perf, mem = ev.candidate, ev.performance, ev.memory
    tokens_per_s = (perf.output_tokens_per_s * c.replicas) if perf else 0.0
    gpu = catalog.get_gpu(c.instance.gpu)
    layout, _ = engine_problems(model, gpu, c.tensor_parallel, c.pipeline_parallel, c.precision, c.kv_cache_dtype)
    scheme = layout.scheme if layout else None
    out: dict[str, Any] = {
        "cloud": c.cloud,
        "region": c.region,
        "instance_type": c.instance.name,
        "gpu": c.instance.gpu,
        "gpus_per_node": c.instance.gpu_count,
        "nodes_per_replica": c.nodes_per_replica,
        "nodes": c.nodes,
        "tensor_parallel": c.tensor_parallel,
        "pipeline_parallel": c.pipeline_parallel,
        "replicas": c.replicas,
        "precision": c.precision,
        "quantization": engine_quantization(model, c.precision),
        "kv_cache_dtype": c.kv_cache_dtype,
        "kv_cache_dtype_run": ev.kv_cache_dtype_run or c.kv_cache_dtype,  # what vLLM runs (a checkpoint may set fp8 under auto)
        "max_model_len": ev.max_model_len,
        "max_num_seqs": ev.max_num_seqs,
        "fabric": c.instance.node_fabric if c.nodes_per_replica > 1 else "none",
        "cost_per_hour": round(ev.cost_per_hour, 4),
        "cost_per_month": round(ev.cost_per_month, 2),
        "cost_per_million_tokens": round(ev.cost_per_hour / (tokens_per_s * 3600) * 1e6, 4) if tokens_per_s else None,
        "price_date": ev.price_as_of,
        "price_region": ev.price_region,
        **pricing_summary(ev, model),
        "predicted": {
            "ttft_p95_ms": round(perf.ttft_p95_ms, 1) if perf else None,
            "itl_p95_ms": round(perf.itl_p95_ms, 2) if perf else None,
            "ttft_ms": round(perf.ttft_ms, 1) if perf else None,
            "itl_ms": round(perf.itl_ms, 2) if perf else None,
            "output_tokens_per_s": round(tokens_per_s, 1),
            "per_replica_concurrency": ev.per_replica_concurrency,
            "limited_by": perf.limited_by if perf else None,
            # cross-validated median |error| of the nearest measured (GPU generation, model
            # family) group: how far the figures above typically are from a measurement
            "uncertainty": {
                "group": perf.error_group,
                # rounded as Performance.to_dict rounds them, so plan and estimate print one figure
                "ttft": round(perf.ttft_error, 3),
                "itl": round(perf.itl_error, 3),
                "output_tokens_per_s": round(perf.throughput_error, 3),
            } if perf else None,
        },
        "memory": {
            "weights_gib_per_gpu": mem.weights_gib,
            "kv_cache_gib_per_gpu": mem.kv_cache_gib,
            "kv_cache_tokens": mem.kv_cache_tokens,
            "max_concurrency_at_max_model_len": mem.max_concurrency,
            "activation_peak_gib": mem.activation_peak_gib,
            "non_torch_gib": mem.non_torch_gib,
            "gpu_memory_gib": mem.total_gpu_memory_gib,
        } if mem else None,
        "engine": {
            "name": engine.ENGINE,
            "version": VLLM_VERSION,
            "dtype": layout.dtype if layout else None,
            "quantization_method": scheme.method if scheme else None,
            "scheme": scheme.description if scheme else "unquantized",
            "weight_only_kernel": bool(scheme and scheme.weight_only_on(engine.capability(gpu) or 0)),
        },
        "context": {
            "max_model_len": ev.max_model_len,
            "native_context": model.native_context,
            # requests of max_model_len tokens one replica's KV cache holds at once
            "concurrency_at_max_model_len": round(mem.max_concurrency, 2) if mem else None,
        },
        "placement": {
            "replicas_per_node": c.replicas_per_node,
            "min_nodes": c.min_nodes,
        },
        "notes": ev.notes,
    }
    if spec is not None and perf is not None:
        sla_t, sla_i = spec.sla.ttft_p95_ms, spec.sla.itl_limit_ms()
        out["sla"] = {"ttft_p95_ms": sla_t, "itl_p95_ms": sla_i, "headroom": spec.sla.headroom}
        out["margins"] = {
            "ttft_p95_ms": round(sla_t - perf.ttft_p95_ms, 1),
            "ttft_p95_pct": round((sla_t - perf.ttft_p95_ms) / sla_t * 100, 1),
            "itl_p95_ms": round(sla_i - perf.itl_p95_ms, 2),
            "itl_p95_pct": round((sla_i - perf.itl_p95_ms) / sla_i * 100, 1),
        }
    return out


def pricing_summary(ev: Evaluation, model: ResolvedModel) -> dict[str, Any]:
    """Capacity type, unit price, its source and date, and (spot) what an interruption costs."""
    lc, c = ev.cost, ev.candidate
    if lc is None or lc.unit is None:
        return {"capacity_type": lc.capacity_type if lc else None, "price_usd_per_hour": None, "price_source": None, "price_source_url": None}
    out: dict[str, Any] = {
        "capacity_type": lc.capacity_type,
        "price_usd_per_hour": lc.unit.usd_per_hour,
        "price_source": lc.unit.source.title,
        "price_source_url": lc.unit.source.url,
        "price_source_note": lc.unit.source.as_of_note,
        "on_demand_base_nodes": lc.base_nodes,
        # AWS zone IDs (use1-az1); zone names map to IDs per account (describe-availability-zones)
        "zones_offering": list(o.zones) if (o := cloud_offers.offer(c.cloud, c.instance.name, c.region)) else [],
    }
    if lc.base_nodes and lc.base_unit is not None:
        out["on_demand_base"] = {
            "nodes": lc.base_nodes,
            "price_usd_per_hour": lc.base_unit.usd_per_hour,
            "price_date": lc.base_unit.as_of,
            "price_source": lc.base_unit.source.title,
        }
    facts = capacity_facts(c.cloud, lc.capacity_type)
    if facts.interruption_notice_s is not None:
        spot_nodes = c.nodes - lc.base_nodes
        per_node = 1 if c.nodes_per_replica > 1 else c.replicas_per_node
        base_replicas = (lc.base_nodes // c.nodes_per_replica) if c.nodes_per_replica > 1 else min(c.replicas, lc.base_nodes * c.replicas_per_node)
        out["interruption"] = {
            "notice_s": facts.interruption_notice_s,
            "spot_nodes": spot_nodes,
            "replicas_on_spot": c.replicas - base_replicas,
            "replicas_lost_per_reclaimed_node": per_node,
            "replicas_on_demand": base_replicas,
            "time_to_replace": (
                f"{facts.interruption_notice_s} s of notice, then a new {c.instance.name} node must launch and "
                f"download and load {ev.memory.weights_gib_total if ev.memory else 0:.0f} GiB of weights before the replica serves again "
                "(node launch and load time are not modelled)"
            ),
            "source": facts.sources[0],
            # share of spot instances of this type the cloud interrupted per month (a bucket)
            "frequency": lc.unit.interruption_frequency
            or "unknown: the price source has no interruption frequency (AWS publishes it in the Spot Instance Advisor; `gpuforge prices refresh` reads it)",
        }
    return out


def build_plan(result: PlanResult) -> Plan:
    """Turn the chosen evaluation into the pools and serving layout the components build."""
    spec, ev, model = result.spec, result.chosen, result.model
    c = ev.candidate
    inst = c.instance
    per_node = c.replicas_per_node
    max_replicas = spec.target.max_replicas or max(c.replicas * 2, spec.sla.min_replicas)
    zone = spec.target.zone
    region = catalog.get_region(c.cloud, c.region)
    # one zone when named (fabric pools need it); three to spread over when the SLA asks;
    # otherwise no constraint (the pool uses every zone the network has subnets in)
    zones = (zone,) if zone else (region.zones[:3] if spec.sla.spread_zones else ())
    fabric = inst.node_fabric if c.nodes_per_replica > 1 else "none"
    pool_name = f"{spec.name}-{inst.family.lower().replace('_', '-')}"[:40].rstrip("-")
    labels = {"gpuforge.io/pool": pool_name, "gpuforge.io/gpu": inst.gpu, "gpuforge.io/deployment": spec.name}
    capacity = spec.target.capacity_type
    pool = NodePoolPlan(
        name=pool_name,
        cloud=c.cloud,  # type: ignore[arg-type]
        region=c.region,
        instance_type=inst.name,
        gpu=inst.gpu,
        gpus_per_node=inst.gpu_count,
        nodes_per_replica=c.nodes_per_replica,
        desired_nodes=nodes_for(c, c.replicas),
        min_nodes=nodes_for(c, spec.sla.min_replicas),
        max_nodes=nodes_for(c, max_replicas),
        capacity_type=capacity,
        zone=zone if (zone or c.nodes_per_replica > 1) else None,
        zones=tuple(zones),
        fabric=fabric,
        placement_group=c.nodes_per_replica > 1 and capacity not in ("capacity-block", "reserved"),
        capacity_reservation_id=spec.target.capacity_reservation_id,
        capacity_block_instance_count=spec.target.capacity_block_instance_count,
        labels=labels,
    )
    spot_pool = None
    base_nodes = ev.cost.base_nodes if ev.cost else 0
    on_demand_replicas = 0
    if base_nodes:
        # spot with availability: a fixed on-demand base for min_replicas, spot for the rest;
        # both carry the same gpuforge.io/pool label so the same pods schedule on either
        on_demand_replicas = min(c.replicas, spec.sla.min_replicas)
        spot_max = pool.max_nodes - base_nodes
        pool = replace(
            pool,
            capacity_type="on-demand",
            desired_nodes=base_nodes,
            min_nodes=base_nodes,
            max_nodes=base_nodes,
            labels={**labels, CAPACITY_LABEL: "on-demand"},
        )
        if spot_max > 0:
            spot_pool = replace(
                pool,
                name=f"{pool_name[:35].rstrip('-')}-spot",
                capacity_type="spot",
                desired_nodes=nodes_for(c, c.replicas) - base_nodes,
                min_nodes=0,
                max_nodes=spot_max,
                labels={**labels, CAPACITY_LABEL: "spot"},
                pool_label=pool_name,
            )
    gpu = catalog.get_gpu(inst.gpu)
    layout, problems = engine_problems(model, gpu, c.tensor_parallel, c.pipeline_parallel, c.precision, c.kv_cache_dtype)
    assert layout is not None and layout.dtype is not None and not problems, problems  # evaluate() refused it otherwise
    scheme = layout.scheme
    # pods request the node's allocatable resources split over the replicas a node holds
    alloc = node_allocatable(c.cloud, inst.name, inst.vcpus, inst.memory_gib)
    requests = pod_requests(alloc, per_node)
    serving = ServingPlan(
        name=spec.name,
        model=model.hf_id,
        served_model_name=spec.model.served_name or model.catalog_id or spec.name,
        revision=spec.model.revision or model.revision,
        tensor_parallel_size=c.tensor_parallel,
        pipeline_parallel_size=c.pipeline_parallel,
        nodes_per_replica=c.nodes_per_replica,
        gpus_per_node=min(inst.gpu_count, c.gpus_per_replica),
        max_model_len=ev.max_model_len,
        max_num_seqs=ev.max_num_seqs,
        max_num_batched_tokens=ev.memory.max_num_batched_tokens if ev.memory else 2048,
        gpu_memory_utilization=spec.serving.gpu_memory_utilization,
        dtype=layout.dtype,
        quantization=engine_quantization(model, c.precision),
        kv_cache_dtype=c.kv_cache_dtype,
        replicas=c.replicas,
        min_replicas=spec.sla.min_replicas,
        max_replicas=max_replicas,
        spread_zones=spec.sla.spread_zones,
        weights_gib_total=ev.memory.weights_gib_total if ev.memory else 0.0,
        per_replica_max_concurrency=max(1, ev.per_replica_concurrency),
        ttft_p95_ms_sla=spec.sla.ttft_p95_ms,
        itl_p95_ms_sla=spec.sla.itl_limit_ms(),
        vllm_version=VLLM_VERSION,
        fabric=fabric,
        cloud=c.cloud,  # type: ignore[arg-type]
        pool_name=pool_name,
        gpu=inst.gpu,
        gpu_memory_gib=gpu.memory_gib,
        cost_per_hour=round(ev.cost_per_hour, 4),
        zones=tuple(zones),
        on_demand_replicas=on_demand_replicas,
        output_tokens=spec.workload.output_tokens,
        engine=engine.ENGINE,
        precision=c.precision,
        quantization_method=scheme.method if scheme else None,
        allow_deprecated_quantization=bool(scheme and scheme.deprecated),
        checkpoint_download_gib=round(model.download_gib, 2),
        native_context=model.native_context,
        replicas_per_node=per_node,
        cpu_request=requests.cpu,
        memory_request_gib=requests.memory_gib,
    )
    return Plan(deployment=spec.name, node_pool=pool, serving=serving, summary=summary(ev, model, spec), spot_pool=spot_pool)
