"""Provider credentials: per merchant and provider, from Secrets Manager (moto) or local JSON;
never echoed in errors or reprs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from order_capture.adapters.adyen import AdyenProvider
from order_capture.adapters.aplazame import AplazameProvider
from order_capture.adapters.credentials import (
    LocalCredentials,
    SecretsManagerCredentials,
    credentials_store,
    secret_name,
)
from order_capture.adapters.providers import provider_for
from order_capture.adapters.sandbox_provider import SandboxProvider
from order_capture.adapters.stripe import StripeProvider
from order_capture.config import Settings
from order_capture.errors import ProviderNotConfiguredError

SECRET = "sk_test_never_print_me"
DOCUMENT = {
    "m-1": {
        "stripe": {"api_key": SECRET},
        "aplazame": {"api_key": "aplazame-private"},
        "adyen": {"api_key": "adyen-key", "merchant_account": "ShopECOM"},
    }
}


def settings(**values: object) -> Settings:
    return Settings(table_name="ledger", **values)


@pytest.fixture
def secrets() -> Iterator[object]:
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        client.create_secret(
            Name=secret_name("order-capture/providers", "m-1", "stripe"),
            SecretString=json.dumps({"api_key": SECRET}),
        )
        client.create_secret(
            Name=secret_name("order-capture/providers", "m-1", "adyen"),
            SecretString="not json",
        )
        yield client


def test_secrets_manager_credentials_are_read_per_merchant_and_provider(secrets: object) -> None:
    store = SecretsManagerCredentials("order-capture/providers/")

    assert store.credentials("m-1", "stripe").api_key.get_secret_value() == SECRET


def test_missing_or_malformed_secrets_are_configuration_errors(secrets: object) -> None:
    store = SecretsManagerCredentials("order-capture/providers")

    with pytest.raises(
        ProviderNotConfiguredError, match="stripe credentials of merchant m-2"
    ) as missing:
        store.credentials("m-2", "stripe")
    with pytest.raises(ProviderNotConfiguredError, match="not a JSON object") as malformed:
        store.credentials("m-1", "adyen")
    # What Secrets Manager answered is named (Powertools does not chain it as the cause).
    assert "(ResourceNotFoundException)" in missing.value.message
    # The messages reach the ledger, events and API answers: they never name the secret
    for raised in (missing, malformed):
        assert "order-capture/providers" not in raised.value.message


def test_local_credentials_from_env_json_and_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps(DOCUMENT))

    from_env = credentials_store(settings(provider_credentials_json=json.dumps(DOCUMENT)))
    from_file = credentials_store(settings(provider_credentials_file=str(path)))

    for store in (from_env, from_file):
        assert store.credentials("m-1", "adyen").merchant_account == "ShopECOM"
        with pytest.raises(
            ProviderNotConfiguredError, match="no stripe credentials for merchant m-9"
        ):
            store.credentials("m-9", "stripe")


def test_invalid_credentials_name_the_field_never_the_value() -> None:
    store = LocalCredentials({"m-1": {"stripe": {"api_key": SECRET, "extra": SECRET}}}, "test")

    with pytest.raises(ProviderNotConfiguredError) as raised:
        store.credentials("m-1", "stripe")

    assert "extra" in str(raised.value)
    assert SECRET not in str(raised.value)


def test_credentials_never_show_in_reprs() -> None:
    credentials = LocalCredentials(DOCUMENT, "test").credentials("m-1", "stripe")
    assert SECRET not in repr(credentials)
    assert SECRET not in repr(settings(provider_credentials_json=json.dumps(DOCUMENT)))


def test_no_credentials_source_is_a_configuration_error() -> None:
    with pytest.raises(ProviderNotConfiguredError, match="PROVIDER_SECRET_PREFIX"):
        credentials_store(settings())


@pytest.mark.parametrize(
    ("name", "adapter"),
    [("stripe", StripeProvider), ("aplazame", AplazameProvider), ("adyen", AdyenProvider)],
)
def test_provider_for_picks_the_adapter_by_provider_and_merchant(name: str, adapter: type) -> None:
    store = LocalCredentials(DOCUMENT, "test")

    provider = provider_for(name, settings(), merchant_id="m-1", credentials=store)

    assert isinstance(provider, adapter)
    assert provider.name == name
    assert provider_for(name, settings(), merchant_id="m-1", credentials=store) is provider


def test_provider_for_needs_a_merchant_and_a_known_provider() -> None:
    store = LocalCredentials(DOCUMENT, "test")
    with pytest.raises(ProviderNotConfiguredError, match="merchant id"):
        provider_for("stripe", settings(), credentials=store)
    with pytest.raises(ProviderNotConfiguredError, match="paypal"):
        provider_for("paypal", settings(), merchant_id="m-1", credentials=store)
    assert isinstance(
        provider_for("sandbox", settings(sandbox_provider_url="http://127.0.0.1:1")),
        SandboxProvider,
    )
