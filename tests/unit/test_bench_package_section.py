"""BENCHMARKS.md's Package section, as the bench renders it from what it measured."""

from __future__ import annotations

from order_capture_local.bench.package import PackageResult
from order_capture_local.bench.rendering_costs import render_package


def test_the_package_section_says_how_it_was_built_once() -> None:
    package = PackageResult(
        "built as `sam build` does, compiled to bytecode",
        function_unzipped=2_000_000,
        function_zipped=600_000,
        layer_unzipped=40_000_000,
        layer_zipped=25_000_000,
        breakdown=[("botocore", 20_000_000), ("pydantic_core", 5_000_000)],
        functions=10,
    )
    text = "\n".join(render_package(package))
    assert "Built as `sam build` does, compiled to bytecode. Every function uses one" in text
    assert "Built built" not in text
