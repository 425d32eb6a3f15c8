"""The base of every GCC table, on a metadata of its own.

The customer backend's tables live on a metadata of their own too; a process that imports both
tiers (the test suite, the local stack) must not mix the two schemas.
"""

from sqlalchemy.orm import registry
from sqlmodel import SQLModel


class TableBase(SQLModel, registry=registry()):
    """Base class of the GCC's SQLModel tables."""


metadata = TableBase.metadata
