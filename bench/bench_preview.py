"""Benchmark the offline preview: wall time and peak memory, SDK imports vs the program's own
work, and growth from 1 to 10 models in one stack. Each measurement is a fresh process.

    .venv/bin/python bench/bench_preview.py

Target: the program's own work (not the SDK imports) under 1 s per model, and an AWS stack
that loads no Azure SDK.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import pulumi, pulumi_kubernetes, pulumi_aws  # the SDKs the AWS program needs
# the SDK submodules load lazily on first use: load them here so "program" is gpuforge's work
import pulumi_aws.ec2, pulumi_aws.eks, pulumi_aws.iam, pulumi_aws.kms, pulumi_aws.cloudwatch
import pulumi_kubernetes.core.v1, pulumi_kubernetes.apps.v1, pulumi_kubernetes.helm.v3, pulumi_kubernetes.apiextensions
import pulumi_kubernetes.policy.v1, pulumi_kubernetes.networking.v1, pulumi_kubernetes.provider
import gpuforge.aws, gpuforge.k8s, gpuforge.stack, gpuforge.program
t1 = time.perf_counter()
from gpuforge.preview import read_stack_config, stack_file, run_program
config, secrets = read_stack_config(stack_file(sys.argv[1], sys.argv[2]))
from gpuforge.program import plan_stack
specs, _ = plan_stack(json.loads(config["gpuforge:deployment"]))
t2 = time.perf_counter()
rec, errors = run_program(config, secrets, sys.argv[1])
t3 = time.perf_counter()
assert not errors, errors
# a second run: every SDK module the first one loaded lazily is now loaded, so this is the
# program's own work (planning, components, mock registrations)
rec, errors = run_program(config, secrets, sys.argv[1])
t4 = time.perf_counter()
print(json.dumps({
    "models": len(specs), "resources": len(rec.resources),
    "imports_s": t1 - t0 + (t3 - t2) - (t4 - t3), "plan_s": t2 - t1, "program_s": t4 - t3, "first_run_s": t3 - t2,
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "azure_loaded": any(m.startswith("pulumi_azure_native") for m in sys.modules),
}))
"""

MODELS = ["llama-3.1-8b-instruct", "qwen2.5-7b-instruct", "mistral-7b-instruct-v0.3", "qwen2.5-14b-instruct", "phi-4",
          "gemma-2-9b-it", "qwen3-8b", "granite-3.2-8b-instruct", "qwen3-14b", "llama-3.1-70b-instruct"]


def measure(stack: str, stacks_dir: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, stack, str(stacks_dir)], capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def n_model_stack(n: int, folder: Path) -> str:
    deployments = [
        {"name": f"m{i}", "model": {"id": MODELS[i % len(MODELS)], "precision": ["bf16", "fp8"]},
         "workload": {"input_tokens": 1000, "output_tokens": 300, "peak_concurrency": 8},
         "sla": {"ttft_p95_ms": 3000, "itl_p95_ms": 80}}
        for i in range(n)
    ]
    cfg = {"config": {"gpuforge:deployment": {"cluster": {"name": "bench", "admin_principals": ["arn:aws:iam::123456789012:role/admin"]},
                                               "target": {"cloud": "aws", "region": "us-east-1"}, "deployments": deployments}}}
    (folder / f"Pulumi.bench-{n}.yaml").write_text(yaml.safe_dump(cfg))
    return f"bench-{n}"


def main() -> None:
    print("| stack | models | resources | SDK imports s | planning s | first run s | program s (warm) | program s / model | peak RSS MiB | Azure SDK loaded |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = [("aws-llama405b-efa", REPO / "stacks"), ("aws-two-models", REPO / "stacks")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows += [(n_model_stack(n, folder), folder) for n in (1, 2, 5, 10)]
        for stack, where in rows:
            m = measure(stack, where)
            print(f"| {stack} | {m['models']} | {m['resources']} | {m['imports_s']:.2f} | {m['plan_s']:.2f} | {m['first_run_s']:.2f} | {m['program_s']:.2f} | "
                  f"{m['program_s'] / m['models']:.2f} | {m['peak_rss_mib']:.0f} | {m['azure_loaded']} |")


if __name__ == "__main__":
    main()
