"""An API key can be revoked (docs/api.md promised "a revoked key keeps working
[ApiKeyCacheSeconds]", yet nothing revoked one: a leaked key needed a hand-made DeleteItem of
APIKEY#<sha256>, which only the leaked key itself names)."""

from __future__ import annotations

import pytest

from order_capture.adapters.api_keys import DynamoDBApiKeyStore
from order_capture.domain import merchant_api
from order_capture.ports import SystemClock
from order_capture_local.cli import main


def test_review_a_key_is_revoked_only_by_naming_its_merchant(ledger_table: str) -> None:
    store = DynamoDBApiKeyStore(ledger_table)
    key = merchant_api.create_api_key(store, "merchant-a", SystemClock())
    digest = merchant_api.api_key_digest(key)
    assert not store.revoke(digest, "merchant-b")  # not theirs: nothing deleted
    assert merchant_api.merchant_of(store, key) == "merchant-a"
    assert store.revoke(digest, "merchant-a")
    assert merchant_api.merchant_of(store, key) is None
    assert not store.revoke(digest, "merchant-a")  # gone already


@pytest.mark.parametrize("by", ["--key", "--digest"])
def test_review_keys_revoke_deletes_the_key_by_it_or_its_digest(
    ledger_table: str, by: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = DynamoDBApiKeyStore(ledger_table)
    key = merchant_api.create_api_key(store, "merchant-a", SystemClock())
    named = key if by == "--key" else merchant_api.api_key_digest(key)
    revoke = ["keys", "revoke", "--merchant", "merchant-a", by, named, "--table", ledger_table]
    assert main(revoke) == 0
    assert "revoked key" in capsys.readouterr().out
    assert merchant_api.merchant_of(store, key) is None
    assert main(revoke) == 1  # nothing left to revoke
    assert "refused" in capsys.readouterr().err
    assert key not in capsys.readouterr().out  # the key itself is never printed
