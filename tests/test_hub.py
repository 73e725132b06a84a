"""Models outside the catalog, read from a Hub-shaped server on 127.0.0.1 (never a mock of huggingface_hub).

Every test runs huggingface_hub's real HTTP code against `hub_server.HubServer`, which answers
with the Hub's URLs, headers and error codes (see its docstring), with HF_ENDPOINT pointing at it
and a private GPUFORGE_CACHE_DIR.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from gpuforge import hub
from gpuforge.errors import SpecError
from gpuforge.hub import HubError, resolve_repo, vllm_weight_files
from gpuforge.sizing.architecture import parse_config
from hub_server import FIXTURES, HubServer, HubState

GEMMA = "google/gemma-3-4b-it"
GEMMA_SHA = "093f9f388b31de276ce2de164bdc2081324b9767"
REPO = Path(__file__).resolve().parent.parent


def _closed_port_url() -> str:
    """An endpoint where nothing listens (connection refused at once)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def hub_env(tmp_path, monkeypatch):
    """A running stand-in Hub, HF_ENDPOINT at it, an empty cache and no ambient token."""
    import huggingface_hub.constants

    state = HubState(tokens={"hf_granted": {GEMMA}, "hf_not_granted": set()})
    monkeypatch.setenv(hub.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    # a stored `hf auth login` token on the machine running the tests must not leak in
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    with HubServer(state) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


def _listing(repo: str) -> dict[str, int]:
    """The fixture repo's files and sizes, read independently of the server."""
    d = FIXTURES / repo
    sizes = {p.relative_to(d).as_posix(): p.stat().st_size for p in d.rglob("*") if p.is_file() and p.name != "_repo.json"}
    sizes.update(json.loads((d / "_repo.json").read_text()).get("listed") or {})
    return sizes


# ---- success ----------------------------------------------------------------------------------


def test_gated_multimodal_repo_with_token(hub_env, capsys):
    ckpt = resolve_repo(GEMMA, token="hf_granted")
    assert ckpt.source == "hub" and ckpt.commit == GEMMA_SHA and ckpt.gated == "manual"
    # the token went with every request; the files were read at the commit the listing named
    assert all(auth == "Bearer hf_granted" for _, _, auth in hub_env.state.requests)
    assert ("HEAD", f"/{GEMMA}/resolve/{GEMMA_SHA}/config.json", "Bearer hf_granted") in hub_env.state.requests
    assert f"reading {GEMMA}@main from the Hugging Face Hub" in capsys.readouterr().err
    # what vLLM downloads: the two indexed shards + top-level config / tokenizer / processor
    # files; not README.md or .gitattributes
    sizes = _listing(GEMMA)
    expected = [
        "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "config.json", "generation_config.json",
        "model.safetensors.index.json", "tokenizer_config.json", "preprocessor_config.json", "added_tokens.json",
        "chat_template.json", "processor_config.json", "special_tokens_map.json", "tokenizer.json", "tokenizer.model",
    ]
    assert ckpt.weight_files == ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
    assert ckpt.download_bytes == sum(sizes[f] for f in expected)
    assert ckpt.params_total == 4_300_079_472  # from the Hub's safetensors metadata
    assert ckpt.quantization_config is None
    assert ckpt.tokenizer_max_length is None  # gemma's tokenizer says 1e30: no limit
    assert ckpt.cache_path.is_file() and ckpt.cache_path.name == "google--gemma-3-4b-it@main.json"


def test_gemma3_4b_config_parses_with_transformers_defaults():
    """The real config.json names 6 text fields; the rest are Gemma3TextConfig defaults."""
    arch = parse_config(json.loads((FIXTURES / GEMMA / "config.json").read_text()))
    assert (arch.num_layers, arch.hidden_size, arch.intermediate_size) == (34, 2560, 10240)
    assert (arch.num_heads, arch.num_kv_heads, arch.head_dim, arch.vocab_size) == (8, 4, 256, 262208)
    assert arch.tie_word_embeddings and arch.torch_dtype == "bfloat16"
    # 5 sliding (1024) layers then 1 global: 29 + 5 over 34 layers
    assert arch.attention_groups == (("sliding", 1024, 29), ("full", None, 5))
    assert arch.layers[5].kind == "full" and arch.layers[4].kind == "sliding"
    # linear rope x8 is already part of gemma3's 128K (vLLM skips the factor for gemma3)
    assert (arch.max_model_len_default, arch.max_model_len_limit) == (131072, 131072)


def test_hub_model_sizes_vision_tower_from_the_checkpoint_count(hub_env):
    from gpuforge.sizing.models import resolve

    model = resolve(GEMMA, token="hf_granted")
    assert model.hub is not None, "google/gemma-3-4b-it is now in the catalog: pick another repo for this test"
    assert model.hf_id == GEMMA and model.revision == GEMMA_SHA  # served at the commit that was sized
    assert model.params_total == 4_300_079_472
    assert model.extra_params == 4_300_079_472 - parse_config(model.hub.config).params_total > 400e6  # SigLIP + projector
    assert model.checkpoint_precision == "bf16"


@pytest.mark.parametrize(
    "repo, method, precision, params",
    [
        # Qwen's block FP8: quant_method fp8 with 128x128 weight blocks, in config.json
        ("Qwen/Qwen3-8B-FP8", "fp8", "fp8", 8_197_351_936),
        # AutoAWQ GEMM: packed int32 weights, so the safetensors count is not a parameter count
        ("Qwen/Qwen2.5-7B-Instruct-AWQ", "awq", "int4-awq", None),
    ],
)
def test_quantization_config_from_config_json(hub_env, repo, method, precision, params):
    ckpt = resolve_repo(repo)
    assert ckpt.quantization_config["quant_method"] == method
    arch = parse_config(ckpt.config, hf_quant_config=ckpt.hf_quant_config, tokenizer_max_length=ckpt.tokenizer_max_length)
    assert arch.checkpoint_quantization == precision
    assert ckpt.params_total == params
    # the tokenizer's 131072 does not raise the config's own limit
    assert arch.max_model_len_default == json.loads((FIXTURES / repo / "config.json").read_text())["max_position_embeddings"]


def test_fp8_block_size_reaches_the_architecture(hub_env):
    ckpt = resolve_repo("Qwen/Qwen3-8B-FP8")
    assert parse_config(ckpt.config).quantization_config["weight_block_size"] == [128, 128]


def test_modelopt_quantization_lives_in_hf_quant_config(hub_env):
    """ModelOpt <= 0.29 writes no quantization_config into config.json (vLLM reads hf_quant_config.json)."""
    ckpt = resolve_repo("nvidia/Llama-3.1-8B-Instruct-FP8")
    assert "quantization_config" not in ckpt.config
    assert ckpt.quantization_config == ckpt.hf_quant_config
    assert ckpt.quantization_config["quantization"]["quant_algo"] == "FP8"
    assert parse_config(ckpt.config, hf_quant_config=ckpt.hf_quant_config).checkpoint_quantization == "fp8"
    assert ckpt.tokenizer_max_length == 131072


def test_a_modelopt_repo_read_from_the_hub_is_planned_as_vllm_loads_it(hub_env):
    """hf_quant_config.json has no quant_method: vLLM normalises it to `modelopt`
    (model_arch_config_convertor.py:169-204); gpuforge refused the repo before."""
    from gpuforge.engine import vllm as engine
    from gpuforge.sizing.models import resolve

    model = resolve("nvidia/Llama-3.1-8B-Instruct-FP8")
    assert model.hub is not None and model.checkpoint_precision == "fp8"
    scheme = engine.quantization_scheme(model.arch.quantization_config)
    assert scheme is not None and (scheme.method, scheme.min_capability) == ("modelopt", 89)
    # kv_cache_quant_algo FP8: --kv-cache-dtype auto runs an fp8 cache (engine/arg_utils.py:1567-1570)
    assert engine.resolved_kv_cache_dtype("auto", model.arch.quantization_config) == "fp8"


def test_an_awq_repo_is_planned_on_turing_as_vllm_runs_it(hub_env):
    """AutoAWQ 4-bit g128 with zero points: vLLM 0.19.0 converts it to awq_marlin, which runs
    from sm75 (awq_marlin.py:206-207, utils/marlin_utils.py:56-57) with float16 or bfloat16
    activations; a T4 has no bfloat16, so float16, and no --quantization is passed."""
    from gpuforge.sizing.planner import build_plan, plan_deployment
    from gpuforge.spec import load_spec

    spec = load_spec(
        {
            "name": "awq",
            "model": {"id": "Qwen/Qwen2.5-7B-Instruct-AWQ"},
            "workload": {"input_tokens": 500, "output_tokens": 200, "max_model_len": 4096, "peak_concurrency": 4},
            "target": {"cloud": "aws", "region": "us-east-1", "instance_families": ["g4dn"]},
            "sla": {"ttft_p95_ms": 60000, "itl_p95_ms": 1000},
        }
    )
    serving = build_plan(plan_deployment(spec)).serving
    assert serving.model == "Qwen/Qwen2.5-7B-Instruct-AWQ" and serving.gpu == "t4"
    assert (serving.precision, serving.quantization_method, serving.dtype) == ("int4-awq", "awq_marlin", "float16")
    assert "--quantization" not in serving.engine_args()


def test_revision_is_honoured_and_cached_apart(hub_env):
    ckpt = resolve_repo(GEMMA, GEMMA_SHA, token="hf_granted")
    assert ("GET", f"/api/models/{GEMMA}/revision/{GEMMA_SHA}", "Bearer hf_granted") in hub_env.state.requests
    assert ckpt.revision == GEMMA_SHA and ckpt.cache_path.name == f"google--gemma-3-4b-it@{GEMMA_SHA}.json"


# ---- failures: one clear error naming the repo and the fix ---------------------------------------


def _error(repo: str, **kw) -> HubError:
    with pytest.raises(HubError) as exc:
        resolve_repo(repo, **kw)
    err = exc.value
    assert isinstance(err, SpecError) and err.repo_id == repo and repo in str(err)
    assert err.problems[0].path == "model.id"
    return err


def test_gated_repo_without_token(hub_env):
    err = _error(GEMMA)
    text = str(err)
    assert "is gated" in text and "none was given" in text
    assert "HF_TOKEN" in text and "hf_token_config_key" in text and f"{hub_env.url}/{GEMMA}" in text
    assert not hub.cache_path(GEMMA, None).exists()  # a failure caches nothing


def test_gated_repo_with_a_token_that_was_not_granted(hub_env):
    err = _error(GEMMA, token="hf_not_granted")
    assert "has no access" in str(err) and "accept the model's conditions" in str(err)


def test_invalid_token(hub_env):
    assert "refused the token" in str(_error(GEMMA, token="hf_typo"))


@pytest.mark.parametrize("token", [None, "hf_not_granted"])  # 401 anonymously, 404 with a token
def test_missing_repo(hub_env, token):
    err = _error("google/gemma-3-4b-itt", token=token)
    assert "is not a model repo" in str(err) and "check the spelling" in str(err)


def test_missing_revision(hub_env):
    assert "has no revision 'v9'" in str(_error("Qwen/Qwen3-8B-FP8", revision="v9"))


def test_not_a_repo_id_is_refused_before_any_request(hub_env):
    assert "is not a Hugging Face repo id" in str(_error("gemma 3")) and not hub_env.state.requests


# ---- offline -----------------------------------------------------------------------------------


def test_offline_after_one_lookup_reads_the_cache(hub_env, monkeypatch):
    first = resolve_repo(GEMMA, token="hf_granted")
    seen = len(hub_env.state.requests)
    monkeypatch.setenv("HF_ENDPOINT", _closed_port_url())
    again = resolve_repo(GEMMA)  # no token needed any more: nothing is fetched
    assert again.source == "cache" and len(hub_env.state.requests) == seen
    assert (again.commit, again.config, again.download_bytes, again.weight_files) == (first.commit, first.config, first.download_bytes, first.weight_files)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_repo(GEMMA).source == "cache"


def test_unreachable_hub_without_cache(hub_env, monkeypatch):
    url = _closed_port_url()
    monkeypatch.setenv("HF_ENDPOINT", url)
    err = _error("Qwen/Qwen3-8B-FP8")
    assert f"Hub at {url} is unreachable" in str(err) and "no cached copy" in str(err)
    assert hub.CACHE_ENV in str(err) and "model.config" in str(err)


def test_hf_hub_offline_without_cache(hub_env, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert "HF_HUB_OFFLINE is set" in str(_error("Qwen/Qwen3-8B-FP8")) and not hub_env.state.requests


def test_a_corrupt_cache_file_is_read_again_from_the_hub(hub_env):
    path = resolve_repo("Qwen/Qwen3-8B-FP8").cache_path
    path.write_text("{truncated")
    assert resolve_repo("Qwen/Qwen3-8B-FP8").source == "hub" and json.loads(path.read_text())["format"] == hub.CACHE_FORMAT


def test_the_token_is_never_written_to_the_cache(hub_env):
    ckpt = resolve_repo(GEMMA, token="hf_granted")
    assert "hf_granted" not in ckpt.cache_path.read_text()


def test_refresh_reads_the_hub_again(hub_env):
    resolve_repo("Qwen/Qwen3-8B-FP8")
    n = len(hub_env.state.requests)
    assert resolve_repo("Qwen/Qwen3-8B-FP8", refresh=True).source == "hub" and len(hub_env.state.requests) > n


# ---- which files vLLM downloads (default_loader._prepare_weights, weight_utils.download_weights_from_hf)


@pytest.mark.parametrize(
    "files, index, expected",
    [
        # meta-llama/Llama-3.1-8B-Instruct: the indexed shards, never original/consolidated.00.pth
        (
            ["model-00001-of-00004.safetensors", "model-00004-of-00004.safetensors", "model.safetensors.index.json", "original/consolidated.00.pth", "original/params.json"],
            {"model.safetensors.index.json": {"model-00001-of-00004.safetensors", "model-00004-of-00004.safetensors"}},
            ["model-00001-of-00004.safetensors", "model-00004-of-00004.safetensors"],
        ),
        # meta-llama/Llama-2-7b-hf ships .bin and .safetensors copies: only the indexed safetensors
        (
            ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json", "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin", "pytorch_model.bin.index.json"],
            {"model.safetensors.index.json": {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}},
            ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"],
        ),
        # mistralai/Mistral-7B-Instruct-v0.3: consolidated.safetensors makes vLLM load the
        # "mistral" format, so the HF shards are not downloaded
        (
            ["consolidated.safetensors", "model-00001-of-00003.safetensors", "model-00003-of-00003.safetensors", "model.safetensors.index.json", "params.json"],
            {"model.safetensors.index.json": {"model-00001-of-00003.safetensors", "model-00003-of-00003.safetensors"}},
            ["consolidated.safetensors"],
        ),
        # a single model.safetensors beside pytorch_model.bin, no index: *.safetensors only
        (["model.safetensors", "pytorch_model.bin", "config.json"], {}, ["model.safetensors"]),
        # no index: *.safetensors matches at any depth (fnmatch's * crosses /)
        (["model.safetensors", "extra/adapter.safetensors"], {}, ["extra/adapter.safetensors", "model.safetensors"]),
        # .bin only (older checkpoints); training_args.bin is downloaded too (filtered only at load)
        (["pytorch_model.bin", "training_args.bin", "config.json"], {}, ["pytorch_model.bin", "training_args.bin"]),
        # nothing vLLM can load
        (["model.gguf", "config.json"], {}, []),
    ],
)
def test_vllm_weight_files(files, index, expected):
    assert vllm_weight_files(files, index) == expected


# ---- spec, planner, CLI, preview -----------------------------------------------------------------


def _spec(model_id: str, **model) -> dict:
    return {
        "name": "gemma",
        "model": {"id": model_id, **model},
        "workload": {"input_tokens": 1000, "output_tokens": 200, "peak_concurrency": 8},
        "sla": {"ttft_p95_ms": 3000, "itl_p95_ms": 80},
        "target": {"cloud": "aws", "region": "us-east-1"},
    }


def test_spec_accepts_a_repo_id_outside_the_catalog_without_the_network(monkeypatch):
    from gpuforge.spec import load_spec

    monkeypatch.setenv("HF_ENDPOINT", _closed_port_url())
    assert load_spec(_spec("someorg/some-model")).model.id == "someorg/some-model"
    with pytest.raises(SpecError, match="not a Hugging Face repo id"):
        load_spec(_spec("some-model-that-is-not-listed"))


def test_planner_serves_the_named_repo_at_the_sized_commit(hub_env):
    from gpuforge.sizing.planner import plan_deployment
    from gpuforge.spec import load_spec

    result = plan_deployment(load_spec(_spec(GEMMA, hf_token_config_key="hfToken")), hf_token="hf_granted")
    plan = result.to_plan()
    assert plan.serving.model == GEMMA and plan.serving.revision == GEMMA_SHA
    args = plan.serving.engine_args()
    assert args[args.index("--revision") + 1] == GEMMA_SHA


def test_planner_error_for_a_gated_repo_is_a_spec_error(hub_env):
    from gpuforge.sizing.planner import plan_deployment
    from gpuforge.spec import load_spec

    with pytest.raises(SpecError, match="is gated"):
        plan_deployment(load_spec(_spec(GEMMA)))


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(REPO / "components"), **env}
    full.pop("HF_TOKEN", None) if "HF_TOKEN" not in env else None
    return subprocess.run([sys.executable, "-m", "gpuforge", *args], capture_output=True, text=True, env=full, cwd=REPO, timeout=120)


def test_cli_plan_reads_the_hub_with_hf_token_then_works_offline(hub_env, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(_spec(GEMMA)))
    env = {"HF_ENDPOINT": hub_env.url, hub.CACHE_ENV: os.environ[hub.CACHE_ENV], "HF_HOME": str(tmp_path / "hf")}
    refused = _cli(["plan", str(spec)], env)
    assert refused.returncode == 1 and "is gated" in refused.stderr and "Traceback" not in refused.stderr
    first = _cli(["plan", str(spec), "--format", "json"], {**env, "HF_TOKEN": "hf_granted"})
    assert first.returncode == 0, first.stderr
    assert f"reading {GEMMA}@main from the Hugging Face Hub" in first.stderr
    model = json.loads(first.stdout)["model"]
    assert (model["hf_id"], model["revision"], model["hub_source"]) == (GEMMA, GEMMA_SHA, "hub")
    offline = _cli(["plan", str(spec), "--format", "json"], {**env, "HF_ENDPOINT": _closed_port_url()})
    assert offline.returncode == 0, offline.stderr
    assert json.loads(offline.stdout)["model"]["hub_source"] == "cache" and "reading" not in offline.stderr


def test_cli_unreachable_hub_is_one_clear_error(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(_spec("someorg/some-model")))
    out = _cli(["plan", str(spec)], {"HF_ENDPOINT": _closed_port_url(), hub.CACHE_ENV: str(tmp_path / "cache"), "HF_HOME": str(tmp_path / "hf")})
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "someorg/some-model" in out.stderr and "unreachable" in out.stderr and "To fix:" in out.stderr


def test_cli_estimate_with_a_hub_repo(hub_env, tmp_path):
    env = {"HF_ENDPOINT": hub_env.url, hub.CACHE_ENV: os.environ[hub.CACHE_ENV], "HF_HOME": str(tmp_path / "hf")}
    out = _cli(["estimate", "--model", "Qwen/Qwen3-8B-FP8", "--gpu", "l40s", "--json"], env)
    assert out.returncode == 0, out.stderr
    est = json.loads(out.stdout)
    assert (est["hf_id"], est["revision"], est["hub_source"]) == ("Qwen/Qwen3-8B-FP8", "a29cae3e6bbb1d2b1e2d4bb4dd7a5b1b4e0a5c11", "hub")
    assert est["download_bytes"] == resolve_repo("Qwen/Qwen3-8B-FP8").download_bytes


def test_preview_works_offline_from_the_cache(hub_env, tmp_path, monkeypatch, capsys):
    """`gpuforge preview` of a stack naming a Hub repo, after one look-up, with the Hub gone."""
    from gpuforge.preview import run_preview

    resolve_repo(GEMMA, token="hf_granted")
    monkeypatch.setenv("HF_ENDPOINT", _closed_port_url())
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    base = yaml.safe_load((REPO / "stacks" / "Pulumi.aws-chat-small.yaml").read_text())
    base["config"]["gpuforge:deployment"]["model"] = {"id": GEMMA, "hf_token_config_key": "hfToken"}
    (stacks / "Pulumi.hub.yaml").write_text(yaml.safe_dump(base))
    crds = REPO.parent / "shared" / "crds"
    code = run_preview("hub", str(tmp_path / "out"), stacks_dir=str(stacks), crds_dir=str(crds))
    out = capsys.readouterr()
    assert code == 0, out.err
    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    plan = plan[0] if isinstance(plan, list) else plan
    assert plan["model"]["revision"] == GEMMA_SHA


def test_program_sends_the_stacks_secret_token_to_the_hub(hub_env):
    """`pulumi up`: model.hf_token_config_key's secret (plain inside the program) reads the gated repo."""
    from gpuforge.preview import run_program

    raw = _spec(GEMMA, hf_token_config_key="hfToken")
    raw["sla"]["min_replicas"] = 1
    raw["cluster"] = {"public_endpoint_cidrs": ["203.0.113.0/24"]}
    config = {"gpuforge:deployment": json.dumps(raw), "gpuforge:hfToken": "hf_granted"}
    recorder, errors = run_program(config, ["gpuforge:hfToken"], "hub")
    assert not errors, errors
    assert ("GET", f"/api/models/{GEMMA}", "Bearer hf_granted") in hub_env.state.requests
    # the token reaches the cluster only as the Kubernetes Secret, never in plain text elsewhere
    plain = [r for r in recorder.resources if "hf_granted" in json.dumps(r.masked_inputs(), default=str)]
    assert not plain, [r.name for r in plain]
