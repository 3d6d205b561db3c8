"""A local stack in its own process, as `order-capture local start` runs for a user."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from order_capture_local.stack import STACK_FILE_ENV, StackInfo


class Stack:
    def __init__(self, directory: Path, state: Path | None = None) -> None:
        self.stack_file = directory / "stack.json"
        command = [
            sys.executable,
            "-m",
            "order_capture_local.cli",
            "local",
            "start",
            "--aws-port",
            "0",
            "--api-port",
            "0",
            "--sandbox-port",
            "0",
        ]
        if state is not None:
            command += ["--state", str(state)]
        self.log = (directory / "stack.log").open("w")
        self.process = subprocess.Popen(
            command,
            env={**os.environ, STACK_FILE_ENV: str(self.stack_file)},
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        # Starting imports moto, boto3 and the handlers: well over a minute on a loaded machine.
        deadline = time.monotonic() + 180
        while not self.stack_file.is_file():
            if self.process.poll() is not None or time.monotonic() > deadline:
                logs = self.logs()  # before stop() closes the log
                self.stop()
                raise AssertionError(f"the stack did not start: {logs}")
            time.sleep(0.1)
        self.info = StackInfo(**json.loads(self.stack_file.read_text()))
        assert self.process.stdout is not None
        self.banner = [self.process.stdout.readline() for _ in range(6)]

    def logs(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()[-3000:]

    def stop(self) -> int:
        """SIGTERM by PID, as `make up` is stopped; what the process exited with."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        # Stopping writes the state file and stops three servers: at load 12 on two cores it
        # took over 30 s (test_operations_dlq's teardown failed on it), so the same allowance
        # as starting.
        code = self.process.wait(timeout=180)
        self.log.close()
        return code
