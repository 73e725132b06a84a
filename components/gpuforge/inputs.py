"""Reading untrusted input: stack files, spec files and config.json, with bounds.

Everything a person (or an attacker) hands gpuforge goes through here before any other code
sees it, so that bad input ends as one `SpecError` with a path, a reason and a fix, never as a
traceback, a hang or a memory blow-up:

- size: a file is read only up to `MAX_INPUT_BYTES`;
- text: UTF-8 (a leading byte-order mark is accepted), nothing else;
- YAML: a safe loader that counts aliases and the size of what they expand to (a "billion
  laughs" file of 1 KB expands to 10^9 nodes when walked), limits nesting depth, and keeps
  dates and times as strings (Pulumi config values are strings);
- JSON: no `NaN` / `Infinity` literals (not JSON, RFC 8259 section 6), the same depth and size
  bounds;
- every value: JSON types only (mapping keys are strings), floats finite.

Output goes through `dumps()`: strict JSON (`allow_nan=False`), with non-finite floats written
as `null` (documented in docs/spec.md as "not computable").
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import yaml

from gpuforge.errors import Problem, SpecError

# Bounds (documented in docs/spec.md, "Input limits"). The largest real inputs are far below
# them: the example stack files are < 4 KB, the largest catalog config.json (a multimodal
# wrapper) is < 16 KB.
MAX_INPUT_BYTES = 1024 * 1024
MAX_YAML_ALIASES = 256
MAX_NODES = 100_000  # scalars + collections, counting every alias expansion
MAX_DEPTH = 48


class _LimitedLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses alias bombs and deep nesting while composing.

    PyYAML shares one object per anchor, so loading a bomb is cheap; walking the result (JSON
    encoding, validation) is what explodes. The composer sees every alias, so the expanded size
    is counted there: each node's expanded size is memoised by identity and an alias adds the
    size of the node it points to.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise _Refused(f"more than {MAX_YAML_ALIASES} aliases (*name)", "write the values out, or use fewer anchors")
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(f"nesting deeper than {MAX_DEPTH} levels", "flatten the document")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        size = self._sizes.get(id(node))
        if size is None:
            size = 1 + _children_size(node, self._sizes)
            self._sizes[id(node)] = size
        if size > MAX_NODES:
            raise _Refused(
                f"expands to more than {MAX_NODES:,} values (aliases repeat what they point to)",
                "write the values out, or use fewer anchors",
            )
        return node


def _children_size(node: yaml.Node | None, sizes: dict[int, int]) -> int:
    if isinstance(node, yaml.SequenceNode):
        return sum(sizes.get(id(c), 1) for c in node.value)
    if isinstance(node, yaml.MappingNode):
        return sum(sizes.get(id(k), 1) + sizes.get(id(v), 1) for k, v in node.value)
    return 0


# Dates and times stay strings: Pulumi hands every config value to the program as a string,
# and a `datetime` is not JSON.
_LimitedLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Refused(Exception):
    def __init__(self, reason: str, fix: str):
        super().__init__(reason)
        self.reason, self.fix = reason, fix


def read_text(path: str | Path, subject: str | None = None) -> str:
    """A file's text, refusing what is too large, not a file, or not UTF-8 (SpecError)."""
    p = Path(path)
    subject = subject or str(p)
    try:
        if not p.is_file():
            raise SpecError(subject, [Problem(str(p), "no such file", "check the path")])
        with p.open("rb") as f:
            data = f.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise SpecError(subject, [Problem(str(p), f"cannot be read ({exc.strerror or exc})", "check the path and its permissions")]) from None
    if len(data) > MAX_INPUT_BYTES:
        raise SpecError(subject, [Problem(str(p), f"larger than {MAX_INPUT_BYTES:,} bytes", "give the real file; gpuforge's inputs are small")])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(subject, [Problem(str(p), f"not UTF-8 text (byte {exc.start})", "save the file as UTF-8")]) from None


def load_yaml(text: str, subject: str) -> Any:
    """Parse YAML with the bounds above; SpecError with the line on any problem."""
    if len(text) > MAX_INPUT_BYTES:
        raise SpecError(subject, [Problem("(document)", f"larger than {MAX_INPUT_BYTES:,} characters", "give the real file")])
    text = text.removeprefix("\ufeff")
    if _bracket_depth(text) > MAX_DEPTH:
        # PyYAML's scanner is quadratic in flow nesting: refuse before it starts
        raise SpecError(subject, [Problem("(document)", f"nesting deeper than {MAX_DEPTH} levels", "flatten the document")])
    loader = None
    try:
        loader = _LimitedLoader(text)  # the reader refuses control characters here
        data = loader.get_single_data()
    except _Refused as exc:
        raise SpecError(subject, [Problem(_where(loader) if loader else "(document)", exc.reason, exc.fix)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "(document)"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(subject, [Problem(where, f"not valid YAML: {problem}", "fix the YAML syntax at that place")]) from None
    except RecursionError:
        raise SpecError(subject, [Problem("(document)", "nested too deeply", "flatten the document")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    check_data(data, subject)
    return data


def _where(loader: yaml.SafeLoader) -> str:
    mark = loader.get_mark()
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _bracket_depth(text: str) -> int:
    """Deepest `[` / `{` nesting outside double-quoted strings (a cheap upper bound)."""
    if "[" not in text and "{" not in text:
        return 0
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(0, depth - 1)
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load_json(text: str, subject: str) -> Any:
    """Parse strict JSON (no NaN / Infinity) with the bounds above; SpecError on any problem."""
    if len(text) > MAX_INPUT_BYTES:
        raise SpecError(subject, [Problem("(document)", f"larger than {MAX_INPUT_BYTES:,} characters", "give the real file")])
    text = text.removeprefix("\ufeff")
    if _bracket_depth(text) > MAX_DEPTH:  # the C decoder recurses per level: refuse first
        raise SpecError(subject, [Problem("(document)", f"nesting deeper than {MAX_DEPTH} levels", "flatten the document")])
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise SpecError(subject, [Problem(f"line {exc.lineno}, column {exc.colno}", f"not valid JSON: {exc.msg}", "fix the JSON syntax at that place")]) from None
    except (ValueError, RecursionError) as exc:
        raise SpecError(subject, [Problem("(document)", f"not valid JSON: {exc}", "use finite numbers and plain JSON")]) from None
    check_data(data, subject)
    return data


def check_data(data: Any, subject: str) -> None:
    """Refuse values that are not plain JSON data: other types, non-string keys, NaN, too big."""
    problems: list[Problem] = []
    count = 0
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            problems.append(Problem(path or "(document)", f"more than {MAX_NODES:,} values", "give the real file"))
            break
        if depth > MAX_DEPTH:
            problems.append(Problem(path or "(document)", f"nesting deeper than {MAX_DEPTH} levels", "flatten the document"))
            break
        if isinstance(value, dict):
            for k, v in value.items():
                if not isinstance(k, str):
                    problems.append(Problem(f"{path}[{k!r}]" if path else repr(k), f"a {type(k).__name__} key", "use a string key (quote it)"))
                    continue
                if not _is_text(k):
                    problems.append(Problem(f"{path}[{k!r}]" if path else repr(k), "a key that is not Unicode text (a lone surrogate)", "use UTF-8 text"))
                    continue
                stack.append((v, f"{path}.{k}" if path else k, depth + 1))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                stack.append((v, f"{path}[{i}]", depth + 1))
        elif isinstance(value, str):
            if not _is_text(value):
                problems.append(Problem(path or "(document)", f"{value!r} is not Unicode text (a lone surrogate)", "use UTF-8 text"))
        elif isinstance(value, float):
            if not math.isfinite(value):
                problems.append(Problem(path or "(document)", f"{value} is not a finite number", "use a finite number"))
        elif not (value is None or isinstance(value, (bool, int))):
            problems.append(Problem(path or "(document)", f"a {type(value).__name__} value", "use a string, number, boolean, list or mapping"))
        if len(problems) >= 20:
            break
    if problems:
        raise SpecError(subject, problems)


def _is_text(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def json_safe(obj: Any) -> Any:
    """`obj` with every non-finite float replaced by None (JSON `null`: not computable)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def dumps(obj: Any, **kwargs: Any) -> str:
    """Strict JSON: non-finite floats become null, and `allow_nan=False` guards the rest."""
    return json.dumps(json_safe(obj), allow_nan=False, **kwargs)


def limits_markdown() -> str:
    """The "Input limits" section of docs/spec.md (generated, so it cannot drift)."""
    from gpuforge.cli import _ESTIMATE_BOUNDS
    from gpuforge.sizing.config_checks import _INT_BOUNDS, MAX_LAYERS

    rows = [
        "## Input limits",
        "",
        "Bad input stops with one error listing every problem (config path, reason, fix) and a",
        "non-zero exit, never a traceback. What gpuforge reads is bounded first (`gpuforge.inputs`):",
        "",
        "| input | limit |",
        "|---|---|",
        f"| any file (stack, spec, config.json) | {MAX_INPUT_BYTES:,} bytes, UTF-8 (a byte-order mark is accepted) |",
        f"| YAML aliases (`*name`) | {MAX_YAML_ALIASES} per document |",
        f"| values after alias expansion | {MAX_NODES:,} per document (a 1 KB alias bomb expands to 10^9) |",
        f"| nesting depth | {MAX_DEPTH} levels (YAML and JSON) |",
        "| values | JSON types only: string keys, finite numbers (no `.nan`, `.inf`, `NaN`, `Infinity`), no `!!binary` or other tags; dates stay strings |",
        "",
        f"config.json (`model.config`, `gpuforge estimate --model file.json`), checked by `gpuforge.sizing.config_checks` before sizing; lists such as `layer_types` hold at most {MAX_LAYERS} entries:",
        "",
        "| field | range |",
        "|---|---|",
    ]
    rows += [f"| `{k}` | {lo:,} .. {hi:,} |" for k, lo, hi in _INT_BOUNDS]
    rows += [
        "",
        "and `num_key_value_heads <= num_attention_heads`, `1 <= num_experts_per_tok <= num_experts` for MoE, `0 < partial_rotary_factor <= 1`.",
        "",
        "`gpuforge estimate` flags:",
        "",
        "| flag | range |",
        "|---|---|",
    ]
    def num(v: float) -> str:
        return f"{int(v):,}" if float(v).is_integer() else f"{v:g}"

    rows += [f"| `--{k.replace('_', '-')}` | {num(lo)} .. {num(hi)} |" for k, lo, hi in _ESTIMATE_BOUNDS]
    rows += [
        "| `--gpu-memory-utilization` | (0, 1] (vLLM CacheConfig) |",
        "| `--pp` | at most the model's layer count (vLLM get_pp_indices) |",
        "",
        "Contradictions are spec errors (`gpuforge.spec_checks`): `target.max_replicas` below `sla.min_replicas`;",
        "`sla.spread_zones` with one zone (`target.zone`, a one-zone region, one existing subnet); a",
        "`capacity_reservation_id` with on-demand or spot capacity; a capacity block smaller than",
        "`sla.min_replicas` or than the nodes the pool scales to; a stack whose `aws:region` /",
        "`azure-native:location` differs from the region a deployment is planned into; deployments of one",
        "stack on different clouds (or `either`); empty `model.id` / `hf_id` / `served_name` / `revision`.",
        "",
        "JSON output (`--json`, `--format json`, plan.json) is strict JSON: a value that is not a finite",
        "number (an unbounded latency, say) is written as `null`.",
    ]
    return "\n".join(rows)

