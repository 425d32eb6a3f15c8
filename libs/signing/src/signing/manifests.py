"""Ed25519 keys and signed release manifests.

GCC signs with a :class:`SigningKey` (:func:`load_signing_keys` reads a PEM file, or a directory
of them such as a mounted Kubernetes Secret); receivers hold :class:`TrustedKeys`, a list of
public keys written ``ed25519:<base64 of the 32 raw bytes>`` so that several can be trusted at
once while a key is rotated. What is signed is a domain-separation prefix followed by the
manifest's canonical JSON: keys sorted, no whitespace, UTF-8.

:func:`verify_manifest` checks the key, the signature and the validity window and raises
:class:`ManifestRefused` with a :class:`RefusalReason`; what each tier checks beyond that (the
webhook's fields, the running version) it checks itself against the verified manifest.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contracts import ReleaseManifest, SignedManifest

__all__ = [
    "PUBLIC_KEY_PREFIX",
    "SIGNATURE_CONTEXT",
    "ManifestRefused",
    "RefusalReason",
    "SigningKey",
    "TrustedKeys",
    "canonical_json",
    "decode_header",
    "encode_header",
    "key_id_of",
    "load_signing_keys",
    "manifest_bytes",
    "parse_public_key",
    "parse_trusted_key_setting",
    "sign_manifest",
    "verify_manifest",
]

PUBLIC_KEY_PREFIX: Final = "ed25519:"
"""How a public key is written in settings: this prefix, then base64 of its 32 raw bytes."""

SIGNATURE_CONTEXT: Final = b"wrktalk-release-manifest-v1\n"
"""Prefixed to the canonical JSON before signing, so a manifest signature can never be taken
for the signature of anything else made with the same key."""

_MAX_HEADER_LENGTH: Final = 16 * 1024

_CLOCK_SKEW: Final = timedelta(minutes=5)
"""How far a receiver's clock may run behind GCC's before a fresh manifest seems issued in
the future."""


class RefusalReason(enum.StrEnum):
    """Why a signed manifest was refused."""

    UNSIGNED = "unsigned"
    UNKNOWN_KEY = "unknownKey"
    BAD_SIGNATURE = "badSignature"
    EXPIRED = "expired"
    NOT_YET_VALID = "notYetValid"
    MISMATCH = "mismatch"
    """The manifest verifies but does not match what comes with it (another release, another
    digest, another organization or deployment type)."""
    ROLLBACK = "rollback"
    """The manifest is for a version older than the one running, and no permitted rollback."""


class ManifestRefused(Exception):
    """A manifest that must not be used, with the reason and a sentence for people."""

    def __init__(self, reason: RefusalReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def canonical_json(value: Any) -> bytes:
    """``value`` as canonical JSON bytes: sorted keys, no whitespace, UTF-8, no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def manifest_bytes(manifest: ReleaseManifest) -> bytes:
    """The bytes a manifest's signature covers: the context prefix and its canonical JSON."""
    return SIGNATURE_CONTEXT + canonical_json(manifest.model_dump(mode="json"))


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """The id of a public key: the first 16 hex characters of SHA256 of its raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _public_text(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PUBLIC_KEY_PREFIX + base64.b64encode(raw).decode()


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key and its id."""

    private_key: Ed25519PrivateKey
    key_id: str

    @classmethod
    def generate(cls) -> SigningKey:
        """A new random key."""
        return cls.from_private_key(Ed25519PrivateKey.generate())

    @classmethod
    def from_private_key(cls, private_key: Ed25519PrivateKey) -> SigningKey:
        """Wrap ``private_key`` with its id."""
        return cls(private_key, key_id_of(private_key.public_key()))

    @classmethod
    def from_pem(cls, data: bytes) -> SigningKey:
        """Read an unencrypted PKCS#8 PEM Ed25519 private key; ``ValueError`` otherwise."""
        try:
            private_key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not an unencrypted PEM private key: {exc}") from None
        if not isinstance(private_key, Ed25519PrivateKey):
            raise ValueError("the PEM private key is not an Ed25519 key")
        return cls.from_private_key(private_key)

    def private_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def public_text(self) -> str:
        """The public key as receivers trust it: ``ed25519:<base64>``."""
        return _public_text(self.private_key.public_key())

    def sign(self, data: bytes) -> str:
        """Base64 Ed25519 signature of ``data``."""
        return base64.b64encode(self.private_key.sign(data)).decode()


def load_signing_keys(path: Path) -> list[SigningKey]:
    """The keys of a PEM file, or of every ``*.pem`` file (and file without a suffix, as a
    Kubernetes Secret mounts its keys) in a directory, sorted by file name.

    ``ValueError`` naming the file when one is not an Ed25519 private key, or when none is
    found.
    """
    if path.is_dir():
        files = sorted(
            item
            for item in path.iterdir()
            if item.is_file() and not item.name.startswith(".") and item.suffix in {".pem", ""}
        )
    elif path.is_file():
        files = [path]
    else:
        raise ValueError(f"{path} is neither a file nor a directory")
    keys = []
    for file in files:
        try:
            keys.append(SigningKey.from_pem(file.read_bytes()))
        except ValueError as exc:
            raise ValueError(f"{file}: {exc}") from None
    if not keys:
        raise ValueError(f"{path} holds no PEM private key")
    return keys


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A public key written ``ed25519:<base64>``, or as PEM; ``ValueError`` otherwise."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode())
        except ValueError as exc:
            raise ValueError(f"not a PEM public key: {exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the PEM public key is not an Ed25519 key")
        return key
    if not text.startswith(PUBLIC_KEY_PREFIX):
        raise ValueError(f"a public key starts with {PUBLIC_KEY_PREFIX!r} or is PEM")
    try:
        raw = base64.b64decode(text.removeprefix(PUBLIC_KEY_PREFIX), validate=True)
    except binascii.Error:
        raise ValueError("the public key is not base64") from None
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key has 32 bytes, not {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def parse_trusted_key_setting(value: str | list[str]) -> list[str]:
    """A trusted-keys setting, comma-separated text or a list, as its keys without blanks.

    ``ValueError`` naming the position of a key no manifest could be verified with, so that a
    service refuses such a setting as it starts.
    """
    if isinstance(value, str):
        value = value.split(",")
    keys = [text.strip() for text in value if text.strip()]
    for position, text in enumerate(keys, start=1):
        try:
            parse_public_key(text)
        except ValueError as exc:
            raise ValueError(f"trusted key {position} of {len(keys)}: {exc}") from None
    return keys


class TrustedKeys:
    """The public keys a receiver accepts manifests from, by key id."""

    def __init__(self, keys: Iterable[Ed25519PublicKey] = ()) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {key_id_of(key): key for key in keys}

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> TrustedKeys:
        """Keys written as settings hold them (see :func:`parse_public_key`)."""
        return cls(parse_public_key(text) for text in texts if text.strip())

    @property
    def key_ids(self) -> list[str]:
        """The ids of the trusted keys."""
        return sorted(self._keys)

    def __bool__(self) -> bool:
        return bool(self._keys)

    def get(self, key_id: str) -> Ed25519PublicKey | None:
        """The trusted key of that id, or None."""
        return self._keys.get(key_id)


def sign_manifest(manifest: ReleaseManifest, key: SigningKey) -> SignedManifest:
    """``manifest`` stamped with ``key``'s id and signed with it."""
    stamped = manifest.model_copy(update={"key_id": key.key_id})
    return SignedManifest(manifest=stamped, signature=key.sign(manifest_bytes(stamped)))


def verify_manifest(
    signed: SignedManifest,
    trusted: TrustedKeys,
    *,
    now: datetime,
    check_expiry: bool = True,
) -> ReleaseManifest:
    """The manifest, once its key is trusted, its signature verifies and (with
    ``check_expiry``) ``now`` lies within its validity; :class:`ManifestRefused` otherwise."""
    manifest = signed.manifest
    public_key = trusted.get(manifest.key_id)
    if public_key is None:
        raise ManifestRefused(
            RefusalReason.UNKNOWN_KEY,
            f"the manifest is signed by key {manifest.key_id}, which is not trusted "
            f"(trusted: {', '.join(trusted.key_ids) or 'none'})",
        )
    try:
        signature = base64.b64decode(signed.signature, validate=True)
        public_key.verify(signature, manifest_bytes(manifest))
    except (binascii.Error, InvalidSignature):
        raise ManifestRefused(
            RefusalReason.BAD_SIGNATURE,
            f"the manifest's signature does not verify with key {manifest.key_id}",
        ) from None
    if check_expiry:
        if now >= manifest.expires_at:
            raise ManifestRefused(
                RefusalReason.EXPIRED,
                f"the manifest expired at {manifest.expires_at.isoformat()}",
            )
        if now < manifest.issued_at - _CLOCK_SKEW:
            raise ManifestRefused(
                RefusalReason.NOT_YET_VALID,
                f"the manifest is issued at {manifest.issued_at.isoformat()}, in the future",
            )
    return manifest


def encode_header(signed: SignedManifest) -> str:
    """A signed manifest as one header value: its JSON in unpadded URL-safe base64."""
    return base64.urlsafe_b64encode(signed.model_dump_json().encode()).decode().rstrip("=")


def decode_header(value: str) -> SignedManifest:
    """The signed manifest of a header written by :func:`encode_header`; ``ValueError`` for
    a value that is not one."""
    if len(value) > _MAX_HEADER_LENGTH:
        raise ValueError("the manifest header is too long")
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the manifest header is not base64") from None
    try:
        return SignedManifest.model_validate_json(raw)
    except ValueError:  # pydantic's ValidationError
        raise ValueError("the manifest header holds no signed manifest") from None
