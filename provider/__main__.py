"""Entry point of the gpuforge component provider plugin (PulumiPlugin.yaml: runtime python).

Serves every component of `gpuforge.provider.components` through the pinned pulumi SDK's
component-provider host; the schema (and so the SDK `pulumi package add` generates) is what
Pulumi's analyzer infers from their typed args.
"""

import sys
from pathlib import Path

# From a checkout: the library beside this folder (an installed gpuforge works as well).
_components = Path(__file__).resolve().parent.parent / "components"
if _components.is_dir():
    sys.path.insert(0, str(_components))

from gpuforge.provider import PACKAGE, build  # noqa: E402
from pulumi.provider.experimental import component_provider_host  # noqa: E402

if __name__ == "__main__":
    components, _ = build()
    component_provider_host(components, name=PACKAGE, version="0.1.0")
