"""Errors a person can act on: every problem at once, each with its path, reason and fix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input.

    Attributes:
        path: where it is, as a dotted config path (`target.zone`, `model.id`).
        reason: what is wrong, with the offending value.
        fix: what to change ("To fix: ..." is added when printed).
    """

    path: str
    reason: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.path}: {self.reason}"
        if self.fix:
            text += f"\n    To fix: {self.fix}"
        return text


class SpecError(ValueError):
    """Raised once with every problem found, never one at a time."""

    def __init__(self, subject: str, problems: list[Problem]):
        self.subject = subject
        self.problems = list(problems)
        n = len(self.problems)
        lines = [f"{subject}: {n} problem{'s' if n != 1 else ''}"]
        lines += ["  " + str(p).replace("\n", "\n  ") for p in self.problems]
        super().__init__("\n".join(lines))


def raise_if(subject: str, problems: list[Problem]) -> None:
    """Raise a SpecError listing `problems` when there are any."""
    if problems:
        raise SpecError(subject, problems)
