"""The deployment package: what `sam build` ships per function."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from order_capture_local.runtime import (
    PROJECT_ROOT,
    LocalRuntime,
)

SAM = PROJECT_ROOT / ".tools" / "sam" / "bin" / "sam"
BUILD_DIR = PROJECT_ROOT / ".aws-sam" / "build"

# --- package -----------------------------------------------------------------------------------

SDK_DIRECTORIES = ("boto3", "botocore", "s3transfer")


@dataclass
class PackageResult:
    note: str
    #: function -> bytes unzipped
    sizes: dict[str, int] = field(default_factory=dict)
    zipped: int = 0
    #: top-level directory -> bytes, for the first function
    breakdown: list[tuple[str, int]] = field(default_factory=list)


def _tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(child.stat().st_size for child in path.rglob("*") if child.is_file())


def _run_sam_build() -> str:
    python313 = shutil.which("python3.13") or next(
        (str(p) for p in Path("/root/.pyenv/versions").glob("3.13*/bin/python3.13")), None
    )
    path = os.environ.get("PATH", "")
    if python313:
        path = f"{Path(python313).parent}{os.pathsep}{path}"
    completed = subprocess.run(
        [str(SAM), "build", "--parallel", "--cached"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PATH": path, "SAM_CLI_TELEMETRY": "0"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if completed.returncode != 0:
        return f"`sam build` failed: {completed.stderr.strip().splitlines()[-1:]}"
    return "`sam build --parallel --cached` in this run"


def measure_package(runtime: LocalRuntime, build: bool) -> PackageResult:
    if build and SAM.exists():
        note = _run_sam_build()
    elif BUILD_DIR.exists():
        note = "existing `.aws-sam/build` (not rebuilt in this run)"
    else:
        return PackageResult("not measured: no SAM CLI and no `.aws-sam/build` (`make build`)")
    result = PackageResult(note)
    for function_id in runtime.template.functions:
        artifact = BUILD_DIR / function_id
        if artifact.is_dir():
            result.sizes[function_id] = _tree_size(artifact)
    if not result.sizes:
        result.note += "; no function artifacts found"
        return result
    first = BUILD_DIR / next(iter(result.sizes))
    with tempfile.TemporaryDirectory() as scratch:
        archive = shutil.make_archive(str(Path(scratch) / "artifact"), "zip", first)
        result.zipped = Path(archive).stat().st_size
    sizes: Counter[str] = Counter()
    for child in first.iterdir():
        name = child.name.split("-")[0] if child.name.endswith(".dist-info") else child.name
        sizes[name.removesuffix(".py")] += _tree_size(child)
    result.breakdown = sizes.most_common()
    return result
