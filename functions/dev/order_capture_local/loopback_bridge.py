"""Joins the loopback of ``sam local``'s containers to this machine's loopback.

Here containers may use no bridge network and no address but loopback. ``sam local`` (1.170)
accepts ``--docker-network host`` but does not create its containers in the host's network
namespace (it only skips connecting them to a network), so they get a namespace of their own
with a loopback interface and nothing else. Two things must still cross:

* SAM on the host calls the runtime interface emulator in the container: SAM publishes
  container port 8080 on ``127.0.0.1:<port>``, which Docker cannot serve without a bridge;
  this listens on that host port and connects, inside the container's namespace, to
  ``127.0.0.1:8080``;
* the function calls the local stack (``AWS_ENDPOINT_URL=http://127.0.0.1:4566``, the
  sandbox): this listens on those ports inside the container's namespace and connects to
  them on the host.

Every socket is a loopback socket; a namespace is entered per connection by a short-lived
thread (``setns`` changes only the calling thread's namespace), which needs root, as dockerd
does.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import threading
from collections.abc import Callable
from typing import Any

LOOPBACK = "127.0.0.1"
RIE_PORT = 8080


def _in_namespace[T](namespace_fd: int | None, action: Callable[[], T]) -> T:
    """Run ``action`` in the network namespace ``namespace_fd`` (None: this one)."""
    if namespace_fd is None:
        return action()
    outcome: dict[str, Any] = {}

    def enter() -> None:
        try:
            os.setns(namespace_fd, os.CLONE_NEWNET)
            outcome["value"] = action()
        except BaseException as error:  # handed to the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=enter, name="netns")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


class _Forward:
    """Listen on loopback ``port`` in one namespace; connect to loopback ``target_port`` in
    another, for every connection."""

    def __init__(
        self, listen_ns: int | None, port: int, connect_ns: int | None, target_port: int
    ) -> None:
        self.connect_ns = connect_ns
        self.target_port = target_port

        def listen() -> socket.socket:
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind((LOOPBACK, port))
            server.listen(64)
            return server

        self.server = _in_namespace(listen_ns, listen)
        threading.Thread(target=self._accept, name=f"forward-{port}", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = _in_namespace(
                self.connect_ns,
                lambda: socket.create_connection((LOOPBACK, self.target_port), timeout=30),
            )
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream)

    def close(self) -> None:
        self.server.close()


class LoopbackBridge:
    """Watches a Docker engine for SAM's Lambda containers and joins each one's loopback to
    the host's: its emulator port out, ``host_ports`` (the local stack) in."""

    def __init__(self, docker_env: dict[str, str], host_ports: list[int]) -> None:
        self.docker_env = docker_env
        self.host_ports = host_ports
        self._forwards: list[_Forward] = []
        self._namespaces: list[int] = []
        self._events: subprocess.Popen[str] | None = None
        self.joined: list[str] = []
        self.errors: list[str] = []

    def start(self) -> LoopbackBridge:
        self._events = subprocess.Popen(
            [
                "docker",
                "events",
                "--filter",
                "type=container",
                "--filter",
                "event=start",
                "--format",
                "{{.ID}}",
            ],
            env=self.docker_env,
            stdout=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._watch, name="docker-events", daemon=True).start()
        return self

    def _watch(self) -> None:
        assert self._events is not None and self._events.stdout is not None
        for line in self._events.stdout:
            container_id = line.strip()
            if container_id:
                try:
                    self._join(container_id)
                except (OSError, ValueError, KeyError, subprocess.CalledProcessError) as error:
                    self.errors.append(f"{container_id[:12]}: {error}")

    def _join(self, container_id: str) -> None:
        inspected = json.loads(
            subprocess.run(
                ["docker", "inspect", container_id],
                env=self.docker_env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )[0]
        if inspected["Config"]["Labels"].get("sam.cli.container.type") != "lambda":
            return
        bindings = inspected["HostConfig"]["PortBindings"].get(f"{RIE_PORT}/tcp") or []
        namespace = os.open(f"/proc/{inspected['State']['Pid']}/ns/net", os.O_RDONLY)
        self._namespaces.append(namespace)
        for port in self.host_ports:
            self._forwards.append(_Forward(namespace, port, None, port))
        for binding in bindings:
            self._forwards.append(_Forward(None, int(binding["HostPort"]), namespace, RIE_PORT))
        self.joined.append(container_id[:12])

    def stop(self) -> None:
        if self._events is not None and self._events.poll() is None:
            self._events.terminate()
            self._events.wait(timeout=10)
        for forward in self._forwards:
            forward.close()
        for namespace in self._namespaces:
            os.close(namespace)
