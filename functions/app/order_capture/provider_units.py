"""How each payment provider counts money: its exponent and granularity for every currency.

The ledger counts ISO 4217 minor units (:mod:`money`). Providers mostly do too, but not always:

* **Adyen** gives CLP and ISK two decimals (ISO: none) and IDR and CVE none (ISO: two)
  (Adyen's "Currency codes" page, where those rows say "differs from standard").
* **Stripe** takes ISK with two decimals in multiples of 100 (one krona), MGA with none
  (ISO: two, so only whole ariary), and the three-decimal BHD, JOD, KWD, OMR and TND only with
  a last digit of 0 (Stripe's "Supported currencies": zero-decimal and three-decimal lists and
  its special cases). HUF and TWD are two-decimal for charges, as in ISO (whole units apply to
  payouts only), so they need nothing here.
* **Aplazame** lends in euros only.

An amount the provider cannot represent is refused, never rounded: an order is checked when it
is registered (:func:`check_order_amounts`), a capture or refund by amount when it is asked, and
the capture plan splits shipments in the provider's :meth:`ProviderUnits.granularity`. The
adapters convert with :meth:`ProviderUnits.to_provider` and :meth:`ProviderUnits.from_provider`,
which are exact inverses.

Pure: the domain imports it to check and plan, the adapters to convert.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from math import gcd

from order_capture.errors import InvalidAmountError, UnsupportedCurrencyError
from order_capture.money import CURRENCY_EXPONENTS, currency_exponent

#: ISO 4217 fund codes and units of account: not currencies anyone pays with.
_FUND_CODES = frozenset({"BOV", "CHE", "CHW", "CLF", "COU", "MXV", "USN", "UYI", "UYW"})


@dataclass(frozen=True)
class ProviderUnits:
    """One provider's way of counting money."""

    provider: str
    currencies: frozenset[str]
    #: The provider's number of decimals where it differs from ISO 4217.
    exponents: Mapping[str, int] = field(default_factory=dict)
    #: Amounts, in the provider's own units, must be multiples of this (Stripe: 10 for
    #: three-decimal currencies, 100 for ISK and UGX).
    steps: Mapping[str, int] = field(default_factory=dict)
    #: The provider cancels what a partial capture leaves of the authorization unless the
    #: merchant's account says otherwise (Adyen: "multiple partial captures", off by
    #: default), so a later capture's failure most likely has that cause.
    partial_capture_releases_rest: bool = False
    #: A capture sent as final releases what the authorization has left (Stripe's
    #: ``final_capture``), so releasing the remainder sends nothing more.
    final_capture_releases_rest: bool = False

    def supports(self, currency: str) -> bool:
        return currency in self.currencies

    def exponent(self, currency: str) -> int:
        """The provider's number of decimals for ``currency``."""
        self._check_supported(currency)
        return self.exponents.get(currency, currency_exponent(currency))

    def granularity(self, currency: str) -> int:
        """The smallest amount, in ISO minor units, the provider can take; every amount sent
        must be a multiple of it (1 for most currencies; 10 fils for KWD at Stripe; 100 for
        IDR at Adyen and MGA at Stripe)."""
        shift = self.exponent(currency) - currency_exponent(currency)
        step = self.steps.get(currency, 1)
        if shift >= 0:
            # Each minor unit is 10**shift provider units: a multiple of step after scaling.
            return step // gcd(step, _ten_to(shift))
        return _ten_to(-shift) * step

    def check(self, amount: int, currency: str, field: str = "amount") -> None:
        """Raise InvalidAmountError (naming ``field``) unless the provider can take ``amount``
        of ``currency`` exactly."""
        granularity = self.granularity(currency)
        if amount % granularity:
            raise InvalidAmountError(
                f"{field}: {amount} minor units of {currency} cannot be sent to "
                f"{self.provider}, which takes {currency} only in multiples of {granularity} "
                "minor units",
                field=field,
            )

    def to_provider(self, amount: int, currency: str) -> int:
        """``amount`` ISO minor units as the provider counts them (exact, or InvalidAmountError)."""
        self.check(amount, currency)
        shift = self.exponent(currency) - currency_exponent(currency)
        return amount * _ten_to(shift) if shift >= 0 else amount // _ten_to(-shift)

    def from_provider(self, value: int, currency: str) -> int:
        """A provider's amount back in ISO minor units; InvalidAmountError if it has a fraction
        of a minor unit (which no amount we sent can have)."""
        shift = currency_exponent(currency) - self.exponent(currency)
        if shift >= 0:
            return value * _ten_to(shift)
        whole, fraction = divmod(value, _ten_to(-shift))
        if fraction:
            raise InvalidAmountError(
                f"{self.provider} reported {value} in its units of {currency}: not a whole "
                "ISO 4217 minor unit"
            )
        return whole

    def _check_supported(self, currency: str) -> None:
        if currency not in self.currencies:
            raise UnsupportedCurrencyError(
                f"currency: {self.provider} does not take {currency}", field="currency"
            )


def _ten_to(power: int) -> int:
    """10 to a non-negative ``power``, as an int."""
    return int(10**power)


_ISO_CURRENCIES = frozenset(CURRENCY_EXPONENTS) - _FUND_CODES

#: Stripe's three-decimal currencies (last digit 0); other three- and four-decimal ISO
#: currencies (IQD, LYD) are not among its presentment currencies.
STRIPE_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})

STRIPE = ProviderUnits(
    provider="stripe",
    currencies=frozenset(c for c in _ISO_CURRENCIES if CURRENCY_EXPONENTS[c] <= 2)
    | STRIPE_THREE_DECIMAL,
    # Stripe's "special cases": ISK and UGX became zero-decimal, but are still counted
    # two-decimal, in multiples of 100 (5 UGX is 500); MGA is zero-decimal (ISO: two).
    exponents={"ISK": 2, "UGX": 2, "MGA": 0},
    steps={"ISK": 100, "UGX": 100} | dict.fromkeys(STRIPE_THREE_DECIMAL, 10),
    final_capture_releases_rest=True,
)

ADYEN = ProviderUnits(
    provider="adyen",
    currencies=_ISO_CURRENCIES,
    exponents={"CLP": 2, "ISK": 2, "IDR": 0, "CVE": 0},
    partial_capture_releases_rest=True,
)

APLAZAME = ProviderUnits(provider="aplazame", currencies=frozenset({"EUR"}))

#: The sandbox counts ISO 4217 minor units, every currency; like Stripe, a capture sent final
#: releases what the authorization has left.
SANDBOX = ProviderUnits(
    provider="sandbox",
    currencies=frozenset(CURRENCY_EXPONENTS),
    final_capture_releases_rest=True,
)

_BY_PROVIDER = {units.provider: units for units in (STRIPE, ADYEN, APLAZAME, SANDBOX)}


def units_for(provider: str) -> ProviderUnits:
    """The units of a provider name (``payment.provider``)."""
    try:
        return _BY_PROVIDER[provider]
    except KeyError:
        raise UnsupportedCurrencyError(
            f"payment.provider: no money units are known for {provider!r}",
            field="payment.provider",
        ) from None


def check_order_amounts(provider: str, currency: str, total: int, authorized: int) -> None:
    """Refuse an order the provider cannot capture whole: its currency, its total or its
    authorization not representable there. Every partial capture is then planned in the
    provider's granularity, so they all are."""
    units = units_for(provider)
    if not units.supports(currency):
        raise UnsupportedCurrencyError(
            f"currency: {provider} does not take {currency}", field="currency"
        )
    units.check(authorized, currency, field="payment.authorized_amount")
    granularity = units.granularity(currency)
    if total % granularity:
        raise InvalidAmountError(
            f"items: the order's total ({total}: items and shipping_amount) cannot be captured "
            f"at {provider}, which takes {currency} only in multiples of {granularity} minor units",
            field="items",
        )
