"""Render plans: JSON for machines, Markdown for pull requests, a rich table for terminals."""

from __future__ import annotations

import io
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
        "chosen": summary(result.chosen, result.model),
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
    out = summary(a, result.model)
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
    """The sizing review posted on a pull request."""
    s = summary(result.chosen, result.model)
    spec = result.spec
    p, m = s["predicted"], s["memory"]
    out = io.StringIO()
    w = out.write
    w(f"### gpuforge sizing: `{spec.name}` ({_where(result)})\n\n")
    w(
        f"**{s['nodes']} x {s['instance_type']}** ({s['cloud']} {s['region']}, {s.get('capacity_type') or 'on-demand'}), "
        f"TP={s['tensor_parallel']} x PP={s['pipeline_parallel']}, {s['replicas']} replica(s), "
        f"{s['precision']} weights, KV {s['kv_cache_dtype']}: **${s['cost_per_month']:,.0f}/month** "
        f"(${s['cost_per_hour']:,.2f}/h)\n\n"
    )
    w(price_markdown(s))
    w("| | predicted | SLA |\n|---|---|---|\n")
    w(f"| TTFT p95 | {p['ttft_p95_ms']:,.0f} ms | {spec.sla.ttft_p95_ms:,.0f} ms |\n")
    w(f"| ITL p95 | {p['itl_p95_ms']:,.1f} ms | {spec.sla.itl_limit_ms():,.1f} ms |\n")
    w(f"| output tokens/s (all replicas, peak) | {p['output_tokens_per_s']:,.0f} | |\n")
    w(f"| min replicas | {s['replicas']} | {spec.sla.min_replicas} |\n")
    cpm = s["cost_per_million_tokens"]
    w(f"| cost per million output tokens | {f'${cpm:.2f}' if cpm else 'n/a'} | |\n\n")
    w(
        f"Memory per GPU: weights {m['weights_gib_per_gpu']:.1f} GiB, KV cache {m['kv_cache_gib_per_gpu']:.1f} GiB "
        f"({m['kv_cache_tokens']:,} tokens; {m['max_concurrency_at_max_model_len']:.1f} requests at max_model_len "
        f"{s['max_model_len']}) of {m['gpu_memory_gib']:.2f} GiB. Engine: max_num_seqs={s['max_num_seqs']}, "
        f"quantization={s['quantization'] or 'from checkpoint / none'}.\n\n"
    )
    for n in s["notes"]:
        w(f"> note: {n}\n")
    if result.alternatives:
        w("\n| alternative | $/month | TTFT p95 | ITL p95 | why not |\n|---|---|---|---|---|\n")
        for a in result.alternatives:
            pa = _perf(a)
            w(
                f"| {a.candidate.describe()} | {a.cost_per_month:,.0f} | {pa.ttft_p95_ms:,.0f} ms | "
                f"{pa.itl_p95_ms:,.1f} ms | {why_lost(a, result.chosen)} |\n"
            )
        w("\n```mermaid\nquadrantChart\n")
        w("    title Monthly cost vs predicted TTFT p95 (cheapest candidates)\n")
        w("    x-axis Cheaper --> Costlier\n    y-axis Faster --> Slower\n")
        pts = [result.chosen] + result.alternatives
        cmax = max(e.cost_per_month for e in pts) or 1
        tmax = max(_perf(e).ttft_p95_ms for e in pts) or 1
        for i, e in enumerate(pts):
            label = ("CHOSEN " if i == 0 else "") + _line(e) + f" TP{e.candidate.tensor_parallel}"
            label = label.replace(".", "_").replace(":", " ")
            w(f"    {label}: [{min(0.99, e.cost_per_month / cmax * 0.95):.3f}, {min(0.99, _perf(e).ttft_p95_ms / tmax * 0.95):.3f}]\n")
        w("```\n")
    if result.rejected:
        w(f"\n<details><summary>{len(result.rejected)} rejected layouts</summary>\n\n")
        for r in result.rejected[:40]:
            w(f"- {r.candidate.describe()}: {'; '.join(r.reasons[:3])}\n")
        w("\n</details>\n")
    return out.getvalue()


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

    s = summary(result.chosen, result.model)
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
            f"TP{c.tensor_parallel} PP{c.pipeline_parallel} {c.precision} kv={c.kv_cache_dtype}",
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
