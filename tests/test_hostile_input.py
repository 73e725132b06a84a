"""Hostile and careless input: one clear error (path, reason, fix), never a traceback.

Unit cases for each bound and contradiction, and hypothesis properties over specs, stack YAML,
config.json and `gpuforge estimate` flags. `bench/fuzz.py` runs the same at scale.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import time

import pytest
import yaml
from gpuforge import catalog, cli
from gpuforge.errors import SpecError
from gpuforge.inputs import MAX_DEPTH, MAX_INPUT_BYTES, dumps, load_json, load_yaml, read_text
from gpuforge.sizing.config_checks import config_problems
from gpuforge.sizing.models import resolve
from gpuforge.spec import CONFIG_KEY, load_spec, load_stack, read_spec_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

GOOD = {
    "name": "chat",
    "model": {"id": "llama-3.1-8b-instruct"},
    "workload": {"input_tokens": 1000, "output_tokens": 200, "peak_concurrency": 16},
    "sla": {"ttft_p95_ms": 1500, "itl_p95_ms": 60},
    "target": {"cloud": "aws", "region": "us-east-1"},
}
TINY = {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "vocab_size": 100, "intermediate_size": 128}


def _spec(**sections) -> dict:
    raw = copy.deepcopy(GOOD)
    for k, v in sections.items():
        raw[k] = {**raw.get(k, {}), **v} if isinstance(v, dict) else v
    return raw


def _problems(fn, *args) -> list:
    with pytest.raises(SpecError) as exc:
        fn(*args)
    return exc.value.problems


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main(argv)
        except SystemExit as exc:  # argparse usage errors
            rc = exc.code if isinstance(exc.code, int) else 2
    return rc, out.getvalue(), err.getvalue()


def _strict_json(text: str):
    def bad(name):
        raise ValueError(f"{name} in JSON output")

    return json.loads(text, parse_constant=bad)


# ---- bounds on what is read -------------------------------------------------------------------

BOMB = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)
)


@pytest.mark.parametrize(
    "text, reason",
    [
        (BOMB, "expands to more than"),  # 1 KB "billion laughs": 9^9 values when walked
        ("[" * 100_000, f"nesting deeper than {MAX_DEPTH}"),  # PyYAML's scanner is quadratic here
        ("a:\n" + "".join(" " * i + "a:\n" for i in range(1, 200)), f"nesting deeper than {MAX_DEPTH}"),
        ("x: &x [*x]", f"nesting deeper than {MAX_DEPTH}"),  # a self-referencing anchor
        ("a: .nan", "not a finite number"),
        ("a: !!binary aGVsbG8=", "a bytes value"),
        ("1: x", "a int key"),
        ("a: 1\x00", "not valid YAML"),  # control characters: PyYAML's reader refuses them
        ("{a: 1", "not valid YAML"),
        ('a: "\\ud800"', "not Unicode text"),  # a lone surrogate cannot be printed as UTF-8
    ],
)
def test_yaml_bounds(text, reason):
    t0 = time.perf_counter()
    problems = _problems(load_yaml, text, "stack")
    assert reason in problems[0].reason
    assert problems[0].fix
    assert time.perf_counter() - t0 < 5  # refused early, not after expanding


def test_yaml_dates_stay_strings():
    # Pulumi hands config values to the program as strings; a datetime is not JSON
    assert load_yaml("a: 2024-01-01\nb: 2024-01-01T10:00:00Z", "s") == {"a": "2024-01-01", "b": "2024-01-01T10:00:00Z"}


@pytest.mark.parametrize(
    "text, reason",
    [
        ('{"a": NaN}', "NaN is not a JSON number"),
        ('{"a": 1e999}', "not a finite number"),
        ("[" * 100_000, f"nesting deeper than {MAX_DEPTH}"),
        ("", "not valid JSON"),
    ],
)
def test_json_bounds(text, reason):
    assert reason in _problems(load_json, text, "config.json")[0].reason


def test_files_are_bounded_and_utf8(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: 1\n" * (MAX_INPUT_BYTES // 5 + 1))
    assert "larger than" in _problems(read_text, big)[0].reason
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\xe9".encode("latin-1"))
    assert "not UTF-8" in _problems(read_text, latin)[0].reason
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(TINY).encode())
    assert load_json(read_text(bom), "bom.json") == TINY  # a BOM is accepted


def test_strict_json_output():
    assert dumps({"a": math.inf, "b": [math.nan, 1.5]}) == '{"a": null, "b": [null, 1.5]}'


# ---- config.json bounds -----------------------------------------------------------------------

@pytest.mark.parametrize(
    "patch, path, reason",
    [
        ({"num_hidden_layers": 10**8}, "num_hidden_layers", "outside 1..1,024"),  # 37 s and 4 GB before
        ({"vocab_size": 10**9}, "vocab_size", "outside 1..16,777,216"),
        ({"num_attention_heads": 0}, "num_attention_heads", "outside"),  # a divisor
        ({"hidden_size": "4096"}, "hidden_size", "not a whole number"),
        ({"num_local_experts": 2, "num_experts_per_tok": 4}, "num_experts_per_tok", "4 experts per token with 2 experts"),
        ({"num_key_value_heads": 8}, "num_key_value_heads", "more than num_attention_heads"),
        ({"layer_types": "full"}, "layer_types", "not a list"),
        ({"partial_rotary_factor": 0}, "partial_rotary_factor", "not in (0, 1]"),
        ({"text_config": []}, "text_config", "not a mapping"),
    ],
)
def test_config_bounds(patch, path, reason):
    problems = config_problems({**TINY, **patch})
    assert any(p.path == f"config.json.{path}" and reason in p.reason for p in problems), problems


def test_every_catalog_config_is_within_bounds():
    for m in catalog.all_models():
        assert config_problems(m.config) == [], m.id


def test_missing_fields_are_listed_together():
    paths = {p.path for p in config_problems({})}
    assert paths == {f"config.json.{k}" for k in ("num_hidden_layers", "hidden_size", "num_attention_heads", "vocab_size", "intermediate_size")}


def test_estimate_refuses_bad_config_files(tmp_path):
    cases = {"empty.json": "", "bom.json": "\ufeff{}", "list.json": "[]", "huge.json": json.dumps({**TINY, "num_hidden_layers": 10**8})}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        t0 = time.perf_counter()
        rc, out, err = _run(["estimate", "--model", str(tmp_path / name), "--gpu", "l4", "--json"])
        assert rc == 1 and out == "" and "To fix:" in err and "Traceback" not in err, (name, err)
        assert time.perf_counter() - t0 < 5


def test_moe_routing_every_expert_estimates(tmp_path):
    # top-k == experts: every token reads every expert (the perf model took log(0) before)
    f = tmp_path / "moe.json"
    f.write_text(json.dumps({**TINY, "num_local_experts": 4, "num_experts_per_tok": 4}))
    rc, out, err = _run(["estimate", "--model", str(f), "--gpu", "l4", "--json", "--input-tokens", "512", "--concurrency", "4"])
    assert rc == 0, err
    assert _strict_json(out)["output_tokens_per_s"] > 0


def test_estimate_refuses_bad_numbers():
    rc, _, err = _run(["estimate", "--model", "llama-3.1-8b-instruct", "--gpu", "l4", "--tp", "0", "--request-rate", "nan", "--gpu-memory-utilization", "1.5"])
    assert rc == 1
    for flag in ("--tp", "--request-rate", "--gpu-memory-utilization"):
        assert f"{flag}:" in err
    rc, _, err = _run(["estimate", "--model", "llama-3.1-8b-instruct", "--gpu", "l4", "--pp", "64"])
    assert rc == 1 and "64 pipeline stages for 32 layers" in err


# ---- contradictions are spec errors -----------------------------------------------------------

@pytest.mark.parametrize(
    "raw, path, reason",
    [
        (_spec(sla={"min_replicas": 3}, target={"max_replicas": 2}), "target.max_replicas", "below sla.min_replicas"),
        (_spec(sla={"min_replicas": 2, "spread_zones": True}, target={"zone": "us-east-1a"}), "sla.spread_zones", "pins every node to 'us-east-1a'"),
        (_spec(target={"capacity_reservation_id": "cr-0123456789abcdef0"}), "target.capacity_reservation_id", "outside the reservation"),
        (_spec(target={"capacity_type": "spot", "capacity_reservation_id": "cr-0123456789abcdef0"}), "target.capacity_reservation_id", "outside the reservation"),
        (
            _spec(
                sla={"min_replicas": 2},
                target={"capacity_type": "capacity-block", "capacity_reservation_id": "cr-0123456789abcdef0", "capacity_block_instance_count": 1, "capacity_price_usd_per_hour": 30.0},
            ),
            "target.capacity_block_instance_count",
            "holds 1 instance(s) but sla.min_replicas is 2",
        ),
        (_spec(target={"capacity_block_instance_count": 4}), "target.capacity_block_instance_count", "set with capacity_type 'on-demand'"),
        (_spec(model={"id": None, "config": {**TINY, "num_attention_heads": 0}, "hf_id": "org/m"}), "model.config.num_attention_heads", "outside"),
        (_spec(model={"id": "llama-3.1-8b-instruct", "config": {"num_hidden_layers": 4}}), "model.config.hidden_size", "missing"),
    ],
)
def test_contradictions_are_refused(raw, path, reason):
    problems = _problems(load_spec, raw)
    assert any(p.path == path and reason in p.reason and p.fix for p in problems), problems


def test_multi_model_stack_across_clouds_is_refused():
    raw = {"deployments": [_spec(), _spec(name="other", target={"cloud": "azure", "region": "eastus"})]}
    problems = _problems(load_stack, raw)
    assert any(p.path == "deployments[1].target.cloud" and "share one cluster" in p.reason for p in problems)
    raw = {"target": {"cloud": "either"}, "deployments": [{**_spec(), "target": {}}, {**_spec(name="b"), "target": {}}]}
    assert any(p.path == "target.cloud" for p in _problems(load_stack, raw))


@pytest.mark.parametrize("shared", [{"target": "aws"}, {"cluster": 5}, {"deployments": 7}, {"deployments": "abc"}])
def test_scalar_shared_sections_are_refused(shared):
    raw = {"deployments": [copy.deepcopy(GOOD)], **shared}
    problems = _problems(load_stack, raw)
    assert "not a" in problems[0].reason and problems[0].fix


def _stack_file(tmp_path, deployment, **config):
    f = tmp_path / "Pulumi.x.yaml"
    f.write_text(yaml.safe_dump({"config": {**config, CONFIG_KEY: deployment}}))
    return f


def test_provider_region_must_match_the_plan(tmp_path):
    # the preview sent eu-west-1 subnets to a us-east-1 provider before
    f = _stack_file(tmp_path, _spec(target={"region": "eu-west-1"}), **{"aws:region": "us-east-1"})
    rc, out, err = _run(["plan", str(f), "--format", "json"])
    assert rc == 1 and out == ""
    assert "target.region: planned into eu-west-1, but the stack's aws:region is us-east-1" in err
    assert "To fix: set target.region: us-east-1, or aws:region: eu-west-1" in err
    f = _stack_file(tmp_path, _spec(target={"region": "eu-west-1"}), **{"aws:region": "eu-west-1"})
    assert _run(["plan", str(f), "--format", "json"])[0] == 0


def test_azure_location_display_name_matches(tmp_path):
    from gpuforge.spec_checks import _norm

    assert _norm("azure", "East US") == _norm("azure", "eastus")


def test_preview_refuses_provider_mismatch(tmp_path):
    from gpuforge.preview import run_preview

    stacks = tmp_path / "stacks"
    stacks.mkdir()
    _stack_file(stacks, _spec(target={"region": "eu-west-1"}), **{"aws:region": "us-east-1"}).rename(stacks / "Pulumi.bad.yaml")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert run_preview("bad", None, stacks_dir=str(stacks)) == 1
    assert "aws:region is us-east-1" in err.getvalue()


# ---- properties -------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
)
json_values = st.recursive(json_scalars, lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=8), kids, max_size=4)), max_leaves=12)

SECTIONS = {
    "model": ["id", "config", "hf_id", "precision", "kv_cache_dtype"],
    "workload": ["input_tokens", "output_tokens", "max_model_len", "peak_concurrency", "requests_per_second"],
    "sla": ["ttft_p95_ms", "itl_p95_ms", "min_replicas", "spread_zones"],
    "target": ["cloud", "region", "zone", "capacity_type", "capacity_reservation_id", "capacity_block_instance_count", "max_replicas", "instance_types"],
    "cluster": ["mode", "name", "subnet_ids_by_zone"],
    "serving": ["namespace", "expose", "gateway_name", "gpu_memory_utilization"],
}
edits = st.lists(
    st.tuples(st.sampled_from(sorted(SECTIONS)), st.integers(min_value=0, max_value=7), json_values), max_size=4
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=edits, whole=st.one_of(st.none(), json_values))
def test_any_spec_loads_or_raises_spec_error(edits, whole):
    raw: object = copy.deepcopy(GOOD)
    for section, i, value in edits:
        keys = SECTIONS[section]
        node = raw.setdefault(section, {})  # type: ignore[union-attr]
        if isinstance(node, dict):
            node[keys[i % len(keys)]] = value
    if whole is not None:
        raw = whole if isinstance(whole, dict) and len(str(whole)) % 3 == 0 else raw
    try:
        specs = load_stack(raw)
    except SpecError as err:
        assert err.problems and all(p.path is not None and p.reason for p in err.problems)
        return
    assert specs and all(s.name for s in specs)


yaml_fragments = st.lists(
    st.sampled_from(["a:", " b:", "- ", "[", "]", "{", "}", "&x ", "*x", "!!binary ", "!!python/object:os.system ", "2024-01-01", ".nan", "1e999", "'", '"', "\n", "  ", "\t", ":", "#", "é", "\ufeff", "\x00", "|", ">", "? ", "<<: *x\n", "~"]),
    max_size=40,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(yaml_fragments, st.text(max_size=200), json_values.map(lambda v: yaml.safe_dump(v, allow_unicode=True) if _dumpable(v) else "x: 1")))
def test_any_yaml_text_reads_or_raises_spec_error(tmp_path_factory, text):
    f = tmp_path_factory.mktemp("y") / "Pulumi.s.yaml"
    f.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        data = read_spec_file(f)
    except SpecError as err:
        assert err.problems[0].reason
        return
    json.dumps(data, allow_nan=False)  # what comes back is plain, finite JSON data


def _dumpable(v) -> bool:
    try:
        yaml.safe_dump(v)
    except Exception:  # noqa: BLE001 - values YAML cannot represent are skipped
        return False
    return True


config_edits = st.dictionaries(
    st.sampled_from(["num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads", "vocab_size", "intermediate_size", "head_dim", "num_local_experts", "num_experts_per_tok", "max_position_embeddings", "sliding_window", "layer_types", "text_config", "kv_lora_rank", "partial_rotary_factor", "tie_word_embeddings", "quantization_config"]),
    st.one_of(st.integers(min_value=-5, max_value=2**40), json_values),
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(base=st.sampled_from([m.id for m in catalog.all_models()]), edits=config_edits, drop=st.lists(st.sampled_from(["num_hidden_layers", "hidden_size", "vocab_size", "intermediate_size"]), max_size=2))
def test_any_config_json_sizes_or_raises_spec_error(base, edits, drop):
    cfg = {**copy.deepcopy(catalog.find_model(base).config), **edits}
    for k in drop:
        cfg.pop(k, None)
    try:
        model = resolve("", config=cfg, hf_id="org/m")
    except SpecError as err:
        assert err.problems[0].path.startswith(("config.json", "model.config")) and err.problems[0].fix
        return
    assert model.params_total > 0 and math.isfinite(model.params_total)


@settings(max_examples=60, deadline=None)
@given(
    model=st.sampled_from(["llama-3.1-8b-instruct", "qwen2.5-14b-instruct", "mixtral-8x7b-instruct", "nope"]),
    gpu=st.sampled_from(["l4", "h100-80gb", "t4", "zz"]),
    tp=st.integers(min_value=-2, max_value=2000),
    rate=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    conc=st.one_of(st.none(), st.integers(min_value=-1, max_value=10**7)),
    tokens=st.one_of(st.none(), st.integers(min_value=-1, max_value=10**9)),
)
def test_estimate_json_is_strict_or_a_clean_error(model, gpu, tp, rate, conc, tokens):
    argv = ["estimate", "--model", model, "--gpu", gpu, "--tp", str(tp), "--json"]
    if rate is not None:
        argv += ["--request-rate", str(rate)]
    if conc is not None:
        argv += ["--concurrency", str(conc)]
    if tokens is not None:
        argv += ["--input-tokens", str(tokens)]
    rc, out, err = _run(argv)
    assert "Traceback" not in out + err
    if rc == 0:
        _strict_json(out)
    else:
        assert rc in (1, 2) and err.strip() and out == ""
