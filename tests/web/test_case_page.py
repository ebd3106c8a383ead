"""The customer page shows the dunning case (issue 25): what was sent, promises, plans, holds, the
next step with the ladder's reason, in the reader's language; and an over-limit flag."""

from __future__ import annotations

import html as htmllib
import re

from payrisk.core.i18n import Formats
from payrisk.policy.ladder import LADDER_REASONS
from payrisk.web.i18n import Words

EN = {"Accept-Language": "en-GB,en;q=0.9"}
FR = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}


def _text(html: str) -> str:
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", html))


def _case(html: str) -> str:
    start = html.index('id="dunning-case"')
    return _text(html[start : html.index("</table>", start)])


def test_the_case_shows_a_plans_instalment_in_both_languages(client, bundle):
    planned = bundle.invoices.loc[bundle.invoices["state_plan_due_date"].notna()]
    assert len(planned), "the sample has invoices on a payment plan"
    row = planned.iloc[0]
    for headers, language, heading, column in (
        (EN, "en", "The dunning case", "Payment plan"),
        (FR, "fr", "Le dossier de relance", "Échéancier"),
    ):
        html = client.get(f"/ui/customers/{row.customer_id}", headers=headers).text
        case = _case(html)
        assert heading in _text(html) and column in case
        f = Formats(language)
        assert f.money(row.state_plan_amount) in case
        assert f.day(row.state_plan_due_date) in case
        assert not any(code in case for code in LADDER_REASONS)  # reasons in words only


def test_the_case_names_the_formal_notice_and_the_hardest_step_sent(client, bundle):
    noticed = bundle.invoices.loc[bundle.invoices["state_notice_date"].notna()]
    assert len(noticed), "the sample has formal notices sent"
    row = noticed.iloc[0]
    case = _case(client.get(f"/ui/customers/{row.customer_id}", headers=EN).text)
    assert f"formal notice of {Formats('en').day(row.state_notice_date)}" in case


def test_exposure_over_the_credit_limit_is_flagged(client, bundle, sample_dataset):
    limits = sample_dataset.customers.set_index("customer_id")["credit_limit"]
    exposure = bundle.customers.set_index("customer_id")["open_amount"]
    over = (exposure - limits.reindex(exposure.index)).dropna()
    customer = over.idxmax()
    assert over[customer] > 0, "a customer of the sample owes more than its limit"
    html = client.get(f"/ui/customers/{customer}", headers=EN).text
    assert "over the limit by" in _text(html)
    within = over.idxmin()
    if over[within] < 0:
        assert "over the limit by" not in _text(
            client.get(f"/ui/customers/{within}", headers=EN).text
        )


def _log(html: str) -> list[list[str]]:
    start = html.index('id="reminder-log"')
    body = html[html.index("<tbody>", start) : html.index("</tbody>", start)]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    cells = r"<t[hd][^>]*>(.*?)</t[hd]>"
    return [[_text(cell).strip() for cell in re.findall(cells, row)] for row in rows]


def test_the_case_lists_every_reminder_sent_about_open_invoices_newest_first(
    client, bundle, sample_dataset
):
    import pandas as pd

    as_of = pd.Timestamp(bundle.kpis["as_of"])
    reminders = sample_dataset.reminders
    open_ids = set(bundle.invoices["invoice_id"])
    sent = reminders.loc[reminders["invoice_id"].isin(open_ids) & (reminders["sent_date"] < as_of)]
    owner = bundle.invoices.set_index("invoice_id")["customer_id"]
    customer = sent["invoice_id"].map(owner).value_counts().index[0]
    mine = sent.loc[sent["invoice_id"].map(owner) == customer]
    assert len(mine) >= 2, "a customer of the sample was reminded twice about open invoices"
    for headers, language in ((EN, "en"), (FR, "fr")):
        rows = _log(client.get(f"/ui/customers/{customer}", headers=headers).text)
        words = Words(language)
        assert len(rows) == len(mine)
        days = sorted(mine["sent_date"], reverse=True)
        assert [r[0] for r in rows] == [words.f.day(d) for d in days]
        assert sorted(r[1] for r in rows) == sorted(mine["invoice_id"])
        channels = sorted(words.label("channel", c) for c in mine["channel"])
        assert sorted(r[2] for r in rows) == channels  # in words, not the ledger's codes
    quiet = bundle.invoices.loc[~bundle.invoices["invoice_id"].isin(sent["invoice_id"])]
    nobody = set(quiet["customer_id"]) - set(sent["invoice_id"].map(owner))
    if nobody:
        html = client.get(f"/ui/customers/{sorted(nobody)[0]}", headers=EN).text
        assert "No reminder sent about its open invoices." in _text(html)
