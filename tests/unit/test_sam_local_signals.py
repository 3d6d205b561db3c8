"""`make sam-local` starts a private dockerd, a local stack and `sam local start-api`; a SIGTERM
(CI's `timeout`, a cancelled step) must stop them, not orphan them."""

import signal
import subprocess
import sys
from pathlib import Path

PROGRAM = """
import os, signal, sys, time
from contextlib import ExitStack
from pathlib import Path
from order_capture_local import sam_local

sam_local.stop_cleanly_on_signals()
with ExitStack() as stack:
    stack.callback(Path(sys.argv[1]).write_text, "stopped")
    os.kill(os.getpid(), getattr(signal, sys.argv[2]))
    time.sleep(30)
"""


def _run(tmp_path: Path, signal_name: str) -> tuple[int, str]:
    marker = tmp_path / f"{signal_name}.txt"
    finished = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(marker), signal_name],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return finished.returncode, marker.read_text() if marker.exists() else ""


def test_sigterm_runs_the_cleanup_that_stops_dockerd_and_the_stack(tmp_path: Path) -> None:
    returncode, marker = _run(tmp_path, "SIGTERM")
    assert marker == "stopped"
    assert returncode == 128 + signal.SIGTERM


def test_sighup_runs_the_cleanup_too(tmp_path: Path) -> None:
    returncode, marker = _run(tmp_path, "SIGHUP")
    assert marker == "stopped"
    assert returncode == 128 + signal.SIGHUP
