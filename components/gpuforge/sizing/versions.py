"""Moved: the pinned vLLM version and its memory constants live in `gpuforge.engine.vllm`.

Kept so `from gpuforge.sizing.versions import VLLM_VERSION` (and the constants) still work.
"""

from __future__ import annotations

from gpuforge.engine.vllm import (
    ENGINE_CONSTANTS,
    GIB,
    VLLM_VERSION,
    EngineConstants,
    engine_constants,
)

__all__ = ["ENGINE_CONSTANTS", "GIB", "VLLM_VERSION", "EngineConstants", "engine_constants"]
