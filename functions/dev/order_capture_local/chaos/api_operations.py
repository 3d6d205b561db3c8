"""The API campaign's client operations: each looks at the order through the API as a
merchant's client would, and returns the requests to send (at once, when several)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import httpx

from order_capture_local.chaos.api_plan import MAX_LINES, ApiOrderPlan, Sent, again

if TYPE_CHECKING:
    from order_capture_local.chaos.api import ApiCampaign

# --- operations: each returns the requests to send (together when several) ----------------------


def _order_view(client: httpx.Client, plan: ApiOrderPlan, api_key: str) -> dict[str, Any]:
    response = client.get(
        f"/orders/{plan.order_id}", headers={"Authorization": f"Bearer {api_key}"}
    )
    return dict(response.json()) if response.status_code == 200 else {}


def _captures_view(client: httpx.Client, plan: ApiOrderPlan, api_key: str) -> list[Any]:
    response = client.get(
        f"/orders/{plan.order_id}/captures", headers={"Authorization": f"Bearer {api_key}"}
    )
    return list(response.json().get("results", [])) if response.status_code == 200 else []


def _open_units(view: dict[str, Any]) -> dict[str, int]:
    return {
        line["item_id"]: line["quantity"] - line["shipped_quantity"] - line["canceled_quantity"]
        for line in view.get("items", [])
    }


def capture_amount(
    campaign: ApiCampaign, client: httpx.Client, plan: ApiOrderPlan, rng: random.Random
) -> list[Sent]:
    view = _order_view(client, plan, campaign.api_key)
    remaining = int(view.get("remaining_capture_amount", 0))
    if remaining and rng.random() < 0.85:
        amount = rng.randint(1, remaining)
    else:
        amount = remaining + rng.randint(1, 1000)  # above what is left: 422 or 409
    content_type = rng.choice(["application/json", "application/vnd.aplazame.v1+json"])
    body = {"amount": amount}
    path = f"/orders/{plan.order_id}/captures"
    return [
        campaign._request(
            rng, "capture_amount", plan, f"POST {path}", body, content_type=content_type
        )
    ]


def capture_items(
    campaign: ApiCampaign, client: httpx.Client, plan: ApiOrderPlan, rng: random.Random
) -> list[Sent]:
    units = _open_units(_order_view(client, plan, campaign.api_key))
    if plan.large:
        asked = {item_id: n for item_id, n in sorted(units.items())[: MAX_LINES // 2] if n}
    else:
        asked = {
            item_id: rng.randint(1, n) for item_id, n in units.items() if n and rng.random() < 0.6
        }
    if not asked and units:
        asked = {rng.choice(sorted(units)): 1}  # nothing open: 409
    if not asked:
        return []
    body = {"items": [{"item_id": item_id, "quantity": n} for item_id, n in asked.items()]}
    path = f"/orders/{plan.order_id}/captures"
    return [
        campaign._request(
            rng, "capture_items", plan, f"POST {path}", body, asked=dict[str, int | None](asked)
        )
    ]


def capture_everything(
    campaign: ApiCampaign, client: httpx.Client, plan: ApiOrderPlan, rng: random.Random
) -> list[Sent]:
    if plan.numeric_items and rng.random() < 0.5:
        return capture_lines(campaign, client, plan, rng, every_line=True)
    query = rng.choice(["", "?fields=status,total,paid_total&expand=payments", "?expand=items"])
    path = f"/admin/orders/{plan.order_id}/capture{query}"
    return [campaign._request(rng, "capture_medusa", plan, f"POST {path}", None)]


def capture_lines(
    campaign: ApiCampaign,
    client: httpx.Client,
    plan: ApiOrderPlan,
    rng: random.Random,
    every_line: bool = False,
) -> list[Sent]:
    if not plan.numeric_items:
        return capture_items(campaign, client, plan, rng)
    item_ids = [line["item_id"] for line in plan.detail["items"]]
    chosen = item_ids if every_line else rng.sample(item_ids, rng.randint(1, len(item_ids)))
    body = {
        "order": plan.order_id,
        "order_items": [{"pk": int(item_id), "attributes": {}} for item_id in chosen],
    }
    return [
        campaign._request(
            rng,
            "capture_omnitron",
            plan,
            "POST /api/v1/capture-order/",
            body,
            scheme="Token",
            asked=dict.fromkeys(chosen),
        )
    ]


def cancel(
    campaign: ApiCampaign, client: httpx.Client, plan: ApiOrderPlan, rng: random.Random
) -> list[Sent]:
    view = _order_view(client, plan, campaign.api_key)
    lines = [line for line in view.get("items", []) if line["quantity"] > line["canceled_quantity"]]
    if not lines:
        return []
    line = rng.choice(lines)
    open_units = line["quantity"] - line["shipped_quantity"] - line["canceled_quantity"]
    if open_units and rng.random() < 0.6:
        units = rng.randint(1, open_units)
    else:  # units already captured too: must never take captured money
        units = rng.randint(1, line["quantity"] - line["canceled_quantity"])
    body = {"items": [{"item_id": line["item_id"], "quantity": units}]}
    path = f"/orders/{plan.order_id}/cancellations"
    return [campaign._request(rng, "cancel", plan, f"POST {path}", body)]


def refund(
    campaign: ApiCampaign,
    client: httpx.Client,
    plan: ApiOrderPlan,
    rng: random.Random,
    racing: int = 1,
) -> list[Sent]:
    captured = [
        c for c in _captures_view(client, plan, campaign.api_key)
        if c["status"] == "captured" and c["remaining_amount"] > 0
    ]  # fmt: skip
    if not captured:
        return capture_amount(campaign, client, plan, rng)
    capture = rng.choice(captured)
    left = capture["remaining_amount"]
    requests = []
    for _ in range(racing):
        if racing > 1:
            amount = max(1, left * rng.randint(45, 80) // 100)  # together above what is left
        elif rng.random() < 0.9:
            amount = rng.randint(1, left)
        else:
            amount = left + rng.randint(1, 500)
        path = f"/orders/{plan.order_id}/captures/{capture['id']}/refunds"
        requests.append(campaign._request(rng, "refund", plan, f"POST {path}", {"amount": amount}))
    return requests


def race_refunds(
    campaign: ApiCampaign, client: httpx.Client, plan: ApiOrderPlan, rng: random.Random
) -> list[Sent]:
    return refund(campaign, client, plan, rng, racing=rng.choice([2, 3]))


def race_captures(
    campaign: ApiCampaign, client: httpx.Client, plan: ApiOrderPlan, rng: random.Random
) -> list[Sent]:
    kinds = [capture_amount, capture_items, capture_everything, capture_lines]
    requests: list[Sent] = []
    for _ in range(rng.choice([2, 3])):
        requests += rng.choice(kinds)(campaign, client, plan, rng)
    return requests


def cancel_during_capture(
    campaign: ApiCampaign, client: httpx.Client, plan: ApiOrderPlan, rng: random.Random
) -> list[Sent]:
    kinds = [capture_amount, capture_items, capture_everything, capture_lines]
    return rng.choice(kinds)(campaign, client, plan, rng) + cancel(campaign, client, plan, rng)


def race_same_key(
    campaign: ApiCampaign, client: httpx.Client, plan: ApiOrderPlan, rng: random.Random
) -> list[Sent]:
    kinds = [capture_amount, capture_items, capture_everything, capture_lines, refund]
    first = rng.choice(kinds)(campaign, client, plan, rng)
    return first + [again(sent) for sent in first for _ in range(rng.choice([1, 2]))]


WEIGHTS = [
    (capture_amount, 3),
    (capture_items, 3),
    (capture_everything, 2),
    (capture_lines, 2),
    (cancel, 2),
    (refund, 3),
    (race_refunds, 1),
    (race_captures, 2),
    (cancel_during_capture, 1),
    (race_same_key, 1),
]
OPERATIONS = [operation for operation, _ in WEIGHTS]
