"""End to end: the local stack's real processes, from CI upload to deployed customers and back.

The stack is the one `uv run nox -s stack` runs (tools/stack.py), here on free ports, its own
databases and Redis database numbers, and short poll and heartbeat intervals. The tests run in
order against one stack: each builds on the versions the previous one published.
"""

from __future__ import annotations

import mailbox
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from tests.e2e.stacks import serve_stack
from tools.demo import Demo
from tools.stack import OPERATOR_TOKEN, CustomerSpec, Stack, StackConfig
from tools.waiting import WaitTimeout, wait_until
from wrktalk_testing.network import free_port
from wrktalk_testing.redis_db import RedisClaim, claim_redis_db
from wrktalk_testing.relay import TcpRelay, relay

REDIS_BASE = "redis://127.0.0.1:6379"
TASK_TIMEOUT_SECONDS = 30.0
"""The stack's task timeout: long beside the agent's 2 s heartbeats, short for a test."""


@dataclass
class Partition:
    """The two relays between GCC and globex: GCC's webhooks to globex, globex's calls to GCC."""

    to_customer: TcpRelay
    to_gcc: TcpRelay

    def cut(self) -> None:
        self.to_customer.cut()
        self.to_gcc.cut()

    def restore(self) -> None:
        self.to_customer.restore()
        self.to_gcc.restore()


@pytest.fixture(scope="module")
def partition() -> Iterator[Partition]:
    gcc_port, globex_port = free_port(), free_port()
    with (
        relay(free_port(), globex_port) as to_customer,
        relay(free_port(), gcc_port) as to_gcc,
    ):
        # the relays remember their targets' ports; the stack fixture gives those ports to
        # GCC and globex
        yield Partition(to_customer=to_customer, to_gcc=to_gcc)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, partition: Partition) -> Iterator[Stack]:
    claims: list[RedisClaim] = [claim_redis_db(REDIS_BASE) for _ in range(3)]
    config = StackConfig(
        var=tmp_path_factory.mktemp("stack"),
        prefix=f"wrktalk_e2e_{uuid.uuid4().hex[:8]}",
        gcc_port=partition.to_gcc.target_port,
        s3_port=free_port(),
        smtp_port=free_port(),
        gcc_redis_db=claims[0].db,
        customers=(
            CustomerSpec("acme", free_port(), claims[1].db, worker_metrics_port=free_port()),
            # globex talks to GCC, and GCC to globex, through relays a test can cut
            CustomerSpec(
                "globex",
                partition.to_customer.target_port,
                claims[2].db,
                gcc_url=f"http://127.0.0.1:{partition.to_gcc.listen_port}",
                webhook_url=f"http://127.0.0.1:{partition.to_customer.listen_port}",
            ),
        ),
        poll_interval=1.0,
        heartbeat_interval=2.0,
        gcc_poll_interval=3.0,
        dispatch_interval=1.0,
        webhook_retry_delay=1.0,
        prometheus_port=free_port(),
        gcc_worker_metrics_port=free_port(),
        extra_backend_env={
            "WRKTALK_TASK_TIMEOUT_MINUTES": str(TASK_TIMEOUT_SECONDS / 60),
            "WRKTALK_TIMELINE_INTERVAL_SECONDS": "2",
            "WRKTALK_DOWNLOAD_RETRY_BASE_SECONDS": "0.5",
        },
    )
    yield from serve_stack(config, claims)


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


def test_release_flows_from_ci_to_both_customers_and_back_to_gcc(
    stack: Stack, demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    demo.run()  # the first demo run: the next version after 1.0.0, to every customer

    printed = capsys.readouterr().out
    assert "Demo: publishing 1.1.0" in printed
    assert "acme's agent deploys 1.1.0" in printed
    assert "acme: current 1.1.0" in printed
    assert "globex: current 1.1.0" in printed

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


def test_prometheus_scraped_the_demo_fan_out(stack: Stack) -> None:
    if stack.config.prometheus_port is None or shutil.which("prometheus") is None:
        pytest.skip("prometheus is not installed: apt-get install -y prometheus")
    prometheus = f"http://127.0.0.1:{stack.config.prometheus_port}"

    def value(promql: str) -> float:
        try:
            response = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=5)
        except httpx.TransportError:
            return float("nan")
        result = response.json()["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0

    queries = {
        'sum(up{job=~"gcc-.*|customer-backend-.*"})': lambda found: found == 5,
        'sum(wrktalk_gcc_releases{status="published"})': lambda found: found >= 1,
        'sum(wrktalk_gcc_webhook_deliveries_total{outcome="acknowledged"})': (
            lambda found: found >= 1
        ),
        "sum(wrktalk_gcc_organizations)": lambda found: found == 2,
    }
    last: dict[str, float] = {}

    def scraped() -> bool:
        last.update({promql: value(promql) for promql in queries})
        return all(check(last[promql]) for promql, check in queries.items())

    try:
        wait_until(scraped, timeout=60, what="Prometheus to scrape the demo's fan-out")
    except WaitTimeout as timeout:
        raise AssertionError(f"last values: {last}") from timeout


def test_customer_down_during_fan_out_gets_the_release_by_poll(stack: Stack, demo: Demo) -> None:
    acme = stack.config.customers[0]
    stack.processes[f"{acme.name}-api"].stop()
    demo.release("1.2.0", forced=False)

    def webhook_failed() -> bool:
        release = operator_get(stack, "/api/operator/releases/1.2.0").json()
        targets = {target["organizationName"]: target for target in release["deploymentTargets"]}
        return targets[acme.name]["delivery"]["failed"] is True

    wait_until(webhook_failed, timeout=60, what="GCC to give up the webhook to acme")

    # the first attempt and 2 retries, then the poll
    assert release_targets(stack, "1.2.0")[acme.name]["delivery"]["attempts"] == 3

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


def test_demo_second_run_is_a_forced_update_then_a_rollback(
    stack: Stack, demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    acme, globex = stack.config.customers

    demo.run()  # a later demo run: 1.3.0 as a forced update, then acme back to 1.2.0

    printed = capsys.readouterr().out
    assert "Demo: publishing 1.3.0 as a forced update" in printed
    assert "acme's admin rolls back to 1.2.0" in printed
    release = operator_get(stack, "/api/operator/releases/1.3.0").json()
    assert release["isForced"] is True
    assert (
        operator_get(stack, f"/api/operator/organizations/{globex.name}").json()["currentVersion"]
        == "1.3.0"
    )
    assert (
        operator_get(stack, f"/api/operator/organizations/{acme.name}").json()["currentVersion"]
        == "1.2.0"
    )

    def admins_told_of_the_deadline() -> bool:
        recipients = {
            to
            for to, subject, _ in emails(stack)
            if "Required update: WrkTalk 1.3.0 must be deployed by" in subject
        }
        return {"admin@acme.local", "admin@globex.local"} <= recipients

    wait_until(admins_told_of_the_deadline, timeout=60, what="the forced-update emails")


def release_targets(stack: Stack, version: str) -> dict[str, dict[str, Any]]:
    release = operator_get(stack, f"/api/operator/releases/{version}").json()
    return {target["organizationName"]: target for target in release["deploymentTargets"]}


def control_tower(stack: Stack, demo: Demo, name: str, path: str) -> Any:
    with demo.backend(name) as client:
        response = client.get(path)
    response.raise_for_status()
    return response.json()


def pending_deployment(stack: Stack, demo: Demo, name: str, version: str) -> dict[str, Any] | None:
    body = control_tower(stack, demo, name, "/api/admin/deployment/releases")
    for deployment in body["pending"]:
        if deployment["version"] == version:
            return dict(deployment)
    return None


def test_gcc_unreachable_while_publishing_the_poll_picks_the_release_up(
    stack: Stack, demo: Demo, partition: Partition
) -> None:
    acme, globex = stack.config.customers
    partition.cut()
    try:
        demo.release("1.4.0", forced=False)

        def webhook_failed() -> bool:
            return bool(release_targets(stack, "1.4.0")[globex.name]["delivery"]["failed"])

        wait_until(webhook_failed, timeout=60, what="GCC to give up the webhook to globex")
        # acme was not cut off: its webhook arrived
        demo.wait_for_download(acme.name, "1.4.0")
        # globex polls GCC every 3 s, but cannot reach it
        time.sleep(4)
        assert pending_deployment(stack, demo, globex.name, "1.4.0") is None
    finally:
        partition.restore()

    deployment = demo.wait_for_download(globex.name, "1.4.0")
    assert deployment["isChartDownloaded"] is True
    targets = release_targets(stack, "1.4.0")
    assert targets[globex.name]["delivery"]["acked"] is False
    assert targets[acme.name]["delivery"]["acked"] is True


def test_agent_killed_during_a_task_times_out_and_is_not_run_again(
    stack: Stack, demo: Demo
) -> None:
    globex = stack.config.customers[1]
    repository = stack.gitops_repo(globex)
    hook = repository / ".git" / "hooks" / "pre-commit"
    # the agent's commit of the rendered manifests waits here until the agent is killed
    committing = stack.config.var / "globex-committing"
    hook.write_text(f"#!/bin/sh\ntouch {committing}\nsleep 600\n")
    hook.chmod(0o755)
    deployment = demo.wait_for_download(globex.name, "1.4.0")
    commits_before = git_log(repository)

    demo.schedule_now(globex.name, deployment["id"])

    def in_progress() -> bool:
        body = control_tower(stack, demo, globex.name, f"/api/admin/deployment/{deployment['id']}")
        return bool(body["deployment"]["status"] == "inProgress")

    wait_until(in_progress, timeout=60, what="globex's agent to pick the task up")
    wait_until(committing.exists, timeout=60, what="globex's agent to commit")
    # killed in the middle of `git commit`: the working copy keeps git's index.lock
    stack.processes[f"{globex.name}-agent"].stop(signal.SIGKILL)
    hook.unlink()

    def timed_out() -> dict[str, Any] | None:
        body = control_tower(stack, demo, globex.name, f"/api/admin/deployment/{deployment['id']}")
        return dict(body) if body["deployment"]["status"] == "failed" else None

    detail = wait_until(timed_out, timeout=TASK_TIMEOUT_SECONDS + 60, what="the task timeout")
    assert detail["deployment"]["errorMessage"] == "Task timeout - no heartbeat received"

    def reported_to_gcc() -> bool:
        target = release_targets(stack, "1.4.0")[globex.name]
        return bool(target["deployment"]["status"] == "failed")

    wait_until(reported_to_gcc, timeout=60, what="GCC to record the failed deployment")
    escalations = operator_get(
        stack, f"/api/operator/escalations?type=DEPLOYMENT_FAILED&organization={globex.name}"
    ).json()["escalations"]
    assert [entry["releaseVersion"] for entry in escalations] == ["1.4.0"]
    wait_until(
        lambda: any(
            to == "admin@globex.local" and "timed out" in subject
            for to, subject, _ in emails(stack)
        ),
        timeout=60,
        what="the admin's email about the timeout",
    )

    restarted_at = time.time()
    stack.start_agent(globex)

    def polled_since_restart() -> bool:
        status = control_tower(stack, demo, globex.name, "/api/admin/agent/status")
        last = status.get("lastPollAt")
        return bool(last) and _epoch(last) > restarted_at + 2

    wait_until(polled_since_restart, timeout=60, what="the restarted agent to poll")
    time.sleep(3)
    body = control_tower(stack, demo, globex.name, f"/api/admin/deployment/{deployment['id']}")
    assert body["deployment"]["status"] == "failed"
    assert git_log(repository) == commits_before
    gcc_org = operator_get(stack, f"/api/operator/organizations/{globex.name}").json()
    assert gcc_org["currentVersion"] == "1.3.0"

    # the admin schedules the release again, and the restarted agent deploys it
    demo.schedule_now(globex.name, deployment["id"])
    demo.wait_for_deployment(globex.name, deployment["id"])
    demo.wait_for_gcc_version(globex.name, "1.4.0")
    assert "1.4.0" in git_log(repository)


def test_corrupted_artifact_is_never_deployed(stack: Stack, demo: Demo) -> None:
    demo.upload_artifacts("1.5.0")
    s3 = boto3.client(
        "s3",
        endpoint_url=stack.config.s3_url,
        aws_access_key_id="stack",
        aws_secret_access_key="stack",
        region_name="us-east-1",
    )
    key = "charts/helm/wrktalk-1.5.0.tgz"
    original = s3.get_object(Bucket="gcc-artifacts", Key=key)["Body"].read()
    s3.put_object(Bucket="gcc-artifacts", Key=key, Body=original[:-64] + bytes(64))
    demo.publish("1.5.0", forced=False)

    for customer in stack.config.customers:

        def download_failed(name: str = customer.name) -> dict[str, Any] | None:
            deployment = pending_deployment(stack, demo, name, "1.5.0")
            if deployment is not None and deployment["status"] == "downloadFailed":
                return deployment
            return None

        deployment = wait_until(
            download_failed, timeout=90, what=f"{customer.name} to give up the download"
        )
        assert deployment["isChartDownloaded"] is False
        with demo.backend(customer.name) as client:
            refused = client.post(
                "/api/admin/deployment/schedule",
                json={
                    "deploymentId": deployment["id"],
                    "scheduledFor": time.strftime(
                        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60)
                    ),
                },
            )
        assert refused.status_code == 422, refused.text
        stored = s3.list_objects_v2(Bucket=f"{customer.name}-bucket").get("Contents", [])
        assert not [item["Key"] for item in stored if "1.5.0" in item["Key"]]
        assert "1.5.0" not in git_log(stack.gitops_repo(customer))

    def admins_told() -> bool:
        recipients = {
            to
            for to, subject, _ in emails(stack)
            if subject.endswith("Download of WrkTalk 1.5.0 failed")
        }
        return {"admin@acme.local", "admin@globex.local"} <= recipients

    wait_until(admins_told, timeout=60, what="the admins' emails about the failed download")

    def reported_to_gcc() -> bool:
        targets = release_targets(stack, "1.5.0")
        return all(
            target["deployment"]["status"] == "downloadFailed" for target in targets.values()
        )

    wait_until(reported_to_gcc, timeout=60, what="GCC to record the failed downloads")


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
