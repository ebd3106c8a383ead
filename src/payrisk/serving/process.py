"""How a BentoML server process is started and stopped: `payrisk serve`, the service tests and the
HTTP benchmarks all start it with the same command line and stop it with the same logic.

`bentoml serve` is an arbiter (circus) that starts the API workers, and each worker calls
`setsid()`: it leaves the arbiter's process group, so a signal to the group (or to the arbiter
alone, if it dies at once) does not reach it, and an orphaned worker keeps the port. Hence:
- `stop_service`: SIGTERM to the arbiter, which stops its workers gracefully (uvicorn finishes
  the requests in progress within GRACEFUL_SHUTDOWN_S); whatever is left of the arbiter and its
  workers after STOP_GRACE_S gets SIGKILL. The workers are found as the arbiter's descendants
  while it lives, so they are stopped even though they are in other process groups.
- the arbiter is started with a parent-death signal (SIGKILL when the process that started it
  dies, even by SIGKILL), and every worker asks for one too (`stop_with_parent`, called when the
  service module is imported in a worker: SIGTERM when its arbiter dies). No process of the
  service outlives the command that started it.
- `serve_until_signalled` (what `payrisk serve` runs): SIGTERM, SIGINT or SIGHUP to the command
  stops the whole service with `stop_service`, then the command exits.
"""

from __future__ import annotations

import ctypes
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
import psutil

GRACEFUL_SHUTDOWN_S = 10  # uvicorn's time to finish requests in progress after SIGTERM
STOP_GRACE_S = GRACEFUL_SHUTDOWN_S + 5  # then SIGKILL to whatever is left
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class ServerStartError(RuntimeError):
    """The server exited or did not become ready in time; carries the end of its log."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_command(service: str, host: str, port: int, python: str | None = None) -> list[str]:
    """`bentoml serve SERVICE` (a module:Class or a Bento tag) with an interpreter: by default
    this one (the venv that has payrisk)."""
    return [
        *(python or sys.executable, "-m", "bentoml", "serve", service),
        *("--host", host, "--port", str(port)),
        *("--timeout-graceful-shutdown", str(GRACEFUL_SHUTDOWN_S)),
    ]


def _set_parent_death_signal(signum: int) -> bool:
    """Ask Linux to send `signum` to this process when its parent dies; False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0


def in_server_worker() -> bool:
    """True in a BentoML API worker (not in a test process that imports the service)."""
    from bentoml._internal.context import server_context

    return server_context.worker_index is not None


def stop_with_parent() -> None:
    """In a server worker: SIGTERM to this worker when its arbiter dies (even by SIGKILL); if the
    arbiter is already gone, stop now."""
    if _set_parent_death_signal(signal.SIGTERM) and os.getppid() == 1:
        os.kill(os.getpid(), signal.SIGTERM)


def start_service(
    command: list[str], env: dict[str, str], output=None, cwd: Path | None = None
) -> subprocess.Popen:
    """Start the server (the arbiter) in its own session, bound to die with this process."""
    parent = os.getpid()

    def die_with_parent() -> None:  # runs in the child between fork and exec
        _set_parent_death_signal(signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        start_new_session=True,  # a terminal's Ctrl-C reaches the command, which stops it all
        preexec_fn=die_with_parent,
    )


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def stop_service(process: subprocess.Popen, grace_s: float = STOP_GRACE_S) -> None:
    """Stop the arbiter and all its workers: SIGTERM first, SIGKILL after `grace_s` seconds."""
    family = {child.pid: child for child in _descendants(process.pid)}
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while process.poll() is None and time.monotonic() < deadline:
        family.update({child.pid: child for child in _descendants(process.pid)})
        time.sleep(0.1)
    if process.poll() is None:
        process.kill()
        process.wait()
    _, alive = psutil.wait_procs(
        list(family.values()), timeout=max(0.0, deadline - time.monotonic())
    )
    for worker in alive:
        try:
            worker.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(alive, timeout=10)


class _StopRequestedError(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def serve_until_signalled(command: list[str], env: dict[str, str]) -> int:
    """Run the server in the foreground until it exits or this process gets a stop signal; on a
    signal, stop the whole service and return 0 (a requested stop is a clean one)."""

    def request_stop(signum: int, _frame) -> None:
        raise _StopRequestedError(signum)

    previous = {signum: signal.signal(signum, request_stop) for signum in STOP_SIGNALS}
    process: subprocess.Popen | None = None
    try:
        process = start_service(command, env)
        return process.wait()
    except _StopRequestedError as stop:
        print(
            f"payrisk serve: {signal.Signals(stop.signum).name} received, stopping", file=sys.stderr
        )
        return 0
    finally:
        for signum in STOP_SIGNALS:  # a second signal must not interrupt the stop
            signal.signal(signum, signal.SIG_IGN)
        if process is not None:
            stop_service(process)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def running_server(
    command: list[str],
    port: int,
    env: dict[str, str],
    log: Path,
    ready_within_s: float = 180,
    *,
    cwd: Path | None = None,
    inherit_environment: bool = True,
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run a server `command` that listens on loopback `port` until its /readyz answers 200;
    yield its base URL and process, and stop it (`stop_service`) afterwards."""
    environment = {**os.environ, **env} if inherit_environment else env
    with open(log, "wb") as output:
        process = start_service(command, environment, output, cwd)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_within_s
        while True:
            if process.poll() is not None:
                raise ServerStartError(f"{command[-1]} exited:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise ServerStartError(f"not ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield base, process
    finally:
        stop_service(process)


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
    command = serve_command(service, "127.0.0.1", port, python)
    with running_server(
        command, port, env, log, ready_within_s, cwd=cwd, inherit_environment=inherit_environment
    ) as (base, _):
        yield base
