"""A signal to `payrisk serve` stops the whole service: the arbiter and its workers (which sit in
process groups of their own), so that the port is free for a restart. Before: the command died
and BentoML's server kept running, orphaned; a restart failed with "Address already in use"."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from payrisk.serving.process import STOP_GRACE_S, ServerStartError, free_port
from tests.conftest import AUTH

pytestmark = pytest.mark.slow  # starts processes, clusters or browsers: make test-fast skips it


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_payrisk_serve(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, int, list]:
    """`payrisk serve` as a service manager starts it, in a process group of its own (not
    through the test harness' stop logic); returns the process, its port and the processes it
    started, once it answers."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("payrisk")), "serve", "--port", str(port)]
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 180
    while True:
        if process.poll() is not None:
            raise ServerStartError(log.read_text()[-3000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise ServerStartError(log.read_text()[-3000:])
        time.sleep(0.5)
    family = psutil.Process(process.pid).children(recursive=True)
    assert len(family) >= 2  # the arbiter and at least one worker
    return process, port, family


def wait_until(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


@pytest.fixture
def service_env(trained, snapshot_file, tmp_path) -> dict[str, str]:
    return {**trained.env, "BENTOML_HOME": str(tmp_path / "bentoml")}


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "SIGTERM to the process group"])
def test_a_signal_to_payrisk_serve_stops_every_process_and_frees_the_port(
    service_env, tmp_path, how
):
    process, port, family = start_payrisk_serve(service_env, tmp_path / "serve.log")
    # A request in flight (a body still arriving) must not hold the stop up past the grace.
    slow = socket.create_connection(("127.0.0.1", port))
    key = AUTH["X-API-Key"]
    slow.sendall(
        f"POST /v1/score HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{".encode()
    )
    if how == "SIGTERM to the process group":
        os.killpg(os.getpgid(process.pid), signal.SIGTERM)  # what a service manager sends
    else:
        process.send_signal(getattr(signal, how))
    assert process.wait(timeout=STOP_GRACE_S + 30) == 0
    slow.close()
    assert not [p.pid for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert port_is_free(port)


def test_payrisk_serve_killed_outright_takes_its_server_with_it(service_env, tmp_path):
    process, port, family = start_payrisk_serve(service_env, tmp_path / "serve.log")
    process.kill()  # SIGKILL: no handler runs in the command
    process.wait(timeout=30)

    def all_gone() -> bool:
        return not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]

    assert wait_until(all_gone, STOP_GRACE_S + 15), [p.cmdline()[:4] for p in family]
    assert wait_until(lambda: port_is_free(port), 10)
