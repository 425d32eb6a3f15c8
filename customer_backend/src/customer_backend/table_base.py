"""The base of every customer backend table, on a metadata of its own.

The GCC's tables live on SQLModel's default metadata; a process that imports both tiers (the
test suite, the local stack) must not mix the two schemas.
"""

from sqlalchemy.orm import registry
from sqlmodel import SQLModel


class TableBase(SQLModel, registry=registry()):
    """Base class of the customer backend's SQLModel tables."""


metadata = TableBase.metadata
