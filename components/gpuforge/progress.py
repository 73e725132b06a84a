"""Progress messages for anything slow (setup, Hub look-ups, price refresh, preview steps).

One helper for the whole project so every slow step reads the same way, on stderr (stdout
stays for results that are piped: JSON, Markdown, YAML):

    from gpuforge.progress import step

    with step("Planning 2 deployments"):
        ...                                  # prints "-> Planning 2 deployments ..." then "   done (1.2 s)"

    note("Wrote preview-out/plan.md")        # one line, no timing

Quiet when $GPUFORGE_QUIET is set (tests, scripts that parse stderr).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


def _enabled() -> bool:
    return not os.environ.get("GPUFORGE_QUIET")


def note(message: str, stream: TextIO | None = None) -> None:
    """Print one progress line on stderr (or `stream`)."""
    if _enabled():
        print(message, file=stream or sys.stderr, flush=True)


@contextmanager
def step(message: str, stream: TextIO | None = None) -> Iterator[None]:
    """Announce a slow step, then say how long it took (or that it failed)."""
    out = stream or sys.stderr
    start = time.monotonic()
    note(f"-> {message} ...", out)
    try:
        yield
    except BaseException:
        note(f"   failed after {time.monotonic() - start:.1f} s", out)
        raise
    note(f"   done ({time.monotonic() - start:.1f} s)", out)
