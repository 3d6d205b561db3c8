"""Shared fixtures: a Lambda context, the ledger on moto, the sandbox provider, the runtime."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support import ROOT, FakeLambdaContext, FixedClock

# Tests never reach AWS: placeholder credentials and a fixed region, before boto3 is imported.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "OrderCapture",
        "POWERTOOLS_SERVICE_NAME": "order-capture",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        # A developer's running `make up` is not the tests' business: the CLI runs in-process
        # unless a test points it at a stack of its own.
        "ORDER_CAPTURE_STACK_FILE": "none",
    }
)


@pytest.fixture(autouse=True)
def _fresh_provider_credentials() -> Iterator[None]:
    """A Lambda container keeps merchants' provider credentials (and their adapters) cached for
    minutes; the test process is one long-lived container, so a test that stores other
    credentials for the same merchant (the function-events tour's Adyen key for merchant-1)
    would read an earlier test's. Each test starts with none cached."""
    from order_capture.adapters import providers

    yield
    providers._default_store.cache_clear()
    providers._adapter.cache_clear()


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit and integration tests talk to loopback only (the sandbox provider)."""
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in {"127.0.0.1", "localhost", "::1"}:
            raise RuntimeError(f"tests must not reach the network ({host})")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback URL where connections are refused: the port stays bound (not listening) for
    the whole test, so no other test or worker running in parallel can take it meanwhile."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def ledger_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The template's ledger table on moto (same key schema as deployed), moto corrected and
    sped up as the local runtime runs it: among them, a cancelled transaction puts back the
    items it names instead of a copy of the whole table taken before each transaction (the
    cost of every transaction grew with the table)."""
    import boto3
    from moto import mock_aws

    from order_capture_local import moto_corrections, moto_speedups
    from order_capture_local.template import load_template, table_arguments

    template = load_template(ROOT / "template.yaml")
    table = next(iter(template.tables.values()))
    moto_corrections.apply(monkeypatch.setattr)
    moto_speedups.apply(monkeypatch.setattr)
    with mock_aws():
        boto3.client("dynamodb", region_name="us-east-1").create_table(**table_arguments(table))
        yield table.name


@pytest.fixture
def repository(ledger_table: str) -> Any:
    import boto3

    from order_capture.adapters.dynamodb import DynamoDBOrderRepository

    return DynamoDBOrderRepository(ledger_table, boto3.client("dynamodb", region_name="us-east-1"))


@pytest.fixture
def fresh_repository(ledger_table: str) -> Callable[[], Any]:
    """Repositories each on an empty table of its own (the template's schema, the same moto):
    for a hypothesis test, whose examples share one function-scoped fixture. On one table
    every example would read (moto scans a whole table for each index query) and copy (for
    each transaction) the items of all the examples before it."""
    import itertools

    import boto3

    from order_capture.adapters.dynamodb import DynamoDBOrderRepository
    from order_capture_local.template import load_template, table_arguments

    client = boto3.client("dynamodb", region_name="us-east-1")
    table = next(iter(load_template(ROOT / "template.yaml").tables.values()))
    numbers = itertools.count(1)

    def new() -> Any:
        name = f"{ledger_table}-{next(numbers)}"
        client.create_table(**(table_arguments(table) | {"TableName": name}))
        return DynamoDBOrderRepository(name, client)

    return new


@pytest.fixture
def sandbox() -> Iterator[Any]:
    from order_capture_local.sandbox import SandboxServer

    server = SandboxServer().start()
    yield server
    server.stop()


@pytest.fixture
def runtime(sandbox: Any) -> Iterator[Any]:
    """template.yaml running locally: moto, the real ASL, handlers in-process, the sandbox."""
    from order_capture_local.runtime import LocalRuntime

    # Retry intervals shrunk 50x: the attempts are the same, the suite is not slowed by them.
    with LocalRuntime(sandbox=sandbox, retry_time_scale=0.02) as local:
        yield local


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Test modules in the order pytest-xdist hands them out to its workers (`make test`:
    ``--dist loadfile --no-loadscope-reorder``): those marked ``slow(seconds)`` first, the
    longest first, then the others by their number of tests, most first (xdist's own order).
    With xdist's order alone the one-test modules that run for minutes (the fault campaign)
    came last, and one worker ran them while the other had nothing left to do."""
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::", 1)[0], []).append(item)

    def expected_seconds(tests: list[pytest.Item]) -> float:
        marker = tests[0].get_closest_marker("slow")
        return float(marker.args[0]) if marker is not None else 0.0

    ordered = sorted(modules.values(), key=lambda tests: (-expected_seconds(tests), -len(tests)))
    items[:] = [test for tests in ordered for test in tests]
