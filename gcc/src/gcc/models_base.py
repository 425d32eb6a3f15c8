"""Column helpers of the GCC tables (see servicekit.columns)."""

from servicekit.columns import enum_field, id_field, json_field, text_field, timestamp_field

__all__ = ["enum_field", "id_field", "json_field", "text_field", "timestamp_field"]
