"""``make bench``: what one capture costs as users pay for it.

Deterministic counts are the headline: AWS requests per capture (by service and operation,
counted with botocore hooks while the real state machine runs on the embedded AWS), state
transitions per execution, DynamoDB item and state payload sizes, request units and the cost
per million captures computed from them. Timings are machine-dependent, so they are only
reported as ratios to baselines measured in the same run.

Modules: ``recording`` (what one action did), ``sizes`` (item sizes, request units),
``scenarios`` (what is measured), ``cold`` and ``package`` (cold starts, the deployment
package), ``cost`` (prices and assumptions), ``rendering`` (BENCHMARKS.md), ``main``.
"""
