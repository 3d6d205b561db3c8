"""What each Lambda imports at Init, and what the API loads for one request: the cold start's
import graph, checked so that it does not grow back (figures: BENCHMARKS.md, cold start).

Each check imports in a fresh interpreter: this test process has imported everything already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support import ROOT
from tests.template_support import resources_of_type

#: Modules no function needs before its first request, or at all on its first request:
#: provider adapters and their HTTP client (Capture builds the order's own, on first use),
#: the AWS SDK (clients are built on first use), the X-Ray SDK (tracing.py sends subsegments
#: itself), Powertools' parser models (an own envelope) and its OpenAPI models (the document
#: and Swagger UI only).
NOT_AT_INIT = (
    "order_capture.adapters.stripe",
    "order_capture.adapters.adyen",
    "order_capture.adapters.adyen_lines",
    "order_capture.adapters.aplazame",
    "order_capture.adapters.sandbox_provider",
    "order_capture.adapters.provider_http",
    "httpx",
    "boto3",
    "botocore.session",
    "aws_xray_sdk",
    "aws_lambda_powertools.utilities.parser",
    "aws_lambda_powertools.event_handler.openapi.models",
)
#: Every route module; ApiFunction imports none of them before a request names its dialect.
ROUTE_MODULES = (
    "order_capture.api.native",
    "order_capture.api.medusa",
    "order_capture.api.medusa_order",
    "order_capture.api.omnitron",
    "order_capture.api.stripe_webhook",
    "order_capture.api.webhooks",
)


def _loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "functions" / "app"),
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    completed = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(completed.stdout.splitlines()[-1]))


def _handler_modules() -> dict[str, str]:
    """Each function's handler module, as the template names it."""
    return {
        function_id: str(function["Properties"]["Handler"]).rpartition(".")[0]
        for function_id, function in resources_of_type("AWS::Serverless::Function").items()
    }


@pytest.mark.parametrize("function_id", sorted(_handler_modules()))
def test_no_function_imports_at_init_what_its_first_request_does_not_need(
    function_id: str,
) -> None:
    # Given the function's handler module, as the template names it
    module = _handler_modules()[function_id]

    # When a fresh interpreter imports it (Lambda's Init)
    loaded = _loaded_after(f"import {module}")

    # Then none of the modules kept out of Init is there, and no route module of the API
    assert module in loaded
    assert sorted(loaded & set(NOT_AT_INIT)) == []
    assert sorted(loaded & set(ROUTE_MODULES)) == []


def test_an_api_request_loads_the_routes_of_its_own_dialect_only() -> None:
    # Given ApiFunction's module
    # When a native capture's path has its routes registered
    loaded = _loaded_after(
        "from order_capture.api.app import include_routes_for\n"
        "include_routes_for('/orders/order-1/captures')"
    )

    # Then the native routes are loaded, and no other dialect's nor the OpenAPI models
    assert "order_capture.api.native" in loaded
    assert sorted(loaded & set(ROUTE_MODULES)) == ["order_capture.api.native"]
    assert "aws_lambda_powertools.event_handler.openapi.models" not in loaded


def test_every_route_is_loaded_by_a_request_for_its_path() -> None:
    # Given the prefixes that load each route module, first match wins
    from order_capture.api import app

    # When every route module's routes are looked at
    for name in app.DOCUMENT_ORDER:
        router = app.route_module(name).router
        for rule, *_ in router._routes:
            # Then a request for the route's path loads the module that serves it
            prefix, names = next(
                (prefix, names) for prefix, names in app.ROUTE_MODULES if rule.startswith(prefix)
            )
            assert name in names, f"{rule} ({name}) would load {names} (prefix {prefix})"


def test_a_step_handlers_clients_and_ledger_codec_do_not_import_boto3() -> None:
    # Given the clients a step handler's first invocation builds, and an item it writes and
    # reads back
    code = (
        "from order_capture.adapters.dynamodb import codec\n"
        "from order_capture.adapters.dynamodb.table import LedgerTable\n"
        "from order_capture.adapters.eventbridge import EventBridgePublisher\n"
        "from order_capture.adapters.stepfunctions import StepFunctionsConfirmationWaiters\n"
        "LedgerTable('ledger').client, EventBridgePublisher('bus').client\n"
        "StepFunctionsConfirmationWaiters().client\n"
        "item = codec.encode(codec.key('ORDER#o', 'ORDER'), {'amount': 5, 'lines': [[1, 2]]})\n"
        "assert codec.plain(item)['amount'] == 5\n"
    )

    # When a fresh interpreter builds them
    loaded = _loaded_after(code)

    # Then they are botocore clients of one session, and the boto3 package is not imported
    # (its sessions, resources and s3transfer: about 0.1x of the cold-start baseline)
    assert "botocore.session" in loaded
    assert sorted(name for name in loaded if name.split(".")[0] in {"boto3", "s3transfer"}) == []
