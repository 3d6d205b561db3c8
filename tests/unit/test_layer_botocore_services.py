"""The dependency layer keeps botocore's models only for the services the functions use
(functions/layer/Makefile, ``BOTOCORE_SERVICES``): a client of any other service would fail on
AWS with ``UnknownServiceError``. These tests read what the code creates clients of and fail
when the layer would leave one out."""

from __future__ import annotations

import ast
import re

from tests.support import ROOT

APP = ROOT / "functions" / "app"
LAYER_MAKEFILE = ROOT / "functions" / "layer" / "Makefile"

#: The Powertools utilities that build a boto3 client of their own, and its service.
POWERTOOLS_CLIENTS = {
    "idempotency": "dynamodb",  # DynamoDBPersistenceLayer
    "SecretsProvider": "secretsmanager",
    "SSMProvider": "ssm",
    "AppConfigProvider": "appconfigdata",
    "DynamoDBProvider": "dynamodb",
}


def _kept_services() -> set[str]:
    match = re.search(r"^BOTOCORE_SERVICES = (.+)$", LAYER_MAKEFILE.read_text(), re.MULTILINE)
    assert match, "functions/layer/Makefile names no BOTOCORE_SERVICES"
    return set(match.group(1).split())


def _sources() -> str:
    return "\n".join(path.read_text() for path in sorted(APP.rglob("*.py")))


def test_every_service_the_functions_create_clients_of_stays_in_the_layer() -> None:
    services = set(re.findall(r"aws_clients\.client\(\s*\"([a-z0-9-]+)\"", _sources()))
    assert services >= {"dynamodb", "stepfunctions", "events"}, services
    assert services <= _kept_services(), services - _kept_services()


def _powertools_utilities() -> set[str]:
    """The parameter providers imported from Powertools, and "idempotency" if it is used."""
    used: set[str] = set()
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            if node.module.startswith("aws_lambda_powertools.utilities.idempotency"):
                used.add("idempotency")
            if node.module == "aws_lambda_powertools.utilities.parameters":
                used |= {alias.name for alias in node.names if alias.name.endswith("Provider")}
    return used


def test_every_powertools_utility_that_builds_a_client_has_its_service_in_the_layer() -> None:
    used = _powertools_utilities()
    unknown = used - POWERTOOLS_CLIENTS.keys()
    assert not unknown, f"which AWS service does {unknown} call? add it to POWERTOOLS_CLIENTS"
    assert "SecretsProvider" in used and "idempotency" in used, used
    needed = {POWERTOOLS_CLIENTS[utility] for utility in used}
    assert needed <= _kept_services(), needed - _kept_services()


def test_the_layer_removes_the_other_services_and_checks_the_kept_ones_exist() -> None:
    recipe = LAYER_MAKEFILE.read_text()
    assert 'rm -rf "$$service"' in recipe
    # A misspelt name would keep nothing for that service: the build fails instead.
    assert 'for service in $(BOTOCORE_SERVICES); do test -d "$$service"; done' in recipe
