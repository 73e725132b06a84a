"""Inference engines gpuforge plans for and serves: one submodule per engine.

`gpuforge.engine.vllm` owns everything vLLM-specific (pinned version, precision vocabulary,
quantization methods, capability / dtype / divisibility / context rules, the `vllm serve`
command). The planner, `gpuforge estimate` and the serving component all call it, so none of
them can disagree with another. A second engine (SGLang) follows as a sibling module with the
same functions.
"""

from gpuforge.engine.vllm import VLLM_VERSION

__all__ = ["VLLM_VERSION"]
