"""Deployment spec validation: good files load, bad files list every problem with path and fix."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import yaml
from gpuforge.errors import SpecError
from gpuforge.spec import CONFIG_KEY, json_schema, load_spec, load_stack, read_spec_file

GOOD = {
    "name": "chat",
    "model": {"id": "llama-3.1-8b-instruct"},
    "workload": {"input_tokens": 1000, "output_tokens": 200, "peak_concurrency": 16},
    "sla": {"ttft_p95_ms": 1500, "itl_p95_ms": 60},
    "target": {"cloud": "aws", "region": "us-east-1"},
}


def _problems(raw) -> list:
    with pytest.raises(SpecError) as exc:
        load_spec(raw)
    return exc.value.problems


def test_good_spec_loads_with_defaults():
    spec = load_spec(GOOD)
    assert spec.model.id == "llama-3.1-8b-instruct"
    assert spec.sla.min_replicas == 1  # default
    assert spec.target.capacity_type == "on-demand"


def test_stack_file_is_read_at_its_config_key(tmp_path):
    f = tmp_path / "Pulumi.dev.yaml"
    f.write_text(yaml.safe_dump({"config": {CONFIG_KEY: GOOD, "aws:region": "us-east-1"}}))
    assert read_spec_file(f) == GOOD


@pytest.mark.parametrize(
    "patch, path, reason, fix",
    [
        # a typo in a key is an error, not silently ignored
        ({"workload": {"input_tokns": 5}}, "workload.input_tokns", "unknown key 'input_tokns'", "remove the key"),
        # enum values are checked
        ({"target": {"cloud": "gcp"}}, "target.cloud", "Input should be 'aws', 'azure' or 'either'", "allowed values"),
        # numbers must be positive
        ({"workload": {"peak_concurrency": 0}}, "workload.peak_concurrency", "greater than 0", "larger value"),
        # a misspelt catalog id suggests the nearest ids
        ({"model": {"id": "llama-3.1-8b-instrct"}}, "model.id", "not in the catalog", "did you mean llama-3.1-8b-instruct"),
        # regions are looked up in the catalog
        ({"target": {"region": "us-east-9"}}, "target.region", "unknown aws region 'us-east-9'", "gpuforge catalog regions"),
        # a zone must belong to the region
        ({"target": {"zone": "eu-west-1a"}}, "target.zone", "'eu-west-1a' is not a zone of us-east-1", "us-east-1a"),
        # capacity blocks need their reservation
        ({"target": {"capacity_type": "capacity-block"}}, "target.capacity_reservation_id", "needs its reservation id", "cr-"),
        # the context must hold a typical request
        ({"workload": {"input_tokens": 4000, "output_tokens": 1000, "max_model_len": 2048}}, "workload.max_model_len", "shorter than", "at least 5000"),
        # spreading over zones needs two replicas
        ({"sla": {"spread_zones": True}}, "sla.min_replicas", "spread_zones needs at least 2", "min_replicas: 2"),
        # an existing cluster must be named
        ({"cluster": {"mode": "existing"}}, "cluster.name", "needs its name", "set cluster.name"),
        # instance types come from the catalog
        ({"target": {"instance_types": ["p9.mega"]}}, "target.instance_types[0]", "unknown instance type 'p9.mega'", "gpuforge catalog instances"),
        # an Azure size on an AWS target
        ({"target": {"instance_types": ["Standard_ND96isr_H100_v5"]}}, "target.instance_types[0]", "is an azure type", "change target.cloud"),
        # names are DNS-1123 labels (they become Kubernetes names)
        ({"name": "Chat_Bot"}, "name", "should match pattern", "DNS-1123"),
    ],
)
def test_each_bad_field_names_path_reason_and_fix(patch, path, reason, fix):
    raw = json.loads(json.dumps(GOOD))
    for k, v in patch.items():
        raw[k] = {**raw[k], **v} if isinstance(v, dict) and isinstance(raw.get(k), dict) else v
    if "model" in patch:
        raw["model"] = patch["model"]
    problems = _problems(raw)
    hit = [p for p in problems if p.path == path]
    assert hit, f"no problem at {path}: {[str(p) for p in problems]}"
    assert reason in hit[0].reason
    assert fix in hit[0].fix


def test_every_problem_is_reported_at_once():
    raw = json.loads(json.dumps(GOOD))
    raw["workload"]["input_tokns"] = 1
    raw["target"]["cloud"] = "gcp"
    raw["sla"]["ttft_p95_ms"] = -1
    problems = _problems(raw)
    assert {p.path for p in problems} >= {"workload.input_tokns", "target.cloud", "sla.ttft_p95_ms"}
    text = str(SpecError("deployment 'chat'", problems))
    assert text.startswith("deployment 'chat': 3 problems")
    assert "To fix:" in text


def test_semantic_problems_are_collected_together():
    raw = json.loads(json.dumps(GOOD))
    raw["model"] = {"id": "no-such-model"}
    raw["target"]["region"] = "mars-1"
    raw["cluster"] = {"mode": "existing"}
    assert {p.path for p in _problems(raw)} == {"model.id", "target.region", "cluster.name"}


def test_config_json_path_and_inline_fields(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "vocab_size": 100, "intermediate_size": 128}))
    spec = load_spec({"name": "tiny", "model": {"config": str(cfg), "hf_id": "org/tiny"}})
    assert spec.model.config == str(cfg)
    problems = _problems({"name": "tiny", "model": {"config": str(tmp_path / "missing.json")}})
    assert {p.path for p in problems} == {"model.config", "model.hf_id"}


def test_multi_model_stack_shares_cluster_and_target():
    raw = {
        "cluster": {"mode": "existing", "name": "gpu-prod"},
        "target": {"cloud": "aws", "region": "us-east-1"},
        "deployments": [dict(GOOD, name="a"), dict(GOOD, name="b", target={"region": "us-west-2"})],
    }
    specs = load_stack(raw)
    assert [s.cluster.name for s in specs] == ["gpu-prod", "gpu-prod"]
    assert [s.target.region for s in specs] == ["us-east-1", "us-west-2"]
    raw["deployments"][1]["name"] = "a"
    with pytest.raises(SpecError, match="used twice"):
        load_stack(raw)


def test_json_schema_is_exported_and_forbids_unknown_keys():
    schema = json_schema()
    assert schema["additionalProperties"] is False
    assert ("model" in schema["properties"] and "sla" in schema["required"]) or "model" in schema["required"]
    out = subprocess.run([sys.executable, "-m", "gpuforge", "schema"], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["title"].startswith("gpuforge deployment spec")


def test_secrets_are_not_accepted_inline():
    raw = json.loads(json.dumps(GOOD))
    raw["model"]["hf_token"] = "hf_abc"
    problems = _problems(raw)
    assert problems[0].path == "model.hf_token" and "unknown key" in problems[0].reason


def test_error_text_format():
    problems = _problems(dict(GOOD, target={"cloud": "gcp"}))
    text = str(SpecError("deployment 'chat'", problems))
    assert textwrap.dedent(text).splitlines()[1].strip().startswith("target.cloud:")


def test_generated_reference_docs_are_current():
    # docs/spec.md and docs/components.md are generated; regenerate with `python -m gpuforge.docgen`
    from pathlib import Path

    from gpuforge.docgen import components_markdown, spec_markdown

    docs = Path(__file__).resolve().parents[1] / "docs"
    assert (docs / "spec.md").read_text() == spec_markdown() + "\n"
    assert (docs / "components.md").read_text() == components_markdown() + "\n"
