"""``json_depth`` counts how deep a body nests without parsing it (the gate refuses a body
nested past ``MAX_JSON_DEPTH`` before a recursive parser sees it): for any JSON document it
is the document's nesting depth, whatever brackets and escapes its strings hold."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from order_capture.api.common import json_depth

_TEXT = st.text(alphabet='[]{}"\\ab\u00e9\n', max_size=8)
_DOCUMENTS = st.recursive(
    st.none() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=20,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


@given(_DOCUMENTS, st.booleans())
def test_json_depth_is_the_documents_nesting_depth(document: Any, ascii_only: bool) -> None:
    assert json_depth(json.dumps(document, ensure_ascii=ascii_only)) == depth(document)


def test_json_depth_of_a_bodys_flat_and_deep_shapes() -> None:
    assert json_depth("") == 0
    assert json_depth('{"amount": 1}') == 1
    assert json_depth("[" * 10_000 + "]" * 10_000) == 10_000
