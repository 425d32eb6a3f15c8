"""Ed25519 signed release manifests: every field is covered by the signature, only trusted keys
count, and a manifest is valid only within its window."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts import ArtifactType, DeploymentType, ReleaseManifest, SignedManifest
from signing import (
    ManifestRefused,
    RefusalReason,
    SigningKey,
    TrustedKeys,
    canonical_json,
    decode_header,
    encode_header,
    load_signing_keys,
    parse_public_key,
    sign_manifest,
    verify_manifest,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
KEY = SigningKey.generate()
OTHER_KEY = SigningKey.generate()


def _manifest(**fields: Any) -> ReleaseManifest:
    values: dict[str, Any] = {
        "release_id": uuid.UUID("5d0c7e1a-3b2f-4c6d-8e9f-0a1b2c3d4e5f"),
        "version": "2.3.0",
        "deployment_types": [DeploymentType.GITOPS, DeploymentType.KUBERNETES],
        "artifacts": [
            {
                "type": ArtifactType.HELM,
                "object_name": "charts/helm/wrktalk-2.3.0.tgz",
                "sha256": "a" * 64,
                "size_bytes": 1234,
            }
        ],
        "image_tags": {"backend": "sha-b", "media": "sha-m", "controlTower": "c", "agent": "a"},
        "is_forced": True,
        "forced_deadline": NOW + timedelta(hours=24),
        "min_current_version": "2.0.0",
        "issued_at": NOW,
        "expires_at": NOW + timedelta(days=14),
        "key_id": "0" * 16,
    }
    values.update(fields)
    return ReleaseManifest.model_validate(values)


def _trusted(*keys: SigningKey) -> TrustedKeys:
    return TrustedKeys.from_texts(key.public_text() for key in keys)


def _reason(signed: SignedManifest, trusted: TrustedKeys, **kwargs: Any) -> RefusalReason:
    with pytest.raises(ManifestRefused) as refused:
        verify_manifest(signed, trusted, **{"now": NOW, **kwargs})
    return refused.value.reason


def test_a_signed_manifest_verifies_with_its_key() -> None:
    signed = sign_manifest(_manifest(), KEY)

    manifest = verify_manifest(signed, _trusted(KEY), now=NOW)

    assert manifest.key_id == KEY.key_id
    assert manifest == signed.manifest


def test_the_manifest_survives_the_wire() -> None:
    signed = sign_manifest(_manifest(), KEY)

    received = SignedManifest.model_validate_json(signed.model_dump_json())

    assert verify_manifest(received, _trusted(KEY), now=NOW) == signed.manifest


TAMPERED_FIELDS: dict[str, Any] = {
    "release_id": uuid.uuid4(),
    "version": "2.3.1",
    "deployment_types": [DeploymentType.DOCKER],
    "artifacts": [
        {
            "type": ArtifactType.HELM,
            "object_name": "charts/helm/wrktalk-2.3.0.tgz",
            "sha256": "b" * 64,
            "size_bytes": 1234,
        }
    ],
    "image_tags": {"backend": "evil", "media": "sha-m", "controlTower": "c", "agent": "a"},
    "is_forced": False,
    "forced_deadline": NOW + timedelta(days=30),
    "min_current_version": None,
    "organization": "globex",
    "issued_at": NOW - timedelta(days=1),
    "expires_at": NOW + timedelta(days=365),
}


@pytest.mark.parametrize("field", sorted(TAMPERED_FIELDS))
def test_each_field_changed_after_signing_is_refused(field: str) -> None:
    signed = sign_manifest(_manifest(), KEY)
    tampered = signed.manifest.model_validate(
        {**signed.manifest.model_dump(by_alias=False), field: TAMPERED_FIELDS[field]}
    )
    assert tampered != signed.manifest

    reason = _reason(SignedManifest(manifest=tampered, signature=signed.signature), _trusted(KEY))

    assert reason is RefusalReason.BAD_SIGNATURE


def test_an_artifact_size_changed_after_signing_is_refused() -> None:
    signed = sign_manifest(_manifest(), KEY)
    artifact = signed.manifest.artifacts[0].model_copy(update={"size_bytes": 1235})
    tampered = signed.manifest.model_copy(update={"artifacts": [artifact]})

    reason = _reason(SignedManifest(manifest=tampered, signature=signed.signature), _trusted(KEY))

    assert reason is RefusalReason.BAD_SIGNATURE


def test_a_key_id_pointing_at_another_trusted_key_is_refused() -> None:
    signed = sign_manifest(_manifest(), KEY)
    relabelled = signed.manifest.model_copy(update={"key_id": OTHER_KEY.key_id})

    reason = _reason(
        SignedManifest(manifest=relabelled, signature=signed.signature), _trusted(KEY, OTHER_KEY)
    )

    assert reason is RefusalReason.BAD_SIGNATURE


def test_a_signature_that_is_not_base64_is_refused() -> None:
    signed = sign_manifest(_manifest(), KEY)

    reason = _reason(signed.model_copy(update={"signature": "not base64!"}), _trusted(KEY))

    assert reason is RefusalReason.BAD_SIGNATURE


def test_a_manifest_signed_by_an_untrusted_key_is_refused() -> None:
    signed = sign_manifest(_manifest(), OTHER_KEY)

    assert _reason(signed, _trusted(KEY)) is RefusalReason.UNKNOWN_KEY
    assert _reason(signed, TrustedKeys()) is RefusalReason.UNKNOWN_KEY


def test_an_expired_manifest_is_refused_unless_expiry_is_not_checked() -> None:
    signed = sign_manifest(_manifest(), KEY)
    later = NOW + timedelta(days=14)

    assert _reason(signed, _trusted(KEY), now=later) is RefusalReason.EXPIRED
    assert verify_manifest(signed, _trusted(KEY), now=later, check_expiry=False)


def test_a_manifest_issued_in_the_future_is_refused() -> None:
    signed = sign_manifest(_manifest(issued_at=NOW + timedelta(hours=1)), KEY)

    assert _reason(signed, _trusted(KEY)) is RefusalReason.NOT_YET_VALID


def test_a_rotated_key_is_accepted_while_it_is_trusted() -> None:
    old = sign_manifest(_manifest(), KEY)
    new = sign_manifest(_manifest(), OTHER_KEY)
    during = _trusted(KEY, OTHER_KEY)
    after = _trusted(OTHER_KEY)

    assert verify_manifest(old, during, now=NOW)
    assert verify_manifest(new, during, now=NOW)
    assert verify_manifest(new, after, now=NOW)
    assert _reason(old, after) is RefusalReason.UNKNOWN_KEY


def test_canonical_json_sorts_keys_and_has_no_whitespace() -> None:
    assert canonical_json({"b": 1, "a": [1, "é"]}) == '{"a":[1,"é"],"b":1}'.encode()


def test_the_header_form_round_trips_and_refuses_garbage() -> None:
    signed = sign_manifest(_manifest(), KEY)

    assert decode_header(encode_header(signed)) == signed
    with pytest.raises(ValueError, match="base64"):
        decode_header("!!!")


def test_keys_load_from_a_file_or_a_secret_directory(tmp_path: Path) -> None:
    (tmp_path / "b.pem").write_bytes(OTHER_KEY.private_pem())
    (tmp_path / "a").write_bytes(KEY.private_pem())  # a Secret's key has no suffix
    (tmp_path / "..data").mkdir()  # what Kubernetes adds beside the keys

    keys = load_signing_keys(tmp_path)

    assert [key.key_id for key in keys] == [KEY.key_id, OTHER_KEY.key_id]
    assert load_signing_keys(tmp_path / "b.pem")[0].key_id == OTHER_KEY.key_id


def test_a_file_that_is_not_a_private_key_is_named(tmp_path: Path) -> None:
    (tmp_path / "broken.pem").write_text("hello")

    with pytest.raises(ValueError, match=r"broken\.pem"):
        load_signing_keys(tmp_path)


def test_public_keys_parse_as_printed_or_as_pem() -> None:
    from cryptography.hazmat.primitives import serialization

    pem = (
        KEY.private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )

    assert TrustedKeys.from_texts([pem]).key_ids == [KEY.key_id]
    assert TrustedKeys.from_texts([KEY.public_text()]).key_ids == [KEY.key_id]
    for bad, problem in (
        ("ed25519:AAAA", "32 bytes"),
        ("rsa:xyz", "starts with"),
        ("ed25519:###", "not base64"),
    ):
        with pytest.raises(ValueError, match=problem):
            parse_public_key(bad)
