"""Every shell command in README.md and docs/*.md: the ones that run offline are run, in order,
as a reader would (in a fresh folder with a copy of stacks/); the rest must be ones that need
a cloud, a cluster or the Pulumi CLI, named here, so a new command is never left untried."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from gpuforge.cli import main

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

# Commands that cannot run here: they need the Pulumi CLI and a backend, cloud credentials or
# a live cluster (the deploy flow's offline part, `gpuforge init` and `gpuforge plan`, runs).
NEEDS_CLOUD = ("pulumi ", "export ", "az ", "aws ", "kubectl ", "curl ")
# gpuforge commands that read the network (the public price APIs); tests/ serve them recorded
# responses from 127.0.0.1 instead.
NEEDS_NETWORK = ("gpuforge prices refresh",)
# Set up the environment the other commands run in.
ENVIRONMENT = ("source .venv/bin/activate",)
# The README's two commands: .ci/run runs them on every CI run.
CI_RUNS = ("bash scripts/main.sh", "bash scripts/test.sh")


def commands(path: Path) -> list[str]:
    """The commands of a Markdown file's shell code blocks, continuation lines joined."""
    out = []
    for block in re.findall(r"^\s*```(?:bash|sh|shell|console)\n(.*?)^\s*```", path.read_text(), re.S | re.M):
        text = re.sub(r"\\\n\s*", " ", block)
        for line in text.splitlines():
            words = shlex.split(line, comments=True)
            if words:
                out.append(shlex.join(words))
    return out


ALL = [(p.relative_to(REPO).as_posix(), c) for p in DOCS for c in commands(p)]


def test_commands_are_found():
    runnable = [c for _, c in ALL if c.startswith("gpuforge ")]
    assert len(runnable) >= 8 and any(c.startswith("gpuforge init ") for c in runnable)


def _runs_here(command: str) -> bool:
    return command.startswith("gpuforge ") and not command.startswith(NEEDS_NETWORK)


@pytest.mark.parametrize("where,command", [a for a in ALL if not _runs_here(a[1])], ids=lambda v: v if isinstance(v, str) else "")
def test_every_other_command_is_accounted_for(where, command):
    if command in CI_RUNS:
        assert command in (REPO / ".ci" / "run").read_text().replace("./scripts", "scripts")
        return
    assert command.startswith(NEEDS_CLOUD + NEEDS_NETWORK) or command in ENVIRONMENT, (
        f"{where}: `{command}` is neither run by this test nor known to need a cloud: "
        "run it here (gpuforge ...) or add its prefix to NEEDS_CLOUD with the reason"
    )


@pytest.mark.parametrize("doc", sorted({w for w, c in ALL if _runs_here(c)}))
def test_offline_commands_run_in_order(doc, tmp_path, monkeypatch, capsys):
    # each document is a walk-through of its own: a fresh folder with a copy of stacks/
    shutil.copytree(REPO / "stacks", tmp_path / "stacks")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GPUFORGE_QUIET", "1")
    for where, command in ALL:
        if where != doc or not _runs_here(command):
            continue
        argv = shlex.split(command)[1:]
        target = None
        if ">" in argv:
            i = argv.index(">")
            argv, target = argv[:i], argv[i + 1]
        assert "|" not in argv, f"{where}: `{command}`: pipes are not run here"
        rc = main(argv)
        out = capsys.readouterr().out
        assert rc == 0, f"{where}: `{command}` exited {rc}"
        assert out.strip() or argv[0] == "preview", f"{where}: `{command}` printed nothing"
        if target:
            Path(target).write_text(out)
    if doc == "README.md":  # what the README's flow leaves behind
        assert (tmp_path / "stacks" / "Pulumi.my-chat.yaml").is_file()
        assert (tmp_path / "gpuforge.schema.json").read_text().lstrip().startswith("{")
