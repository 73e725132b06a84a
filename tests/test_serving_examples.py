"""The multi-node AWS / Azure and the fp8 70B example stacks, run under mocks: the recorded
objects carry the commands, images, resources and volumes docs/serving.md promises.

Facts asserted (sources in docs/serving.md): vLLM 0.19.0 Ray-free multi-node flags
(engine/arg_utils.py:840-843, entrypoints/cli/serve.py:54-62), `--shutdown-timeout`
(arg_utils.py:1359), LWS v0.10.0 env vars, the EFA image, NCCL fabric check, the NodeFeatureRule
the RDMA device plugin needs, checkpoint-sized caches.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import k8s_validation as kv
import pytest
from gpuforge.preview import read_stack_config, run_program, stack_file

REPO = Path(__file__).resolve().parents[1]
LWS = "kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


@cache
def recorded(stack: str) -> tuple[dict[str, Any], ...]:
    config, secrets = read_stack_config(stack_file(stack, REPO / "stacks"))
    recorder, errors = run_program(config, secrets, stack)
    assert not errors, errors
    out = []
    for r in recorder.resources:
        item = {"type": r.type, "name": r.name}
        if r.type.startswith("kubernetes:"):
            item["inputs"] = kv.unwrap(r.inputs)
        out.append(item)
    return tuple(out)


def one(stack: str, type_: str) -> dict[str, Any]:
    hits = [r["inputs"] for r in recorded(stack) if r["type"] == type_]
    assert len(hits) == 1, (type_, len(hits))
    return hits[0]


def releases(stack: str) -> dict[str, dict[str, Any]]:
    return {r["inputs"]["name"]: r["inputs"] for r in recorded(stack) if r["type"] == "kubernetes:helm.sh/v3:Release"}


def flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def argv_of(container: dict[str, Any]) -> list[str]:
    assert container["command"][:2] == ["/bin/bash", "/opt/gpuforge/launch.sh"]
    return container["command"][2:]


def env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def group_pods(stack: str) -> dict[str, dict[str, Any]]:
    t = one(stack, LWS)["spec"]["leaderWorkerTemplate"]
    return {"leader": t["leaderTemplate"]["spec"], "worker": t["workerTemplate"]["spec"]}


@pytest.mark.parametrize("stack", ["aws-llama405b-efa", "azure-multinode-ib"])
def test_multi_node_examples_start_without_ray(stack):
    pods = group_pods(stack)
    leader, worker = argv_of(pods["leader"]["containers"][0]), argv_of(pods["worker"]["containers"][0])
    for argv in (leader, worker):
        assert argv[:2] == ["vllm", "serve"]
        assert flag(argv, "--distributed-executor-backend") == "mp"
        assert flag(argv, "--nnodes") == "2" and flag(argv, "--master-addr") == "$(LWS_LEADER_ADDRESS)"
        assert flag(argv, "--tensor-parallel-size") == "8" and flag(argv, "--pipeline-parallel-size") == "2"
        assert int(flag(argv, "--distributed-timeout-seconds")) > 600  # > PyTorch's default
        assert not any("ray" in a.lower() for a in argv)
    assert flag(leader, "--node-rank") == "0" and "--headless" not in leader
    assert flag(worker, "--node-rank") == "$(LWS_WORKER_INDEX)" and worker[-1] == "--headless"
    assert one(stack, LWS)["spec"]["leaderWorkerTemplate"]["size"] == 2
    # The launch scripts the command runs are in the ConfigMap the pods mount.
    launch = next(r["inputs"] for r in recorded(stack) if r["type"] == "kubernetes:core/v1:ConfigMap" and r["inputs"]["metadata"]["name"].endswith("-launch"))
    assert set(launch["data"]) == {"launch.sh", "fabric_check.py", "download.py"}


def test_aws_efa_example_uses_the_efa_image_devices_and_nvme():
    stack = "aws-llama405b-efa"
    for role, pod in group_pods(stack).items():
        c = pod["containers"][0]
        assert c["image"].endswith("/gpuforge/vllm-efa:v0.19.0-efa1.51.0"), role  # images/vllm-efa/Dockerfile
        assert c["resources"]["limits"]["vpc.amazonaws.com/efa"] == "32"  # p5.48xlarge
        assert c["resources"]["limits"]["nvidia.com/gpu"] == "8"
        e = env(c)
        assert e["FI_PROVIDER"] == "efa" and e["GPUFORGE_NCCL_NET"] == "Libfabric"
        cache_vol = next(v for v in pod["volumes"] if v["name"] == "model-cache")
        assert cache_vol["hostPath"]["path"].startswith("/mnt/k8s-disks/0/")  # nodeadm RAID0 of the 8 NVMe
        init = pod["initContainers"][0]
        assert init["name"] == "model-download" and float(env(init)["GPUFORGE_DOWNLOAD_GIB"]) >= 700
    assert "aws-efa-k8s-device-plugin" in releases(stack)


def test_azure_ib_example_gets_rdma_labels_and_claims():
    stack = "azure-multinode-ib"
    for role, pod in group_pods(stack).items():
        c = pod["containers"][0]
        assert c["image"].split("@")[0] == "vllm/vllm-openai:v0.19.0", role
        assert c["resources"]["limits"]["rdma/ib"] == "1"
        assert env(c)["GPUFORGE_NCCL_NET"] == "IB" and env(c)["NCCL_IB_DISABLE"] == "0"
        assert "IPC_LOCK" in c["securityContext"]["capabilities"]["add"]
    claims = one(stack, LWS)["spec"]["leaderWorkerTemplate"]["volumeClaimTemplates"]
    assert claims[0]["spec"]["storageClassName"] == "managed-csi-premium"
    assert int(claims[0]["spec"]["resources"]["requests"]["storage"].removesuffix("Gi")) >= 756
    rule = one(stack, "kubernetes:nfd.k8s-sigs.io/v1alpha1:NodeFeatureRule")
    assert rule["spec"]["rules"][0]["labels"] == {"pci-15b3.present": "true"}
    ncp = one(stack, "kubernetes:mellanox.com/v1alpha1:NicClusterPolicy")
    assert "rdmaSharedDevicePlugin" in ncp["spec"]
    assert releases(stack)["network-operator"]["values"]["nfd"]["deployNodeFeatureRules"] is False


@pytest.mark.parametrize("stack", ["aws-llama70b-fp8", "azure-llama70b"])
def test_fp8_70b_examples_cache_the_bf16_download_and_drain(stack):
    dep = one(stack, DEPLOYMENT)
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    argv = argv_of(c)
    assert flag(argv, "--quantization") == "fp8"  # applied at load time to the bf16 repository
    init = pod["initContainers"][0]
    download = float(env(init)["GPUFORGE_DOWNLOAD_GIB"])
    assert download >= 130  # ~131 GiB of bf16, not the ~66 GiB of fp8 weights
    vol = next(v for v in pod["volumes"] if v["name"] == "model-cache")
    if "hostPath" not in vol:  # Azure: a per-pod Premium SSD claim sized to the download
        size = vol["ephemeral"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"]
        assert int(size.removesuffix("Gi")) >= download
    drain = int(flag(argv, "--shutdown-timeout"))
    assert drain >= 1.5 + 300 * 0.040  # TTFT 1.5 s + 300 tokens at 40 ms (the stacks' SLA)
    assert pod["terminationGracePeriodSeconds"] > drain + 10
    assert c["lifecycle"]["preStop"] == {"sleep": {"seconds": 10}}
    sp = c["startupProbe"]
    assert sp["periodSeconds"] * sp["failureThreshold"] >= 600  # engine start after the download step
    assert dep["spec"]["progressDeadlineSeconds"] > download / 0.1  # covers the download


@pytest.mark.parametrize("stack", ["aws-llama405b-efa", "azure-multinode-ib", "aws-llama70b-fp8", "azure-llama70b"])
def test_examples_alerts_and_budgets(stack):
    rules = {r["alert"]: r for r in one(stack, "kubernetes:monitoring.coreos.com/v1:PrometheusRule")["spec"]["groups"][0]["rules"]}
    assert "changes(DCGM_FI_DEV_XID_ERRORS" in rules["GPUXidError"]["expr"]
    assert "VLLMScrapeMissing" in rules
    multi = stack in ("aws-llama405b-efa", "azure-multinode-ib")
    assert ("VLLMMultiNodeGroupDegraded" in rules) == multi and ("NCCLFabricNotUsed" in rules) == multi
    pdb = one(stack, "kubernetes:policy/v1:PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert json.dumps(pdb)  # recorded


def test_example_manifests_validate():
    for stack in ("aws-llama405b-efa", "azure-multinode-ib", "aws-llama70b-fp8", "azure-llama70b"):
        manifests = [{"type": r["type"], "inputs": r["inputs"]} for r in recorded(stack) if "inputs" in r and r["type"] not in kv.NOT_MANIFESTS]
        errors = [e for m in manifests for e in kv.validate_manifest(m["inputs"])]
        assert errors == [], (stack, errors[:5])


def test_existing_cluster_example_does_not_install_its_addons_again():
    stack = "aws-existing-cluster"  # cluster.installed_addons: [keda, dcgm-exporter]
    rel = releases(stack)
    assert "keda" not in rel and "dcgm-exporter" not in rel
    assert "nvidia-device-plugin" in rel  # not listed: still installed
    namespaces = {r["inputs"]["metadata"]["name"] for r in recorded(stack) if r["type"] == "kubernetes:core/v1:Namespace"}
    assert "keda" not in namespaces
    # the deployment still autoscales through the existing KEDA and is watched by the existing exporter
    assert one(stack, "kubernetes:keda.sh/v1alpha1:ScaledObject")["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    dcgm = one(stack, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
    assert dcgm["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == "dcgm-exporter"


def test_shared_cache_and_drain_from_the_spec():
    """serving.shared_cache: one ReadWriteMany claim for every replica (EFS / FSx for Lustre,
    Azure Files / Blob), sized from the download; serving.drain_seconds overrides the drain."""
    from gpuforge.spec import CONFIG_KEY

    config, secrets = read_stack_config(stack_file("aws-llama70b-fp8", REPO / "stacks"))
    deployment = json.loads(config[CONFIG_KEY])
    deployment.setdefault("serving", {}).update({"shared_cache": {"storage_class": "efs-sc"}, "drain_seconds": 120})
    config = {**config, CONFIG_KEY: json.dumps(deployment)}
    recorder, errors = run_program(config, secrets, "aws-llama70b-fp8")
    assert not errors, errors
    (claim,) = [kv.unwrap(r.inputs) for r in recorder.resources if r.type == "kubernetes:core/v1:PersistentVolumeClaim"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"] and claim["spec"]["storageClassName"] == "efs-sc"
    assert int(claim["spec"]["resources"]["requests"]["storage"].removesuffix("Gi")) >= 130
    (dep,) = [kv.unwrap(r.inputs) for r in recorder.resources if r.type == DEPLOYMENT]
    pod = dep["spec"]["template"]["spec"]
    vol = next(v for v in pod["volumes"] if v["name"] == "model-cache")
    assert vol == {"name": "model-cache", "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}}
    argv = argv_of(pod["containers"][0])
    assert flag(argv, "--shutdown-timeout") == "120"
    assert pod["terminationGracePeriodSeconds"] == 10 + 120 + 30
