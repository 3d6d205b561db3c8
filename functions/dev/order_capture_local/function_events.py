"""Every template function with the payloads in ``events/`` that it really receives, in an
order that works on a fresh local stack, and what each must answer.

``make sam-local`` runs this tour with ``sam local invoke`` (Docker) against the stack; the
tests run it with the handlers in-process against the same stack, so a payload that drifts
from what its handler takes fails without Docker too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from order_capture_local.runtime import PROJECT_ROOT
from order_capture_local.stack import StackInfo
from order_capture_local.template import LOCAL_REGION

EVENTS = PROJECT_ROOT / "events"
#: Put on the stack's bus before the tour: the order every step event is about.
SETUP_EVENTS = ("order-placed.json",)
#: API Gateway events carry this where a merchant's API key goes; the tour puts a key created
#: on the stack in its place (``order-capture keys create``).
API_KEY_PLACEHOLDER = "oc_REPLACE-with-order-capture-keys-create"
#: The webhook event is signed with this fixture key (see events/README.md); the tour stores
#: it as merchant-1's Adyen webhook key on the stack.
ADYEN_FIXTURE_HMAC_KEY = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"


def _body(answer: Any) -> Any:
    """An API Gateway proxy answer's body: JSON decoded, else the text."""
    body = answer.get("body")
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        return body


@dataclass(frozen=True)
class Visit:
    function: str
    event: str  # under events/
    #: What the answer must show; returns what is wrong, or None.
    check: Callable[[Any], str | None]

    def payload(self, api_key: str) -> Any:
        text = (EVENTS / self.event).read_text()
        return json.loads(text.replace(API_KEY_PLACEHOLDER, api_key))


def _brief(answer: Any) -> str:
    text = json.dumps(answer)
    return text if len(text) <= 400 else text[:400] + "..."


def _expect(condition: Callable[[Any], bool], what: str) -> Callable[[Any], str | None]:
    def check(answer: Any) -> str | None:
        try:
            return None if condition(answer) else f"expected {what}, got {_brief(answer)}"
        except (KeyError, TypeError, ValueError, IndexError) as error:
            return f"expected {what} ({type(error).__name__}: {error})"

    return check


def _status(code: int, body: Callable[[Any], bool] = lambda _: True, what: str = "") -> Any:
    return _expect(
        lambda a: a["statusCode"] == code and body(_body(a)),
        f"HTTP {code} {what}".strip(),
    )


TOUR: tuple[Visit, ...] = (
    Visit(
        "ValidateFunction",
        "order-shipped-1.json",
        _expect(
            lambda a: (
                a["validated"]["order"]["order_id"] == "order-1001"
                and a["validated"]["duplicate_of"] is None
            ),
            "the registered order-1001, no earlier capture of shipment-1",
        ),
    ),
    Visit(
        "ComputeAmountFunction",
        "steps/compute-amount.json",
        _expect(lambda a: a["plan"]["amount"] == 6442, "a plan of 6442"),
    ),
    Visit(
        "CaptureFunction",
        "steps/capture.json",
        _expect(
            lambda a: a["amount"] == 6442 and a["status_at_provider"] == "succeeded",
            "6442 captured at the sandbox",
        ),
    ),
    Visit(
        "RecordFunction",
        "steps/record.json",
        _expect(lambda a: a["status"] == "captured", "the capture recorded as captured"),
    ),
    Visit(
        "AwaitConfirmationFunction",
        "steps/await-confirmation.json",
        _expect(lambda a: a["capture_id"] == "d433f17de32e58e1ba43222d7bd439b4", "the capture"),
    ),
    Visit(
        "RecordFailureFunction",
        "steps/record-failure.json",
        _expect(
            lambda a: a["payment_capture_failed"]["reason"] == "provider_declined",
            "the decline recorded",
        ),
    ),
    Visit(
        "OrderEventsFunction",
        "order-items-canceled.json",
        _expect(lambda a: a is None or isinstance(a, dict), "the cancellation accepted"),
    ),
    Visit(
        "ApiAuthorizerFunction",
        "api/authorizer-native-create-capture.json",
        _expect(
            lambda a: (
                a["context"]["merchant_id"] == "merchant-1"
                and a["policyDocument"]["Statement"][0]["Effect"] == "Allow"
            ),
            "merchant-1 in the context of an Allow policy",
        ),
    ),
    Visit(
        "ApiFunction",
        "api/put-order.json",
        _status(200, lambda b: b["status"] == "authorized", "order-7007 registered, authorized"),
    ),
    Visit(
        "ApiFunction",
        "api/omnitron-capture-order.json",
        _status(200, lambda b: b["status"] == "450", "Omnitron: item 1 captured, order partly"),
    ),
    Visit(
        "ApiFunction",
        "api/native-create-capture.json",
        _status(200, lambda b: b["remaining_capture_amount"] == 15020, "native capture of 10050"),
    ),
    Visit(
        "ApiFunction", "api/medusa-capture.json", _status(200, what="Medusa capture of the rest")
    ),
    Visit(
        "ApiFunction",
        "api/native-list-captures.json",
        _status(200, lambda b: b["remaining_capture_amount"] == 0, "three captures, 0 left"),
    ),
    Visit(
        "ApiFunction",
        "api/webhook-adyen-capture.json",
        _status(202, lambda b: b == "[accepted]", "[accepted]"),
    ),
    Visit(
        "ReconcileFunction",
        "schedules/reconcile.json",
        _expect(lambda a: a["unanswered"] == 0, "a reconciliation report"),
    ),
    Visit(
        "ExpirySweepFunction",
        "schedules/expiry-sweep.json",
        _expect(lambda a: isinstance(a, dict), "an expiry report"),
    ),
)


def event_files() -> list[Path]:
    return sorted({EVENTS / visit.event for visit in TOUR})


def run_tour(
    invoke: Callable[[str, Any], tuple[Any, str | None]],
    api_key: str,
    report: Callable[[str], None] = print,
) -> list[str]:
    """Invoke every visit in order with ``invoke(function, payload) -> (answer, error type)``;
    the problems found (empty when all answered as expected)."""
    problems = []
    for number, visit in enumerate(TOUR, 1):
        answer, error_type = invoke(visit.function, visit.payload(api_key))
        problem = f"function error {error_type}: {answer}" if error_type else visit.check(answer)
        outcome = "ok" if problem is None else f"FAILED: {problem}"
        report(f"[{number:2}/{len(TOUR)}] {visit.function:<26} {visit.event:<36} {outcome}")
        if problem is not None:
            problems.append(f"{visit.function} {visit.event}: {problem}")
    return problems


def read_event(path: Path) -> Any:
    return json.loads(path.read_text())


def prepare_stack(info: StackInfo) -> str:
    """What the tour needs on a fresh stack: the order placed, merchant-1's Adyen webhook key
    (the fixture's) as a secret; the API key created for it."""
    import boto3  # noqa: PLC0415

    from order_capture.adapters.credentials import secret_name  # noqa: PLC0415
    from order_capture_local import stack_client  # noqa: PLC0415

    stack_client.put_events(info, [read_event(EVENTS / name) for name in SETUP_EVENTS])
    # The shop's checkout authorizes the API order's payment at the sandbox before it is put.
    order = json.loads(read_event(EVENTS / "api/put-order.json")["body"])
    payment = order["payment"]
    stack_client.authorize_at_sandbox(
        info, payment["reference"], payment["authorized_amount"], order["currency"]
    )
    template = stack_client.stack_template(info)
    prefix = template.parameters["ProviderSecretPrefix"]
    with stack_client.pointed_at(info):
        boto3.client("secretsmanager", region_name=LOCAL_REGION).create_secret(
            Name=secret_name(prefix, "merchant-1", "adyen"),
            SecretString=json.dumps(
                {
                    "api_key": "local-fixture",
                    "merchant_account": "ShopECOM",
                    "webhook_hmac_key": ADYEN_FIXTURE_HMAC_KEY,
                }
            ),
        )
    return stack_client.create_api_key(info, "merchant-1")


def invoke_in_process(info: StackInfo) -> Callable[[str, Any], tuple[Any, str | None]]:
    """The tour's ``invoke`` with the handlers in this process, pointed at the stack."""
    from order_capture_local import stack_client  # noqa: PLC0415

    def invoke(function_id: str, payload: Any) -> tuple[Any, str | None]:
        invocation = stack_client.invoke(info, function_id, payload)
        return invocation.payload, invocation.error_type

    return invoke
