"""The review pages through the service's ASGI app: content, query handling, forms, escaping."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import time

from payrisk.web import pages
from payrisk.web.bundle import PAGE_SIZE, BundleHolder, InvoiceQuery, query_invoices

ROW = re.compile(r'<tr><td class="num">(\d+)</td>\s*<th scope="row">([^<]+)</th>')


def invoice_rows(html: str) -> list[tuple[int, str]]:
    return [(int(rank), invoice) for rank, invoice in ROW.findall(html)]


def test_portfolio_shows_kpis_charts_and_the_worklist(client, bundle):
    response = client.get("/ui/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    for label in ("DSO, last 90 days", "DSO, predicted", "Overdue amount", "Expected loss",
                  "Dispute rate"):  # fmt: skip
        assert label in html
    assert f"{bundle.kpis['overdue_amount']:,.2f}" in html
    assert html.count("<svg") == 2 and "<title" in html and 'role="img"' in html
    rows = invoice_rows(html)
    assert len(rows) == min(PAGE_SIZE, len(bundle.invoices))
    assert [rank for rank, _ in rows] == sorted(rank for rank, _ in rows)
    assert rows[0][1] == bundle.invoices.iloc[0]["invoice_id"]
    assert "<script" not in html  # no JavaScript needed
    assert '<th scope="col"' in html and '<label for="q">' in html


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
    chosen = client.get("/ui/", params={"scenario": scenario}).text
    scenarios = bundle.invoices.set_index("invoice_id")["scenario"]
    assert all(scenarios[i] == scenario for _, i in invoice_rows(chosen))
    matching = int((bundle.invoices["scenario"] == scenario).sum())
    assert f"{matching:,} invoices match" in chosen
    junk = client.get("/ui/", params={"sort": "drop table", "page": "x", "min_late": "y"})
    assert junk.status_code == 200


def test_customer_page_shows_history_invoices_and_aged_balance(client, bundle):
    customer = bundle.invoices.iloc[0]["customer_id"]
    response = client.get(f"/ui/customers/{customer}")
    assert response.status_code == 200
    html = response.text
    assert f"Customer {customer}" in html
    assert "Days late per settled invoice" in html and "<circle" in html
    for invoice in bundle.invoices.loc[bundle.invoices["customer_id"] == customer, "invoice_id"]:
        assert invoice in html
    assert bundle.invoices.iloc[0]["reason_1"] in html
    assert "Total past due" in html and '<label for="requested_amount">' in html


def test_credit_review_form_returns_a_recommendation(client, bundle):
    customer = bundle.invoices.iloc[0]["customer_id"]
    response = client.post(
        f"/ui/customers/{customer}", data={"requested_amount": "25000", "terms_days": "45"}
    )
    assert response.status_code == 200
    html = response.text
    assert "Recommendation:" in html and "Grounds" in html
    assert re.search(r"Recommendation:\s*<strong>\w", html)
    assert 'value="25000"' in html and 'value="45"' in html
    bad = client.post(f"/ui/customers/{customer}", data={"requested_amount": "-1"})
    assert bad.status_code == 422 and 'role="alert"' in bad.text


def test_model_page_shows_metrics_calibration_and_features(client, trained):
    html = client.get("/ui/model").text
    assert f"v{trained.report['registry']['version']}" in html
    assert "historical_rate" in html and "logistic" in html
    assert "Calibration curve: paid late" in html and 'class="line curve"' in html
    assert "Mean |SHAP|" in html
    assert "Challenger" in html


def test_model_page_says_which_model_answers_and_shows_the_holdout_by_age(client, trained):
    html = client.get("/ui/model").text
    assert "Model of each target" in html and "Default, given late" in html
    chosen = trained.report["registered_models"]["late"]["model"]
    assert {"lightgbm": "LightGBM", "logistic": "logistic regression"}.get(chosen, chosen) in html
    assert "not learnable" not in html
    assert "Holdout by snapshot age and segment" in html
    at_issue = trained.report["holdout_by_group"]["at_issue"]["late"]["model"]["roc_auc"]
    row = html[html.index("At issue") : html.index("On the due date")]
    assert f"{at_issue:,.3f}" in row
    assert "New customers" in html and "Known customers" in html


def test_unknown_customer_is_404_and_ids_are_escaped(client):
    attack = "<script>alert(1)</script>"
    response = client.get(f"/ui/customers/{attack}")
    assert response.status_code == 404
    assert attack not in response.text and "&lt;script&gt;" in response.text
    search = client.get("/ui/", params={"q": attack}).text
    assert attack not in search and "No open invoice matches" in search


def test_ids_from_the_data_are_escaped(bundle):
    attack = '"><script>alert(1)</script>'
    invoices = bundle.invoices.copy()
    invoices.loc[0, "customer_id"] = attack
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


def test_report_is_one_self_contained_file(project_env, tmp_path):
    from typer.testing import CliRunner

    from payrisk.cli import app

    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", "--data", str(project_env.data_dir), "--out",
                                      str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "Predicted late payers" in html and "Calibration curve" in html
    assert html.count("<svg") >= 4
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "<script" not in html and "<link" not in html
    # The one stylesheet, inlined: the file is read where no server is there to fetch it from.
    assert html.count("<style>") == 1 and f"<style>{pages.stylesheet()}</style>" in html
    assert "</style" not in pages.stylesheet() and "url(" not in pages.stylesheet()
