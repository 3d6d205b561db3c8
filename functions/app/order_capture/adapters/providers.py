"""Which adapter serves which provider name, with which merchant's credentials."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from order_capture.config import Settings
from order_capture.errors import ProviderNotConfiguredError
from order_capture.ports import PaymentProvider

if TYPE_CHECKING:
    from order_capture.adapters.credentials import CredentialsStore, ProviderCredentials

#: Providers whose adapters need per-merchant credentials.
CREDENTIALED_PROVIDERS = frozenset({"aplazame", "stripe", "adyen"})


def provider_for(
    name: str,
    settings: Settings,
    merchant_id: str | None = None,
    credentials: CredentialsStore | None = None,
) -> PaymentProvider:
    """The adapter for an order's ``payment.provider``; real providers also need the order's
    ``merchant_id`` to find its credentials (``credentials`` defaults to the store that
    ``settings`` describe: Secrets Manager on AWS, a file or env var locally)."""
    if name == "sandbox":
        if not settings.sandbox_provider_url:
            raise ProviderNotConfiguredError("SANDBOX_PROVIDER_URL is not configured")
        from order_capture.adapters.sandbox_provider import SandboxProvider  # noqa: PLC0415

        return SandboxProvider(settings.sandbox_provider_url, settings.provider_timeout_seconds)
    if name not in CREDENTIALED_PROVIDERS:
        raise ProviderNotConfiguredError(f"no adapter is configured for provider {name!r}")
    if not merchant_id:
        raise ProviderNotConfiguredError(f"{name} needs the merchant id to find its credentials")
    store = credentials or _default_store(
        settings.provider_secret_prefix,
        settings.provider_credentials_file,
        settings.provider_credentials_json.get_secret_value()
        if settings.provider_credentials_json
        else None,
        settings.provider_secret_max_age_seconds,
    )
    return _adapter(name, store.credentials(merchant_id, name), settings.provider_timeout_seconds)


class ConfiguredProviders:
    """PaymentProviders as ``settings`` configure them (see ``provider_for``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def provider(self, name: str, merchant_id: str) -> PaymentProvider:
        return provider_for(name, self.settings, merchant_id=merchant_id)

    def webhook_hmac_key(self, merchant_id: str, provider: str) -> str | None:
        """From the same credentials as the calls (``webhook_hmac_key``); None if unset."""
        key = self._credentials(merchant_id, provider).webhook_hmac_key
        return key.get_secret_value() if key is not None else None

    def webhook_secret(self, merchant_id: str, provider: str) -> str | None:
        """From the same credentials as the calls (``webhook_secret``); None if unset."""
        secret = self._credentials(merchant_id, provider).webhook_secret
        return secret.get_secret_value() if secret is not None else None

    def _credentials(self, merchant_id: str, provider: str) -> ProviderCredentials:
        settings = self.settings
        store = _default_store(
            settings.provider_secret_prefix,
            settings.provider_credentials_file,
            settings.provider_credentials_json.get_secret_value()
            if settings.provider_credentials_json
            else None,
            settings.provider_secret_max_age_seconds,
        )
        return store.credentials(merchant_id, provider)


@lru_cache(maxsize=4)
def _default_store(
    secret_prefix: str | None,
    credentials_file: str | None,
    credentials_json: str | None,
    max_age_seconds: int,
) -> CredentialsStore:
    """One store per container: its Powertools cache outlives single invocations."""
    from order_capture.adapters.credentials import credentials_store  # noqa: PLC0415

    return credentials_store(
        Settings(
            table_name="-",
            provider_secret_prefix=secret_prefix,
            provider_credentials_file=credentials_file,
            provider_credentials_json=credentials_json,
            provider_secret_max_age_seconds=max_age_seconds,
        )
    )


@lru_cache(maxsize=64)
def _adapter(
    name: str, credentials: ProviderCredentials, timeout_seconds: float
) -> PaymentProvider:
    """Adapters (and their HTTP connection pools) are reused while the credentials stay the
    same; rotated credentials make a new adapter."""
    if name == "aplazame":
        from order_capture.adapters.aplazame import AplazameProvider  # noqa: PLC0415

        return AplazameProvider(credentials, timeout_seconds)
    if name == "stripe":
        from order_capture.adapters.stripe import StripeProvider  # noqa: PLC0415

        return StripeProvider(credentials, timeout_seconds)
    from order_capture.adapters.adyen import AdyenProvider  # noqa: PLC0415

    return AdyenProvider(credentials, timeout_seconds)
