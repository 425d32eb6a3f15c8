"""Detached Ed25519 signatures of documents that travel beside a signed manifest.

An offline bundle's ``release.json`` reaches the customer by hand, with no webhook secret to
authenticate it, and holds what the manifest does not (release notes, new non-essential
settings). GCC signs its exact bytes with the key that signs the manifest, behind a context of
its own, so that such a signature can never pass for a manifest's, nor a manifest's for it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Final

from cryptography.exceptions import InvalidSignature

from contracts.bundles import BundleDocumentSignature
from signing.manifests import ManifestRefused, RefusalReason, SigningKey, TrustedKeys

__all__ = ["DOCUMENT_CONTEXT", "sign_document", "verify_document"]

DOCUMENT_CONTEXT: Final = b"wrktalk-bundle-document-v1\n"
"""Prefixed to a document's bytes before signing."""


def sign_document(data: bytes, key: SigningKey) -> BundleDocumentSignature:
    """The signature of ``data`` by ``key``."""
    return BundleDocumentSignature(key_id=key.key_id, signature=key.sign(DOCUMENT_CONTEXT + data))


def verify_document(data: bytes, signature: BundleDocumentSignature, trusted: TrustedKeys) -> None:
    """Return when a trusted key signed ``data``; :class:`ManifestRefused` (``unknownKey`` or
    ``badSignature``) otherwise."""
    public_key = trusted.get(signature.key_id)
    if public_key is None:
        raise ManifestRefused(
            RefusalReason.UNKNOWN_KEY,
            f"the document is signed by key {signature.key_id}, which is not trusted",
        )
    try:
        public_key.verify(
            base64.b64decode(signature.signature, validate=True), DOCUMENT_CONTEXT + data
        )
    except (binascii.Error, InvalidSignature):
        raise ManifestRefused(
            RefusalReason.BAD_SIGNATURE,
            f"the document's signature does not verify with key {signature.key_id}",
        ) from None
