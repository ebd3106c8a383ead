"""HTML for the review pages: data preparation in Python, markup in Jinja2 template files.

Every function takes plain data (bundle frames, engine answers, the model card) and returns a
complete HTML document, so the same code serves /ui and `payrisk report`. The templates live in
`payrisk/web/templates/` (autoescaped: ids from the data are never trusted; StrictUndefined: a
misspelt variable fails instead of printing nothing), and every page uses the one stylesheet
`payrisk/web/static/style.css`: linked on /ui, inlined in the e-mailed report.
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from urllib.parse import quote, urlencode

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from payrisk.policy.portfolio import PortfolioBundle
from payrisk.serving.auth import LOGIN_PATH
from payrisk.web import charts
from payrisk.web.bundle import SORTS, InvoicePage, InvoiceQuery

UI_BASE = "/ui"  # where service.py mounts the pages (the auth middleware's paths start here too)


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
    """The frame around a page (base.html): where the pages live and what the header shows."""

    base: str = UI_BASE  # the pages' mount point: links and the stylesheet URL start here
    as_of: str | None = None  # None: no "as of ... model v..." line (the sign-in page)
    model_version: str | None = None
    nav: bool = True  # links to the other pages (not on the sign-in page, not in the report)
    signed_in: bool = False  # a cookie session: offer "Sign out"
    inline_css: bool = False  # the report has no server to fetch the stylesheet from


def money(value: object) -> str:
    """Thousands separators, two decimals; a dash for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{float(value):,.2f}"


def pct(value: object, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{float(value) * 100:.{digits}f}%"


def number(value: object, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{float(value):,.{digits}f}"


def day(value: object) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.date().isoformat() if not pd.isna(value) else "–"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def text(value: object) -> str:
    """A cell's text: missing values (NaN, None, NA) as a dash."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    return str(value)


def url_segment(value: object) -> str:
    """A value as one URL path segment (a customer id may hold "/" or "?")."""
    return quote(str(value), safe="")


def _inline_stylesheet() -> Markup:
    """The stylesheet for a <style> element: our own file, so never escaped (quotes must stay)."""
    return Markup(stylesheet())


ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("payrisk.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
ENV.filters.update(money=money, pct=pct, number=number, day=day, text=text, q=url_segment)
ENV.globals.update(inline_stylesheet=_inline_stylesheet, stylesheet_version=stylesheet_version)


def _render(template: str, layout: Layout, **context: object) -> str:
    return ENV.get_template(template).render(layout=layout, **context)


def _kpi_items(k: dict) -> list[tuple[str, str]]:
    return [
        ("DSO, last 90 days", f"{number(k.get('dso_days_90'))} days"),
        ("DSO, predicted", f"{number(k.get('predicted_dso_days'))} days"),
        ("Open amount", money(k.get("open_amount"))),
        ("Overdue amount", money(k.get("overdue_amount"))),
        ("Expected loss", money(k.get("expected_loss"))),
        ("Dispute rate", pct(k.get("dispute_share"), 1)),
        ("Paid late (settled)", pct(k.get("late_share_of_paid"), 1)),
        ("Predicted late invoices", number(k.get("predicted_late_invoices"))),
    ]


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts with NaN/NaT kept (filters print a dash)."""
    return frame.to_dict("records")


def _portfolio_context(
    bundle: PortfolioBundle, page: InvoicePage, query: InvoiceQuery, base: str, interactive: bool
) -> dict[str, object]:
    """What `_portfolio.html` shows: key figures, both charts, one page of the worklist."""
    k = bundle.kpis
    aged = k.get("aged_balance", [])
    aged_svg = charts.bar_chart(
        [r["bucket"] for r in aged],
        [r["open_amount"] for r in aged],
        "Aged balance by bucket (open amount)",
        "; ".join(f"{r['bucket']}: {money(r['open_amount'])}" for r in aged),
    )
    cash = bundle.cash_forecast
    frame = cash[["early", "expected", "late"]].to_numpy("float64")
    weeks = [day(w) for w in cash["week_start"]]
    cash_rows = [
        {"week": w, "low": lo, "mid": mid, "high": hi}
        for w, lo, mid, hi in zip(
            weeks, frame.min(axis=1), frame[:, 1], frame.max(axis=1), strict=True
        )
    ]
    beyond = float(np.nansum(cash["beyond_expected"])) if "beyond_expected" in cash else 0.0
    cash_svg = charts.band_chart(
        [w[5:] for w in weeks],
        [r["low"] for r in cash_rows],
        [r["mid"] for r in cash_rows],
        [r["high"] for r in cash_rows],
        "Expected weekly cash-in with low/high band",
        f"{len(weeks)} weeks from {weeks[0] if weeks else '–'}; expected total "
        f"{money(sum(r['mid'] for r in cash_rows))}",
    )

    def page_url(number_: int) -> str:
        params = {
            "q": query.q,
            "scenario": query.scenario,
            "min_late": f"{query.min_late:g}",
            "sort": query.sort,
            "page": number_,
        }
        return f"{base}/?" + urlencode({key: v for key, v in params.items() if v not in ("", "0")})

    return dict(
        k=k,
        items=_kpi_items(k),
        aged=aged,
        aged_svg=Markup(aged_svg),
        cash=cash_rows,
        cash_svg=Markup(cash_svg),
        beyond=beyond,
        page=InvoicePage(_records(page.rows), page.total, page.page, page.pages),
        query=query,
        scenarios=bundle.scenarios,
        sorts=[(key, key.replace("_", " ")) for key in SORTS],
        sort_name=query.sort.replace("_", " "),
        interactive=interactive,
        page_url=page_url,
    )


def portfolio_page(
    bundle: PortfolioBundle, page: InvoicePage, query: InvoiceQuery, layout: Layout
) -> str:
    """/ui/: the portfolio with the searchable, sortable worklist."""
    context = _portfolio_context(bundle, page, query, layout.base, interactive=True)
    return _render("portfolio.html", layout, **context)


def customer_page(
    bundle: PortfolioBundle,
    customer_id: str,
    profile: object | None,
    problem: str | None,
    review: object | None,
    form: dict[str, str],
    error: str | None,
    layout: Layout,
) -> str:
    """/ui/customers/<id>: payment history, open invoices, aged balance, credit-review form."""
    invoices = bundle.invoices.loc[bundle.invoices["customer_id"] == customer_id]
    plans = bundle.customers.loc[bundle.customers["customer_id"] == customer_id]
    payments = bundle.payments.loc[bundle.payments["customer_id"] == customer_id]
    rows = _records(invoices)
    for row in rows:
        row["reasons"] = [
            row[f"reason_{k}"]
            for k in (1, 2, 3)
            if isinstance(row.get(f"reason_{k}"), str) and row[f"reason_{k}"]
        ]
    history_svg, history_text = "", ""
    if len(payments):
        when = payments["settled_date"]
        xs = (when.astype("int64") // 86_400_000_000_000).astype("float64").tolist()
        ys = payments["days_late"].astype("float64").tolist()
        years = pd.date_range(when.min().normalize(), when.max(), freq="QS")
        ticks = [(float(t.value // 86_400_000_000_000), t.strftime("%Y-%m")) for t in years]
        late = int((payments["days_late"] > 0).sum())
        history_text = (
            f"{len(payments):,} settled invoices from {day(when.min())} to {day(when.max())}: "
            f"{late:,} paid late ({late / len(payments):.0%}), on average "
            f"{payments['days_late'].mean():.1f} days after the due date, at worst "
            f"{payments['days_late'].max():,} days."
        )
        history_svg = charts.scatter_chart(
            xs,
            ys,
            ticks,
            f"Days late per settled invoice, customer {customer_id}",
            history_text,
            [
                f"{r.invoice_id}: {r.days_late} days late, settled {day(r.settled_date)}"
                for r in payments.itertuples()
            ],
        )
    items = [
        ("Open amount", money(getattr(profile, "open_amount", None))),
        ("Past due", money(getattr(profile, "past_due_amount", None))),
        ("Open invoices", number(getattr(profile, "open_invoices", len(invoices)))),
        ("Settled invoices", number(getattr(profile, "settled_invoices", len(payments)))),
        ("Paid late", pct(getattr(profile, "late_share", None))),
        ("Mean days late", number(getattr(profile, "mean_days_late", None), 1)),
        ("Dispute rate", pct(getattr(profile, "dispute_rate", None), 1)),
        ("Credit limit", money(getattr(profile, "credit_limit", None))),
    ]
    return _render(
        "customer.html",
        layout,
        cid=customer_id,
        plan=_records(plans)[0] if len(plans) else None,
        items=items,
        history_svg=Markup(history_svg),
        history_text=history_text,
        recent=_records(payments.tail(20).iloc[::-1]),
        profile=profile,
        problem=problem,
        invoices=rows,
        review=review,
        form=form,
        error=error,
    )


METRICS = ("roc_auc", "pr_auc", "brier", "log_loss", "calibration_error")
TARGETS = {"late": "Paid late", "default": "Default (not paid within 90 days)"}


def _model_context(
    card: dict, version: str, source: str, challenger: dict | None
) -> dict[str, object]:
    """What `_model.html` shows: metric tables, calibration charts, top features, challenger."""
    holdout = card.get("holdout_metrics", {})
    metric_tables = []
    for target, label in TARGETS.items():
        models = holdout.get(target, {})
        rows = [
            (name, [number(values.get(m), 3) for m in METRICS]) for name, values in models.items()
        ]
        if rows:
            metric_tables.append((label, rows))
    calibration = []
    for target, label in TARGETS.items():
        curve = card.get("calibration", {}).get(target)
        if not curve:
            continue
        svg = charts.reliability_chart(
            curve["predicted"],
            curve["observed"],
            f"Calibration curve: {label.lower()}",
            "Observed rate against predicted probability per bin; the dashed diagonal is perfect "
            "calibration.",
        )
        bins = list(zip(curve["predicted"], curve["observed"], curve["count"], strict=True))
        calibration.append((label, Markup(svg), bins))
    features = [
        (
            TARGETS.get(target, target),
            sorted(values.items(), key=lambda item: -item[1])[:10],
        )
        for target, values in card.get("top_features", {}).items()
    ]
    return dict(
        card=card,
        version=version,
        source=source,
        models=_model_rows(card),
        flags=_flags(card),
        group_rows=_group_rows(card),
        declared=card.get("declared_features", []),
        metric_tables=metric_tables,
        metric_names=[m.replace("_", " ") for m in METRICS],
        payment_rows=list(holdout.get("payment", {}).items()),
        calibration=calibration,
        features=features,
        challenger=challenger,
    )


MODEL_TARGETS = {
    "late": "Paid late",
    "default_given_late": "Default, given late (P(default) = P(late) x this)",
    "payment": "Payment date",
}
MODEL_NAMES = {
    "lightgbm": "LightGBM",
    "logistic": "logistic regression",
    "blend": "blend of LightGBM and logistic regression",
    "prior": "calibrated prior (the customer's own rate, shrunk towards the population's)",
    "hazard": "discrete-time hazard (LightGBM), coherent with the probabilities",
    "life table": "life table (the share paid in each band of days past due)",
}
GROUPS = {
    "at_issue": "At issue",
    "at_due": "On the due date",
    "past_due_1_15": "1-15 days past due",
    "past_due_16_30": "16-30 days past due",
    "past_due_31_60": "31-60 days past due",
    "past_due_over_60": "Over 60 days past due",
    "new_customer": "New customers",
    "known_customer": "Known customers",
}


def _model_rows(card: dict) -> list[dict[str, str]]:
    """Which model answers each target of the served scorer, and whether it could be learned."""
    models = card.get("registered_models") or card.get("models") or {}
    rows = []
    for target, summary in models.items():
        candidates = summary.get("candidates", {})
        judged = ", ".join(
            f"{MODEL_NAMES.get(name, name).split(' (')[0]} {values['log_loss']:.3f}"
            for name, values in candidates.items()
            if values.get("eligible") and "log_loss" in values
        )
        rows.append(
            {
                "target": MODEL_TARGETS.get(target, target),
                "model": MODEL_NAMES.get(summary.get("model", ""), summary.get("model", "")),
                "learnable": "yes"
                if summary.get("learnable", True)
                else f"no: {summary.get('not_learnable', '')}",
                "candidates": judged or "–",
            }
        )
    return rows


def _flags(card: dict) -> list[str]:
    """Targets that could not be learned and holdout checks that failed, in plain words."""
    out = []
    models = card.get("registered_models") or card.get("models") or {}
    for target, summary in models.items():
        if summary.get("not_learnable"):
            fallback = (
                "its dates come from the life table"
                if target == "payment"
                else "its probabilities are the calibrated prior"
            )
            out.append(
                f"{MODEL_TARGETS.get(target, target)}: not learnable from this history "
                f"({summary['not_learnable']}); {fallback}."
            )
    for target, rows in card.get("baseline_checks", {}).items():
        for row in rows:
            if row.get("worse_beyond_noise"):
                out.append(
                    f"{TARGETS.get(target, target)}: worse than the {row['best_baseline']} "
                    f"baseline on the holdout {row['metric'].replace('_', ' ')} "
                    f"({row['model']:.3f} against {row['baseline']:.3f}, noise {row['noise']:.3f})."
                )
    return out


def _group_rows(card: dict) -> list[tuple[str, list[str]]]:
    """Holdout metrics per snapshot age and customer segment: ROC AUC of the model and the two
    baselines for late and default, payment-date error and interval coverage."""
    rows = []
    groups = {"all": card.get("holdout_metrics", {}), **card.get("holdout_by_group", {})}
    for group, metrics in groups.items():
        cells = []
        n = max(
            [metrics.get(t, {}).get("model", {}).get("n") or 0 for t in ("late", "default")]
            + [metrics.get("payment", {}).get("model", {}).get("n") or 0]
        )
        cells.append(number(n))
        for target in ("late", "default"):
            per = metrics.get(target, {})
            for model in ("model", "logistic", "historical_rate"):
                cells.append(number(per.get(model, {}).get("roc_auc"), 3))
        payment = metrics.get("payment", {})
        cells.append(number(payment.get("model", {}).get("mae_days"), 1))
        cells.append(number(payment.get("average_delay", {}).get("mae_days"), 1))
        cells.append(pct(payment.get("model", {}).get("interval_coverage")))
        rows.append((GROUPS.get(group, "All snapshots"), cells))
    return rows


def model_page(
    card: dict,
    version: str,
    source: str,
    challenger: dict | None,
    layout: Layout,
) -> str:
    """/ui/model: the champion against its baselines, and the challenger."""
    context = _model_context(card, version, source, challenger)
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
) -> str:
    """`payrisk report`: the top of the worklist and the model card in one file to e-mail.

    Self-contained: the stylesheet is inlined, charts are inline SVG, no links to follow.
    """
    layout = Layout(base="", as_of=as_of, model_version=version, nav=False, inline_css=True)
    portfolio = _portfolio_context(bundle, page, query, layout.base, interactive=False)
    model = _model_context(card, version, source, challenger)
    return _render("report.html", layout, **portfolio, **model)


def login_page(next_path: str, error: str | None = None) -> str:
    """/ui/login, rendered for payrisk.serving.auth.ApiKeyMiddleware (before any session)."""
    layout = Layout(nav=False)
    return _render("login.html", layout, login_path=LOGIN_PATH, next_path=next_path, error=error)
