"""What a capture is asked for, whatever triggered it, and the capture id derived from it."""

import uuid
from typing import Literal

from order_capture.models.base import Model
from order_capture.models.events import ItemQuantity

Trigger = Literal["event", "api"]

_CAPTURE_ID_NAMESPACE = uuid.UUID("6f1b8f7e-5f64-4c8e-9a51-3a8d2a0b7c11")


def capture_id_for(merchant_id: str, order_id: str, shipment_id: str) -> str:
    """The capture id of a shipment: deterministic, so a shipment can only ever capture once."""
    return uuid.uuid5(_CAPTURE_ID_NAMESPACE, f"{merchant_id}\x1f{order_id}\x1f{shipment_id}").hex


class CaptureRequest(Model):
    """What to capture, whatever triggered it (an `Order Shipped` event or the API)."""

    merchant_id: str
    order_id: str
    shipment_id: str
    #: None: everything not yet shipped or canceled.
    items: list[ItemQuantity] | None = None
    #: API captures by amount (Aplazame's `{"amount"}`) instead of items.
    amount: int | None = None
    trigger: Trigger = "event"

    @property
    def capture_id(self) -> str:
        return capture_id_for(self.merchant_id, self.order_id, self.shipment_id)
