"""HTML for the review pages: data preparation in Python, markup in Jinja2 template files.

Every function takes plain data (bundle frames, engine answers, the model card) and returns a
complete HTML document, so the same code serves /ui and `payrisk report`. Pages speak the reader's
language (`Layout.words`: French or English words, Babel's formats for amounts and dates; codes
from the data always shown as words). The templates live in `payrisk/web/templates/`
(autoescaped: ids from the data are never trusted; StrictUndefined: a misspelt variable fails
instead of printing nothing), and every page uses the one stylesheet
`payrisk/web/static/style.css`: linked on /ui, inlined in the e-mailed report.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from urllib.parse import parse_qsl, quote, urlencode

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from payrisk.core.i18n import DASH, DEFAULT_LANGUAGE, LANGUAGES, missing, negotiate
from payrisk.data.contract import CHANNELS
from payrisk.policy.credit import APPROVE, APPROVE_WITH_CONDITIONS, DECISIONS, DECLINE
from payrisk.policy.ladder import LEVEL
from payrisk.policy.portfolio import PortfolioBundle
from payrisk.policy.provisions import (
    ProvisionRules,
    by_bucket,
    by_customer,
    recovery_of,
    total,
)
from payrisk.policy.reasons import LOWERS, RAISES, rephrase
from payrisk.records.store import CustomerRecord
from payrisk.serving.auth import LOGIN_PATH, PAGES_ROOT, LoginProblem
from payrisk.web import charts
from payrisk.web.bundle import SORTS, STATUSES, InvoicePage, InvoiceQuery
from payrisk.web.i18n import Words

NAMES = {"en": "English", "fr": "Français"}


@functools.cache
def stylesheet() -> str:
    """The one stylesheet of every page; read once per process."""
    return (resources.files("payrisk.web") / "static" / "style.css").read_text(encoding="utf-8")


@functools.cache
def stylesheet_version() -> str:
    """A digest of the stylesheet for its URL, so browsers fetch a changed one at once."""
    return hashlib.sha256(stylesheet().encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Layout:
    """The frame around a page (base.html): where the pages live, what the header shows and in
    which language."""

    base: str = PAGES_ROOT  # the pages' mount point: links and the stylesheet URL start here
    as_of: str | None = None  # None: no "as of ... model v..." line (the sign-in page)
    model_version: str | None = None
    nav: bool = True  # links to the other pages (not on the sign-in page, not in the report)
    signed_in: bool = False  # a cookie session: offer "Sign out"
    inline_css: bool = False  # the report has no server to fetch the stylesheet from
    words: Words = field(default_factory=Words)
    here: str = ""  # this page's path and query, for the language links

    @property
    def languages(self) -> list[tuple[str, str, str, bool]]:
        """(code, name, link, current) per language: the same page in each."""
        path, _, query = self.here.partition("?")
        params = [(k, v) for k, v in _pairs(query) if k != "lang"]
        return [
            (
                code,
                NAMES[code],
                f"{path or self.base + '/'}?{urlencode([*params, ('lang', code)])}",
                code == self.words.language,
            )
            for code in LANGUAGES
        ]


def _pairs(query: str) -> list[tuple[str, str]]:
    return parse_qsl(query, keep_blank_values=False)


def url_segment(value: object) -> str:
    """A value as one URL path segment (a customer id may hold "/" or "?")."""
    return quote(str(value), safe="")


def _inline_stylesheet() -> Markup:
    """The stylesheet for a <style> element: our own file, so never escaped (quotes must stay)."""
    return Markup(stylesheet())


def text(value: object) -> str:
    """A cell's text: missing values (NaN, None, NA) as a dash."""
    return DASH if missing(value) else str(value)


ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("payrisk.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
ENV.filters.update(text=text, q=url_segment)
ENV.globals.update(inline_stylesheet=_inline_stylesheet, stylesheet_version=stylesheet_version)


def _render(template: str, layout: Layout, **context: object) -> str:
    w = layout.words
    return ENV.get_template(template).render(layout=layout, w=w, f=w.f, **context)


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts with NaN/NaT kept (formats print a dash)."""
    return frame.to_dict("records")


def reasons_of(row: dict, w: Words) -> list[dict]:
    """A bundle row's reasons in the page's language (from their stored values); rows written
    before reasons were stored as values keep their text."""
    stored = row.get("reasons_json")
    if isinstance(stored, str) and stored:
        return rephrase(json.loads(stored), w.f)
    return [
        {"text": row[f"reason_{k}"], "direction": RAISES}
        for k in (1, 2, 3)
        if isinstance(row.get(f"reason_{k}"), str) and row[f"reason_{k}"]
    ]


def _covers(count: object, w: Words) -> str:
    """How many invoices a contact covers, in words ("1 invoice", "3 factures")."""
    if not missing(count) and int(count) == 1:  # type: ignore[call-overload]
        return w.t("contact.covers_one")
    return w.t("contact.covers", n=w.f.number(count))


def main_reason(row: dict, w: Words) -> str:
    raising = [r["text"] for r in reasons_of(row, w) if r["direction"] == RAISES]
    return raising[0] if raising else DASH


def contact_name(channel: object, action: object, w: Words, kind: str = "action_short") -> str:
    """A planned contact in words: its channel, else (a review, no channel) its action."""
    return w.label("channel", channel) if isinstance(channel, str) else w.label(kind, action)


def next_action(channel: object, action: object, day: object, w: Words) -> str:
    """ "Phone call, 12 Nov" / "Appel, 12 nov.": the action in words, compact (actions are
    planned for the coming days, so the year goes without saying)."""
    return f"{contact_name(channel, action, w)}, {w.f.day(day, 'short_month')}"


def _kpi_items(k: dict, w: Words) -> list[tuple[str, str, str]]:
    f = w.f
    rate = k.get("recovery_rate")
    note = w.t("kpi.expected_loss_note", rate=f.pct(rate)) if rate is not None else ""
    return [
        (w.t("kpi.dso"), w.t("unit.days", n=f.number(k.get("dso_days_90"))), ""),
        (w.t("kpi.dso_predicted"), w.t("unit.days", n=f.number(k.get("predicted_dso_days"))), ""),
        (w.t("kpi.open"), f.money(k.get("open_amount"), cents=False), ""),
        (w.t("kpi.overdue"), f.money(k.get("overdue_amount"), cents=False), ""),
        (w.t("kpi.at_risk"), f.money(k.get("amount_at_risk"), cents=False), ""),
        (w.t("kpi.expected_loss"), f.money(k.get("expected_loss"), cents=False), note),
        (w.t("kpi.dispute"), f.pct(k.get("dispute_share"), 1), ""),
        (w.t("kpi.paid_late"), f.pct(k.get("late_share_of_paid"), 1), ""),
        (w.t("kpi.predicted_late"), f.number(k.get("predicted_late_invoices")), ""),
    ]


def invoice_row(row: dict, w: Words) -> dict:
    """One worklist row, every cell in words and local formats."""
    f = w.f
    return {
        "rank": row.get("priority_rank"),
        "invoice_id": row["invoice_id"],
        "customer_id": row["customer_id"],
        "disputed": bool(row.get("disputed")) if not missing(row.get("disputed")) else False,
        "due": f.day(row.get("due_date")),
        "not_due": not missing(row.get("snapshot_date"))
        and row["due_date"] >= row["snapshot_date"],
        "open": f.money(row.get("open_amount")),
        "late": f.pct(row.get("late_probability")),
        "default": f.pct(row.get("default_probability")),
        "expected": f.day(row.get("expected_payment_date")),
        "range": w.t(
            "range",
            low=f.day(row.get("expected_payment_date_low")),
            high=f.day(row.get("expected_payment_date_high")),
        ),
        "delay": w.delay(row.get("expected_days_late"), short=True),
        "loss": f.money(row.get("expected_loss")),
        "next": next_action(row.get("channel"), row.get("action"), row.get("action_date"), w),
        "actor": w.label("actor", row.get("actor")),
        "step": None if missing(row.get("step")) else int(row["step"]),
        "scenario": w.label("scenario", row.get("scenario")),
        "reason": main_reason(row, w),
        "reasons": reasons_of(row, w),
    }


def customer_row(row: dict, w: Words) -> dict:
    f = w.f
    has_contact = not missing(row.get("next_contact_date"))
    if has_contact:
        prefix, day = "next_contact_", "next_contact_date"
    else:  # no contact planned: its first action of any kind (a review), if any
        prefix, day = "first_", "first_action_date"
    next_ = (
        DASH
        if missing(row.get(day))
        else next_action(row.get(prefix + "channel"), row.get(prefix + "action"), row[day], w)
    )
    return {
        "customer_id": row["customer_id"],
        "invoices": f.number(row.get("open_invoices")),
        "open": f.money(row.get("open_amount")),
        "over_limit": _over_limit_of(row.get("open_amount"), row.get("credit_limit"), w),
        "past_due": f.money(row.get("past_due_amount")),
        "late": f.pct(row.get("late_probability")),
        "default": f.pct(row.get("default_probability")),
        "loss": f.money(row.get("expected_loss")),
        "scenario": w.label("scenario", row.get("scenario")),
        "next": next_,
        "covers": _covers(row.get("next_contact_invoices"), w) if has_contact else "",
        "reason": main_reason(row, w),
    }


def _cash_context(bundle: PortfolioBundle, w: Words) -> dict[str, object]:
    f = w.f
    cash = bundle.cash_forecast
    weeks = list(cash["week_start"])
    if {"low", "expected", "high"} <= set(cash.columns):
        low, mid, high = (cash[c].to_numpy("float64") for c in ("low", "expected", "high"))
    else:  # a bundle written before the range was a range
        frame = cash[["early", "expected", "late"]].to_numpy("float64")
        low, mid, high = frame.min(axis=1), frame[:, 1], frame.max(axis=1)
    rows = [
        {"week": f.day(week), "low": f.money(lo), "mid": f.money(m), "high": f.money(hi)}
        for week, lo, m, hi in zip(weeks, low, mid, high, strict=True)
    ]
    beyond = float(np.nansum(cash["beyond_expected"])) if "beyond_expected" in cash else 0.0
    svg = charts.band_chart(
        [f.day(week, "short_month") for week in weeks],
        list(low),
        list(mid),
        list(high),
        w.t("cash.chart"),
        w.t(
            "cash.desc",
            weeks=len(weeks),
            day=f.day(weeks[0]) if weeks else "–",
            total=f.money(float(np.sum(mid))),
        ),
        x_title=w.t("cash.x"),
        y_title=w.t("cash.y"),
        keys=(w.t("cash.expected"), w.t("cash.range")),
        fmt=f.short_money,
    )
    return {"cash": rows, "cash_svg": Markup(svg), "beyond": f.money(beyond) if beyond else ""}


def provisions_context(
    bundle: PortfolioBundle, rules: ProvisionRules | None, layout: Layout, top: int = 10
) -> dict[str, object] | None:
    """The provisions section: per age bucket (the matrix), the largest customers, the total;
    None without rules (nothing shown)."""
    if rules is None:
        return None
    w = layout.words
    f = w.f
    table = bundle.provisions(rules)
    customers = by_customer(table).head(top)
    return {
        "total": f.money(total(table)),
        "intro": w.t(
            "prov.intro",
            days=rules.doubtful_after_days,
            vat=f.pct(rules.vat_rate),
            recovery=f.pct(recovery_of(bundle.kpis)),
        ),
        "count": f.number(len(table)),
        "buckets": [
            {
                "bucket": w.t("prov.bucket", days=r["bucket"]),
                "rate": f.pct(r["matrix_rate"]),
                "invoices": f.number(r["invoices"]),
                "net": f.money(r["net_amount"]),
                "provision": f.money(r["provision"]),
            }
            for r in _records(by_bucket(table, rules))
        ],
        "customers": [
            {
                "customer_id": r["customer_id"],
                "invoices": f.number(r["invoices"]),
                "open": f.money(r["open_amount"]),
                "provision": f.money(r["provision"]),
            }
            for r in _records(customers)
        ],
        "export": f"{layout.base}/desk/provisions.csv",
    }


def monthly_context(bundle: PortfolioBundle, layout: Layout) -> list[dict[str, str]]:
    """The DAF's month-by-month rows, in words and local formats (the bundle's `monthly`)."""
    f = layout.words.f
    return [
        {
            "month": f.day(pd.Timestamp(f"{r['month']}-01"), "MMM yyyy"),
            "cei": DASH if r["cei"] is None else f.pct(r["cei"] / 100, 1),
            "dso": DASH if r["dso_days_90"] is None else f.number(r["dso_days_90"], 1),
            "countback": DASH
            if r["countback_dso_days"] is None
            else f.number(r["countback_dso_days"], 1),
            "sales": f.money(r["credit_sales"], cents=False),
            "closing": f.money(r["closing_receivables"], cents=False),
        }
        for r in bundle.kpis.get("monthly", [])
    ]


def customer_provision(
    bundle: PortfolioBundle, rules: ProvisionRules | None, customer_id: str
) -> float | None:
    """A customer's provision: the sum of its doubtful invoices' (None without rules)."""
    if rules is None:
        return None
    table = bundle.provisions(rules)
    return total(table.loc[table["customer_id"] == customer_id])


def _portfolio_context(
    bundle: PortfolioBundle, page: InvoicePage, query: InvoiceQuery, layout: Layout,
    interactive: bool, provision_rules: ProvisionRules | None = None,
) -> dict[str, object]:  # fmt: skip
    """What `_portfolio.html` shows: key figures, both charts, provisions, one page of the
    worklist."""
    w, k = layout.words, bundle.kpis
    f = w.f
    aged = k.get("aged_balance", [])
    aged_rows = [
        {
            "bucket": w.label("bucket", r["bucket"]),
            "amount": f.money(r["open_amount"]),
            "invoices": f.number(r["invoices"]),
            "share": f.pct(r["share"], 1),
        }
        for r in aged
    ]
    aged_svg = charts.bar_chart(
        [w.label("bucket", r["bucket"]) for r in aged],
        [r["open_amount"] for r in aged],
        w.t("aged.chart"),
        "; ".join(f"{w.label('bucket', r['bucket'])}: {f.money(r['open_amount'])}" for r in aged),
        x_title=w.t("aged.x"),
        y_title=w.t("aged.y"),
        fmt=f.short_money,
    )

    def page_url(number_: int) -> str:
        params = {
            "view": query.view,
            "q": query.q,
            "status": query.status,
            "scenario": query.scenario,
            "min_late": f"{query.min_late:g}",
            "sort": query.sort,
            "page": number_,
        }
        defaults = {"view": "invoices", "status": "all", "min_late": "0"}
        kept = {key: v for key, v in params.items() if v != "" and defaults.get(key) != v}
        return f"{layout.base}/?" + urlencode(kept)

    rows = _records(page.rows)
    by_customer = query.view == "customers"
    return dict(
        k=k,
        provisions=provisions_context(bundle, provision_rules, layout),
        monthly=monthly_context(bundle, layout),
        summary=w.t(
            "portfolio.summary",
            open_customers=f.number(bundle.customers["customer_id"].nunique()),
            customers=f.number(k.get("customers")),
            invoices=f.number(k.get("open_invoices")),
            day=f.day(k.get("as_of")),
        ),
        items=_kpi_items(k, w),
        aged=aged_rows,
        aged_svg=Markup(aged_svg),
        **_cash_context(bundle, w),
        by_customer=by_customer,
        rows=[customer_row(r, w) if by_customer else invoice_row(r, w) for r in rows],
        page=page,
        query=query,
        scenarios=[(s, w.label("scenario", s)) for s in bundle.scenarios],
        statuses=[(s, w.t(f"filter.status.{s}")) for s in STATUSES],
        sorts=[(key, w.t(f"sort.{key}")) for key in SORTS],
        sort_name=w.t(f"sort.{query.sort}"),
        interactive=interactive,
        page_url=page_url,
    )


def portfolio_page(
    bundle: PortfolioBundle,
    page: InvoicePage,
    query: InvoiceQuery,
    layout: Layout,
    provision_rules: ProvisionRules | None = None,
) -> str:
    """/ui/: the portfolio with the searchable, sortable worklist (by invoice or customer)."""
    context = _portfolio_context(bundle, page, query, layout, True, provision_rules)
    return _render("portfolio.html", layout, **context)


def _history_context(payments: pd.DataFrame, customer_id: str, w: Words) -> dict[str, object]:
    f = w.f
    if not len(payments):
        return {"history_svg": "", "history_text": "", "recent": []}
    when = payments["settled_date"]
    xs = (when.astype("int64") // 86_400_000_000_000).astype("float64").tolist()
    ys = payments["days_late"].astype("float64").tolist()
    quarters = pd.date_range(when.min().normalize(), when.max(), freq="QS")
    ticks = [(float(t.value // 86_400_000_000_000), f.day(t, "MMM yyyy")) for t in quarters]
    late = int((payments["days_late"] > 0).sum())
    text_ = w.t(
        "history.text",
        n=f.number(len(payments)),
        first=f.day(when.min()),
        last=f.day(when.max()),
        late=f.number(late),
        share=f.pct(late / len(payments)),
        mean=f.days(payments["days_late"].mean()),
        worst=w.delay(payments["days_late"].max()),
    )
    svg = charts.scatter_chart(
        xs,
        ys,
        ticks,
        w.t("history.chart", id=customer_id),
        text_,
        [
            f"{r.invoice_id}: {w.delay(r.days_late)}, {f.day(r.settled_date)}"
            for r in payments.itertuples()
        ],
        x_title=w.t("history.x"),
        y_title=w.t("history.y"),
        keys=(w.t("history.late"), w.t("history.on_time")),
        y_fmt=lambda v: f.number(v),
    )
    recent = [
        {
            "invoice_id": r["invoice_id"],
            "due": f.day(r["due_date"]),
            "settled": f.day(r["settled_date"]),
            "written_off": bool(r["written_off"]),
            "delay": w.delay(r["days_late"]),
            "amount": f.money(r["amount"]),
        }
        for r in _records(payments.tail(20).iloc[::-1])
    ]
    return {"history_svg": Markup(svg), "history_text": text_, "recent": recent}


def _review_context(review: object | None, w: Words) -> dict[str, object] | None:
    """A credit review (the engine's answer) in words."""
    if review is None:
        return None
    f = w.f
    return {
        "recommendation": w.label("recommendation", review.recommendation),
        "code": review.recommendation,
        "prospect": not review.known_customer,
        "figures": w.t(
            "credit.figures" if review.credit_limit is not None else "credit.figures_no_limit",
            late=f.pct(review.late_probability),
            default=f.pct(review.default_probability),
            delay=w.delay(review.expected_days_late),
            exposure=f.money(review.exposure),
            limit=f.money(review.credit_limit),
        ),
        "max": w.t(
            f"credit.max.{review.max_approvable_bound}",
            amount=f.money(review.max_approvable_amount, cents=False),
        ),
        "conditions": review.conditions,
        "grounds": review.grounds,
        "warnings": list(getattr(review, "warnings", [])),
        "raising": [r.text for r in review.reasons if r.direction == RAISES],
        "lowering": [r.text for r in review.reasons if r.direction == LOWERS],
    }


@dataclass(frozen=True)
class DeskView:
    """What a page shows of the credit desk's record, and which of its forms it offers."""

    record: CustomerRecord | None  # None: the record is unavailable
    csrf: str = ""  # the page session's CSRF token, sent back by every form
    can_write: bool = False  # someone is signed in (or sends a key): forms are offered
    notice: str | None = None  # after a write: "Recorded."
    error: str | None = None  # why the last write was refused


def _event_rows(record: CustomerRecord, w: Words) -> list[dict]:
    """Decisions, limit changes and notes as one timeline, newest first."""
    f = w.f
    events = []
    for d in record.decisions:
        parts = [
            w.t(
                "desk.decided",
                decision=w.label("recommendation", d["decision"]),
                recommendation=w.label("recommendation", d["recommendation"]),
                amount=f.money(d["requested_amount"]),
                terms=d["terms_days"],
            )
        ]
        if d["decision"] != DECLINE and d["granted_amount"] is not None:
            parts.append(
                w.t(
                    "desk.granted",
                    amount=f.money(d["granted_amount"]),
                    terms=text(d["granted_terms_days"]),
                )
            )
        parts.extend(d["conditions"])
        details = [
            w.t(
                "desk.model",
                version=d["model_version"],
                day=f.day(d["snapshot_as_of"]),
                default=f.pct(d["default_probability"]),
            )
        ]
        events.append(
            {
                "at": d["decided_at"],
                "customer_id": d["customer_id"],
                "kind": w.t("desk.kind.decision"),
                "who": d["author"],
                "what": "; ".join(parts),
                "override": w.t("desk.override", reason=d["override_reason"])
                if d["override"]
                else None,
                "details": details,
            }
        )
    for x in record.limits:
        events.append(
            {
                "at": x["set_at"],
                "customer_id": x["customer_id"],
                "kind": w.t("desk.kind.limit"),
                "who": x["author"],
                "what": w.t(
                    "desk.limit_change",
                    old=f.money(x["previous_limit"], cents=False),
                    new=f.money(x["credit_limit"], cents=False),
                ),
                "override": None,
                "details": [],
            }
        )
    for n in record.notes:
        events.append(
            {
                "at": n["written_at"],
                "customer_id": n["customer_id"],
                "kind": w.t("desk.kind.note"),
                "who": n["author"],
                "what": n["text"],
                "override": None,
                "details": [],
            }
        )
    events.sort(key=lambda e: e["at"], reverse=True)
    for e in events:
        e["when"] = f"{f.day(e['at'].date())} {e['at']:%H:%M} UTC"
    return events


def desk_context(
    view: DeskView | None,
    customer_id: str,
    review: object | None,
    form: dict[str, str],
    layout: Layout,
    lawful_terms: int | None = None,
) -> dict[str, object] | None:
    """The record's section of a page: the timeline, the decision form under a review, the note
    form, the export link. None: no record configured (the report, tests without one)."""
    if view is None or not customer_id:
        return None
    w = layout.words
    record = view.record
    context: dict[str, object] = {
        "available": record is not None,
        "events": _event_rows(record, w) if record is not None else [],
        "current_limit": (
            w.t("desk.current_limit", limit=w.f.money(record.current_limit, cents=False))
            if record is not None and record.current_limit is not None
            else None
        ),
        "customer_id": customer_id,
        "csrf": view.csrf,
        "can_write": view.can_write and record is not None,
        "notice": view.notice,
        "error": view.error,
        "decision_action": f"{layout.base}/desk/decision?lang={w.language}",
        "note_action": f"{layout.base}/desk/note?lang={w.language}",
        "export": f"{layout.base}/desk/export.csv?customer_id={url_segment(customer_id)}",
        "decision": None,
    }
    if review is not None and context["can_write"]:
        recommended = review.recommendation
        terms = int(form.get("terms_days") or 0)
        if lawful_terms is not None:
            terms = min(terms, lawful_terms)
        context["decision"] = {
            "choices": [(code, w.label("recommendation", code)) for code in DECISIONS],
            "chosen": recommended if recommended in DECISIONS else "",
            "shown": recommended,
            "requested_amount": form.get("requested_amount", ""),
            "terms_days": form.get("terms_days", ""),
            "granted_amount": form.get("requested_amount", "")
            if recommended in (APPROVE, APPROVE_WITH_CONDITIONS)
            else "",
            "granted_terms": terms,
            "conditions": "\n".join(review.conditions),
        }
    return context


def desk_page(
    decisions: list[dict] | None, report: dict | None, layout: Layout, latest: int = 50
) -> str:
    """/ui/desk: how often decisions depart from the recommendation and how those customers paid
    since, beside the followed ones; the latest decisions. `decisions` None: no record."""
    w = layout.words
    f = w.f
    if decisions is None or report is None:
        return _render("desk.html", layout, available=False)
    events = _event_rows(CustomerRecord(decisions=decisions), w)[:latest]
    n, overrides = report["decisions"], report["overrides"]
    groups = [
        {
            "name": w.t(f"overrides.{name}"),
            "decisions": f.number(g["decisions"]),
            "settled": f.number(g["settled"]),
            "late": f.pct(g["late_share"]),
            "mean": f.number(g["mean_days_late"], 1),
            "written_off": f.number(g["written_off"]),
        }
        for name, g in report.get("groups", {}).items()
    ]
    return _render(
        "desk.html",
        layout,
        available=True,
        summary=w.t(
            "overrides.summary",
            n=f.number(n),
            overrides=f.number(overrides),
            share=f.pct(overrides / n if n else None),
        ),
        decisions=[w.label("recommendation", code) for code in DECISIONS],
        matrix=[
            (w.label("recommendation", code), [f.number(v) for v in counts.values()])
            for code, counts in report.get("matrix", {}).items()
        ],
        groups=groups,
        latest=events,
    )


def case_row(row: dict, w: Words) -> dict:
    """One open invoice's dunning case in words: the hardest step sent (the formal notice's
    day), a promise, a plan's current instalment, a hold, and the next step with the ladder's
    reason (the bundle's `state_...` columns, as the service reads them)."""
    f = w.f
    level = row.get("state_top_level_sent")
    sent = w.t("case.none")
    if not missing(level) and level > 0:
        channel = next(c for c, v in LEVEL.items() if v == int(level))
        sent = w.label("channel", channel)
    if not missing(row.get("state_notice_date")):
        sent = w.t("case.notice", day=f.day(row["state_notice_date"]))

    def on(key: str, column: str) -> str:
        return DASH if missing(row.get(column)) else w.t(key, day=f.day(row[column]))

    instalment = DASH
    if not missing(row.get("state_plan_due_date")):
        instalment = w.t(
            "case.instalment",
            amount=f.money(row.get("state_plan_amount")),
            day=f.day(row["state_plan_due_date"]),
        )
    ladder = row.get("ladder_reason")
    return {
        "invoice_id": row["invoice_id"],
        "sent": sent,
        "promise": on("case.promise_on", "state_promise_date"),
        "plan": instalment,
        "hold": on("case.until", "state_hold_until_date"),
        "next": next_action(row.get("channel"), row.get("action"), row.get("action_date"), w),
        "ladder": None if missing(ladder) else w.label("ladder", ladder),
    }


def reminder_rows(reminders: pd.DataFrame, customer_id: str, w: Words) -> list[dict]:
    """The customer's reminders about its open invoices (the bundle's log, newest first), in
    words: the day, the invoice, the channel, the scenario step."""
    mine = reminders.loc[reminders["customer_id"] == customer_id]
    return [
        {
            "day": w.f.day(row["sent_date"]),
            "invoice_id": row["invoice_id"],
            "channel": w.label("channel", row["channel"]),
            "step": DASH if missing(row.get("step")) else w.f.number(row["step"]),
        }
        for row in _records(mine)
    ]


def customer_page(
    bundle: PortfolioBundle,
    customer_id: str,
    profile: object | None,
    problem: str | None,
    review: object | None,
    form: dict[str, str],
    error: str | None,
    layout: Layout,
    desk: dict[str, object] | None = None,
    provision_rules: ProvisionRules | None = None,
) -> str:
    """/ui/customers/<id>: payment history, open invoices, aged balance, credit-review form,
    the credit desk's record (`desk_context`), its provision for doubtful receivables."""
    w = layout.words
    f = w.f
    invoices = bundle.invoices.loc[bundle.invoices["customer_id"] == customer_id]
    plans = bundle.customers.loc[bundle.customers["customer_id"] == customer_id]
    payments = bundle.payments.loc[bundle.payments["customer_id"] == customer_id]
    plan = _records(plans)[0] if len(plans) else None
    plan_text = None
    if plan is not None and not missing(plan.get("next_contact_date")):
        plan_text = Markup(
            w.t(
                "customer.plan",
                scenario=Markup.escape(w.label("scenario", plan["scenario"])),
                key=w.t("customer.key") if plan.get("key_account") else "",
                action=Markup.escape(
                    contact_name(
                        plan.get("next_contact_channel"),
                        plan.get("next_contact_action"),
                        w,
                        "action",
                    )
                ),
                day=f.day(plan["next_contact_date"]),
                actor=Markup.escape(w.label("actor", plan.get("next_contact_actor"))),
                n=f.number(plan.get("next_contact_invoices")),
            )
        )
    works = _what_works(_records(invoices), plans, w)
    items = [
        (w.t("kpi.open"), f.money(getattr(profile, "open_amount", None)), ""),
        (w.t("aged.past_due"), f.money(getattr(profile, "past_due_amount", None)), ""),
        (w.t("customer.open_invoices"),
         f.number(getattr(profile, "open_invoices", len(invoices))), ""),
        (w.t("customer.settled"),
         f.number(getattr(profile, "settled_invoices", len(payments))), ""),
        (w.t("customer.paid_late"), f.pct(getattr(profile, "late_share", None)), ""),
        (w.t("customer.mean_late"), f.number(getattr(profile, "mean_days_late", None), 1), ""),
        (w.t("kpi.dispute"), f.pct(getattr(profile, "dispute_rate", None), 1), ""),
        (w.t("customer.limit"), f.money(getattr(profile, "credit_limit", None), cents=False),
         _over_limit(profile, w)),
    ]  # fmt: skip
    provision = customer_provision(bundle, provision_rules, customer_id)
    if provision is not None:
        items.append((w.t("prov.customer"), f.money(provision), ""))
    aged = (
        [(w.label("bucket", k), f.money(v)) for k, v in profile.aged_balance.items()]
        if profile is not None
        else []
    )
    return _render(
        "customer.html",
        layout,
        cid=customer_id,
        plan=plan,
        plan_text=plan_text,
        items=items,
        **_history_context(payments, customer_id, w),
        profile=profile,
        past_due_total=f.money(getattr(profile, "past_due_amount", None)),
        aged=aged,
        problem=problem,
        invoices=[invoice_row(r, w) for r in _records(invoices)],
        case=[case_row(r, w) for r in _records(invoices)],
        reminder_log=reminder_rows(bundle.reminders, customer_id, w),
        review=_review_context(review, w),
        form=form,
        error=error,
        action=f"{layout.base}/customers/{url_segment(customer_id)}",
        works=works,
        desk=desk,
    )


def _over_limit(profile: object | None, w: Words) -> str:
    """The exposure beyond the credit limit, in words ("" within it or without a limit)."""
    return _over_limit_of(
        getattr(profile, "open_amount", None), getattr(profile, "credit_limit", None), w
    )


def _over_limit_of(exposure: object, limit: object, w: Words) -> str:
    """The customer page and the portfolio's customers flag the same excess."""
    if missing(limit) or missing(exposure):
        return ""
    over = float(exposure) - float(limit)  # type: ignore[arg-type]
    return w.t("customer.over_limit", amount=w.f.money(over, cents=False)) if over > 0 else ""


def credit_page(
    form: dict[str, str],
    review: object | None,
    error: str | None,
    layout: Layout,
    desk: dict[str, object] | None = None,
) -> str:
    """/ui/credit-review: a credit review for any customer id, a prospect's included, and the
    reviewed customer's record (`desk_context`)."""
    return _render(
        "credit.html",
        layout,
        form=form,
        review=_review_context(review, layout.words),
        error=error,
        action=f"{layout.base}/credit-review",
        desk=desk,
    )


def _what_works(invoices: list[dict], plans: pd.DataFrame, w: Words) -> dict | None:
    """What works for this customer: the channels the learned policy weighed for its next
    decision (estimated chance of payment with its interval), and the answers they rest on."""
    f = w.f
    decided = [r for r in invoices if isinstance(r.get("alternatives"), str)]
    options, chosen = [], None
    for row in sorted(decided, key=lambda r: r.get("action_date") or pd.Timestamp.max):
        options = json.loads(row["alternatives"])
        if options:
            chosen = row
            break
    history = []
    if len(plans):
        plan = plans.iloc[0]
        for channel in CHANNELS:
            answered = plan.get(f"reminders_answered_{channel}")
            if not missing(answered) and answered > 0:
                rate = plan.get(f"response_rate_{channel}")
                history.append((w.label("channel", channel), f.number(answered), f.pct(rate)))
    if not options and not history:
        return None
    return {
        "options": [
            {
                "channel": w.label("channel", o["channel"]),
                "probability": f.pct(o["probability"]),
                "interval": w.t(
                    "works.interval",
                    low=f.pct(o["probability_low"]),
                    high=f.pct(o["probability_high"]),
                ),
                "value": f.money(o["expected_value"]),
                "allowed": w.t("works.allowed" if o["allowed"] else "works.not_allowed"),
            }
            for o in options
        ],
        "decision": (
            w.t(
                "works.decision",
                invoice=chosen["invoice_id"],
                policy=w.label("policy", chosen.get("policy")),
                reason=text(chosen.get("policy_reason")),
            )
            if chosen
            else None
        ),
        "days": f.number(chosen.get("response_days")) if chosen else None,
        "history": history,
    }


def _policy_evaluation(evaluation: dict | None, w: Words) -> dict | None:
    """The model page's policy table: each policy's off-policy value, interval and cost."""
    if not evaluation:
        return None
    f = w.f
    return {
        "note": w.t(
            "policy.note",
            units=f.number(evaluation.get("units")),
            customers=f.number(evaluation.get("customers")),
            days=f.number(evaluation.get("response_days")),
            clip=f.number(evaluation.get("min_propensity"), 2),
        ),
        "rows": [
            (
                w.label("policy", name),
                f.pct(p["dr"]["value"], 1),
                w.t("works.interval", low=f.pct(p["dr"]["low"], 1), high=f.pct(p["dr"]["high"], 1)),
                f.pct(p["ips"]["value"], 1),
                f.money(p.get("cost_per_decision")),
                f.pct(p.get("contact_share")),
                f.pct(p.get("no_overlap_share"), 1),
            )
            for name, p in evaluation.get("policies", {}).items()
        ],
    }


METRICS = ("roc_auc", "pr_auc", "brier", "log_loss", "calibration_error")
TARGETS = ("late", "default")


def _model_context(
    card: dict, version: str, source: str, challenger: dict | None, w: Words
) -> dict[str, object]:
    """What `_model.html` shows: metric tables, calibration charts, top features, challenger."""
    f = w.f
    holdout = card.get("holdout_metrics", {})
    default_after = card.get("default_after_days")

    def target_label(target: str) -> str:
        """The target in words; default with the horizon the model was trained on."""
        if target == "default" and default_after is not None:
            return w.t("model.default_target", days=default_after)
        return w.label("target", target)

    metric_tables = []
    for target in TARGETS:
        models = holdout.get(target, {})
        rows = [
            (w.label("model", name), [f.number(values.get(m), 3) for m in METRICS])
            for name, values in models.items()
        ]
        if rows:
            metric_tables.append((target_label(target), rows))
    calibration = []
    for target in TARGETS:
        curve = card.get("calibration", {}).get(target)
        if not curve:
            continue
        label = target_label(target)
        svg = charts.reliability_chart(
            curve["predicted"],
            curve["observed"],
            w.t("model.calibration_chart", target=label.lower()),
            w.t("model.calibration_desc"),
            x_title=w.t("model.calibration_x"),
            y_title=w.t("model.calibration_y"),
            keys=(w.t("model.calibration_model"), w.t("model.calibration_perfect")),
            pct=lambda v: f.pct(v),
        )
        bins = [
            (f.pct(p, 1), f.pct(o, 1), f.number(n))
            for p, o, n in zip(curve["predicted"], curve["observed"], curve["count"], strict=True)
        ]
        calibration.append((label, Markup(svg), bins))
    features = [
        (
            target_label(target),
            [
                (w.label("feature", name), f.number(value, 3))
                for name, value in sorted(values.items(), key=lambda item: -item[1])[:10]
            ],
        )
        for target, values in card.get("top_features", {}).items()
    ]
    payment_rows = [
        (
            w.label("model", name),
            f.number(m.get("mae_days"), 1),
            f.number(m.get("median_abs_error_days"), 1),
            f.pct(m.get("interval_coverage")),
        )
        for name, m in holdout.get("payment", {}).items()
    ]
    return dict(
        champion=Markup(
            w.t(
                "model.champion",
                version=Markup.escape(version),
                source=Markup.escape(w.label("source", source)),
                start=f.day(card.get("data_start")),
                end=f.day(card.get("trained_until")),
                as_of=f.day(card.get("as_of")),
            )
        ),
        models=_model_rows(card, w),
        flags=_flags(card, w),
        group_rows=_group_rows(card, w),
        declared=card.get("declared_features", []),
        metric_tables=metric_tables,
        metric_names=[w.label("metric", m) for m in METRICS],
        payment_rows=payment_rows,
        calibration=calibration,
        features=features,
        challenger=(
            {
                **challenger,
                "text": Markup(
                    w.t(
                        "model.challenger_text",
                        version=Markup.escape(challenger["version"]),
                        created=f.day(challenger["created"]),
                    )
                ),
            }
            if challenger
            else None
        ),
        policy=_policy_evaluation(card.get("policy_evaluation"), w),
    )


def _registered_models(card: dict) -> dict[str, dict]:
    """The model of each target in the card (`models` in cards written before the candidates)."""
    return card.get("registered_models") or card.get("models") or {}


def _model_rows(card: dict, w: Words) -> list[dict[str, str]]:
    """Which model answers each target of the served scorer, and whether it could be learned."""
    f = w.f
    models = _registered_models(card)
    rows = []
    for target, summary in models.items():
        candidates = summary.get("candidates", {})
        judged = ", ".join(
            f"{w.label('model_short', name)} {f.number(values['log_loss'], 3)}"
            for name, values in candidates.items()
            if values.get("eligible") and "log_loss" in values
        )
        learnable = summary.get("learnable", True)
        rows.append(
            {
                "target": w.label("model_target", target),
                "model": w.label("model_kind", summary.get("model", "")),
                "learnable": w.t("model.yes")
                if learnable
                else w.t("model.no_because", why=summary.get("not_learnable", "")),
                "candidates": judged or DASH,
            }
        )
    return rows


def _flags(card: dict, w: Words) -> list[str]:
    """Targets that could not be learned and holdout checks that failed, in plain words."""
    f = w.f
    out = []
    models = _registered_models(card)
    for target, summary in models.items():
        if summary.get("not_learnable"):
            out.append(
                w.t(
                    "model.flag_payment" if target == "payment" else "model.flag_prior",
                    target=w.label("model_target", target),
                    why=summary["not_learnable"],
                )
            )
    for target, rows in card.get("baseline_checks", {}).items():
        for row in rows:
            if row.get("worse_beyond_noise"):
                out.append(
                    w.t(
                        "model.flag_worse",
                        target=w.label("target", target),
                        baseline=w.label("model", row["best_baseline"]),
                        metric=w.label("metric", row["metric"]),
                        model=f.number(row["model"], 3),
                        value=f.number(row["baseline"], 3),
                        noise=f.number(row["noise"], 3),
                    )
                )
    return out


def _group_rows(card: dict, w: Words) -> list[tuple[str, list[str]]]:
    """Holdout metrics per snapshot age and customer segment: ROC AUC of the model and the two
    baselines for late and default, payment-date error and interval coverage."""
    f = w.f
    rows = []
    groups = {"all": card.get("holdout_metrics", {}), **card.get("holdout_by_group", {})}
    for group, metrics in groups.items():
        n = max(
            [metrics.get(t, {}).get("model", {}).get("n") or 0 for t in ("late", "default")]
            + [metrics.get("payment", {}).get("model", {}).get("n") or 0]
        )
        cells = [f.number(n)]
        for target in ("late", "default"):
            per = metrics.get(target, {})
            for model in ("model", "logistic", "historical_rate"):
                cells.append(f.number(per.get(model, {}).get("roc_auc"), 3))
        payment = metrics.get("payment", {})
        cells.append(f.number(payment.get("model", {}).get("mae_days"), 1))
        cells.append(f.number(payment.get("average_delay", {}).get("mae_days"), 1))
        cells.append(f.pct(payment.get("model", {}).get("interval_coverage")))
        rows.append((w.label("group", group), cells))
    return rows


def model_page(
    card: dict, version: str, source: str, challenger: dict | None, layout: Layout
) -> str:
    """/ui/model: the champion against its baselines, and the challenger."""
    context = _model_context(card, version, source, challenger, layout.words)
    return _render("model.html", layout, **context)


def message_page(title: str, heading: str, message: str, layout: Layout) -> str:
    """A short page that only says something (not found, not ready)."""
    return _render("message.html", layout, title=title, heading=heading, message=message)


def report_page(
    bundle: PortfolioBundle,
    page: InvoicePage,
    query: InvoiceQuery,
    card: dict,
    version: str,
    source: str,
    challenger: dict | None,
    as_of: str,
    words: Words | None = None,
    provision_rules: ProvisionRules | None = None,
) -> str:
    """`payrisk report`: the top of the worklist and the model card in one file to e-mail.

    Self-contained: the stylesheet is inlined, charts are inline SVG, no links to follow.
    """
    layout = Layout(
        base="", as_of=as_of, model_version=version, nav=False, inline_css=True,
        words=words or Words(),
    )  # fmt: skip
    portfolio = _portfolio_context(bundle, page, query, layout, False, provision_rules)
    model = _model_context(card, version, source, challenger, layout.words)
    return _render("report.html", layout, **portfolio, **model)


def login_page(
    next_path: str,
    problem: LoginProblem | None = None,
    accept_language: str | None = None,
    default_language: str = DEFAULT_LANGUAGE,
) -> str:
    """/ui/login, rendered for payrisk.serving.auth.ApiKeyMiddleware (before any session), in the
    browser's language (Accept-Language), else `default_language` (the policy's); `problem`:
    why it is shown again, if it is."""
    layout = Layout(nav=False, words=Words(negotiate(accept_language, default_language)))
    error = None if problem is None else layout.words.t(f"signin.{problem[0]}", **problem[1])
    return _render("login.html", layout, login_path=LOGIN_PATH, next_path=next_path, error=error)
