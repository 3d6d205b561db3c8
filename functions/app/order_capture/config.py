"""Settings read once from the environment into a model (see template.yaml Globals), and the
only module that reads the environment: each variable's name and default are written once,
here (tests/unit/test_settings.py refuses ``os.environ`` anywhere else in the package)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr


def _comma_separated(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def _env(name: str, field: str) -> AliasChoices:
    """A setting read from the environment variable ``name`` (or given by its field name)."""
    return AliasChoices(name, field)


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    table_name: str = Field(min_length=1, validation_alias=_env("TABLE_NAME", "table_name"))
    sandbox_provider_url: str | None = Field(
        default=None, validation_alias=_env("SANDBOX_PROVIDER_URL", "sandbox_provider_url")
    )
    provider_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=60,
        validation_alias=_env("PROVIDER_TIMEOUT_SECONDS", "provider_timeout_seconds"),
    )
    #: The Express capture state machine the HTTP API runs synchronously (ApiFunction only).
    capture_workflow_arn: str | None = Field(
        default=None, validation_alias=_env("CAPTURE_WORKFLOW_ARN", "capture_workflow_arn")
    )
    #: The Standard workflow that waits for a provider's confirmation of a capture it only
    #: received (Record starts it), and how long it waits (RecordFunction only).
    confirmation_workflow_arn: str | None = Field(
        default=None,
        validation_alias=_env("CONFIRMATION_WORKFLOW_ARN", "confirmation_workflow_arn"),
    )
    provider_confirmation_timeout_seconds: int = Field(
        default=604800,
        ge=1,
        validation_alias=_env(
            "PROVIDER_CONFIRMATION_TIMEOUT_SECONDS", "provider_confirmation_timeout_seconds"
        ),
    )
    #: Provider credentials on AWS: Secrets Manager secrets named
    #: ``{provider_secret_prefix}/{merchant_id}/{provider}`` (see adapters.credentials).
    provider_secret_prefix: str | None = Field(
        default=None, validation_alias=_env("PROVIDER_SECRET_PREFIX", "provider_secret_prefix")
    )
    #: Local runs: the same credentials from a JSON file or an env var, instead of AWS.
    provider_credentials_file: str | None = Field(
        default=None,
        validation_alias=_env("PROVIDER_CREDENTIALS_FILE", "provider_credentials_file"),
    )
    provider_credentials_json: SecretStr | None = Field(
        default=None,
        validation_alias=_env("PROVIDER_CREDENTIALS_JSON", "provider_credentials_json"),
    )
    provider_secret_max_age_seconds: int = Field(
        default=300,
        ge=0,
        le=3600,
        validation_alias=_env("PROVIDER_SECRET_MAX_AGE", "provider_secret_max_age_seconds"),
    )
    #: Where the service's own events go (``Payment Captured``...).
    event_bus_name: str = Field(
        default="default", min_length=1, validation_alias=_env("EVENT_BUS_NAME", "event_bus_name")
    )
    #: Browser origins allowed to call the API (CORS); none by default (ApiFunction only).
    cors_allowed_origins: Annotated[tuple[str, ...], BeforeValidator(_comma_separated)] = Field(
        default=(), validation_alias=_env("CORS_ALLOWED_ORIGINS", "cors_allowed_origins")
    )
    #: ExpirySweepFunction: warn about authorizations expiring within this many hours.
    authorization_expiry_margin_hours: float = Field(
        default=24.0,
        gt=0,
        validation_alias=_env(
            "AUTHORIZATION_EXPIRY_MARGIN_HOURS", "authorization_expiry_margin_hours"
        ),
    )


@cache
def settings() -> Settings:
    # An empty variable is an unset one (the template declares some empty, e.g. locally).
    return Settings.model_validate({name: value for name, value in os.environ.items() if value})


@dataclass(frozen=True)
class TraceEnvironment:
    """What Lambda tells a function about X-Ray: not settings, since the runtime sets the
    trace header afresh for every invocation, so it is read on every call (``tracing``)."""

    #: ``_X_AMZN_TRACE_ID``: ``Root=...;Parent=...;Sampled=1``.
    trace_header: str
    #: ``AWS_XRAY_DAEMON_ADDRESS``: ``host:port``, or ``udp:host:port tcp:host:port``.
    daemon_address: str
    #: ``POWERTOOLS_TRACE_DISABLED``: tracing turned off as it turned Powertools' Tracer off.
    disabled: bool


def trace_environment() -> TraceEnvironment:
    return TraceEnvironment(
        trace_header=os.environ.get("_X_AMZN_TRACE_ID", ""),
        daemon_address=os.environ.get("AWS_XRAY_DAEMON_ADDRESS", ""),
        disabled=os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in {"1", "true"},
    )
