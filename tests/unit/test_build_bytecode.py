"""The deployment artifacts ship compiled bytecode: ``/var/task`` and ``/opt`` are read-only
on Lambda, so a module without its ``.pyc`` in the artifact is compiled at every cold start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from order_capture_local.bench.package import APP_ROOT, run_build_target
from tests.template_support import resources_of_type

FUNCTION_TYPE = "AWS::Serverless::Function"
LAYER_TYPE = "AWS::Serverless::LayerVersion"


def test_every_function_and_the_layer_are_built_by_their_makefile() -> None:
    # Given the template's functions and its layer
    resources = {**resources_of_type(FUNCTION_TYPE), **resources_of_type(LAYER_TYPE)}

    # Then sam build runs the Makefile of each (SAM's python3.13 builder compiles nothing)
    assert resources
    for logical_id, resource in resources.items():
        assert resource.get("Metadata", {}).get("BuildMethod") == "makefile", logical_id
    for directory in ("functions/app", "functions/layer"):
        assert (APP_ROOT.parents[1] / directory / "Makefile").is_file()


def test_a_built_function_loads_every_module_its_handlers_import_from_bytecode(
    tmp_path: Path,
) -> None:
    # Given a function artifact built as sam build builds it (the Makefile's pattern rule)
    artifacts = tmp_path / "ValidateFunction"
    run_build_target(APP_ROOT, "build-ValidateFunction", artifacts)
    handlers = sorted(
        {
            resource["Properties"]["Handler"].rpartition(".")[0]
            for resource in resources_of_type(FUNCTION_TYPE).values()
        }
    )

    # When a fresh interpreter that writes no bytecode (read-only, as on Lambda) imports
    # every handler from it
    code = f"import sys; sys.path.insert(0, {str(artifacts)!r})\n" + "\n".join(
        f"import {module}" for module in handlers
    )
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPYCACHEPREFIX"}
    completed = subprocess.run(
        [sys.executable, "-B", "-v", "-c", code],
        env={**environment, "TABLE_NAME": "ledger"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # Then every module of the service came from the artifact's __pycache__, none from source
    assert completed.returncode == 0, completed.stderr[-2000:]
    loaded = [
        line.split("code object from ", 1)[1].strip("'")
        for line in completed.stderr.splitlines()
        if line.startswith("# code object from ") and str(artifacts) in line
    ]
    assert any(path.endswith("validate.cpython-313.pyc") for path in loaded)
    assert len(loaded) > len(handlers)
    assert [path for path in loaded if not path.endswith(".pyc")] == []
    assert not list(artifacts.rglob("Makefile"))
