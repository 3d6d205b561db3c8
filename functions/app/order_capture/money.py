"""Money: integer minor units inside, exact decimals at the edges, never floats.

Amounts travel through the service as ``int`` counts of a currency's minor unit (cents for
EUR, yen for JPY, fils for KWD). Conversion to and from decimal strings happens only at API
edges, with :class:`decimal.Decimal` and a check that no precision is lost.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from order_capture.errors import InvalidAmountError, UnsupportedCurrencyError

# ISO 4217 minor-unit exponents for currencies that do not use two decimals.
_EXPONENT_EXCEPTIONS: dict[str, int] = {
    # zero decimals
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    # three decimals
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    # four decimals
    "CLF": 4,
    "UYW": 4,
}

# Active ISO 4217 codes whose minor unit is 1/100.
_TWO_DECIMAL_CODES = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BMD",
        "BND",
        "BOB",
        "BOV",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHE",
        "CHF",
        "CHW",
        "CNY",
        "COP",
        "COU",
        "CRC",
        "CUP",
        "CVE",
        "CZK",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IRR",
        "JMD",
        "KES",
        "KGS",
        "KHR",
        "KPW",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MXV",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "USD",
        "USN",
        "UYU",
        "UZS",
        "VED",
        "VES",
        "WST",
        "XCD",
        "XCG",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG",
    ]
)

CURRENCY_EXPONENTS: dict[str, int] = {code: 2 for code in _TWO_DECIMAL_CODES} | _EXPONENT_EXCEPTIONS


def currency_exponent(currency: str) -> int:
    """Number of decimals of ``currency``'s minor unit (JPY 0, EUR 2, KWD 3)."""
    try:
        return CURRENCY_EXPONENTS[currency.upper()]
    except KeyError:
        raise UnsupportedCurrencyError(f"unknown ISO 4217 currency code {currency!r}") from None


def to_minor_units(amount: Decimal | str | int, currency: str) -> int:
    """Convert a decimal major-unit amount ("100.50" EUR) to minor units (10050), exactly.

    Rejects floats (binary floats cannot hold most decimal amounts) and amounts with more
    decimals than the currency has ("1.005" EUR), rather than rounding money silently.
    """
    if isinstance(amount, (float, bool)):
        raise InvalidAmountError("amounts must be decimal strings or integers, never floats")
    exponent = currency_exponent(currency)
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise InvalidAmountError(f"{amount!r} is not a decimal number") from None
    if not value.is_finite():
        raise InvalidAmountError(f"{amount!r} is not a finite amount")
    scaled = value.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise InvalidAmountError(
            f"{amount} has more than {exponent} decimals, the minor unit of {currency.upper()}"
        )
    return int(scaled)


def to_decimal(minor_units: int, currency: str) -> Decimal:
    """Convert minor units to an exact Decimal in major units with the currency's decimals."""
    exponent = currency_exponent(currency)
    return Decimal(minor_units).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))


def allocate_largest_remainder(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` so the parts sum to ``total`` exactly.

    Each part is the floor of its exact share; the cents left over go one each to the parts
    with the largest remainders (ties to the earliest part), so no part is more than one minor
    unit away from its exact share and no cent is lost or invented.
    """
    if total < 0:
        raise ValueError("total must not be negative")
    if any(weight < 0 for weight in weights):
        raise ValueError("weights must not be negative")
    weight_sum = sum(weights)
    if weight_sum == 0:
        if total:
            raise ValueError("cannot allocate a non-zero total over zero weights")
        return [0] * len(weights)
    floors_and_remainders = [divmod(total * weight, weight_sum) for weight in weights]
    parts = [floor for floor, _ in floors_and_remainders]
    leftover = total - sum(parts)
    by_remainder = sorted(
        range(len(weights)), key=lambda index: (-floors_and_remainders[index][1], index)
    )
    for index in by_remainder[:leftover]:
        parts[index] += 1
    return parts


def cumulative_unit_share(total: int, unit_count: int, units: int) -> int:
    """What the first ``units`` of ``unit_count`` equal units carry of ``total``.

    The same figure as summing the first ``units`` parts of
    ``allocate_largest_remainder(total, [1] * unit_count)`` (equal weights tie on remainders,
    so the leftover cents go to the earliest units), computed in O(1) so that lines with a
    million units cost nothing.
    """
    if not 0 <= units <= unit_count:
        raise ValueError("units must be between 0 and unit_count")
    if unit_count == 0:
        return 0
    base, leftover = divmod(total, unit_count)
    return units * base + min(units, leftover)
