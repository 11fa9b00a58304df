"""A content file's pydantic errors as the loader reports problems: the field as an editor
would write it ("triage.patterns[0]") and a message in plain words."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError


def fail(message: str) -> PydanticCustomError:
    """An error a validator raises. No context: the message is shown as written (braces too)."""
    return PydanticCustomError("content", message)


# pydantic's own errors, said the way the rest of the loader says things.
_PLAIN = {
    "missing": "is required",
    "extra_forbidden": "is not a field here (misspelt?)",
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping of fields",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "too_short": "must not be empty",
    "literal_error": "must be {expected}",
    "enum": "must be one of {expected}",
}


def field_name(loc: tuple[int | str, ...]) -> str:
    """("triage", "patterns", 0) -> "triage.patterns[0]"; a mapping's key stands for itself."""
    out = ""
    for part in loc:
        if part == "[key]":  # pydantic marks an error in a key, not its value, this way
            continue
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out


def plain_errors(exc: ValidationError, shape: str) -> list[tuple[str, str]]:
    """(field, message) for each error; "file" for the file as a whole."""
    out = []
    for err in exc.errors(include_url=False):
        field = field_name(err["loc"])
        template = _PLAIN.get(err["type"]) if field else shape
        message = template.format(**err.get("ctx", {})) if template else err["msg"]
        out.append((field or "file", message))
    return out


def validate_file(
    model: type[BaseModel], data: Any, context: Mapping[str, Any]
) -> tuple[Any, list[tuple[str, str]]]:
    """The validated model (None if any error) and its errors as (field, message). A model's
    SHAPE says what the whole file must be, when it is not even a mapping."""
    try:
        return model.model_validate(data, context=dict(context)), []
    except ValidationError as exc:
        shape = getattr(model, "SHAPE", "must be a mapping")
        return None, plain_errors(exc, shape)


def with_errors(
    cls: type[BaseModel], data: Any, handler: Callable[[Any], Any], extra: list[tuple[str, str]]
) -> Any:
    """Validate with `handler`, then raise its errors and `extra` ((field, message)) together."""
    if not extra:
        return handler(data)
    errors: list[InitErrorDetails] = []
    try:
        handler(data)
    except ValidationError as exc:
        errors = [
            InitErrorDetails(
                type=PydanticCustomError(e["type"], e["msg"], e.get("ctx")),
                loc=e["loc"],
                input=e["input"],
            )
            for e in exc.errors(include_url=False)
        ]
    errors += [
        InitErrorDetails(type=fail(message), loc=(field,), input=data) for field, message in extra
    ]
    raise ValidationError.from_exception_data(cls.__name__, errors)
