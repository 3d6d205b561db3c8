"""The fields every boundary model is built of: the limits, identifiers, amounts, currencies
and the frozen, strict ``Model`` base.

Amounts are ``int`` minor units of the order's currency everywhere in this package.
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from order_capture.errors import UnsupportedCurrencyError
from order_capture.money import currency_exponent

#: The limits of what the service accepts (README "Limits"): every order within them captures.
MAX_ORDER_LINES = 1000
MAX_ID_LENGTH = 128

# Identifiers end up inside DynamoDB keys joined with '#', so '#' and whitespace are refused.
Identifier = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"
    ),
]
# Bounded so that sums of amounts and quantities stay far inside DynamoDB's 38-digit numbers
# and every provider's limits; 10^15 minor units is more than any single order carries.
MinorUnits = Annotated[int, Field(ge=0, le=10**15, strict=True)]
#: The largest line or order total: every amount up to it is read exactly by a JavaScript
#: client (JSON numbers are doubles) in every dialect: as an integer of minor units (below
#: 2^53) and as Omnitron's decimal (at most 15 significant digits, which a double keeps).
#: DynamoDB's 38 digits hold it with room to spare.
MAX_EXACT_MINOR_UNITS = 10**15
Quantity = Annotated[int, Field(ge=1, le=1_000_000, strict=True)]
Count = Annotated[int, Field(ge=0, le=1_000_000, strict=True)]


def _check_currency(code: str) -> str:
    try:
        currency_exponent(code)
    except UnsupportedCurrencyError as error:
        # A ValueError, so pydantic reports it against the field like any other problem.
        raise ValueError(error.message) from None
    return code


#: The earliest instant an authorization may expire at: the Unix epoch (anything earlier is a
#: mistake, often a number of seconds read as a date).
EARLIEST_EXPIRY = datetime(1970, 1, 1, tzinfo=UTC)
_ISO_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _iso_text_only(value: Any) -> Any:
    """Only an ISO 8601 date-time string (or a datetime): pydantic would read a number, or a
    string of digits, as seconds since the epoch, which no sender means by an expiry."""
    if isinstance(value, str) and not _ISO_DATE_TIME.match(value):
        raise ValueError(
            "must be an ISO 8601 date-time with an offset, such as 2026-12-31T23:59:59Z"
        )
    if not isinstance(value, str | datetime):
        raise ValueError("must be an ISO 8601 date-time string with an offset, not a number")
    return value


def _representable_in_utc(value: datetime) -> datetime:
    """The instant must exist in UTC (9999-12-31T23:59:59-23:59 does not: it is in year 10000),
    since the ledger keeps and compares it in UTC."""
    try:
        in_utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the years 1970 to 9999 in UTC") from None
    if in_utc < EARLIEST_EXPIRY:
        raise ValueError("is outside the years 1970 to 9999 in UTC")
    return value


ExpiryTime = Annotated[
    AwareDatetime, BeforeValidator(_iso_text_only), AfterValidator(_representable_in_utc)
]


def check_exact(total: int, what: str) -> None:
    if total > MAX_EXACT_MINOR_UNITS:
        raise ValueError(
            f"{what} {total} is more than {MAX_EXACT_MINOR_UNITS} (10^15), the largest amount "
            "every client reads exactly (JSON numbers are doubles)"
        )


CurrencyCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Z]{3}$"), AfterValidator(_check_currency)
]
ProviderName = Literal["sandbox", "aplazame", "stripe", "adyen"]

# Storage and step payloads are read back from JSON, where strict ints come back as ints;
# DynamoDB hands numbers back as Decimal, which the adapter converts before validation.


class Model(BaseModel):
    # defer_build: a model's validator is built when it is first used, not when this module is
    # imported, so each Lambda builds only the models it handles (cold start, BENCHMARKS.md).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
