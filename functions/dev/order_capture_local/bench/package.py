"""The deployment package, built as ``sam build`` builds it, and its sizes.

``sam build`` runs each artifact's Makefile (``BuildMethod: makefile`` in template.yaml):
``functions/layer/Makefile`` installs the layer's pinned wheels
(``functions/layer/requirements.txt``) into ``python/`` and compiles them;
``functions/app/Makefile`` copies the service's code (each function's ``CodeUri``) and compiles
it. The bench runs the same two targets with the same interpreter (the layer again only when
its requirements or Makefile change), so the tree it measures is the one the build ships,
bytecode included: ``/var/task`` and ``/opt`` are read-only on Lambda, and a module without its
``.pyc`` is compiled at every cold start. Cold starts are measured in this tree (``cold``).
"""

from __future__ import annotations

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
LAYER_ROOT = PROJECT_ROOT / "functions" / "layer"
LAYER_REQUIREMENTS = LAYER_ROOT / "requirements.txt"
#: Ignored by git (.aws-sam/): building it never dirties the tree.
TREE = PROJECT_ROOT / ".aws-sam" / "bench"
SDK_DIRECTORIES = ("boto3", "botocore", "s3transfer")
#: The interpreter ``sam build`` runs the Makefiles with (``make build`` puts it first on PATH):
#: the base Python 3.13, not the dev virtual environment (which has no pip).
BUILD_PYTHON = Path(sys.base_prefix) / "bin" / "python3.13"


@dataclass(frozen=True)
class LambdaTree:
    """``function``: what Lambda unpacks in ``/var/task``; ``layer``: ``/opt/python``."""

    function: Path
    layer: Path

    @property
    def sys_path(self) -> list[str]:
        """Lambda's order: the function's code, then the layer."""
        return [str(self.function), str(self.layer)]


def run_build_target(source: Path, target: str, artifacts: Path) -> None:
    """What ``sam build`` runs for a ``BuildMethod: makefile`` resource."""
    subprocess.run(
        [
            "make",
            "--silent",
            "--makefile",
            str(source / "Makefile"),
            target,
            f"ARTIFACTS_DIR={artifacts}",
            f"PYTHON={BUILD_PYTHON}",
        ],
        cwd=source,
        check=True,
        timeout=900,
    )


def build_tree(progress: bool = True, root: Path = TREE) -> LambdaTree:
    layer = root / "layer"
    stamp = root / "layer.sha256"
    digest = hashlib.sha256(
        LAYER_REQUIREMENTS.read_bytes() + (LAYER_ROOT / "Makefile").read_bytes()
    ).hexdigest()
    if not (layer / "python").is_dir() or not stamp.exists() or stamp.read_text() != digest:
        if progress:
            print("bench: building the dependency layer (as sam build does) ...", file=sys.stderr)
        shutil.rmtree(layer, ignore_errors=True)
        run_build_target(LAYER_ROOT, "build-DependenciesLayer", layer)
        stamp.write_text(digest)
    function = root / "function"
    shutil.rmtree(function, ignore_errors=True)
    run_build_target(APP_ROOT, "build-ValidateFunction", function)
    return LambdaTree(function, layer / "python")


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
        "built by the Makefiles `sam build` runs (layer: functions/layer/Makefile, wheels of "
        "functions/layer/requirements.txt; function: functions/app/Makefile), with bytecode",
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
