"""The Pulumi program under mocks for every example stack, and the offline preview."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from gpuforge.preview import read_stack_config, run_preview, run_program, stack_file
from gpuforge.program import plan_stack
from gpuforge.spec import CONFIG_KEY

REPO = Path(__file__).resolve().parents[1]
STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (REPO / "stacks").glob("Pulumi.*.yaml"))


def test_there_are_the_example_stacks_the_docs_promise():
    assert {"aws-chat-small", "aws-llama70b-fp8", "aws-llama405b-efa", "azure-llama70b", "azure-multinode-ib", "aws-existing-cluster", "aws-two-models"} <= set(STACKS)
    for name in STACKS:
        text = (REPO / "stacks" / f"Pulumi.{name}.yaml").read_text()
        assert text.lstrip().startswith("#"), f"{name}: each stack file says what it shows"
        assert not re.search(r"hf_[A-Za-z0-9]{20,}", text), f"{name}: a Hugging Face token in plain text"
        config = yaml.safe_load(text)["config"]
        assert all(isinstance(v, dict) and set(v) == {"secure"} for k, v in config.items() if "token" in k.lower()), name


@pytest.mark.parametrize("stack", STACKS)
def test_program_registers_the_planned_infrastructure(stack):
    config, secrets = read_stack_config(stack_file(stack, REPO / "stacks"))
    specs, results = plan_stack(json.loads(config[CONFIG_KEY]))
    recorder, errors = run_program(config, secrets, stack)
    assert not errors, errors
    types = [r.type for r in recorder.resources]
    cloud = results[0].chosen.candidate.cloud
    for spec, result in zip(specs, results, strict=True):
        c = result.chosen.candidate
        if cloud == "aws":
            groups = [r for r in recorder.of_type("aws:eks/nodeGroup:NodeGroup") if r.name == f"{spec.name}-gpu"]
            assert len(groups) == 1
            templates = [r for r in recorder.of_type("aws:ec2/launchTemplate:LaunchTemplate") if r.name.startswith(f"{spec.name}-gpu")]
            assert templates and templates[0].inputs["instanceType"] == c.instance.name
            assert groups[0].inputs["scalingConfig"]["desiredSize"] == result.to_plan().node_pool.desired_nodes
        else:
            pools = [r for r in recorder.of_type("azure-native:containerservice:AgentPool") if r.parent == f"{spec.name}-gpu"]
            assert len(pools) == 1 and pools[0].inputs["vmSize"] == c.instance.name
        workload = "kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet" if c.nodes_per_replica > 1 else "kubernetes:apps/v1:Deployment"
        servers = [r for r in recorder.of_type(workload) if r.inputs["metadata"]["name"] == spec.name]
        assert len(servers) == 1, f"{spec.name}: no {workload}"
        args = json.dumps(servers[0].inputs)
        assert re.search(rf'--tensor-parallel-size[", ]+{c.tensor_parallel}\b', args), args[:400]
        assert re.search(rf'--pipeline-parallel-size[", ]+{c.pipeline_parallel}\b', args)
        assert any(r.type == "kubernetes:monitoring.coreos.com/v1:PrometheusRule" and r.inputs["metadata"]["name"] == f"{spec.name}-slo" for r in recorder.resources)
    # one cluster and one platform, however many models
    assert types.count("gpuforge:index:GpuCluster") == 1
    assert types.count("gpuforge:k8s:GpuPlatform") == 1
    assert types.count("gpuforge:index:ModelDeployment") == len(specs)


def test_two_models_share_one_cluster_with_their_own_pools():
    config, secrets = read_stack_config(stack_file("aws-two-models", REPO / "stacks"))
    recorder, errors = run_program(config, secrets, "aws-two-models")
    assert not errors
    assert len(recorder.of_type("aws:eks/cluster:Cluster")) == 1
    assert {r.name for r in recorder.of_type("aws:eks/nodeGroup:NodeGroup")} >= {"chat-gpu", "qwen-coder-gpu"}
    # the serving namespace both models use is created once (a second create would fail)
    namespaces = [r.inputs["metadata"]["name"] for r in recorder.of_type("kubernetes:core/v1:Namespace")]
    assert namespaces.count("llm") == 1


def test_hf_token_stays_secret_end_to_end(tmp_path):
    out = tmp_path / "out"
    assert run_preview("aws-chat-small", str(out), stacks_dir=str(REPO / "stacks")) == 0
    resources = json.loads((out / "resources.json").read_text())
    secrets = [r for r in resources if r["type"] == "kubernetes:core/v1:Secret"]
    assert secrets, "the HF token should become a Kubernetes Secret"
    assert all(json.dumps(r["inputs"]).count("[secret]") for r in secrets)
    from gpuforge.preview import SECURE_PLACEHOLDER

    assert SECURE_PLACEHOLDER not in (out / "resources.json").read_text()
    assert not any(SECURE_PLACEHOLDER in p.read_text() for p in (out / "manifests").iterdir())


def test_preview_writes_plan_manifests_and_resources(tmp_path):
    out = tmp_path / "p"
    assert run_preview("aws-llama405b-efa", str(out), stacks_dir=str(REPO / "stacks")) == 0
    plan = json.loads((out / "plan.json").read_text())
    cli = subprocess.run([sys.executable, "-m", "gpuforge", "plan", str(REPO / "stacks/Pulumi.aws-llama405b-efa.yaml"), "--format", "json"], capture_output=True, text=True, check=True)
    assert plan == json.loads(cli.stdout)
    kinds = {yaml.safe_load(p.read_text())["kind"] for p in (out / "manifests").iterdir()}
    assert {"LeaderWorkerSet", "Service", "PrometheusRule", "ScaledObject", "PodMonitor"} <= kinds
    resources = json.loads((out / "resources.json").read_text())
    assert all({"type", "name", "parent", "inputs"} <= set(r) for r in resources)
    assert any(r["type"] == "aws:ec2/placementGroup:PlacementGroup" for r in resources)


def test_preview_fails_on_a_bad_spec(tmp_path):
    bad = tmp_path / "stacks"
    bad.mkdir()
    (bad / "Pulumi.bad.yaml").write_text(yaml.safe_dump({"config": {CONFIG_KEY: {"name": "x", "model": {"id": "no-such-model"}, "workload": {"input_tokns": 3}}}}))
    proc = subprocess.run([sys.executable, "-m", "gpuforge", "preview", "--stack", "bad", "--stacks-dir", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "workload.input_tokns" in proc.stderr and "model.id" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_aws_stack_loads_no_azure_sdk():
    code = (
        "import sys, json\n"
        "from gpuforge.preview import read_stack_config, stack_file, run_program\n"
        f"c, s = read_stack_config(stack_file('aws-chat-small', {str(REPO / 'stacks')!r}))\n"
        "rec, errors = run_program(c, s, 'aws-chat-small')\n"
        "assert not errors, errors\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules if m.startswith('pulumi_')})))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "pulumi_aws" in loaded and "pulumi_azure_native" not in loaded


def test_a_program_run_is_not_poisoned_by_mocks_left_on_a_closed_loop():
    """An earlier run whose loop closed before its root Stack registered (a failed or aborted
    test) left Pulumi's root resource and pending outputs behind: the next program run hung or
    failed with "Event loop is closed" (the flaky first run of this module). Run in a child
    process so that, broken, it fails on the timeout instead of hanging the suite."""
    code = (
        "import asyncio\n"
        "from gpuforge.testing import Recorder\n"
        "from gpuforge.preview import read_stack_config, stack_file, run_program\n"
        "loop = asyncio.new_event_loop(); asyncio.set_event_loop(loop)\n"
        "Recorder().install()\n"
        "loop.close(); asyncio.set_event_loop(None)\n"
        f"c, s = read_stack_config(stack_file('aws-chat-small', {str(REPO / 'stacks')!r}))\n"
        "rec, errors = run_program(c, s, 'aws-chat-small')\n"
        "assert not errors, errors\n"
        "assert any(r.type == 'aws:eks/cluster:Cluster' for r in rec.resources)\n"
        "print('ok', len(rec.resources))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0 and proc.stdout.startswith("ok"), proc.stderr[-2000:]


def test_example_program_runs_under_mocks(pulumi_mocks):
    import runpy

    import pulumi

    loop = __import__("asyncio").get_event_loop()
    runpy.run_path(str(REPO / "examples/existing_program/__main__.py"))
    loop.run_until_complete(pulumi.runtime.stack.wait_for_rpcs())
    types = {r.type for r in pulumi_mocks.resources}
    assert "aws:eks/nodeGroup:NodeGroup" in types and "kubernetes:apps/v1:Deployment" in types
    assert "aws:eks/cluster:Cluster" not in types  # the existing cluster is only read
