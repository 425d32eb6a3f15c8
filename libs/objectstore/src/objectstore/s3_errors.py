"""How S3's errors become the store's: a missing key is :class:`ObjectNotFound`, the rest
:class:`ObjectStoreError` naming the operation and the key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import ClientError as HttpClientError
from botocore.exceptions import BotoCoreError, ClientError

from objectstore.errors import ObjectNotFound, ObjectStoreError

NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404"})
MISSING_BUCKET_CODES = frozenset({"NoSuchBucket", "NotFound", "404"})
BUCKET_EXISTS_CODES = frozenset({"BucketAlreadyOwnedByYou"})
# Failures below the S3 protocol: connection, timeout, a body cut short.
TRANSPORT_ERRORS = (BotoCoreError, HttpClientError, TimeoutError)


@contextmanager
def s3_errors(operation: str, key: str) -> Iterator[None]:
    """Report botocore errors as store errors; a missing key as :class:`ObjectNotFound`."""
    try:
        yield
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND_CODES:
            raise ObjectNotFound(key) from exc
        raise store_error(operation, key, exc) from exc
    except TRANSPORT_ERRORS as exc:
        raise store_error(operation, key, exc) from exc


def store_error(operation: str, key: str, exc: Exception) -> ObjectStoreError:
    """The store's error for a failed ``operation`` on ``key``."""
    return ObjectStoreError(f"S3 {operation} of {key!r} failed: {exc}")


def error_code(exc: Any) -> str:
    """S3's error code of a botocore ``ClientError`` (``NoSuchKey``, ...)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def etag_of(response: Any) -> str | None:
    """The ETag of an S3 response, without its quotes."""
    etag = response.get("ETag")
    return str(etag).strip('"') if etag else None
