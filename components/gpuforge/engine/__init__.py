"""Inference engines gpuforge plans for and serves: everything engine-specific, one submodule each.

`gpuforge.engine.vllm` owns vLLM's rules (pinned version, precision vocabulary, quantization
methods, capability / dtype / divisibility / context rules, the `vllm serve` flags); `launch`
is how a pod starts vLLM (argv per role, drain, fabric check, download). The planner,
`gpuforge estimate` and the serving component all call them, so none can disagree with
another. A second engine (SGLang) follows as sibling modules with the same functions.
"""

from gpuforge.engine.vllm import VLLM_VERSION

__all__ = ["VLLM_VERSION"]
