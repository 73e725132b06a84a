"""`gpuforge estimate` applies the planner's vLLM rules (gpuforge.engine.vllm): it sizes no layout
that vLLM 0.19.0 would refuse at start (issue 10)."""

from __future__ import annotations

import contextlib
import io

import pytest
from gpuforge import cli


def _run(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(argv)
    return rc, out.getvalue() + err.getvalue()


@pytest.mark.parametrize(
    ("argv", "rule"),
    [
        # gpt-oss ships MXFP4 experts: capability 8.0 and bf16 activations (mxfp4.py)
        (["--model", "gpt-oss-20b", "--gpu", "t4"], "compute capability 8.0"),
        # gemma-2 is refused in float16 (vllm/config/model.py)
        (["--model", "gemma-2-9b-it", "--gpu", "a10g", "--dtype", "float16"], "float16"),
        # 32 attention heads do not split over 3 ranks
        (["--model", "llama-3.1-8b-instruct", "--gpu", "l4", "--tp", "3"], "3"),
    ],
)
def test_estimate_refuses_what_vllm_refuses(argv, rule):
    rc, text = _run(["estimate", *argv, "--max-model-len", "8192"])
    assert rc != 0 and "refuses it" in text and rule in text, text
    assert "Traceback" not in text


def test_estimate_sizes_a_layout_vllm_runs():
    rc, text = _run(["estimate", "--model", "llama-3.1-8b-instruct", "--gpu", "l4", "--max-model-len", "8192"])
    assert rc == 0 and "KV cache tokens" in text, text
