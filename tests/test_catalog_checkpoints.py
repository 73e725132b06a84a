"""A catalog id or repo id names exactly one checkpoint, and that repo is the one served (issue 10)."""

from __future__ import annotations

import pytest
from gpuforge import catalog
from gpuforge.sizing.planner import build_plan, plan_deployment
from gpuforge.spec import load_spec


def _served(model_id: str) -> str:
    spec = load_spec(
        {
            "name": "t",
            "model": {"id": model_id},
            "workload": {"input_tokens": 500, "output_tokens": 200, "max_model_len": 4096, "peak_concurrency": 4},
            "target": {"cloud": "aws", "region": "us-east-1", "zone": "us-east-1a"},
        }
    )
    return build_plan(plan_deployment(spec)).serving.model


@pytest.mark.parametrize(
    ("named", "served"),
    [
        ("llama-3.1-405b-instruct", "meta-llama/Llama-3.1-405B-Instruct"),  # was the base repo
        ("meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-8B"),  # was the Instruct repo
        ("google/gemma-7b-it", "google/gemma-7b-it"),  # was the base repo
        ("mistralai/Mistral-7B-Instruct-v0.1", "mistralai/Mistral-7B-Instruct-v0.1"),  # was the base repo
        ("meta-llama/Meta-Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"),  # a pure rename
    ],
)
def test_the_repo_served_is_the_checkpoint_named(named, served):
    assert _served(named) == served


def test_aliases_are_pure_renames_only():
    # an alias may only be the same repo under an older name (HF redirects renamed repos):
    # same repo name after dropping Meta's "Meta-" prefix, or the same name in another org
    for m in catalog.all_models():
        name = m.hf_id.split("/")[1].lower()
        for a in m.aliases:
            a_name = a.split("/")[1].lower()
            assert a_name.removeprefix("meta-") == name, f"{m.id}: alias {a} names another checkpoint than {m.hf_id}"


def test_quantized_third_party_checkpoints_are_not_folded_into_16_bit_rows():
    # these repos carry their own quantization_config; sizing them as the bf16 row was wrong,
    # so they resolve from the Hub (gpuforge.hub) with the config they really have
    for repo in (
        "RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic",
        "RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w8a8",
        "neuralmagic/Meta-Llama-3.1-70B-Instruct-FP8",
    ):
        assert catalog.find_model(repo) is None


def test_shared_architecture_rows_copy_the_config_but_not_the_repo():
    base, it = catalog.find_model("gemma-7b"), catalog.find_model("gemma-7b-it")
    assert base and it and it.config_from == "gemma-7b"
    assert it.config == base.config and it.hf_id != base.hf_id
    keys = [k.lower() for m in catalog.all_models() for k in (m.hf_id, *m.aliases)]
    assert len(keys) == len(set(keys)), "a repo id maps to two catalog rows"
