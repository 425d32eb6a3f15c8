"""`gcc release publish --waves`, `rollout`, `pause`, `resume`, `advance` and `withdraw` against
the test database and broker, as an operator runs them."""

from __future__ import annotations

import asyncio

from click.testing import Result
from typer.testing import CliRunner

from .conftest import FleetMaker


async def run(*arguments: str) -> Result:
    """Invoke ``gcc release ...`` in a thread: it runs its own event loop, as from a terminal."""
    from gcc.cli import app

    return await asyncio.to_thread(CliRunner().invoke, app, ["release", *arguments])


async def test_an_operator_rolls_a_release_out_in_waves_from_the_command_line(
    gcc_command_environment: None, make_fleet: FleetMaker
) -> None:
    fleet = await make_fleet(canary=["c1"], early=["e1"], general=["g1", "g2"])
    await fleet.draft()

    published = await run(
        "publish", "2.3.0", "--waves", "canary,early,50%,100%", "--bake-minutes", "30"
    )
    shown = await run("rollout", "2.3.0")
    paused = await run("pause", "2.3.0", "--reason", "weekend")
    resumed = await run("resume", "2.3.0")
    advanced = await run("advance", "2.3.0")
    withdrawn = await run("withdraw", "2.3.0", "--reason", "bad chart")
    again = await run("resume", "2.3.0")

    assert published.exit_code == 0, published.output
    assert "rolling out in 4 waves" in published.output
    assert shown.exit_code == 0, shown.output
    assert "rollout of 2.3.0: running" in shown.output
    assert "canary" in shown.output
    assert "waiting" in shown.output
    assert "paused" in paused.output
    assert "running" in resumed.output
    assert "wave 1 notified last" in advanced.output
    assert await fleet.notified() == ["c1", "e1"]
    assert withdrawn.exit_code == 0, withdrawn.output
    assert "withdrew 2.3.0" in withdrawn.output
    assert again.exit_code == 1
    assert "withdrawn" in again.stderr


async def test_bad_waves_are_refused_naming_the_option(
    gcc_command_environment: None, make_fleet: FleetMaker
) -> None:
    fleet = await make_fleet(general=["g1"])
    await fleet.draft()

    shrinking = await run("publish", "2.3.0", "--waves", "50%,25%")
    unknown = await run("publish", "2.3.0", "--waves", "beta,100%")

    assert shrinking.exit_code == 1
    assert "error (waves)" in shrinking.stderr
    assert unknown.exit_code == 1
    assert "error (rollout.waves.0.rings)" in unknown.stderr
    assert await fleet.notified() == []
