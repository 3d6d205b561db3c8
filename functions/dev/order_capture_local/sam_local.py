"""``make sam-local``: every function run by the real SAM CLI in Docker against the local stack.

1. Docker: installs Debian's ``docker.io`` if ``dockerd`` is missing, and starts a private
   ``dockerd`` (its own socket, data and exec dirs in a temporary directory, no bridge, no
   iptables) that only this run uses.
2. The Lambda base image: ``public.ecr.aws/lambda/python:3.13-<arch>`` cannot be pulled here,
   so a **stand-in** is built and tagged with that name: this machine's python3.13, the
   shared libraries it loads, ``/bin/sh`` and a few tools for SAM's own Dockerfile step, and
   the Lambda runtime interface client (``awslambdaric``, from PyPI) behind
   ``/var/runtime/bootstrap``. SAM layers its own runtime interface emulator onto it, as it
   does onto the real image; with network access, use the real image instead (``sam local``
   pulls it when ``--skip-pull-image`` is not given).
3. ``sam build`` for x86_64 (``Architecture`` parameter) into ``.aws-sam/local``.
4. The local stack (``order-capture local start`` on free ports), prepared for the tour of
   ``function_events``; SAM's containers reach it through ``loopback_bridge``.
5. ``sam local invoke <Function> -e <event> --env-vars <stack's>`` for every visit of the
   tour, each answer checked;
6. ``sam local start-api`` (``sam_local_api``): the three dialects over HTTP with their keys,
   through the template's Lambda authorizers; then everything this run started is stopped by
   its PID.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from order_capture_local import function_events, sam_local_api
from order_capture_local.docker_daemon import DockerUnavailableError, ensure_docker, start_dockerd
from order_capture_local.loopback_bridge import LoopbackBridge
from order_capture_local.runtime import PROJECT_ROOT
from order_capture_local.stack import LOCAL_CREDENTIALS, STACK_FILE_ENV, StackInfo, sam_env_vars

SAM = PROJECT_ROOT / ".tools" / "sam" / "bin" / "sam"
BUILD_DIR = PROJECT_ROOT / ".aws-sam" / "local"
#: Tools SAM's generated Dockerfile runs (``RUN mv ... && chmod +x ...``) and the bootstrap.
IMAGE_TOOLS = ("sh", "mv", "chmod", "cat", "ls", "cp", "rm", "mkdir")
BOOTSTRAP = """#!/bin/sh
# order-capture's stand-in for the Lambda Python runtime's bootstrap (make sam-local): the
# runtime interface client from PyPI, with the Lambda runtime's import paths.
export PYTHONPATH="/var/task:/opt/python:/var/runtime${PYTHONPATH:+:$PYTHONPATH}"
exec /var/lang/bin/python3.13 -m awslambdaric "$_HANDLER"
"""
#: What manylinux wheels may expect of the system (PEP 599's list, less the X11/GL ones), as
#: the real image provides them.
MANYLINUX_LIBRARIES = (
    "libc.so.6", "libm.so.6", "libdl.so.2", "librt.so.1", "libpthread.so.0", "libutil.so.1",
    "libresolv.so.2", "libnsl.so.1", "libgcc_s.so.1", "libstdc++.so.6", "libz.so.1",
    "libexpat.so.1", "libcrypt.so.1",
)  # fmt: skip
IMAGE_ENV = {
    "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin:/bin",
    "LANG": "en_US.UTF-8",
    "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/task:/opt/lib",
    "LAMBDA_TASK_ROOT": "/var/task",
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
}


#: Set by .ci/run: where Docker cannot be had (not installed and not installable, or its daemon
#: does not start), ``make sam-local`` says so on a line starting ``sam-local: SKIPPED`` and
#: passes; without it (a developer's run) that is a failure like any other.
SKIP_WITHOUT_DOCKER_ENV = "SAM_LOCAL_SKIP_WITHOUT_DOCKER"
SKIPPED = "SKIPPED"


def say(message: str) -> None:
    print(f"sam-local: {message}", flush=True)


def architecture() -> str:
    return "arm64" if platform.machine() in {"aarch64", "arm64"} else "x86_64"


def _stop(process: subprocess.Popen[Any], name: str) -> None:
    """SIGTERM by PID, then SIGKILL if it does not end."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    say(f"stopped {name} (PID {process.pid})")


# --- the stand-in base image ------------------------------------------------------------------


def _system_libraries() -> set[Path]:
    """Where this machine keeps the manylinux libraries (``ldconfig -p``)."""
    listed = subprocess.run(["ldconfig", "-p"], check=True, capture_output=True, text=True)
    machine = "AArch64" if architecture() == "arm64" else "x86-64"
    found: dict[str, Path] = {}
    for line in listed.stdout.splitlines():
        entry, _, path = line.strip().partition(" => ")
        name = entry.split(" ", 1)[0]
        if name in MANYLINUX_LIBRARIES and machine in entry:
            found.setdefault(name, Path(path))
    return set(found.values())


def _shared_libraries(paths: list[Path]) -> set[Path]:
    libraries: set[Path] = _system_libraries()
    for path in paths:
        listed = subprocess.run(
            ["ldd", str(path)], check=False, capture_output=True, text=True
        ).stdout
        for line in listed.splitlines():
            for word in line.split():
                if word.startswith("/") and Path(word).exists():
                    libraries.add(Path(word))
    return libraries


def _copy_into(root: Path, source: Path) -> None:
    target = root / source.relative_to("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source.resolve(), target)


def build_base_image(docker_env: dict[str, str], work: Path, image: str) -> None:
    """The stand-in for ``public.ecr.aws/lambda/python:3.13`` (see the module doc)."""
    root = work / "rootfs"
    prefix = Path(sys.base_prefix)
    python = prefix / "bin" / "python3.13"
    stdlib = prefix / "lib" / "python3.13"
    lang = root / "var" / "lang"
    skip = shutil.ignore_patterns(
        "test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip", "__pycache__",
        "site-packages", "config-3.13-*", "_tkinter*",
    )  # fmt: skip
    shutil.copytree(stdlib, lang / "lib" / "python3.13", ignore=skip)
    (lang / "lib" / "python3.13" / "site-packages").mkdir()
    (lang / "bin").mkdir(parents=True)
    shutil.copy2(python, lang / "bin" / "python3.13")
    (lang / "bin" / "python3").symlink_to("python3.13")
    for library in prefix.glob("lib/libpython3*.so*"):
        shutil.copy2(library, lang / "lib" / library.name)
    runtime = root / "var" / "runtime"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--root-user-action=ignore",
            "--target",
            str(runtime),
            "awslambdaric",
        ],
        check=True,
    )
    tools = [Path(shutil.which(tool) or f"/bin/{tool}") for tool in IMAGE_TOOLS]
    for tool in tools:
        _copy_into(root, Path("/bin") / tool.name)
    extensions = [
        *(lang / "lib" / "python3.13" / "lib-dynload").glob("*.so"),
        *runtime.glob("*.so"),
    ]
    for library in _shared_libraries([python, *extensions, *tools]):
        if not str(library).startswith(str(prefix)):
            _copy_into(root, library)
    (runtime / "bootstrap").write_text(BOOTSTRAP)
    (runtime / "bootstrap").chmod(0o755)
    for directory in ("var/task", "opt", "tmp", "etc"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    changes = [f"ENV {name}={value}" for name, value in IMAGE_ENV.items()]
    changes += ["WORKDIR /var/task", 'ENTRYPOINT ["/var/runtime/bootstrap"]']
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    subprocess.run(
        ["docker", "import", *[arg for c in changes for arg in ("--change", c)], "-", image],
        stdin=tar.stdout,
        env=docker_env,
        check=True,
        capture_output=True,
    )
    tar.wait()
    say(f"built the stand-in {image} from {python} + awslambdaric (not the real image)")


# --- the run ----------------------------------------------------------------------------------


def sam_environment(docker_env: dict[str, str]) -> dict[str, str]:
    """SAM's own environment: the private engine, no telemetry, and local credentials (SAM
    hands the caller's credentials to the functions; the stack accepts any)."""
    return {**docker_env, **LOCAL_CREDENTIALS, "SAM_CLI_TELEMETRY": "0"}


def sam_build(environment: dict[str, str], arch: str) -> Path:
    python_dir = str(Path(sys.base_prefix) / "bin")
    subprocess.run(
        [
            str(SAM),
            "build",
            "--parameter-overrides",
            f"Architecture={arch}",
            "--build-dir",
            str(BUILD_DIR),
            "--cached",
            "--parallel",
        ],
        cwd=PROJECT_ROOT,
        env={**environment, "PATH": f"{python_dir}:{environment.get('PATH', '')}"},
        check=True,
        capture_output=True,
    )
    say(f"sam build (Architecture={arch}) into {BUILD_DIR.relative_to(PROJECT_ROOT)}")
    built = BUILD_DIR / "template.yaml"
    _lengthen_timeouts(built)
    return built


#: Seconds every function may take under ``sam local`` here: a container's cold start (the
#: whole Python import) counts against the function's Timeout locally, and takes longer than a
#: step's 3-5 s on a loaded machine; AWS applies the template's own.
LOCAL_TIMEOUT_SECONDS = 120
#: Seconds for one ``sam local invoke``: SAM's start, the first run's image build, the
#: container's creation and the function's LOCAL_TIMEOUT_SECONDS.
INVOKE_TIMEOUT_SECONDS = 420


def _lengthen_timeouts(built: Path) -> None:
    """The built template (``.aws-sam/local``, never deployed) with every function's Timeout
    raised to LOCAL_TIMEOUT_SECONDS."""
    lines = built.read_text().splitlines(keepends=True)
    for number, line in enumerate(lines):
        name, separator, value = line.partition("Timeout:")
        if separator and not name.strip() and value.strip().isdigit():
            seconds = max(int(value), LOCAL_TIMEOUT_SECONDS)
            lines[number] = f"{name}Timeout: {seconds}\n"
    built.write_text("".join(lines))


def start_stack(stack: ExitStack, work: Path) -> StackInfo:
    stack_file = work / "stack.json"
    log = (work / "stack.log").open("w")
    stack.callback(log.close)
    process = subprocess.Popen(
        [
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
        ],
        env={**os.environ, STACK_FILE_ENV: str(stack_file)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stack.callback(_stop, process, "the local stack")
    deadline = time.monotonic() + 300  # imports moto and the handlers: slow when loaded
    while not stack_file.is_file():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"sam-local: the local stack did not start; see {work}/stack.log")
        time.sleep(0.2)
    info = StackInfo(**json.loads(stack_file.read_text()))
    say(f"local stack PID {info.pid}: AWS endpoint {info.endpoint}, sandbox {info.sandbox_url}")
    return info


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def sam_invoker(
    environment: dict[str, str], template: Path, env_vars: Path, work: Path, arch: str
) -> Any:
    def invoke(function_id: str, payload: Any) -> tuple[Any, str | None]:
        event_file = work / "event.json"
        event_file.write_text(json.dumps(payload))
        try:
            completed = subprocess.run(
                [
                    str(SAM),
                    "local",
                    "invoke",
                    function_id,
                    "-t",
                    str(template),
                    "-e",
                    str(event_file),
                    "--env-vars",
                    str(env_vars),
                    "--skip-pull-image",
                    "--parameter-overrides",
                    f"Architecture={arch}",
                ],
                check=False,
                cwd=PROJECT_ROOT,
                env=environment,
                capture_output=True,
                text=True,
                timeout=INVOKE_TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired:
            return None, f"no answer within {INVOKE_TIMEOUT_SECONDS} s (sam local invoke stopped)"
        lines = [line for line in completed.stdout.splitlines() if line.strip()]
        try:
            answer = json.loads(lines[-1])
        except (IndexError, ValueError):
            return completed.stderr[-2000:], f"no answer (sam exited {completed.returncode})"
        error = answer.get("errorType") if isinstance(answer, dict) else None
        return answer, error

    return invoke


def sam_start_api_command(template: Path, env_vars: Path, arch: str) -> list[str]:
    return [
        str(SAM),
        "local",
        "start-api",
        "-t",
        str(template),
        "--env-vars",
        str(env_vars),
        "--skip-pull-image",
        "--parameter-overrides",
        f"Architecture={arch}",
    ]


def run(work: Path, phases: set[str]) -> int:
    arch = architecture()
    image = f"public.ecr.aws/lambda/python:3.13-{arch}"
    with ExitStack() as stack:
        ensure_docker(say)
        docker_env = start_dockerd(stack, work, say, _stop)
        build_base_image(docker_env, work, image)
        environment = sam_environment(docker_env)
        template = sam_build(environment, arch)
        info = start_stack(stack, work)
        api_key = function_events.prepare_stack(info)
        bridge = LoopbackBridge(docker_env, [_port(info.endpoint), _port(info.sandbox_url)])
        stack.callback(bridge.stop)
        bridge.start()
        env_vars = work / "sam-env.json"
        functions = sorted({visit.function for visit in function_events.TOUR})
        env_vars.write_text(json.dumps(sam_env_vars(info, functions)))
        problems: list[str] = []
        checks = 0
        if "invoke" in phases:
            started = time.monotonic()
            problems += function_events.run_tour(
                sam_invoker(environment, template, env_vars, work, arch), api_key, say
            )
            checks += len(function_events.TOUR)
            say(
                f"{len(function_events.TOUR)} invocations in {time.monotonic() - started:.0f} s, "
                f"{len(bridge.joined)} containers joined to loopback"
            )
        if "start-api" in phases:
            started = time.monotonic()
            url = sam_local_api.start_api(
                stack, environment, sam_start_api_command(template, env_vars, arch), work, _stop
            )
            say(f"sam local start-api on {url} (--warm-containers LAZY)")
            planned = sam_local_api.calls(api_key)
            problems += sam_local_api.run_calls(url, info, api_key, say)
            checks += len(planned)
            say(
                f"{len(planned)} requests through sam local start-api in "
                f"{time.monotonic() - started:.0f} s"
            )
        for error in bridge.errors:
            say(f"loopback bridge: {error}")
    for problem in problems:
        say(f"FAILED {problem}")
    print(f"{checks - len(problems)} passed, {len(problems)} failed")
    return 1 if problems else 0


def stop_cleanly_on_signals() -> None:
    """SIGTERM and SIGHUP (``timeout``, CI cancelling a step, a closed terminal) raise SystemExit,
    so the ExitStack stops the private dockerd, the stack and ``sam local start-api`` instead of
    leaving them running: by default Python dies on SIGTERM without running ``finally``."""

    def _exit(signum: int, _frame: object) -> None:
        say(f"signal {signal.Signals(signum).name}: stopping what was started")
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit)


def main(argv: list[str] | None = None) -> int:
    stop_cleanly_on_signals()
    parser = argparse.ArgumentParser(prog="sam-local", description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--phase",
        action="append",
        choices=["invoke", "start-api"],
        help="run only this phase (repeatable; default both)",
    )
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="order-capture-sam-local-"))
    try:
        return run(work, set(args.phase or ["invoke", "start-api"]))
    except DockerUnavailableError as unavailable:
        if os.environ.get(SKIP_WITHOUT_DOCKER_ENV) != "1":
            raise SystemExit(f"sam-local: Docker is unavailable here: {unavailable}") from None
        say(f"{SKIPPED}: Docker is unavailable here: {unavailable}")
        return 0
    finally:
        if args.keep:
            say(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
