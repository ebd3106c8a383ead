"""The real thing: `bentoml serve` in a subprocess, called over HTTP on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(trained, snapshot_file, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = {**os.environ, **trained.env, "BENTOML_HOME": str(trained.workdir / "bentoml")}
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bentoml",
                "serve",
                "payrisk.service:PayriskService",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"server exited early:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail(f"server not ready in time:\n{log.read_text()[-3000:]}")
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def test_real_server_scores_and_refuses(server, trained):
    invoice = {
        "invoice_id": "RT-1",
        "customer_id": "C000001",
        "issue_date": "2026-10-15",
        "due_date": "2026-11-14",
        "amount": 2500.0,
    }
    response = httpx.post(f"{server}/v1/score", json={"invoices": [invoice]}, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == trained.report["registry"]["version"]
    assert 0 <= body["invoices"][0]["default_probability"] <= 1
    bad = httpx.post(
        f"{server}/v1/score", json={"invoices": [{**invoice, "amount": -1}]}, timeout=30
    )
    assert bad.status_code == 400
    status = httpx.post(f"{server}/v1/status", timeout=30).json()
    assert status["ready"] is True
