"""Logger and Metrics, configured once from POWERTOOLS_* settings (template Globals). Traces:
``tracing`` (without the X-Ray SDK)."""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()


def add_metric_by(
    dimension: str, value_of_dimension: str, name: str, value: float, *, money: bool = False
) -> None:
    """One metric under one extra dimension (amounts per currency, failures per reason),
    published on its own so the dimension does not stick to the invocation's other metrics.
    Honours POWERTOOLS_METRICS_DISABLED, which Powertools' ``single_metric`` does not.
    ``money``: an amount in minor units, which CloudWatch has no unit for (not a Count)."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric  # noqa: PLC0415
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled  # noqa: PLC0415

    if is_metrics_disabled():
        return
    with single_metric(
        name=name,
        unit=MetricUnit.NoUnit if money else MetricUnit.Count,
        value=value,
        default_dimensions=metrics.default_dimensions,
    ) as metric:
        metric.add_dimension(name=dimension, value=value_of_dimension)


def log_release_error(error: Exception) -> None:
    """A release of an order's remainder that raised after its step's own work was done
    (domain.releases.release_quietly): logged and counted (``ReleaseErrors``), never the
    step's failure."""
    from aws_lambda_powertools.metrics import MetricUnit  # noqa: PLC0415

    metrics.add_metric(name="ReleaseErrors", unit=MetricUnit.Count, value=1)
    logger.exception("the remainder of the authorization was not released", exc_info=error)


# Steps without business metrics of their own (Validate, ComputeAmount) would warn on every
# invocation that there is nothing to publish; that is expected, not a problem.
warnings.filterwarnings("ignore", message="No application metrics to publish")
