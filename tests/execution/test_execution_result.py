from __future__ import annotations

from flowagents.execution import TIMEOUT_EXIT_CODE, BlockResult, CodeResult


def _result(**kw: object) -> CodeResult:
    fields: dict[str, object] = {
        "exit_code": 0,
        "output": "out",
        "executor": "sandbox",
        "timeout_s": 5.0,
        "blocks_total": 1,
    }
    fields.update(kw)
    fields.setdefault(
        "blocks",
        (BlockResult(language="python", exit_code=int(str(fields["exit_code"])), output="out"),),
    )
    return CodeResult.model_validate(fields)


def test_success_and_failure_read_like_autogen() -> None:
    assert _result().to_agent_message() == "exitcode: 0 (execution succeeded)\nCode output: out"
    assert _result().succeeded
    failed = _result(exit_code=1, output="Traceback ...")
    assert failed.to_agent_message() == (
        "exitcode: 1 (execution failed)\nCode output: Traceback ..."
    )
    assert not failed.succeeded


def test_timeout_says_how_long() -> None:
    message = _result(exit_code=TIMEOUT_EXIT_CODE, timed_out=True).to_agent_message()
    assert message.startswith("exitcode: 124 (timeout after 5 s; the process group was killed)")


def test_signals_carry_a_hint() -> None:
    killed = _result(exit_code=137, signal="SIGKILL").to_agent_message()
    assert killed.startswith("exitcode: 137 (killed by SIGKILL (memory limit or killed")
    xfsz = _result(exit_code=153, signal="SIGXFSZ").to_agent_message()
    assert "killed by SIGXFSZ (file size limit exceeded)" in xfsz
    assert "(killed by SIGUSR1)\n" in _result(exit_code=138, signal="SIGUSR1").to_agent_message()


def test_stopped_early_names_the_block() -> None:
    message = _result(exit_code=1, blocks_total=3).to_agent_message()
    assert "stopped at code block 1 of 3" in message
