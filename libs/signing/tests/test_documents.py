"""Detached signatures of bundle documents: the exact bytes, by a trusted key, in their own
context."""

from __future__ import annotations

import pytest

from contracts.bundles import BundleDocumentSignature
from signing import (
    ManifestRefused,
    RefusalReason,
    SigningKey,
    TrustedKeys,
    sign_document,
    verify_document,
)

KEY = SigningKey.generate()
OTHER = SigningKey.generate()
TRUSTED = TrustedKeys.from_texts([KEY.public_text()])
DOCUMENT = b'{"release": {"version": "2.3.0"}}'


def test_a_document_signed_by_a_trusted_key_verifies() -> None:
    verify_document(DOCUMENT, sign_document(DOCUMENT, KEY), TRUSTED)


def test_one_byte_changed_is_refused() -> None:
    signature = sign_document(DOCUMENT, KEY)
    with pytest.raises(ManifestRefused) as refused:
        verify_document(DOCUMENT.replace(b"2.3.0", b"2.3.1"), signature, TRUSTED)
    assert refused.value.reason is RefusalReason.BAD_SIGNATURE


def test_a_key_that_is_not_trusted_is_refused() -> None:
    with pytest.raises(ManifestRefused) as refused:
        verify_document(DOCUMENT, sign_document(DOCUMENT, OTHER), TRUSTED)
    assert refused.value.reason is RefusalReason.UNKNOWN_KEY


def test_a_signature_of_the_same_bytes_without_the_context_is_refused() -> None:
    bare = BundleDocumentSignature(key_id=KEY.key_id, signature=KEY.sign(DOCUMENT))
    with pytest.raises(ManifestRefused) as refused:
        verify_document(DOCUMENT, bare, TRUSTED)
    assert refused.value.reason is RefusalReason.BAD_SIGNATURE


def test_a_signature_that_is_not_base64_is_refused() -> None:
    garbled = BundleDocumentSignature(key_id=KEY.key_id, signature="not base64!")
    with pytest.raises(ManifestRefused):
        verify_document(DOCUMENT, garbled, TRUSTED)
