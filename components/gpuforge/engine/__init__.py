"""The serving engine seam: everything vLLM-specific (version, flags, launch commands).

Submodules: `launch` (how a pod starts vLLM: argv per role, drain, fabric check, download).
"""
