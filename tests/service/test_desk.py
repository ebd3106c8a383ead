"""The credit desk through the service's ASGI app: decisions, limits and notes recorded by the API
(the key's id as author) and by the pages (signed in, CSRF-checked), read back, exported; the
credit review warns on and never approves terms beyond the legal maximum."""

from __future__ import annotations

import contextlib
import csv
import html as htmllib
import io
import re

import pytest

from payrisk.serving.auth import COOKIE, ApiKeys, key_id
from payrisk.web.app import LANGUAGE_COOKIE
from tests.conftest import API_KEY

EN = {"Accept-Language": "en-GB,en;q=0.9"}
FR = {"Accept-Language": "fr-FR,fr;q=0.9"}
AUTHOR = key_id(ApiKeys.from_keys([API_KEY]).digests[0])
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]*)"')


def review(client, customer: str, amount: float = 5000, terms: int = 30) -> dict:
    response = client.post(
        "/v1/credit-review",
        json={
            "customer_id": customer,
            "requested_amount": amount,
            "terms_days": terms,
            "language": "en",
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


def decide(client, customer: str, **fields):
    body = {
        "customer_id": customer,
        "requested_amount": 5000,
        "terms_days": 30,
        "language": "en",
        **fields,
    }
    return client.post("/v1/credit-decision", json=body)


def departing(shown: dict) -> dict:
    """Decision fields that depart from the review `shown`: another verdict, or after a referral
    (any verdict follows it) more than the most approvable."""
    if shown["recommendation"] == "refer_to_credit_manager":
        return {"decision": "approve", "granted_amount": shown["max_approvable_amount"] + 1000}
    return {"decision": "decline" if shown["recommendation"] != "decline" else "approve"}


def test_terms_beyond_the_law_are_warned_and_never_approved_as_asked(client):
    lawful = review(client, "C000003", terms=60)
    assert lawful["warnings"] == []
    beyond = review(client, "C000003", terms=90)
    assert beyond["recommendation"] != "approve"
    [warning] = beyond["warnings"]
    assert "90 days beyond the legal maximum" in warning and "L441-10" in warning
    assert warning in beyond["grounds"]
    if beyond["recommendation"] == "approve_with_conditions":
        assert any("payment terms of at most" in c for c in beyond["conditions"])
    french = client.post(
        "/v1/credit-review",
        json={
            "customer_id": "C000003",
            "requested_amount": 5000,
            "terms_days": 90,
            "language": "fr",
        },
    ).json()
    assert "au-delà du maximum légal" in french["warnings"][0]


def test_a_decision_is_recorded_against_the_review_and_read_back(client):
    customer = "C000004"
    shown = review(client, customer)
    refused = decide(
        client, customer, **departing(shown), shown_recommendation=shown["recommendation"]
    )
    assert refused.status_code == 422
    assert refused.json()["error"].startswith("override_reason: required")
    recorded = decide(
        client,
        customer,
        **departing(shown),
        override_reason="the customer's parent company guarantees",
        credit_limit=12_000,
        shown_recommendation=shown["recommendation"],
    )
    assert recorded.status_code == 200, recorded.text
    saved = recorded.json()["decision"]
    assert saved["author"] == AUTHOR and API_KEY not in recorded.text
    assert saved["recommendation"] == shown["recommendation"]
    assert saved["override"] is True
    assert saved["model_version"] == shown["model_version"]
    assert saved["snapshot_as_of"] == shown["snapshot_as_of"]
    assert saved["default_probability"] == pytest.approx(shown["default_probability"])
    assert saved["max_approvable_amount"] == shown["max_approvable_amount"]
    note = client.post("/v1/customer-note", json={"customer_id": customer, "text": "met the CFO"})
    assert note.status_code == 200 and note.json()["author"] == AUTHOR
    history = client.post("/v1/credit-history", json={"customer_id": customer}).json()
    assert [d["id"] for d in history["decisions"]][:1] == [saved["id"]]
    assert history["current_limit"] == 12_000
    assert history["limits"][0]["previous_limit"] == shown["credit_limit"]
    assert history["notes"][0]["text"] == "met the CFO"


def test_decisions_that_cannot_stand_are_refused_with_the_field(client):
    customer = "C000005"
    shown = review(client, customer)
    other = "approve" if shown["recommendation"] != "approve" else "decline"
    stale = decide(client, customer, decision="decline", shown_recommendation=other)
    assert stale.status_code == 409 and stale.json()["error"].startswith("shown_recommendation")
    illegal = decide(client, customer, decision="decline", override_reason="x", terms_days=30)
    assert illegal.status_code == 200  # a decline grants no terms: nothing to check
    beyond = decide(
        client, customer, decision="approve", granted_terms_days=90, override_reason="asked"
    )
    assert beyond.status_code == 422
    assert beyond.json()["error"].startswith("granted_terms_days: 90 days exceed the legal")
    referral = decide(client, customer, decision="refer_to_credit_manager")
    assert referral.status_code == 400
    assert "decision" in referral.text


@contextlib.contextmanager
def signed_in(client):
    """The session client as a browser: no key header, a session cookie from the sign-in form."""
    key = client.headers.pop("X-API-Key")
    try:
        response = client.post(
            "/ui/login",
            data={"api_key": API_KEY, "next": "/ui/"},
            headers={"Origin": "http://testserver"},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        yield
    finally:  # the shared client leaves as it came: no session, no language chosen
        client.cookies.delete(COOKIE)
        client.cookies.delete(LANGUAGE_COOKIE)
        client.headers["X-API-Key"] = key


def form_page(client, customer: str, headers: dict) -> str:
    page = client.post(
        f"/ui/customers/{customer}",
        data={"requested_amount": "5000", "terms_days": "30"},
        headers={**headers, "Origin": "http://testserver"},
    )
    assert page.status_code == 200, page.text
    return page.text


def test_the_page_records_a_decision_only_with_its_csrf_token(client):
    customer = "C000006"
    origin = {"Origin": "http://testserver"}
    with signed_in(client):
        page = form_page(client, customer, EN)
        assert 'id="decision-form"' in page and 'id="note-form"' in page
        token = CSRF_FIELD.search(page).group(1)
        assert len(token) > 20
        shown = re.search(r'name="shown_recommendation" value="([^"]+)"', page).group(1)
        fields = {
            "customer_id": customer,
            "requested_amount": "5000",
            "terms_days": "30",
            "decision": "decline",
            "override_reason": '=HYPERLINK("http://evil")' if shown != "decline" else "",
            "shown_recommendation": shown,
        }
        for bad in ({}, {"csrf": "forged"}, {"csrf": token[:-1]}):
            refused = client.post(
                "/ui/desk/decision", data={**fields, **bad}, headers={**EN, **origin},
                follow_redirects=False,
            )  # fmt: skip
            assert refused.status_code == 403
            assert "This form has expired" in refused.text
        history = client.post(
            "/v1/credit-history", json={"customer_id": customer}, headers={"X-API-Key": API_KEY}
        ).json()
        assert history["decisions"] == []
        done = client.post(
            "/ui/desk/decision", data={**fields, "csrf": token}, headers={**EN, **origin},
            follow_redirects=False,
        )  # fmt: skip
        assert done.status_code == 303, done.text
        assert done.headers["location"].endswith("recorded=1#desk-h")
        noted = client.post(
            "/ui/desk/note",
            data={"customer_id": customer, "text": "Relancé par téléphone", "csrf": token},
            headers={**FR, **origin},
            follow_redirects=False,
        )
        assert noted.status_code == 303
        french = client.get(done.headers["location"].replace("lang=en", "lang=fr"), headers=FR)
        shown_text = htmllib.unescape(re.sub(r"<[^>]+>", " ", french.text))
        assert "Enregistré." in shown_text
        assert "Refuser (recommandé" in shown_text
        assert "Relancé par téléphone" in shown_text
        assert AUTHOR in shown_text
        export = client.get(f"/ui/desk/export.csv?customer_id={customer}")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert [r["decision"] for r in rows] == ["decline"]
    assert rows[0]["author"] == AUTHOR
    if fields["override_reason"]:
        assert rows[0]["override_reason"].startswith("'=HYPERLINK")


def test_a_refused_page_decision_says_why_beside_the_form(client):
    customer = "C000007"
    with signed_in(client):
        page = form_page(client, customer, EN)
        token = CSRF_FIELD.search(page).group(1)
        refused = client.post(
            "/ui/desk/decision",
            data={
                "customer_id": customer, "requested_amount": "5000", "terms_days": "30",
                "decision": "approve", "granted_terms_days": "90", "csrf": token,
                "override_reason": "asked",
            },
            headers={**EN, "Origin": "http://testserver"},
            follow_redirects=False,
        )  # fmt: skip
    assert refused.status_code == 422
    assert 'id="desk-error"' in refused.text
    assert "granted_terms_days: 90 days exceed the legal maximum" in refused.text
    assert 'id="decision-form"' in refused.text  # the form again, to correct


def test_provisions_agree_between_the_api_the_page_and_the_export(client):
    from payrisk.core.i18n import Formats

    answer = client.post("/v1/provisions", json={"limit": 10_000})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["doubtful_invoices"] > 0, "the sample should have invoices 90+ days past due"
    assert all(i["days_past_due"] >= body["doubtful_after_days"] for i in body["invoices"])
    assert body["total"] == pytest.approx(round(sum(i["provision"] for i in body["invoices"]), 2))
    export = client.get("/ui/desk/provisions.csv")
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert len(rows) == body["doubtful_invoices"]
    assert round(sum(float(r["provision"]) for r in rows), 2) == pytest.approx(body["total"])
    page = htmllib.unescape(client.get("/ui/", headers=EN).text)
    assert f"Total provision: {Formats('en').money(body['total'])}" in page
    top = body["invoices"][0]
    one = client.post("/v1/provisions", json={"customer_id": top["customer_id"]}).json()
    customer_page = htmllib.unescape(
        client.get(f"/ui/customers/{top['customer_id']}", headers=EN).text
    )
    assert Formats("en").money(one["total"]) in customer_page
    assert one["total"] >= top["provision"]


def test_the_daf_months_are_on_the_page_and_in_the_export(client, bundle):
    months = bundle.kpis["monthly"]
    assert len(months) == 12
    assert all(r["cei"] is None or 0 <= r["cei"] <= 150 for r in months)
    page = htmllib.unescape(client.get("/ui/", headers=FR).text)
    assert 'id="monthly"' in page and "DSO (épuisement)" in page
    last = months[-1]
    assert f"{last['countback_dso_days']:.1f}".replace(".", ",") in page
    export = client.get("/ui/desk/monthly.csv")
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert [r["month"] for r in rows] == [r["month"] for r in months]
    assert float(rows[-1]["cei"]) == last["cei"]


def test_customers_over_their_credit_limit_are_flagged_in_the_portfolio(client, bundle):
    customers = bundle.customers
    over = customers.loc[customers["open_amount"] > customers["credit_limit"]]
    assert len(over), "the sample has customers over their limit"
    worst = over.assign(excess=over["open_amount"] - over["credit_limit"]).nlargest(1, "excess")
    row = worst.iloc[0]
    page = htmllib.unescape(
        client.get("/ui/", params={"view": "customers", "q": row["customer_id"]}, headers=EN).text
    )
    from payrisk.core.i18n import Formats

    excess = Formats("en").money(row["open_amount"] - row["credit_limit"], cents=False)
    assert f"over the limit by {excess}" in page


def test_the_decisions_page_reports_overrides(client):
    customer = "C000010"
    shown = review(client, customer)
    recorded = decide(client, customer, **departing(shown), override_reason="sector in crisis")
    assert recorded.status_code == 200, recorded.text
    counts = client.post("/v1/credit-history", json={"customer_id": customer}).json()
    assert counts["decisions"][0]["override"] is True
    page = htmllib.unescape(client.get("/ui/desk", headers=EN).text)
    assert "departing from the recommendation" in page
    assert 'id="override-matrix"' in page and 'id="override-then"' in page
    assert f"/ui/customers/{customer}" in page and "sector in crisis" in page
    french = htmllib.unescape(client.get("/ui/desk", headers=FR).text)
    assert "s'écartant de la recommandation" in french


def test_a_key_may_carry_the_name_the_record_shows_never_the_key():
    named = ApiKeys.from_keys([f"{API_KEY} alice", "another-key-0123456789"])
    alice, other = named.digests
    assert named.author(alice) == "alice"
    assert named.author(other) == key_id(other) and key_id(other).startswith("key-")
    assert API_KEY not in key_id(alice) and len(key_id(alice)) == 12
    session = named.session_token(alice)
    assert named.session_digest(session) == alice
    assert named.csrf_token(alice, session) != named.csrf_token(other, session)
    with pytest.raises(Exception, match="printable ASCII"):
        ApiKeys.from_keys([f"{API_KEY} not a name"])


def test_exports_open_in_a_spreadsheet_library_as_text_never_formulas(client):
    import openpyxl

    customer = "C000013"
    recorded = decide(
        client,
        customer,
        **departing(review(client, customer)),
        override_reason='=HYPERLINK("http://evil.example","click")',
    )
    assert recorded.status_code == 200, recorded.text
    for path in (
        f"/ui/desk/export.csv?customer_id={customer}&format=xlsx",
        "/ui/desk/provisions.csv?format=xlsx",
        "/ui/desk/monthly.csv?format=xlsx",
    ):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
        sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
        rows = list(sheet.iter_rows(values_only=True))
        assert len(rows) >= 2 and all(isinstance(h, str) for h in rows[0])
        assert not any(c.data_type == "f" for line in sheet.iter_rows() for c in line)
    sheet = openpyxl.load_workbook(
        io.BytesIO(client.get(f"/ui/desk/export.csv?customer_id={customer}&format=xlsx").content)
    ).active
    header = [c.value for c in sheet[1]]
    reason = sheet.cell(row=2, column=header.index("override_reason") + 1)
    assert reason.value.startswith("'=HYPERLINK") and reason.data_type == "s"
    amount = sheet.cell(row=2, column=header.index("requested_amount") + 1)
    assert amount.value == 5000 and amount.data_type == "n"
