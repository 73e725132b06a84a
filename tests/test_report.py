"""The sizing review a pull request gets: decision, margins, runners-up, binding constraint, the
Mermaid xycharts and the SVG, and what an infeasible plan says (the amount a budget needs and
the cheapest change that fits, each checked by re-planning)."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from gpuforge import catalog
from gpuforge.cli import main
from gpuforge.report import (
    chart_points,
    chart_svg,
    cheaper_rejected,
    margins,
    markdown,
    mermaid_charts,
)
from gpuforge.sizing.planner import NoFeasiblePlan, plan_deployment
from gpuforge.spec import load_spec, load_stack, read_spec_file

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def chat():
    # served at 8k: at the model's native 128k context every cheaper GPU fails on memory
    # before latency, and the chart has no rejected point with a prediction to plot
    raw = read_spec_file(REPO / "stacks" / "Pulumi.aws-chat-small.yaml")
    raw["workload"]["max_model_len"] = 8192
    return plan_deployment(load_stack(raw)[0])


def _xycharts(md: str) -> list[dict]:
    """Parse the xychart-beta blocks of a Markdown text into their parts."""
    charts = []
    for block in re.findall(r"```mermaid\n(.*?)```", md, re.S):
        lines = [line.strip() for line in block.strip().splitlines()]
        if lines[0] != "xychart-beta":
            continue
        part = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in lines[1:]}
        m = re.fullmatch(r'"([^"]+)" \[(.*)\]', part["x-axis"])
        assert m, part["x-axis"]
        labels = re.findall(r'"([^"]+)"', m.group(2))
        y = re.fullmatch(r'"([^"]+)" ([\d.]+) --> ([\d.]+)', part["y-axis"])
        assert y, part["y-axis"]
        charts.append(
            {
                "title": part["title"],
                "x_title": m.group(1),
                "labels": labels,
                "y_title": y.group(1),
                "y_range": (float(y.group(2)), float(y.group(3))),
                "bar": [float(v) for v in part["bar"].strip("[]").split(",")],
                "line": [float(v) for v in part["line"].strip("[]").split(",")],
            }
        )
    return charts


def test_markdown_chart_has_labelled_axes_unique_labels_and_the_chosen_plan(chat):
    md = markdown(chat)
    charts = _xycharts(md)
    assert [c["y_title"] for c in charts] == ["TTFT p95 (ms)", "ITL p95 (ms)"]
    pts = sorted(chart_points(chat), key=lambda p: (p.cost_per_month, p.letter))
    assert len(pts) >= 3  # chosen, runners-up, cheaper rejected layouts
    for chart, attr, limit, rounding in ((charts[0], "ttft_p95_ms", chat.spec.sla.ttft_p95_ms, 0.5), (charts[1], "itl_p95_ms", chat.spec.sla.itl_limit_ms(), 0.05)):
        assert "cost" in chart["x_title"]
        assert len(chart["labels"]) == len(set(chart["labels"])) == len(chart["bar"]) == len(pts)
        # each bar is that candidate's prediction, in order of monthly cost
        for label, value, p in zip(chart["labels"], chart["bar"], pts, strict=True):
            assert label.startswith(p.letter + " ")
            assert value == pytest.approx(getattr(p, attr), abs=rounding + 1e-9)
            assert f"${p.cost_per_month / 1000:,.1f}k" in label or f"${p.cost_per_month:,.0f}" in label
        assert chart["line"] == [pytest.approx(limit)] * len(pts)
        lo, hi = chart["y_range"]
        assert lo == 0 and hi >= max(chart["bar"] + [limit])
        chosen = [label for label in chart["labels"] if "chosen" in label]
        assert len(chosen) == 1 and chosen[0].startswith("A ")
    # rejected points fail the SLA they are plotted against, or another constraint
    rejected = [p for p in pts if p.status == "rejected"]
    assert rejected and all(p.evaluation.reasons for p in rejected)


def test_markdown_states_decision_margins_cost_and_why_runners_up_lost(chat):
    md = markdown(chat)
    ev = chat.chosen
    assert f"${ev.cost_per_month:,.0f}/month" in md
    assert "per million output tokens" in md
    rows = {r["name"]: r for r in margins(chat)}
    want = (chat.spec.sla.ttft_p95_ms - ev.performance.ttft_p95_ms) / chat.spec.sla.ttft_p95_ms * 100
    assert rows["TTFT p95"]["margin"] == f"{want:.0f}% headroom"
    assert f"| TTFT p95 | {rows['TTFT p95']['value']} |" in md
    for a in chat.alternatives:
        assert a.candidate.describe() in md
    # the binding constraint names a failure of a cheaper layout, with its cost
    binding = md.split("**Binding constraint:**")[1].split("\n")[0]
    cheaper = cheaper_rejected(chat)
    assert cheaper and any(ev.candidate.instance.name in binding for ev, _ in cheaper)
    assert f"${cheaper[0][1]:,.0f}/month" in binding or f"${cheaper[-1][1]:,.0f}/month" in binding


def test_svg_marks_the_chosen_plan_and_labels_both_axes(chat):
    svg = chart_svg(chat)
    root = ET.fromstring(svg)
    ns = {"s": "http://www.w3.org/2000/svg"}
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert texts.count("monthly cost (USD)") == 2
    assert "TTFT p95 (ms)" in texts and "ITL p95 (ms)" in texts
    assert any(t and t.startswith("SLA 2,000 ms") for t in texts)
    chosen = [c for c in root.findall(".//s:circle", ns) if "chosen" in (c.findtext("s:title", namespaces=ns) or "")]
    assert len(chosen) == 2  # one per panel
    assert chat.chosen.candidate.describe() in chosen[0].findtext("s:title", namespaces=ns)


def test_preview_writes_the_svg(tmp_path):
    from gpuforge.preview import run_preview

    assert run_preview("aws-chat-small", str(tmp_path), stacks_dir=str(REPO / "stacks")) == 0
    assert (tmp_path / "plan-chat-small.svg").read_text().startswith("<svg")
    assert "xychart-beta" in (tmp_path / "plan.md").read_text()


# --- infeasible plans -------------------------------------------------------------------------------
def _spec(**over):
    raw = {
        "name": "tight",
        "model": {"id": "llama-3.3-70b-instruct"},
        "workload": {"input_tokens": 1500, "output_tokens": 300, "max_model_len": 8192, "peak_concurrency": 32},
        "sla": {"ttft_p95_ms": 1500, "itl_p95_ms": 40, "min_replicas": 2},
        # Azure: single- and dual-GPU H100 VMs let fp8 weights buy a smaller layout (AWS sells
        # 70B-class GPUs only in 8-GPU nodes, where fp8 saves nothing at this load)
        "target": {"cloud": "azure", "region": "eastus", "max_nodes_per_replica": 1},
    }
    for key, value in over.items():
        raw[key] = {**raw.get(key, {}), **value}
    return load_spec(raw)


def test_budget_error_states_the_amount_needed_and_the_cheapest_change_that_fits():
    bf16 = plan_deployment(_spec()).chosen.cost_per_month
    fp8 = plan_deployment(_spec(model={"precision": ["bf16", "fp8"]})).chosen.cost_per_month
    assert fp8 < bf16, "precondition: fp8 weights give a cheaper plan for a 70B model"
    budget = (fp8 + bf16) / 2
    with pytest.raises(NoFeasiblePlan) as err:
        plan_deployment(_spec(budget={"max_monthly_usd": budget}))
    problems = err.value.problems
    need = next(p for p in problems if p.path == "budget.max_monthly_usd" and "cheapest plan that meets the SLA" in p.reason)
    assert f"${bf16:,.0f}/month" in need.reason and f"at least {math.ceil(bf16)}" in need.fix
    fits = [p for p in problems if p.reason.startswith("would fit")]
    assert fits, problems
    costs = [float(re.search(r"at \$([\d,]+)/month", p.reason).group(1).replace(",", "")) for p in fits]
    assert costs == sorted(costs) and all(c <= budget for c in costs)
    precision = next(p for p in fits if p.path == "model.precision")
    assert f"${fp8:,.0f}/month" in precision.reason and "fp8" in precision.fix
    # every suggested layout is priced in its region (never an unpriced "closest")
    for p in fits:
        m = re.match(r"would fit: (\w+) (\S+) (?:\d+ nodes x )?(\S+) ", p.reason)
        inst = catalog.get_instance(m.group(3))
        assert inst.price(m.group(2)) is not None, p


def test_latency_fit_is_checked_by_replanning():
    # a TTFT no layout reaches: the suggestion is the value the cheapest plan reaches, and a
    # spec with exactly that value plans
    with pytest.raises(NoFeasiblePlan) as err:
        plan_deployment(_spec(sla={"ttft_p95_ms": 5}, model={"precision": ["bf16", "fp8"], "kv_cache_dtype": ["auto", "fp8"]}))
    ttft = next(p for p in err.value.problems if p.path == "sla.ttft_p95_ms" and p.reason.startswith("would fit"))
    value = float(re.search(r"sla.ttft_p95_ms: ([\d.]+)", ttft.fix).group(1))
    ok = plan_deployment(_spec(sla={"ttft_p95_ms": value}, model={"precision": ["bf16", "fp8"], "kv_cache_dtype": ["auto", "fp8"]}))
    assert ok.chosen.performance.ttft_p95_ms <= value
    assert f"${ok.chosen.cost_per_month:,.0f}/month" in ttft.reason


def test_cli_markdown_of_an_infeasible_plan_explains_and_fails(tmp_path, capsys):
    spec = yaml.safe_load((REPO / "stacks" / "Pulumi.aws-chat-small.yaml").read_text())
    spec["config"]["gpuforge:deployment"]["budget"]["max_monthly_usd"] = 100
    path = tmp_path / "Pulumi.too-cheap.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["plan", str(path), "--format", "markdown"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("### gpuforge sizing: `too-cheap`: no plan fits")
    assert "| `budget.max_monthly_usd` |" in out and "cheapest plan that meets the SLA costs $" in out


def test_mermaid_needs_no_points_argument(chat):
    assert mermaid_charts(chat) == mermaid_charts(chat, chart_points(chat))
