"""Logger, Tracer and Metrics, configured once from POWERTOOLS_* settings (template Globals)."""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()

# Steps without business metrics of their own (Validate, ComputeAmount) would warn on every
# invocation that there is nothing to publish; that is expected, not a problem.
warnings.filterwarnings("ignore", message="No application metrics to publish")
