"""CPU time of verifying a signed release manifest, beside an anchor measured in the same run.

A customer backend verifies a manifest once per release it receives (webhook or updates poll)
and once per download; an agent once per release in a task; GCC signs once per publish and
again only when a manifest half expired. The script times, in this process, on a manifest as
GCC signs it (two artifacts, four image tags, a forced deadline):

- ``verify``: the whole check a receiver makes (:func:`signing.verify_manifest`: key lookup,
  canonical JSON, Ed25519 verification, validity window);
- ``parse + verify``: the same from the JSON text of the signed manifest, as it arrives;
- ``sign``: what GCC spends per manifest;
- the anchor: validating the webhook body the manifest travels in
  (``ReleasePublishedWebhook.model_validate_json``), which every receiver already does.

Target: verifying costs under 1 ms. Prints CPU microseconds per operation and the ratio to the
anchor.

    uv run python bench/manifest_verify.py [--rounds 5000]
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from contracts import (
    ArtifactType,
    DeploymentType,
    PublishedRelease,
    ReleaseManifest,
    ReleasePublishedWebhook,
    ReleaseRuleset,
    SignedManifest,
    Version,
)
from signing import SigningKey, TrustedKeys, sign_manifest, verify_manifest

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TAGS = {"backend": "sha-b1", "media": "sha-m1", "controlTower": "sha-c1", "agent": "sha-a1"}


def _manifest() -> ReleaseManifest:
    return ReleaseManifest(
        release_id=uuid.uuid4(),
        version=Version.parse("2.3.0"),
        deployment_types=[DeploymentType.DOCKER, DeploymentType.GITOPS, DeploymentType.KUBERNETES],
        artifacts=[
            {  # type: ignore[list-item]
                "type": ArtifactType.COMPOSE,
                "objectName": "charts/compose/wrktalk-2.3.0-compose.tar.gz",
                "sha256": "c" * 64,
                "sizeBytes": 48_213,
            },
            {  # type: ignore[list-item]
                "type": ArtifactType.HELM,
                "objectName": "charts/helm/wrktalk-2.3.0.tgz",
                "sha256": "a" * 64,
                "sizeBytes": 91_877,
            },
        ],
        image_tags=TAGS,
        is_forced=True,
        forced_deadline=NOW + timedelta(hours=24),
        min_current_version=Version.parse("2.0.0"),
        issued_at=NOW,
        expires_at=NOW + timedelta(days=14),
        key_id="0" * 16,
    )


def _per_call_us(work: Callable[[], object], rounds: int) -> float:
    work()  # warm caches (pydantic serializers, the key object)
    started = time.process_time()
    for _ in range(rounds):
        work()
    return (time.process_time() - started) / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5000, help="Calls timed per figure.")
    rounds = parser.parse_args().rounds

    key = SigningKey.generate()
    trusted = TrustedKeys.from_texts([key.public_text(), SigningKey.generate().public_text()])
    manifest = _manifest()
    signed = sign_manifest(manifest, key)
    signed_json = signed.model_dump_json()
    body = ReleasePublishedWebhook(
        release=PublishedRelease(
            id=manifest.release_id,
            version=manifest.version,
            chart_version=manifest.version,
            chart_sha256="a" * 64,
            compose_sha256="c" * 64,
            image_tags=TAGS,
        ),
        ruleset=ReleaseRuleset(is_forced=True, release_notes="Faster uploads. " * 40),
        manifest=signed,
    ).model_dump_json()

    anchor = _per_call_us(lambda: ReleasePublishedWebhook.model_validate_json(body), rounds)
    figures = {
        "verify": _per_call_us(lambda: verify_manifest(signed, trusted, now=NOW), rounds),
        "parse + verify": _per_call_us(
            lambda: verify_manifest(
                SignedManifest.model_validate_json(signed_json), trusted, now=NOW
            ),
            rounds,
        ),
        "sign": _per_call_us(lambda: sign_manifest(manifest, key), rounds),
    }
    print(f"rounds: {rounds}; manifest JSON {len(signed_json)} bytes; webhook body {len(body)}")
    print(f"{'operation':<34} {'CPU us/op':>10} {'x anchor':>9}")
    print(f"{'anchor: validate the webhook body':<34} {anchor:>10.1f} {1.0:>9.2f}")
    for name, micros in figures.items():
        print(f"{name:<34} {micros:>10.1f} {micros / anchor:>9.2f}")
    verdict = "met" if figures["parse + verify"] < 1000 else "MISSED"
    print(f"target: verifying under 1 ms: {verdict}")


if __name__ == "__main__":
    main()
