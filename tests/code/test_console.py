"""`payrisk score`'s console worklist: one language, the one its reasons are in."""

from __future__ import annotations

import pandas as pd

from payrisk.policy.planning import ScoredPortfolio
from payrisk.web.i18n import Words
from pipelines.scoring import render_worklist


def portfolio(reason: str) -> ScoredPortfolio:
    invoices = pd.DataFrame(
        {
            "priority_rank": [1, 2],
            "invoice_id": ["INV-1", "INV-2"],
            "open_amount": [12_345.5, 800.0],
            "late_probability": [0.78, 0.2],
            "default_probability": [0.31, 0.02],
            "action": ["remind", "credit_manager_review"],
            "channel": ["email", None],
            "action_date": pd.to_datetime(["2026-12-01", "2026-12-03"]),
            "reasons": [[{"text": reason}], []],
        }
    )
    customers = pd.DataFrame({"scenario": ["firm", "firm", "light"]})
    return ScoredPortfolio(invoices=invoices, customers=customers)


def test_the_worklist_speaks_french_with_french_reasons():
    text = render_worklist(portfolio("paie en moyenne 21 jours après l'échéance"), 10, Words("fr"))
    lines = text.splitlines()
    assert lines[0].startswith("Liste de travail") and len(lines) == 4
    assert "12\u202f345,50\u00a0€" in lines[1] and "retard 78\u00a0%" in lines[1]
    assert "Relance (E-mail) le 1 déc. 2026" in lines[1]
    assert "Revue par le credit manager le" in lines[2] and "(" not in lines[2].split("->")[1]
    assert lines[3] == "Clients par scénario de relance : Ferme 2, Léger 1"
    for english in ("late", "default", "Reminder", " on ", "worklist"):
        assert english not in text


def test_the_worklist_speaks_english_with_english_reasons():
    text = render_worklist(portfolio("pays on average 21 days late"), 1, Words("en", "EUR"))
    lines = text.splitlines()
    assert lines[0] == "Collectors' worklist (top 1 by expected loss):" and len(lines) == 3
    assert "€12,345.50" in lines[1] and "late 78%, default 31% -> Reminder (E-mail) on" in lines[1]
    assert lines[1].endswith("pays on average 21 days late")
    assert lines[2] == "Customers per dunning scenario: Firm 2, Light 1"
