"""docs/ledger.md's key table is the one the codec's key builders spell."""

from __future__ import annotations

import re

from order_capture.adapters.dynamodb import codec
from tests.support import ROOT

ROW = re.compile(r"^\| `([^`]+)` \| `([^`]+)` \|", re.MULTILINE)


def documented_keys() -> set[tuple[str, str]]:
    text = (ROOT / "docs" / "ledger.md").read_text()
    items = text[text.index("## Items") : text.index("## Indexes")]
    return set(ROW.findall(items))


def test_every_key_the_codec_builds_is_in_the_documented_key_table() -> None:
    built = [
        *codec.order_keys("<merchant_id>", "<order_id>"),
        codec.capture_key("<merchant_id>", "<order_id>", "<capture_id>"),
        codec.capture_lines_key("<merchant_id>", "<order_id>", "<capture_id>"),
        codec.refund_key("<merchant_id>", "<order_id>", "<capture_id>", "<refund_id>"),
        codec.history_key(
            "<merchant_id>", "<order_id>", "<capture_id>", "<when>#<rank>#<refund_id>#<change>"
        ),
        codec.release_key("<merchant_id>", "<order_id>"),
        codec.capture_ref_key("<merchant_id>", "<capture_id>"),
        codec.refund_ref_key("<merchant_id>", "<refund_id>"),
        codec.release_ref_key("<merchant_id>", "<release_id>"),
        codec.execution_failure_key("<execution ARN>"),
        codec.api_key_key("<sha256>"),
    ]
    keys = {codec.key_text(key) for key in built}
    assert keys - documented_keys() == set()
    # Every documented row but Powertools' own is one the codec builds.
    assert {row for row in documented_keys() if not row[0].startswith("idempotency")} == keys
