"""The service's own events on EventBridge (the only module that talks to EventBridge)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from order_capture.adapters import aws_clients
from order_capture.errors import LedgerUnavailableError
from order_capture.models import Model
from order_capture.public_events import SOURCE

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

#: PutEvents takes at most 10 entries per call.
BATCH = 10
#: A call that hangs fails well within a step's 30-second Lambda timeout (3 attempts of at
#: most 2 + 4 seconds): Record then takes back its ``announced`` marker and its retry
#: announces, where a Lambda timeout in the middle of the call would lose the announcement.
CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 4
MAX_ATTEMPTS = 3


class EventBridgePublisher:
    def __init__(self, bus_name: str, client: EventBridgeClient | None = None) -> None:
        self.bus_name = bus_name
        self._client = client

    @cached_property
    def client(self) -> EventBridgeClient:
        if self._client is not None:
            return self._client
        from botocore.config import Config  # noqa: PLC0415

        client: EventBridgeClient = aws_clients.client(
            "events",
            config=Config(
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                read_timeout=READ_TIMEOUT_SECONDS,
                retries={"total_max_attempts": MAX_ATTEMPTS, "mode": "standard"},
            ),
        )
        return client

    def publish(self, detail_type: str, details: list[Model]) -> None:
        entries: list[Any] = [
            {
                "Source": SOURCE,
                "DetailType": detail_type,
                "Detail": detail.model_dump_json(),
                "EventBusName": self.bus_name,
            }
            for detail in details
        ]
        for start in range(0, len(entries), BATCH):
            response = self.client.put_events(Entries=entries[start : start + BATCH])
            if response.get("FailedEntryCount"):
                # Retried by the scheduler: a warning lost is worse than a warning twice.
                raise LedgerUnavailableError(f"EventBridge refused {detail_type} events")
