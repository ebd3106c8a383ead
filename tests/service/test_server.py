"""The real thing: `bentoml serve` in a subprocess, called over HTTP on loopback."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import AUTH, VALID_INVOICE

pytestmark = pytest.mark.slow  # starts processes, clusters or browsers: make test-fast skips it


def test_real_server_scores_and_refuses(server, trained, client):
    """The real server answers what the in-process app answers for the same request (same
    model, snapshot and day), and refuses a negative amount naming the field."""
    request = {"invoices": [VALID_INVOICE], "as_of": "2026-11-02"}  # after the snapshot
    response = httpx.post(f"{server}/v1/score", json=request, headers=AUTH, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == trained.report["registry"]["version"]
    expected = client.post("/v1/score", json=request).json()
    (mine,), (theirs,) = body["invoices"], expected["invoices"]
    for name in ("late_probability", "default_probability", "expected_payment_date"):
        assert mine[name] == theirs[name], name
    assert mine["late_probability"] == 1.0  # due 2026-10-31, unpaid on 2026-11-02: late
    assert 0 < mine["default_probability"] < 1
    assert mine["next_action"] == theirs["next_action"]
    assert body["request_id"] == expected["request_id"]
    bad = httpx.post(
        f"{server}/v1/score",
        json={"invoices": [{**VALID_INVOICE, "amount": -1}]},
        headers=AUTH,
        timeout=30,
    )
    assert bad.status_code == 400
    assert "amount" in bad.text
    status = httpx.post(f"{server}/v1/status", headers=AUTH, timeout=30).json()
    assert status["ready"] is True
