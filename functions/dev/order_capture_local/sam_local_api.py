"""The ``sam local start-api`` part of ``make sam-local``: the real SAM CLI serves the template's
API in Docker against the local stack, and each dialect is called over HTTP with its own
authentication: an order registered and captured per dialect, and requests refused without a
key and with an unknown one (Omnitron's own 401).

SAM CLI 1.170 merges the methods of one path into one local route with one authorizer, and
here the path's CORS preflight says ``Authorizer: NONE``: its start-api did not invoke
``ApiAuthorizerFunction`` in our runs, so these refusals are ApiFunction's own key check (which
a request without an authorizer context always gets). The stack's own API runs the authorizers
as API Gateway does (``local_authorizer.py``), and ``tests/integration/test_sam_local_api_calls.py``
sends these same requests to it. ``sam local start-api`` runs with ``--warm-containers
LAZY`` (a container per function, kept for the next request) and is stopped by its PID.
"""

from __future__ import annotations

import copy
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from order_capture_local.function_events import EVENTS
from order_capture_local.stack import StackInfo

#: Seconds for one request through SAM (a cold container: SAM creates and starts it).
REQUEST_TIMEOUT = 240


@dataclass(frozen=True)
class Call:
    what: str
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    #: What the answer must show (status, decoded body): what is wrong, or None.
    check: Callable[[int, Any], str | None]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _order(order_id: str) -> dict[str, Any]:
    detail: dict[str, Any] = json.loads(
        json.loads((EVENTS / "api/put-order.json").read_text())["body"]
    )
    detail = copy.deepcopy(detail)
    detail["order_id"] = order_id
    detail["payment"]["reference"] = f"auth_{order_id}"
    return detail


def _status(code: int, condition: Callable[[Any], bool] = lambda _: True, what: str = "") -> Any:
    def check(status: int, body: Any) -> str | None:
        try:
            if status == code and condition(body):
                return None
        except (KeyError, TypeError, ValueError):
            pass
        return f"expected HTTP {code} {what}, got {status} {json.dumps(body)[:300]}"

    return check


def calls(api_key: str) -> list[Call]:
    """What ``make sam-local`` asks of ``sam local start-api``, in order."""
    bearer = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    token = {"Authorization": f"Token {api_key}", "Content-Type": "application/json"}
    medusa = {"x-medusa-access-token": api_key}
    orders = {dialect: _order(f"order-sam-{dialect}") for dialect in ("native", "medusa", "omni")}
    registered = [
        Call(
            f"PUT {dialect} order",
            "PUT",
            f"/orders/{order['order_id']}",
            bearer,
            order,
            _status(200, lambda b: b["status"] == "authorized", "authorized"),
        )
        for dialect, order in orders.items()
    ]
    return [
        *registered,
        Call(
            "native capture",
            "POST",
            f"/orders/{orders['native']['order_id']}/captures",
            bearer,
            {"amount": 10050},
            _status(200, lambda b: b["remaining_capture_amount"] == 60020, "60020 left"),
        ),
        Call(
            "Medusa capture",
            "POST",
            f"/admin/orders/{orders['medusa']['order_id']}/capture",
            medusa,
            None,
            _status(200, lambda b: b["order"]["payment_status"] == "captured", "captured"),
        ),
        Call(
            "Omnitron capture",
            "POST",
            "/api/v1/capture-order/",
            token,
            {"order": orders["omni"]["order_id"], "order_items": [{"pk": 1}]},
            _status(200, lambda b: b["number"] == orders["omni"]["order_id"], "the order"),
        ),
        Call(
            "no key (401)",
            "GET",
            f"/orders/{orders['native']['order_id']}/captures",
            {},
            None,
            _status(401, what="Unauthorized"),
        ),
        Call(
            "unknown key (Omnitron's 401)",
            "POST",
            "/api/v1/capture-order/",
            {"Authorization": "Token oc_not-a-key", "Content-Type": "application/json"},
            {"order": orders["omni"]["order_id"], "order_items": [{"pk": 2}]},
            _status(401, lambda b: b["code"] == "authentication_failed", "authentication_failed"),
        ),
    ]


def request(base_url: str, call: Call) -> tuple[int, Any]:
    data = json.dumps(call.body).encode() if call.body is not None else None
    sent = urllib.request.Request(
        base_url + call.path, data=data, headers=call.headers, method=call.method
    )
    try:
        with urllib.request.urlopen(sent, timeout=REQUEST_TIMEOUT) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def start_api(
    stack: ExitStack,
    environment: dict[str, str],
    command: list[str],
    work: Path,
    stop: Callable[[subprocess.Popen[Any], str], None],
) -> str:
    """``sam local start-api`` on a free loopback port, until its URL answers."""
    port = _free_port()
    log = (work / "start-api.log").open("w")
    stack.callback(log.close)
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port), "--warm-containers", "LAZY"],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stack.callback(stop, process, "sam local start-api")
    deadline = time.monotonic() + 180
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    f"sam-local: sam local start-api did not start; see {work}/start-api.log"
                ) from None
            time.sleep(0.5)
    return f"http://127.0.0.1:{port}"


def run_calls(
    base_url: str, info: StackInfo, api_key: str, report: Callable[[str], None]
) -> list[str]:
    """Every call of :func:`calls` through ``sam local start-api``; the problems found."""
    from order_capture_local import stack_client  # noqa: PLC0415

    problems = []
    planned = calls(api_key)
    for call in planned:
        if call.method == "PUT":  # the shop's checkout authorized the payment first
            payment = call.body["payment"]
            stack_client.authorize_at_sandbox(
                info, payment["reference"], payment["authorized_amount"], call.body["currency"]
            )
        started = time.monotonic()
        status, body = request(base_url, call)
        problem = call.check(status, body)
        outcome = "ok" if problem is None else f"FAILED: {problem}"
        elapsed = time.monotonic() - started
        report(f"start-api {call.what:<30} {status} in {elapsed:5.1f} s  {outcome}")
        if problem is not None:
            problems.append(f"start-api {call.what}: {problem}")
    return problems
