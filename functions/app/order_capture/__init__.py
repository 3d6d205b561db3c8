"""order-capture: the domain, the adapters and every Lambda handler in one package.

On Lambda, Init and the first invocation run without Python's cyclic garbage collector: the
imports and the first request's clients and validators allocate hundreds of thousands of
objects, and each collection would scan them all again, for nothing (they live as long as the
container). After the first invocation (``cold_start_done``, called by ``wiring.lambda_entry``)
they are frozen, moved where later collections never look, and collection resumes for the
garbage of each request (BENCHMARKS.md, cold start).
"""

import gc as _gc
import os as _os

#: Lambda's runtimes name themselves ``AWS_Lambda_<runtime>``; locally and in tests it is unset
#: and nothing here changes the collector.
_ON_LAMBDA = _os.environ.get("AWS_EXECUTION_ENV", "").startswith("AWS_Lambda_")
_collector_paused = _ON_LAMBDA and _gc.isenabled()
if _collector_paused:
    _gc.disable()


def cold_start_done() -> None:
    """Freeze what Init and the first invocation made, and collect again from now on."""
    global _collector_paused  # noqa: PLW0603
    if _collector_paused:
        _collector_paused = False
        _gc.freeze()
        _gc.enable()
