"""The emitted events' contract: the models, docs/events.md's tables, the samples in events/
and the state machines' PutEvents states agree, and no ledger field leaks into a detail."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from order_capture.domain.expiry import ExpiringAuthorization
from order_capture.models import Capture, CaptureLine, CaptureStatus, FailureReason, FailureRecord
from order_capture.public_events import (
    EMITTED,
    SOURCE,
    authorization_expiring,
    payment_capture_failed,
    payment_captured,
)
from order_capture_local import event_docs

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def emitted_samples() -> dict[str, dict[str, Any]]:
    samples = {}
    for path in sorted((ROOT / "events").glob("*.json")):
        event = json.loads(path.read_text())
        if event["source"] == SOURCE:
            samples[event["detail-type"]] = event
    return samples


def test_docs_events_md_tables_are_generated_from_the_models() -> None:
    text = (ROOT / "docs" / "events.md").read_text()
    assert event_docs.current_section(text) == event_docs.render(), (
        "docs/events.md is stale: run python -m order_capture_local.event_docs --write"
    )


def test_every_emitted_detail_type_has_a_sample_with_exactly_the_models_fields() -> None:
    samples = emitted_samples()
    assert set(samples) == set(EMITTED)
    for detail_type, event in samples.items():
        model = EMITTED[detail_type]
        detail = model.model_validate(event["detail"])
        assert set(event["detail"]) == set(model.model_fields), detail_type
        assert detail.schema_version == 1


def a_ledger_capture() -> Capture:
    return Capture(
        capture_id="c1",
        merchant_id="m1",
        order_id="o1",
        shipment_id="s1",
        amount=1200,
        currency="EUR",
        status=CaptureStatus.CAPTURED,
        lines=[CaptureLine(item_id="i1", quantity=1, amount=1200)],
        shipping_amount=100,
        provider="adyen",
        provider_reference="psp-1",
        trigger="api",
        execution_id="arn:exec",
        releases_authorization=True,
        status_at_provider="succeeded",
        refunded_amount=300,
        refund_pending_amount=200,
        created_at=NOW,
        updated_at=NOW,
    )


LEDGER_ONLY = {
    "lines",
    "releases_authorization",
    "failure",
    "status_at_provider",
    "refunded_amount",
    "refund_pending_amount",
}


def test_payment_captured_keeps_the_ledgers_bookkeeping_out() -> None:
    # Given a captured ledger capture with every internal field set
    capture = a_ledger_capture()
    # When it is mapped to its public detail
    detail = payment_captured(capture).model_dump(mode="json")
    # Then no internal field is there, and every public one says what the ledger says
    assert not LEDGER_ONLY & set(detail)
    ledger = capture.model_dump(mode="json")
    own = {"schema_version", "announcement_id"}
    assert {key: detail[key] for key in detail if key not in own} == {
        key: ledger[key] for key in detail if key not in own
    }
    assert detail["schema_version"] == 1
    assert detail["announcement_id"] == f"{capture.capture_id}:captured"


@pytest.mark.parametrize("status", [CaptureStatus.FAILED, CaptureStatus.REQUIRES_ACTION, None])
def test_payment_capture_failed_says_what_the_failure_record_says(
    status: CaptureStatus | None,
) -> None:
    record = FailureRecord.of(
        a_ledger_capture().model_copy(update={"status": status or CaptureStatus.FAILED}),
        FailureReason(
            reason="provider_declined", message="declined", error="ProviderDeclinedError"
        ),
        "arn:exec",
    )
    if status is None:
        record = record.model_copy(update={"status": None, "merchant_id": None})
    detail = payment_capture_failed(record).model_dump(mode="json")
    assert detail == {
        **record.model_dump(mode="json"),
        "schema_version": 1,
        "announcement_id": f"c1:capture_failed:{(status or CaptureStatus.FAILED).value}",
    }


def test_an_announcement_id_is_the_same_for_every_repeat_and_apart_for_each_outcome() -> None:
    # Given a capture announced twice (a repeat), later than the first time
    capture = a_ledger_capture()
    repeat = capture.model_copy(update={"updated_at": capture.updated_at.replace(year=2030)})
    # Then both carry one identity, derived from the capture and the outcome alone
    assert payment_captured(capture).announcement_id == payment_captured(repeat).announcement_id
    failure = FailureReason(reason="provider_declined", message="", error="ProviderDeclinedError")
    failed = payment_capture_failed(FailureRecord.of(capture, failure, "arn:exec"))
    assert failed.announcement_id != payment_captured(capture).announcement_id
    # And a failure that names no capture is its execution's
    orphan = FailureRecord.of(capture, failure, "arn:exec").model_copy(update={"capture_id": None})
    assert payment_capture_failed(orphan).announcement_id == "execution:arn:exec:capture_failed"


def test_authorization_expiring_says_what_the_sweep_found() -> None:
    warning = ExpiringAuthorization(
        merchant_id="m1",
        order_id="o1",
        provider="stripe",
        authorization_reference="pi_1",
        expires_at=NOW,
        kind="shipped_uncaptured",
        capturable_amount=0,
        reserved_amount=500,
        currency="EUR",
    )
    detail = authorization_expiring(warning).model_dump(mode="json")
    assert detail == {**warning.model_dump(mode="json"), "schema_version": 1}


def put_events_entries() -> list[tuple[str, dict[str, Any]]]:
    entries = []
    for path in sorted((ROOT / "statemachine").glob("*.asl.json")):
        for name, state in json.loads(path.read_text())["States"].items():
            if state.get("Resource") == "arn:aws:states:::events:putEvents":
                entries += [(f"{path.name}:{name}", e) for e in state["Parameters"]["Entries"]]
    return entries


def test_the_state_machines_emit_only_public_events_from_their_mapped_outputs() -> None:
    entries = put_events_entries()
    assert len(entries) == 3
    for where, entry in entries:
        assert entry["Source"] == SOURCE, where
        assert entry["DetailType"] in EMITTED, where
        # Each emits a step's output that is the mapped detail (RecordFailure's, or the
        # confirmation wait's SendTaskSuccess output), never the ledger's capture.
        assert entry["Detail.$"] in {
            "$.failure.payment_capture_failed",
            "$.payment_captured",
        }, where
