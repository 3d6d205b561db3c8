"""How long each Lambda invocation lasts on AWS, at a given MemorySize (assumed: the local
runtime's times say nothing about AWS), and what a smaller size would cost in cold start.

Lambda's CPU share is proportional to MemorySize (one vCPU at 1,769 MB, the Lambda developer
guide's "Memory and computing power"). So an invocation is two parts: CPU-bound work, which
takes ``512 / MemorySize`` times as long as at 512 MB and is billed the same GB-seconds at any
size below 1,769 MB; and waiting on a service (DynamoDB, the provider, Step Functions), which
takes as long at any size and is billed in proportion to it. Only the wait gets cheaper with
less memory; the cold start (CPU-bound) gets slower."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

#: MemorySize at which a function has one full vCPU.
MB_PER_VCPU = 1769


@dataclass(frozen=True)
class Duration:
    """One invocation: CPU-bound work (milliseconds at 512 MB) and waiting (milliseconds)."""

    cpu_ms_at_512: float
    wait_ms: float

    def milliseconds(self, memory_mb: int) -> float:
        return self.cpu_ms_at_512 * 512 / min(memory_mb, MB_PER_VCPU) + self.wait_ms

    def gb_seconds(self, memory_mb: int) -> float:
        return self.milliseconds(memory_mb) / 1000 * memory_mb / 1024


# What the counts cannot tell. A DynamoDB round trip is ~10 ms in-region, a PutEvents ~10 ms,
# the provider's capture ~300 ms; the CPU parts are the service's own code at 512 MB.
ASSUMED_DURATIONS = {
    # one BatchGetItem
    "ValidateFunction": Duration(cpu_ms_at_512=20, wait_ms=10),
    "ComputeAmountFunction": Duration(cpu_ms_at_512=10, wait_ms=0),
    # a BatchGetItem, the reserve transaction, the provider's answer
    "CaptureFunction": Duration(cpu_ms_at_512=30, wait_ms=320),
    # the confirm transaction, a PutEvents
    "RecordFunction": Duration(cpu_ms_at_512=20, wait_ms=20),
    "RecordFailureFunction": Duration(cpu_ms_at_512=20, wait_ms=20),
}
ASSUMED_DEFAULT_DURATION = Duration(cpu_ms_at_512=30, wait_ms=20)
#: ApiFunction's own work per capture request (parsing, its DynamoDB requests, the dialect's
#: answer), taken as CPU-bound (its requests are small), besides its wait on
#: StartSyncExecution (the Express execution's duration, added where it is priced).
ASSUMED_API_OWN = Duration(cpu_ms_at_512=50, wait_ms=0)
#: An Express execution lasts its Lambda tasks plus this much Step Functions overhead.
ASSUMED_EXPRESS_OVERHEAD_MS = 100


def duration_of(function_id: str) -> Duration:
    return ASSUMED_DURATIONS.get(function_id, ASSUMED_DEFAULT_DURATION)


def express_seconds(invoked: list[str], memory_mb: Callable[[str], int]) -> float:
    """An Express execution's billed duration: its Lambda tasks at their MemorySize
    (``memory_mb``) and the overhead, rounded up to Express's 100 ms increments."""
    milliseconds = sum(duration_of(f).milliseconds(memory_mb(f)) for f in invoked)
    return math.ceil((milliseconds + ASSUMED_EXPRESS_OVERHEAD_MS) / 100) / 10


def cold_start_seconds(cpu_seconds: float, memory_mb: int) -> float:
    """A cold start's CPU time measured here, at ``memory_mb``'s share of a vCPU (taking a core
    of this machine for a Lambda vCPU)."""
    return cpu_seconds * MB_PER_VCPU / min(memory_mb, MB_PER_VCPU)
