"""The handlers' own EventBridge envelope accepts and refuses what Powertools' model did."""

from __future__ import annotations

import pytest
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import ValidationError

from order_capture.models import EventBridgeEnvelope
from order_capture_local.eventbridge import normalize_event
from tests.factories import load_event


def test_the_envelope_has_the_fields_of_powertools_eventbridge_model() -> None:
    ours = {
        name: (field.alias, field.is_required(), str(field.annotation))
        for name, field in EventBridgeEnvelope.model_fields.items()
    }
    theirs = {
        name: (field.alias, field.is_required(), str(field.annotation))
        for name, field in EventBridgeModel.model_fields.items()
        if name != "detail"  # typed by each handler's subclass
    }
    assert ours == theirs


@pytest.mark.parametrize("name", ["order-placed", "order-shipped-1", "order-shipped-invalid"])
def test_the_sample_events_parse_alike(name: str) -> None:
    event = normalize_event(load_event(name))
    ours = EventBridgeEnvelope.model_validate(event)
    theirs = EventBridgeModel.model_validate(event)
    assert ours.model_dump() == theirs.model_dump(exclude={"detail"})


@pytest.mark.parametrize("missing", ["id", "source", "time", "detail-type", "account"])
def test_an_envelope_without_a_required_field_is_refused_by_both(missing: str) -> None:
    event = normalize_event(load_event("order-shipped-1"))
    del event[missing]
    with pytest.raises(ValidationError):
        EventBridgeModel.model_validate(event)
    with pytest.raises(ValidationError, match=missing):
        EventBridgeEnvelope.model_validate(event)
