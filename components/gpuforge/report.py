"""Render plans: JSON for machines, Markdown for pull requests, a rich table for terminals."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

from gpuforge.inputs import dumps
from gpuforge.sizing.performance import Performance
from gpuforge.sizing.planner import Evaluation, PlanResult, summary


def plan_json(result: PlanResult) -> dict[str, Any]:
    """The object `gpuforge plan --format json` prints for one deployment."""
    return {
        "deployment": result.spec.name,
        "model": _model_json(result),
        "sla": result.spec.sla.model_dump(),
        "workload": result.spec.workload.model_dump(),
        "chosen": summary(result.chosen, result.model, result.spec),
        "alternatives": [_alternative(a, result.chosen, result) for a in result.alternatives],
        "rejected": [{"candidate": a.candidate.describe(), "reasons": a.reasons} for a in result.rejected],
        "candidates_considered": result.considered,
    }


def _model_json(result: PlanResult) -> dict[str, Any]:
    m = result.model
    out: dict[str, Any] = {"id": m.key, "hf_id": m.hf_id, "params_total": m.params_total, "params_active": m.params_active}
    if m.hub is not None:
        # a repo read from the Hugging Face Hub: the commit it was sized (and is served) at
        out.update(revision=m.revision, download_bytes=m.download_bytes, hub_source=m.hub.source)
    return out


def _where(result: PlanResult) -> str:
    m = result.model
    if m.hub is None:
        return m.hf_id
    gb = (m.download_bytes or 0) / 1e9
    return f"{m.hf_id}@{(m.revision or '')[:12]}, {gb:,.1f} GB download, from the Hub ({m.hub.source})"


def _alternative(a: Evaluation, chosen: Evaluation, result: PlanResult) -> dict[str, Any]:
    out = summary(a, result.model, result.spec)
    out["why_not"] = why_lost(a, chosen)
    return out


def why_lost(a: Evaluation, chosen: Evaluation) -> str:
    d = a.cost_per_month - chosen.cost_per_month
    if d > 0.005:
        return f"${d:,.0f}/month more (+{d / max(chosen.cost_per_month, 1e-9) * 100:.0f}%)"
    if a.candidate.nodes > chosen.candidate.nodes:
        return f"same cost, {a.candidate.nodes} nodes instead of {chosen.candidate.nodes}"
    return "same cost and nodes, higher p95 TTFT"


def render_plans(results: list[PlanResult], fmt: str) -> str:
    if fmt == "json":
        objs = [plan_json(r) for r in results]
        return dumps(objs[0] if len(objs) == 1 else {"deployments": objs}, indent=2)
    if fmt == "markdown":
        return "\n\n".join(markdown(r) for r in results)
    return "\n".join(table(r) for r in results)


def _perf(ev: Evaluation) -> Performance:
    """The predicted performance a feasible evaluation (chosen or alternative) always carries."""
    if ev.performance is None:
        raise ValueError(f"{ev.candidate.describe()} has no performance prediction")
    return ev.performance


def _line(ev: Evaluation) -> str:
    c = ev.candidate
    return f"{c.nodes} x {c.instance.name}"


def markdown(result: PlanResult) -> str:
    """The sizing review posted on a pull request: decision, margins, cost, runners-up, chart."""
    s = summary(result.chosen, result.model, result.spec)
    spec = result.spec
    p, m = s["predicted"], s["memory"]
    out = io.StringIO()
    w = out.write
    w(f"### gpuforge sizing: `{spec.name}` ({_where(result)})\n\n")
    cpm = s["cost_per_million_tokens"]
    w(
        f"**Decision: {s['nodes']} x {s['instance_type']}** ({s['cloud']} {s['region']}, {s.get('capacity_type') or 'on-demand'}), "
        f"TP={s['tensor_parallel']} x PP={s['pipeline_parallel']}, {s['replicas']} replica(s), "
        f"{s['precision']} weights, KV {s['kv_cache_dtype']}: **${s['cost_per_month']:,.0f}/month** "
        f"(${s['cost_per_hour']:,.2f}/h)"
        + (f", **${cpm:,.2f} per million output tokens** at peak load" if cpm else "")
        + ".\n\n"
    )
    w(f"**Binding constraint:** {binding_constraint(result)}\n\n")
    w("| constraint | predicted | limit | margin |\n|---|---|---|---|\n")
    for row in margins(result):
        w(f"| {row['name']} | {row['value']} | {row['limit']} | {row['margin']} |\n")
    w(f"\nThroughput at peak: {p['output_tokens_per_s']:,.0f} output tokens/s over all replicas.\n\n")
    w(price_markdown(s))
    w(
        f"Memory per GPU: weights {m['weights_gib_per_gpu']:.1f} GiB, KV cache {m['kv_cache_gib_per_gpu']:.1f} GiB "
        f"({m['kv_cache_tokens']:,} tokens; {m['max_concurrency_at_max_model_len']:.1f} requests at max_model_len "
        f"{s['max_model_len']}) of {m['gpu_memory_gib']:.2f} GiB. Engine: max_num_seqs={s['max_num_seqs']}, "
        f"quantization={s['quantization'] or 'from checkpoint / none'}.\n\n"
    )
    for n in s["notes"]:
        w(f"> note: {n}\n")
    points = chart_points(result)
    if result.alternatives:
        w("\n**Runners-up** (feasible, not chosen)\n\n| | layout | $/month | TTFT p95 | ITL p95 | why it lost |\n|---|---|---|---|---|---|\n")
        letters = {id(pt.evaluation): pt.letter for pt in points}
        for a in result.alternatives:
            pa = _perf(a)
            w(
                f"| {letters.get(id(a), '')} | {a.candidate.describe()} | {a.cost_per_month:,.0f} | {_ms(pa.ttft_p95_ms)} | "
                f"{_ms(pa.itl_p95_ms, 1)} | {why_lost(a, result.chosen)} |\n"
            )
    cheaper = cheaper_rejected(result)
    if cheaper:
        w(
            "\n**Cheaper layouts that fail** (from: the cost at `sla.min_replicas`; why: what still fails at "
            "the most replicas tried)\n\n| | layout | from $/month | why rejected |\n|---|---|---|---|\n"
        )
        letters = {id(pt.evaluation): pt.letter for pt in points}
        for ev, floor in cheaper[:6]:
            why = _real_reasons(result, ev, floor)
            w(f"| {letters.get(id(ev), '')} | {_layout(ev)} | {floor:,.0f} | {_cell('; '.join(why[:3]))} (at {ev.candidate.replicas} replicas) |\n")
    if len(points) > 1:
        w("\n" + mermaid_charts(result, points))
    if result.rejected:
        w(f"\n<details><summary>{len(result.rejected)} rejected layouts</summary>\n\n")
        for r in result.rejected[:40]:
            w(f"- {r.candidate.describe()}: {'; '.join(r.reasons[:3])}\n")
        w("\n</details>\n")
    return out.getvalue()


def _ms(v: float | None, digits: int = 0) -> str:
    if v is None:
        return "n/a"
    if not math.isfinite(v):
        return "unbounded"
    return f"{v:,.{digits}f} ms"


def _layout(ev: Evaluation) -> str:
    c = ev.candidate
    nodes = f"{c.nodes_per_replica} nodes x " if c.nodes_per_replica > 1 else ""
    return f"{nodes}{c.instance.name} TP{c.tensor_parallel}xPP{c.pipeline_parallel} {c.precision} kv={ev.kv_label}"


def _headroom(value: float, limit: float) -> str:
    if not math.isfinite(value):
        return "over"
    h = (limit - value) / limit * 100
    return f"{h:.0f}% headroom" if h >= 0 else f"{-h:.0f}% over"


def margins(result: PlanResult) -> list[dict[str, str]]:
    """One row per constraint the chosen plan meets: predicted value, limit and headroom."""
    ev, spec = result.chosen, result.spec
    perf, mem = ev.performance, ev.memory
    assert perf is not None and mem is not None
    rows = [
        {"name": "TTFT p95", "value": _ms(perf.ttft_p95_ms), "limit": _ms(spec.sla.ttft_p95_ms), "margin": _headroom(perf.ttft_p95_ms, spec.sla.ttft_p95_ms)},
        {"name": "ITL p95", "value": _ms(perf.itl_p95_ms, 1), "limit": _ms(spec.sla.itl_limit_ms(), 1), "margin": _headroom(perf.itl_p95_ms, spec.sla.itl_limit_ms())},
    ]
    if perf.error_group:
        # the cross-validated error of the model on the nearest measured group
        # (gpuforge.sizing.performance, docs/accuracy.md): are the SLA margins bigger than it?
        head = min((spec.sla.ttft_p95_ms - perf.ttft_p95_ms) / spec.sla.ttft_p95_ms - perf.ttft_error,
                   (spec.sla.itl_limit_ms() - perf.itl_p95_ms) / spec.sla.itl_limit_ms() - perf.itl_error)
        rows.append({
            "name": "model error",
            "value": f"TTFT ±{perf.ttft_error * 100:.0f}%, ITL ±{perf.itl_error * 100:.0f}% (median, {perf.error_group})",
            "limit": "cross-validated on measured vLLM runs",
            "margin": "SLA margins exceed it" if head >= 0 else "SLA margins are within it",
        })
    need = ev.per_replica_concurrency * (spec.workload.input_tokens + spec.workload.output_tokens)
    if need:
        rows.append(
            {
                "name": "KV cache per replica",
                "value": f"{mem.kv_cache_tokens:,} tokens",
                "limit": f"needs {need:,} ({ev.per_replica_concurrency} requests x {spec.workload.input_tokens + spec.workload.output_tokens} tokens)",
                "margin": f"{(mem.kv_cache_tokens - need) / need * 100:.0f}% spare",
            }
        )
    rows.append({"name": "replicas", "value": str(ev.candidate.replicas), "limit": f"min {spec.sla.min_replicas}", "margin": "met"})
    budget = spec.budget.max_monthly_usd
    if budget is not None:
        rows.append({"name": "cost", "value": f"${ev.cost_per_month:,.0f}/month", "limit": f"budget ${budget:,.0f}", "margin": _headroom(ev.cost_per_month, budget)})
    return rows


def cheaper_rejected(result: PlanResult) -> list[tuple[Evaluation, float]]:
    """Rejected layouts whose cost at min_replicas is below the chosen plan's, cheapest first."""
    from gpuforge.sizing.planner import HOURS_PER_MONTH, _cost_floor

    out = []
    for ev in result.rejected:
        floor = _cost_floor(result.spec, ev.candidate) * HOURS_PER_MONTH
        if math.isfinite(floor) and floor < result.chosen.cost_per_month - 0.005:
            out.append((ev, floor))
    out.sort(key=lambda t: (t[1], t[0].candidate.describe()))
    return out


_KIND_WORDS = {
    "ttft": "TTFT p95 (sla.ttft_p95_ms)",
    "itl": "ITL p95 (sla.itl_p95_ms)",
    "memory": "GPU memory (weights + KV cache for the planned concurrency)",
    "budget": "budget (budget.max_monthly_usd)",
    "fabric": "the node fabric (EFA / InfiniBand for multi-node replicas)",
    "engine": "vLLM's layout and precision rules",
    "capacity": "the capacity type (target.capacity_type)",
    "price": "price (no catalog price in the region)",
    "availability": "sla.min_replicas",
}


def binding_constraint(result: PlanResult) -> str:
    """What stops a cheaper plan: the constraint most cheaper layouts fail, with the cheapest one."""
    cheaper = cheaper_rejected(result)
    if not cheaper:
        rows = [r for r in margins(result) if "headroom" in r["margin"] or "spare" in r["margin"]]
        tight = min(rows, key=lambda r: float(r["margin"].split("%")[0])) if rows else None
        return (
            f"none: no cheaper layout was rejected, so the cost is set by the cheapest priced layout that holds "
            f"sla.min_replicas={result.spec.sla.min_replicas}"
            + (f"; the tightest margin is {tight['name']} ({tight['margin']})" if tight else "")
            + "."
        )
    counts: dict[str, int] = {}
    cheapest: dict[str, float] = {}
    for ev, floor in cheaper:
        for k in _real_kinds(result, ev, floor):
            counts[k] = counts.get(k, 0) + 1
            cheapest.setdefault(k, floor)  # `cheaper` is sorted by floor
    # the constraint most cheaper layouts fail; on a tie, the one that stops the cheapest layout
    kind = max(sorted(counts), key=lambda k: (counts[k], -cheapest[k]))
    first, floor = next((ev, f) for ev, f in cheaper if kind in _real_kinds(result, ev, f))
    reason = next((r for r in first.reasons if _reason_kind(r) == kind), first.reasons[0])
    text = (
        f"**{_KIND_WORDS.get(kind, kind)}**: {counts[kind]} of the {len(cheaper)} cheaper layouts fail it; "
        f"the cheapest, {_layout(first)} (from ${floor:,.0f}/month): {reason}."
    )
    near, near_floor = cheaper[-1]
    if near is not first:
        why = _real_reasons(result, near, near_floor)
        text += f" The nearest cheaper layout, {_layout(near)} (from ${near_floor:,.0f}/month), fails: {'; '.join(why[:2])}."
    return text


def _real_kinds(result: PlanResult, ev: Evaluation, floor: float) -> set[str]:
    """The kinds a rejected layout fails for itself: a rejected layout is evaluated at the most
    replicas tried, so a budget overrun there says nothing when its cost at min_replicas fits."""
    budget = result.spec.budget.max_monthly_usd
    if "budget" in ev.kinds and (budget is None or floor <= budget):
        return ev.kinds - {"budget"}
    return set(ev.kinds)


def _real_reasons(result: PlanResult, ev: Evaluation, floor: float) -> list[str]:
    keep = _real_kinds(result, ev, floor)
    return [r for r in ev.reasons if _reason_kind(r) != "budget" or "budget" in keep]


def _reason_kind(reason: str) -> str:
    r = reason.lower()
    for key, word in (("ttft", "ttft"), ("itl", "itl"), ("memory", "memory"), ("budget", "> budget"), ("price", "no price")):
        if word in r:
            return key
    return ""


# --- charts --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChartPoint:
    letter: str  # A is the chosen plan
    evaluation: Evaluation
    status: str  # chosen | feasible | rejected
    cost_per_month: float
    ttft_p95_ms: float
    itl_p95_ms: float


def chart_points(result: PlanResult, max_rejected: int = 4) -> list[ChartPoint]:
    """The chosen plan (A), the runners-up and up to `max_rejected` cheaper failing layouts."""
    evs: list[tuple[Evaluation, str]] = [(result.chosen, "chosen")] + [(a, "feasible") for a in result.alternatives]
    n = 0
    for ev, _ in cheaper_rejected(result):
        perf = ev.performance
        if perf is None or not (math.isfinite(perf.ttft_p95_ms) and math.isfinite(perf.itl_p95_ms)):
            continue  # out of memory or overloaded: nothing to plot
        evs.append((ev, "rejected"))
        n += 1
        if n >= max_rejected:
            break
    points = []
    for i, (ev, status) in enumerate(evs):
        perf = ev.performance
        assert perf is not None
        letter = chr(ord("A") + i) if i < 26 else f"Z{i}"
        points.append(ChartPoint(letter, ev, status, ev.cost_per_month, perf.ttft_p95_ms, perf.itl_p95_ms))
    return points


def _k(usd: float) -> str:
    return f"${usd / 1000:,.1f}k" if usd >= 1000 else f"${usd:,.0f}"


def mermaid_charts(result: PlanResult, points: list[ChartPoint] | None = None) -> str:
    """Two Mermaid xycharts (GitHub renders them): TTFT p95 and ITL p95 of each candidate, in
    order of monthly cost (the x labels carry the letter, the cost and whether it was chosen or
    rejected), with the SLA limit as a line."""
    pts = sorted(points or chart_points(result), key=lambda p: (p.cost_per_month, p.letter))
    labels = ", ".join(
        '"' + f"{p.letter}{' chosen' if p.status == 'chosen' else ' rejected' if p.status == 'rejected' else ''} {_k(p.cost_per_month)}" + '"'
        for p in pts
    )
    out = []
    for metric, attr, limit, digits in (
        ("TTFT p95", "ttft_p95_ms", result.spec.sla.ttft_p95_ms, 0),
        ("ITL p95", "itl_p95_ms", result.spec.sla.itl_limit_ms(), 1),
    ):
        values = [getattr(p, attr) for p in pts]
        top = max(values + [limit]) * 1.1
        out.append(
            "```mermaid\nxychart-beta\n"
            f'    title "{metric} of each candidate by monthly cost (line: SLA {limit:,.{digits}f} ms)"\n'
            f'    x-axis "candidate and monthly cost (USD)" [{labels}]\n'
            f'    y-axis "{metric} (ms)" 0 --> {top:.{digits}f}\n'
            f"    bar [{', '.join(f'{v:.{digits}f}' for v in values)}]\n"
            f"    line [{', '.join(f'{limit:.{digits}f}' for _ in values)}]\n"
            "```\n"
        )
    return "\n".join(out)


def _nice_ticks(top: float, n: int = 5) -> list[float]:
    raw = top / n
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [i * step for i in range(0, int(top / step) + 2)]


def chart_svg(result: PlanResult) -> str | None:
    """An SVG scatter (no dependencies): monthly cost against TTFT p95 and ITL p95 of each
    candidate, the chosen one marked, the SLA limit dashed. None when there is only one point."""
    pts = chart_points(result)
    if len(pts) < 2:
        return None
    from xml.sax.saxutils import escape

    W, H, L, R, T, B = 460, 320, 70, 20, 40, 50
    panels = []
    for i, (metric, attr, limit) in enumerate((("TTFT p95", "ttft_p95_ms", result.spec.sla.ttft_p95_ms), ("ITL p95", "itl_p95_ms", result.spec.sla.itl_limit_ms()))):
        xt = _nice_ticks(max(p.cost_per_month for p in pts) * 1.05)
        yt = _nice_ticks(max([getattr(p, attr) for p in pts] + [limit]) * 1.05)
        xmax, ymax = xt[-1], yt[-1]

        def X(v: float, xmax: float = xmax) -> float:
            return L + (W - L - R) * v / xmax

        def Y(v: float, ymax: float = ymax) -> float:
            return H - B - (H - T - B) * v / ymax

        g = [f'<g transform="translate({i * W},0)">']
        g.append(f'<text x="{W / 2}" y="20" text-anchor="middle" font-weight="bold">{escape(metric)} vs monthly cost</text>')
        g.append(f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/><line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>')
        for v in xt:
            g.append(f'<line x1="{X(v):.1f}" y1="{H - B}" x2="{X(v):.1f}" y2="{H - B + 4}" stroke="black"/>')
            g.append(f'<text x="{X(v):.1f}" y="{H - B + 16}" text-anchor="middle" font-size="10">{escape(_k(v))}</text>')
        for v in yt:
            g.append(f'<line x1="{L - 4}" y1="{Y(v):.1f}" x2="{L}" y2="{Y(v):.1f}" stroke="black"/>')
            g.append(f'<text x="{L - 6}" y="{Y(v) + 3:.1f}" text-anchor="end" font-size="10">{v:,g}</text>')
        g.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle" font-size="11">monthly cost (USD)</text>')
        g.append(f'<text x="14" y="{(T + H - B) / 2}" text-anchor="middle" font-size="11" transform="rotate(-90 14 {(T + H - B) / 2})">{escape(metric)} (ms)</text>')
        g.append(f'<line x1="{L}" y1="{Y(limit):.1f}" x2="{W - R}" y2="{Y(limit):.1f}" stroke="#c00" stroke-dasharray="5,4"/>')
        g.append(f'<text x="{W - R}" y="{Y(limit) - 4:.1f}" text-anchor="end" font-size="10" fill="#c00">SLA {limit:,g} ms</text>')
        for p in pts:
            x, y = X(p.cost_per_month), Y(getattr(p, attr))
            if p.status == "chosen":
                g.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7" fill="#0a7d28" stroke="black"><title>{escape(p.letter)} chosen: {escape(p.evaluation.candidate.describe())}</title></circle>')
            elif p.status == "feasible":
                g.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="#3b6fd8"><title>{escape(p.letter)}: {escape(p.evaluation.candidate.describe())}</title></circle>')
            else:
                g.append(f'<path d="M{x - 5:.1f},{y - 5:.1f} L{x + 5:.1f},{y + 5:.1f} M{x - 5:.1f},{y + 5:.1f} L{x + 5:.1f},{y - 5:.1f}" stroke="#888" stroke-width="2"><title>{escape(p.letter)} rejected: {escape(p.evaluation.candidate.describe())}</title></path>')
            g.append(f'<text x="{x + 8:.1f}" y="{y - 6:.1f}" font-size="11">{escape(p.letter)}</text>')
        g.append("</g>")
        panels.append("\n".join(g))
    height = H + 20 + 14 * len(pts)
    lines = [f'<text x="10" y="{H + 16 + 14 * i}" font-size="11">{escape(item)}</text>' for i, item in enumerate(legend_items(pts))]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{height}" viewBox="0 0 {2 * W} {height}" font-family="sans-serif">\n'
        f'<title>gpuforge sizing: {escape(result.spec.name)}</title>\n<rect width="100%" height="100%" fill="white"/>\n'
        + "\n".join(panels) + "\n" + "\n".join(lines) + "\n</svg>\n"
    )


def legend_items(pts: list[ChartPoint]) -> list[str]:
    return [
        f"{p.letter}{' (chosen)' if p.status == 'chosen' else ' (rejected)' if p.status == 'rejected' else ''}: "
        f"{_layout(p.evaluation)} x{p.evaluation.candidate.replicas} replica(s), ${p.cost_per_month:,.0f}/month"
        for p in pts
    ]


def infeasible_markdown(subject: str, error: Exception, raw: Any = None) -> str:
    """The PR comment when a stack has no feasible plan: every problem with its fix."""
    out = io.StringIO()
    w = out.write
    w(f"### gpuforge sizing: `{subject}`: no plan fits\n\n")
    problems = getattr(error, "problems", None)
    if not problems:
        w(f"```\n{error}\n```\n")
        return out.getvalue()
    w(f"{getattr(error, 'subject', subject)}: {len(problems)} problem(s). This check fails until one of the fixes is applied.\n\n")
    w("| where | why | to fix |\n|---|---|---|\n")
    for p in problems:
        w(f"| `{p.path}` | {_cell(p.reason)} | {_cell(p.fix)} |\n")
    return out.getvalue()


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def price_markdown(s: dict[str, Any]) -> str:
    """The price basis of a plan: region, capacity type, $/h, date and source of each price used."""
    out = io.StringIO()
    w = out.write
    w("| region | capacity type | nodes | $/h per node | price date | source |\n|---|---|---|---|---|---|\n")
    base = s.get("on_demand_base")
    ct = s.get("capacity_type") or "on-demand"
    if base:
        w(
            f"| {s['region']} | on-demand (kept for sla.min_replicas) | {base['nodes']} | {base['price_usd_per_hour']:,.4g} | "
            f"{(base['price_date'] or '')[:10]} | {base['price_source']} |\n"
        )
    unit = s.get("price_usd_per_hour")
    nodes = s["nodes"] - (base["nodes"] if base else 0)
    source = f"[{s.get('price_source')}]({s['price_source_url']})" if s.get("price_source_url") else (s.get("price_source") or "n/a")
    w(f"| {s['region']} | {ct} | {nodes} | {f'{unit:,.4g}' if unit is not None else 'n/a'} | {(s.get('price_date') or '')[:10]} | {source} |\n\n")
    if s.get("price_source_note"):
        w(f"Price date: {s['price_source_note']}\n\n")
    it = s.get("interruption")
    if it:
        w(
            f"Spot interruption: the cloud gives {it['notice_s']} s of notice; a reclaimed node takes "
            f"{it['replicas_lost_per_reclaimed_node']} replica(s) with it ({it['replicas_on_spot']} of {s['replicas']} replicas run on "
            f"{it['spot_nodes']} spot node(s), {it['replicas_on_demand']} on on-demand). Time to replace: {it['time_to_replace']}. "
            f"Interruption frequency: {it.get('frequency') or 'unknown'}.\n\n"
        )
    return out.getvalue()


def table(result: PlanResult) -> str:
    from rich.console import Console
    from rich.table import Table

    s = summary(result.chosen, result.model, result.spec)
    console = Console(file=io.StringIO(), width=140, force_terminal=False)
    t = Table(title=f"{result.spec.name}: {_where(result)}")
    for col in ("", "instance", "layout", "replicas", "$/month", "TTFT p95", "ITL p95", "tok/s", "note"):
        t.add_column(col)
    rows = [result.chosen] + result.alternatives
    for i, e in enumerate(rows):
        c, p = e.candidate, _perf(e)
        t.add_row(
            "chosen" if i == 0 else "",
            f"{c.nodes} x {c.instance.name} ({c.cloud} {c.region})",
            f"TP{c.tensor_parallel} PP{c.pipeline_parallel} {c.precision} kv={e.kv_label}",
            str(c.replicas),
            f"{e.cost_per_month:,.0f}",
            f"{p.ttft_p95_ms:,.0f} ms",
            f"{p.itl_p95_ms:,.1f} ms",
            f"{p.output_tokens_per_s * c.replicas:,.0f}",
            "" if i == 0 else why_lost(e, result.chosen),
        )
    console.print(t)
    console.print(
        f"{s.get('capacity_type') or 'on-demand'} price of {(s['price_date'] or '')[:10]} in {s['price_region']} "
        f"({s.get('price_source') or 'n/a'}); {len(result.rejected)} layouts rejected; {result.considered} considered"
    )
    return console.file.getvalue()  # type: ignore[attr-defined]
