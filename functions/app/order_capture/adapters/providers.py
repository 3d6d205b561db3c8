"""Which adapter serves which provider name."""

from __future__ import annotations

from order_capture.config import Settings
from order_capture.errors import ProviderNotConfiguredError
from order_capture.ports import PaymentProvider


def provider_for(name: str, settings: Settings) -> PaymentProvider:
    if name == "sandbox":
        if not settings.sandbox_provider_url:
            raise ProviderNotConfiguredError("SANDBOX_PROVIDER_URL is not configured")
        from order_capture.adapters.sandbox_provider import SandboxProvider  # noqa: PLC0415

        return SandboxProvider(settings.sandbox_provider_url, settings.provider_timeout_seconds)
    raise ProviderNotConfiguredError(f"no adapter is configured for provider {name!r}")
