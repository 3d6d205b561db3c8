"""ApiFunction's first request and a provider's credentials: the libraries that build a boto3
session of their own (Powertools' idempotency store and Secrets provider) get one that reads
the SDK's data the container's session already parsed (``aws_clients.separate_boto3_session``).
Checked in a fresh interpreter, as a container starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support import ROOT

_FIRST_REQUEST = """
import collections, json, os
import botocore.loaders, botocore.session

parsed = collections.Counter()
original_load_file = botocore.loaders.JSONFileLoader.load_file
def counted_load_file(self, file_path):
    parsed[os.path.basename(os.path.dirname(file_path)) + "/" + os.path.basename(file_path)] += 1
    return original_load_file(self, file_path)
botocore.loaders.JSONFileLoader.load_file = counted_load_file

sessions = []
original_init = botocore.session.Session.__init__
def counted_init(self, *args, **kwargs):
    sessions.append(self)
    original_init(self, *args, **kwargs)
botocore.session.Session.__init__ = counted_init

from order_capture.adapters.credentials import SecretsManagerCredentials
from order_capture.api.app import default_dependencies

found = default_dependencies()
clients = [found.repository.table.client, found.api_keys.table.client, found.workflow.client,
           found.idempotency_store.client, SecretsManagerCredentials("prefix").secrets.client]
own = {id(client._request_signer._credentials) for client in clients}
print(json.dumps({"sessions": len(sessions), "parsed": parsed, "credentials": len(own)}))
"""


def test_powertools_sessions_read_the_sdk_data_the_service_already_parsed() -> None:
    # Given ApiFunction's collaborators as its first request builds them, the idempotency store
    # included, and a Secrets provider for a merchant's provider credentials
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "functions" / "app"),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "TABLE_NAME": "ledger",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }

    # When a fresh interpreter builds them and their clients
    completed = subprocess.run(
        [sys.executable, "-c", _FIRST_REQUEST],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(completed.stdout.splitlines()[-1])

    # Then Powertools' two users still have a session (and credentials) of their own...
    assert found["sessions"] == 3
    assert found["credentials"] == 3
    # ...but the SDK's endpoints and DynamoDB's model are parsed once, not once per session
    # (a session from scratch parsed them again: about 0.3x of the cold-start baseline)
    assert found["parsed"]["data/endpoints"] == 1
    assert found["parsed"]["2012-08-10/service-2"] == 1
