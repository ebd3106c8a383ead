"""The HTTP service through its ASGI app: answers, refusals, and online = batch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from payrisk.core.settings import DEFAULT_MAX_BATCH as MAX_BATCH
from payrisk.data.loading import load_dataset
from pipelines.scoring import score as batch_score
from tests.conftest import VALID_INVOICE, project_catalog
from tests.helpers import invoice_payload


def test_status_names_the_model_and_the_snapshot(client, trained):
    body = client.post("/v1/status").json()
    assert body["ready"] is True
    assert body["model_version"] == trained.report["registry"]["version"]
    assert body["model_source"] == "registry"
    assert body["snapshot_problem"] is None
    models = {m["target"]: m for m in body["models"]}
    assert set(models) == {"late", "default_given_late", "payment"}
    assert all(m["learnable"] and m["note"] is None for m in models.values())
    assert models["late"]["model"] == trained.report["registered_models"]["late"]["model"]
    assert client.get("/readyz").status_code == 200


def test_online_scores_equal_batch_scores(client, trained, tmp_path):
    catalog = project_catalog(trained)
    portfolio, loaded, as_of = batch_score(catalog, trained.data_dir, tmp_path / "scores.csv")
    batch = portfolio.invoices
    customers = batch["customer_id"].drop_duplicates().head(40)
    chosen = batch.loc[batch["customer_id"].isin(customers)]
    response = client.post(
        "/v1/score",
        json={"invoices": invoice_payload(chosen), "as_of": as_of.date().isoformat()},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == loaded.version
    online = pd.DataFrame(body["invoices"]).set_index("invoice_id")
    expected = chosen.set_index("invoice_id")
    assert len(online) == len(expected)
    for column in ("late_probability", "default_probability"):
        np.testing.assert_allclose(
            online.loc[expected.index, column], expected[column].round(6), atol=1e-9
        )
    for column in (
        "expected_payment_date",
        "expected_payment_date_low",
        "expected_payment_date_high",
    ):
        assert (pd.to_datetime(online.loc[expected.index, column]) == expected[column]).all(), (
            column
        )
    assert (online.loc[expected.index, "scenario"] == expected["scenario"]).all()
    actions = pd.DataFrame(list(online.loc[expected.index, "next_action"]), index=expected.index)
    assert (actions["action"] == expected["action"]).all()
    assert (pd.to_datetime(actions["action_date"]) == expected["action_date"]).all()
    # The policy's choice, its reason and its expected effect are the same online and in batch.
    assert (actions["policy"] == expected["policy"]).all()
    assert (actions["policy"] == "learned").any()  # the trained scorer carries effect models
    assert (actions["policy_reason"] == expected["policy_reason"]).all()
    assert (actions["channel"].fillna("") == expected["channel"].fillna("")).all()
    for column in ("response_probability", "expected_effect"):
        np.testing.assert_allclose(
            actions[column].astype("float64"), expected[column].round(4), atol=1e-9
        )
    learned = actions["policy"] == "learned"
    contacts = learned & actions["action"].isin(["remind", "escalate"])
    options = actions.loc[contacts, "alternatives"]
    assert options.map(len).gt(0).all()
    # The chosen channel is the allowed alternative of highest expected value.
    best = options.map(
        lambda o: max((x for x in o if x["allowed"]), key=lambda x: x["expected_value"])
    )
    assert (best.map(lambda x: x["channel"]) == actions.loc[contacts, "channel"]).all()


def test_a_part_paid_invoice_sent_without_open_amount_is_flagged(client, bundle):
    """open_amount defaults to the whole amount; where the snapshot knows the invoice as
    part-paid, the answer says so (by position, never the id) instead of staying silent."""
    table = bundle.invoices
    part_paid = table.loc[table["open_amount"] < table["amount"] - 0.01].head(2)
    whole = table.loc[table["open_amount"] >= table["amount"] - 0.005].head(1)
    assert len(part_paid) == 2 and len(whole) == 1
    payload = invoice_payload(pd.concat([whole, part_paid]))
    as_of = bundle.as_of.date().isoformat()
    for entry in payload:
        del entry["open_amount"]
    body = client.post("/v1/score", json={"invoices": payload, "as_of": as_of}).json()
    (warning,) = [w for w in body["warnings"] if "open_amount" in w]
    assert warning.startswith("2 invoice(s)") and "invoices[1], invoices[2]" in warning
    assert not any(invoice_id in warning for invoice_id in table["invoice_id"])
    # Scored as sent: on the whole amount.
    scored = {row["invoice_id"]: row for row in body["invoices"]}
    first = part_paid.iloc[0]
    assert scored[first["invoice_id"]]["next_action"]["amount_due"] == pytest.approx(
        first["amount"], abs=0.01
    )
    # With open_amount sent, nothing to say.
    answered = client.post(
        "/v1/score", json={"invoices": invoice_payload(part_paid), "as_of": as_of}
    ).json()
    assert not [w for w in answered["warnings"] if "open_amount" in w]


def test_unknown_customers_are_scored_as_new_and_flagged(client):
    invoice = {"issue_date": "2026-10-20", "due_date": "2026-11-19", "amount": 5000}
    body = client.post(
        "/v1/score",
        json={
            "invoices": [
                {**invoice, "invoice_id": "X-1", "customer_id": "never-seen"},
                {**invoice, "invoice_id": "X-2", "customer_id": "also-new"},
            ],
            "as_of": "2026-11-01",
        },
    ).json()
    first, second = sorted(body["invoices"], key=lambda scored: scored["invoice_id"])
    assert first["known_customer"] is False and second["known_customer"] is False
    # No history: two new customers with the same invoice get the same cold-start scores.
    assert first["late_probability"] == second["late_probability"]
    assert first["default_probability"] == second["default_probability"]
    assert 0 < first["late_probability"] < 1


@pytest.mark.parametrize(
    ("invoice", "field"),
    [
        ({"amount": -5}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"currency": "XXY"}, "currency"),
        ({"due_date": "2026-01-01"}, None),  # before issue
        ({"issue_date": "1850-01-01", "due_date": "1850-02-01"}, "issue_date"),
        ({"invoice_id": ""}, "invoice_id"),
        ({"invoice_id": "x" * 500}, "invoice_id"),
        ({"surprise": 1}, "surprise"),
        ({"amount": "a lot"}, "amount"),
    ],
)
def test_bad_invoices_get_a_field_level_400(client, invoice, field):
    response = client.post("/v1/score", json={"invoices": [{**VALID_INVOICE, **invoice}]})
    assert response.status_code == 400, response.text
    locations = [detail["loc"] for detail in response.json()["detail"]]
    if field is not None:
        assert any(field in [str(part) for part in loc] for loc in locations), locations


def test_batches_over_the_limit_and_garbage_are_refused(client):
    one = {
        "invoice_id": "A",
        "customer_id": "C",
        "issue_date": "2026-10-01",
        "due_date": "2026-10-31",
        "amount": 100.0,
    }
    too_many = [{**one, "invoice_id": f"A{i}"} for i in range(MAX_BATCH + 1)]
    assert client.post("/v1/score", json={"invoices": too_many}).status_code == 400
    assert client.post("/v1/score", json={"invoices": []}).status_code == 400
    assert client.post("/v1/score", content=b"{not json").status_code == 400
    assert client.post("/v1/score", json=[1, 2]).status_code == 400


def test_a_day_before_the_snapshot_is_refused(client):
    one = {**VALID_INVOICE, "issue_date": "2020-01-01", "due_date": "2020-01-31"}
    response = client.post("/v1/score", json={"invoices": [one], "as_of": "2020-02-01"})
    assert response.status_code == 422
    assert "before the snapshot" in response.text


def test_without_any_snapshot_the_engine_is_not_ready_and_refuses_with_503(trained, tmp_path):
    """No snapshot yet is the service's state, not the caller's fault: 503, not 422."""
    from payrisk.serving.engine import ScoringEngine, SnapshotHolder
    from payrisk.serving.errors import NoSnapshotError, http_status
    from payrisk.serving.schemas import ScoreRequest

    scorer = object()  # never reached: the engine refuses before scoring
    engine = ScoringEngine(scorer, "1", "test", SnapshotHolder(tmp_path / "never.npz"), None)
    assert engine.status().ready is False
    with pytest.raises(NoSnapshotError) as refused:
        engine.score(ScoreRequest(invoices=[VALID_INVOICE]))
    assert http_status(refused.value) == 503
    assert "no customer-history snapshot" in str(refused.value)


def test_customer_profile_matches_the_history(client, trained):
    data = load_dataset(trained.data_dir, validate=False)
    customer = data.invoices["customer_id"].value_counts().index[0]
    body = client.post("/v1/customer", json={"customer_id": customer}).json()
    assert body["known_customer"] is True
    assert body["settled_invoices"] > 0
    assert 0 <= body["late_share"] <= 1
    assert set(body["aged_balance"]) == {"1-30", "31-60", "61-90", "over_90"}
    unknown = client.post("/v1/customer", json={"customer_id": "nobody"}).json()
    assert unknown["known_customer"] is False and unknown["settled_invoices"] == 0


def test_credit_review_recommends_with_reasons(client, trained):
    data = load_dataset(trained.data_dir, validate=False)
    customer = data.invoices["customer_id"].iloc[0]
    response = client.post(
        "/v1/credit-review",
        json={"customer_id": customer, "requested_amount": 15000, "terms_days": 60},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["recommendation"] in {
        "approve",
        "approve_with_conditions",
        "refer_to_credit_manager",
        "decline",
    }
    assert body["grounds"]
    assert body["exposure"] >= 15000
    bad = client.post("/v1/credit-review", json={"customer_id": customer, "requested_amount": 0})
    assert bad.status_code == 400


def test_openapi_documents_every_endpoint_with_descriptions(client):
    spec = client.get("/docs.json").json()
    for path in ("/v1/score", "/v1/customer", "/v1/credit-review", "/v1/status"):
        assert path in spec["paths"]
    schemas = spec["components"]["schemas"]
    invoice = next(v for k, v in schemas.items() if k.startswith("InvoiceIn"))
    assert all("description" in field for field in invoice["properties"].values())
