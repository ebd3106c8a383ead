"""The review pages through the service's ASGI app: content, language, query handling, forms,
escaping."""

from __future__ import annotations

import dataclasses
import html as htmllib
import json
import re
import shutil
import time

import pandas as pd
import pytest

from payrisk.core.i18n import Formats
from payrisk.web import pages
from payrisk.web.bundle import PAGE_SIZE, BundleHolder, InvoiceQuery, query_invoices

ROW = re.compile(r'<tr[^>]*><td class="num">(\d+)</td>\s*<th scope="row">([^<\s]+)')
EN = {"Accept-Language": "en-GB,en;q=0.9"}
FR = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}
EN_F, FR_F = Formats("en"), Formats("fr")
# Codes of the data that a credit manager must never read on a page.
RAW_CODES = (
    "not_due", "over_90", "refer_to_credit_manager", "approve_with_conditions", "lightgbm",
    "historical_rate", "credit_manager_review", "dispute_resolution", "write_off_review",
    "formal_notice", "key_account", "days_past_due", "late_share", "sales_rep", "unknown",
)  # fmt: skip
NEGATIVE_LATE = re.compile(r"-\d+\s*(days?|jours?|j|d)\s*(late|de retard)")


def invoice_rows(html: str) -> list[tuple[int, str]]:
    return [(int(rank), invoice) for rank, invoice in ROW.findall(html)]


def text_of(html: str) -> str:
    """What a reader sees: tags stripped, entities decoded."""
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", html))


def test_portfolio_shows_kpis_charts_and_the_worklist(client, bundle):
    response = client.get("/ui/", headers=EN)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    for label in ("DSO, last 90 days", "DSO, predicted", "Overdue amount", "Expected loss",
                  "Dispute rate", "Amount at risk of default"):  # fmt: skip
        assert label in html
    assert EN_F.money(bundle.kpis["overdue_amount"], cents=False) in text_of(html)
    assert html.count("<svg") == 2 and "<title" in html and 'role="img"' in html
    rows = invoice_rows(html)
    assert len(rows) == min(PAGE_SIZE, len(bundle.invoices))
    assert [rank for rank, _ in rows] == sorted(rank for rank, _ in rows)
    assert rows[0][1] == bundle.invoices.iloc[0]["invoice_id"]
    assert "<script" not in html  # no JavaScript needed
    assert '<th scope="col"' in html and '<label for="q">' in html
    # The headline counts the customers with open invoices, the ones the customer view lists.
    with_open = bundle.customers["customer_id"].nunique()
    assert with_open < bundle.kpis["customers"]  # the ledger has customers with nothing open
    assert (
        f"{with_open:,} customers with {bundle.kpis['open_invoices']:,} open invoices "
        f"({bundle.kpis['customers']:,} in the ledger)"
    ) in text_of(html)


def test_expected_loss_says_what_it_counts(client, bundle):
    """Not open amount x P(default) read as a loss forecast: the recovery rate is applied and
    shown, and the amount at risk is shown beside it."""
    k = bundle.kpis
    assert 0 < k["recovery_rate"] < 1
    assert k["expected_loss"] == pytest.approx(k["amount_at_risk"] * (1 - k["recovery_rate"]), 1)
    shown = text_of(client.get("/ui/", headers=EN).text)
    assert f"after {EN_F.pct(k['recovery_rate'])} recovered in the end" in shown
    assert EN_F.money(k["amount_at_risk"], cents=False) in shown


def test_pages_follow_the_browsers_language_and_the_readers_choice(client):
    french = client.get("/ui/", headers=FR)
    assert '<html lang="fr">' in french.text and "Encours" in french.text
    assert "Montant échu" in french.text and "Perte attendue" in french.text
    english = client.get("/ui/", headers=EN)
    assert '<html lang="en">' in english.text and "Overdue amount" in english.text
    # Nothing we speak: the policy's language (fr in configs/dunning.yaml).
    assert '<html lang="fr">' in client.get("/ui/", headers={"Accept-Language": "de"}).text
    chosen = client.get("/ui/?lang=en", headers=FR)
    assert '<html lang="en">' in chosen.text
    assert "payrisk_lang=en" in chosen.headers["set-cookie"]
    client.cookies.set("payrisk_lang", "en")
    try:
        assert '<html lang="en">' in client.get("/ui/model", headers=FR).text
    finally:
        client.cookies.delete("payrisk_lang")


@pytest.mark.parametrize("headers", [EN, FR], ids=["en", "fr"])
def test_pages_show_words_and_local_formats_never_raw_codes(client, bundle, headers):
    customer = bundle.invoices.iloc[0]["customer_id"]
    formats = EN_F if headers is EN else FR_F
    for path in ("/ui/", "/ui/?view=customers", f"/ui/customers/{customer}", "/ui/model"):
        shown = text_of(client.get(path, headers=headers).text)
        for code in RAW_CODES:
            assert code not in shown, (path, code)
        assert not NEGATIVE_LATE.search(shown), (path, NEGATIVE_LATE.search(shown))
        assert "-0.00" not in shown and "-0,00" not in shown
    portfolio = text_of(client.get("/ui/", headers=headers).text)
    assert formats.money(bundle.invoices.iloc[0]["open_amount"]) in portfolio
    assert formats.day(bundle.invoices.iloc[0]["due_date"]) in portfolio
    if headers is FR:
        assert "Non échu" in portfolio and "Plus de 90 j" in portfolio
    else:
        assert "Not yet due" in portfolio and "Over 90 days" in portfolio


def test_charts_have_axis_titles_and_legends(client, bundle):
    customer = bundle.invoices.iloc[0]["customer_id"]
    for path, charts in (("/ui/", 2), (f"/ui/customers/{customer}", 1), ("/ui/model", 2)):
        html = client.get(path, headers=EN).text
        svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
        assert len(svgs) >= charts
        for svg in svgs:
            assert svg.count('class="axis"') == 2, path
        with_legend = [svg for svg in svgs if 'class="legend"' in svg]
        assert len(with_legend) >= (1 if path == "/ui/" else charts), path
    portfolio = client.get("/ui/", headers=EN).text
    assert "Likely range (80%)" in portfolio and "Days past due" in portfolio


def test_search_finds_a_customer_and_an_invoice(client, bundle):
    customer = bundle.invoices.iloc[3]["customer_id"]
    html = client.get("/ui/", params={"q": customer.lower()}).text
    rows = invoice_rows(html)
    expected = bundle.invoices.loc[bundle.invoices["customer_id"] == customer, "invoice_id"]
    assert {invoice for _, invoice in rows} == set(expected.head(PAGE_SIZE))
    assert f'/ui/customers/{customer}"' in html
    invoice = bundle.invoices.iloc[7]["invoice_id"]
    assert [i for _, i in invoice_rows(client.get("/ui/", params={"q": invoice}).text)] == [invoice]


def test_paging_sorting_and_filters(client, bundle):
    assert len(bundle.invoices) > PAGE_SIZE
    first = invoice_rows(client.get("/ui/").text)
    second = invoice_rows(client.get("/ui/", params={"page": 2}).text)
    assert second and not {i for _, i in first} & {i for _, i in second}
    assert 'rel="next"' in client.get("/ui/").text
    by_delay = client.get("/ui/", params={"sort": "expected_days_late"}).text
    delays = bundle.invoices.set_index("invoice_id")["expected_days_late"]
    shown = [delays[i] for _, i in invoice_rows(by_delay)]
    assert shown == sorted(shown, reverse=True) and shown[0] == delays.max()
    filtered = client.get("/ui/", params={"min_late": 80, "page": 1}).text
    late = bundle.invoices.set_index("invoice_id")["late_probability"]
    assert all(late[i] >= 0.8 for _, i in invoice_rows(filtered))
    scenario = bundle.scenarios[0]
    chosen = client.get("/ui/", params={"scenario": scenario}, headers=EN).text
    scenarios = bundle.invoices.set_index("invoice_id")["scenario"]
    assert all(scenarios[i] == scenario for _, i in invoice_rows(chosen))
    matching = int((bundle.invoices["scenario"] == scenario).sum())
    assert f"{matching:,} invoices match" in chosen
    junk = client.get(
        "/ui/", params={"sort": "drop table", "page": "x", "min_late": "y", "view": "z"}
    )
    assert junk.status_code == 200


def test_the_not_yet_due_filter(client, bundle):
    as_of = pd.Timestamp(bundle.kpis["as_of"])
    due = bundle.invoices.set_index("invoice_id")["due_date"]
    not_due = int((bundle.invoices["due_date"] >= as_of).sum())
    assert 0 < not_due < len(bundle.invoices)
    html = client.get("/ui/", params={"status": "not_due", "sort": "late_probability"},
                      headers=EN).text  # fmt: skip
    rows = invoice_rows(html)
    assert rows and all(due[i] >= as_of for _, i in rows)
    assert f"{not_due:,} invoices match" in html
    past = invoice_rows(client.get("/ui/", params={"status": "past_due"}).text)
    assert past and all(due[i] < as_of for _, i in past)


def test_the_not_yet_due_bar_is_explained_and_spoken(client):
    """The bar marking a not-yet-due row had no legend, and screen readers got nothing."""
    legend = {
        EN["Accept-Language"]: "A bar at the left of an invoice: not yet due.",
        FR["Accept-Language"]: "Barre à gauche d'une facture : pas encore échue.",
    }
    for headers in (EN, FR):
        mixed = client.get("/ui/", headers=headers).text
        assert 'class="not-due"' in mixed
        assert htmllib.unescape(mixed).count(legend[headers["Accept-Language"]]) == 1
        assert 'class="sr-only"> (not yet due)' in mixed or "(pas encore échue)" in mixed
    past = client.get("/ui/", params={"status": "past_due"}, headers=EN).text
    assert 'class="not-due"' not in past and legend[EN["Accept-Language"]] not in past


def test_the_view_by_customer(client, bundle):
    html = client.get("/ui/", params={"view": "customers"}, headers=EN).text
    table = html[html.index('id="customers"') :]
    customers = re.findall(r'<th scope="row"><a href="/ui/customers/([^"]+)">', table)
    assert len(customers) == min(PAGE_SIZE, bundle.customers["customer_id"].nunique())
    assert len(set(customers)) == len(customers)  # one row each, not one per invoice
    losses = bundle.customers.set_index("customer_id")["expected_loss"]
    shown = [losses[c] for c in customers]
    assert shown == sorted(shown, reverse=True)
    top = bundle.customers.sort_values("expected_loss", ascending=False).iloc[0]
    assert EN_F.money(top["open_amount"]) in text_of(table)
    total = bundle.customers["customer_id"].nunique()
    assert f"{total:,} customers match" in html
    # How many invoices the next contact covers, in words: "1 invoice", never "1 invoices".
    covers = re.findall(r'class="muted">· ([^<]+)</span>', table)
    assert covers and "1 invoices" not in covers
    assert all(re.fullmatch(r"1 invoice|[\d,]+ invoices", text) for text in covers), covers
    counts = bundle.customers.set_index("customer_id").loc[customers, "next_contact_invoices"]
    assert ("1 invoice" in covers) == bool((counts == 1).any())


def test_customer_page_shows_history_invoices_and_aged_balance(client, bundle):
    customer = bundle.invoices.iloc[0]["customer_id"]
    response = client.get(f"/ui/customers/{customer}", headers=EN)
    assert response.status_code == 200
    html = response.text
    assert f"Customer {customer}" in html
    assert "Days late per settled invoice" in html and "<circle" in html
    mine = bundle.invoices.loc[bundle.invoices["customer_id"] == customer]
    for invoice in mine["invoice_id"]:
        assert invoice in html
    assert "Total past due" in html and '<label for="requested_amount">' in html
    # The open amount at the top is the sum of the open invoices below it.
    assert EN_F.money(mine["open_amount"].sum()) in text_of(html)
    # Reasons, what raises and what lowers the risk, in the page's language.
    french = text_of(client.get(f"/ui/customers/{customer}", headers=FR).text)
    first = json.loads(mine.iloc[0]["reasons_json"])
    assert first and any(r["direction"] == "raises" for r in first)
    from payrisk.policy.reasons import describe

    for reason in first:
        assert describe(reason["feature"], reason["value"], EN_F) in text_of(html)
        assert describe(reason["feature"], reason["value"], FR_F) in french


def test_the_customer_pages_past_due_total_is_of_the_snapshots_day_as_its_invoices(client, bundle):
    """The page shows the snapshot's invoices: what is past due is past due on its day, not on
    today's (a request without as_of is answered as of today)."""
    invoices = bundle.invoices
    soon = invoices.loc[invoices["due_date"] >= bundle.as_of].sort_values("due_date")
    customer = soon.iloc[0]["customer_id"]  # its invoice fell due since the snapshot
    mine = invoices.loc[invoices["customer_id"] == customer]
    html = client.get(f"/ui/customers/{customer}", headers=EN).text
    past_due = mine.loc[mine["due_date"] < bundle.as_of, "open_amount"].sum()
    total = re.search(r"Total past due\s*</\w+>\s*<\w+[^>]*>([^<]+)<", html)
    assert total and total.group(1).strip() == EN_F.money(past_due)


def test_credit_review_form_returns_a_recommendation(client, bundle):
    customer = bundle.invoices.iloc[0]["customer_id"]
    response = client.post(
        f"/ui/customers/{customer}",
        data={"requested_amount": "25000", "terms_days": "45"},
        headers=EN,
    )
    assert response.status_code == 200
    html = response.text
    assert "Recommendation:" in html and "Grounds" in html
    assert re.search(r"Recommendation:\s*<strong>\w", html)
    assert "could be approved within policy" in html
    assert 'value="25000"' in html and 'value="45"' in html
    bad = client.post(f"/ui/customers/{customer}", data={"requested_amount": "-1"})
    assert bad.status_code == 422 and 'role="alert"' in bad.text


def test_a_prospect_gets_a_credit_review(client):
    page = client.get("/ui/credit-review", headers=EN)
    assert page.status_code == 200 and '<label for="customer_id">' in page.text
    response = client.post(
        "/ui/credit-review",
        data={"customer_id": "PROSPECT-2027", "requested_amount": "30000", "terms_days": "45"},
        headers=EN,
    )
    assert response.status_code == 200
    shown = text_of(response.text)
    assert "Recommendation:" in shown and "Prospect: no payment history" in shown
    assert "new customer without payment history" in shown  # the rule that applies to it
    assert 'value="PROSPECT-2027"' in response.text
    french = text_of(
        client.post(
            "/ui/credit-review",
            data={"customer_id": "PROSPECT-2027", "requested_amount": "30000", "terms_days": "45"},
            headers=FR,
        ).text
    )
    assert "Recommandation" in french and "nouveau client sans historique" in french


def test_a_prospect_asking_much_goes_to_a_credit_manager(client):
    """Before: a prospect got "approve" and "at least EUR 200,000 within policy" on a model that
    has nothing of its own about it."""
    cap = 50_000  # refer_new_customer_over_amount in configs/dunning.yaml
    small = client.post(
        "/v1/credit-review",
        json={"customer_id": "PROSPECT-9", "requested_amount": 10_000, "language": "en"},
    ).json()
    assert small["known_customer"] is False and small["recommendation"] == "approve"
    assert small["max_approvable_bound"] in ("new_customer", "default_probability")
    assert 10_000 <= small["max_approvable_amount"] <= cap
    large = client.post(
        "/v1/credit-review",
        json={"customer_id": "PROSPECT-9", "requested_amount": 80_000, "language": "en"},
    ).json()
    assert large["recommendation"] in ("refer_to_credit_manager", "decline")
    assert any("a credit manager decides" in ground for ground in large["grounds"])
    assert large["max_approvable_amount"] <= cap
    assert not any("never reminded" in r["text"] for r in small["reasons"] + large["reasons"])


def test_credit_review_grounds_name_every_rule_that_applies(client, bundle):
    """A customer over its credit limit and with a high default probability: both rules are
    grounds, and nothing more can be approved."""
    plans = bundle.customers.set_index("customer_id")
    risky = plans.sort_values("default_probability", ascending=False).index[0]
    review = client.post(
        "/v1/credit-review",
        json={"customer_id": risky, "requested_amount": 1_000_000, "language": "en"},
    ).json()
    assert review["credit_limit"] is not None and review["exposure"] > review["credit_limit"]
    grounds = " | ".join(review["grounds"])
    assert "exceed the credit limit" in grounds
    assert "default probability" in grounds
    assert review["recommendation"] in ("refer_to_credit_manager", "decline")
    assert review["max_approvable_amount"] <= max(review["credit_limit"] - review["open_amount"], 0)


def test_model_page_shows_metrics_calibration_and_features(client, trained):
    html = client.get("/ui/model", headers=EN).text
    shown = text_of(html)
    assert f"v{trained.report['registry']['version']}" in shown
    assert "Customer's historical rate (baseline)" in shown
    assert "Logistic regression (baseline)" in shown
    assert "Calibration curve: paid late" in shown and 'class="line curve"' in html
    assert "Mean |SHAP|" in shown and "Days past due" in shown
    assert "Challenger" in shown
    # The holdout's policy evaluation, as the run report has it.
    evaluation = trained.report["policy_evaluation"]
    assert "Dunning policy on the holdout" in shown and "Doubly robust" in shown
    words = {"learned": "learned policy", "logged": "logged (history)", "no_contact": "no contact"}
    for name, values in evaluation["policies"].items():
        assert f'<th scope="row">{words.get(name, name)}</th>' in html
        assert f"{values['dr']['value'] * 100:.1f}%" in shown


def test_customer_page_says_what_works_for_this_customer(client, bundle):
    learned = bundle.invoices.loc[
        (bundle.invoices["policy"] == "learned") & (bundle.invoices["alternatives"] != "[]")
    ]
    assert len(learned)
    row = learned.iloc[0]
    html = client.get(f"/ui/customers/{row['customer_id']}", headers=EN).text
    assert "What works for this customer" in html
    first = (
        bundle.invoices.loc[
            (bundle.invoices["customer_id"] == row["customer_id"])
            & (bundle.invoices["alternatives"] != "[]")
        ]
        .sort_values("action_date")
        .iloc[0]
    )
    options = json.loads(first["alternatives"])
    channel_words = {"email": "E-mail", "sms": "SMS", "phone": "Phone call", "letter": "Letter",
                     "formal_notice": "Formal notice", "agency": "Collection agency"}  # fmt: skip
    for option in options:
        assert f'<th scope="row">{channel_words[option["channel"]]}</th>' in html
        assert f"{option['probability'] * 100:.0f}%" in text_of(html)


def test_model_page_says_which_model_answers_and_shows_the_holdout_by_age(client, trained):
    html = client.get("/ui/model", headers=EN).text
    assert "Model of each target" in html and "Default, given late" in html
    assert "Default (not paid within 90 days of the due date)" in html  # train.yaml's horizon
    chosen = trained.report["registered_models"]["late"]["model"]
    assert {"lightgbm": "LightGBM", "logistic": "logistic regression"}.get(chosen, chosen) in html
    assert "not learnable" not in html
    assert "Holdout by snapshot age and segment" in html
    at_issue = trained.report["holdout_by_group"]["at_issue"]["late"]["model"]["roc_auc"]
    row = html[html.index("At issue") : html.index("On the due date")]
    assert f"{at_issue:,.3f}" in row
    assert "New customers" in html and "Known customers" in html
    french = client.get("/ui/model", headers={"Accept-Language": "fr"}).text
    assert "Modèle de chaque cible" in french and "Clients connus" in french


def test_unknown_customer_is_404_and_ids_are_escaped(client):
    attack = "<script>alert(1)</script>"
    response = client.get(f"/ui/customers/{attack}", headers=EN)
    assert response.status_code == 404
    assert attack not in response.text and "&lt;script&gt;" in response.text
    assert "Credit review page" in response.text
    search = client.get("/ui/", params={"q": attack}, headers=EN).text
    assert attack not in search and "No open invoice matches" in search


def test_ids_from_the_data_are_escaped(bundle):
    attack = '"><script>alert(1)</script>'
    invoices = bundle.invoices.copy()
    invoices.loc[0, "customer_id"] = attack
    invoices.loc[0, "reasons_json"] = ""
    invoices.loc[0, "reason_1"] = attack
    poisoned = dataclasses.replace(bundle, invoices=invoices)
    query = InvoiceQuery()
    html = pages.portfolio_page(poisoned, query_invoices(invoices, query), query, pages.Layout())
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_pages_follow_a_new_bundle(bundle, snapshot_file, tmp_path):
    folder = tmp_path / "portfolio"
    shutil.copytree(snapshot_file.parent / "portfolio", folder)
    holder = BundleHolder(folder)
    assert holder.get().kpis["as_of"] == bundle.kpis["as_of"]
    time.sleep(0.01)
    kpis = json.loads((folder / "kpis.json").read_text())
    (folder / "kpis.json").write_text(json.dumps({**kpis, "as_of": "2099-01-01"}))
    assert holder.get().kpis["as_of"] == "2099-01-01"
    (folder / "kpis.json").write_text("{broken")
    assert holder.get().kpis["as_of"] == "2099-01-01"  # keeps the last good bundle


@pytest.mark.parametrize("language", ["en", "fr"])
def test_report_is_one_self_contained_file(project_env, tmp_path, language):
    from typer.testing import CliRunner

    from payrisk.cli import app

    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", "--data", str(project_env.data_dir), "--out",
                                      str(out), "--language", language])  # fmt: skip
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert f'<html lang="{language}">' in html
    if language == "en":
        assert "Open invoices" in html and "Calibration curve" in html
    else:
        assert "Factures ouvertes" in html and "Courbe de calibration" in html
    assert html.count("<svg") >= 4
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "<script" not in html and "<link" not in html
    # The one stylesheet, inlined: the file is read where no server is there to fetch it from.
    assert html.count("<style>") == 1 and f"<style>{pages.stylesheet()}</style>" in html
    assert "</style" not in pages.stylesheet() and "url(" not in pages.stylesheet()
