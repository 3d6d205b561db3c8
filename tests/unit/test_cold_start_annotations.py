"""The models every step handler imports at Init keep real (not string) field annotations.

With ``from __future__ import annotations`` each field's annotation is a string, and pydantic
compiles and evaluates a ``typing.ForwardRef`` per field when the class is created, even with
``defer_build``: about 18 M instructions of Validate's Init for the ledger models alone (1.6% of
the cold-start baseline; docs/performance.md, *Cold start*). Forward references that a method
needs are quoted where they occur instead.
"""

from __future__ import annotations

import importlib
import inspect

import pytest
from pydantic import BaseModel

#: The modules of pydantic models that every step handler imports at Init.
EVALUATED_AT_IMPORT = (
    "order_capture.models.base",
    "order_capture.models.capture_request",
    "order_capture.models.events",
    "order_capture.models.ledger",
    "order_capture.models.steps",
    "order_capture.ports.ledger",
    "order_capture.ports.providers",
    "order_capture.ports.services",
    "order_capture.public_events",
    "order_capture.step_payloads",
    "order_capture.workflow_state",
)


@pytest.mark.parametrize("module_name", EVALUATED_AT_IMPORT)
def test_models_imported_at_init_have_no_string_field_annotations(module_name: str) -> None:
    # Given every pydantic model the module defines
    module = importlib.import_module(module_name)
    models = [
        cls
        for cls in vars(module).values()
        if inspect.isclass(cls) and issubclass(cls, BaseModel) and cls.__module__ == module_name
    ]
    assert models, f"{module_name} defines no pydantic model"
    # Then none of their own field annotations is a string for pydantic to evaluate
    stringly = {
        f"{cls.__name__}.{name}": annotation
        for cls in models
        for name, annotation in inspect.get_annotations(cls).items()
        if isinstance(annotation, str)
    }
    assert stringly == {}
