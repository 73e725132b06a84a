"""ModelServer under Pulumi mocks: manifests valid, engine arguments, fabric, probes, secrets."""

from __future__ import annotations

from dataclasses import replace

import k8s_validation as kv
import pulumi
import pulumi_kubernetes as k8s
import pytest
from gpuforge.errors import SpecError
from gpuforge.k8s import ModelCache, ModelServer, ModelServerArgs, startup_budget_s
from gpuforge.k8s.model_server import (
    ENGINE_INIT_S,
    HF_DOWNLOAD_GIB_PER_S,
    LOAD_GIB_PER_S,
    serve_command,
)
from gpuforge.plan import ServingPlan
from tests_support import P5_EFA_POOL

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
LWS = "kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet"
SCALED = "kubernetes:keda.sh/v1alpha1:ScaledObject"
TOKEN = "hf_plaintextTOKEN_must_not_leak_0123456789"

# Plans built by hand (the planner's output shape), one per layout the issue names.
SINGLE_GPU = ServingPlan(
    name="llama-8b",
    model="meta-llama/Llama-3.1-8B-Instruct",
    served_model_name="llama-8b",
    revision="0e9e39f249a16976918f6564b8830bc894c89659",
    tensor_parallel_size=1,
    pipeline_parallel_size=1,
    nodes_per_replica=1,
    gpus_per_node=1,
    max_model_len=8192,
    max_num_seqs=64,
    max_num_batched_tokens=8192,
    gpu_memory_utilization=0.9,
    dtype="bfloat16",
    quantization=None,
    kv_cache_dtype="auto",
    replicas=2,
    min_replicas=2,
    max_replicas=4,
    spread_zones=True,
    weights_gib_total=15.0,
    per_replica_max_concurrency=24,
    ttft_p95_ms_sla=500,
    itl_p95_ms_sla=50,
    vllm_version="0.19.0",
    fabric="none",
    cloud="aws",
    pool_name="g6e-l40s",
    gpu="l40s",
    gpu_memory_gib=44.4,
    cost_per_hour=3.72,
)
TP8 = replace(
    SINGLE_GPU,
    name="llama-70b",
    model="meta-llama/Llama-3.3-70B-Instruct",
    served_model_name="llama-70b",
    revision=None,
    tensor_parallel_size=8,
    gpus_per_node=8,
    max_model_len=32768,
    max_num_seqs=128,
    quantization="fp8",
    kv_cache_dtype="fp8",
    replicas=1,
    min_replicas=1,
    max_replicas=3,
    spread_zones=False,
    weights_gib_total=70.0,
    per_replica_max_concurrency=64,
    pool_name="p5-h100",
    gpu="h100-80gb",
    cost_per_hour=55.04,
)
TWO_NODE_EFA = replace(
    TP8,
    name="llama-405b",
    model="meta-llama/Llama-3.1-405B-Instruct",
    served_model_name="llama-405b",
    quantization=None,
    kv_cache_dtype="auto",
    pipeline_parallel_size=2,
    nodes_per_replica=2,
    max_replicas=2,
    weights_gib_total=760.0,
    per_replica_max_concurrency=32,
    fabric="efa",
    pool_name="p5-efa",
    cost_per_hour=110.08,
)
TWO_NODE_IB = replace(TWO_NODE_EFA, cloud="azure", fabric="infiniband", pool_name="ndv5-ib")


NODES = {  # vCPUs, GiB of the instance types the plans run on (catalog rows)
    "g6e-l40s": (8, 64.0),  # g6e.2xlarge
    "p5-h100": (192, 2048.0),  # p5.48xlarge
    "p5-efa": (192, 2048.0),
    "ndv5-ib": (96, 1900.0),  # Standard_ND96isr_H100_v5
}


# The image built from images/vllm-efa/Dockerfile, pushed to the account's registry.
EFA_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gpuforge/vllm-efa:v0.19.0-efa1.51.0"


def args_for(plan: ServingPlan, **kw) -> ModelServerArgs:
    vcpus, mem = NODES[plan.pool_name]
    kw.setdefault("efa_interfaces", 32 if plan.fabric == "efa" else 0)
    if plan.fabric == "efa" and plan.nodes_per_replica > 1:
        kw.setdefault("efa_image", EFA_IMAGE)
    return ModelServerArgs.from_plan(plan, node_vcpus=vcpus, node_memory_gib=mem, **kw)


def vllm_argv(container: dict) -> list[str]:
    """The `vllm serve` argv behind the launch wrapper (`/bin/bash /opt/gpuforge/launch.sh ...`)."""
    assert container["command"][:2] == ["/bin/bash", "/opt/gpuforge/launch.sh"]
    return container["command"][2:]


def build(recorder, name: str, args: ModelServerArgs) -> ModelServer:
    server = ModelServer(name, args)
    recorder.wait(*kv.resources_of(server))
    return server


def mine(recorder, name: str):
    return [r for r in recorder.resources if r.parent == name]


def workload(recorder, name: str) -> dict:
    hits = [r for r in mine(recorder, name) if r.type in (DEPLOYMENT, LWS)]
    assert len(hits) == 1
    return kv.unwrap(hits[0].inputs)


def pod_specs(manifest: dict) -> dict[str, dict]:
    if manifest["kind"] == "Deployment":
        return {"server": manifest["spec"]["template"]["spec"]}
    t = manifest["spec"]["leaderWorkerTemplate"]
    return {"server": t["leaderTemplate"]["spec"], "worker": t["workerTemplate"]["spec"]}


def pulumi_mocks_run(output):
    """Resolve an Output on the mocks' event loop."""
    import asyncio

    return asyncio.get_event_loop().run_until_complete(output.future())


def env_of(container: dict) -> dict[str, object]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


# --- every object is a valid manifest -------------------------------------------------------------
@pytest.mark.parametrize(
    "plan, extra",
    [
        (SINGLE_GPU, {"expose": "ingress", "hostname": "llm.example.com", "ingress_class": "nginx"}),
        (TP8, {"expose": "gateway", "gateway_name": "public", "gateway_namespace": "gateways"}),
        (TWO_NODE_EFA, {"model_cache": ModelCache.host_path("/mnt/nvme/hf")}),
        (TWO_NODE_IB, {"model_cache": ModelCache.pvc("hf-cache", size_gib=2000, storage_class="azurefile-csi")}),
    ],
    ids=["single-gpu", "tp8", "2node-efa", "2node-ib"],
)
def test_every_manifest_validates_strictly(pulumi_mocks, plan, extra):
    build(pulumi_mocks, f"v-{plan.name}-{plan.cloud}", args_for(plan, hf_token=TOKEN, **extra))
    recorded = mine(pulumi_mocks, f"v-{plan.name}-{plan.cloud}")
    kinds = {r.type for r in recorded}
    assert {"kubernetes:core/v1:Service", "kubernetes:policy/v1:PodDisruptionBudget", SCALED} <= kinds
    assert kv.validate_recorded(recorded) == []


# --- engine arguments -------------------------------------------------------------------------------
@pytest.mark.parametrize("plan, gpus", [(SINGLE_GPU, "1"), (TP8, "8")], ids=["single-gpu", "tp8"])
def test_single_node_engine_args_follow_the_plan(pulumi_mocks, plan, gpus):
    build(pulumi_mocks, f"e-{plan.name}", args_for(plan))
    dep = workload(pulumi_mocks, f"e-{plan.name}")
    assert dep["kind"] == "Deployment"
    c = pod_specs(dep)["server"]["containers"][0]
    # pinned by digest, the tag recorded beside it (k8s/versions.py names the sources)
    assert c["image"] == "vllm/vllm-openai:v0.19.0@sha256:7a0f0fdd2771464b6976625c2b2d5dd46f566aa00fbc53eceab86ef50883da90"
    argv = vllm_argv(c)
    assert argv[:2 + len(plan.engine_args()) + 5] == [
        "vllm", "serve", plan.model, *plan.engine_args(), "--host", "0.0.0.0", "--port", "8000"
    ]  # fmt: skip
    assert argv[argv.index("--tensor-parallel-size") + 1] == str(plan.tensor_parallel_size)
    assert argv[argv.index("--max-model-len") + 1] == str(plan.max_model_len)
    assert argv[argv.index("--gpu-memory-utilization") + 1] == "0.9"
    assert c["resources"]["limits"]["nvidia.com/gpu"] == gpus
    assert "--distributed-executor-backend" not in argv


def test_tp8_fp8_plan_passes_quantization_and_kv_dtype(pulumi_mocks):
    build(pulumi_mocks, "e-fp8", args_for(TP8))
    argv = vllm_argv(pod_specs(workload(pulumi_mocks, "e-fp8"))["server"]["containers"][0])
    assert argv[argv.index("--quantization") + 1] == "fp8"
    assert argv[argv.index("--kv-cache-dtype") + 1] == "fp8"
    assert "--revision" not in argv  # the plan pins none


def test_single_gpu_plan_pins_the_revision(pulumi_mocks):
    build(pulumi_mocks, "e-rev", args_for(SINGLE_GPU))
    argv = vllm_argv(pod_specs(workload(pulumi_mocks, "e-rev"))["server"]["containers"][0])
    assert argv[argv.index("--revision") + 1] == SINGLE_GPU.revision


def test_two_node_plan_is_a_leaderworkerset_with_vllms_own_multinode_mode(pulumi_mocks):
    """vLLM 0.19 multi-node without Ray: leader `--nnodes 2 --node-rank 0 --master-addr <leader>`,
    worker the same with `--node-rank <LWS index> --headless` (engine/arg_utils.py:840-843,
    entrypoints/cli/serve.py:54-62), mp executor (config/parallel.py:753)."""
    args = args_for(TWO_NODE_EFA)
    build(pulumi_mocks, "e-2n", args)
    lws = workload(pulumi_mocks, "e-2n")
    assert lws["apiVersion"] == "leaderworkerset.x-k8s.io/v1" and lws["kind"] == "LeaderWorkerSet"
    assert lws["spec"]["leaderWorkerTemplate"]["size"] == 2
    assert lws["spec"]["leaderWorkerTemplate"]["restartPolicy"] == "RecreateGroupOnPodRestart"
    pods = pod_specs(lws)
    leader, worker = pods["server"]["containers"][0], pods["worker"]["containers"][0]

    lead = vllm_argv(leader)
    assert lead == serve_command(args, "server")
    assert lead[:3] == ["vllm", "serve", TWO_NODE_EFA.model]
    def flag(argv, f):
        return argv[argv.index(f) + 1]
    assert flag(lead, "--tensor-parallel-size") == "8" and flag(lead, "--pipeline-parallel-size") == "2"
    assert flag(lead, "--distributed-executor-backend") == "mp"
    assert flag(lead, "--nnodes") == "2" and flag(lead, "--node-rank") == "0"
    # LWS_LEADER_ADDRESS = <lws>-<group>.<lws>.<namespace> (lws pod_utils.go:144); the kubelet expands $(VAR).
    assert flag(lead, "--master-addr") == "$(LWS_LEADER_ADDRESS)" and flag(lead, "--master-port") == "29501"
    assert "--headless" not in lead and flag(lead, "--port") == "8000"
    assert not any("ray" in a.lower() for a in lead + worker["command"])

    work = vllm_argv(worker)
    assert work == serve_command(args, "worker")
    assert flag(work, "--node-rank") == "$(LWS_WORKER_INDEX)" and "--headless" in work
    assert flag(work, "--nnodes") == "2" and flag(work, "--master-addr") == "$(LWS_LEADER_ADDRESS)"
    assert "--port" not in work and "--shutdown-timeout" not in work  # no API server on a worker
    # Worker and leader build the same engine config: the plan's engine flags are on both.
    for f in TWO_NODE_EFA.engine_args()[::2]:
        assert flag(work, f) == flag(lead, f)
    # torch.distributed waits for the slower node's download and load, not PyTorch's 600 s.
    timeout = int(flag(lead, "--distributed-timeout-seconds"))
    assert timeout == int(flag(work, "--distributed-timeout-seconds")) >= args.ready_seconds > 600
    assert env_of(worker)["GPUFORGE_ROLE"] == "worker" and env_of(leader)["GPUFORGE_ROLE"] == "server"
    assert "startupProbe" not in worker and "http" not in {p["name"] for p in worker.get("ports", [])}
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == "8"


@pytest.mark.parametrize(
    "engine_args, match",
    [
        (("--distributed-executor-backend", "ray"), "has no Ray"),
        (("--distributed-executor-backend", "uni"), "only with the mp backend"),
        (("--nnodes", "4"), "set by gpuforge per pod"),
        (("--data-parallel-size", "2"), "data-parallel-size 2"),
    ],
    ids=["ray-without-ray", "uni-backend", "user-nnodes", "dp-in-group"],
)
def test_multi_node_flags_the_image_or_vllm_refuse(engine_args, match):
    args = args_for(TWO_NODE_EFA)
    args = replace(args, engine_args=args.engine_args + engine_args)
    with pytest.raises(SpecError, match=match):
        ModelServer("refused", args)


def test_ray_backend_refused_on_single_node_too():
    args = args_for(TP8)
    with pytest.raises(SpecError, match="has no Ray"):
        ModelServer("ray1", replace(args, engine_args=args.engine_args + ("--distributed-executor-backend", "ray")))


def test_efa_replica_refuses_an_image_without_the_efa_plugin():
    """The stock image has no libfabric / aws-ofi-nccl: NCCL would silently use TCP sockets."""
    args = args_for(TWO_NODE_EFA, efa_image=None)
    assert args.image.ref.split("@")[0] == "vllm/vllm-openai:v0.19.0"
    with pytest.raises(SpecError) as e:
        ModelServer("stock-efa", args)
    assert "serving.image" in str(e.value) and "images/vllm-efa/Dockerfile" in str(e.value)
    ok = args_for(TWO_NODE_EFA)
    assert ok.image.ref == EFA_IMAGE and ok.image.efa


def test_engine_args_inconsistent_with_layout_are_refused(pulumi_mocks):
    args = replace(args_for(TP8), gpus_per_node=4)
    with pytest.raises(SpecError) as e:
        ModelServer("bad-layout", args)
    assert "engine_args" in str(e.value) and "8 x 1 = 8" in str(e.value)
    assert pulumi_mocks.resources == []  # validated before anything was registered


# --- fabric per cloud ---------------------------------------------------------------------------------
def test_efa_fabric_resources_and_env(pulumi_mocks):
    build(pulumi_mocks, "f-efa", args_for(TWO_NODE_EFA))
    for role, spec in pod_specs(workload(pulumi_mocks, "f-efa")).items():
        c = spec["containers"][0]
        for side in ("requests", "limits"):
            assert c["resources"][side]["vpc.amazonaws.com/efa"] == "32", role
            assert "rdma/ib" not in c["resources"][side]
        env = env_of(c)
        assert env["FI_PROVIDER"] == "efa" and env["FI_EFA_USE_DEVICE_RDMA"] == "1"
        assert not any(k.startswith("NCCL_IB_") for k in env)
        assert c["securityContext"]["capabilities"]["add"] == ["IPC_LOCK"]
        # The fabric check expects aws-ofi-nccl's network and reads NCCL's INIT log.
        assert env["GPUFORGE_NCCL_NET"] == "Libfabric" and env["NCCL_DEBUG"] == "INFO"
        assert env["NCCL_DEBUG_FILE"].startswith("/tmp/nccl/")
        assert c["image"] == EFA_IMAGE
        assert {"name": "fabric", "containerPort": 9402, "protocol": "TCP"} in c["ports"]


def test_infiniband_fabric_resources_and_env(pulumi_mocks):
    build(pulumi_mocks, "f-ib", args_for(TWO_NODE_IB))
    for role, spec in pod_specs(workload(pulumi_mocks, "f-ib")).items():
        c = spec["containers"][0]
        assert c["resources"]["limits"]["rdma/ib"] == "1", role
        assert "vpc.amazonaws.com/efa" not in c["resources"]["limits"]
        env = env_of(c)
        assert env["NCCL_IB_DISABLE"] == "0"
        assert env["GPUFORGE_NCCL_NET"] == "IB"
        assert not any(k.startswith("FI_") for k in env)
        assert c["image"].split("@")[0] == "vllm/vllm-openai:v0.19.0"  # libibverbs is in the stock image
        assert "IPC_LOCK" in c["securityContext"]["capabilities"]["add"]


def test_efa_interface_count_comes_from_the_catalog(pulumi_mocks):
    args = ModelServerArgs.from_plan(TWO_NODE_EFA, pool=P5_EFA_POOL)
    assert (args.node_vcpus, args.node_memory_gib, args.efa_interfaces) == (192, 2048.0, 32)


def test_single_node_replicas_request_no_fabric(pulumi_mocks):
    plan = replace(TP8, fabric="efa")  # an EFA-capable pool serving one-node replicas
    build(pulumi_mocks, "f-none", args_for(plan))
    c = pod_specs(workload(pulumi_mocks, "f-none"))["server"]["containers"][0]
    assert set(c["resources"]["limits"]) == {"memory", "nvidia.com/gpu"}
    assert "FI_PROVIDER" not in env_of(c) and "add" not in c["securityContext"]["capabilities"]
    assert "GPUFORGE_NCCL_NET" not in env_of(c)


def test_multi_node_efa_without_interface_count_is_refused():
    with pytest.raises(SpecError, match="efa_interfaces"):
        ModelServer("no-efa", args_for(TWO_NODE_EFA, efa_interfaces=0))


# --- node sizing, placement, probes, shm ---------------------------------------------------------
def test_pod_is_sized_to_the_node_with_headroom(pulumi_mocks):
    build(pulumi_mocks, "n-size", args_for(SINGLE_GPU))
    spec = pod_specs(workload(pulumi_mocks, "n-size"))["server"]
    req = spec["containers"][0]["resources"]["requests"]
    assert 1 <= int(req["cpu"]) < 8
    mem = int(req["memory"].removesuffix("Gi"))
    assert 8 <= mem < 64
    assert spec["containers"][0]["resources"]["limits"]["memory"] == req["memory"]
    assert "cpu" not in spec["containers"][0]["resources"]["limits"]
    assert spec["nodeSelector"] == {"gpuforge.io/pool": "g6e-l40s"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]


@pytest.mark.parametrize("plan", [SINGLE_GPU, TP8, TWO_NODE_EFA], ids=["8b", "70b", "405b"])
def test_startup_probe_covers_load_after_the_download_step(pulumi_mocks, plan):
    """The download runs in the `model-download` init container; the server's startup probe
    (which starts after it) covers loading the node's share and engine start."""
    args = args_for(plan)
    build(pulumi_mocks, f"p-{plan.name}", args)
    spec = pod_specs(workload(pulumi_mocks, f"p-{plan.name}"))["server"]
    c = spec["containers"][0]
    sp = c["startupProbe"]
    allowed = sp["periodSeconds"] * sp["failureThreshold"]
    assert allowed >= ENGINE_INIT_S + plan.weights_gib_total / plan.nodes_per_replica / LOAD_GIB_PER_S
    # ... but not the download: that budget lives with the download step, not the probe.
    assert allowed < ENGINE_INIT_S + args.checkpoint_gib / HF_DOWNLOAD_GIB_PER_S
    assert [i["name"] for i in spec["initContainers"]] == ["model-download"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert c["readinessProbe"]["periodSeconds"] * c["readinessProbe"]["failureThreshold"] < allowed


def test_startup_budget_grows_with_the_checkpoint():
    assert startup_budget_s(15) < startup_budget_s(70) < startup_budget_s(760, 2)
    # A 70B that downloads 131 GiB of bf16 and quantizes to 66 GiB of fp8 at load time.
    assert startup_budget_s(66, 1, download_gib=131) >= startup_budget_s(66) + (131 - 66) / HF_DOWNLOAD_GIB_PER_S - 60


def test_deployment_rollout_deadline_and_pulumi_wait_cover_download_and_startup(pulumi_mocks):
    args = args_for(TP8)
    build(pulumi_mocks, "p-wait", args)
    dep = workload(pulumi_mocks, "p-wait")
    whole = ENGINE_INIT_S + args.checkpoint_gib / HF_DOWNLOAD_GIB_PER_S + TP8.weights_gib_total / LOAD_GIB_PER_S
    assert dep["spec"]["progressDeadlineSeconds"] > whole
    assert int(dep["metadata"]["annotations"]["pulumi.com/timeoutSeconds"]) > whole


@pytest.mark.parametrize("plan, size", [(SINGLE_GPU, "2Gi"), (TP8, "16Gi")], ids=["1gpu", "8gpu"])
def test_dev_shm_is_memory_backed_and_sized(pulumi_mocks, plan, size):
    build(pulumi_mocks, f"s-{plan.name}", args_for(plan))
    spec = pod_specs(workload(pulumi_mocks, f"s-{plan.name}"))["server"]
    shm = next(v for v in spec["volumes"] if v["name"] == "shm")
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": size}
    mounts = spec["containers"][0]["volumeMounts"]
    assert {"name": "shm", "mountPath": "/dev/shm"} in mounts


@pytest.mark.parametrize(
    "cache, volume",
    [
        (ModelCache.host_path("/mnt/nvme/hf"), {"hostPath": {"path": "/mnt/nvme/hf", "type": "DirectoryOrCreate"}}),
        (ModelCache.pvc("shared-hf"), {"persistentVolumeClaim": {"claimName": "shared-hf"}}),
    ],
    ids=["host-path", "pvc"],
)
def test_model_cache_volume(pulumi_mocks, cache, volume):
    build(pulumi_mocks, f"c-{cache.kind}", args_for(SINGLE_GPU, model_cache=cache))
    spec = pod_specs(workload(pulumi_mocks, f"c-{cache.kind}"))["server"]
    vol = next(v for v in spec["volumes"] if v["name"] == "model-cache")
    assert {k: v for k, v in vol.items() if k != "name"} == volume
    env = env_of(spec["containers"][0])
    assert env["HF_HOME"] == "/model-cache/huggingface"
    init = spec["initContainers"][0]
    assert env_of(init)["HF_HOME"] == "/model-cache/huggingface"
    assert {"name": "model-cache", "mountPath": "/model-cache"} in init["volumeMounts"]


def test_fp8_at_load_time_caches_the_bf16_download_not_the_runtime_weights(pulumi_mocks):
    """Issue: the cache was sized from the 66 GiB fp8 runtime weights while the repository holds
    131 GiB of bf16; the kubelet evicted the pod mid-download."""
    plan = replace(TP8, weights_gib_total=66.0)  # fp8 at load time on a bf16 repository
    args = args_for(plan, model_cache=ModelCache.empty_dir())
    assert args.checkpoint_gib == 132.0
    build(pulumi_mocks, "c-fp8", args)
    spec = pod_specs(workload(pulumi_mocks, "c-fp8"))["server"]
    vol = next(v for v in spec["volumes"] if v["name"] == "model-cache")
    assert int(vol["emptyDir"]["sizeLimit"].removesuffix("Gi")) >= 132 * 1.1
    assert env_of(spec["initContainers"][0])["GPUFORGE_DOWNLOAD_GIB"] == "132.0"


def test_checkpoint_download_size_from_the_plan_wins():
    plan = replace(TP8, weights_gib_total=66.0)
    object.__setattr__(plan, "checkpoint_download_gib", 140.0)  # the planner's field (issue 10)
    assert args_for(plan).checkpoint_gib == 140.0


def test_aws_nvme_instance_caches_on_the_nodes_raid(pulumi_mocks):
    """p5.48xlarge has 8 x 3.8 TB NVMe; on the AL2023 NVIDIA AMI nodeadm RAIDs them at
    /mnt/k8s-disks/0 (amazon-eks-ami setup-local-disks): a hostPath there survives restarts."""
    args = ModelServerArgs.from_plan(TWO_NODE_EFA, pool=P5_EFA_POOL, efa_image=EFA_IMAGE)
    assert args.model_cache == ModelCache.host_path("/mnt/k8s-disks/0/gpuforge/model-cache")
    assert args.model_cache.survives_pod_recreation
    build(pulumi_mocks, "c-nvme", args)
    for spec in pod_specs(workload(pulumi_mocks, "c-nvme")).values():
        vol = next(v for v in spec["volumes"] if v["name"] == "model-cache")
        assert vol["hostPath"]["path"].startswith("/mnt/k8s-disks/0/")
    # Another AMI does not mount the array there: no hostPath guess.
    other = ModelServerArgs.from_plan(TWO_NODE_EFA, pool=P5_EFA_POOL, efa_image=EFA_IMAGE, node_image="CUSTOM")
    assert other.model_cache.kind == "empty_dir"


def test_checkpoint_larger_than_the_nodes_nvme_is_refused():
    small = replace(P5_EFA_POOL, instance_type="g6e.2xlarge", gpus_per_node=1, nodes_per_replica=1, fabric="none")
    plan = replace(SINGLE_GPU, weights_gib_total=760.0, pool_name="g6e-l40s")  # 450 GB NVMe
    with pytest.raises(SpecError, match="NVMe has 419 GiB"):
        ModelServer("too-big", ModelServerArgs.from_plan(plan, pool=small))


def test_azure_multi_node_cache_is_a_claim_per_pod_kept_across_group_recreation(pulumi_mocks):
    """AKS leaves ND NVMe disks raw; each pod of the group gets a Premium SSD claim from the
    LeaderWorkerSet's volumeClaimTemplates (LWS v0.10 CRD), retained when the group restarts."""
    args = args_for(TWO_NODE_IB)
    assert args.model_cache.kind == "per_pod" and args.model_cache.storage_class == "managed-csi-premium"
    build(pulumi_mocks, "c-az", args)
    lws = workload(pulumi_mocks, "c-az")
    tmpl = lws["spec"]["leaderWorkerTemplate"]
    (claim,) = tmpl["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "model-cache"
    assert int(claim["spec"]["resources"]["requests"]["storage"].removesuffix("Gi")) >= 760
    assert tmpl["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Delete", "whenScaled": "Retain"}
    for spec in pod_specs(lws).values():
        assert not any(v["name"] == "model-cache" for v in spec["volumes"])  # the template provides it
        assert {"name": "model-cache", "mountPath": "/model-cache"} in spec["containers"][0]["volumeMounts"]


def test_azure_single_node_cache_is_an_ephemeral_claim(pulumi_mocks):
    plan = replace(TP8, cloud="azure", pool_name="ndv5-ib")
    args = args_for(plan)
    build(pulumi_mocks, "c-az1", args)
    spec = pod_specs(workload(pulumi_mocks, "c-az1"))["server"]
    vol = next(v for v in spec["volumes"] if v["name"] == "model-cache")
    claim = vol["ephemeral"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "managed-csi-premium"
    assert int(claim["resources"]["requests"]["storage"].removesuffix("Gi")) >= args.checkpoint_gib


def test_cache_smaller_than_the_checkpoint_is_refused():
    with pytest.raises(SpecError, match="cannot hold"):
        ModelServer("small", args_for(TP8, model_cache=ModelCache.pvc("hf", size_gib=50, storage_class="efs-sc")))


# --- drain ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("plan", [SINGLE_GPU, TWO_NODE_EFA], ids=["deployment", "lws"])
def test_drain_finishes_a_planned_request_at_the_sla(pulumi_mocks, plan):
    """vLLM 0.19: `--shutdown-timeout` (default 0 = abort in-flight requests, arg_utils.py:1359)."""
    args = args_for(replace(plan, ttft_p95_ms_sla=2000, itl_p95_ms_sla=50), output_tokens=400)
    build(pulumi_mocks, f"d-{plan.name}", args)
    pods = pod_specs(workload(pulumi_mocks, f"d-{plan.name}"))
    leader = pods["server"]["containers"][0]
    argv = vllm_argv(leader)
    drain = int(argv[argv.index("--shutdown-timeout") + 1])
    assert drain >= 2.0 + 400 * 0.050  # TTFT + 400 tokens at the ITL SLA
    assert leader["lifecycle"]["preStop"] == {"sleep": {"seconds": 10}}
    grace = pods["server"]["terminationGracePeriodSeconds"]
    assert grace > 10 + drain  # preStop sleep, then the drain, then the exit
    if "worker" in pods:
        worker = pods["worker"]
        assert worker["terminationGracePeriodSeconds"] > grace
        pre = worker["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
        assert pre[:2] == ["python3", "-c"] and "LWS_LEADER_ADDRESS" in pre[2]


def test_worker_prestop_waits_until_the_leader_stops_serving(tmp_path):
    import socket
    import subprocess
    import threading
    import time

    from gpuforge.engine.launch import worker_prestop_command

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    cmd = worker_prestop_command(port)
    proc = subprocess.Popen(cmd, env={"LWS_LEADER_ADDRESS": "127.0.0.1", "PATH": "/usr/bin:/bin"})
    time.sleep(1.0)
    assert proc.poll() is None  # the leader still answers: the worker stays
    threading.Thread(target=srv.close).start()
    assert proc.wait(timeout=15) == 0


def test_pdb_allows_one_disruption_and_never_blocks_a_drain(pulumi_mocks):
    for plan in (SINGLE_GPU, TWO_NODE_EFA):
        build(pulumi_mocks, f"b-{plan.name}", args_for(plan))
        pdb = next(r for r in mine(pulumi_mocks, f"b-{plan.name}") if r.type.endswith("PodDisruptionBudget"))
        spec = kv.unwrap(pdb.inputs)["spec"]
        assert spec["maxUnavailable"] == 1 and "minAvailable" not in spec
        assert spec["selector"]["matchLabels"] == {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": plan.name}


# --- secrets ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("as_secret", [True, False], ids=["pulumi-secret", "plain-string"])
def test_hf_token_never_in_plain_text(pulumi_mocks, as_secret):
    token = pulumi.Output.secret(TOKEN) if as_secret else TOKEN
    server = build(pulumi_mocks, f"t-{as_secret}", args_for(TWO_NODE_EFA, hf_token=token))
    for r in pulumi_mocks.resources:
        leaked = [s for s in kv.strings_outside_secrets(r.inputs) if TOKEN in s]
        assert not leaked, f"{r.type} {r.name} carries the token in plain text"
    secret = pulumi_mocks.one("kubernetes:core/v1:Secret", f"t-{as_secret}-hf-token")
    assert kv.is_secret(secret.inputs["stringData"])
    assert kv.unwrap(secret.inputs["stringData"]) == {"token": TOKEN}
    for spec in pod_specs(workload(pulumi_mocks, f"t-{as_secret}")).values():
        # a file (HF_TOKEN_PATH), never the value in the environment
        assert "HF_TOKEN" not in env_of(spec["containers"][0])
        assert env_of(spec["containers"][0])["HF_TOKEN_PATH"] == "/var/run/secrets/huggingface/token"
        vol = next(v for v in spec["volumes"] if v["name"] == "hf-token")
        assert vol["secret"]["secretName"] == "llama-405b-hf-token"
    outputs = pulumi.Output.all(server.endpoint, server.service_name)
    values = pulumi_mocks_run(outputs)
    assert TOKEN not in str(values)


def test_existing_token_secret_is_referenced_not_created(pulumi_mocks):
    build(pulumi_mocks, "t-existing", args_for(SINGLE_GPU, hf_token_secret_name="hf"))
    assert not [r for r in mine(pulumi_mocks, "t-existing") if r.type == "kubernetes:core/v1:Secret" and r.name.endswith("hf-token")]
    c = pod_specs(workload(pulumi_mocks, "t-existing"))["server"]["containers"][0]
    assert env_of(c)["HF_TOKEN_PATH"] == "/var/run/secrets/huggingface/token"
    assert {"name": "hf-token", "mountPath": "/var/run/secrets/huggingface", "readOnly": True} in c["volumeMounts"]


# --- rollout, disruption, spread, service, network ---------------------------------------------------
def test_no_headroom_means_no_surge(pulumi_mocks):
    build(pulumi_mocks, "r-tight", args_for(TP8))
    assert workload(pulumi_mocks, "r-tight")["spec"]["strategy"]["rollingUpdate"] == {
        "maxSurge": 0,
        "maxUnavailable": 1,
    }


def test_headroom_in_the_pool_allows_surge():
    tight = replace(P5_EFA_POOL, max_nodes=4)  # 2 replicas x 2 nodes fill it
    roomy = replace(P5_EFA_POOL, max_nodes=6)
    assert not ModelServerArgs.from_plan(TWO_NODE_EFA, pool=tight).rollout_surge
    assert ModelServerArgs.from_plan(TWO_NODE_EFA, pool=roomy).rollout_surge


def test_lws_rollout_and_scaled_object_target(pulumi_mocks):
    build(pulumi_mocks, "r-lws", args_for(TWO_NODE_EFA))
    lws = workload(pulumi_mocks, "r-lws")
    assert lws["spec"]["rolloutStrategy"]["rollingUpdateConfiguration"] == {"maxSurge": 0, "maxUnavailable": 1}
    so = kv.unwrap(next(r for r in mine(pulumi_mocks, "r-lws") if r.type == SCALED).inputs)
    assert so["spec"]["scaleTargetRef"] == {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "name": "llama-405b",
    }


def test_pdb_service_and_zone_spread(pulumi_mocks):
    build(pulumi_mocks, "r-pdb", args_for(SINGLE_GPU))
    rec = {r.type: kv.unwrap(r.inputs) for r in mine(pulumi_mocks, "r-pdb")}
    pdb = rec["kubernetes:policy/v1:PodDisruptionBudget"]["spec"]
    assert pdb["maxUnavailable"] == 1
    svc = rec["kubernetes:core/v1:Service"]["spec"]
    assert svc["type"] == "ClusterIP" and svc["ports"][0]["port"] == 8000
    assert svc["selector"]["app.kubernetes.io/component"] == "server"
    tsc = pod_specs(rec[DEPLOYMENT])["server"]["topologySpreadConstraints"]
    assert tsc[0]["topologyKey"] == "topology.kubernetes.io/zone" and tsc[0]["maxSkew"] == 1


def test_network_policy_admits_only_listed_namespaces_and_monitoring(pulumi_mocks):
    build(pulumi_mocks, "r-np", args_for(SINGLE_GPU, allowed_namespaces=("apps", "batch")))
    np = next(kv.unwrap(r.inputs) for r in mine(pulumi_mocks, "r-np") if r.type.endswith("NetworkPolicy") and r.name == "r-np-netpol")
    spec = np["spec"]
    assert spec["policyTypes"] == ["Ingress"]
    allowed = [
        set(rule["from"][0]["namespaceSelector"]["matchExpressions"][0]["values"]) for rule in spec["ingress"]
    ]
    assert allowed == [{"apps", "batch"}, {"monitoring"}]
    assert all(rule["ports"] == [{"protocol": "TCP", "port": 8000}] for rule in spec["ingress"])


def test_multi_node_network_policy_lets_the_group_talk(pulumi_mocks):
    build(pulumi_mocks, "r-np2", args_for(TWO_NODE_IB))
    np = next(kv.unwrap(r.inputs) for r in mine(pulumi_mocks, "r-np2") if r.type.endswith("NetworkPolicy") and r.name == "r-np2-netpol")
    intra = [rule for rule in np["spec"]["ingress"] if "podSelector" in rule["from"][0]]
    assert intra and "ports" not in intra[0]


def test_no_public_endpoint_unless_asked(pulumi_mocks):
    build(pulumi_mocks, "x-cluster", args_for(SINGLE_GPU))
    types = {r.type for r in mine(pulumi_mocks, "x-cluster")}
    assert not any(t.endswith(":Ingress") or t.endswith(":HTTPRoute") for t in types)


def test_gateway_route_exposes_only_the_api(pulumi_mocks):
    build(
        pulumi_mocks,
        "x-gw",
        args_for(SINGLE_GPU, expose="gateway", gateway_name="public", gateway_namespace="gw", hostname="a.b"),
    )
    rec = {r.type: kv.unwrap(r.inputs) for r in mine(pulumi_mocks, "x-gw")}
    route = rec["kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"]["spec"]
    assert route["parentRefs"] == [{"name": "public", "namespace": "gw"}]
    assert route["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/v1"}}]
    assert route["rules"][0]["backendRefs"] == [{"name": "llama-8b-api", "port": 8000}]
    np = rec["kubernetes:networking.k8s.io/v1:NetworkPolicy"]["spec"]
    assert "gw" in np["ingress"][0]["from"][0]["namespaceSelector"]["matchExpressions"][0]["values"]


# --- autoscaling -----------------------------------------------------------------------------------
def test_scaled_object_thresholds_come_from_the_plan(pulumi_mocks):
    for name, capacity in (("a-24", 24), ("a-40", 40)):
        build(pulumi_mocks, name, args_for(replace(SINGLE_GPU, per_replica_max_concurrency=capacity)))
    specs = {
        name: kv.unwrap(next(r for r in mine(pulumi_mocks, name) if r.type == SCALED).inputs)["spec"]
        for name in ("a-24", "a-40")
    }
    for name, capacity in (("a-24", 24), ("a-40", 40)):
        spec = specs[name]
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llama-8b"}
        assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (2, 4)
        inflight, kv_trigger = spec["triggers"]
        assert "vllm:num_requests_waiting" in inflight["metadata"]["query"]
        assert 'model_name="llama-8b"' in inflight["metadata"]["query"]
        assert inflight["metadata"]["threshold"] == str(int(capacity * 0.8))
        assert "vllm:kv_cache_usage_perc" in kv_trigger["metadata"]["query"]
        behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
        assert behavior["scaleDown"]["stabilizationWindowSeconds"] >= 600
    thresholds = {name: spec["triggers"][0]["metadata"]["threshold"] for name, spec in specs.items()}
    assert thresholds["a-24"] != thresholds["a-40"]


def test_hpa_owns_replicas_when_autoscaling(pulumi_mocks):
    build(pulumi_mocks, "a-on", args_for(SINGLE_GPU))
    build(pulumi_mocks, "a-off", args_for(SINGLE_GPU, autoscaling=False))
    assert "replicas" not in workload(pulumi_mocks, "a-on")["spec"]
    assert workload(pulumi_mocks, "a-off")["spec"]["replicas"] == 2
    assert not [r for r in mine(pulumi_mocks, "a-off") if r.type == SCALED]


def test_custom_resources_wait_for_their_crds(pulumi_mocks):
    deps: dict[str, list[str]] = {}
    monitor = pulumi.runtime.settings.get_monitor()
    register = monitor.RegisterResource

    def recording(request):
        deps[request.name] = list(request.dependencies)
        return register(request)

    monitor.RegisterResource = recording
    crds = k8s.helm.v3.Release("crd-keda", chart="keda", version="2.20.2")
    build(pulumi_mocks, "d-lws", args_for(TWO_NODE_EFA, crd_dependencies=[crds]))
    keda_urn = pulumi_mocks_run(crds.urn)
    for r in mine(pulumi_mocks, "d-lws"):
        is_cr = r.type in (LWS, SCALED)
        assert (keda_urn in deps[r.name]) == is_cr, r.type


# --- validation before registration ----------------------------------------------------------------
def test_every_problem_is_reported_at_once(pulumi_mocks):
    args = replace(
        args_for(TWO_NODE_EFA),
        efa_interfaces=0,
        expose="gateway",
        model_cache=ModelCache.pvc("rwo", access_mode="ReadWriteOnce"),
        placement_domain_label="gpuforge.io/pool",
        hf_token=TOKEN,
        hf_token_secret_name="also",
    )
    with pytest.raises(SpecError) as e:
        ModelServer("many", args)
    paths = {p.path for p in e.value.problems}
    assert {
        "efa_interfaces",
        "serving.gateway_name",
        "model_cache.access_mode",
        "placement_domain_label",
        "model.hf_token",
    } <= paths
    assert all(p.fix for p in e.value.problems)
    assert pulumi_mocks.resources == []


def test_placement_domain_label_sets_exclusive_topology(pulumi_mocks):
    build(pulumi_mocks, "z-excl", args_for(TWO_NODE_EFA, placement_domain_label="example.com/fabric-domain"))
    lws = workload(pulumi_mocks, "z-excl")
    assert lws["metadata"]["annotations"] == {
        "leaderworkerset.sigs.k8s.io/exclusive-topology": "example.com/fabric-domain"
    }


# --- the pod's scripts actually run (stub vllm / getent on PATH) -----------------------------------
def _write_scripts(tmp_path):
    from gpuforge.engine.launch import scripts

    d = tmp_path / "gpuforge"
    d.mkdir()
    for name, text in scripts().items():
        (d / name).write_text(text.replace("/opt/gpuforge", str(d)).replace("/tmp/nccl", str(tmp_path / "nccl")))
    return d


def _stub(tmp_path, name: str, body: str):
    import os
    import stat

    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    path = bindir / name
    path.write_text("#!/bin/bash\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}


def test_launch_wrapper_forwards_sigterm_and_returns_the_servers_status(tmp_path):
    import signal
    import subprocess
    import time

    d = _write_scripts(tmp_path)
    log = tmp_path / "log"
    env = _stub(tmp_path, "vllm", f'trap \'echo "vllm got TERM" >> {log}; exit 0\' TERM; echo "vllm $*" >> {log}; '
                                  "while :; do sleep 0.1; done")
    proc = subprocess.Popen(["bash", str(d / "launch.sh"), "vllm", "serve", "m", "--shutdown-timeout", "30"], env=env)
    for _ in range(50):
        if log.exists():
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert log.read_text().splitlines() == ["vllm serve m --shutdown-timeout 30", "vllm got TERM"]

    env = _stub(tmp_path, "vllm", "exit 3")
    assert subprocess.run(["bash", str(d / "launch.sh"), "vllm"], env=env, timeout=10).returncode == 3


def test_worker_waits_for_the_leader_name_then_starts(tmp_path):
    import subprocess

    d = _write_scripts(tmp_path)
    state = tmp_path / "calls"
    _stub(tmp_path, "vllm", f'echo "vllm $*" >> {tmp_path / "log"}')
    # The leader's name resolves on the third lookup (its pod got an IP).
    env = _stub(tmp_path, "getent", f'n=$(cat {state} 2>/dev/null || echo 0); echo $((n+1)) > {state}; [ "$n" -ge 2 ]')
    env.update({"GPUFORGE_ROLE": "worker", "LWS_LEADER_ADDRESS": "llama-405b-0.llama-405b.llm", "GPUFORGE_POLL_S": "0"})
    done = subprocess.run(["bash", str(d / "launch.sh"), "vllm", "serve", "--headless"], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert state.read_text().strip() == "3"
    assert done.stdout.count("waiting for the group leader llama-405b-0.llama-405b.llm") == 2
    assert (tmp_path / "log").read_text().strip() == "vllm serve --headless"


@pytest.mark.parametrize(
    "expected, nccl_line, ok",
    [
        ("IB", "node-0:123:140 [0] NCCL INFO Using network IB", True),
        ("Libfabric", "node-0:123:140 [0] NCCL INFO Using network Libfabric", True),
        ("Libfabric", "node-0:123:140 [0] NCCL INFO Using network AWS Libfabric", True),
        ("Libfabric", "node-0:123:140 [0] NCCL INFO Using network Socket", False),  # the issue's silent fallback
        ("IB", "node-0:123:140 [0] NCCL INFO Using network Socket", False),
    ],
    ids=["ib", "efa", "efa-aws-name", "efa-fell-back", "ib-fell-back"],
)
def test_fabric_check_reads_ncclss_choice_and_reports_it(tmp_path, expected, nccl_line, ok):
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    d = _write_scripts(tmp_path)
    logs = tmp_path / "nccl"
    logs.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"GPUFORGE_NCCL_NET": expected, "GPUFORGE_METRICS_PORT": str(port), "GPUFORGE_POLL_S": "0.1",
           "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([sys.executable, str(d / "fabric_check.py")], env=env, stdout=subprocess.PIPE, text=True)
    body = ""
    for _ in range(50):
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1).read().decode()
            break
        except OSError:
            time.sleep(0.1)
    assert "gpuforge_nccl_fabric_checked 0" in body  # nothing logged yet
    (logs / "nccl.node-0.123.log").write_text("node-0:123:140 [0] NCCL INFO NCCL version 2.27.3+cuda12.9\n" + nccl_line + "\n")
    line = proc.stdout.readline()
    assert ("passed" in line) == ok and ("FAILED" in line) == (not ok)
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    assert f"gpuforge_nccl_fabric_ok {int(ok)}" in body
    assert f'expected="{expected}"' in body and "gpuforge_nccl_fabric_checked 1" in body
    proc.terminate()
    proc.wait(timeout=5)


# --- the download step against a Hub-shaped server on 127.0.0.1 -----------------------------------
def _download(tmp_path, repo, **env_extra):
    import os
    import subprocess
    import sys

    from hub_download_server import serve

    d = _write_scripts(tmp_path)
    server, url = serve(repo)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HF_")},
        "HF_ENDPOINT": url,
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_ETAG_TIMEOUT": "5",
        "GPUFORGE_MODEL": repo.repo_id,
        "GPUFORGE_DOWNLOAD_GIB": "0.0",
        "GPUFORGE_DOWNLOAD_BACKOFF_S": "0.05",
        "GPUFORGE_PROGRESS_S": "0.05",
        **env_extra,
    }
    try:
        done = subprocess.run([sys.executable, str(d / "download.py")], env=env, capture_output=True, text=True, timeout=120)
    finally:
        server.shutdown()
    snap = tmp_path / "hf" / "hub" / f"models--{repo.repo_id.replace('/', '--')}" / "snapshots" / repo.sha
    return done, snap


def test_download_fetches_what_vllm_loads_and_retries_transient_errors(tmp_path):
    from hub_download_server import FakeRepo

    repo = FakeRepo(
        "meta-llama/Tiny-Instruct",
        {
            "config.json": b'{"model_type": "llama"}',
            "model-00001-of-00002.safetensors": b"A" * 4096,
            "model-00002-of-00002.safetensors": b"B" * 4096,
            "model.safetensors.index.json": b"{}",
            "tokenizer.json": b"{}",
            "original/consolidated.00.pth": b"P" * 8192,  # Meta's copy: as large as the weights
            "README.md": b"# readme",
        },
        fail_first={"model-00002-of-00002.safetensors": 2},  # the Hub rate-limits twice (429)
    )
    done, snap = _download(tmp_path, repo)
    assert done.returncode == 0, done.stdout + done.stderr
    got = sorted(p.relative_to(snap).as_posix() for p in snap.rglob("*") if p.is_file() or p.is_symlink())
    assert got == sorted(
        ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
         "model.safetensors.index.json", "tokenizer.json"]
    )  # fmt: skip
    assert (snap / "model-00002-of-00002.safetensors").read_bytes() == b"B" * 4096
    assert "attempt 1/8 failed" in done.stdout and "complete" in done.stdout
    assert not any("original/" in r for r in repo.requests)


def test_download_takes_mistral_format_weights_only_when_present(tmp_path):
    from hub_download_server import FakeRepo

    repo = FakeRepo(
        "mistralai/Tiny-Instruct",
        {"params.json": b"{}", "consolidated.safetensors": b"C" * 1024, "model.safetensors": b"M" * 1024,
         "config.json": b"{}", "tekken.json": b"{}"},
    )  # fmt: skip
    done, snap = _download(tmp_path, repo)
    assert done.returncode == 0, done.stdout + done.stderr
    names = {p.name for p in snap.iterdir()}
    assert "consolidated.safetensors" in names and "model.safetensors" not in names
    assert {"params.json", "tekken.json", "config.json"} <= names


def test_download_of_a_gated_repo_fails_at_once_with_the_reason(tmp_path):
    from hub_download_server import FakeRepo

    repo = FakeRepo("meta-llama/Gated", {"config.json": b"{}"}, gated=True)
    done, _ = _download(tmp_path, repo)
    assert done.returncode == 2
    assert "GatedRepoError" in done.stdout and "HF token" in done.stdout
    assert "attempt" not in done.stdout  # no retries: they cannot help


def test_download_takes_only_the_files_of_the_safetensors_index(tmp_path):
    """weight_utils.download_weights_from_hf: with a root model.safetensors.index.json vLLM
    downloads the files of its weight_map only (a stray consolidated copy in a subfolder stays)."""
    import json as _json

    from hub_download_server import FakeRepo

    index = {"weight_map": {"a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00002-of-00002.safetensors"}}
    repo = FakeRepo(
        "org/Indexed",
        {
            "config.json": b"{}",
            "model.safetensors.index.json": _json.dumps(index).encode(),
            "model-00001-of-00002.safetensors": b"A" * 64,
            "model-00002-of-00002.safetensors": b"B" * 64,
            "extra/merged.safetensors": b"X" * 512,  # not in the index: vLLM does not load it
        },
    )
    done, snap = _download(tmp_path, repo)
    assert done.returncode == 0, done.stdout + done.stderr
    got = sorted(p.relative_to(snap).as_posix() for p in snap.rglob("*") if p.is_file() or p.is_symlink())
    assert got == ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                   "model.safetensors.index.json"]  # fmt: skip


def test_single_node_server_does_not_wait_for_a_leader(tmp_path):
    import subprocess

    d = _write_scripts(tmp_path)
    _stub(tmp_path, "vllm", f'echo "vllm $*" >> {tmp_path / "log"}')
    env = _stub(tmp_path, "getent", "exit 2")  # would never resolve
    env.pop("LWS_LEADER_ADDRESS", None)
    done = subprocess.run(["bash", str(d / "launch.sh"), "vllm", "serve"], env=env, capture_output=True, text=True, timeout=10)
    assert done.returncode == 0 and "waiting" not in done.stdout


def test_sigterm_while_waiting_for_the_leader_stops_the_wait(tmp_path):
    import signal
    import subprocess
    import time

    d = _write_scripts(tmp_path)
    _stub(tmp_path, "vllm", f'echo "vllm $*" >> {tmp_path / "log"}')
    env = _stub(tmp_path, "getent", "exit 2")  # the leader never resolves
    env.update({"GPUFORGE_ROLE": "worker", "LWS_LEADER_ADDRESS": "x-0.x.llm", "GPUFORGE_POLL_S": "0.2"})
    proc = subprocess.Popen(["bash", str(d / "launch.sh"), "vllm", "serve"], env=env, stdout=subprocess.PIPE, text=True)
    assert "waiting for the group leader" in proc.stdout.readline()
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 143
    assert not (tmp_path / "log").exists()  # vLLM never started
