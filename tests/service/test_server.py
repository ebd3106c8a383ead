"""The real thing: `bentoml serve` in a subprocess, called over HTTP on loopback."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import AUTH, VALID_INVOICE

pytestmark = pytest.mark.slow  # starts processes, clusters or browsers: make test-fast skips it


def test_real_server_scores_and_refuses(server, trained):
    response = httpx.post(
        f"{server}/v1/score", json={"invoices": [VALID_INVOICE]}, headers=AUTH, timeout=30
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == trained.report["registry"]["version"]
    assert 0 <= body["invoices"][0]["default_probability"] <= 1
    bad = httpx.post(
        f"{server}/v1/score",
        json={"invoices": [{**VALID_INVOICE, "amount": -1}]},
        headers=AUTH,
        timeout=30,
    )
    assert bad.status_code == 400
    status = httpx.post(f"{server}/v1/status", headers=AUTH, timeout=30).json()
    assert status["ready"] is True
