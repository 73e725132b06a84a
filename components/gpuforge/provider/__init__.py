"""gpuforge as a Pulumi component provider: the components in TypeScript, Go, C#, Java and YAML.

`provider/` at the repository root holds the plugin (`PulumiPlugin.yaml`, `__main__.py`);
`pulumi package add <path to provider/>` generates a typed SDK in the consuming program's
language from the schema Pulumi's component analyzer infers from `gpuforge.provider.components`.
"""

from gpuforge.provider.components import EXPORTED, build

PACKAGE = "gpuforge"

__all__ = ["EXPORTED", "PACKAGE", "build", "schema"]


def schema(version: str = "0.1.0") -> dict:
    """The package schema the plugin serves (what `pulumi package add` generates SDKs from)."""
    import json

    from pulumi.provider.experimental.component import ComponentProvider

    components, _ = build()
    provider = ComponentProvider(components, PACKAGE, version=version)
    return json.loads(provider.schema or "{}")  # the JSON the provider hands the engine
