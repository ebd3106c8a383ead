"""Hostile input: every malformed request gets a 4xx naming the problem, never a 5xx or a dead
worker, and the error never quotes what was sent."""

from __future__ import annotations

import json

import httpx
import pytest

from payrisk.core.settings import DEFAULT_MAX_BATCH as MAX_BATCH
from payrisk.core.settings import load_settings
from tests.conftest import AUTH, VALID_INVOICE

MAX_BODY_BYTES = load_settings({}).body_limit  # the service's default limit

SECRET = "Jeanne.Martin@example.org"


def score(client, invoice: dict | None = None, **body):
    return client.post(
        "/v1/score", json={"invoices": [{**VALID_INVOICE, **(invoice or {})}], **body}
    )


def locations(response) -> list[list[str]]:
    return [[str(part) for part in item["loc"]] for item in response.json()["detail"]]


@pytest.mark.parametrize(
    ("invoice", "field"),
    [
        ({"amount": True}, "amount"),
        ({"amount": "100"}, "amount"),
        ({"amount": 1e13}, "amount"),
        ({"open_amount": -1.0}, "open_amount"),
        ({"issue_date": "2026-02-30"}, "issue_date"),
        ({"issue_date": "99999-01-01"}, "issue_date"),
        ({"due_date": "2101-01-01"}, "due_date"),
        ({"issue_date": 20261001}, "issue_date"),
        ({"currency": "ZZZ"}, "currency"),
        ({"currency": "EURO"}, "currency"),
        ({"customer_id": "C" * 65}, "customer_id"),
        ({"customer_id": "bad\x00id"}, "customer_id"),
        ({"customer_id": "bad\x85id"}, "customer_id"),
        ({"customer_id": "   "}, "customer_id"),
        ({"customer_id": 42}, "customer_id"),
        ({"invoice_id": None}, "invoice_id"),
        ({"invoice_id": ["a"]}, "invoice_id"),
        ({"disputed": "maybe"}, "disputed"),
        ({"name": SECRET}, "name"),
    ],
)
def test_bad_fields_get_a_400_naming_the_field_without_echoing_it(client, invoice, field):
    response = score(client, invoice)
    assert response.status_code == 400, response.text
    assert any(field in loc for loc in locations(response)), response.text
    assert all(item["msg"] for item in response.json()["detail"])
    assert SECRET not in response.text


def test_nan_and_infinity_literals_are_refused(client):
    for literal in ("NaN", "Infinity", "-Infinity", "1e999"):
        body = json.dumps({"invoices": [VALID_INVOICE]}).replace("100.0", literal)
        response = client.post(
            "/v1/score", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, (literal, response.text)


def test_unicode_ids_are_scored_and_echoed_exactly(client):
    ids = {"invoice_id": "Rechnung-Ünïcødé-😀", "customer_id": "客户-٣٤٥"}
    response = score(client, ids, as_of="2026-11-01")
    assert response.status_code == 200, response.text
    scored = response.json()["invoices"][0]
    assert scored["invoice_id"] == ids["invoice_id"] and scored["customer_id"] == ids["customer_id"]
    assert scored["known_customer"] is False


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"null",
        b"[]",
        b'"invoices"',
        b'{"invoices": {}}',
        b'{"invoices": [1, 2]}',
        b'{"invoices": [{"invoice_id": "\\ud800"}]}',
        b'{"invoices": [{"invoice_id": "\xff\xfe"}]}',
        b"[" * 5000 + b"]" * 5000,
        json.dumps({"invoices": [{**VALID_INVOICE, "name": SECRET}], "as_of": "tomorrow"}).encode(),
    ],
)
def test_garbage_bodies_get_a_400(client, body):
    response = client.post("/v1/score", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]
    assert SECRET not in response.text


def test_batches_over_the_limit_name_the_limit(client):
    too_many = [{**VALID_INVOICE, "invoice_id": f"B{i}"} for i in range(MAX_BATCH + 1)]
    response = client.post("/v1/score", json={"invoices": too_many})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail[0]["loc"] == ["invoices"] and str(MAX_BATCH) in detail[0]["msg"]


def test_bodies_over_the_size_limit_get_a_413(client):
    huge = {**VALID_INVOICE, "customer_id": "x" * (MAX_BODY_BYTES + 10)}
    response = client.post("/v1/score", json={"invoices": [huge]})
    assert response.status_code == 413
    assert str(MAX_BODY_BYTES) in response.json()["error"]

    def chunks():  # no content-length: the limit holds on what is actually sent
        yield b'{"invoices": [{"customer_id": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"x" * 65536
        yield b'"}]}'

    streamed = client.post(
        "/v1/score", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert client.post("/v1/status").status_code == 200


def test_other_media_types_and_methods_are_refused(client):
    form = client.post("/v1/score", data={"invoices": "x"})
    assert form.status_code == 415 and "application/json" in form.json()["error"]
    assert client.get("/v1/score").status_code in (404, 405)


def test_other_endpoints_refuse_bad_input_too(client):
    customer = client.post("/v1/customer", json={"customer_id": "x" * 1000})
    assert customer.status_code == 400 and ["customer_id"] in locations(customer)
    review = client.post(
        "/v1/credit-review",
        json={"customer_id": "C1", "requested_amount": -1.5, "terms_days": 10_000},
    )
    assert review.status_code == 400
    assert {"requested_amount", "terms_days"} <= {loc[0] for loc in locations(review)}
    early = client.post("/v1/customer", json={"customer_id": "C1", "as_of": "1900-01-01"})
    assert early.status_code == 400 and ["as_of"] in locations(early)


def test_well_formed_but_unanswerable_requests_get_a_422(client):
    twice = client.post("/v1/score", json={"invoices": [VALID_INVOICE, VALID_INVOICE]})
    assert twice.status_code == 422 and "appears twice" in twice.text
    future = score(client, {"issue_date": "2099-01-01", "due_date": "2099-02-01"})
    assert future.status_code == 422 and "after as_of" in future.text


@pytest.mark.slow  # a real `bentoml serve`
def test_the_real_server_survives_hostile_requests(server, server_log):
    with httpx.Client(base_url=server, headers=AUTH, timeout=30) as http:
        attacks = [
            http.post(
                "/v1/score", content=b"\x00" * 1000, headers={"content-type": "application/json"}
            ),
            http.post("/v1/score", json={"invoices": [{**VALID_INVOICE, "amount": SECRET}]}),
            http.post(
                "/v1/score", json={"invoices": [{**VALID_INVOICE, "customer_id": SECRET * 10}]}
            ),
            http.post("/v1/score", content=b'{"invoices": [{"name": "' + SECRET.encode()),
            http.post("/v1/score", content=b"x" * (MAX_BODY_BYTES + 1)),
            http.post("/v1/customer", json={"customer_id": "\U0001f600" * 65}),
        ]
        assert [r.status_code // 100 for r in attacks] == [4] * len(attacks), [
            r.text for r in attacks
        ]
        assert http.post("/v1/status").json()["ready"] is True
        assert http.post("/v1/score", json={"invoices": [VALID_INVOICE]}).status_code == 200
    assert SECRET not in server_log.read_text(errors="replace")
