"""The AWS clients every adapter uses, built from one botocore session per container.

botocore, not ``boto3.client``: boto3's default session is a botocore session plus boto3's
resource models and its own handlers, and ``import boto3`` brings sessions, resources and
s3transfer, none of which a low-level client needs. Together about 0.1x of the cold-start
baseline (``import boto3`` + one client; BENCHMARKS.md, cold start). The clients are the same
botocore clients ``boto3.client`` returns, configured the same way (region, credentials and
endpoint from the environment). One session for all of them: a second session would register
botocore's handlers and read its configuration again.

The local runtime (``order_capture_local``) installs the session it hooks its request counters
and routing on (``use_session``), and boto3's default session wraps the same one.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.config import Config
    from botocore.session import Session

_session: list[Session] = []
#: botocore sessions are not thread-safe: two threads creating clients from one session at once
#: can break it (a client is, once made). Lambda runs one request per container, so this is
#: uncontended there; the local runtime and the campaign run many containers' first requests
#: at once in threads, where an unguarded ``create_client`` failed ApiFunction's idempotency
#: store ("Failed to save in persistence layer", a 502).
_creating = threading.Lock()


def session() -> Session:
    """The container's botocore session, created on first use."""
    with _creating:
        if not _session:
            import botocore.session  # noqa: PLC0415 - first use: cold starts

            _session.append(botocore.session.get_session())
        return _session[0]


def use_session(botocore_session: Session) -> None:
    """Build every later client from ``botocore_session`` (local runtimes, tests)."""
    _session[:] = [botocore_session]


def client(service_name: str, config: Config | None = None) -> Any:
    """A low-level client of ``service_name``, as ``boto3.client(service_name, config=...)``
    builds it (typed by the caller: ``DynamoDBClient``, ``SFNClient``...)."""
    botocore_session = session()
    with _creating:
        return botocore_session.create_client(service_name, config=config)
