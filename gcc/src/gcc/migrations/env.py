"""Alembic environment of the GCC database."""

import gcc.models  # noqa: F401 - registers every table on the metadata
from gcc.table_base import metadata
from servicekit.migrations import run_environment

run_environment(metadata)
