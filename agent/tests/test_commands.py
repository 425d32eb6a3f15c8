import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from contracts import LogStream
from wrktalk_agent.commands import CommandFailed, CommandRunner, CommandTimedOut
from wrktalk_agent.control import StopControl
from wrktalk_agent.errors import TaskAbandoned, TaskInterrupted
from wrktalk_agent.output import LineSplitter

PYTHON = sys.executable


class Lines:
    """A line sink that remembers when each line arrived."""

    def __init__(self) -> None:
        self.received: list[tuple[LogStream, str, float]] = []

    def __call__(self, stream: LogStream, line: str) -> None:
        self.received.append((stream, line, time.monotonic()))

    def of(self, stream: LogStream) -> list[str]:
        return [line for kind, line, _ in self.received if kind is stream]


def script(code: str) -> list[str]:
    return [PYTHON, "-u", "-c", code]


async def test_output_lines_are_streamed_while_the_command_runs() -> None:
    lines = Lines()
    runner = CommandRunner(on_line=lines)
    code = "import sys, time; print('first'); time.sleep(0.6); print('second', file=sys.stderr)"
    result = await runner.run(script(code), step="demo", time_limit=10)
    finished = time.monotonic()
    assert lines.of(LogStream.STDOUT) == ["first"]
    assert lines.of(LogStream.STDERR) == ["second"]
    first_arrival = next(at for _, line, at in lines.received if line == "first")
    assert finished - first_arrival > 0.4
    assert result.exit_code == 0
    assert result.stderr_tail == ["second"]
    assert lines.of(LogStream.AGENT)[0].startswith("$ ")


async def test_captured_stdout_is_returned_and_not_streamed() -> None:
    lines = Lines()
    runner = CommandRunner(on_line=lines)
    result = await runner.run(
        script("print('{\"secret\": 1}')"), step="demo", time_limit=10, capture_stdout=True
    )
    assert result.stdout == '{"secret": 1}\n'
    assert lines.of(LogStream.STDOUT) == []


async def test_nul_characters_in_the_output_become_replacement_characters() -> None:
    lines = Lines()
    runner = CommandRunner(on_line=lines)
    code = (
        "import sys\n"
        "sys.stdout.buffer.write(b'a\\x00b\\n\\xff\\x00\\n')\n"
        "sys.stderr.buffer.write(b'err\\x00\\n')\n"
        "sys.exit(2)"
    )
    with pytest.raises(CommandFailed) as failure:
        await runner.run(script(code), step="demo", time_limit=10)
    assert lines.of(LogStream.STDOUT) == ["a\ufffdb", "\ufffd\ufffd"]
    assert lines.of(LogStream.STDERR) == ["err\ufffd"]
    assert failure.value.output_tail == ["err\ufffd"]

    captured = await runner.run(
        script("import sys; sys.stdout.buffer.write(b'{\\x00}')"),
        step="demo",
        time_limit=10,
        capture_stdout=True,
    )
    assert captured.stdout == "{\ufffd}"


async def test_a_failing_command_raises_with_the_tail_of_stderr() -> None:
    code = "import sys\nfor n in range(100): print(f'line {n}', file=sys.stderr)\nsys.exit(3)"
    with pytest.raises(CommandFailed) as failure:
        await CommandRunner().run(script(code), step="demo", time_limit=10)
    assert "exit code 3" in failure.value.message
    assert failure.value.output_tail[-1] == "line 99"
    assert len(failure.value.output_tail) == 40


async def test_a_missing_binary_is_a_command_failure() -> None:
    with pytest.raises(CommandFailed, match="cannot run"):
        await CommandRunner().run(["/nonexistent/helm"], step="helm", time_limit=5)


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    child_pid_file = tmp_path / "child.pid"
    code = (
        "import subprocess, time\n"
        "child = subprocess.Popen(['sleep', '30'])\n"
        f"open({str(child_pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(30)\n"
    )
    started = time.monotonic()
    with pytest.raises(CommandTimedOut) as failure:
        await CommandRunner().run(script(code), step="slow", time_limit=1)
    assert time.monotonic() - started < 10
    assert failure.value.retryable
    child_pid = int(child_pid_file.read_text())
    await asyncio.sleep(0.2)
    assert not _alive(child_pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; only a reaper is missing.
    status = Path(f"/proc/{pid}/status").read_text()
    return "State:\tZ" not in status


async def test_a_secret_is_never_put_on_a_command_line() -> None:
    runner = CommandRunner(secrets=["s3cr3t-value"])
    with pytest.raises(ValueError, match="secret"):
        await runner.run(["echo", "--token=s3cr3t-value"], step="echo", time_limit=5)


async def test_secrets_in_output_are_redacted() -> None:
    lines = Lines()
    runner = CommandRunner(on_line=lines, secrets=["s3cr3t-value"])
    code = "import os; print('token is ' + 's3cr3t' + '-value')"
    await runner.run(script(code), step="demo", time_limit=10)
    assert lines.of(LogStream.STDOUT) == ["token is [redacted]"]


async def test_the_agent_settings_stay_out_of_the_child_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WRKTALK_AGENT_AGENT_SECRET", "do-not-inherit")
    monkeypatch.setenv("SOME_OTHER_SETTING", "inherited")
    result = await CommandRunner().run(["env"], step="env", time_limit=5)
    assert "do-not-inherit" not in result.stdout
    assert "SOME_OTHER_SETTING=inherited" in result.stdout


async def test_long_lines_are_cut_to_the_log_line_limit() -> None:
    lines = Lines()
    await CommandRunner(on_line=lines).run(script("print('x' * 40000)"), step="demo", time_limit=10)
    stdout = lines.of(LogStream.STDOUT)
    assert [len(line) for line in stdout] == [16384, 16384, 7232]


async def test_after_a_stop_request_the_running_command_finishes_and_no_other_starts() -> None:
    control = StopControl(grace_period=10)
    runner = CommandRunner(control=control)
    running = asyncio.create_task(
        runner.run(script("import time; time.sleep(0.8); print('done')"), step="a", time_limit=10)
    )
    await asyncio.sleep(0.3)
    control.request_stop()
    result = await running
    assert result.stdout.strip() == "done"
    with pytest.raises(TaskInterrupted, match="agent stopped before b"):
        await runner.run(["true"], step="b", time_limit=5)


async def test_a_command_outlasting_the_grace_period_is_killed() -> None:
    control = StopControl(grace_period=0.3)
    runner = CommandRunner(control=control)
    running = asyncio.create_task(
        runner.run(script("import time; time.sleep(30)"), step="helm upgrade", time_limit=60)
    )
    await asyncio.sleep(0.3)
    started = time.monotonic()
    control.request_stop()
    with pytest.raises(TaskInterrupted, match="helm upgrade"):
        await running
    assert time.monotonic() - started < 5


async def test_an_abandoned_task_has_its_command_killed_at_once() -> None:
    control = StopControl(grace_period=30)
    runner = CommandRunner(control=control)
    running = asyncio.create_task(
        runner.run(script("import time; time.sleep(30)"), step="compose up", time_limit=60)
    )
    await asyncio.sleep(0.3)
    control.abandon("cancelled")
    with pytest.raises(TaskAbandoned):
        await running


async def test_a_step_that_must_not_be_interrupted_runs_while_stopping() -> None:
    control = StopControl(grace_period=0)
    control.request_stop()
    control.abandon("timed out")
    result = await CommandRunner(control=control).run(
        ["echo", "maintenance off"], step="maintenance off", time_limit=5, interruptible=False
    )
    assert result.stdout.strip() == "maintenance off"


def test_a_long_line_arriving_in_pieces_is_split_not_cut() -> None:
    splitter = LineSplitter()
    lines = splitter.feed(b"x" * 20000) + splitter.feed(b"y" * 20000 + b"\nnext\n")
    assert [len(line) for line in lines] == [16384, 16384, 7232, 4]
    assert "".join(lines[:3]) == "x" * 20000 + "y" * 20000
    assert lines[3] == "next"


def test_a_progress_line_keeps_its_last_state() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"10%\r50%\r100%\r\n") == ["100%"]
