"""Phased rollout: one evaluation of the gates of a release targeting 100,000 organizations.

The script creates its own database on the machine's PostgreSQL (dropped at the end), COPYs
``--organizations`` organizations in (1% in the canary ring, 5% early, the rest general; most
seen recently), classifies their health, and publishes a release through the releases service
with the plan ``canary, early, 25%, 100%`` (one-hour bake each). It then walks the rollout
through its life on a manual clock, as beat would:

1. an evaluation while the canary bakes (nothing to do: the aggregate alone);
2. the canary reports its deployments (bulk update), the clock passes the bake time, and an
   evaluation opens the early wave;
3. likewise for the 25% wave and the 100% wave (the largest wave opened: about 70,000
   targets made due in the evaluation);
4. a failure in the last wave, and an evaluation that halts the rollout with its escalation.

Each evaluation is timed (one transaction: lock, aggregate, decide, move the rollout or halt
it, commit), and so is the making due of the opened wave's targets that follows it, a batch of
``OPEN_BATCH`` per transaction. Printed: each evaluation's time and the slowest, and the
slowest batch; the exit status is 1 when an evaluation took 1 s or more.

    uv run python bench/gcc_rollout.py [--organizations 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from gcc_fleet import insert_fleet, plain_dsn, scratch_database

TARGET_SECONDS = 1.0
VERSION = "9.1.0"
PLAN = {
    "waves": [
        {"rings": ["canary"], "bakeMinutes": 60},
        {"rings": ["early"], "bakeMinutes": 60},
        {"percent": 25, "bakeMinutes": 60},
        {"percent": 100, "bakeMinutes": 60},
    ]
}


async def arrange(url: str, count: int, now: datetime) -> None:
    """The fleet in rings, its health classified, a draft release with its chart."""
    await insert_fleet(url, count, now=now, seen_within=timedelta(minutes=8))
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        await connection.execute(
            """
            UPDATE organization SET ring = CASE
                WHEN name LIKE '%00' THEN 'canary'
                WHEN right(name, 2)::int BETWEEN 1 AND 5 THEN 'early'
                ELSE 'general' END
            """
        )
        await connection.execute(
            """
            UPDATE organization SET health_status = CASE
                WHEN last_heartbeat_at IS NULL THEN 'unknown' ELSE 'online' END,
                is_online = last_heartbeat_at IS NOT NULL
            """
        )
        await connection.execute(
            """
            INSERT INTO release (id, version, status, image_tags, is_forced,
                is_migration_required, new_non_essential_envs, created_by, created_at,
                updated_at)
            VALUES (gen_random_uuid(), $1, 'draft', '{"backend": "b"}', false, false, '[]',
                'bench', $2, $2)
            """,
            VERSION,
            now,
        )
        await connection.execute(
            """
            INSERT INTO artifact (id, version, type, bucket_path, sha256, size_bytes, created_at)
            VALUES (gen_random_uuid(), $1, 'helm', 'charts/helm/x.tgz', $2, 1, $3),
                   (gen_random_uuid(), $1, 'compose', 'charts/compose/x.tgz', $2, 1, $3)
            """,
            VERSION,
            "0" * 64,
            now,
        )
        await connection.execute("VACUUM (ANALYZE) organization")
    finally:
        await connection.close()


async def report_wave(url: str, wave: int, *, failed: int = 0) -> None:
    """Every organization of the wave reports the release deployed (``failed`` of them
    failed), as their backends' outboxes would."""
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        await connection.execute(
            """
            UPDATE deployment_target SET status = 'success', completed_at = now()
            WHERE wave = $1
            """,
            wave,
        )
        if failed:
            await connection.execute(
                """
                UPDATE deployment_target SET status = 'failed' WHERE id IN (
                    SELECT id FROM deployment_target WHERE wave = $1 LIMIT $2)
                """,
                wave,
                failed,
            )
        await connection.execute("ANALYZE deployment_target")
    finally:
        await connection.close()


async def run(count: int) -> int:
    from contracts import RolloutPlan
    from gcc.audit.service import Actor
    from gcc.releases.service import publish_release
    from gcc.rollouts.service import OPEN_BATCH, evaluate_rollouts, open_waiting_targets
    from servicekit.db import create_engine, create_session_factory, session_scope
    from timekeeping import ManualClock

    clock = ManualClock(datetime(2026, 12, 6, 2, 0, tzinfo=UTC))
    async with scratch_database("rollout") as url:
        print(f"arranging {count:,} organizations ...", flush=True)
        await arrange(url, count, clock.now())
        engine = create_engine(url)
        sessions = create_session_factory(engine)
        try:
            started = time.perf_counter()
            async with session_scope(sessions) as session:
                published = await publish_release(
                    session,
                    clock=clock,
                    actor=Actor.command_line(),
                    version_text=VERSION,
                    send_task=lambda *args: None,
                    plan=RolloutPlan.model_validate(PLAN),
                    rings=["canary", "early", "general"],
                )
            print(
                f"published to {published.targets:,} targets in 4 waves: "
                f"{time.perf_counter() - started:.2f} s"
            )
            connection = await asyncpg.connect(plain_dsn(url))
            await connection.execute("VACUUM (ANALYZE) deployment_target")
            await connection.close()
            timings: list[tuple[str, float]] = []
            batches: list[float] = []

            async def evaluate(label: str) -> None:
                began = time.perf_counter()
                async with session_scope(sessions) as session:
                    result = await evaluate_rollouts(
                        session, clock=clock, send_task=lambda *args: None
                    )
                elapsed = time.perf_counter() - began
                timings.append((label, elapsed))
                opened, opening_began = 0, time.perf_counter()
                while True:
                    batch_began = time.perf_counter()
                    async with session_scope(sessions) as session:
                        count = await open_waiting_targets(
                            session, clock=clock, send_task=lambda *args: None
                        )
                    if count:
                        batches.append(time.perf_counter() - batch_began)
                    opened += count
                    if count < OPEN_BATCH:
                        break
                opening = time.perf_counter() - opening_began
                print(
                    f"  {label:<34} {elapsed * 1000:7.1f} ms  (advanced {result.advanced}, "
                    f"halted {result.halted}); {opened:,} targets made due in "
                    f"{opening * 1000:.0f} ms",
                    flush=True,
                )

            await evaluate("canary baking")
            for wave, label in ((0, "early wave opened"), (1, "25% wave opened")):
                await report_wave(url, wave)
                clock.advance(timedelta(minutes=61))
                await evaluate(label)
            await report_wave(url, 2)
            clock.advance(timedelta(minutes=61))
            await evaluate("100% wave opened")
            await evaluate("last wave baking")
            await report_wave(url, 3, failed=1)
            await evaluate("failure in the last wave: halt")
        finally:
            await engine.dispose()
    slowest = max(elapsed for _, elapsed in timings)
    print(
        f"one evaluation of a rollout of {count:,} organizations: slowest {slowest * 1000:.0f} ms "
        f"(target under {TARGET_SECONDS * 1000:.0f} ms); slowest batch of {OPEN_BATCH:,} "
        f"targets made due: {max(batches) * 1000:.0f} ms"
    )
    return 0 if slowest < TARGET_SECONDS else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organizations", type=int, default=100_000)
    arguments = parser.parse_args()
    sys.exit(asyncio.run(run(arguments.organizations)))


if __name__ == "__main__":
    main()
