"""`gpuforge` command line: estimate, plan, preview, init, schema, catalog.

Imports are lazy per sub-command so that `gpuforge estimate` never loads Pulumi or a cloud SDK.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from gpuforge.errors import Problem, SpecError
from gpuforge.inputs import dumps

# Bounds on `gpuforge estimate`'s numbers (docs/spec.md, "Input limits").
_ESTIMATE_BOUNDS: tuple[tuple[str, float, float], ...] = (
    ("tp", 1, 1024),
    ("pp", 1, 1024),
    ("max_model_len", 1, 1 << 27),
    ("block_size", 1, 1024),
    ("max_num_seqs", 1, 1 << 20),
    ("max_num_batched_tokens", 1, 1 << 27),
    ("input_tokens", 1, 1 << 27),
    ("output_tokens", 1, 1 << 27),
    ("concurrency", 1, 1 << 20),
    ("request_rate", 1e-9, 1e9),
)


def estimate_problems(args: argparse.Namespace) -> list[Problem]:
    """Every out-of-range number given to `gpuforge estimate`, as --flag problems."""
    out: list[Problem] = []
    for name, lo, hi in _ESTIMATE_BOUNDS:
        v = getattr(args, name, None)
        if v is None:
            continue
        flag = "--" + name.replace("_", "-")
        if not (math.isfinite(v) and lo <= v <= hi):
            out.append(Problem(flag, f"{v} is outside {lo:g}..{hi:g}", f"give {flag} a value in that range"))
    u = args.gpu_memory_utilization
    if not (math.isfinite(u) and 0 < u <= 1):
        out.append(Problem("--gpu-memory-utilization", f"{u} is not in (0, 1] (vLLM CacheConfig: gt=0, le=1)", "use a fraction such as 0.9"))
    return out


def _estimate(args: argparse.Namespace) -> int:
    from gpuforge import catalog
    from gpuforge.errors import SpecError
    from gpuforge.sizing.memory import MemoryInputs, estimate_memory
    from gpuforge.sizing.models import resolve

    problems = estimate_problems(args)
    try:
        gpu = catalog.get_gpu(args.gpu)
    except KeyError as exc:
        problems.append(Problem("--gpu", str(exc.args[0]), "use an id from `gpuforge catalog gpus`"))
    try:
        # a repo id outside the catalog is read from the Hub (token: HF_TOKEN), then cached
        model = resolve(args.model, revision=args.revision, refresh=args.refresh_hub)
    except KeyError as exc:
        problems.append(Problem("--model", str(exc.args[0]), "use an id from `gpuforge catalog models`, or a path to a config.json"))
    except SpecError as err:
        problems += [Problem(f"--model {args.model}: {q.path}", q.reason, q.fix) for q in err.problems]
    if not problems and args.pp > model.arch.num_layers:
        # vLLM 0.19.0 vllm/distributed/utils.py get_pp_indices: every stage needs a layer
        problems.append(Problem("--pp", f"{args.pp} pipeline stages for {model.arch.num_layers} layers", f"use --pp {model.arch.num_layers} or fewer"))
    if problems:
        raise SpecError("gpuforge estimate", problems)
    quant = args.quantization
    if quant == "none" and model.checkpoint_precision not in ("bf16", "fp16"):
        quant = model.checkpoint_precision  # a quantized checkpoint loads as it ships
    # The rules the planner applies (gpuforge.engine.vllm): estimate sizes no layout vLLM refuses.
    from gpuforge.engine import vllm as engine

    precision = quant if quant != "none" else ("fp16" if args.dtype == "float16" else model.checkpoint_precision)
    engine_layout, broken = engine.resolve_layout(
        model.arch, model.checkpoint_precision, model.arch.quantization_config, gpu, args.tp, args.pp, precision, args.kv_cache_dtype
    )
    if broken:
        fix = "change --gpu, --quantization, --dtype, --kv-cache-dtype or --tp / --pp; `gpuforge plan` refuses this layout too"
        if engine.precision_problems(model.checkpoint_precision, precision):
            # the checkpoint cannot be loaded at this precision: name the catalog's checkpoints that ship it
            from gpuforge.sizing.models import precision_fix

            fix = precision_fix(model, precision, "--model")
        raise SpecError("gpuforge estimate", [Problem("layout", f"vLLM {engine.VLLM_VERSION} refuses it: {b}", fix) for b in broken])
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

        layout = Layout(gpu=gpu, tensor_parallel=args.tp, pipeline_parallel=args.pp, quantization=quant, kv_cache_dtype=args.kv_cache_dtype, dtype=args.dtype,
                        compute_dtype=engine_layout.gemm_dtype if engine_layout is not None else None)
        workload = Workload(
            input_tokens=args.input_tokens or 1024,
            output_tokens=args.output_tokens or 256,
            concurrency=args.concurrency,
            request_rate=args.request_rate,
        )
        perf = predict(model, layout, workload, est)
        out.update(perf.to_dict())  # the figures the planner checks (itl_p95_ms never below the mean)
    if args.json:
        print(dumps(out, indent=2))
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
    from gpuforge.stackfile import schema_json

    sys.stdout.write(schema_json(stack_file=args.stack_file))
    return 0


def _init(args: argparse.Namespace) -> int:
    from gpuforge.errors import SpecError
    from gpuforge.stackfile import init_stack, next_steps

    try:
        result = init_stack(args.stack, args.example, stacks_dir=args.stacks_dir, force=args.force)
    except SpecError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(next_steps(result, args.stack))
    return 0


def _catalog_prices(args: argparse.Namespace) -> int:
    """Per instance type and region: offered, on-demand / spot / capacity-block $/h, date, source."""
    from gpuforge import cloud

    rows = []
    for o in cloud.all_offers(args.cloud):
        if args.region and o.region != args.region:
            continue
        if args.instance_type and o.instance_type != args.instance_type:
            continue
        rows.append(o)
    if args.json:
        def fig(f: Any) -> dict[str, Any]:
            d: dict[str, Any] = {"status": f.status, "source": f.source.title, "source_url": f.source.url}
            if f.priced:
                d.update(usd_per_hour=f.usd_per_hour, as_of=f.as_of)
            if f.by_zone:
                d["by_zone"] = f.by_zone
            if f.reason:
                d["reason"] = f.reason
            return d

        print(dumps([
            {
                "cloud": o.cloud, "instance_type": o.instance_type, "region": o.region,
                "offered": o.offered, "offered_source": o.offered_source.title, "offered_reason": o.offered_reason,
                "zones": list(o.zones), "on_demand": fig(o.on_demand), "spot": fig(o.spot), "capacity_block": fig(o.capacity_block),
            }
            for o in rows
        ], indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    def cell(f: Any) -> str:
        if f.priced:
            return f"{f.usd_per_hour:,.4g} ({(f.as_of or '')[:10]})"
        return {"not-sold": "not sold", "unknown": "unknown"}[f.status]

    t = Table(title="Offers and $/h per node (date of the price); `--json` has sources and reasons")
    for col in ("cloud", "region", "instance type", "offered", "on-demand", "spot", "capacity block", "zones"):
        t.add_column(col)
    for o in rows:
        offered = {True: "yes", False: "no", None: "unknown"}[o.offered]
        t.add_row(o.cloud, o.region, o.instance_type, offered, cell(o.on_demand), cell(o.spot), cell(o.capacity_block), " ".join(o.zones))
    Console(width=160).print(t)
    return 0


def _catalog(args: argparse.Namespace) -> int:
    from gpuforge import catalog

    if args.what == "prices":
        return _catalog_prices(args)
    if args.what == "models":
        rows: list[tuple[str, ...]] = [(m.id, m.hf_id, f"{m.params_total / 1e9:.1f}B", f"{m.params_active / 1e9:.1f}B") for m in catalog.all_models()]
    elif args.what == "gpus":
        rows = [(g.id, g.name, f"{g.memory_gib:.2f} GiB", f"{g.memory_bandwidth_gbs:.0f} GB/s") for g in catalog.all_gpus()]
    elif args.what == "regions":
        rows = [(r.cloud, r.name, " ".join(r.zones)) for r in catalog.all_regions()]
    else:
        from gpuforge import cloud

        rows = []
        for i in catalog.all_instances(args.cloud):
            where = cloud.regions_offering(i.cloud, i.name, "on-demand")
            rows.append((i.cloud, i.name, f"{i.gpu_count}x {i.gpu}", i.node_fabric, f"on-demand priced in: {', '.join(where) or 'none'}"))
    if args.json:
        print(dumps([list(r) for r in rows], indent=2))
        return 0
    for r in rows:
        print("  ".join(str(c) for c in r))
    return 0


def _alternatives(value: str) -> int | str:
    """`--alternatives`: a count (0..1000) or `all`."""
    if value == "all":
        return value
    if not value.isdigit() or int(value) > 1000:
        raise argparse.ArgumentTypeError(f"{value!r} is not a count from 0 to 1000, or 'all'")
    return int(value)


def _prices(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gpuforge.cloud.refresh import Endpoints, refresh

    data_dir = Path(args.data_dir) if args.data_dir else Path(__file__).parent / "catalog" / "data"
    if args.action == "snapshot":
        from gpuforge.cloud import snapshot

        ref = Path(args.reference_dir)
        if not ref.is_dir():
            print(f"error: no reference price copies at {ref} (see docs/pricing.md)", file=sys.stderr)
            return 1
        for name, data in snapshot.build_all(ref, data_dir).items():
            (data_dir / f"prices_{name}.json").write_text(snapshot.dump(data))
            print(f"wrote {data_dir / f'prices_{name}.json'}")
        return 0
    clouds = ("aws", "azure") if args.cloud == "all" else (args.cloud,)
    ep = Endpoints.from_env(
        aws_pricing=args.aws_pricing_url,
        aws_spot=args.aws_spot_url,
        aws_spot_advisor=args.aws_spot_advisor_url,
        azure_prices=args.azure_prices_url,
    )
    try:
        return refresh(data_dir, clouds, ep, dry_run=args.dry_run)
    except OSError as exc:
        print(f"error: {exc} (set the endpoints with --aws-pricing-url / --aws-spot-url / --azure-prices-url "
              "or GPUFORGE_AWS_PRICING_URL / GPUFORGE_AWS_SPOT_URL / GPUFORGE_AZURE_PRICES_URL)", file=sys.stderr)
        return 1


def _plan(args: argparse.Namespace) -> int:
    from gpuforge.errors import raise_if
    from gpuforge.progress import step
    from gpuforge.report import infeasible_markdown, render_plans
    from gpuforge.sizing.planner import plan_deployment
    from gpuforge.spec import load_stack, read_spec_file
    from gpuforge.spec_checks import plan_problems, provider_config, stack_file_config

    try:
        specs = load_stack(read_spec_file(args.spec))
        # repos outside the catalog are read from the Hub with HF_TOKEN (huggingface_hub's look-up)
        with step(f"Planning {len(specs)} deployment(s) of {args.spec}"):
            results = [plan_deployment(s, alternatives=args.alternatives, refresh_hub=args.refresh_hub) for s in specs]
        prefixes = [f"deployments[{i}]" if len(specs) > 1 else "" for i in range(len(specs))]
        plans = [(p, r.to_plan()) for p, r in zip(prefixes, results, strict=True)]
        raise_if("stack", plan_problems(plans, provider_config(stack_file_config(args.spec))))
    except SpecError as exc:  # NoFeasiblePlan too; main() prints it
        if args.format == "markdown":
            # the PR comment explains the failure rather than staying empty
            print(infeasible_markdown(_stack_name(args.spec), exc))
        raise
    print(render_plans(results, args.format))
    return 0


def _stack_name(path: str) -> str:
    from pathlib import Path

    name = Path(path).name
    return name.removeprefix("Pulumi.").removesuffix(".yaml").removesuffix(".yml").removesuffix(".json")


def _preview(args: argparse.Namespace) -> int:
    from gpuforge.preview import run_preview

    return run_preview(args.stack, args.out, stacks_dir=args.stacks_dir, crds_dir=args.crds_dir, comment=args.comment)


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
    e.add_argument("--quantization", choices=["none", "fp8", "int8", "int4-awq", "int4-gptq", "mxfp4", "nvfp4"], default="none")
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
    p.add_argument("--alternatives", type=_alternatives, default=5, help="how many feasible alternatives to list, or 'all'")
    p.add_argument("--refresh-hub", action="store_true", help="read models that are not in the catalog from the Hub again instead of the cache")
    p.set_defaults(func=_plan)

    v = sub.add_parser("preview", help="run the Pulumi program offline under mocks")
    v.add_argument("--stack", required=True)
    v.add_argument("--out", default=None, help="write manifests, plan.json and resources.json here")
    v.add_argument("--stacks-dir", default="stacks")
    v.add_argument("--crds-dir", default=None, help="CRDs to validate custom resources against (default: $GPUFORGE_CRDS_DIR, else the ones shipped with gpuforge)")
    v.add_argument("--comment", default=None, help="also write the pull-request comment (review + preview result) to this file")
    v.set_defaults(func=_preview)

    s = sub.add_parser("schema", help="JSON Schema of the deployment spec (every accepted form)")
    s.add_argument("--stack-file", action="store_true", help="the schema of a whole Pulumi.<stack>.yaml (what editors use)")
    s.set_defaults(func=_schema)

    i = sub.add_parser("init", help="a new stack file from an example: the spec, without secrets or encryption salt")
    i.add_argument("stack", help="the new stack's name (writes stacks/Pulumi.<stack>.yaml)")
    i.add_argument("--from", dest="example", required=True, help="an example stack in stacks/ (e.g. aws-chat-small) or a stack file")
    i.add_argument("--stacks-dir", default="stacks")
    i.add_argument("--force", action="store_true", help="replace the config of an existing stack file (its salt is kept)")
    i.set_defaults(func=_init)

    c = sub.add_parser("catalog", help="list catalog rows; `prices`: offers and prices per region")
    c.add_argument("what", choices=["models", "gpus", "instances", "regions", "prices"])
    c.add_argument("--json", action="store_true")
    c.add_argument("--cloud", choices=["aws", "azure"], default=None)
    c.add_argument("--region", default=None, help="prices: one region")
    c.add_argument("--instance-type", default=None, help="prices: one instance type")
    c.set_defaults(func=_catalog)

    pr = sub.add_parser(
        "prices",
        help="price data: `refresh` rebuilds it from the public price APIs; `snapshot` from the public copies in reference/prices (run from the repository root)",
    )
    pr.add_argument("action", choices=["refresh", "snapshot"])
    pr.add_argument("--reference-dir", default="reference/prices", help="snapshot: the public price copies")
    pr.add_argument("--cloud", choices=["aws", "azure", "all"], default="all")
    pr.add_argument("--dry-run", action="store_true", help="print the diff, write nothing")
    pr.add_argument("--data-dir", default=None, help="catalog data directory (default: the installed package's)")
    pr.add_argument("--aws-pricing-url", default=None, help="default $GPUFORGE_AWS_PRICING_URL or https://pricing.us-east-1.amazonaws.com")
    pr.add_argument("--aws-spot-url", default=None, help="default $GPUFORGE_AWS_SPOT_URL or the Spot pricing page's spot.js")
    pr.add_argument(
        "--aws-spot-advisor-url", default=None, help="default $GPUFORGE_AWS_SPOT_ADVISOR_URL or the Spot Instance Advisor's data file"
    )
    pr.add_argument("--azure-prices-url", default=None, help="default $GPUFORGE_AZURE_PRICES_URL or https://prices.azure.com/api/retail/prices")
    pr.set_defaults(func=_prices)

    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except SpecError as exc:  # NoFeasiblePlan is one too: every problem, path and fix
        print(str(exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
