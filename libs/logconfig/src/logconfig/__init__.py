"""Shared logging: structlog JSON lines with secret redaction, used by every tier.

Call :func:`configure_logging` once at process start, then log with :func:`get_logger`::

    configure_logging(level="INFO", service="gcc-api")
    log = get_logger(__name__)
    log.info("webhook.delivery.failed", organization_id=org_id, status_code=502)
"""

from logconfig.configuration import (
    THIRD_PARTY_LOGGERS,
    configure_logging,
    get_logger,
    logging_restored,
)
from logconfig.correlation import add_trace_context, log_context
from logconfig.redaction import REDACTED, SECRET_KEY_MARKERS, is_secret_key, redact, redact_secrets

__all__ = [
    "REDACTED",
    "SECRET_KEY_MARKERS",
    "THIRD_PARTY_LOGGERS",
    "add_trace_context",
    "configure_logging",
    "get_logger",
    "is_secret_key",
    "log_context",
    "logging_restored",
    "redact",
    "redact_secrets",
]
