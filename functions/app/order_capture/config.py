"""Settings read once from the environment into a model (see template.yaml Globals)."""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel, Field


class Settings(BaseModel):
    table_name: str = Field(min_length=1)
    sandbox_provider_url: str | None = None
    provider_timeout_seconds: float = Field(default=10.0, gt=0, le=60)


@cache
def settings() -> Settings:
    import os  # noqa: PLC0415

    return Settings(
        table_name=os.environ.get("TABLE_NAME", ""),
        sandbox_provider_url=os.environ.get("SANDBOX_PROVIDER_URL") or None,
        provider_timeout_seconds=float(os.environ.get("PROVIDER_TIMEOUT_SECONDS", "10")),
    )
