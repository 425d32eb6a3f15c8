"""The base class of every contract model.

On the wire every field is camelCase; in Python it is snake_case. Validation accepts either
spelling, and every dump defaults to camelCase (``serialize_by_alias``), so::

    body = ReleaseCreateResponse.model_validate_json(raw)      # camelCase JSON in
    body.model_dump_json()                                       # camelCase JSON out
    body.model_dump(mode="json")                                 # camelCase, JSON-safe dict

Unknown fields are ignored, so an older peer keeps working when a newer one adds a field. A
missing or ill-typed field raises :class:`pydantic.ValidationError` whose location is the
camelCase field name (``("release", "chartSha256")``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from pydantic.fields import ComputedFieldInfo, FieldInfo

__all__ = ["ContractModel"]


def _title_from_field_name(name: str, info: FieldInfo | ComputedFieldInfo) -> str:
    """Make "Chart sha256" of ``chart_sha256`` for the JSON Schema's titles."""
    return name.replace("_", " ").capitalize()


class ContractModel(BaseModel):
    """Base of every message that crosses a process boundary: camelCase, tolerant, documented.

    Attribute docstrings become field descriptions in the JSON Schema.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",
        use_attribute_docstrings=True,
        field_title_generator=_title_from_field_name,
    )
