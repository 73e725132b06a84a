from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from pulumi_mocks import Recorder

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture
def pulumi_mocks():
    """Fresh, process-global Pulumi mocks (preview=False) and event loop for one test."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    recorder = Recorder()
    recorder.install()
    try:
        yield recorder
    finally:
        loop.close()
        asyncio.set_event_loop(None)


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        if os.environ.get("GPUFORGE_SHARED_OPTIONAL"):
            # a CI that has no copy of the reference data (see .github/workflows/preview.yml)
            pytest.skip(f"reference data ../shared not checked out (looked at {SHARED})")
        pytest.fail(f"../shared not found beside the repository (looked at {SHARED})")
    return SHARED
