"""The portfolio bundle as the review pages read it: reloaded when `payrisk snapshot` rewrites it,
and one query (filter, search, sort, page) over its scored open invoices for the pages and
`payrisk report`. The bundle's content and files are `payrisk.policy.portfolio`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from payrisk.policy.portfolio import BundleHolder

__all__ = ["BundleHolder", "InvoicePage", "InvoiceQuery", "query_invoices"]

PAGE_SIZE = 50
# query value -> (column, ascending); the first is the collectors' worklist order
SORTS: dict[str, tuple[str, bool]] = {
    "expected_loss": ("expected_loss", False),
    "expected_days_late": ("expected_days_late", False),
    "late_probability": ("late_probability", False),
    "open_amount": ("open_amount", False),
    "due_date": ("due_date", True),
}


@dataclass(frozen=True)
class InvoiceQuery:
    """What the portfolio page's form asks for; parsed leniently (bad values fall back)."""

    sort: str = "expected_loss"
    scenario: str = ""
    min_late: float = 0.0  # percent, 0-100
    q: str = ""
    page: int = 1

    @classmethod
    def from_params(cls, params: dict[str, str]) -> InvoiceQuery:
        sort = params.get("sort", "expected_loss")
        try:
            min_late = min(max(float(params.get("min_late") or 0), 0.0), 100.0)
        except ValueError:
            min_late = 0.0
        try:
            page = max(int(params.get("page") or 1), 1)
        except ValueError:
            page = 1
        return cls(
            sort=sort if sort in SORTS else "expected_loss",
            scenario=(params.get("scenario") or "").strip()[:64],
            min_late=min_late,
            q=(params.get("q") or "").strip()[:64],
            page=page,
        )


@dataclass(frozen=True)
class InvoicePage:
    rows: pd.DataFrame
    total: int
    page: int
    pages: int


def query_invoices(
    invoices: pd.DataFrame, query: InvoiceQuery, page_size: int = PAGE_SIZE
) -> InvoicePage:
    """Filter, search, sort and cut one page of the scored open invoices."""
    keep = invoices["late_probability"] >= query.min_late / 100
    if query.scenario:
        keep &= invoices["scenario"] == query.scenario
    if query.q:
        needle = query.q.casefold()
        keep &= invoices["customer_id"].str.casefold().str.contains(needle, regex=False) | invoices[
            "invoice_id"
        ].str.casefold().str.contains(needle, regex=False)
    chosen = invoices.loc[keep.fillna(False)]
    column, ascending = SORTS[query.sort]
    if query.sort != "expected_loss":  # the bundle is already in worklist order
        chosen = chosen.sort_values(column, ascending=ascending, kind="stable")
    total = len(chosen)
    pages = max((total + page_size - 1) // page_size, 1)
    page = min(query.page, pages)
    start = (page - 1) * page_size
    return InvoicePage(chosen.iloc[start : start + page_size], total, page, pages)
