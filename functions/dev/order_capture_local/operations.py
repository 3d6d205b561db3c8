"""Operator commands: what reconciliation did, the open captures and refunds, settling one.

The same on the local stack and on AWS: boto3 talks to AWS with the operator's own
credentials, or to the local stack when AWS_ENDPOINT_URL points at it (`order-capture local
start` prints the line to export).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from order_capture.domain.reconciled import UNSETTLED_OUTCOMES


def print_reconciliation(report: dict[str, Any], *, as_json: bool = False) -> int:
    """Print one line per capture / refund examined (kind, id, provider, outcome, reason) and
    the totals; 1 when something could not be settled (named on stderr), else 0."""
    items: list[dict[str, Any]] = report.get("items", [])
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        for item in items:
            print(
                f"{item['kind']:<7} {item['id']}  {item['provider']:<9} "
                f"{item['outcome']:<17} {item['reason']}"
            )
        refunds = report.get("refunds", {})
        print(
            f"captures: examined {report.get('examined', 0)}, confirmed "
            f"{report.get('confirmed', 0)}, released {report.get('released', 0)}, still open "
            f"{report.get('still_open', 0)}; refunds: examined {refunds.get('examined', 0)}, "
            f"refunded {refunds.get('refunded', 0)}, failed {refunds.get('failed', 0)}, "
            f"still open {refunds.get('still_open', 0)}"
        )
    unsettled = [item for item in items if item["outcome"] in UNSETTLED_OUTCOMES]
    for item in unsettled:
        print(
            f"order-capture: not settled: {item['kind']} {item['id']} "
            f"({item['merchant_id']}/{item['order_id']}): {item['outcome']}: {item['reason']}",
            file=sys.stderr,
        )
    return 1 if unsettled else 0
