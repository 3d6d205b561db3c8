"""The excerpts of the providers' documents the adapter tests judge by
(tests/fixtures/provider-specs/) are what tests/provider-specs/excerpt.py writes from the pinned
packages, and stand on their own: every ``$ref`` in one resolves inside it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.unit.provider_specs import EXCERPTS, SPECS, installed

SCRIPT = Path(__file__).resolve().parents[1] / "provider-specs" / "excerpt.py"
#: OpenAPI excerpts (operations and the components they refer to).
OPENAPI_NAMES = ["adyen-checkout-v71.json", "stripe-spec3.json"]
#: Files kept whole (excerpt.py ``FILE_EXCERPTS``).
FILE_NAMES = ["adyen-notification-models.json"]
NAMES = sorted(OPENAPI_NAMES + FILE_NAMES)


def test_the_committed_excerpts_are_what_the_pinned_packages_give(tmp_path: Path) -> None:
    installed(SPECS / ".package-lock.json")
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], check=True)
    assert sorted(path.name for path in tmp_path.iterdir()) == NAMES
    assert sorted(path.name for path in EXCERPTS.iterdir()) == NAMES
    stale = [
        name for name in NAMES if (tmp_path / name).read_bytes() != (EXCERPTS / name).read_bytes()
    ]
    assert not stale, f"{stale} differ from the pinned packages': run `make provider-spec-excerpts`"


def refs(node: Any) -> list[str]:
    if isinstance(node, list):
        return [ref for item in node for ref in refs(item)]
    if not isinstance(node, dict):
        return []
    own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
    return own + [ref for value in node.values() for ref in refs(value)]


@pytest.mark.parametrize("name", OPENAPI_NAMES)
def test_an_excerpt_names_its_source_and_holds_what_it_refers_to(name: str) -> None:
    document = json.loads((EXCERPTS / name).read_text())
    header = document["x-excerpt"]
    lock = json.loads((SCRIPT.parent / "package-lock.json").read_text())
    assert header["version"] == lock["packages"][f"node_modules/{header['package']}"]["version"]
    assert header["license"] and header["regenerate"] == "make provider-spec-excerpts"
    kept = [f"{method.upper()} {path}" for path, ops in document["paths"].items() for method in ops]
    assert sorted(kept) == sorted(header["operations"])
    for ref in refs(document):
        _, _, kind, component = ref.split("/")
        assert component in document["components"][kind], f"{ref} is not in {name}"


@pytest.mark.parametrize("name", FILE_NAMES)
def test_a_file_excerpt_names_its_source_and_holds_each_file_it_names(name: str) -> None:
    document = json.loads((EXCERPTS / name).read_text())
    header = document["x-excerpt"]
    lock = json.loads((SCRIPT.parent / "package-lock.json").read_text())
    assert header["version"] == lock["packages"][f"node_modules/{header['package']}"]["version"]
    assert header["license"] and header["regenerate"] == "make provider-spec-excerpts"
    assert sorted(document["files"]) == sorted(header["files"])
    assert all(text.strip() for text in document["files"].values())
