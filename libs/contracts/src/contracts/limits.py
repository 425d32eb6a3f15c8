"""Limits the databases of both services rely on: their columns are declared from these.

A contract that accepts more than a column can hold turns a long value into a database error
(a 500) instead of a 422 naming the field; declaring both from one constant keeps them equal.
The version length is :data:`contracts.versions.MAX_VERSION_LENGTH`.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "MAX_APP_VERSION_LENGTH",
    "MAX_CONTACT_NAME_LENGTH",
    "MAX_EMAIL_LENGTH",
    "MAX_ESTIMATED_DOWNTIME_LENGTH",
    "MAX_PHONE_LENGTH",
    "MAX_STORED_INTEGER",
    "MAX_WEBHOOK_ID_LENGTH",
]

MAX_STORED_INTEGER: Final = 2**31 - 1
"""Largest value of an ``integer`` column (and of a query parameter compared with one)."""

MAX_EMAIL_LENGTH: Final = 320
"""Longest email address (RFC 3696: 64 for the local part, 1 for '@', 255 for the domain)."""

MAX_CONTACT_NAME_LENGTH: Final = 200
"""Longest name of a person (a point of contact)."""

MAX_PHONE_LENGTH: Final = 50
"""Longest phone number, as a person writes it."""

MAX_WEBHOOK_ID_LENGTH: Final = 200
"""Longest ``webhook-id`` a receiver records (GCC sends ``msg_`` and 32 hexadecimal digits)."""

MAX_ESTIMATED_DOWNTIME_LENGTH: Final = 200
"""Longest estimated downtime text of a release, such as ``"about 5 minutes"``."""

MAX_APP_VERSION_LENGTH: Final = 100
"""Longest application version (a chart's ``appVersion``, free text such as ``2.3.0-rc1``)."""
