"""An order line's product name and tax rate are kept by both ledgers (DynamoDB on moto and
the in-memory one) as registered, and left out of the stored catalog when not given; a
re-registration that changes one names ``items``."""

from __future__ import annotations

from typing import Any

import pytest

from order_capture.domain import service
from order_capture.errors import OrderCaptureError
from order_capture.models import OrderPlacedDetail
from order_capture_local.memory_ledger import MemoryLedger
from tests.factories import order_placed
from tests.support import FixedClock


def named_order(name: str = "Camiseta azul, talla M") -> OrderPlacedDetail:
    detail = order_placed()["detail"]
    detail["items"][0] |= {"name": name, "tax_rate": 2100}
    return OrderPlacedDetail.model_validate(detail)


@pytest.fixture(params=["dynamodb", "memory"])
def ledger(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return MemoryLedger()
    return request.getfixturevalue("repository")


def test_defect_11_a_lines_name_and_tax_rate_are_kept_as_registered(ledger: Any) -> None:
    service.register_order(ledger, named_order(), FixedClock())
    stored = ledger.get_order("merchant-1", "order-1001")
    named, plain = stored.lines
    assert (named.name, named.tax_rate) == ("Camiseta azul, talla M", 2100)
    assert (plain.name, plain.tax_rate) == (None, None)


def test_a_line_without_name_or_rate_stores_neither(repository: Any) -> None:
    service.register_order(repository, named_order(), FixedClock())
    catalog = [
        item
        for item in repository.client.scan(TableName=repository.table_name)["Items"]
        if "lines" in item
    ]
    (lines,) = (item["lines"]["L"] for item in catalog)
    assert {"name", "tax_rate"} <= set(lines[0]["M"])
    assert not {"name", "tax_rate"} & set(lines[1]["M"])


def test_a_re_registration_with_another_name_names_items(ledger: Any) -> None:
    service.register_order(ledger, named_order(), FixedClock())
    with pytest.raises(OrderCaptureError) as refused:
        service.register_order(ledger, named_order("Camiseta roja"), FixedClock())
    assert "items" in str(refused.value)
