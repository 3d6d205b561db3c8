"""The numbers an API body may hold: what the gate's parse of a body (``app._check_body``)
puts where a number is one no parser of ours may take, and finds again by its field's path.
Python's JSON parser reads NaN and Infinity (not JSON) and raises a ValueError, answered by
nothing, for an integer of more than 4,300 digits."""

from __future__ import annotations

import json
import math
from typing import Any

#: The longest integer a body may hold, in digits: what Python's ``int`` reads
#: (``sys.get_int_max_str_digits()``'s default); amounts are bounded far below anyway.
MAX_JSON_INTEGER_DIGITS = 4300


def loads(text: str) -> Any:
    """``text`` parsed, each number no parser of ours may take a ``_RefusedNumber``."""
    return json.loads(
        text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
    )


class _RefusedNumber:
    """What the gate's parse puts where the body has a number no JSON parser of ours may take:
    NaN or Infinity (not JSON, RFC 8259 6, though Python's parser reads them), a number out of
    a double's range (1e400), an integer of more digits than Python's ``int`` reads (past
    4300 the resolver's parser raises a ValueError that nothing answers: a 502)."""

    def __init__(self, why: str) -> None:
        self.why = why


def _parse_int(text: str) -> int | _RefusedNumber:
    digits = len(text.lstrip("-"))
    if digits > MAX_JSON_INTEGER_DIGITS:
        return _RefusedNumber(
            f"an integer of {digits} digits; at most {MAX_JSON_INTEGER_DIGITS} are read"
        )
    return int(text)


def _parse_float(text: str) -> float | _RefusedNumber:
    value = float(text)
    if math.isinf(value):
        return _RefusedNumber(f"{text[:20]} is out of the range of a JSON number")
    return value


def _parse_constant(name: str) -> _RefusedNumber:
    return _RefusedNumber(f"{name} is not JSON; send a number or null")


def refused_number(value: Any, path: str = "") -> tuple[str, str] | None:
    """(field, why) of the first refused number in ``value`` (``items[0].amount``); None if
    there is none."""
    if isinstance(value, _RefusedNumber):
        return path or "body", value.why
    children: Any = ()
    if isinstance(value, dict):
        children = ((f"{path}.{key}" if path else str(key), child) for key, child in value.items())
    elif isinstance(value, list):
        children = ((f"{path}[{index}]", child) for index, child in enumerate(value))
    for child_path, child in children:
        found = refused_number(child, child_path)
        if found is not None:
            return found
    return None
