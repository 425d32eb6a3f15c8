"""Operator routes of phased rollouts (``/api/operator/releases/{version}/rollout``) and of
withdrawing a release (``/api/operator/releases/{version}/withdraw``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from contracts import OperatorReleaseSummary, RolloutActionRequest, RolloutView
from gcc.deps import ClockDep, OperatorCaller, RuntimeDep, SessionDep, VersionPath
from gcc.rollouts import actions, withdraw
from servicekit.openapi import error_responses

router = APIRouter(prefix="/api/operator/releases/{version}", tags=["operator: rollouts"])

ActionBody = Annotated[RolloutActionRequest | None, Body()]


def _reason(body: RolloutActionRequest | None) -> str | None:
    return body.reason if body is not None else None


@router.get("/rollout", response_model=RolloutView, responses=error_responses(404))
async def get_rollout(version: VersionPath, _: OperatorCaller, session: SessionDep) -> RolloutView:
    """The release's rollout: each wave's counts, gate values and thresholds, and its halts."""
    return await actions.rollout_state(session, version_text=version)


@router.post("/rollout/pause", response_model=RolloutView, responses=error_responses(404, 409))
async def pause_rollout(
    version: VersionPath,
    caller: OperatorCaller,
    session: SessionDep,
    clock: ClockDep,
    body: ActionBody = None,
) -> RolloutView:
    """Stop opening waves until the rollout is resumed or advanced."""
    return await actions.pause_rollout(
        session, clock=clock, actor=caller, version_text=version, reason=_reason(body)
    )


@router.post("/rollout/resume", response_model=RolloutView, responses=error_responses(404, 409))
async def resume_rollout(
    version: VersionPath,
    caller: OperatorCaller,
    session: SessionDep,
    clock: ClockDep,
    runtime: RuntimeDep,
    body: ActionBody = None,
) -> RolloutView:
    """Resume a paused rollout; resume a halted one by notifying its next wave."""
    return await actions.resume_rollout(
        session,
        clock=clock,
        actor=caller,
        version_text=version,
        reason=_reason(body),
        send_task=runtime.send_task,
    )


@router.post("/rollout/advance", response_model=RolloutView, responses=error_responses(404, 409))
async def advance_rollout(
    version: VersionPath,
    caller: OperatorCaller,
    session: SessionDep,
    clock: ClockDep,
    runtime: RuntimeDep,
    body: ActionBody = None,
) -> RolloutView:
    """Notify the next wave now, whatever the gates and the bake time say."""
    return await actions.advance_rollout(
        session,
        clock=clock,
        actor=caller,
        version_text=version,
        reason=_reason(body),
        send_task=runtime.send_task,
    )


@router.post(
    "/withdraw", response_model=OperatorReleaseSummary, responses=error_responses(404, 409)
)
async def withdraw_release(
    version: VersionPath,
    caller: OperatorCaller,
    session: SessionDep,
    clock: ClockDep,
    runtime: RuntimeDep,
    body: ActionBody = None,
) -> OperatorReleaseSummary:
    """Take the release back: deprecated for those not yet notified, a signed
    `release.withdrawn` webhook to those notified."""
    return await withdraw.withdraw_release(
        session,
        clock=clock,
        actor=caller,
        version_text=version,
        reason=_reason(body),
        send_task=runtime.send_task,
    )
