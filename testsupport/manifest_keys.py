"""The Ed25519 keys tests sign release manifests with, fixed so every tier's fixtures agree.

GCC under test signs with :data:`TEST_SIGNING_KEY` (written to a file for its settings); the
backend and the agents under test trust :data:`TEST_PUBLIC_KEY`. :data:`OTHER_SIGNING_KEY` is a
second key for rotation and wrong-key tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts import SignedManifest
from signing import SigningKey, sign_manifest

TEST_SIGNING_KEY = SigningKey.from_private_key(Ed25519PrivateKey.from_private_bytes(bytes(32)))
TEST_PUBLIC_KEY = TEST_SIGNING_KEY.public_text()
OTHER_SIGNING_KEY = SigningKey.from_private_key(
    Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
)
OTHER_PUBLIC_KEY = OTHER_SIGNING_KEY.public_text()


def write_key(key: SigningKey, directory: Path) -> Path:
    """``key`` as a PEM file in ``directory``, named by its id."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{key.key_id}.pem"
    path.write_bytes(key.private_pem())
    path.chmod(0o600)
    return path


def resigned(
    document: dict[str, Any], *, key: SigningKey = TEST_SIGNING_KEY, **manifest_fields: Any
) -> dict[str, Any]:
    """A webhook body (JSON object) whose manifest says what the body's release says again
    (id, version, digests, image tags, forced, minimum version), with ``manifest_fields`` on
    top, signed afresh with ``key``: for tests that change a body and still need it signed."""
    release, ruleset = document["release"], document["ruleset"]
    signed = SignedManifest.model_validate(document["manifest"])
    artifacts = []
    for artifact in signed.manifest.artifacts:
        digest = release["chartSha256"] if artifact.type == "helm" else release["composeSha256"]
        artifacts.append(artifact.model_copy(update={"sha256": digest}))
    manifest = signed.manifest.model_validate(
        {
            **signed.manifest.model_dump(by_alias=False),
            "release_id": release["id"],
            "version": release["version"],
            "artifacts": artifacts,
            "image_tags": release["imageTags"],
            "is_forced": ruleset.get("isForced", False),
            "min_current_version": ruleset.get("minCurrentVersion"),
            **manifest_fields,
        }
    )
    return {**document, "manifest": sign_manifest(manifest, key).model_dump(mode="json")}
