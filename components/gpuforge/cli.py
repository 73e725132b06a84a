"""`gpuforge` command line: estimate, plan, preview, schema, catalog.

Imports are lazy per sub-command so that `gpuforge estimate` never loads Pulumi or a cloud SDK.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def _estimate(args: argparse.Namespace) -> int:
    from gpuforge import catalog
    from gpuforge.errors import SpecError
    from gpuforge.sizing.memory import MemoryInputs, estimate_memory
    from gpuforge.sizing.models import resolve

    try:
        # a repo id outside the catalog is read from the Hub (token: HF_TOKEN), then cached
        model = resolve(args.model, revision=args.revision, refresh=args.refresh_hub)
        gpu = catalog.get_gpu(args.gpu)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    except SpecError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    quant = args.quantization
    if quant == "none" and model.checkpoint_precision not in ("bf16", "fp16"):
        quant = model.checkpoint_precision  # a quantized checkpoint loads as it ships
    inputs = MemoryInputs(
        tensor_parallel=args.tp,
        pipeline_parallel=args.pp,
        max_model_len=args.max_model_len,
        gpu_memory_utilization=args.gpu_memory_utilization,
        dtype=args.dtype,
        quantization=quant,
        kv_cache_dtype=args.kv_cache_dtype,
        block_size=args.block_size,
        max_num_seqs=args.max_num_seqs,
        max_num_batched_tokens=args.max_num_batched_tokens,
    )
    est = estimate_memory(model.arch, gpu, inputs)
    out: dict[str, Any] = {"model": model.key, "hf_id": model.hf_id, "tensor_parallel": args.tp, "pipeline_parallel": args.pp}
    if model.hub is not None:
        # read from the Hub (or its cache): the commit sized and the bytes vLLM downloads
        out.update(revision=model.revision, download_bytes=model.download_bytes, hub_source=model.hub.source)
    out.update(est.to_dict())
    if args.input_tokens or args.output_tokens or args.concurrency or args.request_rate:
        from gpuforge.sizing.performance import Layout, Workload, predict

        layout = Layout(gpu=gpu, tensor_parallel=args.tp, pipeline_parallel=args.pp, quantization=quant, kv_cache_dtype=args.kv_cache_dtype, dtype=args.dtype)
        workload = Workload(
            input_tokens=args.input_tokens or 1024,
            output_tokens=args.output_tokens or 256,
            concurrency=args.concurrency,
            request_rate=args.request_rate,
        )
        perf = predict(model, layout, workload, est)
        out.update(perf.to_dict())
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(_format_estimate(out))
    return 0


def _format_estimate(e: dict[str, Any]) -> str:
    lines = [
        f"{e['model']} on {e['gpu']} x{e['tensor_parallel'] * e['pipeline_parallel']} "
        f"(TP={e['tensor_parallel']}, PP={e['pipeline_parallel']}), vLLM {e['vllm_version']}",
        f"  GPU memory (torch total)      {e['total_gpu_memory_gib']:9.2f} GiB",
        f"  requested (x utilisation)     {e['requested_memory_gib']:9.2f} GiB",
        f"  weights per GPU               {e['weights_gib']:9.2f} GiB   (whole checkpoint {e['weights_gib_total']:.2f} GiB)",
        f"  activation peak (profile run) {e['activation_peak_gib']:9.2f} GiB   (max_num_batched_tokens={e['max_num_batched_tokens']}, max_num_seqs={e['max_num_seqs']})",
        f"  non-torch (NCCL, cuBLAS)      {e['non_torch_gib']:9.2f} GiB",
        f"  KV cache                      {e['kv_cache_gib']:9.2f} GiB   ({e['kv_bytes_per_token']} B/token/GPU, {e['kv_cache_groups']} KV group(s))",
        f"  KV blocks x {e['block_size']} tokens         {e['num_gpu_blocks']:9d}",
        f"  KV cache tokens               {e['kv_cache_tokens']:9d}",
        f"  max concurrency @ {e['max_model_len']} tokens {e['max_concurrency']:9.2f}",
        f"  fits                          {'yes' if e['fits'] else 'NO'}",
    ]
    for p in e.get("problems", []):
        lines.append(f"  problem: {p}")
    for f in e.get("fixes", []):
        lines.append(f"  to fix: {f}")
    if "ttft_ms" in e:
        lines += [
            f"  TTFT (mean / p95)             {e['ttft_ms']:9.1f} / {e['ttft_p95_ms']:.1f} ms",
            f"  ITL (mean / p95)              {e['itl_ms']:9.2f} / {e['itl_p95_ms']:.2f} ms",
            f"  output tokens/s (replica)     {e['output_tokens_per_s']:9.1f}",
            f"  requests/s (replica)          {e['requests_per_s']:9.2f}",
        ]
    return "\n".join(lines)


def _schema(args: argparse.Namespace) -> int:
    from gpuforge.spec import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def _catalog(args: argparse.Namespace) -> int:
    from gpuforge import catalog

    if args.what == "models":
        rows: list[tuple[str, ...]] = [(m.id, m.hf_id, f"{m.params_total / 1e9:.1f}B", f"{m.params_active / 1e9:.1f}B") for m in catalog.all_models()]
    elif args.what == "gpus":
        rows = [(g.id, g.name, f"{g.memory_gib:.2f} GiB", f"{g.memory_bandwidth_gbs:.0f} GB/s") for g in catalog.all_gpus()]
    elif args.what == "regions":
        rows = [(r.cloud, r.name, " ".join(r.zones)) for r in catalog.all_regions()]
    else:
        rows = []
        for i in catalog.all_instances():
            price = i.prices[0] if i.prices else None
            rows.append((i.cloud, i.name, f"{i.gpu_count}x {i.gpu}", i.node_fabric, f"${price.usd_per_hour:.2f}/h {price.region} ({price.as_of[:10]})" if price else "no price"))
    for r in rows:
        print("  ".join(str(c) for c in r))
    return 0


def _plan(args: argparse.Namespace) -> int:
    from gpuforge.errors import SpecError
    from gpuforge.report import render_plans
    from gpuforge.sizing.planner import NoFeasiblePlan, plan_deployment
    from gpuforge.spec import load_stack, read_spec_file

    try:
        specs = load_stack(read_spec_file(args.spec))
        # repos outside the catalog are read from the Hub with HF_TOKEN (huggingface_hub's look-up)
        results = [plan_deployment(s, alternatives=args.alternatives, refresh_hub=args.refresh_hub) for s in specs]
    except (SpecError, NoFeasiblePlan) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(render_plans(results, args.format))
    return 0


def _preview(args: argparse.Namespace) -> int:
    from gpuforge.preview import run_preview

    return run_preview(args.stack, args.out, stacks_dir=args.stacks_dir, crds_dir=args.crds_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpuforge", description="Size, provision, serve and watch LLM inference on AWS or Azure.")
    sub = parser.add_subparsers(dest="command", required=True)

    e = sub.add_parser("estimate", help="per-GPU memory (and latency) of one vLLM layout")
    e.add_argument("--model", required=True, help="catalog id, Hugging Face repo id (read from the Hub, then cached), or path to a config.json")
    e.add_argument("--revision", default=None, help="branch, tag or commit of a Hugging Face repo (default: main)")
    e.add_argument("--refresh-hub", action="store_true", help="read a Hugging Face repo again instead of the cached copy")
    e.add_argument("--gpu", required=True, help="catalog GPU id (t4, l4, a10g, l40s, a100-80gb, h100-80gb, h200, ...)")
    e.add_argument("--tp", type=int, default=1)
    e.add_argument("--pp", type=int, default=1)
    e.add_argument("--max-model-len", type=int)
    e.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    e.add_argument("--dtype", choices=["auto", "bfloat16", "float16", "float32"], default="auto")
    e.add_argument("--quantization", choices=["none", "fp8", "int8", "int4-awq", "int4-gptq", "mxfp4"], default="none")
    e.add_argument("--kv-cache-dtype", choices=["auto", "fp8"], default="auto")
    e.add_argument("--block-size", type=int, default=None)
    e.add_argument("--max-num-seqs", type=int, default=None)
    e.add_argument("--max-num-batched-tokens", type=int, default=None)
    e.add_argument("--input-tokens", type=int)
    e.add_argument("--output-tokens", type=int)
    e.add_argument("--concurrency", type=int)
    e.add_argument("--request-rate", type=float)
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=_estimate)

    p = sub.add_parser("plan", help="the cheapest plan that meets the SLA")
    p.add_argument("spec", help="stacks/Pulumi.<stack>.yaml or a plain YAML spec")
    p.add_argument("--format", choices=["table", "markdown", "json"], default="table")
    p.add_argument("--alternatives", default="5", help="how many feasible alternatives to list, or 'all'")
    p.add_argument("--refresh-hub", action="store_true", help="read models that are not in the catalog from the Hub again instead of the cache")
    p.set_defaults(func=_plan)

    v = sub.add_parser("preview", help="run the Pulumi program offline under mocks")
    v.add_argument("--stack", required=True)
    v.add_argument("--out", default=None, help="write manifests, plan.json and resources.json here")
    v.add_argument("--stacks-dir", default="stacks")
    v.add_argument("--crds-dir", default=None, help="CRDs to validate custom resources against (default: ../shared/crds or $GPUFORGE_CRDS_DIR)")
    v.set_defaults(func=_preview)

    s = sub.add_parser("schema", help="JSON Schema of the deployment spec")
    s.set_defaults(func=_schema)

    c = sub.add_parser("catalog", help="list catalog rows")
    c.add_argument("what", choices=["models", "gpus", "instances", "regions"])
    c.set_defaults(func=_catalog)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
