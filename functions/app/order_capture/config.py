"""Settings read once from the environment into a model (see template.yaml Globals)."""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel, Field, SecretStr


class Settings(BaseModel):
    table_name: str = Field(min_length=1)
    sandbox_provider_url: str | None = None
    provider_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    #: The Express capture state machine the HTTP API runs synchronously (ApiFunction only).
    capture_workflow_arn: str | None = None
    #: Provider credentials on AWS: Secrets Manager secrets named
    #: ``{provider_secret_prefix}/{merchant_id}/{provider}`` (see adapters.credentials).
    provider_secret_prefix: str | None = None
    #: Local runs: the same credentials from a JSON file or an env var, instead of AWS.
    provider_credentials_file: str | None = None
    provider_credentials_json: SecretStr | None = None
    provider_secret_max_age_seconds: int = Field(default=300, ge=0, le=3600)
    #: Where the service's own events go (``Payment Captured``...).
    event_bus_name: str = Field(default="default", min_length=1)
    #: Browser origins allowed to call the API (CORS); none by default (ApiFunction only).
    cors_allowed_origins: tuple[str, ...] = ()


@cache
def settings() -> Settings:
    import os  # noqa: PLC0415

    return Settings(
        table_name=os.environ.get("TABLE_NAME", ""),
        sandbox_provider_url=os.environ.get("SANDBOX_PROVIDER_URL") or None,
        provider_timeout_seconds=float(os.environ.get("PROVIDER_TIMEOUT_SECONDS", "10")),
        capture_workflow_arn=os.environ.get("CAPTURE_WORKFLOW_ARN") or None,
        provider_secret_prefix=os.environ.get("PROVIDER_SECRET_PREFIX") or None,
        provider_credentials_file=os.environ.get("PROVIDER_CREDENTIALS_FILE") or None,
        provider_credentials_json=os.environ.get("PROVIDER_CREDENTIALS_JSON") or None,
        provider_secret_max_age_seconds=int(os.environ.get("PROVIDER_SECRET_MAX_AGE", "300")),
        event_bus_name=os.environ.get("EVENT_BUS_NAME") or "default",
        cors_allowed_origins=tuple(
            origin.strip()
            for origin in os.environ.get("CORS_ALLOWED_ORIGINS", "").split(",")
            if origin.strip()
        ),
    )
