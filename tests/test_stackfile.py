"""`gpuforge init` (a stack from an example, without secrets or salt) and `gpuforge schema`
(every accepted form of the spec, checked against every example stack)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml
from gpuforge.cli import main
from gpuforge.errors import SpecError
from gpuforge.spec import CONFIG_KEY, load_stack, read_spec_file
from gpuforge.stackfile import (
    MODELINE,
    SCHEMA_FILE,
    init_stack,
    schema_json,
    spec_schema,
    stack_file_schema,
)

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "stacks").glob("Pulumi.*.yaml"))


@pytest.fixture
def stacks(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "stacks", tmp_path / "stacks")
    return tmp_path / "stacks"


# --- init -----------------------------------------------------------------------------------------
def test_init_copies_the_spec_without_secrets_or_salt(stacks: Path, capsys):
    assert main(["init", "my-chat", "--from", "aws-chat-small", "--stacks-dir", str(stacks)]) == 0
    out = capsys.readouterr().out
    written = stacks / "Pulumi.my-chat.yaml"
    text = written.read_text()
    data = yaml.safe_load(text)
    example = yaml.safe_load((stacks / "Pulumi.aws-chat-small.yaml").read_text())
    # the example has a salt and a secret; the new file has neither
    assert "encryptionsalt" in example and "secure" in json.dumps(example)
    assert "encryptionsalt" not in data and "secure" not in text and "v1:" not in text
    assert data["config"][CONFIG_KEY] == example["config"][CONFIG_KEY]
    assert data["config"]["aws:region"] == "us-east-1"
    assert "gpuforge:hfToken" not in data["config"]
    assert text.splitlines()[0] == MODELINE
    # what to run next, in order: the stack's own salt first, then the secret it lost
    steps = [line.split("#")[0].strip() for line in out.splitlines() if line.startswith("  ")]
    assert steps[0] == "pulumi stack init my-chat"
    assert steps[1] == "pulumi config set --secret gpuforge:hfToken <value>"
    # the copy plans like the example
    assert load_stack(read_spec_file(written))[0].name == "chat-small"


def test_init_keeps_a_salt_pulumi_stack_init_wrote(stacks: Path):
    # `pulumi stack init` first, then `gpuforge init`: the stack's own salt survives
    target = stacks / "Pulumi.mine.yaml"
    target.write_text("encryptionsalt: v1:OWNSALT=:v1:abc:def\n")
    result = init_stack("mine", "aws-llama70b-fp8", stacks_dir=stacks)
    data = yaml.safe_load(target.read_text())
    assert data["encryptionsalt"] == "v1:OWNSALT=:v1:abc:def"
    assert result.kept_salt and CONFIG_KEY in data["config"]


def test_init_refuses_to_overwrite_config_and_unknown_examples(stacks: Path):
    init_stack("mine", "aws-chat-small", stacks_dir=stacks)
    with pytest.raises(SpecError) as err:
        init_stack("mine", "aws-chat-small", stacks_dir=stacks)
    assert err.value.problems[0].path == "STACK" and "--force" in err.value.problems[0].fix
    init_stack("mine", "aws-two-models", stacks_dir=stacks, force=True)
    assert "deployments" in yaml.safe_load((stacks / "Pulumi.mine.yaml").read_text())["config"][CONFIG_KEY]
    with pytest.raises(SpecError) as err:
        init_stack("x", "aws-chat-smal", stacks_dir=stacks)
    assert "aws-chat-small" in err.value.problems[0].fix


@pytest.mark.parametrize("example", [p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in EXAMPLES])
def test_init_from_every_example_keeps_its_spec(stacks: Path, example: str):
    # the copy loads to the same specs as the example (whose offline preview .ci/run runs)
    init_stack(f"copy-{example}", example, stacks_dir=stacks)
    specs = load_stack(read_spec_file(stacks / f"Pulumi.copy-{example}.yaml"))
    assert specs == load_stack(read_spec_file(stacks / f"Pulumi.{example}.yaml"))


# --- schema ---------------------------------------------------------------------------------------
def _validator(schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_stack_file_matches_the_schema_its_modeline_names(path: Path):
    text = path.read_text()
    assert text.splitlines()[0] == MODELINE, "every example carries the yaml-language-server modeline"
    schema = json.loads((path.parent / MODELINE.split("$schema=")[1]).read_text())
    errors = list(_validator(schema).iter_errors(yaml.safe_load(text)))
    assert not errors, [e.message for e in errors]
    # and the spec alone matches `gpuforge schema`
    assert not list(_validator(spec_schema()).iter_errors(read_spec_file(path)))


def test_committed_schema_is_current():
    # regenerate with `python -m gpuforge.docgen` (or `gpuforge schema --stack-file`)
    assert (REPO / SCHEMA_FILE).read_text() == schema_json(stack_file=True)


def test_cli_schema_prints_both_forms(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    refs = {s["$ref"].rsplit("/", 1)[-1] for s in schema["oneOf"]}
    assert refs == {"DeploymentSpec", "StackSpec"}


_SINGLE = yaml.safe_load((REPO / "stacks" / "Pulumi.aws-chat-small.yaml").read_text())["config"][CONFIG_KEY]
_MULTI = yaml.safe_load((REPO / "stacks" / "Pulumi.aws-two-models.yaml").read_text())["config"][CONFIG_KEY]


def _with(raw, path, value):
    out = copy.deepcopy(raw)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


# Every form the loader accepts must pass the schema, and what it rejects as a shape error
# must fail it (semantic checks such as catalog look-ups are the loader's alone).
ACCEPTED = [
    ("single", _SINGLE),
    ("multi", _MULTI),
    ("precision as one value", _with(_SINGLE, ["model", "precision"], "fp8")),
    ("precision as a list", _with(_SINGLE, ["model", "precision"], ["bf16", "fp8"])),
    ("kv dtype list", _with(_SINGLE, ["model", "kv_cache_dtype"], ["auto", "fp8"])),
    ("multi without stack-level target", {k: v for k, v in _MULTI.items() if k != "target"}),
    ("deployment overriding the stack target", _with(_MULTI, ["deployments", 0, "target"], {"region": "us-west-2"})),
]
REJECTED = [
    ("unknown top-level key", _with(_SINGLE, ["replicas"], 3)),
    ("multi with a key the loader refuses", _with(_MULTI, ["sla"], {"ttft_p95_ms": 100})),
    ("both forms at once", _with(_SINGLE, ["deployments"], _MULTI["deployments"])),
    ("unknown precision", _with(_SINGLE, ["model", "precision"], "fp4")),
    ("deployment missing its model", _with(_MULTI, ["deployments", 1], {"name": "x"})),
    ("negative ttft", _with(_SINGLE, ["sla", "ttft_p95_ms"], -1)),
]


@pytest.mark.parametrize("label,raw", ACCEPTED, ids=[a for a, _ in ACCEPTED])
def test_schema_accepts_what_the_loader_accepts(label, raw):
    load_stack(raw)
    errors = list(_validator(spec_schema()).iter_errors(raw))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize("label,raw", REJECTED, ids=[a for a, _ in REJECTED])
def test_schema_rejects_what_the_loader_rejects(label, raw):
    with pytest.raises(SpecError):
        load_stack(raw)
    assert list(_validator(spec_schema()).iter_errors(raw))


def test_stack_file_schema_requires_the_spec():
    v = _validator(stack_file_schema())
    assert list(v.iter_errors({"config": {"aws:region": "us-east-1"}}))
    assert not list(v.iter_errors({"encryptionsalt": "v1:x", "config": {"gpuforge:hfToken": {"secure": "v1:abc"}, CONFIG_KEY: _SINGLE}}))
