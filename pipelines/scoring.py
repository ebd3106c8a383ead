"""`payrisk score` and `payrisk snapshot`: load the champion, score open invoices, plan dunning."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from payrisk.core import progress
from payrisk.core.config import ComputeSettings
from payrisk.core.i18n import missing
from payrisk.core.storage import check_table_path, write_table
from payrisk.data.loading import Dataset, load_dataset
from payrisk.data.receivables import as_timestamp, default_as_of, recovered_share_of_defaults
from payrisk.features.history import History
from payrisk.features.snapshot import model_fingerprint
from payrisk.policy.config import DunningConfig, recovery_rate, with_recovery_rate
from payrisk.policy.dunning import CONTACT_ACTIONS, action_groups
from payrisk.policy.planning import ScoredPortfolio
from payrisk.policy.portfolio import PortfolioBundle, build_bundle, flatten_reasons
from payrisk.scaleout.dask import ComputeOverrides, compute_session, score_open_invoices
from payrisk.web.i18n import Words
from pipelines.catalog import Catalog, LoadedScorer

EXPLAIN_TOP = 10_000  # reasons for the first invoices of the worklist (they cost ~0.5 ms each)

INVOICE_OUTPUT_COLUMNS = (
    "priority_rank",
    "invoice_id",
    "customer_id",
    "issue_date",
    "due_date",
    "amount",
    "open_amount",
    "disputed",
    "late_probability",
    "default_probability",
    "expected_payment_date_low",
    "expected_payment_date",
    "expected_payment_date_high",
    "expected_days_late",
    "expected_loss",
    "scenario",
    "action",
    "step",
    "channel",
    "template",
    "actor",
    "action_date",
    "policy",
    "policy_reason",
    "response_probability",
    "expected_effect",
    "is_new_customer",
)


def customers_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.customers{out.suffix}")


@dataclass(frozen=True)
class ScoringRun:
    """Everything one scoring of a data directory produced, for the writers to pick from."""

    dataset: Dataset
    as_of: pd.Timestamp
    loaded: LoadedScorer
    history: History | None  # None when scored on Dask: each partition's history stayed there
    portfolio: ScoredPortfolio
    policy: DunningConfig  # the dunning policy as applied (its recovery rate resolved)

    def bundle(self) -> PortfolioBundle:
        """The review pages' portfolio bundle of this scoring."""
        return build_bundle(
            self.dataset,
            self.portfolio,
            self.as_of,
            self.policy,
            self.loaded.scorer.targets.payment_quantiles,
        )


def score_data_dir(
    catalog: Catalog,
    data_dir: str | Path,
    as_of: str | None = None,
    model_uri: str | None = None,
    explain_top: int | None = EXPLAIN_TOP,
    compute: ComputeOverrides | None = None,
) -> ScoringRun:
    """Validate and load the data, load the scorer, score and plan every invoice open at as-of.

    Runs in this process unless `compute` is given: then the `compute` section of the training
    config with these overrides decides (Dask scores customer partitions).
    """
    # Options first: a contradictory choice is refused before any data or model is read.
    settings = (
        compute.apply(catalog.train_config.compute, catalog.settings.dask_scheduler_address)
        if compute
        else None
    )
    with progress.step("read and validate the data"):
        dataset = load_dataset(data_dir)
    return score_dataset(catalog, dataset, as_of, model_uri, explain_top, settings)


def score_dataset(
    catalog: Catalog,
    dataset: Dataset,
    as_of: str | None = None,
    model_uri: str | None = None,
    explain_top: int | None = EXPLAIN_TOP,
    settings: ComputeSettings | None = None,
) -> ScoringRun:
    """Score and plan every invoice of a validated dataset open at as-of (on Dask when
    `settings` say so)."""
    when = as_timestamp(as_of) if as_of else default_as_of(dataset)
    with progress.step("load the model"):
        loaded = catalog.load_scorer(model_uri)
    measured = recovered_share_of_defaults(dataset, when, loaded.scorer.targets.default_after_days)
    policy = with_recovery_rate(catalog.dunning_config, measured)
    with progress.step("score and plan the open invoices"):
        if settings is None or settings.backend == "local":
            history, portfolio = score_open_invoices(
                loaded.scorer, dataset, when, policy, explain_top
            )
        else:
            with compute_session(settings) as cluster:
                history, portfolio = score_open_invoices(
                    loaded.scorer, dataset, when, policy, explain_top, cluster
                )
    return ScoringRun(dataset, when, loaded, history, portfolio, policy)


def score(
    catalog: Catalog,
    data_dir: str | Path,
    out: str | Path,
    as_of: str | None = None,
    model_uri: str | None = None,
    explain_top: int | None = EXPLAIN_TOP,
    compute: ComputeOverrides | None = None,
) -> tuple[ScoredPortfolio, LoadedScorer, pd.Timestamp]:
    """Score every invoice open at `as_of`; write invoices to `out`, customer plans beside it."""
    out = check_table_path(out, "--out")
    with progress.steps("score", 2) as stage:
        with stage("score"):
            run = score_data_dir(catalog, data_dir, as_of, model_uri, explain_top, compute)
        with stage("write the scores"):
            write_scores(run, out)
    return run.portfolio, run.loaded, run.as_of


def write_scores(run: ScoringRun, out: Path) -> list[Path]:
    """The scored invoices to `out` and the customers' plans beside it; returns both paths."""
    portfolio, loaded, when = run.portfolio, run.loaded, run.as_of
    invoices = portfolio.invoices
    table = pd.concat(
        [invoices[list(INVOICE_OUTPUT_COLUMNS)], flatten_reasons(invoices)], axis=1
    ).assign(model_version=loaded.version, as_of=when)
    write_table(table, out)
    customers = portfolio.customers.assign(
        next_contact_invoice_ids=next_contact_ids(portfolio),
        model_version=loaded.version,
        as_of=when,
    )
    write_table(customers, customers_path(out))
    return [out, customers_path(out)]


def next_contact_ids(portfolio: ScoredPortfolio) -> pd.Series:
    """Each customer's next contact as the ids of the invoices it covers, space-separated (a
    spreadsheet cell); empty where no contact is planned. Aligned with `portfolio.customers`."""
    groups = action_groups(portfolio.invoices)
    contacts = groups.loc[groups["action"].isin(CONTACT_ACTIONS)]
    first = contacts.sort_values("action_date", kind="stable").drop_duplicates("customer_id")
    ids = first.set_index("customer_id")["invoice_ids"].map(" ".join)
    return portfolio.customers["customer_id"].map(ids).fillna("")


def write_snapshot(
    catalog: Catalog,
    data_dir: str | Path,
    out: Path | None = None,
    as_of: str | None = None,
    model_uri: str | None = None,
    explain_top: int | None = EXPLAIN_TOP,
) -> Path:
    """The compact customer history the service scores with (built with the champion's
    settings), and beside it the portfolio bundle the review pages read: scored open invoices,
    customer plans, payment records, the weekly cash-in forecast and the KPIs."""
    with progress.steps("snapshot", 2) as stage:
        with stage("score"):
            run = score_data_dir(catalog, data_dir, as_of, model_uri, explain_top)
        with stage("write the snapshot"):
            return save_run_snapshot(catalog, run, data_dir, out)


def save_run_snapshot(
    catalog: Catalog, run: ScoringRun, data_dir: str | Path, out: Path | None = None
) -> Path:
    """The snapshot and bundle of a scoring, written as one unit (see `Catalog.save_snapshot`)."""
    metadata = {
        "model_version": run.loaded.version,
        # What the service checks: a snapshot of another model than the served one is refused.
        "model_fingerprint": model_fingerprint(run.loaded.scorer.metadata),
        "data_dir": Path(data_dir).name,
        "recovery_rate": recovery_rate(run.policy),
    }
    return catalog.save_snapshot(run.history.compact(), run.bundle(), metadata, out)


def render_worklist(portfolio: ScoredPortfolio, top: int, words: Words) -> str:
    """The console's worklist in `words`' language, the one its reasons are in (the policy's):
    the top invoices by expected loss, then the customers per scenario."""
    f, label = words.f, words.label
    invoices = portfolio.invoices.head(top)
    lines = [words.t("console.worklist", n=len(invoices))]
    for row in invoices.itertuples():
        action = label("action", row.action)
        if not missing(row.channel):
            action += f" ({label('channel', row.channel)})"
        line = words.t(
            "console.line",
            late=f.pct(row.late_probability),
            default=f.pct(row.default_probability),
            action=action,
            day=f.day(row.action_date),
        )
        reason = f" — {row.reasons[0]['text']}" if row.reasons else ""
        lines.append(
            f"  {row.priority_rank:>4}. {row.invoice_id:<12} {f.money(row.open_amount):>14} "
            f"{line}{reason}"
        )
    counts = portfolio.customers["scenario"].value_counts()
    lines.append(
        words.t(
            "console.scenarios",
            counts=", ".join(f"{label('scenario', k)} {f.number(v)}" for k, v in counts.items()),
        )
    )
    return "\n".join(lines)
