"""A deployment run by a real GitOps agent, followed live in the page; history and rollback."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from agent.tests.support.artifacts import package_chart
from contracts import DeploymentType
from customer_backend.artifacts.models import LocalArtifact
from customer_backend.console.web import SESSION_COOKIE
from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.installation.models import InstallationState
from servicekit.db import SessionFactory
from testsupport.backend_fixtures import AGENT_SECRET
from timekeeping import ManualClock
from wrktalk_agent.agent import Agent, OnceExit
from wrktalk_agent.settings import Settings as AgentSettings
from wrktalk_testing.browser import axe_violations, describe_violations
from wrktalk_testing.servers import ServedApp

from .conftest import SignIn, screenshot


def git(*arguments: str) -> None:
    subprocess.run(["git", *arguments], check=True, capture_output=True)


@pytest.fixture
def gitops_repository(tmp_path: Path) -> Path:
    """A working copy of a bare remote, as Argo CD would sync from."""
    remote = tmp_path / "remote.git"
    git("init", "--quiet", "--bare", "-b", "main", str(remote))
    working = tmp_path / "cluster-config"
    git("clone", "--quiet", str(remote), str(working))
    git("-C", str(working), "checkout", "--quiet", "-b", "main")
    (working / "README.md").write_text("Manifests synced by Argo CD\n")
    git("-C", str(working), "add", "README.md")
    git(
        "-C",
        str(working),
        "-c",
        "user.name=Ops",
        "-c",
        "user.email=ops@acme.example",
        "commit",
        "--quiet",
        "-m",
        "Start",
    )
    git("-C", str(working), "push", "--quiet", "origin", "main")
    return working


async def test_a_deployment_run_by_a_real_agent_streams_its_log_into_the_page(
    sign_in: SignIn,
    release_factory: Any,
    backend_store: Any,
    console_server: ServedApp,
    gitops_repository: Path,
    gcc_clock: ManualClock,
    backend_sessions: SessionFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")  # the agent's own commit identity
    chart = package_chart(tmp_path / "charts", "2.3.0").read_bytes()
    release = await release_factory("2.3.0")
    # the release's artifact is a chart the real helm renders
    assert release.artifact is not None

    async def chunks() -> Any:
        yield chart

    await backend_store.put_stream(release.artifact.bucket_key, chunks())
    async with backend_sessions() as session:
        artifact = await session.get(LocalArtifact, release.artifact.id)
        deployment = await session.get(ScheduledDeployment, release.id)
        assert artifact is not None
        assert deployment is not None
        artifact.sha256 = deployment.expected_sha256 = hashlib.sha256(chart).hexdigest()
        artifact.size_bytes = len(chart)
        session.add_all([artifact, deployment])
        await session.commit()
    page = await sign_in()
    await page.get_by_role("link", name="Releases").click()
    await page.get_by_label("Deploy 2.3.0 at").fill("2026-06-01T14:00")  # now, in Berlin
    await page.get_by_role("button", name="Schedule 2.3.0").click()
    await expect(page.get_by_text("Following new lines.")).to_be_visible()
    await page.evaluate("() => { window.stillTheSamePage = true; }")

    agent = Agent(
        AgentSettings(
            backend_url=console_server.base_url,
            agent_secret=AGENT_SECRET,
            deployment_type=DeploymentType.GITOPS,
            gitops_repo=str(gitops_repository),
            poll_interval=0.05,
            heartbeat_interval=1.0,
            log_batch_interval=0.1,
            temp_dir=str(tmp_path / "agent-tmp"),
            log_json=False,
            # the test swaps the release's artifact for a chart helm renders, after signing
            allow_unsigned_releases=True,
        ),
        clock=gcc_clock,
    )
    try:
        assert await agent.run_once() is OnceExit.COMPLETED
    finally:
        await agent.aclose()

    log_pane = page.get_by_role("list", name="Agent log")
    await expect(log_pane.locator("li").first).to_be_visible()
    await expect(page.get_by_text("The log is complete.")).to_be_visible()
    # the stream's end event, swapped in by htmx, says how it ended and closes the stream; the
    # summary and timeline then fetch their fragment again
    await expect(page.locator("#log-end")).to_contain_text("the deployment is success")
    await expect(page.locator("#summary")).to_contain_text("success")
    await expect(page.locator("#timeline")).to_contain_text("completed")
    assert await page.evaluate("() => window.stillTheSamePage === true")
    assert await log_pane.locator("li").count() >= 3
    violations = await axe_violations(page)
    assert violations == [], describe_violations(violations)
    await screenshot(page, "deployment-log")


async def test_roll_back_from_the_history_page_and_see_the_new_deployment(
    sign_in: SignIn,
    release_factory: Any,
    record_history: Any,
    task_factory: Any,
    backend_sessions: SessionFactory,
    gcc_clock: ManualClock,
    rows: Any,
) -> None:
    older = await release_factory("2.2.0", status="success")
    current = await release_factory("2.3.0", status="success", is_current=True)
    two_days_ago = gcc_clock.now() - timedelta(days=2)
    older_task = await task_factory(
        deployment_id=older.id,
        status="completed",
        picked_up_at=two_days_ago - timedelta(minutes=4, seconds=20),
        completed_at=two_days_ago,
    )
    await record_history(older, id=older_task.id, deployed_at=two_days_ago)
    await record_history(current, is_current=True, helm_revision=7)
    async with backend_sessions() as session:
        session.add(InstallationState(id=1, current_version="2.3.0"))
        await session.commit()
    page = await sign_in()
    await page.get_by_role("link", name="Deployments").click()
    history = page.get_by_role("table", name="Deployment history")
    await expect(history).to_contain_text("4 min 20 s")
    violations = await axe_violations(page)
    assert violations == [], describe_violations(violations)
    await screenshot(page, "history")
    await page.get_by_role("link", name="to 2.2.0").click()
    main = page.locator("main")
    await expect(main).to_contain_text("Running now: 2.3.0")
    await expect(main).to_contain_text("After the rollback: 2.2.0")
    violations = await axe_violations(page)
    assert violations == [], describe_violations(violations)
    await screenshot(page, "rollback")
    await page.get_by_role("button", name="Roll back to 2.2.0").click()
    await expect(page.get_by_role("heading", name="Rollback")).to_be_visible()
    await expect(page.locator("#timeline")).to_contain_text("rollback by ada@acme.example")
    task = (await rows.tasks())[-1]
    assert task.type == "rollback"
    assert page.url.endswith(f"/console/deployments/{task.id}")


async def test_history_pages_through_many_deployments(
    sign_in: SignIn, release_factory: Any, record_history: Any, gcc_clock: ManualClock
) -> None:
    release = await release_factory("2.3.0", status="success")
    for minutes in range(60):
        await record_history(release, deployed_at=gcc_clock.now() - timedelta(minutes=minutes))
    page = await sign_in()
    await page.get_by_role("link", name="Deployments").click()
    await expect(page.get_by_text("1 to 25 of 60")).to_be_visible()
    await page.get_by_role("link", name="Next").click()
    await expect(page.get_by_text("26 to 50 of 60")).to_be_visible()
    await page.get_by_role("link", name="3", exact=True).click()
    await expect(page.get_by_text("51 to 60 of 60")).to_be_visible()


async def test_the_log_pane_stops_following_when_scrolled_up_and_resumes_at_the_bottom(
    sign_in: SignIn, console: str, release_factory: Any, task_factory: Any, add_log_lines: Any
) -> None:
    release = await release_factory("2.3.0", status="inProgress")
    task = await task_factory(deployment_id=release.id, status="inProgress")
    await add_log_lines(task.id, *[f"rendering line {number}" for number in range(200)])
    page = await sign_in()
    await page.goto(f"{console}/deployments/{release.id}")
    pane = page.locator("#log")
    await expect(pane.locator("li")).to_have_count(200)
    at_bottom = "(pane) => pane.scrollTop + pane.clientHeight >= pane.scrollHeight - 8"
    assert await pane.evaluate(at_bottom)
    await pane.evaluate("(pane) => { pane.scrollTop = 0; }")
    await expect(page.get_by_text("Paused: scroll to the bottom")).to_be_visible()
    await add_log_lines(task.id, *[f"applying line {number}" for number in range(50)])
    await expect(pane.locator("li")).to_have_count(250)
    assert await pane.evaluate("(pane) => pane.scrollTop") == 0
    await pane.evaluate("(pane) => { pane.scrollTop = pane.scrollHeight; }")
    await expect(page.get_by_text("Following new lines.")).to_be_visible()
    await add_log_lines(task.id, "one more line")
    await expect(pane.locator("li")).to_have_count(251)
    assert await pane.evaluate(at_bottom)


async def test_the_log_stream_sends_html_fragments_from_the_last_event_id(
    sign_in: SignIn,
    console: str,
    context: Any,
    release_factory: Any,
    task_factory: Any,
    add_log_lines: Any,
) -> None:
    release = await release_factory("2.3.0", status="success")
    task = await task_factory(deployment_id=release.id, status="completed")
    first, second, third = await add_log_lines(task.id, "one", "<b>two</b>", "three\nfour")
    page = await sign_in()
    # the stored lines are in the page itself, for a reader without JavaScript
    await page.goto(f"{console}/deployments/{release.id}")
    await expect(page.locator("#log li")).to_have_count(3)
    await expect(page.get_by_text("The log is complete.")).to_be_visible()
    session = next(c for c in await context.cookies() if c["name"] == SESSION_COOKIE)["value"]
    async with httpx.AsyncClient(cookies={SESSION_COOKIE: session}) as client:
        resumed = await client.get(
            f"{console}/deployments/{release.id}/logs/stream",
            headers={"Last-Event-ID": str(first)},
        )
        state = await client.get(
            f"{console}/deployments/{release.id}/state", headers={"HX-Request": "true"}
        )
        refused = await client.get(
            f"{console}/deployments/{release.id}/logs/stream",
            headers={"Last-Event-ID": "not a number"},
        )
    assert resumed.headers["content-type"].startswith("text/event-stream")
    assert resumed.text == (
        f'id: {second}\ndata: <li id="line-{second}" class="stdout">&lt;b&gt;two&lt;/b&gt;</li>\n\n'
        f'id: {third}\ndata: <li id="line-{third}" class="stdout">three&#10;four</li>\n\n'
        "event: end\ndata: Finished: the agent's task ended <strong>completed</strong>, "
        "the deployment is <strong>success</strong>.\n\n"
    )
    assert state.status_code == 200
    assert state.text.lstrip().startswith('<div id="deployment-state"')
    assert "<html" not in state.text
    assert refused.status_code == 422
