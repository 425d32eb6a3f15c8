"""The base class of every contract model.

On the wire every field is camelCase; in Python it is snake_case. Validation accepts either
spelling, and every dump defaults to camelCase (``serialize_by_alias``), so::

    body = ReleaseCreateResponse.model_validate_json(raw)      # camelCase JSON in
    body.model_dump_json()                                       # camelCase JSON out
    body.model_dump(mode="json")                                 # camelCase, JSON-safe dict

Unknown fields are ignored, so an older peer keeps working when a newer one adds a field. A
missing or ill-typed field raises :class:`pydantic.ValidationError` whose location is the
camelCase field name (``("release", "chartSha256")``).

No string of a contract may contain a NUL character (``\\u0000``): PostgreSQL cannot store one
in a text column, and no field has a use for it. Every ``str`` a model validates, at any depth
(``list[str]``, dictionary keys and values, constrained strings), fails with the error type
``string_nul`` at the string's own location. A sender that forwards text it did not write (a
command's output, say) cleans it first with :func:`replace_nul`.
"""

from __future__ import annotations

from typing import Any, Final, cast

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic.alias_generators import to_camel
from pydantic.fields import ComputedFieldInfo, FieldInfo
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

__all__ = [
    "NUL",
    "NUL_MESSAGE",
    "REPLACEMENT_CHARACTER",
    "ContractModel",
    "omit_null",
    "replace_nul",
]

NUL: Final = "\x00"
"""The character no contract string may contain."""

NUL_MESSAGE: Final = "Text must not contain NUL characters"
"""The message of the ``string_nul`` validation error."""

REPLACEMENT_CHARACTER: Final = "\ufffd"
"""What :func:`replace_nul` puts in place of a NUL (as a UTF-8 decoder does for bad bytes)."""

# Parts of a core schema that describe serialization or configuration, not validation.
_NOT_VALIDATION_KEYS: Final = frozenset(
    {"metadata", "serialization", "return_schema", "computed_fields", "config", "cls", "ref"}
)


def replace_nul(text: str) -> str:
    """``text`` with every NUL replaced by U+FFFD, so that a contract accepts it."""
    return text.replace(NUL, REPLACEMENT_CHARACTER) if NUL in text else text


def _refuse_nul(value: str) -> str:
    # One substring search per string: the check adds well under a microsecond to a field.
    if NUL in value:
        raise PydanticCustomError("string_nul", NUL_MESSAGE)
    return value


def _refuse_nul_in_strings(schema: Any) -> Any:
    """``schema`` with every string schema in it wrapped by :func:`_refuse_nul`.

    The schema is not modified: a part that changes is copied. References to other models
    (``definition-ref``) are left alone, as those models check their own strings.
    """
    if isinstance(schema, dict):
        kind = schema.get("type")
        if kind == "str":
            return core_schema.no_info_after_validator_function(_refuse_nul, schema)
        if kind == "definition-ref":
            return schema
        if kind == "function-after" and schema["function"].get("function") is _refuse_nul:
            return schema
        changed = {}
        for key, value in schema.items():
            if key in _NOT_VALIDATION_KEYS or not isinstance(value, dict | list | tuple):
                continue
            checked = _refuse_nul_in_strings(value)
            if checked is not value:
                changed[key] = checked
        return {**schema, **changed} if changed else schema
    if isinstance(schema, list | tuple):
        items = [_refuse_nul_in_strings(item) for item in schema]
        if any(new is not old for new, old in zip(items, schema, strict=True)):
            return type(schema)(items)
    return schema


def omit_null(schema: dict[str, Any]) -> None:
    """``json_schema_extra`` for an optional field that may be left out but not sent as null
    (validation refuses null): publish it without the null branch and the null default."""
    schema.pop("default", None)
    branches = [branch for branch in schema.pop("anyOf", []) if branch.get("type") != "null"]
    if len(branches) == 1:
        schema.update(branches[0])
    elif branches:
        schema["anyOf"] = branches


def _title_from_field_name(name: str, info: FieldInfo | ComputedFieldInfo) -> str:
    """Make "Chart sha256" of ``chart_sha256`` for the JSON Schema's titles."""
    return name.replace("_", " ").capitalize()


class ContractModel(BaseModel):
    """Base of every message that crosses a process boundary: camelCase, tolerant, documented.

    Attribute docstrings become field descriptions in the JSON Schema. No string may contain
    a NUL character (see the module's documentation).
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",
        use_attribute_docstrings=True,
        field_title_generator=_title_from_field_name,
        # Every field is in every answer, defaults included: say so in a response's schema.
        json_schema_serialization_defaults_required=True,
    )

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        """Pydantic's schema of the model, with the NUL check on each of its strings."""
        schema = handler(source)
        model_schema = cast(dict[str, Any], handler.resolve_ref_schema(schema))
        checked = _refuse_nul_in_strings(model_schema)
        if checked is model_schema:
            return schema
        if model_schema is schema:
            return cast(CoreSchema, checked)
        # The model's schema is kept as a definition that ``schema`` refers to: change it there.
        model_schema.clear()
        model_schema.update(checked)
        return schema
