"""The portfolio bundle as the review pages read it: reloaded when `payrisk snapshot` rewrites it,
and one query (filter, search, sort, page) over its scored open invoices for the pages and
`payrisk report`. The bundle's content and files are `payrisk.policy.portfolio`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from payrisk.policy.portfolio import BundleHolder

__all__ = ["BundleHolder", "InvoicePage", "InvoiceQuery", "query_customers", "query_invoices"]

PAGE_SIZE = 50
# query value -> (column, ascending); the first is the collectors' worklist order
SORTS: dict[str, tuple[str, bool]] = {
    "expected_loss": ("expected_loss", False),
    "expected_days_late": ("expected_days_late", False),
    "late_probability": ("late_probability", False),
    "open_amount": ("open_amount", False),
    "due_date": ("due_date", True),
}


VIEWS = ("invoices", "customers")
STATUSES = ("all", "not_due", "past_due")


@dataclass(frozen=True)
class InvoiceQuery:
    """What the portfolio page's form asks for; parsed leniently (bad values fall back)."""

    sort: str = "expected_loss"
    scenario: str = ""
    min_late: float = 0.0  # percent, 0-100
    q: str = ""
    page: int = 1
    view: str = "invoices"  # or "customers": one row per customer
    status: str = "all"  # "not_due": not yet due at the as-of date; "past_due"

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
        view, status = params.get("view", "invoices"), params.get("status", "all")
        return cls(
            sort=sort if sort in SORTS else "expected_loss",
            scenario=(params.get("scenario") or "").strip()[:64],
            min_late=min_late,
            q=(params.get("q") or "").strip()[:64],
            page=page,
            view=view if view in VIEWS else "invoices",
            status=status if status in STATUSES else "all",
        )


@dataclass(frozen=True)
class InvoicePage:
    rows: pd.DataFrame
    total: int
    page: int
    pages: int


def _contains(column: pd.Series, needle: str) -> pd.Series:
    return column.astype(str).str.casefold().str.contains(needle, regex=False)


def _not_due(invoices: pd.DataFrame) -> pd.Series:
    """Not yet due at the portfolio's as-of date (its scoring day)."""
    return invoices["due_date"] >= invoices["snapshot_date"]


def _cut(chosen: pd.DataFrame, page_number: int, page_size: int) -> InvoicePage:
    total = len(chosen)
    pages = max((total + page_size - 1) // page_size, 1)
    page = min(page_number, pages)
    start = (page - 1) * page_size
    return InvoicePage(chosen.iloc[start : start + page_size], total, page, pages)


def _matching(invoices: pd.DataFrame, query: InvoiceQuery) -> pd.DataFrame:
    """The invoices the query's filters and search keep, in the bundle's order."""
    keep = invoices["late_probability"] >= query.min_late / 100
    if query.scenario:
        keep &= invoices["scenario"] == query.scenario
    if query.status != "all":
        keep &= _not_due(invoices) if query.status == "not_due" else ~_not_due(invoices)
    if query.q:
        needle = query.q.casefold()
        keep &= _contains(invoices["customer_id"], needle) | _contains(
            invoices["invoice_id"], needle
        )
    return invoices.loc[keep.fillna(False)]


def query_invoices(
    invoices: pd.DataFrame, query: InvoiceQuery, page_size: int = PAGE_SIZE
) -> InvoicePage:
    """Filter, search, sort and cut one page of the scored open invoices."""
    chosen = _matching(invoices, query)
    column, ascending = SORTS[query.sort]
    if query.sort != "expected_loss":  # the bundle is already in worklist order
        chosen = chosen.sort_values(column, ascending=ascending, kind="stable")
    return _cut(chosen, query.page, page_size)


def customer_rows(invoices: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """One row per customer with open invoices: its plan (scenario, risk, next contact) and,
    from its invoices, the past-due amount, the earliest due date and its best worklist rank."""
    past_due = invoices["open_amount"].where(~_not_due(invoices), 0.0)
    per_customer = (
        invoices.assign(past_due_amount=past_due)
        .groupby("customer_id", sort=False)
        .agg(
            past_due_amount=("past_due_amount", "sum"),
            due_date=("due_date", "min"),
            priority_rank=("priority_rank", "min"),
            main_reason=("reason_1", "first"),
            reasons_json=("reasons_json", "first"),
        )
    )
    # The customer's first planned action of any kind: what to show when no contact is planned
    # (only reviews: dispute, write-off, credit manager).
    first = (
        invoices.sort_values("action_date", kind="stable")
        .drop_duplicates("customer_id")
        .set_index("customer_id")[["action", "channel", "action_date"]]
        .add_prefix("first_")
    )
    rows = customers.set_index("customer_id").join(per_customer, how="inner").join(first)
    return rows.reset_index().sort_values("priority_rank", kind="stable").reset_index(drop=True)


def query_customers(
    invoices: pd.DataFrame,
    customers: pd.DataFrame,
    query: InvoiceQuery,
    page_size: int = PAGE_SIZE,
) -> InvoicePage:
    """The by-customer view: the same filters on each customer's invoices (a customer shows if
    one of its invoices matches), sorted by the customer's figures."""
    rows = customer_rows(invoices, customers)
    rows = rows.loc[rows["customer_id"].isin(_matching(invoices, query)["customer_id"])]
    column, ascending = SORTS[query.sort]
    if query.sort == "expected_loss":
        rows = rows.sort_values("expected_loss", ascending=False, kind="stable")
    elif column in rows:
        rows = rows.sort_values(column, ascending=ascending, kind="stable")
    return _cut(rows, query.page, page_size)
