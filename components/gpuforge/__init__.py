"""gpuforge: size, provision, serve and watch LLM inference on AWS or Azure with Pulumi.

Sub-packages load only what they need: `gpuforge.sizing` and `gpuforge.catalog` never import
Pulumi, `gpuforge.aws` never imports the Azure SDK and `gpuforge.azure` never imports the AWS
SDK.
"""

__version__ = "0.1.0"
