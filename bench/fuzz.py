"""Fuzz the command line with hostile and careless input; count what goes wrong.

    .venv/bin/python bench/fuzz.py [--n 10000] [--seed 15] [--workers 2] [--previews 40]

Every input runs in-process (`gpuforge.cli.main(argv)`, no subprocess per input) inside a
worker process with an address-space limit (`resource.setrlimit(RLIMIT_AS)`); the parent
gives each input a wall-clock limit and replaces a worker that overruns it or dies. An input
counts as

- *traceback*: an exception other than argparse's usage exit escaped `main()`, or a
  "Traceback" was printed;
- *hang*: it ran past `--timeout` seconds;
- *memory blow-up*: MemoryError, a worker killed, or the peak RSS grew by more than
  `--rss-mib` while it ran;
- *invalid JSON*: a `--json` / `--format json` run exited 0 but its stdout is not strict
  JSON (NaN / Infinity included);
- *clean error*: exit status 1 or 2 with a message on stderr and no traceback;
- *ok*: exit status 0.

Inputs (deterministic for a seed): generated specs (`plan --format json`), mutated example
stack files (`plan --format json`), generated and mutated config.json files (`estimate --json`),
random `estimate` flags, and a few mutated stacks through the offline `preview`.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import multiprocessing as mp
import os
import random
import resource
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "components"))

STACKS = sorted((REPO / "stacks").glob("Pulumi.*.yaml"))
GPUS = ["t4", "l4", "a10g", "l40s", "a100-80gb", "h100-80gb", "h200", "nope", ""]
WEIRD_STRINGS = ["", " ", "\u0000", "é", "名前", "\u202e", "🦙", "a" * 300, "../../etc/passwd", "-1", "1e999", "null", "~", "*a", "&a", "!!binary", "2024-01-01", "0x10", "NaN", ".inf"]
WEIRD_NUMBERS: list[Any] = [0, -1, 1, 2, 3, 7, 10**9, 10**18, 2**63, -(2**63), 0.0, -0.0, 0.5, 1e-300, 1e308, float("inf"), float("-inf"), float("nan"), True, False]
WEIRD_VALUES: list[Any] = [*WEIRD_NUMBERS, *WEIRD_STRINGS, None, [], {}, [1, 2], {"a": 1}, [[[]]]]


# ---- generators -----------------------------------------------------------------------------

def _example_specs() -> list[dict[str, Any]]:
    from gpuforge.inputs import load_yaml

    out = []
    for path in STACKS:
        data = load_yaml(path.read_text(), str(path))
        out.append(data["config"]["gpuforge:deployment"])
    return out


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _set(obj: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    cur = obj
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value
    return obj


def _delete(obj: Any, path: tuple) -> Any:
    if not path:
        return obj
    cur = obj
    for p in path[:-1]:
        cur = cur[p]
    if isinstance(cur, dict):
        cur.pop(path[-1], None)
    elif isinstance(cur, list) and cur:
        cur.pop(path[-1])
    return obj


SPEC_KEYS = {
    "model": ["id", "config", "hf_id", "revision", "precision", "kv_cache_dtype", "served_name", "hf_token_config_key"],
    "workload": ["input_tokens", "output_tokens", "max_model_len", "peak_concurrency", "requests_per_second"],
    "sla": ["ttft_p95_ms", "itl_p95_ms", "min_tokens_per_s_per_user", "min_replicas", "spread_zones"],
    "target": ["cloud", "region", "azure_region", "zone", "regions", "capacity_type", "capacity_reservation_id", "capacity_block_instance_count", "capacity_price_usd_per_hour", "instance_families", "instance_types", "max_nodes_per_replica", "max_replicas"],
    "cluster": ["mode", "name", "resource_group", "public_endpoint_cidrs", "admin_principals", "vpc_id", "subnet_ids_by_zone", "subnet_id", "kube_prometheus_stack"],
    "serving": ["namespace", "allowed_namespaces", "expose", "gateway_name", "hostname", "gpu_memory_utilization"],
}
PLAUSIBLE: dict[str, list[Any]] = {
    "cloud": ["aws", "azure", "either", "gcp"],
    "region": ["us-east-1", "eu-west-1", "eastus", "westeurope", "mars-1"],
    "zone": ["us-east-1a", "us-east-1b", "1", "2", "zz"],
    "capacity_type": ["on-demand", "spot", "capacity-block", "reserved", "free"],
    "capacity_reservation_id": ["cr-0123456789abcdef0", "x"],
    "precision": ["bf16", "fp8", ["bf16", "fp8"], "int4-awq", "fp4"],
    "kv_cache_dtype": ["auto", "fp8", ["auto", "fp8"]],
    "id": ["llama-3.1-8b-instruct", "qwen2.5-14b-instruct", "llama-3.3-70b-instruct", "org/unknown", "", "llama-3.1-8b"],
    "expose": ["cluster", "gateway", "ingress", "public"],
    "mode": ["new", "existing"],
    "instance_families": [["p5"], ["g6e"], ["NDv5"], ["nope"], []],
    "instance_types": [["g6.xlarge"], ["p5.48xlarge"], ["Standard_ND96isr_H100_v5"], ["nope"]],
    "regions": [["us-east-1", "eu-west-1"], ["eastus"], [], ["mars-1"]],
}


def _inline_config(rng: random.Random) -> dict[str, Any]:
    from gpuforge import catalog

    cfg = copy.deepcopy(rng.choice(catalog.all_models()).config)
    return _mutate_config(rng, cfg)


def gen_spec(rng: random.Random, examples: list[dict[str, Any]]) -> Any:
    spec = copy.deepcopy(rng.choice(examples))
    for _ in range(rng.choice([0, 1, 1, 2, 3, 4])):
        roll = rng.random()
        paths = _paths(spec)
        if roll < 0.25:  # a plausible value for a known key
            section = rng.choice(list(SPEC_KEYS))
            key = rng.choice(SPEC_KEYS[section])
            target = spec.setdefault(section, {}) if isinstance(spec, dict) and "deployments" not in spec else None
            if isinstance(target, dict):
                target[key] = rng.choice(PLAUSIBLE.get(key, WEIRD_VALUES))
        elif roll < 0.45:  # a weird value anywhere
            _set(spec, rng.choice(paths), rng.choice(WEIRD_VALUES))
        elif roll < 0.6:  # drop something
            _delete(spec, rng.choice(paths))
        elif roll < 0.7:  # an unknown key
            p = rng.choice([p for p in paths if isinstance(_get(spec, p), dict)] or [()])
            node = _get(spec, p)
            if isinstance(node, dict):
                node[rng.choice(WEIRD_STRINGS) or "x"] = rng.choice(WEIRD_VALUES)
        elif roll < 0.8 and isinstance(spec, dict):  # an inline config.json, often partial
            spec.setdefault("model", {})
            if isinstance(spec["model"], dict):
                spec["model"]["config"] = _inline_config(rng)
                spec["model"]["hf_id"] = "org/model"
        elif roll < 0.9 and isinstance(spec, dict):  # a scalar where a section goes
            spec[rng.choice(["target", "cluster", "sla", "model", "deployments", "workload"])] = rng.choice(WEIRD_VALUES)
        else:  # contradictions
            spec = _contradiction(rng, spec)
    return spec


def _get(obj: Any, path: tuple) -> Any:
    for p in path:
        obj = obj[p]
    return obj


def _contradiction(rng: random.Random, spec: Any) -> Any:
    if not isinstance(spec, dict) or "deployments" in spec:
        return spec
    t = spec.setdefault("target", {}) if isinstance(spec.get("target", {}), dict) else {}
    s = spec.setdefault("sla", {}) if isinstance(spec.get("sla", {}), dict) else {}
    kind = rng.randrange(5)
    if kind == 0:
        s["min_replicas"], t["max_replicas"] = 3, 2
    elif kind == 1:
        s["spread_zones"], s["min_replicas"], t["zone"] = True, 2, "us-east-1a"
    elif kind == 2:
        t["capacity_type"], t["capacity_reservation_id"] = "on-demand", "cr-0123456789abcdef0"
    elif kind == 3:
        t.update(capacity_type="capacity-block", capacity_reservation_id="cr-0123456789abcdef0", capacity_block_instance_count=1, capacity_price_usd_per_hour=30.0)
        s["min_replicas"] = 2
    else:
        t["cloud"] = "either"
    return spec


def _mutate_config(rng: random.Random, cfg: dict[str, Any]) -> dict[str, Any]:
    keys = list(cfg) or ["num_hidden_layers"]
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        roll = rng.random()
        key = rng.choice(keys + ["num_hidden_layers", "vocab_size", "num_experts_per_tok", "num_local_experts", "hidden_size", "num_attention_heads", "layer_types", "text_config"])
        if roll < 0.3:
            cfg.pop(key, None)
        elif roll < 0.8:
            cfg[key] = rng.choice(WEIRD_VALUES)
        else:
            cfg[key] = rng.choice([10**8, 10**5, 2**31, 0, -5, 1, 3])
    return cfg


def _yaml_text(data: Any) -> str:
    import yaml

    try:
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    except Exception:  # noqa: BLE001 - data with NaN etc.: fall back to JSON (valid YAML)
        return json.dumps(data, default=str)


BOMB = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)
)


SCALARS = ["2024-01-01", "12:30:00", ".nan", "-.inf", "0x1F", "1_000", "yes", "no", "~", "[]", "{}", "*a", "!!binary aGk=", "!!set {a}", "&a [1]", '"\\ud800"', "1e999", str(10**30)]


def mutate_stack_text(rng: random.Random, text: str) -> str:
    lines = text.splitlines(keepends=True)
    for _ in range(rng.randint(1, 3)):
        roll = rng.random()
        i = rng.randrange(len(lines)) if lines else 0
        if roll < 0.15 and lines:
            del lines[i]
        elif roll < 0.3 and lines:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif roll < 0.45 and lines:  # byte-level damage
            ln = lines[i]
            j = rng.randrange(len(ln) + 1)
            lines[i] = ln[:j] + rng.choice([":", "-", "[", "{", "'", '"', "\t", "#", "&x ", "*x", "!!python/object:os.system ", "\u00a0", "\ufeff", "é", "\x00", "\r"]) + ln[j:]
        elif roll < 0.55 and lines:  # indentation
            lines[i] = (" " * rng.randint(0, 8)) + lines[i].lstrip()
        elif roll < 0.65 and lines:  # a value replaced
            ln = lines[i]
            if ":" in ln:
                k = ln.split(":", 1)[0]
                lines[i] = f"{k}: {rng.choice(SCALARS)}\n"
        elif roll < 0.75:
            lines.append(BOMB if rng.random() < 0.5 else ("  " * 0) + "deep: " + "[" * rng.randint(40, 5000) + "]" * rng.randint(0, 10) + "\n")
        elif roll < 0.85 and lines:
            lines = lines[: rng.randint(0, len(lines))]  # truncated
        elif roll < 0.92:
            lines.insert(i, "".join(rng.choice("abc:-[]{}&*!|>'\"#%@` \n\t") for _ in range(rng.randint(1, 40))))
        else:
            lines.insert(i, "  aws:region: " + rng.choice(["eu-west-1", "us-east-1", "westeurope"]) + "\n")
    return "".join(lines)


def gen_config(rng: random.Random) -> str:
    from gpuforge import catalog

    roll = rng.random()
    if roll < 0.08:
        return rng.choice(["", "\ufeff", "{", "[]", "null", "1", '"x"', "{}", '{"num_hidden_layers": NaN}', "\ufeff{}", "{" * 5000, '{"a": 1e999}'])
    cfg = _mutate_config(rng, copy.deepcopy(rng.choice(catalog.all_models()).config))
    if roll < 0.2:
        cfg["num_local_experts"] = rng.choice([0, 1, 2, 8])
        cfg["num_experts_per_tok"] = rng.choice([1, 2, 4, 16, 0, -1])
    text = json.dumps(cfg, allow_nan=True)
    if roll > 0.95:
        text = text[: rng.randrange(len(text) + 1)]
    if roll > 0.9 and rng.random() < 0.5:
        text = "\ufeff" + text
    return text


def gen_estimate_flags(rng: random.Random) -> list[str]:
    flags = []
    hostile = rng.random() < 0.3
    values: list[Any]
    for flag in ("--tp", "--pp", "--max-model-len", "--block-size", "--max-num-seqs", "--max-num-batched-tokens", "--input-tokens", "--output-tokens", "--concurrency"):
        if rng.random() < 0.3:
            values = [0, -1, 1, 2, 3, 8, 16, 1000, 10**6, 10**9, 2**40] if hostile else [1, 2, 4, 8, 16, 64, 256, 2048, 8192, 32768, 131072]
            flags += [flag, str(rng.choice(values))]
    for flag in ("--request-rate", "--gpu-memory-utilization"):
        if rng.random() < 0.3:
            values = ["0", "-1", "0.5", "0.9", "1", "1.5", "nan", "inf", "1e-300", "1e300"] if hostile else ["0.5", "0.8", "0.9", "0.95", "1", "2", "10", "100"]
            flags += [flag, rng.choice(values)]
    if rng.random() < 0.3:
        flags += ["--quantization", rng.choice(["none", "fp8", "int8", "int4-awq", "int4-gptq", "mxfp4"])]
    if rng.random() < 0.3:
        flags += ["--kv-cache-dtype", rng.choice(["auto", "fp8"])]
    if rng.random() < 0.2:
        flags += ["--dtype", rng.choice(["auto", "bfloat16", "float16", "float32"])]
    return flags


def generate(n: int, seed: int, workdir: Path, previews: int) -> list[tuple[str, list[str]]]:
    """(kind, argv) for n inputs; files they name are written under workdir."""
    from gpuforge import catalog

    rng = random.Random(seed)
    examples = _example_specs()
    stack_texts = [p.read_text() for p in STACKS]
    models = [m.id for m in catalog.all_models()]
    cases: list[tuple[str, list[str]]] = []
    share = {"spec": 0.3, "stack": 0.25, "config": 0.3, "flags": 0.15}
    for i in range(n - previews):
        kind = rng.choices(list(share), weights=list(share.values()))[0]
        if kind == "spec":
            spec = gen_spec(rng, examples)
            if rng.random() < 0.5:
                path = workdir / f"spec{i}.json"
                path.write_text(json.dumps(spec, default=str))
            else:
                path = workdir / f"spec{i}.yaml"
                path.write_text(_yaml_text(spec))
            cases.append(("spec", ["plan", str(path), "--format", "json"]))
        elif kind == "stack":
            path = workdir / f"Pulumi.s{i}.yaml"
            path.write_bytes(mutate_stack_text(rng, rng.choice(stack_texts)).encode("utf-8", "surrogatepass"))
            cases.append(("stack", ["plan", str(path), "--format", "json"]))
        elif kind == "config":
            path = workdir / f"config{i}.json"
            path.write_bytes(gen_config(rng).encode("utf-8", "surrogatepass"))
            cases.append(("config", ["estimate", "--model", str(path), "--gpu", rng.choice(GPUS[:7]), "--json", *gen_estimate_flags(rng)]))
        else:
            model = rng.choice([*models, "nope", ""])
            cases.append(("flags", ["estimate", "--model", model, "--gpu", rng.choice(GPUS), "--json", *gen_estimate_flags(rng)]))
    stacks_dir = workdir / "stacks"
    stacks_dir.mkdir(exist_ok=True)
    for i in range(previews):
        src = rng.choice(stack_texts)
        text = src if i % 4 == 0 else mutate_stack_text(rng, src)
        (stacks_dir / f"Pulumi.p{i}.yaml").write_bytes(text.encode("utf-8", "surrogatepass"))
        cases.append(("preview", ["preview", "--stack", f"p{i}", "--stacks-dir", str(stacks_dir), "--crds-dir", str(REPO.parent / "shared" / "crds")]))
    return cases


# ---- the worker -----------------------------------------------------------------------------

def _strict_json(text: str) -> bool:
    def bad(name: str) -> Any:
        raise ValueError(name)

    try:
        json.loads(text, parse_constant=bad)
    except ValueError:
        return False
    return True


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(argv: list[str], rss_limit_mib: float) -> dict[str, Any]:
    from gpuforge import cli

    # what a terminal does: strict UTF-8 (a lone surrogate printed is an error)
    out_b, err_b = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(out_b, encoding="utf-8", errors="strict", write_through=True)
    err = io.TextIOWrapper(err_b, encoding="utf-8", errors="strict", write_through=True)
    before = _rss_mib()
    t0 = time.perf_counter()
    outcome, detail = "ok", ""
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = cli.main(argv)
    except SystemExit as exc:  # argparse: usage error, exit 2
        rc = exc.code if isinstance(exc.code, int) else 2
    except MemoryError:
        rc, outcome, detail = -1, "memory", "MemoryError"
    except BaseException as exc:  # noqa: BLE001 - the point of the fuzzer
        rc, outcome = -1, "traceback"
        tb = traceback.extract_tb(exc.__traceback__)
        frame = tb[-1] if tb else None
        detail = f"{type(exc).__name__}: {str(exc)[:120]} @ {Path(frame.filename).name}:{frame.lineno}" if frame else type(exc).__name__
    elapsed = time.perf_counter() - t0
    grown = _rss_mib() - before
    text_out, text_err = out_b.getvalue().decode(), err_b.getvalue().decode()
    if outcome == "ok" and "Traceback (most recent call last)" in text_out + text_err:
        outcome, detail = "traceback", "printed traceback"
    if outcome == "ok" and grown > rss_limit_mib:
        outcome, detail = "memory", f"peak RSS +{grown:.0f} MiB"
    if outcome == "ok" and rc == 0 and ("--json" in argv or "json" in argv) and argv[0] != "preview" and not _strict_json(text_out):
        outcome, detail = "invalid_json", text_out[:120]
    if outcome == "ok" and rc != 0:
        outcome = "clean_error" if text_err.strip() else "silent_error"
    return {"outcome": outcome, "detail": detail, "rc": rc, "seconds": elapsed}


def worker(conn: Any, as_limit_mib: int, rss_limit_mib: float) -> None:
    soft = as_limit_mib * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (soft, soft))
    while True:
        msg = conn.recv()
        if msg is None:
            return
        conn.send(run_one(msg, rss_limit_mib))


def _vm_mib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) // 1024
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--previews", type=int, default=40)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per input before it counts as a hang")
    ap.add_argument("--preview-timeout", type=float, default=300.0, help="the same for an offline preview (a whole Pulumi program)")
    ap.add_argument("--headroom-mib", type=int, default=1536, help="address space a worker may add to what it started with")
    ap.add_argument("--rss-mib", type=float, default=512, help="peak RSS growth of one input that counts as a blow-up")
    ap.add_argument("--json", dest="json_out", default=None, help="write the counts here")
    args = ap.parse_args()

    # warm the imports once so workers fork with them (and their address space) in place
    import pulumi  # noqa: F401
    import pulumi_aws  # noqa: F401
    import pulumi_kubernetes  # noqa: F401
    from gpuforge import cli  # noqa: F401
    from gpuforge.sizing import planner  # noqa: F401

    # offline: a repo id outside the catalog fails fast instead of reading the Hub
    os.environ["HF_HUB_OFFLINE"] = "1"
    as_limit = _vm_mib() + args.headroom_mib
    ctx = mp.get_context("fork")
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpuforge-fuzz-") as tmp:
        os.environ["GPUFORGE_CACHE_DIR"] = str(Path(tmp) / "cache")
        cases = generate(args.n, args.seed, Path(tmp), args.previews)
        counts: Counter[str] = Counter()
        by_kind: dict[str, Counter[str]] = {}
        examples: dict[str, list[str]] = {}
        slowest = (0.0, "")
        pending = list(enumerate(cases))
        workers: list[dict[str, Any]] = []

        def start() -> dict[str, Any]:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker, args=(child, as_limit, args.rss_mib), daemon=True)
            proc.start()
            return {"proc": proc, "conn": parent, "case": None, "since": 0.0}

        def record(case: tuple[str, list[str]], res: dict[str, Any]) -> None:
            nonlocal slowest
            kind = case[0]
            counts[res["outcome"]] += 1
            by_kind.setdefault(kind, Counter())[res["outcome"]] += 1
            if res["outcome"] not in ("ok", "clean_error"):
                examples.setdefault(res["outcome"], []).append(f"{' '.join(case[1][:2])} ... -> {res['detail']}")
            if res.get("seconds", 0) > slowest[0]:
                slowest = (res["seconds"], " ".join(case[1][:4]))

        workers = [start() for _ in range(args.workers)]
        done = 0
        while pending or any(w["case"] is not None for w in workers):
            for w in workers:
                if w["case"] is None and pending:
                    case = pending.pop(0)
                    w["case"], w["since"] = case, time.perf_counter()
                    w["conn"].send(case[1][1])
            for idx, w in enumerate(workers):
                if w["case"] is None:
                    continue
                if w["conn"].poll(0.01):
                    try:
                        res = w["conn"].recv()
                    except EOFError:  # the worker died (killed by the kernel, or the limit)
                        res = {"outcome": "memory", "detail": f"worker died (exit {w['proc'].exitcode})", "seconds": time.perf_counter() - w["since"]}
                        w["proc"].join()
                        record(w["case"][1], res)
                        workers[idx] = start()
                        done += 1
                        continue
                    record(w["case"][1], res)
                    w["case"] = None
                    done += 1
                elif time.perf_counter() - w["since"] > (limit := args.preview_timeout if w["case"][1][0] == "preview" else args.timeout):
                    w["proc"].kill()
                    w["proc"].join()
                    record(w["case"][1], {"outcome": "hang", "detail": f"> {limit:.0f} s", "seconds": limit})
                    workers[idx] = start()
                    done += 1
                elif not w["proc"].is_alive():
                    record(w["case"][1], {"outcome": "memory", "detail": f"worker died (exit {w['proc'].exitcode})", "seconds": 0})
                    workers[idx] = start()
                    done += 1
            if done and done % 1000 == 0:
                print(f"  {done} / {len(cases)}", file=sys.stderr, flush=True)
        for w in workers:
            with contextlib.suppress(Exception):
                w["conn"].send(None)
            w["proc"].join(timeout=5)
    seconds = time.perf_counter() - t_start
    summary = {
        "inputs": len(cases),
        "seed": args.seed,
        "seconds": round(seconds, 1),
        "counts": dict(counts),
        "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
        "slowest_input_s": round(slowest[0], 2),
        "slowest_input": slowest[1],
        "address_space_limit_mib": as_limit,
        "examples": {k: v[:8] for k, v in examples.items()},
    }
    print(json.dumps(summary, indent=2))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(summary, indent=2) + "\n")
    bad = sum(counts[k] for k in ("traceback", "hang", "memory", "invalid_json", "silent_error"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
