"""The Grafana dashboard of one model deployment, as a dashboard JSON model (pure data)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_DS = {"type": "prometheus", "uid": "${datasource}"}


@dataclass(frozen=True)
class DashboardInputs:
    """What the dashboard plots; PromQL selectors are label matchers without braces."""

    name: str
    served_model_name: str
    vllm_selector: str  # e.g. namespace="llm", model_name="llama"
    gpu_selector: str  # DCGM series of this deployment's pods
    ready_replicas_expr: str
    ttft_sla_s: float
    itl_sla_s: float
    per_replica_max_concurrency: int
    kv_cache_usage_ratio: float
    cost_per_hour: float  # whole deployment at `planned_replicas`
    planned_replicas: int

    @property
    def cost_per_replica_hour(self) -> float:
        return self.cost_per_hour / self.planned_replicas if self.planned_replicas else 0.0


def _target(expr: str, legend: str, ref: str) -> dict[str, Any]:
    return {"datasource": _DS, "expr": expr, "legendFormat": legend, "refId": ref}


def _thresholds(*steps: tuple[str, float | None]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]}


def _timeseries(
    pid: int,
    title: str,
    targets: list[dict[str, Any]],
    unit: str,
    pos: tuple[int, int, int, int],
    *,
    line_at: float | None = None,
    description: str = "",
) -> dict[str, Any]:
    custom: dict[str, Any] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never"}
    defaults: dict[str, Any] = {"unit": unit, "custom": custom}
    if line_at is not None:
        # The SLA / limit as a red dashed line across the panel.
        custom["thresholdsStyle"] = {"mode": "dashed"}
        defaults["thresholds"] = _thresholds(("transparent", None), ("red", line_at))
    x, y, w, h = pos
    return {
        "id": pid,
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": _DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
        "targets": targets,
    }


def _stat(pid: int, title: str, expr: str, unit: str, pos: tuple[int, int, int, int], description: str) -> dict:
    x, y, w, h = pos
    return {
        "id": pid,
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": _DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit, "decimals": 2}, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
        "targets": [_target(expr, title, "A")],
    }


def _quantiles(metric: str, sel: str) -> list[dict[str, Any]]:
    return [
        _target(
            f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{{{sel}}}[5m])))",
            f"p{int(q * 100)}",
            ref,
        )
        for q, ref in ((0.5, "A"), (0.95, "B"), (0.99, "C"))
    ]


def build_dashboard(d: DashboardInputs) -> dict[str, Any]:
    """A dashboard JSON model for Grafana's dashboard sidecar (datasource chosen by variable)."""
    v, g = d.vllm_selector, d.gpu_selector
    cost_now = f"({d.ready_replicas_expr}) * {d.cost_per_replica_hour:.4f}"
    panels = [
        _stat(
            1,
            "Cost per hour (USD)",
            cost_now,
            "currencyUSD",
            (0, 0, 6, 4),
            f"Ready replicas x ${d.cost_per_replica_hour:.2f}/h per replica (plan: "
            f"${d.cost_per_hour:.2f}/h at {d.planned_replicas} replicas).",
        ),
        _stat(
            2,
            "Cost per 1M output tokens (USD)",
            f"({cost_now}) / (sum(rate(vllm:generation_tokens_total{{{v}}}[1h])) * 3600) * 1e6",
            "currencyUSD",
            (6, 0, 6, 4),
            "Hourly cost divided by the last hour's generated tokens.",
        ),
        _stat(3, "Ready replicas", d.ready_replicas_expr, "none", (12, 0, 6, 4), "Replicas serving traffic."),
        _stat(
            4,
            "Requests in flight",
            f"sum(vllm:num_requests_running{{{v}}}) + sum(vllm:num_requests_waiting{{{v}}})",
            "none",
            (18, 0, 6, 4),
            f"Running + waiting. One replica serves {d.per_replica_max_concurrency} within the SLA.",
        ),
        _timeseries(
            5,
            "Request rate",
            [
                _target(
                    f"sum by (finished_reason) (rate(vllm:request_success_total{{{v}}}[5m]))",
                    "{{finished_reason}}",
                    "A",
                )
            ],
            "reqps",
            (0, 4, 12, 8),
        ),
        _timeseries(
            6,
            "Tokens per second",
            [
                _target(f"sum(rate(vllm:prompt_tokens_total{{{v}}}[5m]))", "prompt", "A"),
                _target(f"sum(rate(vllm:generation_tokens_total{{{v}}}[5m]))", "generation", "B"),
            ],
            "none",
            (12, 4, 12, 8),
        ),
        _timeseries(
            7,
            "Time to first token",
            _quantiles("vllm:time_to_first_token_seconds", v),
            "s",
            (0, 12, 8, 8),
            line_at=d.ttft_sla_s,
            description=f"Dashed line: TTFT p95 SLA ({d.ttft_sla_s * 1000:g} ms).",
        ),
        _timeseries(
            8,
            "Inter-token latency",
            _quantiles("vllm:inter_token_latency_seconds", v),
            "s",
            (8, 12, 8, 8),
            line_at=d.itl_sla_s,
            description=f"Dashed line: ITL p95 SLA ({d.itl_sla_s * 1000:g} ms).",
        ),
        _timeseries(
            9,
            "End-to-end request latency",
            _quantiles("vllm:e2e_request_latency_seconds", v),
            "s",
            (16, 12, 8, 8),
        ),
        _timeseries(
            10,
            "Queue",
            [
                _target(f"sum(vllm:num_requests_running{{{v}}})", "running", "A"),
                _target(f"sum(vllm:num_requests_waiting{{{v}}})", "waiting", "B"),
            ],
            "none",
            (0, 20, 12, 8),
        ),
        _timeseries(
            11,
            "KV-cache usage",
            [_target(f"vllm:kv_cache_usage_perc{{{v}}}", "{{pod}}", "A")],
            "percentunit",
            (12, 20, 12, 8),
            line_at=d.kv_cache_usage_ratio,
        ),
        _timeseries(
            12,
            "GPU utilisation",
            [_target(f"DCGM_FI_DEV_GPU_UTIL{{{g}}}", "{{pod}} gpu {{gpu}}", "A")],
            "percent",
            (0, 28, 8, 8),
        ),
        _timeseries(
            13,
            "GPU memory used",
            [
                _target(
                    f"DCGM_FI_DEV_FB_USED{{{g}}} / (DCGM_FI_DEV_FB_USED{{{g}}} + DCGM_FI_DEV_FB_FREE{{{g}}})",
                    "{{pod}} gpu {{gpu}}",
                    "A",
                )
            ],
            "percentunit",
            (8, 28, 8, 8),
        ),
        _timeseries(
            14,
            "GPU power",
            [_target(f"DCGM_FI_DEV_POWER_USAGE{{{g}}}", "{{pod}} gpu {{gpu}}", "A")],
            "watt",
            (16, 28, 8, 8),
        ),
    ]
    return {
        "uid": f"gpuforge-{d.name}"[:40],
        "title": f"gpuforge / {d.name} ({d.served_model_name})",
        "tags": ["gpuforge", "vllm"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                }
            ]
        },
        "panels": panels,
    }
