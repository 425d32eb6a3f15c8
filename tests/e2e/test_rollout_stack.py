"""End to end: a phased rollout over the local stack's real processes with three customers.

acme is the canary, globex early, initech general. A release whose chart fails to render
reaches acme alone: its agent reports the deployment failed, the rollout halts by itself and
the other two never hear of the release. The operator withdraws it; acme's backend records the
withdrawal. A fixed release then rolls out to all three, wave after wave.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.stacks import serve_stack
from tools.demo import SAMPLES, Demo, build_compose_bundle
from tools.stack import OPERATOR_TOKEN, CustomerSpec, Stack, StackConfig
from tools.waiting import wait_until
from wrktalk_testing.network import free_port
from wrktalk_testing.redis_db import RedisClaim, claim_redis_db

REDIS_BASE = "redis://127.0.0.1:6379"
RINGS = {"acme": "canary", "globex": "early", "initech": "general"}
HALTING_PLAN: dict[str, Any] = {
    "waves": [
        {"rings": ["canary"], "bakeMinutes": 60, "failureThreshold": 0},
        {"rings": ["early"], "bakeMinutes": 60},
        {"percent": 100, "bakeMinutes": 60},
    ]
}
# each wave opens as soon as all of the previous one deployed
FAST_PLAN: dict[str, Any] = {
    "waves": [
        {"rings": ["canary"], "advanceWhen": "success", "bakeMinutes": 0},
        {"rings": ["early"], "advanceWhen": "success", "bakeMinutes": 0},
        {"percent": 100, "bakeMinutes": 0},
    ]
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    claims: list[RedisClaim] = [claim_redis_db(REDIS_BASE) for _ in range(4)]
    config = StackConfig(
        var=tmp_path_factory.mktemp("rollout-stack"),
        prefix=f"wrktalk_e2e_rollout_{uuid.uuid4().hex[:8]}",
        gcc_port=free_port(),
        s3_port=free_port(),
        smtp_port=free_port(),
        gcc_redis_db=claims[0].db,
        customers=tuple(
            CustomerSpec(name, free_port(), claim.db)
            for name, claim in zip(RINGS, claims[1:], strict=True)
        ),
        poll_interval=1.0,
        heartbeat_interval=2.0,
        gcc_poll_interval=3.0,
        dispatch_interval=1.0,
        webhook_retry_delay=1.0,
        prometheus_port=free_port(),
        gcc_worker_metrics_port=free_port(),
        extra_backend_env={"WRKTALK_DOWNLOAD_RETRY_BASE_SECONDS": "0.5"},
    )
    yield from serve_stack(config, claims)


def operator(stack: Stack, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(
        method,
        f"{stack.config.gcc_url}{path}",
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        timeout=30,
        **kwargs,
    )


def broken_chart(version: str, work: Path) -> Path:
    """The sample chart with a template that cannot render (``helm template`` fails)."""
    chart = work / "wrktalk"
    shutil.copytree(SAMPLES / "chart" / "wrktalk", chart)
    metadata = yaml.safe_load((chart / "Chart.yaml").read_text())
    metadata["version"] = version
    metadata["appVersion"] = version
    (chart / "Chart.yaml").write_text(yaml.safe_dump(metadata, sort_keys=False))
    (chart / "templates" / "broken.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata:\n"
        '  value: {{ required "this release is broken" .Values.neverSet }}\n'
    )
    subprocess.run(
        ["helm", "package", str(chart), "--destination", str(work)],
        check=True,
        capture_output=True,
    )
    return work / f"wrktalk-{version}.tgz"


def upload_broken_release(demo: Demo, version: str) -> None:
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        for artifact_type, path in (
            ("helm", broken_chart(version, work)),
            ("compose", build_compose_bundle(version, work)),
        ):
            with path.open("rb") as file:
                response = demo.gcc.post(
                    "/api/internal/artifacts",
                    headers=demo.ci,
                    data={"type": artifact_type, "version": version},
                    files={"file": (path.name, file, "application/gzip")},
                )
            assert response.status_code == 200, response.text


def versions_known_to(demo: Demo, name: str) -> set[str]:
    with demo.backend(name) as client:
        body = client.get("/api/admin/deployment/releases").json()
    return {
        deployment["version"]
        for section in ("pending", "scheduled")
        for deployment in body.get(section, [])
    } | {entry["version"] for entry in body.get("history", [])}


def finished_deployment(demo: Demo, name: str, deployment_id: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        with demo.backend(name) as client:
            deployment = client.get(f"/api/admin/deployment/{deployment_id}").json()["deployment"]
        return deployment if deployment["status"] in {"success", "failed", "rolledBack"} else None

    return dict(wait_until(finished, timeout=180, what=f"{name}'s agent to finish"))


def rollout_state(stack: Stack, version: str) -> dict[str, Any] | None:
    """The release's rollout, or None when the API answered 503 (busy: it asks to try again,
    which a poll does)."""
    response = operator(stack, "GET", f"/api/operator/releases/{version}/rollout")
    if response.status_code == 503:
        return None
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_canary_failure_halts_the_rollout_and_a_fix_rolls_out_in_waves(
    stack: Stack, demo: Demo
) -> None:
    for name, ring in RINGS.items():
        demo.place_in_ring(name, ring)
    upload_broken_release(demo, "1.1.0")
    demo.publish("1.1.0", forced=False, rollout=HALTING_PLAN)

    deployment = demo.wait_for_download("acme", "1.1.0")
    demo.schedule_now("acme", deployment["id"])
    failed = finished_deployment(demo, "acme", deployment["id"])
    halted = wait_until(
        lambda: (state := rollout_state(stack, "1.1.0")) and state["state"] == "halted" and state,
        timeout=60,
        what="the rollout to halt",
    )
    time.sleep(3 * stack.config.gcc_poll_interval)  # the others' polls would have seen it
    escalations = operator(
        stack, "GET", "/api/operator/escalations", params={"type": "ROLLOUT_HALTED"}
    ).json()

    assert failed["status"] in {"failed", "rolledBack"}, failed
    assert halted["halts"][0]["gate"] == "failure"
    assert halted["currentWave"] == 0
    assert escalations["total"] == 1
    assert "1.1.0" not in versions_known_to(demo, "globex")
    assert "1.1.0" not in versions_known_to(demo, "initech")

    withdrawn = operator(
        stack, "POST", "/api/operator/releases/1.1.0/withdraw", json={"reason": "broken chart"}
    )
    assert withdrawn.status_code == 200, withdrawn.text

    def acme_knows_it_withdrawn() -> bool:
        with demo.backend("acme") as client:
            shown = client.get(f"/api/admin/deployment/{deployment['id']}").json()
        return shown["deployment"]["withdrawnAt"] is not None

    wait_until(acme_knows_it_withdrawn, timeout=60, what="acme to record the withdrawal")
    with demo.backend("acme") as client:
        refused = client.post(
            "/api/admin/deployment/schedule",
            json={
                "deploymentId": deployment["id"],
                "scheduledFor": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60)),
            },
        )
    assert refused.status_code == 409, refused.text
    assert "1.1.0" not in versions_known_to(demo, "globex")

    demo.upload_artifacts("1.2.0")
    demo.publish("1.2.0", forced=False, rollout=FAST_PLAN)
    assert "1.2.0" not in versions_known_to(demo, "initech")
    demo.deliver("1.2.0")  # acme, then globex, then initech, each once its wave opened
    completed = wait_until(
        lambda: (
            (state := rollout_state(stack, "1.2.0")) and state["state"] == "completed" and state
        ),
        timeout=60,
        what="the rollout of 1.2.0 to complete",
    )

    assert [wave["counts"]["deployed"] for wave in completed["waves"]] == [1, 1, 1]
    notified = [wave["notifiedAt"] for wave in completed["waves"]]
    assert notified == sorted(notified)
    for name in RINGS:
        organization = operator(stack, "GET", f"/api/operator/organizations/{name}").json()
        assert organization["currentVersion"] == "1.2.0"
