"""The examples of issue 10 ("Plans that vLLM will run"), each as a black-box check through the
interfaces the code had before the issue (load_spec -> plan_deployment -> to_plan ->
engine_args; `gpuforge estimate`; sizing.models.resolve), so that each can be run against the
pre-issue code (aa6d237) as well: each fails there and passes here (bench/RESULTS.md records
the run). The rules behind them are tested one by one in tests/test_engine.py,
tests/test_placement.py, tests/test_catalog_checkpoints.py and tests/test_itl_tail.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gpuforge.errors import SpecError
from gpuforge.sizing.planner import plan_deployment
from gpuforge.spec import load_spec

HUB = Path(__file__).parent / "fixtures" / "hub"


def spec(model: str, I=1000, O=200, conc=8, ttft=3000, itl=100, families=None, cloud="aws", min_replicas=1, spread_zones=False, precision=None, zone=None, **model_extra):
    return load_spec({
        "name": "ex",
        "model": {"id": model, **({"precision": precision} if precision else {}), **model_extra},
        "workload": {"input_tokens": I, "output_tokens": O, "peak_concurrency": conc},
        "sla": {"ttft_p95_ms": ttft, "itl_p95_ms": itl, "min_replicas": min_replicas, "spread_zones": spread_zones},
        "target": {"cloud": cloud, **({"instance_families": families} if families else {}), **({"zone": zone} if zone else {})},
    })


def flags(args: list[str]) -> dict[str, str]:
    out, i = {}, 0
    while i < len(args):
        if args[i].startswith("--") and i + 1 < len(args) and not args[i + 1].startswith("--"):
            out[args[i]] = args[i + 1]
            i += 2
        else:
            out[args[i]] = ""
            i += 1
    return out


def planned(s):
    return plan_deployment(s).to_plan()


# --- a model is a checkpoint ------------------------------------------------------------------
@pytest.mark.parametrize("named, served", [
    ("llama-3.1-405b-instruct", "meta-llama/Llama-3.1-405B-Instruct"),
    ("meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-8B"),
    ("google/gemma-7b-it", "google/gemma-7b-it"),
    ("mistralai/Mistral-7B-Instruct-v0.1", "mistralai/Mistral-7B-Instruct-v0.1"),
])
def test_the_repo_served_is_the_one_named(named, served):
    p = planned(spec(named, ttft=60000, itl=400, families=["p5", "p4d", "g6e", "g5", "g6"], zone="us-east-1a"))
    assert p.serving.model == served


def test_a_third_party_fp8_repo_is_served_as_itself_and_sized_at_fp8(tmp_path, monkeypatch):
    # before: RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic was an alias of the bf16 row: the bf16
    # repo was served and sized (~131 GiB of weights). Now it is read from the Hub (a stand-in
    # on 127.0.0.1 serving tests/fixtures/hub) with its own compressed-tensors FP8 config.
    import huggingface_hub.constants
    from hub_server import HubServer, HubState

    monkeypatch.setenv("GPUFORGE_CACHE_DIR", str(tmp_path / "cache"))  # gpuforge.hub.CACHE_ENV
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    repo = "RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic"
    with HubServer(HubState()) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        p = planned(spec(repo, ttft=60000, itl=400, families=["p5", "p4d", "g6e"]))
    assert p.serving.model == repo
    assert "--quantization" not in p.serving.engine_args()  # the checkpoint's config says it
    assert p.serving.weights_gib_total < 75  # 8-bit weights (70.6B parameters), not 131 GiB


# --- precisions as vLLM applies them ----------------------------------------------------------
@pytest.mark.parametrize("precision", ["int8", "mxfp4", "int4-awq", "int4-gptq"])
def test_a_16_bit_repo_is_not_planned_at_a_precision_vllm_cannot_apply_at_load(precision):
    # vLLM quantizes a 16-bit checkpoint at load time only to fp8; other precisions need a
    # checkpoint that ships them (before: int8 / mxfp4 planned with 16-bit weights and no
    # --quantization, awq/gptq with a --quantization vLLM refuses for this repo)
    with pytest.raises(SpecError):
        planned(spec("llama-3.1-8b-instruct", precision=precision, families=["g6", "g5", "g4dn"]))


def test_gpt_oss_mxfp4_is_not_planned_on_turing():
    # MXFP4 needs compute capability 8.0 (T4 is 7.5): before, planned on g4dn
    with pytest.raises(SpecError):
        planned(spec("gpt-oss-20b", families=["g4dn"], ttft=60000, itl=1000))


@pytest.mark.parametrize("model", ["gemma-2-9b-it", "gemma-3-12b-it"])
def test_gemma_2_and_3_are_never_served_in_float16(model):
    # vLLM refuses float16 for gemma-2/3; T4 has no bf16, so no T4 plan (before: --dtype float16)
    try:
        p = planned(spec(model, families=["g4dn"], ttft=60000, itl=1000))
    except SpecError:
        return
    assert flags(p.serving.engine_args()).get("--dtype") != "float16"
    assert p.node_pool.gpu != "t4"


def test_mi300x_is_not_chosen_while_serving_renders_cuda():
    try:
        p = planned(spec("llama-3.1-70b-instruct", cloud="azure", families=["ND_MI300X_v5", "ND_H100_v5"], ttft=60000, itl=1000))
    except SpecError:
        return
    assert p.node_pool.gpu != "mi300x"


@pytest.mark.parametrize("families", [["g6"], ["p4d"]])
def test_block_fp8_qwen3_moe_never_at_a_tp_that_splits_a_128_block(families):
    # Qwen3-30B-A3B-FP8: moe_intermediate_size 768; 768 / 4 = 192 and 768 / 8 = 96 are not
    # multiples of the 128 block (before: TP4 on g6.12xlarge, TP8 on p4d)
    try:
        p = planned(spec("qwen3-30b-a3b-fp8", conc=128, I=2000, O=500, ttft=3000, itl=40, families=families))
    except SpecError:
        return
    tp = p.serving.tensor_parallel_size
    assert (768 // tp) % 128 == 0 and 768 % tp == 0, tp


# --- placement that schedules -----------------------------------------------------------------
def test_min_replicas_two_means_two_nodes():
    # p4d has only 8-GPU nodes: before, both replicas went on one node
    p = planned(spec("llama-3.1-8b-instruct", conc=4, min_replicas=2, families=["p4d"]))
    assert p.serving.replicas >= 2
    assert p.node_pool.min_nodes >= 2 and p.node_pool.desired_nodes >= 2


def test_spread_zones_means_two_zones():
    p = planned(spec("llama-3.1-8b-instruct", conc=4, min_replicas=2, spread_zones=True, families=["p4d"]))
    assert len(set(p.node_pool.zones)) >= 2 and p.node_pool.desired_nodes >= 2


def test_pods_packed_on_one_node_fit_its_cpu_and_memory():
    # before: several replicas per node, each requesting ~90% of the node
    p = planned(spec("llama-3.1-8b-instruct", conc=64, I=500, O=100, ttft=2000, itl=40, families=["p5en"]))
    s, pool = p.serving, p.node_pool
    per_node = pool.gpus_per_node // (s.tensor_parallel_size * s.pipeline_parallel_size)
    from gpuforge import catalog

    inst = next(i for i in catalog.all_instances("aws") if i.name == pool.instance_type)
    assert per_node * s.cpu_request < inst.vcpus and per_node * s.memory_request_gib < inst.memory_gib


# --- honest SLA figures -----------------------------------------------------------------------
@pytest.mark.parametrize("conc", [4, 16, 48])
def test_the_plan_keeps_headroom_and_its_itl_p95_is_not_below_the_mean(conc):
    r = plan_deployment(spec("llama-3.1-8b-instruct", conc=conc, I=2000, O=300, ttft=300, itl=30, families=["g6e", "p5", "g6"]))
    perf = r.chosen.performance
    assert perf.ttft_p95_ms <= 300 * 0.9 and perf.itl_p95_ms <= 30 * 0.9
    assert perf.itl_p95_ms >= perf.itl_ms


# --- context ----------------------------------------------------------------------------------
@pytest.mark.parametrize("model, native", [("llama-3.1-8b-instruct", 131072), ("deepseek-r1", 163840)])
def test_max_model_len_defaults_to_the_native_context(model, native):
    p = planned(spec(model, I=1000, O=200, ttft=60000, itl=1000, families=["p5", "p5e", "p5en", "p4d", "g6e"], zone="us-east-1a"))
    assert p.serving.max_model_len == native
    assert flags(p.serving.engine_args())["--max-model-len"] == str(native)


def test_max_model_len_above_the_model_limit_is_a_spec_error():
    s = load_spec({
        "name": "ex", "model": {"id": "llama-3.1-8b-instruct"},
        "workload": {"input_tokens": 1000, "output_tokens": 200, "peak_concurrency": 4, "max_model_len": 262144},
        "sla": {"ttft_p95_ms": 3000, "itl_p95_ms": 100}, "target": {"cloud": "aws"},
    })
    with pytest.raises(SpecError):
        planned(s)


# --- estimate agrees with the planner -------------------------------------------------------
def test_estimate_does_not_suggest_fp8_kv_where_the_planner_forbids_it(capsys):
    from gpuforge.cli import main

    rc = main(["estimate", "--model", "llama-3.1-8b-instruct", "--gpu", "t4", "--max-model-len", "32768"])
    out = capsys.readouterr()
    text = out.out + out.err
    if "kv-cache-dtype fp8" in text or "kv_cache_dtype fp8" in text:
        # the suggestion must be one the planner accepts on this GPU
        p = planned(spec("llama-3.1-8b-instruct", families=["g4dn"], ttft=60000, itl=1000, kv_cache_dtype=["fp8"]))
        assert p.serving.kv_cache_dtype == "fp8"
    assert rc in (0, 1, 2)


# --- any Hugging Face config ------------------------------------------------------------------
def test_a_multimodal_wrapper_config_is_sized_from_its_text_config():
    from gpuforge.sizing.models import resolve

    cfg = json.loads((HUB / "google" / "gemma-3-4b-it" / "config.json").read_text())
    m = resolve("google/gemma-3-4b-it", config=cfg, hf_id="google/gemma-3-4b-it")
    assert m.arch.num_layers == 34 and m.arch.hidden_size == 2560
