"""End to end: the local stack's real processes, from CI upload to deployed customers and back.

The stack is the one `uv run nox -s stack` runs (tools/stack.py), here on free ports, its own
databases and Redis database numbers, and short poll and heartbeat intervals. The tests run in
order against one stack: each builds on the versions the previous one published.
"""

from __future__ import annotations

import mailbox
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tools.demo import Demo
from tools.stack import OPERATOR_TOKEN, CustomerSpec, Stack, StackConfig
from tools.waiting import wait_until
from wrktalk_testing.network import free_port
from wrktalk_testing.redis_db import RedisClaim, claim_redis_db, release_redis_db

REDIS_BASE = "redis://127.0.0.1:6379"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    claims: list[RedisClaim] = [claim_redis_db(REDIS_BASE) for _ in range(3)]
    config = StackConfig(
        var=tmp_path_factory.mktemp("stack"),
        prefix=f"wrktalk_e2e_{uuid.uuid4().hex[:8]}",
        gcc_port=free_port(),
        s3_port=free_port(),
        smtp_port=free_port(),
        gcc_redis_db=claims[0].db,
        customers=(
            CustomerSpec("acme", free_port(), claims[1].db),
            CustomerSpec("globex", free_port(), claims[2].db),
        ),
        poll_interval=1.0,
        heartbeat_interval=2.0,
        gcc_poll_interval=3.0,
        dispatch_interval=1.0,
        webhook_retry_delay=1.0,
    )
    running = Stack(config)
    try:
        running.start()
        yield running
    finally:
        running.reset()
        for claim in claims:
            release_redis_db(claim)


@pytest.fixture(scope="module")
def demo(stack: Stack) -> Iterator[Demo]:
    driver = Demo(stack)
    yield driver
    driver.gcc.close()


def operator_get(stack: Stack, path: str) -> httpx.Response:
    return httpx.get(
        f"{stack.config.gcc_url}{path}",
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        timeout=30,
    )


def emails(stack: Stack) -> list[tuple[str, str, str]]:
    """(recipient, subject, body) of every email the stack's SMTP server received."""
    box = mailbox.Maildir(stack.config.var / "mail", create=True)
    received = []
    for message in box:
        body = message.get_payload(decode=False)
        text = body if isinstance(body, str) else str(body)
        received.append((str(message["To"]), str(message["Subject"]), text))
    return received


def git_log(repository: Path) -> str:
    return subprocess.run(
        ["git", "log", "--format=%H %s"], cwd=repository, capture_output=True, text=True, check=True
    ).stdout


def test_release_flows_from_ci_to_both_customers_and_back_to_gcc(stack: Stack, demo: Demo) -> None:
    demo.release("1.1.0", forced=False)
    demo.deliver("1.1.0")

    for customer in stack.config.customers:
        organization = operator_get(stack, f"/api/operator/organizations/{customer.name}").json()
        assert organization["currentVersion"] == "1.1.0"
        log = git_log(stack.gitops_repo(customer))
        assert "1.1.0" in log, log
        rendered = stack.gitops_repo(customer) / "wrktalk"
        manifests = "".join(path.read_text() for path in rendered.rglob("*.yaml"))
        assert "backend:sha-110" in manifests

    release = operator_get(stack, "/api/operator/releases/1.1.0").json()
    assert release["status"] == "published"

    def admins_told() -> bool:
        recipients = {to for to, subject, _ in emails(stack) if "1.1.0" in subject}
        return {"admin@acme.local", "admin@globex.local"} <= recipients

    wait_until(admins_told, timeout=60, what="the admins' emails about 1.1.0")


def test_customer_down_during_fan_out_gets_the_release_by_poll(stack: Stack, demo: Demo) -> None:
    acme = stack.config.customers[0]
    stack.processes[f"{acme.name}-api"].stop()
    demo.release("1.2.0", forced=False)

    def webhook_failed() -> bool:
        release = operator_get(stack, "/api/operator/releases/1.2.0").json()
        targets = {target["organizationName"]: target for target in release["deploymentTargets"]}
        return targets[acme.name]["delivery"]["failed"] is True

    wait_until(webhook_failed, timeout=60, what="GCC to give up the webhook to acme")

    stack.restart_backend_api(acme)
    deployment = demo.wait_for_download(acme.name, "1.2.0")
    assert deployment["isChartDownloaded"] is True


def test_rollback_by_version_reaches_gcc_version_history(stack: Stack, demo: Demo) -> None:
    acme = stack.config.customers[0]
    deployment = demo.wait_for_download(acme.name, "1.2.0")
    demo.schedule_now(acme.name, deployment["id"])
    demo.wait_for_deployment(acme.name, deployment["id"])
    demo.wait_for_gcc_version(acme.name, "1.2.0")

    demo.roll_back(acme.name, "1.1.0")

    organization = operator_get(stack, f"/api/operator/organizations/{acme.name}").json()
    assert organization["currentVersion"] == "1.1.0"

    def history() -> list[tuple[str, bool]] | None:
        body = operator_get(stack, f"/api/operator/organizations/{acme.name}/versions").json()
        entries = [(entry["releaseVersion"], entry["isRollback"]) for entry in body["versions"]]
        return entries if len(entries) >= 3 else None

    entries = wait_until(history, timeout=60, what="the rollback in GCC's version history")
    assert entries[:3] == [("1.1.0", True), ("1.2.0", False), ("1.1.0", False)]
