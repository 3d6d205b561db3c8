"""The deployment package, built as ``sam build`` builds it, and its sizes.

``sam build`` installs the layer's pinned requirements (``functions/layer/requirements.txt``)
with pip into ``python/`` and copies each function's ``CodeUri`` (the service's code alone,
since every dependency is in the layer). The bench builds the same tree itself, faster and
without the SAM CLI: ``uv pip install --target`` of the same requirements (rebuilt only when
they change) and a copy of ``functions/app``, both compiled to bytecode as Lambda would need
them (``/var/task`` and ``/opt`` are read-only: a module without its ``.pyc`` is compiled at
every cold start). Cold starts are measured in this tree (``cold``).
"""

from __future__ import annotations

import compileall
import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from order_capture_local.runtime import PROJECT_ROOT

APP_ROOT = PROJECT_ROOT / "functions" / "app"
LAYER_REQUIREMENTS = PROJECT_ROOT / "functions" / "layer" / "requirements.txt"
UV = PROJECT_ROOT / ".tools" / "uv" / "bin" / "uv"
#: Ignored by git (.aws-sam/): building it never dirties the tree.
TREE = PROJECT_ROOT / ".aws-sam" / "bench"
SDK_DIRECTORIES = ("boto3", "botocore", "s3transfer")


@dataclass(frozen=True)
class LambdaTree:
    """``function``: what Lambda unpacks in ``/var/task``; ``layer``: ``/opt/python``."""

    function: Path
    layer: Path

    @property
    def sys_path(self) -> list[str]:
        """Lambda's order: the function's code, then the layer."""
        return [str(self.function), str(self.layer)]


def build_tree(progress: bool = True) -> LambdaTree:
    layer = TREE / "layer" / "python"
    stamp = TREE / "layer.sha256"
    digest = hashlib.sha256(LAYER_REQUIREMENTS.read_bytes()).hexdigest()
    if not layer.is_dir() or not stamp.exists() or stamp.read_text() != digest:
        if progress:
            print("bench: building the dependency layer ...", file=sys.stderr)
        shutil.rmtree(layer, ignore_errors=True)
        subprocess.run(
            [
                str(UV),
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--target",
                str(layer),
                "--python",
                sys.executable,
                "-r",
                str(LAYER_REQUIREMENTS),
            ],
            check=True,
            timeout=600,
        )
        stamp.write_text(digest)
    # Also on a kept layer: one built before the fix below has no bytecode in it (compileall
    # skips what is up to date, so this costs little).
    _compile(layer)
    function = TREE / "function"
    shutil.rmtree(function, ignore_errors=True)
    shutil.copytree(
        APP_ROOT, function, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.txt")
    )
    _compile(function)
    return LambdaTree(function, layer)


def _compile(root: Path) -> None:
    """Bytecode beside the sources (``__pycache__``), where Lambda's interpreter looks for it.
    ``make bench`` runs with ``PYTHONPYCACHEPREFIX`` (Makefile), which sends compileall's
    output to that folder instead: the tree was left without bytecode, and the first probes
    compiled it from source (and wrote it), so run 1 measured compiling, not importing."""
    prefix, sys.pycache_prefix = sys.pycache_prefix, None
    try:
        compileall.compile_dir(root, quiet=2)
    finally:
        sys.pycache_prefix = prefix


@dataclass
class PackageResult:
    note: str
    #: bytes unzipped / zipped: the function's own artifact and the shared layer
    function_unzipped: int = 0
    function_zipped: int = 0
    layer_unzipped: int = 0
    layer_zipped: int = 0
    #: top-level package of the layer -> bytes, largest first
    breakdown: list[tuple[str, int]] = field(default_factory=list)
    functions: int = 0


def _tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(child.stat().st_size for child in path.rglob("*") if child.is_file())


def _zipped_size(root: Path) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        archive = shutil.make_archive(str(Path(scratch) / "artifact"), "zip", root)
        return Path(archive).stat().st_size


def _layer_zipped_size(tree: LambdaTree) -> int:
    """The layer zip's size, kept beside the layer's stamp: the layer is rebuilt only when its
    requirements change, and zipping its 25 MB took longer than most scenarios."""
    root = tree.layer.parent.parent
    stamp, kept = root / "layer.sha256", root / "layer.zipped"
    digest = stamp.read_text() if stamp.exists() else None
    if digest and kept.exists():
        kept_digest, _, kept_size = kept.read_text().partition(" ")
        if kept_digest == digest and kept_size.isdigit():
            return int(kept_size)
    size = _zipped_size(tree.layer.parent)
    if digest:
        kept.write_text(f"{digest} {size}")
    return size


def measure_package(tree: LambdaTree, functions: int) -> PackageResult:
    """Sizes of one function's artifact (all functions share one ``CodeUri``) and of the layer
    (its ``python/`` directory, as the layer zip holds it)."""
    result = PackageResult(
        "built as `sam build` does (layer: pip install of functions/layer/requirements.txt; "
        "function: functions/app), compiled to bytecode",
        functions=functions,
    )
    result.function_unzipped = _tree_size(tree.function)
    result.function_zipped = _zipped_size(tree.function)
    result.layer_unzipped = _tree_size(tree.layer)
    result.layer_zipped = _layer_zipped_size(tree)
    sizes: Counter[str] = Counter()
    for child in tree.layer.iterdir():
        name = child.name.split("-")[0] if child.name.endswith(".dist-info") else child.name
        sizes[name.removesuffix(".py")] += _tree_size(child)
    result.breakdown = sizes.most_common()
    return result
