"""What a claimed target's webhook is: its body, its signing secrets, or why it is not sent."""

from __future__ import annotations

from datetime import datetime

import structlog

from contracts import ReleaseStatus
from gcc.delivery import sender
from gcc.delivery.outcomes import Refusal
from gcc.delivery.repository import ReleaseDigests, TakenTarget
from gcc.delivery.sender import ReleaseWebhook, WebhookRequest
from gcc.releases.manifests import ManifestSigner, current_manifest, stored_manifest
from gcc.releases.webhook_body import build_webhook_body, build_withdrawn_body
from gcc.settings import Settings

log = structlog.get_logger(__name__)


def signing_secrets(target: TakenTarget, now: datetime) -> list[str]:
    """The organization's secret, plus the previous one while its rotation grace lasts."""
    secrets = [target.webhook_secret]
    if (
        target.previous_webhook_secret
        and target.previous_secret_expires_at is not None
        and target.previous_secret_expires_at > now
    ):
        secrets.append(target.previous_webhook_secret)
    return secrets


def webhook_body(
    found: ReleaseDigests, *, signer: ManifestSigner | None = None, now: datetime | None = None
) -> bytes | str:
    """The release's body serialised once (the bytes every target receives): its
    ``release.withdrawn`` body once withdrawn, else its ``release.published`` body with its signed
    manifest (signed afresh by ``signer`` when half expired or signed by another key), or why
    there is none."""
    release = found.release
    withdrawn = build_withdrawn_body(release)
    if withdrawn is not None:
        # A withdrawal goes to the organizations already notified (their targets were made due
        # again by the withdrawal); the others were never made due.
        return withdrawn.model_dump_json().encode()
    if release.status != ReleaseStatus.PUBLISHED:
        return f"release {release.version} is {release.status}, not published"
    if found.chart_sha256 is None:
        return f"release {release.version} has no stored Helm chart"
    try:
        manifest = (
            stored_manifest(release)
            if now is None
            else current_manifest(release, signer=signer, now=now)
        )
        body = build_webhook_body(
            release,
            chart_sha256=found.chart_sha256,
            compose_sha256=found.compose_sha256,
            manifest=manifest,
        )
    except ValueError as error:  # pydantic's ValidationError included
        log.error("webhook.body.invalid", release=release.version, error=str(error))
        return f"release {release.version} has no valid webhook body"
    return body.model_dump_json().encode()


def plan_request(
    target: TakenTarget,
    webhook: ReleaseWebhook | str,
    *,
    settings: Settings,
    now: datetime,
) -> WebhookRequest | Refusal:
    """The request to send to ``target``, or why it is not sent (``webhook`` is what the
    release sends, or why it cannot be sent)."""
    if isinstance(webhook, str):
        return Refusal(target, webhook)
    if target.organization_deleted_at is not None:
        return Refusal(target, "the organization was deleted")
    problem = sender.endpoint_problem(
        target.webhook_endpoint, allow_http=settings.allow_http_webhooks
    )
    if problem is not None:
        return Refusal(target, problem)
    return WebhookRequest(
        target_id=target.target_id,
        webhook_id=target.webhook_id,
        endpoint=target.webhook_endpoint,
        webhook=webhook,
        secrets=signing_secrets(target, now),
    )
