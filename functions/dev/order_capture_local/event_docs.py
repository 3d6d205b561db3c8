"""docs/events.md's tables of the emitted events, generated from ``order_capture.public_events``.

``python -m order_capture_local.event_docs`` prints whether the document is current;
``--write`` rewrites the generated part (between the two markers) from the models.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from order_capture.public_events import EMITTED, PublicEventDetail

DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "events.md"
BEGIN = "<!-- emitted events: generated from public_events.py by order_capture_local.event_docs -->"
END = "<!-- end of emitted events -->"


def _type_of(schema: dict[str, Any], definitions: dict[str, Any]) -> str:
    if "$ref" in schema:
        return _type_of(definitions[schema["$ref"].rsplit("/", 1)[-1]], definitions)
    if "anyOf" in schema:
        return " or ".join(_type_of(part, definitions) for part in schema["anyOf"])
    if "const" in schema:
        return f"`{schema['const']!r}`".replace("'", '"')
    if "enum" in schema:
        return " or ".join(f'`"{value}"`' for value in schema["enum"])
    if schema.get("format") == "date-time":
        return "date-time"
    return str(schema.get("type", "any"))


def _rows(model: type[PublicEventDetail]) -> list[str]:
    schema = model.model_json_schema()
    definitions = schema.get("$defs", {})
    rows = []
    for name, field in model.model_fields.items():
        kind = _type_of(schema["properties"][name], definitions)
        rows.append(f"| `{name}` | {kind} | {field.description or ''} |")
    return rows


def render() -> str:
    """The generated part of docs/events.md: one table per emitted detail-type."""
    parts = [BEGIN]
    for detail_type, model in EMITTED.items():
        summary = " ".join((model.__doc__ or "").split())
        parts += [
            "",
            f"#### `{detail_type}` (source `order-capture`, `schema_version` 1)",
            "",
            summary,
            "",
            "| field | type | meaning |",
            "| --- | --- | --- |",
            *_rows(model),
        ]
    return "\n".join([*parts, "", END])


def current_section(text: str) -> str:
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[start:end]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m order_capture_local.event_docs")
    parser.add_argument("--write", action="store_true", help="rewrite docs/events.md")
    args = parser.parse_args(argv)
    text = DOCUMENT.read_text()
    section = current_section(text)
    if section == render():
        print("docs/events.md is current")
        return 0
    if args.write:
        DOCUMENT.write_text(text.replace(section, render()))
        print("docs/events.md rewritten")
        return 0
    print("docs/events.md is stale: run with --write", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
