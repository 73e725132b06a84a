"""ModelServer under Pulumi mocks: manifests valid, engine arguments, fabric, probes, secrets."""

from __future__ import annotations

import shlex
from dataclasses import replace

import k8s_validation as kv
import pulumi
import pulumi_kubernetes as k8s
import pytest
from gpuforge.errors import SpecError
from gpuforge.k8s import ModelCache, ModelServer, ModelServerArgs, startup_budget_s
from gpuforge.k8s.model_server import ENGINE_INIT_S, HF_DOWNLOAD_GIB_PER_S, serve_command
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


def args_for(plan: ServingPlan, **kw) -> ModelServerArgs:
    vcpus, mem = NODES[plan.pool_name]
    kw.setdefault("efa_interfaces", 32 if plan.fabric == "efa" else 0)
    return ModelServerArgs.from_plan(plan, node_vcpus=vcpus, node_memory_gib=mem, **kw)


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
    assert c["command"] == ["vllm", "serve"]
    assert c["args"] == [plan.model, *plan.engine_args(), "--host", "0.0.0.0", "--port", "8000"]
    argv = c["args"]
    assert argv[argv.index("--tensor-parallel-size") + 1] == str(plan.tensor_parallel_size)
    assert argv[argv.index("--max-model-len") + 1] == str(plan.max_model_len)
    assert argv[argv.index("--gpu-memory-utilization") + 1] == "0.9"
    assert c["resources"]["limits"]["nvidia.com/gpu"] == gpus
    assert "--distributed-executor-backend" not in argv


def test_tp8_fp8_plan_passes_quantization_and_kv_dtype(pulumi_mocks):
    build(pulumi_mocks, "e-fp8", args_for(TP8))
    argv = pod_specs(workload(pulumi_mocks, "e-fp8"))["server"]["containers"][0]["args"]
    assert argv[argv.index("--quantization") + 1] == "fp8"
    assert argv[argv.index("--kv-cache-dtype") + 1] == "fp8"
    assert "--revision" not in argv  # the plan pins none


def test_single_gpu_plan_pins_the_revision(pulumi_mocks):
    build(pulumi_mocks, "e-rev", args_for(SINGLE_GPU))
    argv = pod_specs(workload(pulumi_mocks, "e-rev"))["server"]["containers"][0]["args"]
    assert argv[argv.index("--revision") + 1] == SINGLE_GPU.revision


def test_two_node_plan_is_a_leaderworkerset_with_ray(pulumi_mocks):
    args = args_for(TWO_NODE_EFA)
    build(pulumi_mocks, "e-2n", args)
    lws = workload(pulumi_mocks, "e-2n")
    assert lws["apiVersion"] == "leaderworkerset.x-k8s.io/v1" and lws["kind"] == "LeaderWorkerSet"
    assert lws["spec"]["leaderWorkerTemplate"]["size"] == 2
    assert lws["spec"]["leaderWorkerTemplate"]["restartPolicy"] == "RecreateGroupOnPodRestart"
    pods = pod_specs(lws)
    leader, worker = pods["server"]["containers"][0], pods["worker"]["containers"][0]

    script = leader["command"][2].splitlines()
    assert leader["command"][:2] == ["/bin/bash", "-c"]
    assert any(line.startswith("ray start --head --port=6379") for line in script)
    assert any("-ge 16 ]" in line for line in script)  # waits for 2 x 8 GPUs before serving
    serve = shlex.split(script[-1])
    assert serve[0] == "exec" and serve[1:] == serve_command(args)
    argv = serve[1:]
    assert argv[argv.index("--tensor-parallel-size") + 1] == "8"
    assert argv[argv.index("--pipeline-parallel-size") + 1] == "2"
    assert argv[argv.index("--distributed-executor-backend") + 1] == "ray"

    assert "ray start --address=$(LWS_LEADER_ADDRESS):6379 --block" in worker["command"][2]
    assert "vllm serve" not in worker["command"][2]
    assert "startupProbe" not in worker and "ports" not in worker  # workers serve nothing
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == "8"


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


def test_infiniband_fabric_resources_and_env(pulumi_mocks):
    build(pulumi_mocks, "f-ib", args_for(TWO_NODE_IB))
    for role, spec in pod_specs(workload(pulumi_mocks, "f-ib")).items():
        c = spec["containers"][0]
        assert c["resources"]["limits"]["rdma/ib"] == "1", role
        assert "vpc.amazonaws.com/efa" not in c["resources"]["limits"]
        env = env_of(c)
        assert env["NCCL_IB_DISABLE"] == "0"
        assert not any(k.startswith("FI_") for k in env)
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
def test_startup_probe_covers_download_and_load(pulumi_mocks, plan):
    build(pulumi_mocks, f"p-{plan.name}", args_for(plan))
    c = pod_specs(workload(pulumi_mocks, f"p-{plan.name}"))["server"]["containers"][0]
    sp = c["startupProbe"]
    allowed = sp["periodSeconds"] * sp["failureThreshold"]
    assert allowed >= ENGINE_INIT_S + plan.weights_gib_total / HF_DOWNLOAD_GIB_PER_S
    assert allowed >= startup_budget_s(plan.weights_gib_total, plan.nodes_per_replica)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert c["readinessProbe"]["periodSeconds"] * c["readinessProbe"]["failureThreshold"] < allowed


def test_startup_budget_grows_with_the_checkpoint():
    assert startup_budget_s(15) < startup_budget_s(70) < startup_budget_s(760, 2)


def test_deployment_rollout_deadline_and_pulumi_wait_cover_the_startup(pulumi_mocks):
    args = args_for(TP8)
    build(pulumi_mocks, "p-wait", args)
    dep = workload(pulumi_mocks, "p-wait")
    assert dep["spec"]["progressDeadlineSeconds"] > args.startup_seconds
    assert int(dep["metadata"]["annotations"]["pulumi.com/timeoutSeconds"]) > args.startup_seconds


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


# --- the group scripts actually run (with stub ray / python3 / vllm on PATH) -------------------------
def _stubs(tmp_path, python3_body: str):
    import os
    import stat

    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "log"
    scripts = {
        "ray": f'echo "ray $*" >> {log}',
        "vllm": f'echo "vllm $*" >> {log}',
        "python3": python3_body.replace("LOG", str(log)).replace("STATE", str(tmp_path / "calls")),
    }
    for name, body in scripts.items():
        path = bindir / name
        path.write_text("#!/bin/bash\n" + body + "\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}
    return env, log


def test_leader_waits_for_every_gpu_then_serves(tmp_path):
    import subprocess

    from gpuforge.k8s.model_server import leader_script

    # The Ray cluster reports 8 GPUs twice (worker not joined yet), then 16.
    env, log = _stubs(
        tmp_path,
        'n=$(cat STATE 2>/dev/null || echo 0); echo $((n+1)) > STATE; if [ "$n" -lt 2 ]; then echo 8; else echo 16; fi',
    )
    script = leader_script(args_for(TWO_NODE_EFA)).replace("sleep 5", "sleep 0")
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    lines = log.read_text().splitlines()
    assert lines[0] == "ray start --head --port=6379 --disable-usage-stats"
    assert lines[1].startswith("vllm serve meta-llama/Llama-3.1-405B-Instruct ")
    assert (tmp_path / "calls").read_text().strip() == "3"  # polled until all 16 GPUs joined
    assert done.stdout.count("waiting for 16 GPUs") == 2


def test_worker_waits_for_the_head_then_joins(tmp_path):
    import subprocess

    from gpuforge.k8s.model_server import worker_script

    # The head's port refuses twice, then accepts.
    env, log = _stubs(
        tmp_path,
        'n=$(cat STATE 2>/dev/null || echo 0); echo $((n+1)) > STATE; echo "probe $*" >> LOG; [ "$n" -ge 2 ]',
    )
    # The kubelet expands $(LWS_LEADER_ADDRESS) from the env var LWS injects.
    script = worker_script().replace("$(LWS_LEADER_ADDRESS)", "llama-405b-0.llama-405b").replace("sleep 5", "sleep 0")
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    lines = log.read_text().splitlines()
    assert lines[-1] == "ray start --address=llama-405b-0.llama-405b:6379 --block"
    assert sum(line.startswith("probe") for line in lines) == 3
