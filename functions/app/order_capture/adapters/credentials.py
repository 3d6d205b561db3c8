"""Payment-provider credentials per merchant and provider.

On AWS each merchant's credentials for one provider are one Secrets Manager secret, read through
Powertools Parameters (cached for ``max_age`` seconds in the warm Lambda container):

    {PROVIDER_SECRET_PREFIX}/{merchant_id}/{provider}     e.g. order-capture/providers/m-1/stripe

with a JSON object value (see ``ProviderCredentials``). Locally the same objects come from a JSON
document, in ``PROVIDER_CREDENTIALS_FILE`` or ``PROVIDER_CREDENTIALS_JSON``:

    {"m-1": {"stripe": {"api_key": "sk_test_..."},
             "adyen": {"api_key": "...", "merchant_account": "ShopECOM"}}}

Keys are ``SecretStr``: they never appear in reprs, logs or error messages.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from order_capture.errors import ProviderNotConfiguredError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    from order_capture.config import Settings


class ProviderCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Aplazame private key, Stripe secret (or restricted) key, Adyen API key.
    api_key: SecretStr
    #: Override the provider's API root (Adyen live needs the merchant's URL prefix).
    base_url: str | None = None
    #: Adyen: the merchant account the payments were made on.
    merchant_account: str | None = None
    #: Adyen: hex HMAC key of the webhook endpoint (for the webhook route, not for calls).
    webhook_hmac_key: SecretStr | None = None
    #: Stripe: the signing secret of the webhook endpoint (``whsec_...``), for the webhook route.
    webhook_secret: SecretStr | None = None
    #: Aplazame: a test-mode (sandbox) key, which needs Aplazame's sandbox media type.
    test_mode: bool = False


class CredentialsStore(Protocol):
    def credentials(self, merchant_id: str, provider: str) -> ProviderCredentials:
        """Raises ProviderNotConfiguredError when there are none (an operator must add them)."""
        ...


def secret_name(prefix: str, merchant_id: str, provider: str) -> str:
    return f"{prefix.rstrip('/')}/{merchant_id}/{provider}"


def _parse(value: Any, where: str) -> ProviderCredentials:
    try:
        return ProviderCredentials.model_validate(value)
    except ValidationError as error:
        # Only field names and error kinds: never the values, which are secrets.
        problems = ", ".join(
            f"{'.'.join(map(str, item['loc']))}: {item['type']}" for item in error.errors()
        )
        raise ProviderNotConfiguredError(f"{where}: not valid credentials ({problems})") from None


class SecretsManagerCredentials:
    """Secrets Manager through Powertools Parameters; the provider (and its boto3 client) is
    created on first use and caches each secret for ``max_age_seconds``."""

    def __init__(self, prefix: str, max_age_seconds: int = 300) -> None:
        self.prefix = prefix
        self.max_age_seconds = max_age_seconds

    @cached_property
    def secrets(self) -> SecretsProvider:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider  # noqa: PLC0415

        return SecretsProvider()

    def credentials(self, merchant_id: str, provider: str) -> ProviderCredentials:
        from aws_lambda_powertools.utilities.parameters.exceptions import (  # noqa: PLC0415
            GetParameterError,
            TransformParameterError,
        )

        name = secret_name(self.prefix, merchant_id, provider)
        # Messages never name the secret (they reach the ledger, events and API answers); an
        # operator finds it from the merchant and provider (README, Credentials on AWS).
        what = f"the {provider} credentials of merchant {merchant_id}"
        try:
            value = self.secrets.get(name, transform="json", max_age=self.max_age_seconds)
        except GetParameterError as error:
            # Powertools raises it inside its ``except`` without ``from``: what Secrets Manager
            # answered (ResourceNotFoundException, AccessDeniedException...) is its context.
            cause = error.__cause__ or error.__context__
            reason = type(cause).__name__ if cause is not None else "no answer"
            raise ProviderNotConfiguredError(
                f"{what} could not be read ({reason}); an operator must add them"
            ) from None
        except TransformParameterError:
            raise ProviderNotConfiguredError(f"{what} are not a JSON object") from None
        return _parse(value, what)


class LocalCredentials:
    """Credentials from a JSON document ``{merchant_id: {provider: {...}}}`` (local runs)."""

    def __init__(self, document: dict[str, Any], source: str) -> None:
        self.document = document
        self.source = source

    @classmethod
    def from_json(cls, text: str, source: str) -> LocalCredentials:
        try:
            document = json.loads(text)
        except ValueError:
            raise ProviderNotConfiguredError(f"{source} is not JSON") from None
        if not isinstance(document, dict):
            raise ProviderNotConfiguredError(f"{source} must be a JSON object")
        return cls(document, source)

    @classmethod
    def from_file(cls, path: Path) -> LocalCredentials:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ProviderNotConfiguredError(f"cannot read {path}: {error.strerror}") from None
        return cls.from_json(text, str(path))

    def credentials(self, merchant_id: str, provider: str) -> ProviderCredentials:
        merchant = self.document.get(merchant_id)
        value = merchant.get(provider) if isinstance(merchant, dict) else None
        if value is None:
            raise ProviderNotConfiguredError(
                f"{self.source} has no {provider} credentials for merchant {merchant_id}"
            )
        return _parse(value, f"{self.source} [{merchant_id}][{provider}]")


def credentials_store(settings: Settings) -> CredentialsStore:
    """Local sources win over AWS so that a laptop never reads real secrets by accident."""
    if settings.provider_credentials_json is not None:
        return LocalCredentials.from_json(
            settings.provider_credentials_json.get_secret_value(), "PROVIDER_CREDENTIALS_JSON"
        )
    if settings.provider_credentials_file:
        return LocalCredentials.from_file(Path(settings.provider_credentials_file))
    if settings.provider_secret_prefix:
        return SecretsManagerCredentials(
            settings.provider_secret_prefix, settings.provider_secret_max_age_seconds
        )
    raise ProviderNotConfiguredError(
        "no provider credentials source: set PROVIDER_SECRET_PREFIX (AWS) or "
        "PROVIDER_CREDENTIALS_FILE / PROVIDER_CREDENTIALS_JSON (local)"
    )
