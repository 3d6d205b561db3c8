"""What `make bench` holds the service to: the targets each figure is shown beside."""

from __future__ import annotations

# --- targets (issue 6) -------------------------------------------------------------------------

MAX_DYNAMODB_REQUESTS = 4
#: Issue 15: a shipment capture enters Validate, ComputeAmount, Capture and Record, no more.
MAX_CAPTURE_TRANSITIONS = 4
MAX_PROVIDER_CALLS = 1
MAX_PUT_EVENTS = 1
MAX_COLD_START_RATIO = 1.5
DYNAMODB_ITEM_LIMIT = 400 * 1024
STATE_PAYLOAD_LIMIT = 256 * 1024
#: Issue 15: a 1,000-line capture, whatever its ids (tests/statemachine/test_large_orders.py).
MAX_WRU_PER_LARGE_CAPTURE = 100
#: Powertools Idempotency's partition key in the shared table: ``idempotency#<function name>``.
IDEMPOTENCY_PK_PREFIX = "idempotency#"
#: API keys in the shared table (adapters/api_keys.py): read once per API request.
API_KEY_PK_PREFIX = "APIKEY#"
