"""Alembic environment of the customer backend database."""

import customer_backend.models  # noqa: F401 - registers every table on the metadata
from customer_backend.table_base import metadata
from servicekit.migrations import run_environment

run_environment(metadata)
