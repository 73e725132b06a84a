"""Pulumi mock runtime for component tests (the implementation lives in gpuforge.testing).

Use the `pulumi_mocks` fixture (tests/conftest.py): it installs fresh mocks with
`preview=False` and a fresh event loop, and yields the `Recorder`. Build components inside
the test, then call `recorder.wait(*resources)` before reading `recorder.resources`.
"""

from gpuforge.testing import MASK, SECRET_SIG, SECRET_VALUE, Recorded, Recorder

__all__ = ["MASK", "SECRET_SIG", "SECRET_VALUE", "Recorded", "Recorder"]
