"""Alembic environment of the GCC database."""

from sqlmodel import SQLModel

import gcc.models  # noqa: F401 - registers every table on the metadata
from servicekit.migrations import run_environment

run_environment(SQLModel.metadata)
