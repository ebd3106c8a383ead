"""How a BentoML server process is started: `payrisk serve`, the service tests and the HTTP
benchmarks all start it with the same command line.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


class ServerStartError(RuntimeError):
    """The server exited or did not become ready in time; carries the end of its log."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_command(service: str, host: str, port: int, python: str | None = None) -> list[str]:
    """`bentoml serve SERVICE` (a module:Class or a Bento tag) with an interpreter: by default
    this one (the venv that has payrisk)."""
    interpreter = python or sys.executable
    return [interpreter, "-m", "bentoml", "serve", service, "--host", host, "--port", str(port)]


@contextmanager
def running_service(
    service: str,
    env: dict[str, str],
    log: Path,
    ready_within_s: float = 180,
    *,
    python: str | None = None,
    cwd: Path | None = None,
    inherit_environment: bool = True,
) -> Iterator[str]:
    """`bentoml serve SERVICE` on a free loopback port; yields its base URL.

    `inherit_environment=False` starts it with `env` only (e.g. a Bento in a fresh environment
    that must not see this process's settings)."""
    port = free_port()
    with open(log, "wb") as output:
        process = subprocess.Popen(
            serve_command(service, "127.0.0.1", port, python),
            env={**os.environ, **env} if inherit_environment else env,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_within_s
        while True:
            if process.poll() is not None:
                raise ServerStartError(f"{service} exited:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise ServerStartError(f"{service} not ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
