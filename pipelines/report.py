"""`payrisk report`: the portfolio and model pages as one self-contained HTML file to e-mail.

Scores the data directory with the champion the way `payrisk snapshot` does, but keeps the bundle
in memory; the file carries the pages' stylesheet inline and its charts as inline SVG (no scripts,
no external requests).
"""

from __future__ import annotations

from pathlib import Path

from payrisk.core import progress
from payrisk.core.i18n import LANGUAGES
from payrisk.core.storage import write_text
from payrisk.web import pages
from payrisk.web.bundle import InvoiceQuery, query_invoices
from payrisk.web.i18n import Words
from pipelines.catalog import Catalog
from pipelines.scoring import ScoringRun, score_data_dir

REPORT_ROWS = 100  # invoices listed: the top of the worklist by expected loss


def build_report(
    catalog: Catalog,
    data_dir: str | Path,
    as_of: str | None = None,
    model_uri: str | None = None,
    rows: int = REPORT_ROWS,
    language: str | None = None,
) -> str:
    """The report's HTML: portfolio (KPIs, charts, top invoices) then the model card, in
    `language` (default: the policy's)."""
    if language is not None and language not in LANGUAGES:
        raise ValueError(f"--language {language}: use one of {', '.join(LANGUAGES)}")
    run = score_data_dir(catalog, data_dir, as_of, model_uri, explain_top=rows)
    return report_html(catalog, run, rows, language)


def report_html(
    catalog: Catalog, run: ScoringRun, rows: int = REPORT_ROWS, language: str | None = None
) -> str:
    """The report's HTML of a scoring already made (the nightly run scores once)."""
    loaded, when = run.loaded, run.as_of
    bundle = run.bundle()
    query = InvoiceQuery()
    card = loaded.scorer.metadata
    challenger = catalog.challenger_summary(card) if loaded.source == "registry" else None
    return pages.report_page(
        bundle,
        query_invoices(bundle.invoices, query, rows),
        query,
        card,
        loaded.version,
        loaded.source,
        challenger,
        as_of=when.date().isoformat(),
        words=Words(language or run.policy.language, run.policy.currencies.base),
        provision_rules=run.policy.provisions,
    )


def write_report(
    catalog: Catalog,
    data_dir: str | Path,
    out: str | Path,
    as_of: str | None = None,
    model_uri: str | None = None,
    language: str | None = None,
) -> Path:
    """Write the report atomically (a reader never sees half a file)."""
    with progress.steps("report", 2) as stage:
        with stage("score"):
            html = build_report(catalog, data_dir, as_of, model_uri, language=language)
        with stage("write the report"):
            write_text(out, html)
    return Path(out)
