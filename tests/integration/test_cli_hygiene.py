"""``order-capture`` as a user runs it (the installed console script, output captured): a
user's mistake is one line on stderr and a non-zero exit, never a traceback; ``-e -`` reads
stdin; ``--sandbox-fault`` refuses unknown kinds and takes the delay the delayed faults need;
a wait of more than a few seconds says so."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import ROOT

CLI = ROOT / ".venv" / "bin" / "order-capture"
EVENTS = ROOT / "events"


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        """stderr without the progress lines."""
        return [
            line
            for line in self.stderr.splitlines()
            if line.strip() and not line.endswith(" s)") and not line.startswith("(local stack")
        ]


@pytest.fixture
def no_stack(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of a user with no local stack running and no AWS configuration."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "ORDER_CAPTURE_"))
    }
    env["ORDER_CAPTURE_STACK_FILE"] = str(tmp_path / "no-stack.json")
    env["HOME"] = str(tmp_path)  # no ~/.aws
    yield env


def run(env: dict[str, str], *args: str, stdin: str | None = None, timeout: int = 300) -> Run:
    done = subprocess.run(
        [str(CLI), *args],
        input=stdin,
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def assert_one_line_error(result: Run, *fragments: str) -> None:
    assert result.code != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    last = result.error_lines[-1]
    assert last.startswith("order-capture"), result.stderr
    for fragment in fragments:
        assert fragment in last, last


def test_an_unknown_function_is_one_line_naming_the_known_ones(no_stack: dict[str, str]) -> None:
    result = run(no_stack, "local", "invoke", "NoSuchFunction", "--in-process")
    assert_one_line_error(result, "no function 'NoSuchFunction'", "ValidateFunction")
    assert len(result.error_lines) == 1


def test_a_missing_template_is_one_line(no_stack: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    result = run(no_stack, "local", "invoke", "ValidateFunction", "-t", str(missing))
    assert_one_line_error(result, "no such file", str(missing))
    assert result.code == 2


def test_a_bad_log_level_is_refused_before_anything_starts(no_stack: dict[str, str]) -> None:
    result = run(no_stack, "local", "invoke", "ValidateFunction", "--log-level", "LOUD")
    assert_one_line_error(result, "--log-level", "'LOUD'", "DEBUG, INFO")
    assert result.code == 2


def test_a_table_that_does_not_exist_is_one_line(no_stack: dict[str, str]) -> None:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        env = no_stack | {
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        reconcile = run(env, "reconcile", "--table", "no-such-table")
        assert_one_line_error(reconcile, "table 'no-such-table' does not exist")
        listed = run(env, "captures", "list", "--table", "no-such-table")
        assert_one_line_error(listed, "table 'no-such-table' does not exist")
        shown = run(env, "captures", "show", "--table", "no-such-table", "--merchant", "m", "c")
        assert_one_line_error(shown, "table 'no-such-table' does not exist")
    finally:
        server.stop()


def test_no_aws_region_or_stack_is_one_line(no_stack: dict[str, str]) -> None:
    on_aws = run(no_stack, "reconcile", "--table", "a-table")
    assert_one_line_error(on_aws, "region")
    without_stack = run(no_stack, "reconcile")
    assert_one_line_error(without_stack, "--table", "order-capture local start")


def test_a_stack_that_is_not_running_any_more_is_one_line(
    no_stack: dict[str, str], refused_url: str
) -> None:
    # The stack file of a stack whose process lives on (this test) but whose endpoint is gone
    Path(no_stack["ORDER_CAPTURE_STACK_FILE"]).write_text(
        json.dumps(
            {
                "pid": os.getpid(),
                "endpoint": refused_url,
                "api_url": "http://127.0.0.1:9",
                "sandbox_url": "http://127.0.0.1:9",
                "table_name": "t",
                "template": str(ROOT / "template.yaml"),
            }
        )
    )
    result = run(no_stack, "reconcile")
    assert_one_line_error(result, "a running `order-capture local start`")


def test_dash_reads_the_event_from_stdin(no_stack: dict[str, str]) -> None:
    event = (EVENTS / "steps" / "compute-amount.json").read_text()
    invoke = ("local", "invoke", "ComputeAmountFunction", "-e", "-", "--in-process")
    result = run(no_stack, *invoke, stdin=event)
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["plan"]["amount"] == 6442
    broken = run(no_stack, *invoke, stdin="{not json")
    assert_one_line_error(broken, "cannot read stdin")


def test_sandbox_faults_are_checked_and_delayed_ones_need_their_delay(
    no_stack: dict[str, str],
) -> None:
    placed = str(EVENTS / "order-placed.json")
    unknown = run(no_stack, "local", "put-events", "-e", placed, "--sandbox-fault", "bogus")
    assert_one_line_error(unknown, "unknown fault 'bogus'", "decline", "latency")
    assert unknown.code == 2
    for kind in ("latency", "timeout_after_capture"):
        undelayed = run(no_stack, "local", "put-events", "-e", placed, "--sandbox-fault", kind)
        assert_one_line_error(undelayed, f"{kind}:SECONDS")
    negative = run(no_stack, "local", "put-events", "-e", placed, "--sandbox-fault", "latency:-1")
    assert_one_line_error(negative, "seconds from 0 to 300")


def test_a_capture_past_the_provider_timeout_is_retried_and_progress_is_shown(
    no_stack: dict[str, str],
) -> None:
    # The sandbox captures, then answers 4 s later, past a 1 s provider timeout: the capture
    # is retried with the same key and the replayed answer recorded once.
    result = run(
        no_stack,
        "local",
        "put-events",
        "-e",
        str(EVENTS / "order-placed.json"),
        "-e",
        str(EVENTS / "order-shipped-1.json"),
        "--sandbox-fault",
        "timeout_after_capture:4",
        "--parameter-overrides",
        "ProviderTimeoutSeconds=1",
        "--in-process",
        "--strict",
    )
    assert result.code == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "captured 6442 of order total 10171" in result.stdout
    assert result.stdout.count(" captured ") >= 1
    assert "order-capture: delivering 2 event(s) and waiting for their workflows..." in (
        result.stderr
    )
