"""A private Docker daemon for ``make sam-local``: its own socket, data and exec directories in
the run's work directory, no bridge, no iptables, used by this run only and stopped by its PID.
Where Docker cannot be had, ``DockerUnavailableError`` says why."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any


class DockerUnavailableError(Exception):
    """Docker cannot be had on this machine: not installed and not installable, or its daemon
    does not start (no privileges for it, say)."""


def ensure_docker(say: Callable[[str], None]) -> None:
    """``dockerd`` and ``docker`` on the PATH: Debian's ``docker.io`` installed if need be."""
    if shutil.which("dockerd") and shutil.which("docker"):
        return
    if os.geteuid() != 0:
        raise DockerUnavailableError("dockerd is missing, and installing docker.io needs root")
    say("installing docker.io (Debian)")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "-o", "DPkg::Lock::Timeout=600", "docker.io"],
    ):
        if subprocess.run(command, check=False, env=environment).returncode:
            raise DockerUnavailableError(f"dockerd is missing and `{' '.join(command)}` failed")


def start_dockerd(
    stack: ExitStack, work: Path, say: Callable[[str], None], stop: Callable[[Any, str], None]
) -> dict[str, str]:
    """A private dockerd: its own socket and directories, no bridge, no iptables."""
    socket_path = work / "docker.sock"
    log = (work / "dockerd.log").open("w")
    stack.callback(log.close)
    daemon = subprocess.Popen(
        [
            "dockerd",
            f"--host=unix://{socket_path}",
            f"--data-root={work / 'docker-data'}",
            f"--exec-root={work / 'docker-exec'}",
            f"--pidfile={work / 'dockerd.pid'}",
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stack.callback(stop, daemon, "dockerd")
    environment = {**os.environ, "DOCKER_HOST": f"unix://{socket_path}"}
    deadline = time.monotonic() + 60
    while subprocess.run(
        ["docker", "info"], check=False, env=environment, capture_output=True
    ).returncode:
        if daemon.poll() is not None or time.monotonic() > deadline:
            log.flush()
            last = (work / "dockerd.log").read_text(errors="replace").strip().splitlines()[-3:]
            raise DockerUnavailableError("dockerd did not start: " + " / ".join(last))
        time.sleep(0.5)
    say(f"dockerd PID {daemon.pid} on {socket_path} (--bridge=none --iptables=false)")
    return environment
