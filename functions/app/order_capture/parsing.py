"""Turning raw payloads into models, with errors that name the field and say why."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError

from order_capture.errors import InvalidEventError

#: The names pydantic gives the members of a union in an error's location (``constrained-str``,
#: ``function-after[...]``): no field of the request, so never in the field's name.
_UNION_MEMBER = re.compile(
    r"^(constrained-)?(str|int|float|bool|bytes|decimal)$"
    r"|^(function-(after|before|wrap|plain)|lax-or-strict|json-or-python)\["
)


def field_path(location: tuple[int | str, ...], prefix: str = "") -> str:
    path = prefix
    for part in location:
        if isinstance(part, str) and _UNION_MEMBER.match(part):
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(root)"


def invalid_event_from(error: ValidationError, prefix: str = "") -> InvalidEventError:
    """The first problem of ``error`` as an InvalidEventError; all problems in the message."""
    problems = [
        f"{field_path(tuple(detail['loc']), prefix)}: {detail['msg']}"
        for detail in error.errors(include_url=False)
    ]
    first = error.errors(include_url=False)[0]
    return InvalidEventError("; ".join(problems), field=field_path(tuple(first["loc"]), prefix))


def parse_as[ModelT: BaseModel](model: type[ModelT], data: Any, prefix: str = "") -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise invalid_event_from(error, prefix) from None
