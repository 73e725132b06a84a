"""gpuforge's Pulumi program: one stack = the deployments in `gpuforge:deployment`.

Everything lives in the `gpuforge` library; this file stays thin on purpose.
"""

from gpuforge.program import run_or_explain

run_or_explain()
