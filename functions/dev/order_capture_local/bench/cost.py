"""Cost per million captures, from the measured counts and stated prices and assumptions."""

from __future__ import annotations

import math
from dataclasses import dataclass

from order_capture_local.bench.recording import Run
from order_capture_local.runtime import (
    LocalRuntime,
)

# --- prices ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prices:
    """AWS list prices, us-east-1, as published in 2025 (no free tier, no savings plans)."""

    standard_per_transition: float = 0.025 / 1_000
    express_per_request: float = 1.00 / 1_000_000
    #: Express duration, first tier; billed in 64 MB and 100 ms increments.
    express_per_gb_second: float = 0.00001667
    express_billed_memory_gb: float = 64 / 1024
    lambda_per_request: float = 0.20 / 1_000_000
    #: arm64, first tier (the template's Architectures).
    lambda_per_gb_second: float = 0.0000133334
    #: DynamoDB on-demand after the November 2024 price reduction.
    dynamodb_per_wru: float = 0.625 / 1_000_000
    dynamodb_per_rru: float = 0.125 / 1_000_000
    #: Custom events; each 64 KB chunk of an entry is billed as one event.
    put_events_per_event: float = 1.00 / 1_000_000


PRICES = Prices()

# What the counts cannot tell: how long each Lambda runs on AWS. Assumed (stated in the
# report): a DynamoDB round trip is ~10 ms in-region, the provider's capture ~300 ms.
ASSUMED_LAMBDA_MS = {
    "ValidateFunction": 30,
    "ComputeAmountFunction": 10,
    "CaptureFunction": 350,
    "RecordFunction": 30,
    "RecordFailureFunction": 40,
}
ASSUMED_DEFAULT_LAMBDA_MS = 50
ASSUMED_EXPRESS_SECONDS = 1.0


# --- cost ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cost:
    standard: float
    express: float
    lambda_requests: float
    lambda_duration: float
    dynamodb: float
    put_events: float

    @property
    def shared(self) -> float:
        return self.lambda_requests + self.lambda_duration + self.dynamodb + self.put_events

    @property
    def total_standard(self) -> float:
        return self.standard + self.shared

    @property
    def total_express(self) -> float:
        return self.express + self.shared


def cost_per_million(run: Run, invoked: list[str], prices: Prices = PRICES) -> Cost:
    """Cost of 1,000,000 executions like ``run``, from its counts and the assumptions."""
    million = 1_000_000
    lambda_gb_seconds = sum(
        ASSUMED_LAMBDA_MS.get(function_id, ASSUMED_DEFAULT_LAMBDA_MS) / 1000 * 0.5
        for function_id in invoked
    )  # 512 MB (template Globals) = 0.5 GB
    express_seconds = math.ceil(ASSUMED_EXPRESS_SECONDS * 10) / 10
    return Cost(
        standard=run.transitions * prices.standard_per_transition * million,
        express=(
            prices.express_per_request
            + express_seconds * prices.express_billed_memory_gb * prices.express_per_gb_second
        )
        * million,
        lambda_requests=run.requests["Lambda.Invoke"] * prices.lambda_per_request * million,
        lambda_duration=lambda_gb_seconds * prices.lambda_per_gb_second * million,
        dynamodb=(
            run.capacity.wru * prices.dynamodb_per_wru + run.capacity.rru * prices.dynamodb_per_rru
        )
        * million,
        put_events=run.put_event_chunks * prices.put_events_per_event * million,
    )


def invoked_functions(runtime: LocalRuntime, run: Run) -> list[str]:
    by_arn = {
        function.arn: function_id for function_id, function in runtime.template.functions.items()
    }
    functions = []
    for event in runtime.history(run.report.arn):
        details = event.get("lambdaFunctionScheduledEventDetails")
        if details:
            functions.append(by_arn.get(details["resource"], details["resource"]))
    return functions
