"""The native (Aplazame) dialect over HTTP: orders, captures, cancellations, every error."""

from __future__ import annotations

import copy
import json

import pytest

from order_capture.domain.capture_rules import value_of_first_units
from order_capture.models import OrderLine
from tests.integration.api_support import (
    CLIENT_TIMEOUT_SECONDS,
    LocalApiUnderTest,
    Merchant,
    idempotency_key,
    ledger_captures,
    ledger_items,
    local_api,
    merchant,
    order_detail,
    seed_order,
)
from tests.integration.limits_support import REFUSED as LIMITS_REFUSED

__all__ = ["local_api", "merchant"]  # fixtures


def capture(client_merchant: Merchant, order_id: str, body: object, **headers: str) -> object:
    with client_merchant.client() as client:
        return client.post(
            f"/orders/{order_id}/captures", json=body, headers=idempotency_key() | headers
        )


def test_seed_figures_two_captures_of_10050_leave_60020_then_49970(merchant: Merchant) -> None:
    # Given Aplazame's example order of 70070
    detail = seed_order(merchant.merchant_id)
    assert merchant.put_order(detail).status_code == 200
    order_id = detail["order_id"]
    with merchant.client() as client:
        # When it is captured twice by amount
        first = client.post(
            f"/orders/{order_id}/captures", json={"amount": 10050}, headers=idempotency_key()
        )
        second = client.post(
            f"/orders/{order_id}/captures", json={"amount": 10050}, headers=idempotency_key()
        )
        listed = client.get(f"/orders/{order_id}/captures")
        one = client.get(f"/orders/{order_id}/captures/{first.json()['id']}")
    # Then the seed's figures come back
    assert first.status_code == second.status_code == 200
    assert first.json()["remaining_capture_amount"] == 60020
    assert second.json()["remaining_capture_amount"] == 49970
    created = first.json()
    assert {
        k: created[k] for k in ("amount", "refunds", "refunded_amount", "remaining_amount")
    } == {
        "amount": 10050,
        "refunds": [],
        "refunded_amount": 0,
        "remaining_amount": 10050,
    }
    assert len(created["id"]) == 32 and created["status"] == "captured"
    assert listed.status_code == 200
    assert listed.json()["remaining_capture_amount"] == 49970
    assert [c["amount"] for c in listed.json()["results"]] == [10050, 10050]
    assert one.status_code == 200
    assert {k: v for k, v in one.json().items() if k != "remaining_capture_amount"} == {
        k: v for k, v in created.items() if k != "remaining_capture_amount"
    }


def test_capture_by_items_runs_the_state_machine_and_values_the_units(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    detail = merchant.place()
    order_id = detail["order_id"]
    with merchant.client() as client:
        response = client.post(
            f"/orders/{order_id}/captures",
            json={"items": [{"item_id": "line-1", "quantity": 2}]},
            headers=idempotency_key(),
        )
        order = client.get(f"/orders/{order_id}").json()
    assert response.status_code == 200, response.text
    body = response.json()
    # 2 of 3 units of line-1, its discount and tax pro rata, plus shipping on the first capture
    two_units = value_of_first_units(OrderLine(**detail["items"][0]), 2)
    assert body["items"] == [{"item_id": "line-1", "quantity": 2, "amount": two_units}]
    assert body["amount"] == two_units + 495 and body["shipping_amount"] == 495
    assert order["captured_amount"] == body["amount"]
    assert order["remaining_capture_amount"] == order["total_amount"] - body["amount"]
    assert order["items"][0]["shipped_quantity"] == 2
    assert order["status"] == "partially_captured"
    # The capture went through the Express workflow, like shipments go through the Standard one
    capture_items = [
        i for i in ledger_items(local_api, merchant.merchant_id) if i["SK"].startswith("CAPTURE#")
    ]
    assert capture_items[0]["trigger"] == "api"
    assert ":stateMachine:CaptureApiStateMachine" in capture_items[0]["execution_id"].replace(
        ":execution:", ":stateMachine:"
    )


def test_order_put_get_and_aplazame_media_type(merchant: Merchant) -> None:
    detail = order_detail(merchant.merchant_id)
    with merchant.client() as client:
        put = client.put(
            f"/orders/{detail['order_id']}",
            content=json.dumps(detail),
            headers=idempotency_key() | {"Content-Type": "application/vnd.aplazame.v1+json"},
        )
        again = client.put(f"/orders/{detail['order_id']}", json=detail, headers=idempotency_key())
        got = client.get(
            f"/orders/{detail['order_id']}",
            headers={"Accept": "application/vnd.aplazame.v1+json"},
        )
    assert put.status_code == again.status_code == got.status_code == 200
    assert got.json() == put.json() == again.json()
    assert got.json()["total_amount"] == 10171 and got.json()["status"] == "authorized"


def test_order_registered_again_with_other_content_is_409(merchant: Merchant) -> None:
    detail = merchant.place()
    changed = detail | {"shipping_amount": 1}
    response = merchant.put_order(changed)
    assert response.status_code == 409
    assert response.json()["error"]["type"] == "order_conflict"
    assert response.json()["error"]["field"] == "shipping_amount"


def test_order_ids_must_match_path_and_key(merchant: Merchant) -> None:
    detail = order_detail(merchant.merchant_id)
    with merchant.client() as client:
        wrong_order = client.put("/orders/other-id", json=detail, headers=idempotency_key())
        wrong_merchant = client.put(
            f"/orders/{detail['order_id']}",
            json=detail | {"merchant_id": "someone-else"},
            headers=idempotency_key(),
        )
        bad_currency = client.put(
            f"/orders/{detail['order_id']}",
            json=detail | {"currency": "XXX"},
            headers=idempotency_key(),
        )
        missing = client.get(f"/orders/{detail['order_id']}")
    assert wrong_order.status_code == 400
    assert wrong_order.json()["error"]["field"] == "order_id"
    assert wrong_merchant.status_code == 400
    assert wrong_merchant.json()["error"]["field"] == "merchant_id"
    assert bad_currency.status_code == 400
    assert bad_currency.json()["error"]["field"] == "currency"
    assert missing.status_code == 404  # nothing was written by the refused requests


def test_cancellations_leave_what_is_canceled_out_of_the_captures(merchant: Merchant) -> None:
    detail = merchant.place()
    order_id = detail["order_id"]
    with merchant.client() as client:
        canceled = client.post(
            f"/orders/{order_id}/cancellations",
            json={"items": [{"item_id": "line-2", "quantity": 2}]},
            headers=idempotency_key(),
        )
        rest = client.post(
            f"/orders/{order_id}/captures",
            json={"items": [{"item_id": "line-1", "quantity": 3}]},
            headers=idempotency_key(),
        )
        order = client.get(f"/orders/{order_id}").json()
        nothing_left = client.post(
            f"/orders/{order_id}/captures", json={"amount": 1}, headers=idempotency_key()
        )
        unknown = client.post(
            "/orders/no-such-order/cancellations",
            json={"items": [{"item_id": "line-2", "quantity": 1}]},
            headers=idempotency_key(),
        )
    assert canceled.status_code == 200
    assert canceled.json()["canceled_amount"] == 2 * 1250 + 525
    assert rest.status_code == 200
    # Aplazame's rule: the captures add up to the order total less the canceled items
    assert rest.json()["amount"] == 10171 - (2 * 1250 + 525)
    assert order["remaining_capture_amount"] == 0 and order["status"] == "captured"
    assert nothing_left.status_code == 422  # any amount now exceeds what is capturable
    assert unknown.status_code == 404


def test_capture_errors_name_the_field_and_write_nothing(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    detail = merchant.place()
    order_id = detail["order_id"]
    before = ledger_items(local_api, merchant.merchant_id)
    cases = [
        ({"amount": -5}, 400, "amount"),
        ({"amount": 10**16}, 400, "amount"),
        ({"amount": "100"}, 400, "amount"),
        ({"amount": 10.5}, 400, "amount"),
        ({"amount": 100, "items": [{"item_id": "line-1", "quantity": 1}]}, 400, "body"),
        ({}, 400, "body"),
        ({"amount": 100, "surprise": True}, 400, "surprise"),
        ({"items": [{"item_id": "nope", "quantity": 1}]}, 400, "items[0].item_id"),
        ({"items": [{"item_id": "line-1", "quantity": 0}]}, 400, "items[0].quantity"),
        ({"items": [{"item_id": "line-1", "quantity": 4}]}, 409, "items[0].quantity"),
        ({"amount": 10172}, 422, "amount"),
    ]
    with merchant.client() as client:
        for body, status, field in cases:
            response = client.post(
                f"/orders/{order_id}/captures", json=body, headers=idempotency_key()
            )
            assert response.status_code == status, (body, response.text)
            error = response.json()["error"]
            assert error["field"].endswith(field) or field in error["message"], (body, error)
    assert ledger_items(local_api, merchant.merchant_id) == before


def test_malformed_requests_are_4xx_with_a_reason(merchant: Merchant) -> None:
    detail = merchant.place()
    path = f"/orders/{detail['order_id']}/captures"
    with merchant.client() as client:
        malformed = client.post(
            path,
            content=b'{"amount": ',
            headers=idempotency_key() | {"Content-Type": "application/json"},
        )
        wrong_type = client.post(
            path, content=b"amount=5", headers=idempotency_key() | {"Content-Type": "text/plain"}
        )
        oversized = client.post(
            path,
            content=b'{"amount": 1, "pad": "' + b"x" * 300_000 + b'"}',
            headers=idempotency_key() | {"Content-Type": "application/json"},
        )
        bad_key = client.post(path, json={"amount": 1}, headers={"Idempotency-Key": "a b"})
        not_json_object = client.post(path, json=[1, 2], headers=idempotency_key())
    assert malformed.status_code == 400 and malformed.json()["error"]["field"] == "body"
    assert "malformed JSON" in malformed.json()["error"]["message"]
    assert wrong_type.status_code == 415
    assert wrong_type.json()["error"]["field"] == "Content-Type"
    assert oversized.status_code == 413
    assert bad_key.status_code == 400
    assert bad_key.json()["error"]["field"] == "Idempotency-Key"
    assert not_json_object.status_code == 400


def test_unknown_order_and_capture_are_404(merchant: Merchant) -> None:
    detail = merchant.place()
    with merchant.client() as client:
        responses = [
            client.get("/orders/missing/captures"),
            client.get("/orders/missing"),
            client.get(f"/orders/{detail['order_id']}/captures/{'0' * 32}"),
            client.post("/orders/missing/captures", json={"amount": 1}, headers=idempotency_key()),
        ]
    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    assert responses[2].json()["error"]["field"] == "capture_id"


def test_provider_decline_is_402_and_recorded(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    detail = merchant.place()
    assert local_api.runtime.sandbox is not None
    local_api.runtime.sandbox.add_fault("decline")
    with merchant.client() as client:
        response = client.post(
            f"/orders/{detail['order_id']}/captures",
            json={"amount": 100},
            headers=idempotency_key(),
        )
        listed = client.get(f"/orders/{detail['order_id']}/captures").json()
    assert response.status_code == 402, response.text
    assert response.json()["error"]["type"] == "provider_declined"
    assert listed["results"] == []  # a decline captured nothing (and stays in the ledger)
    assert listed["remaining_capture_amount"] == 10171  # the reservation was released
    failed = ledger_captures(local_api, merchant.merchant_id)
    assert [(item["status"], item["amount"]) for item in failed] == [("failed", 100)]


def test_review_the_captures_list_holds_money_only_never_a_failed_capture(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    """Aplazame's ``results`` are the order's captures: an aplazame-sdk client adds up their
    ``amount`` and ``remaining_amount``. A declined capture was listed beside the captured one,
    refundable for its whole amount, though it moved no money."""
    order_id = merchant.place()["order_id"]
    assert local_api.runtime.sandbox is not None
    local_api.runtime.sandbox.add_fault("decline")
    path = f"/orders/{order_id}/captures"
    with merchant.client() as client:
        declined = client.post(path, json={"amount": 100}, headers=idempotency_key())
        captured = client.post(path, json={"amount": 250}, headers=idempotency_key())
        listed = client.get(path).json()
        declined_id = next(
            item["capture_id"]
            for item in ledger_captures(local_api, merchant.merchant_id)
            if item["status"] == "failed"
        )
        shown = client.get(f"{path}/{declined_id}").json()
    assert (declined.status_code, captured.status_code) == (402, 200)
    assert [(c["amount"], c["remaining_amount"], c["status"]) for c in listed["results"]] == [
        (250, 250, "captured")
    ]
    assert (shown["status"], shown["amount"], shown["remaining_amount"]) == ("failed", 100, 0)


def test_authentication_is_required_in_the_bearer_scheme(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    detail = merchant.place()
    path = f"/orders/{detail['order_id']}"
    with merchant.client(scheme="Token") as wrong_scheme:
        token = wrong_scheme.get(path)
    import httpx

    with httpx.Client(base_url=local_api.url, timeout=CLIENT_TIMEOUT_SECONDS) as anonymous:
        missing = anonymous.get(path)
        unknown = anonymous.get(path, headers={"Authorization": "Bearer oc_not-a-key"})
        unknown_route = anonymous.get("/nowhere")
    for response in (token, missing, unknown):
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "unauthorized"
    for response in (token, unknown):  # ApiFunction's answer
        assert response.headers["WWW-Authenticate"] == "Bearer"
    # No Authorization header: API Gateway's UNAUTHORIZED (no authorizer runs), every scheme
    assert missing.headers["WWW-Authenticate"] == "Bearer, Token"
    assert unknown_route.status_code == 403  # API Gateway's answer for an unknown resource


def test_defect_3_a_cancellation_of_units_paid_by_an_amount_capture_is_409(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    detail = merchant.place()
    order_id = detail["order_id"]
    with merchant.client() as client:
        whole = client.post(
            f"/orders/{order_id}/captures", json={"amount": 10171}, headers=idempotency_key()
        )
        assert whole.status_code == 200, whole.text
        before = ledger_items(local_api, merchant.merchant_id)
        canceled = client.post(
            f"/orders/{order_id}/cancellations",
            json={
                "items": [
                    {"item_id": "line-1", "quantity": 3},
                    {"item_id": "line-2", "quantity": 2},
                ]
            },
            headers=idempotency_key(),
        )
        order = client.get(f"/orders/{order_id}").json()
    assert canceled.status_code == 409, canceled.text
    error = canceled.json()["error"]
    assert error["field"] == "items"
    assert "'line-1'" in error["message"] and "'line-2'" in error["message"]
    assert ledger_items(local_api, merchant.merchant_id) == before
    assert (order["captured_amount"], order["canceled_amount"]) == (10171, 0)
    assert order["remaining_capture_amount"] == 0


@pytest.mark.parametrize("case", list(LIMITS_REFUSED))
def test_defect_8_put_order_past_a_limit_is_400_naming_the_field(
    case: str, merchant: Merchant
) -> None:
    event, field = LIMITS_REFUSED[case]
    detail = copy.deepcopy(event["detail"]) | {
        "merchant_id": merchant.merchant_id,
        "order_id": order_detail(merchant.merchant_id)["order_id"],
    }
    response = merchant.put_order(detail)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == field


def test_review_a_deeply_nested_json_body_is_a_400_naming_body_in_every_dialect(
    merchant: Merchant,
) -> None:
    """A 40 KB body of nested arrays (far under API Gateway's limit) made ``json.loads`` raise
    RecursionError, which no handler caught: 502 in every dialect."""
    order_id = merchant.place()["order_id"]
    nested = b"[" * 20_000 + b"]" * 20_000
    json_type = {"Content-Type": "application/json"}
    with merchant.client() as native, merchant.client("Token") as omnitron:
        answers = [
            native.post(
                f"/orders/{order_id}/captures",
                content=b'{"amount": 1, "x": ' + nested + b"}",
                headers=idempotency_key() | json_type,
            ),
            omnitron.post(
                "/api/v1/capture-order/",
                content=b'{"order": "%s", "order_items": ' % order_id.encode() + nested + b"}",
                headers=json_type,
            ),
        ]
    with merchant.medusa_client() as medusa:
        answers.append(
            medusa.post(f"/admin/orders/{order_id}/capture", content=nested, headers=json_type)
        )
    assert [answer.status_code for answer in answers] == [400, 400, 400], [
        answer.text[:300] for answer in answers
    ]
    assert answers[0].json()["error"]["field"] == "body"
    assert answers[1].json()["non_field_errors"][0].startswith("body: ")
    assert answers[2].json()["type"] == "invalid_data"


def test_review_a_null_amount_is_a_400_naming_amount_not_body(merchant: Merchant) -> None:
    """``{"amount": null}`` was a 400 naming ``body`` ("give either amount or items"): the
    client sent amount, and it is amount that is wrong."""
    order_id = merchant.place()["order_id"]
    with merchant.client() as client:
        for field in ("amount", "items"):
            response = client.post(
                f"/orders/{order_id}/captures", json={field: None}, headers=idempotency_key()
            )
            assert response.status_code == 400, response.text
            assert response.json()["error"]["field"] == field, response.text


def test_review_a_body_that_is_no_json_object_is_a_400_naming_body(merchant: Merchant) -> None:
    """A list body reached the resolver, which read it as an object missing every field
    (``amount: Field required``...), naming fields the caller never got wrong."""
    order_id = merchant.place()["order_id"]
    with merchant.client() as native:
        answers = [
            native.post(
                f"/orders/{order_id}/captures",
                content=body,
                headers=idempotency_key() | {"Content-Type": "application/json"},
            )
            for body in (b'[{"amount": 1}]', b'"amount"', b"1", b"null")
        ]
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["field"] == "body", answer.text
        assert "Expected a JSON object" in answer.json()["error"]["message"], answer.text
