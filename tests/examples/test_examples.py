"""Every example script runs offline, prints its conversation and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# For each script: lines its output must contain, in this order.
EXPECTED: dict[str, list[str]] = {
    "two_agent_code.py": [
        "user_proxy (to assistant):",
        "List the first ten Fibonacci numbers.",
        "assistant (to user_proxy):",
        "```python",
        "EXECUTED python with sandbox (exit code 0)",
        "Code output: [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]",
        "The first ten Fibonacci numbers are 0, 1, 1, 2, 3, 5, 8, 13, 21, 34.",
        "conversation ended (is_termination_msg)",
        "Summary: The first ten Fibonacci numbers are 0, 1, 1, 2, 3, 5, 8, 13, 21, 34.",
        "Messages: 4",
    ],
    "group_chat.py": [
        "user (to",
        "Plan a neighbourhood party.",
        "planner (to",
        "next speaker: researcher (auto:json_schema)",
        "The town hall is free on Saturday",
        "next speaker: writer (auto:json_schema)",
        "Invitation: join us at the town hall on Saturday!",
        "Speakers: user -> planner -> researcher -> writer",
        "Ended by: is_termination_msg",
    ],
    "transitions.py": [
        "team_a_lead -> team_a_member",
        "team_b_member -> team_b_lead",
        "user (to",
        "Count the chocolates of both teams.",
        # The user is not a member: the selector is offered everyone for the first speaker.
        "[selector offered: team_a_lead, team_a_member, team_b_lead, team_b_member; "
        "chose team_a_lead]",
        "[selector offered: team_a_member, team_b_lead; chose team_b_lead]",
        "[selector offered: team_b_member, team_a_lead; chose team_b_member]",
        "Speakers: user -> team_a_lead -> team_b_lead -> team_b_member -> team_b_lead"
        " -> team_a_lead -> team_a_member -> team_a_lead",
    ],
    "student_asks_expert.py": [
        "user (to student):",
        "Solve x^2 - 5x + 6 = 0.",
        "tool call ask_expert",
        "CALLING TOOL ask_expert",  # announced before the tool runs, as AutoGen does
        "expert_proxy (to expert):",
        "expert (to expert_proxy):",
        "tool result Factor it: (x - 2)(x - 3) = 0, so the roots are x = 2 and x = 3.",
        "Summary: The roots are 2 and 3: factor the polynomial.",
    ],
    "nested_chats.py": [
        "critic (to writer):",
        "Write a post about sleep.",
        "critic (to seo_reviewer):",
        "SEO: put the keyword 'sleep' in the first sentence.",
        "critic (to fact_checker):",
        "Check the facts of the post.",
        "Facts: cite a source for the memory claim.",
        "critic (to writer):",
        "Summary: Title: Why sleep matters. Sleep consolidates memory",
    ],
}


def test_every_example_is_covered() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


def _run(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example_runs_and_prints_its_conversation(script: str, tmp_path: Path) -> None:
    completed = _run(script, tmp_path)

    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    out = completed.stdout
    position = 0
    for expected in EXPECTED[script]:
        found = out.find(expected, position)
        assert found >= 0, f"{expected!r} missing (in order) from the output of {script}:\n{out}"
        position = found + len(expected)
    # The examples leave nothing behind in the working directory.
    assert list(tmp_path.iterdir()) == []


def test_student_example_prints_each_nested_message_once(tmp_path: Path) -> None:
    out = _run("student_asks_expert.py", tmp_path).stdout

    assert out.count("expert (to expert_proxy):") == 1
    assert out.count("expert_proxy (to expert):") == 1
