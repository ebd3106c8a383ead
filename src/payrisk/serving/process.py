"""Run a BentoML service in a subprocess on loopback, wait until it is ready, stop it after.

Used by the service tests and the HTTP benchmarks, so both start the server the same way.
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


@contextmanager
def running_service(
    service: str, env: dict[str, str], log: Path, ready_within_s: float = 180
) -> Iterator[str]:
    """`bentoml serve SERVICE` on a free loopback port; yields its base URL."""
    port = free_port()
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bentoml", "serve", service, "--host", "127.0.0.1",
             "--port", str(port)],
            env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
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
