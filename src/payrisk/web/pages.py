"""HTML for the review pages: Jinja2 templates with autoescaping (ids are never trusted).

Rendering only: every function takes plain data (bundle frames, engine answers, the model card)
and returns a complete HTML document, so the same code serves /ui and `payrisk report`.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from urllib.parse import quote, urlencode

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from payrisk.web import charts
from payrisk.web.bundle import SORTS, InvoicePage, InvoiceQuery, PortfolioBundle

CSS = """
:root{--ink:#1b1f24;--muted:#4a5560;--line:#d0d7de;--bg:#fff;--accent:#0b5cad;--bad:#a4262c;
--band:#cfe2f7;--zebra:#f6f8fa}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);
background:var(--bg);margin:0}
header.top{background:#0d2a47;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.5rem;
align-items:baseline;flex-wrap:wrap}
header.top a{color:#fff}
header.top .brand{font-weight:700;font-size:1.1rem}
main{max-width:1200px;margin:0 auto;padding:1rem 1.2rem 3rem}
h1{font-size:1.5rem;margin:.6rem 0}h2{font-size:1.2rem;margin:1.6rem 0 .5rem}
a{color:var(--accent)}a:focus,button:focus,input:focus,select:focus{outline:3px solid #ffbf47;
outline-offset:1px}
.muted{color:var(--muted)}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:.6rem;
padding:0;margin:0;list-style:none}
.kpis li{border:1px solid var(--line);border-radius:6px;padding:.5rem .7rem}
.kpis .label{display:block;color:var(--muted);font-size:.85rem}
.kpis .value{font-size:1.3rem;font-weight:600}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:1.2rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid var(--line);padding:.3rem .45rem;text-align:left;vertical-align:top}
thead th{background:#eef2f6;position:sticky;top:0}
tbody tr:nth-child(even){background:var(--zebra)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.scroll{overflow-x:auto}
form.filters{display:flex;flex-wrap:wrap;gap:.8rem;align-items:flex-end;margin:.5rem 0}
form label{display:flex;flex-direction:column;font-size:.85rem;color:var(--muted);gap:.15rem}
input,select,button{font:inherit;padding:.3rem .45rem;border:1px solid #8c959f;border-radius:4px}
button{background:var(--accent);color:#fff;border-color:var(--accent);cursor:pointer}
.pager{display:flex;gap:1rem;align-items:center;margin:.6rem 0}
svg.chart{width:100%;max-width:680px;height:auto;display:block}svg.chart.square{max-width:380px}
svg .grid{stroke:#e1e6eb}svg .tick{font-size:11px;fill:var(--muted)}
svg .bar{fill:var(--accent)}svg .line{fill:none;stroke:var(--accent);stroke-width:2}
svg .band{fill:var(--band)}svg .dot{fill:var(--accent)}svg .dot.late{fill:var(--bad)}
svg .zero{stroke:#6e7781;stroke-dasharray:4 3}
.verdict{border-left:6px solid var(--accent);padding:.5rem 1rem;background:#f1f6fc}
.verdict strong{font-size:1.2rem}
ul.reasons{margin:0;padding-left:1.1rem}
.notice{border:1px solid #d4a72c;background:#fff8c5;padding:.5rem .8rem;border-radius:4px}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
@media print{header.top nav,form,.pager{display:none}}
"""


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


ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
ENV.filters.update(
    money=money, pct=pct, number=number, day=day, text=text, q=lambda v: quote(str(v), safe="")
)

LAYOUT = ENV.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} – payrisk</title><style>{{ css }}</style></head>
<body><a class="sr-only" href="#main">Skip to content</a>
<header class="top"><span class="brand">payrisk</span>
{% if base is not none %}<nav aria-label="Pages"><a href="{{ base }}/">Portfolio</a> ·
<a href="{{ base }}/model">Model</a>{% if signed_in %} ·
<a href="{{ base }}/logout">Sign out</a>{% endif %}</nav>{% endif %}
<span>as of {{ as_of }} · model v{{ model_version }}</span></header>
<main id="main">{{ body }}</main></body></html>
""")

KPI_BLOCK = """<ul class="kpis" aria-label="Key figures">
{% for label, value in items %}<li><span class="label">{{ label }}</span>
<span class="value">{{ value }}</span></li>{% endfor %}</ul>"""

PORTFOLIO = ENV.from_string(
    """<h1>Portfolio</h1>
<p class="muted">{{ k.customers | number }} customers, {{ k.open_invoices | number }} open invoices,
as of {{ k.as_of }}.</p>
"""
    + KPI_BLOCK
    + """
<div class="grid2">
<section aria-labelledby="aged-h"><h2 id="aged-h">Aged balance</h2>{{ aged_svg }}
<table><caption class="sr-only">Aged balance by bucket</caption><thead><tr>
<th scope="col">Bucket</th><th scope="col" class="num">Open amount</th>
<th scope="col" class="num">Invoices</th><th scope="col" class="num">Share</th></tr></thead><tbody>
{% for r in aged %}<tr><th scope="row">{{ r.bucket }}</th>
<td class="num">{{ r.open_amount | money }}</td>
<td class="num">{{ r.invoices | number }}</td><td class="num">{{ r.share | pct(1) }}</td></tr>
{% endfor %}</tbody></table></section>
<section aria-labelledby="cash-h"><h2 id="cash-h">Weekly cash-in forecast</h2>{{ cash_svg }}
<details><summary>Forecast as a table</summary><table><thead><tr><th scope="col">Week of</th>
<th scope="col" class="num">Low</th><th scope="col" class="num">Expected</th>
<th scope="col" class="num">High</th></tr></thead><tbody>
{% for r in cash %}<tr><th scope="row">{{ r.week }}</th><td class="num">{{ r.low | money }}</td>
<td class="num">{{ r.mid | money }}</td><td class="num">{{ r.high | money }}</td></tr>{% endfor %}
</tbody></table>{% if beyond %}<p class="muted">Expected after the horizon: {{ beyond | money }}
</p>{% endif %}</details></section></div>
<section aria-labelledby="late-h"><h2 id="late-h">Predicted late payers (open invoices)</h2>
{% if interactive %}
<form class="filters" method="get" action="{{ base }}/" role="search">
<label for="q">Customer or invoice id<input id="q" name="q" type="search" value="{{ query.q }}">
</label>
<label for="scenario">Scenario<select id="scenario" name="scenario"><option value="">all</option>
{% for s in scenarios %}<option value="{{ s }}"{% if s == query.scenario %} selected{% endif %}>
{{ s }}</option>{% endfor %}</select></label>
<label for="min_late">Min. late probability (%)<input id="min_late" name="min_late" type="number"
min="0" max="100" step="5" value="{{ query.min_late | number }}"></label>
<label for="sort">Sort by<select id="sort" name="sort">{% for key, name in sorts %}
<option value="{{ key }}"{% if key == query.sort %} selected{% endif %}>{{ name }}</option>
{% endfor %}</select></label><button type="submit">Apply</button></form>
<p role="status">{{ page.total | number }} invoices match; page {{ page.page }} of {{ page.pages }}.
</p>
{% else %}<p>The {{ page.rows | length }} open invoices with the highest expected loss
(of {{ page.total | number }}).</p>{% endif %}
<div class="scroll"><table id="invoices"><caption class="sr-only">Open invoices ranked by
{{ sort_name }}</caption><thead><tr>
<th scope="col" class="num">Rank</th><th scope="col">Invoice</th><th scope="col">Customer</th>
<th scope="col">Due</th><th scope="col" class="num">Open amount</th>
<th scope="col" class="num">Late prob.</th><th scope="col" class="num">Default prob.</th>
<th scope="col" class="num">Exp. days late</th><th scope="col" class="num">Expected loss</th>
<th scope="col">Scenario</th><th scope="col">Next action</th><th scope="col">Main reason</th>
</tr></thead><tbody>
{% for r in page.rows %}<tr><td class="num">{{ r.priority_rank }}</td>
<th scope="row">{{ r.invoice_id }}</th>
<td>{% if interactive %}<a href="{{ base }}/customers/{{ r.customer_id | q }}">{{ r.customer_id }}
</a>{% else %}{{ r.customer_id }}{% endif %}</td><td>{{ r.due_date | day }}</td>
<td class="num">{{ r.open_amount | money }}</td><td class="num">{{ r.late_probability | pct }}</td>
<td class="num">{{ r.default_probability | pct }}</td>
<td class="num">{{ r.expected_days_late | number }}</td>
<td class="num">{{ r.expected_loss | money }}</td><td>{{ r.scenario | text }}</td>
<td>{{ r.action | text }}{% if r.channel is string %} ({{ r.channel }}){% endif %} on
{{ r.action_date | day }}</td><td>{{ r.reason_1 | text }}</td></tr>
{% else %}<tr><td colspan="12">No open invoice matches.</td></tr>{% endfor %}
</tbody></table></div>
{% if interactive and page.pages > 1 %}<nav class="pager" aria-label="Pages of invoices">
{% if page.page > 1 %}<a href="{{ page_url(page.page - 1) }}" rel="prev">← Previous</a>{% endif %}
<span>Page {{ page.page }} of {{ page.pages }}</span>
{% if page.page < page.pages %}<a href="{{ page_url(page.page + 1) }}" rel="next">Next →</a>
{% endif %}</nav>{% endif %}</section>
"""
)


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


def portfolio_body(
    bundle: PortfolioBundle,
    page: InvoicePage,
    query: InvoiceQuery,
    base: str = "",
    interactive: bool = True,
) -> str:
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

    return PORTFOLIO.render(
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
        base=base,
        interactive=interactive,
        page_url=page_url,
    )


def document(
    title: str,
    body: str,
    as_of: str,
    model_version: str,
    base: str | None,
    signed_in: bool = False,
) -> str:
    """A whole page: inline CSS, no scripts, no external requests; "Sign out" for cookie users."""
    return LAYOUT.render(
        title=title,
        body=Markup(body),
        css=Markup(CSS),
        as_of=as_of,
        model_version=model_version,
        base=base,
        signed_in=signed_in,
    )


CUSTOMER = ENV.from_string(
    """<h1>Customer {{ cid }}</h1>
{% if plan %}<p>Scenario <strong>{{ plan.scenario | text }}</strong>{% if plan.key_account %},
key account{% endif %}. Next contact: {{ plan.next_contact_action | text }}
{% if plan.next_contact_channel is string %}by {{ plan.next_contact_channel }}{% endif %}
on {{ plan.next_contact_date | day }} ({{ plan.next_contact_actor | text }}).</p>
{% else %}<p class="muted">No open invoices.</p>{% endif %}
"""
    + KPI_BLOCK
    + """
<div class="grid2">
<section aria-labelledby="hist-h"><h2 id="hist-h">Payment history</h2>
{% if history_svg %}{{ history_svg }}<p>{{ history_text }}</p>
<details><summary>Last {{ recent | length }} settled invoices as a table</summary><table><thead><tr>
<th scope="col">Invoice</th><th scope="col">Due</th><th scope="col">Settled</th>
<th scope="col" class="num">Days late</th><th scope="col" class="num">Amount</th></tr></thead>
<tbody>{% for r in recent %}<tr><th scope="row">{{ r.invoice_id }}</th><td>{{ r.due_date | day }}
</td><td>{{ r.settled_date | day }}{% if r.written_off %} (written off){% endif %}</td>
<td class="num">{{ r.days_late | number }}</td><td class="num">{{ r.amount | money }}</td></tr>
{% endfor %}</tbody></table></details>
{% else %}<p>No settled invoices yet.</p>{% endif %}</section>
<section aria-labelledby="aged-h"><h2 id="aged-h">Aged balance</h2>
{% if profile %}<table><thead><tr><th scope="col">Past due</th>
<th scope="col" class="num">Amount</th></tr></thead><tbody>
{% for bucket, amount in profile.aged_balance.items() %}<tr><th scope="row">{{ bucket }}</th>
<td class="num">{{ amount | money }}</td></tr>{% endfor %}
<tr><th scope="row">Total past due</th><td class="num">{{ profile.past_due_amount | money }}</td>
</tr></tbody></table>{% else %}<p class="notice">{{ problem }}</p>{% endif %}</section></div>
<section aria-labelledby="open-h"><h2 id="open-h">Open invoices</h2>
<div class="scroll"><table><thead><tr><th scope="col">Invoice</th><th scope="col">Due</th>
<th scope="col" class="num">Open amount</th><th scope="col" class="num">Late prob.</th>
<th scope="col" class="num">Default prob.</th><th scope="col">Expected payment (range)</th>
<th scope="col" class="num">Expected loss</th><th scope="col">Reasons</th>
<th scope="col">Planned dunning action</th></tr></thead><tbody>
{% for r in invoices %}<tr><th scope="row">{{ r.invoice_id }}{% if r.disputed %} (disputed)
{% endif %}</th><td>{{ r.due_date | day }}</td><td class="num">{{ r.open_amount | money }}</td>
<td class="num">{{ r.late_probability | pct }}</td><td class="num">{{ r.default_probability | pct }}
</td><td>{{ r.expected_payment_date | day }} ({{ r.expected_payment_date_low | day }} to
{{ r.expected_payment_date_high | day }})</td><td class="num">{{ r.expected_loss | money }}</td>
<td><ul class="reasons">{% for reason in r.reasons %}<li>{{ reason }}</li>{% endfor %}</ul></td>
<td>{{ r.action | text }}{% if r.channel is string %} by {{ r.channel }}{% endif %} on
{{ r.action_date | day }}{% if r.step == r.step %}, step {{ r.step | number }}{% endif %}
({{ r.actor | text }})</td></tr>
{% else %}<tr><td colspan="9">No open invoices.</td></tr>{% endfor %}</tbody></table></div>
</section>
<section aria-labelledby="review-h"><h2 id="review-h">Credit review</h2>
<form method="post" action="{{ base }}/customers/{{ cid | q }}#review-h" class="filters">
<label for="requested_amount">Requested amount<input id="requested_amount" name="requested_amount"
type="number" min="0.01" step="0.01" required value="{{ form.requested_amount }}"></label>
<label for="terms_days">Terms (days)<input id="terms_days" name="terms_days" type="number" min="0"
max="120" step="1" required value="{{ form.terms_days }}"></label>
<button type="submit">Review</button></form>
{% if error %}<p class="notice" role="alert">{{ error }}</p>{% endif %}
{% if review %}<div class="verdict" id="verdict" role="status"><p>Recommendation:
<strong>{{ review.recommendation }}</strong></p>
<p>Late probability {{ review.late_probability | pct }}, default probability
{{ review.default_probability | pct }}, expected {{ review.expected_days_late | number }} days late;
exposure {{ review.exposure | money }} against a credit limit of {{ review.credit_limit | money }}.
</p>
{% if review.conditions %}<h3>Conditions</h3><ul>{% for c in review.conditions %}<li>{{ c }}</li>
{% endfor %}</ul>{% endif %}
<h3>Grounds</h3><ul>{% for g in review.grounds %}<li>{{ g }}</li>{% endfor %}</ul>
{% if review.reasons %}<h3>What drives the risk</h3><ul>{% for r in review.reasons %}
<li>{{ r.text }}</li>{% endfor %}</ul>{% endif %}</div>{% endif %}</section>
"""
)


def customer_body(
    bundle: PortfolioBundle,
    customer_id: str,
    profile: object | None,
    problem: str | None,
    review: object | None,
    form: dict[str, str],
    error: str | None,
    base: str = "",
) -> str:
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
    return CUSTOMER.render(
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
        base=base,
    )


MODEL = ENV.from_string("""<h1>Model</h1>
<p>Champion <strong>v{{ version }}</strong> ({{ source }}), trained on data from
{{ card.data_start | text }} to {{ card.trained_until | text }}; model card as of
{{ card.as_of | text }}.</p>
<h2>Holdout metrics against the baselines</h2>
<p class="muted">ROC AUC and PR AUC: higher is better; Brier, log loss and calibration error: lower
is better.</p>
{% for target, rows in metric_tables %}<div class="scroll"><table><caption>{{ target }}</caption>
<thead><tr><th scope="col">Model</th>{% for m in metric_names %}<th scope="col" class="num">
{{ m }}</th>{% endfor %}</tr></thead><tbody>{% for name, values in rows %}<tr>
<th scope="row">{{ name }}</th>{% for v in values %}<td class="num">{{ v }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table></div>{% endfor %}
{% if payment_rows %}<div class="scroll"><table><caption>Payment date (days)</caption><thead><tr>
<th scope="col">Model</th><th scope="col" class="num">MAE</th>
<th scope="col" class="num">Median abs. error</th><th scope="col" class="num">Interval coverage</th>
</tr></thead><tbody>{% for name, m in payment_rows %}<tr><th scope="row">{{ name }}</th>
<td class="num">{{ m.get("mae_days") | number(1) }}</td>
<td class="num">{{ m.get("median_abs_error_days") | number(1) }}</td>
<td class="num">{{ m.get("interval_coverage") | pct }}</td></tr>{% endfor %}</tbody></table></div>
{% endif %}
<h2>Calibration</h2><div class="grid2">{% for target, svg, bins in calibration %}
<section aria-label="Calibration, {{ target }}"><h3>{{ target }}</h3>{{ svg }}
<details><summary>Reliability bins as a table</summary><table><thead><tr>
<th scope="col" class="num">Predicted</th><th scope="col" class="num">Observed</th>
<th scope="col" class="num">Invoices</th></tr></thead><tbody>{% for p, o, n in bins %}<tr>
<td class="num">{{ p | pct(1) }}</td><td class="num">{{ o | pct(1) }}</td>
<td class="num">{{ n | number }}</td></tr>{% endfor %}</tbody></table></details></section>
{% endfor %}</div>
<h2>Top features</h2><div class="grid2">{% for target, feats in features %}<table>
<caption>{{ target }}: mean |SHAP|</caption><thead><tr><th scope="col">Feature</th>
<th scope="col" class="num">Mean |SHAP|</th></tr></thead><tbody>{% for f, v in feats %}<tr>
<th scope="row">{{ f }}</th><td class="num">{{ v | number(3) }}</td></tr>{% endfor %}</tbody>
</table>{% endfor %}</div>
<h2>Challenger</h2>{% if challenger %}<p>Version <strong>v{{ challenger.version }}</strong>
(registered {{ challenger.created }}) did not beat the champion.</p>
{% if challenger.metrics %}<table><thead><tr><th scope="col">Holdout metric</th>
<th scope="col" class="num">Challenger</th><th scope="col" class="num">Champion</th></tr></thead>
<tbody>{% for name, c, h in challenger.metrics %}<tr><th scope="row">{{ name }}</th>
<td class="num">{{ c }}</td><td class="num">{{ h }}</td></tr>{% endfor %}</tbody></table>
{% endif %}{% else %}<p>{{ challenger_note }}</p>{% endif %}
""")

METRICS = ("roc_auc", "pr_auc", "brier", "log_loss", "calibration_error")
TARGETS = {"late": "Paid late", "default": "Default (not paid within 90 days)"}


def model_body(
    card: dict,
    version: str,
    source: str,
    challenger: dict | None,
    challenger_note: str = "No challenger in the registry.",
) -> str:
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
    return MODEL.render(
        card=card,
        version=version,
        source=source,
        metric_tables=metric_tables,
        metric_names=[m.replace("_", " ") for m in METRICS],
        payment_rows=list(holdout.get("payment", {}).items()),
        calibration=calibration,
        features=features,
        challenger=challenger,
        challenger_note=challenger_note,
    )


MESSAGE = ENV.from_string("<h1>{{ heading }}</h1><p>{{ message }}</p>")


def message_body(heading: str, message: str) -> str:
    return MESSAGE.render(heading=heading, message=message)
