"""The customer backend's errors: the shared service error hierarchy."""

from servicekit.errors import (
    Conflict,
    Forbidden,
    Gone,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    ServiceError,
    Unauthorized,
    install_error_handlers,
)

__all__ = [
    "Conflict",
    "Forbidden",
    "Gone",
    "InvalidInput",
    "NotFound",
    "PayloadTooLarge",
    "ServiceError",
    "Unauthorized",
    "install_error_handlers",
]
